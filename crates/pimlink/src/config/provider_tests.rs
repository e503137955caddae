//! Whole-file tests of `provider`: what a preset fills in, and that a key written in the
//! storage's table always wins over it.

use super::tests::{fails, ok};
use super::*;

fn imap(config: &Config, name: &str) -> ImapConfig {
    match &config.storages[name].kind {
        StorageKind::Imap(imap) => imap.clone(),
        other => panic!("{name} is {other:?}"),
    }
}

fn endpoint(imap: &ImapConfig) -> (String, u16, TlsMode) {
    match &imap.endpoint {
        ImapEndpoint::Tcp {
            host, port, tls, ..
        } => (host.clone(), *port, *tls),
        other => panic!("{other:?}"),
    }
}

const MAILDIR: &str = "[storage.local]\ntype = \"maildir\"\npath = \"/m\"\n";

#[test]
fn a_preset_fills_the_server_login_and_quirks_of_an_imap_storage() {
    let config = ok(&format!(
        r#"
[storage.gmail]
type = "imap"
provider = "gmail"
user = "me@gmail.com"
password_cmd = "token"

[storage.apple]
type = "imap"
provider = "icloud"
user = "me@icloud.com"
password_cmd = "app-password"

[storage.fm]
type = "imap"
provider = "fastmail"
user = "me@fastmail.com"
password_cmd = "app-password"

[storage.ms]
type = "imap"
provider = "outlook"
user = "me@outlook.com"
password_cmd = "token"
{MAILDIR}
[pair.mail]
a = "gmail"
b = "local"
"#
    ));
    let gmail = imap(&config, "gmail");
    assert_eq!(
        endpoint(&gmail),
        ("imap.gmail.com".to_owned(), 993, TlsMode::Implicit)
    );
    assert_eq!(gmail.auth, Some(ImapAuth::XOAuth2));
    assert_eq!(gmail.provider, Some(Provider::Gmail));
    assert!(gmail.disabled_extensions.is_empty());
    assert_eq!(
        config.storages["gmail"]
            .mail
            .trash
            .as_ref()
            .map(|t| t.as_str()),
        Some("[Gmail]/Trash")
    );
    let apple = imap(&config, "apple");
    assert_eq!(endpoint(&apple).0, "imap.mail.me.com");
    assert_eq!(apple.auth, Some(ImapAuth::Plain));
    assert_eq!(apple.disabled_extensions, ["QRESYNC"]);
    assert_eq!(config.storages["apple"].mail.trash, None);
    assert_eq!(endpoint(&imap(&config, "fm")).0, "imap.fastmail.com");
    assert_eq!(endpoint(&imap(&config, "ms")).0, "outlook.office365.com");
    assert_eq!(imap(&config, "ms").auth, Some(ImapAuth::XOAuth2));
    // The Gmail side's pair leaves out the folders that repeat every message.
    let pair = &config.pairs["mail"];
    assert!(pair.collections.matches("INBOX"));
    assert!(!pair.collections.matches("[Gmail]/All Mail"));
}

#[test]
fn keys_in_the_table_win_over_the_preset() {
    let config = ok(&format!(
        r#"
[storage.proxy]
type = "imap"
provider = "icloud"
host = "127.0.0.1"
tls = "none"
auth = "login"
user = "u"
password = "p"
disable_extensions = ["condstore"]
trash = "Deleted"

[storage.gmail]
type = "imap"
provider = "gmail"
port = 1993
user = "u"
password = "p"
trash = "Bin"

[storage.starttls]
type = "imap"
provider = "fastmail"
tls = "starttls"
user = "u"
password = "p"

[storage.cal]
type = "caldav"
provider = "fastmail"
url = "https://dav.example.org/"
{MAILDIR}
[pair.mail]
a = "gmail"
b = "local"
collections = ["INBOX", "[Gmail]/All Mail"]
"#
    ));
    let proxy = imap(&config, "proxy");
    assert_eq!(
        endpoint(&proxy),
        ("127.0.0.1".to_owned(), 143, TlsMode::None)
    );
    assert_eq!(proxy.auth, Some(ImapAuth::Login));
    assert_eq!(proxy.disabled_extensions, ["CONDSTORE"]);
    assert_eq!(
        config.storages["proxy"]
            .mail
            .trash
            .as_ref()
            .map(|t| t.as_str()),
        Some("Deleted")
    );
    assert_eq!(
        endpoint(&imap(&config, "gmail")),
        ("imap.gmail.com".to_owned(), 1993, TlsMode::Implicit)
    );
    assert_eq!(
        config.storages["gmail"]
            .mail
            .trash
            .as_ref()
            .map(|t| t.as_str()),
        Some("Bin")
    );
    assert_eq!(endpoint(&imap(&config, "starttls")).1, 143);
    let StorageKind::CalDav(cal) = &config.storages["cal"].kind else {
        panic!("caldav")
    };
    assert_eq!(cal.url, "https://dav.example.org/");
    // A pair that names a hidden folder syncs it; the others stay out.
    let pair = &config.pairs["mail"];
    assert!(pair.collections.matches("[Gmail]/All Mail"));
    assert!(!pair.collections.matches("[Gmail]/Starred"));
}

#[test]
fn dav_presets_fill_the_url_where_the_provider_has_the_service() {
    let config = ok(r#"
[storage.cal]
type = "caldav"
provider = "icloud"
user = "me@icloud.com"
password_cmd = "app-password"

[storage.cards]
type = "carddav"
provider = "fastmail"

[storage.gcal]
type = "caldav"
provider = "gmail"
"#);
    let url = |name: &str| match &config.storages[name].kind {
        StorageKind::CalDav(dav) | StorageKind::CardDav(dav) => dav.url.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(url("cal"), "https://caldav.icloud.com/");
    assert_eq!(url("cards"), "https://carddav.fastmail.com/");
    assert_eq!(
        url("gcal"),
        "https://apidata.googleusercontent.com/caldav/v2/"
    );
}

#[test]
fn a_provider_without_the_service_or_an_unknown_one_is_refused_where_written() {
    fails(
        "[storage.cards]\ntype = \"carddav\"\nprovider = \"outlook\"\n",
        3,
        &[
            "provider",
            "outlook has no preset for type \"carddav\"",
            "imap",
        ],
    );
    fails(
        "[storage.m]\ntype = \"imap\"\nprovider = \"yahoo\"\nuser = \"u\"\npassword = \"p\"\n",
        3,
        &[
            "unknown value \"yahoo\"",
            "gmail, outlook, fastmail, icloud",
        ],
    );
    fails(
        "[storage.m]\ntype = \"imap\"\nprovider = \"icloud\"\nuser = \"u\"\npassword = \"p\"\n\
         disable_extensions = [\"QRESYNC (broken)\"]\n",
        6,
        &["disable_extensions", "not an IMAP capability"],
    );
    fails(
        "[storage.m]\ntype = \"imap\"\nuser = \"u\"\npassword = \"p\"\n",
        1,
        &["missing key \"host\"", "provider"],
    );
}
