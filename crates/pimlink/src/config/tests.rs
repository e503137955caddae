//! Whole-file tests: valid configurations, defaults, and every error with its position.
//!
//! One file: every case parses a whole configuration through `env()` below; general conversions and
//! defaults first, then errors, then per area (name translation, limits, DAV options) its
//! conversions beside its errors.

use std::path::{Path, PathBuf};
use std::time::Duration;

use pimlink_core::policy::Limits;
use pimlink_core::side::Side;

use super::expand::tests::MapEnv;
use super::*;

const FILE: &str = "/home/u/.config/pimlink/config.toml";

fn env() -> MapEnv {
    MapEnv::new(&[
        ("HOME", "/home/u"),
        ("XDG_STATE_HOME", "/home/u/state"),
        ("MAILROOT", "/srv/mail"),
    ])
}

pub(super) fn ok(text: &str) -> Config {
    match parse_in(text, Path::new(FILE), &env()) {
        Ok(config) => config,
        Err(err) => panic!("unexpected error: {err}"),
    }
}

/// Parses `text`, expects an error on `line`, and checks that the message contains each of
/// `parts` (typically the key and what is wrong with it).
pub(super) fn fails(text: &str, line: usize, parts: &[&str]) -> ConfigError {
    let err = match parse_in(text, Path::new(FILE), &env()) {
        Ok(config) => panic!("expected an error, got {config:?}"),
        Err(err) => err,
    };
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!("{FILE}:{line}:")),
        "expected line {line}: {msg}"
    );
    for part in parts {
        assert!(msg.contains(part), "{part:?} missing from: {msg}");
    }
    err
}

pub(super) const MAILDIRS: &str = r#"
[storage.one]
type = "maildir"
path = "/m/one"

[storage.two]
type = "maildir"
path = "/m/two"
"#;

pub(super) fn with_maildirs(pair: &str) -> String {
    format!("{MAILDIRS}\n[pair.p]\n{pair}")
}

/// The line of the first occurrence of `needle` in `text`.
pub(super) fn line_of(text: &str, needle: &str) -> usize {
    let offset = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in text"));
    text[..offset].matches('\n').count() + 1
}

#[test]
fn full_example_converts_every_key() {
    let text = r#"
[general]
state_dir = "$MAILROOT/state"

[storage.remote]
type = "imap"
host = "127.0.0.1"
port = 10143
tls = "starttls"
user = "bench"
password = "secret"
ca_file = "certs/ca.pem"
cert_fingerprint = "sha256:0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20"
auth = "cram-md5"
connections = 4
timeout = 30

[storage.local]
type = "maildir"
path = "~/Mail/work"
layout = "maildir++"

[pair.work]
a = "remote"
b = "local"
collections = ["INBOX", "Lists/%", "!Lists/spam"]
direction = "b-to-a"
operations = ["new", "delete"]
create = ["a"]
on_empty = "sync"
max_delete = "80%"
"#;
    let config = ok(text);
    assert_eq!(config.path, PathBuf::from(FILE));
    assert_eq!(config.state_dir, PathBuf::from("/srv/mail/state"));
    let remote = &config.storages["remote"];
    assert_eq!(remote.name, "remote");
    let StorageKind::Imap(imap) = &remote.kind else {
        panic!("not imap: {remote:?}");
    };
    let mut fingerprint = [0u8; 32];
    for (i, byte) in fingerprint.iter_mut().enumerate() {
        *byte = i as u8 + 1;
    }
    assert_eq!(
        imap.endpoint,
        ImapEndpoint::Tcp {
            host: "127.0.0.1".to_owned(),
            port: 10143,
            tls: TlsMode::StartTls,
            trust: Trust {
                ca_file: Some(PathBuf::from("/home/u/.config/pimlink/certs/ca.pem")),
                cert_fingerprint: Some(CertFingerprint(fingerprint)),
                client_cert: None,
            },
        }
    );
    let credentials = imap.credentials.as_ref().unwrap();
    assert_eq!(credentials.user, "bench");
    assert_eq!(
        credentials.password,
        PasswordSource::Literal(Secret::new("secret"))
    );
    assert_eq!(imap.auth, Some(ImapAuth::CramMd5));
    assert_eq!(imap.connections.get(), 4);
    assert_eq!(imap.timeout, Duration::from_secs(30));
    assert_eq!(
        config.storages["local"].kind,
        StorageKind::Maildir(MaildirConfig {
            path: PathBuf::from("/home/u/Mail/work"),
            layout: MaildirLayout::MaildirPlusPlus,
            tree: Default::default(),
        })
    );
    let pair = &config.pairs["work"];
    assert_eq!(
        (pair.name.as_str(), pair.a.as_str(), pair.b.as_str()),
        ("work", "remote", "local")
    );
    assert_eq!(pair.direction, Direction::BToA);
    assert_eq!(
        pair.operations,
        Operations {
            new: true,
            flags: false,
            delete: true
        }
    );
    assert_eq!(pair.create, PerSide { a: true, b: false });
    assert_eq!(pair.on_empty, OnEmpty::Sync);
    assert_eq!(pair.max_delete.as_percent(), 80);
    assert!(pair.collections.matches("INBOX"));
    assert!(pair.collections.matches("Lists/rust"));
    assert!(!pair.collections.matches("Lists/spam"));
    assert!(!pair.collections.matches("Sent"));
    let policy = pair.policy();
    assert_eq!(policy.direction, Direction::BToA);
    assert!(!policy.operations.flags);
    assert_eq!(policy.create, pair.create);
}

#[test]
fn dav_storages_convert() {
    let config = ok(r#"
[storage.cal]
type = "caldav"
url = "https://dav.example.com/"
user = "me"
password_cmd = "pass show dav"
timeout = 5
skip_unchanged = true

[storage.cards]
type = "carddav"
url = "http://127.0.0.1:5232/"

[storage.feed]
type = "webcal"
url = "WEBCAL://example.net/h.ics"

[storage.local]
type = "vdir"
path = "cal"
fileext = ".ics"

[pair.feed]
a = "feed"
b = "local"
direction = "a-to-b"

[pair.cal]
a = "cal"
b = "local"
"#);
    let StorageKind::CalDav(cal) = &config.storages["cal"].kind else {
        panic!("not caldav");
    };
    assert_eq!(cal.url, "https://dav.example.com/");
    assert_eq!(
        cal.credentials,
        Some(Credentials {
            user: "me".to_owned(),
            password: PasswordSource::Command("pass show dav".to_owned()),
        })
    );
    assert_eq!(cal.timeout, Duration::from_secs(5));
    assert_eq!(cal.skip_unchanged, SkipUnchanged::Ctag);
    let StorageKind::CardDav(cards) = &config.storages["cards"].kind else {
        panic!("not carddav");
    };
    assert_eq!(cards.credentials, None);
    assert_eq!(cards.skip_unchanged, SkipUnchanged::Auto, "auto by default");
    let StorageKind::Webcal(feed) = &config.storages["feed"].kind else {
        panic!("not webcal");
    };
    assert_eq!(feed.url, "https://example.net/h.ics");
    assert_eq!(
        config.storages["local"].kind,
        StorageKind::Vdir(VdirConfig {
            path: PathBuf::from("/home/u/.config/pimlink/cal"),
            fileext: ".ics".to_owned(),
        })
    );
    assert_eq!(config.pairs["feed"].direction, Direction::AToB);
}

#[test]
fn defaults_apply_when_keys_are_absent() {
    let config = ok(&format!(
        "{}\n[storage.r]\ntype = \"imap\"\nhost = \"h\"\nuser = \"u\"\npassword = \"\"\n\
         [storage.s]\ntype = \"imap\"\nhost = \"h\"\ntls = \"none\"\nuser = \"u\"\npassword = \"p\"\n",
        with_maildirs("a = \"one\"\nb = \"two\"\n")
    ));
    assert_eq!(config.state_dir, PathBuf::from("/home/u/state/pimlink"));
    let pair = &config.pairs["p"];
    assert_eq!(pair.direction, Direction::Both);
    assert_eq!(pair.operations, Operations::default());
    assert_eq!(pair.create, PerSide { a: true, b: true });
    assert_eq!(pair.on_empty, OnEmpty::Refuse);
    assert_eq!(pair.max_delete, pimlink_core::policy::MaxDelete::DEFAULT);
    assert_eq!(pair.collections.patterns(), ["*"]);
    assert!(pair.collections.matches("any/thing"));
    assert_eq!(pair.policy(), pimlink_core::policy::SyncPolicy::both_ways());
    let StorageKind::Maildir(one) = &config.storages["one"].kind else {
        panic!("not maildir");
    };
    assert_eq!(one.layout, MaildirLayout::Verbatim);
    let StorageKind::Imap(r) = &config.storages["r"].kind else {
        panic!("not imap");
    };
    let ImapEndpoint::Tcp {
        port, tls, trust, ..
    } = &r.endpoint
    else {
        panic!("not tcp");
    };
    assert_eq!((*port, *tls), (993, TlsMode::Implicit));
    assert_eq!(trust, &Trust::default());
    assert_eq!(r.connections.get(), 4);
    assert_eq!(r.timeout, Duration::from_secs(60));
    assert_eq!(r.auth, None);
    let StorageKind::Imap(s) = &config.storages["s"].kind else {
        panic!("not imap");
    };
    let ImapEndpoint::Tcp { port, .. } = &s.endpoint else {
        panic!("not tcp");
    };
    assert_eq!(*port, 143);
}

#[test]
fn state_dir_falls_back_to_home() {
    let env = MapEnv::new(&[("HOME", "/home/v")]);
    let config = parse_in("", Path::new(FILE), &env).unwrap();
    assert_eq!(
        config.state_dir,
        PathBuf::from("/home/v/.local/state/pimlink")
    );
    assert!(config.storages.is_empty() && config.pairs.is_empty());
    let err = parse_in("", Path::new(FILE), &MapEnv::new(&[])).unwrap_err();
    assert_eq!(err.kind(), ConfigErrorKind::Environment);
    assert!(err.to_string().contains("state_dir"), "{err}");
}

#[test]
fn integers_may_use_any_toml_notation() {
    let config = ok(
        "[storage.r]\ntype = \"imap\"\nhost = \"h\"\nport = 0x1F90\nuser = \"u\"\n\
                     password = \"p\"\ntimeout = 1_000\nconnections = +2\n",
    );
    let StorageKind::Imap(r) = &config.storages["r"].kind else {
        panic!("not imap");
    };
    let ImapEndpoint::Tcp { port, .. } = &r.endpoint else {
        panic!("not tcp");
    };
    assert_eq!(*port, 8080);
    assert_eq!(r.timeout, Duration::from_secs(1000));
    assert_eq!(r.connections.get(), 2);
    fails(
        "[storage.r]\ntype = \"imap\"\nhost = \"h\"\nport = 1.5\n",
        4,
        &["\"port\" must be an integer, found float"],
    );
}

#[test]
fn tunnel_needs_no_login() {
    let config = ok("[storage.t]\ntype = \"imap\"\ntunnel = \"ssh h imapd\"\n");
    let StorageKind::Imap(t) = &config.storages["t"].kind else {
        panic!("not imap");
    };
    assert_eq!(
        t.endpoint,
        ImapEndpoint::Tunnel {
            command: "ssh h imapd".to_owned()
        }
    );
    assert_eq!(t.credentials, None);
}

#[test]
fn imap_takes_a_client_certificate_but_a_tunnel_does_not() {
    let config = ok(
        "[storage.r]\ntype = \"imap\"\nhost = \"h\"\nuser = \"u\"\npassword = \"p\"\n\
                     client_cert = \"certs/me.pem\"\nclient_key = \"~/me.key\"\n",
    );
    let StorageKind::Imap(r) = &config.storages["r"].kind else {
        panic!("not imap");
    };
    let ImapEndpoint::Tcp { trust, .. } = &r.endpoint else {
        panic!("not tcp");
    };
    assert_eq!(
        trust.client_cert,
        Some(ClientCert {
            cert: PathBuf::from("/home/u/.config/pimlink/certs/me.pem"),
            key: PathBuf::from("/home/u/me.key"),
        })
    );
    for key in ["client_cert", "client_key"] {
        fails(
            &format!("[storage.t]\ntype = \"imap\"\ntunnel = \"ssh x\"\n{key} = \"c.pem\"\n"),
            4,
            &[&format!("{key:?} does not apply to a \"tunnel\"")],
        );
    }
}

#[test]
fn the_documented_example_parses() {
    let text = include_str!("../../../../docs/config.example.toml");
    let config = ok(text);
    // Two of the storages are the migration's (issue 15).
    assert_eq!(config.storages.len(), 11);
    assert_eq!(config.pairs.len(), 4);
    assert_eq!(config.migrations.len(), 1);
    let work = &config.pairs["work"];
    assert!(work.collections.matches("INBOX"));
    assert!(!work.collections.matches("[Gmail]/Spam"));
    assert!(!work.collections.matches("Junk"));
}

#[test]
fn syntax_errors_have_positions() {
    let err = fails(
        "[storage.a]\ntype = \"imap\"\ntype = \"maildir\"\n",
        3,
        &["invalid TOML", "duplicate key \"type\""],
    );
    assert_eq!(err.kind(), ConfigErrorKind::Syntax);
    fails("[general]\nstate_dir = \n", 2, &["invalid TOML"]);
}

#[test]
fn unknown_keys_are_errors_with_the_expected_keys() {
    let text = "\n\n[storage.local]\ntype = \"maildir\"\npth = \"~/Mail\"\n";
    let err = fails(text, 5, &[]);
    assert_eq!(
        err.to_string(),
        format!(
            "{FILE}:5:1: storage \"local\": unknown key \"pth\" (expected one of: type, path, layout, read_only, trash, poll_interval, flatten, names, inbox)"
        )
    );
    assert_eq!(err.kind(), ConfigErrorKind::Invalid);
    fails(
        "[storage.local]\ntype = \"maildir\"\npath = \"/m\"\nhost = \"x\"\n",
        4,
        &[
            "storage \"local\"",
            "\"host\" does not apply to type \"maildir\"",
        ],
    );
    fails(
        "[general]\nstatedir = \"/x\"\n",
        2,
        &["[general]: unknown key \"statedir\"", "state_dir"],
    );
    fails(
        "[storages.x]\ntype = \"imap\"\n",
        1,
        &["unknown table \"storages\"", "storage"],
    );
    fails(
        &with_maildirs("a = \"one\"\nb = \"two\"\ndirektion = \"both\"\n"),
        line_of(
            &with_maildirs("a = \"one\"\nb = \"two\"\ndirektion = \"both\"\n"),
            "direktion",
        ),
        &["pair \"p\"", "unknown key \"direktion\"", "direction"],
    );
    // Within a table the first unknown key in the file is the one reported.
    fails(
        "[storage.m]\ntype = \"maildir\"\nzz = 1\naa = 2\npath = \"/m\"\n",
        3,
        &["\"zz\""],
    );
}

#[test]
fn storage_type_errors() {
    fails(
        "[storage.x]\npath = \"/m\"\n",
        1,
        &["storage \"x\"", "missing key \"type\"", "maildir"],
    );
    fails(
        "[storage.x]\ntype = \"pop3\"\n",
        2,
        &["storage \"x\"", "\"type\"", "\"pop3\"", "imap, maildir"],
    );
    fails(
        "[storage.x]\ntype = 3\n",
        2,
        &["\"type\" must be a string, found integer"],
    );
    fails(
        "[storage.x]\ntype = \"maildir\"\n",
        1,
        &["storage \"x\"", "missing key \"path\""],
    );
    fails(
        "[storage.x]\ntype = \"vdir\"\npath = \"/v\"\n",
        1,
        &["missing key \"fileext\""],
    );
    fails(
        "[storage.x]\ntype = \"caldav\"\n",
        1,
        &["missing key \"url\""],
    );
    fails(
        "storage = 1\n",
        1,
        &["[storage] must be a table, found integer"],
    );
    fails(
        "[storage]\ntype = \"imap\"\n",
        2,
        &["storage \"type\" must be a table", "[storage.NAME]"],
    );
    fails(
        "[storage.\"a b\"]\ntype = \"imap\"\n",
        1,
        &["storage name \"a b\"", "letters, digits"],
    );
    fails("[pair.\"\"]\na = \"x\"\n", 1, &["pair name \"\""]);
}

#[test]
fn imap_errors_point_at_the_key() {
    let base = "[storage.r]\ntype = \"imap\"\nhost = \"h\"\nuser = \"u\"\n";
    fails(
        &format!("{base}password = \"p\"\npassword_cmd = \"pass x\"\n"),
        6,
        &[
            "storage \"r\"",
            "\"password\" or \"password_cmd\", not both",
        ],
    );
    fails(
        &format!("{base}password_cmd = \"pass x\"\npassword = \"p\"\n"),
        6,
        &["not both"],
    );
    fails(
        base,
        4,
        &["\"user\" needs \"password\" or \"password_cmd\""],
    );
    fails(
        "[storage.r]\ntype = \"imap\"\nhost = \"h\"\npassword = \"p\"\n",
        4,
        &["needs a \"user\""],
    );
    fails(
        "[storage.r]\ntype = \"imap\"\nhost = \"h\"\n",
        1,
        &["missing key \"user\""],
    );
    fails(
        "[storage.r]\ntype = \"imap\"\nuser = \"u\"\n",
        1,
        &["missing key \"host\"", "tunnel"],
    );
    fails(
        &format!("{base}password = \"p\"\ntunnel = \"ssh x\"\n"),
        6,
        &["\"host\" or \"tunnel\", not both"],
    );
    fails(
        "[storage.r]\ntype = \"imap\"\ntunnel = \"ssh x\"\nport = 1\n",
        4,
        &["\"port\" does not apply to a \"tunnel\""],
    );
    fails(
        &format!("{base}password = \"p\"\nport = \"143\"\n"),
        6,
        &["\"port\" must be an integer, found string"],
    );
    fails(
        &format!("{base}password = \"p\"\nport = 70000\n"),
        6,
        &["\"port\" must be between 1 and 65535"],
    );
    fails(
        &format!("{base}password = \"p\"\nconnections = 0\n"),
        6,
        &["\"connections\" must be between 1"],
    );
    fails(
        &format!("{base}password = \"p\"\ntimeout = -1\n"),
        6,
        &["\"timeout\""],
    );
    fails(
        &format!("{base}password = \"p\"\ntls = \"ssl\"\n"),
        6,
        &["\"tls\"", "\"ssl\"", "implicit, starttls, none"],
    );
    fails(
        &format!("{base}password = \"p\"\nauth = \"gssapi\"\n"),
        6,
        &["\"auth\"", "\"gssapi\"", "xoauth2"],
    );
    fails(
        &format!("{base}password = \"p\"\ncert_fingerprint = \"sha1:00\"\n"),
        6,
        &["\"cert_fingerprint\"", "sha256:"],
    );
    fails(
        "[storage.r]\ntype = \"imap\"\nhost = \"\"\n",
        3,
        &["\"host\" must not be empty"],
    );
}

#[test]
fn dav_errors_point_at_the_key() {
    fails(
        "[storage.c]\ntype = \"caldav\"\nurl = \"ftp://x/\"\n",
        3,
        &["\"url\"", "\"ftp://x/\"", "https://"],
    );
    fails(
        "[storage.c]\ntype = \"caldav\"\nurl = \"https://\"\n",
        3,
        &["\"url\""],
    );
    fails(
        "[storage.c]\ntype = \"webcal\"\nurl = \"https://x/\"\nuser = \"u\"\n",
        4,
        &["\"user\" does not apply to type \"webcal\""],
    );
    fails(
        "[storage.c]\ntype = \"carddav\"\nurl = \"https://x/\"\npassword = \"p\"\n",
        4,
        &["needs a \"user\""],
    );
    fails(
        "[storage.v]\ntype = \"vdir\"\npath = \"/v\"\nfileext = \"ics/x\"\n",
        4,
        &["\"fileext\"", "extension"],
    );
    fails(
        "[storage.v]\ntype = \"vdir\"\npath = \"/v\"\nfileext = \".\"\n",
        4,
        &["\"fileext\"", "extension"],
    );
}

/// pimsync spells the extension without its dot (`fileext ics`); both spellings mean `.ics`
/// (issue 16).
#[test]
fn fileext_is_accepted_with_or_without_its_dot() {
    for spelling in ["ics", ".ics"] {
        let text =
            format!("[storage.v]\ntype = \"vdir\"\npath = \"/v\"\nfileext = \"{spelling}\"\n");
        let config = ok(&text);
        match &config.storages["v"].kind {
            StorageKind::Vdir(v) => assert_eq!(v.fileext, ".ics", "{spelling}"),
            other => panic!("{other:?}"),
        }
    }
}

/// A password in a DAV URL would be printed with every message naming the URL, so it is refused,
/// and the refusal itself does not print it.
#[test]
fn credentials_in_a_url_are_refused_without_being_shown() {
    for kind in ["caldav", "carddav", "webcal"] {
        let err = fails(
            &format!("[storage.c]\ntype = \"{kind}\"\nurl = \"https://me:s3cret@x.org/dav/\"\n"),
            3,
            &[
                "\"url\"",
                "https://...@x.org/dav/",
                "\"user\"",
                "\"password_cmd\"",
            ],
        );
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }
    // A malformed URL's message hides them too.
    let err = fails(
        "[storage.c]\ntype = \"caldav\"\nurl = \"ftp://me:s3cret@x/\"\n",
        3,
        &["\"url\"", "ftp://...@x/"],
    );
    assert!(!err.to_string().contains("s3cret"), "{err}");
    // An @ in the path is no user name.
    let text = "[storage.c]\ntype = \"caldav\"\nurl = \"https://x.org/~me@home/\"\n";
    assert!(parse_in(text, Path::new(FILE), &env()).is_ok());
}

#[test]
fn path_errors_name_the_variable() {
    let err = fails(
        "[storage.m]\ntype = \"maildir\"\npath = \"$NOPE/mail\"\n",
        3,
        &["storage \"m\"", "\"path\"", "NOPE", "not set"],
    );
    assert_eq!(err.kind(), ConfigErrorKind::Environment);
    fails(
        "[general]\nstate_dir = \"~bob/s\"\n",
        2,
        &["\"state_dir\"", "~user"],
    );
}

#[test]
fn paths_expand_and_anchor_at_the_config_directory() {
    let config = ok(
        "[general]\nstate_dir = \"state\"\n[storage.a]\ntype = \"maildir\"\npath = \"${MAILROOT}/a\"\n[storage.b]\ntype = \"maildir\"\npath = \"~\"\n",
    );
    assert_eq!(
        config.state_dir,
        PathBuf::from("/home/u/.config/pimlink/state")
    );
    let path = |name: &str| match &config.storages[name].kind {
        StorageKind::Maildir(m) => m.path.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(path("a"), PathBuf::from("/srv/mail/a"));
    assert_eq!(path("b"), PathBuf::from("/home/u"));
}

#[test]
fn pair_errors_point_at_the_key() {
    let check = |pair: &str, needle: &str, parts: &[&str]| {
        let text = with_maildirs(pair);
        fails(&text, line_of(&text, needle), parts);
    };
    check(
        "a = \"one\"\nb = \"lcoal\"\n",
        "b = ",
        &[
            "pair \"p\"",
            "\"b\" names storage \"lcoal\", which is not defined",
            "one, two",
        ],
    );
    check("b = \"one\"\n", "[pair.p]", &["missing key \"a\""]);
    check(
        "a = \"one\"\nb = \"one\"\n",
        "b = ",
        &["both storage \"one\""],
    );
    check(
        "a = \"one\"\nb = \"two\"\ncollections = [\"*\", \"bad\\\\\"]\n",
        "collections",
        &["\"collections\"", "lone"],
    );
    check(
        "a = \"one\"\nb = \"two\"\ncollections = []\n",
        "collections",
        &["\"collections\"", "empty"],
    );
    check(
        "a = \"one\"\nb = \"two\"\ncollections = [\"!Junk\"]\n",
        "collections",
        &["only exclusions"],
    );
    check(
        "a = \"one\"\nb = \"two\"\ncollections = \"*\"\n",
        "collections",
        &["\"collections\" must be an array of strings, found string"],
    );
    check(
        "a = \"one\"\nb = \"two\"\ncollections = [\"*\", 1]\n",
        "collections",
        &["\"collections\" must be an array of strings, found integer"],
    );
    check(
        "a = \"one\"\nb = \"two\"\ndirection = \"pull\"\n",
        "direction",
        &["\"direction\"", "\"pull\"", "both, a-to-b, b-to-a"],
    );
    check(
        "a = \"one\"\nb = \"two\"\noperations = [\"new\", \"expunge\"]\n",
        "operations",
        &["\"operations\"", "\"expunge\"", "new, flags, delete"],
    );
    check(
        "a = \"one\"\nb = \"two\"\noperations = []\n",
        "operations",
        &["\"operations\" is empty"],
    );
    check(
        "a = \"one\"\nb = \"two\"\ncreate = [\"c\"]\n",
        "create",
        &["\"create\"", "\"c\"", "a, b"],
    );
    check(
        "a = \"one\"\nb = \"two\"\non_empty = \"delete\"\n",
        "on_empty",
        &["\"on_empty\"", "refuse, sync"],
    );
    for bad in ["\"50\"", "\"101%\"", "\"-1%\"", "\"half%\"", "\"none\""] {
        check(
            &format!("a = \"one\"\nb = \"two\"\nmax_delete = {bad}\n"),
            "max_delete",
            &[
                "\"max_delete\"",
                "whole percentage",
                "\"100%\" never refuses",
            ],
        );
    }
    check(
        "a = \"one\"\nb = \"two\"\nmax_delete = 50\n",
        "max_delete",
        &["\"max_delete\" must be a string, found integer"],
    );
    // An element on its own line is reported there, not at the key.
    let text =
        with_maildirs("a = \"one\"\nb = \"two\"\ncollections = [\n  \"*\",\n  \"oops\\\\\",\n]\n");
    fails(&text, line_of(&text, "oops"), &["pattern \"oops\\\\\""]);
    // No storage at all.
    fails(
        "[pair.p]\na = \"x\"\nb = \"y\"\n",
        2,
        &["no storage is defined"],
    );
}

#[test]
fn pairs_cannot_join_a_directory_with_itself() {
    let text = "[storage.x]\ntype = \"maildir\"\npath = \"/m\"\n[storage.y]\ntype = \"maildir\"\n\
                path = \"/m/\"\n[pair.p]\na = \"x\"\nb = \"y\"\n";
    fails(
        text,
        line_of(text, "b = "),
        &["pair \"p\"", "the same directory /m"],
    );
}

#[test]
fn pairs_cannot_mix_mail_and_dav() {
    let text = format!(
        "{MAILDIRS}\n[storage.cal]\ntype = \"vdir\"\npath = \"/c\"\nfileext = \".ics\"\n[pair.p]\na = \"one\"\nb = \"cal\"\n"
    );
    fails(
        &text,
        line_of(&text, "b = \"cal\""),
        &[
            "pair \"p\"",
            "storage \"cal\" (vdir) cannot be paired with storage \"one\" (maildir)",
        ],
    );
}

#[test]
fn read_only_storages_must_be_the_source() {
    let storages = "[storage.feed]\ntype = \"webcal\"\nurl = \"https://x/h.ics\"\n[storage.cal]\ntype = \"vdir\"\npath = \"/c\"\nfileext = \".ics\"\n";
    let text = format!("{storages}[pair.p]\na = \"feed\"\nb = \"cal\"\n");
    fails(
        &text,
        line_of(&text, "a = \"feed\""),
        &[
            "storage \"feed\" (webcal) is read-only",
            "direction = \"a-to-b\"",
        ],
    );
    let text = format!("{storages}[pair.p]\na = \"cal\"\nb = \"feed\"\ndirection = \"a-to-b\"\n");
    fails(
        &text,
        line_of(&text, "direction"),
        &["read-only", "direction = \"b-to-a\""],
    );
    let text = format!("{storages}[pair.p]\na = \"cal\"\nb = \"feed\"\ndirection = \"b-to-a\"\n");
    assert_eq!(ok(&text).pairs["p"].direction, Direction::BToA);
}

#[test]
fn default_config_path_follows_xdg() {
    let env = MapEnv::new(&[("HOME", "/home/u"), ("XDG_CONFIG_HOME", "/cfg")]);
    assert_eq!(
        default_config_path_in(&env),
        Ok(PathBuf::from("/cfg/pimlink/config.toml"))
    );
    let env = MapEnv::new(&[("HOME", "/home/u")]);
    assert_eq!(
        default_config_path_in(&env),
        Ok(PathBuf::from("/home/u/.config/pimlink/config.toml"))
    );
    let err = default_config_path_in(&MapEnv::new(&[])).unwrap_err();
    assert_eq!(err.kind(), ConfigErrorKind::Environment);
    assert!(err.to_string().contains("-c FILE"), "{err}");
}

#[test]
fn load_reads_the_file_and_reports_a_missing_one() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.toml");
    std::fs::write(&file, "[storage.m]\ntype = \"maildir\"\npath = \"mail\"\n").unwrap();
    let config = load(&file).unwrap();
    assert_eq!(config.path, file);
    assert_eq!(
        config.storages["m"].kind,
        StorageKind::Maildir(MaildirConfig {
            path: dir.path().join("mail"),
            layout: MaildirLayout::Verbatim,
            tree: Default::default(),
        })
    );
    let missing = dir.path().join("nope.toml");
    let err = load(&missing).unwrap_err();
    assert_eq!(err.kind(), ConfigErrorKind::Io);
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!("{}: ", missing.display())),
        "{msg}"
    );
    assert!(msg.contains("pimlink init"), "{msg}");
}

#[test]
fn name_translation_keywords_and_subscriptions_convert() {
    use pimlink_core::{CollectionName, Side};
    let name = |n: &str| CollectionName::new(n).unwrap();
    let config = ok(r#"
[storage.gmail]
type = "imap"
host = "imap.example.com"
user = "me"
password = "x"
subscribed_only = true

[storage.local]
type = "maildir"
path = "/m/local"

[pair.mail]
a = "gmail"
b = "local"
prefix_a = "[Gmail]/"
folder_map = [["[Gmail]/Sent Mail", "Sent"], ["INBOX", "inbox-main"]]
keywords = false
"#);
    let StorageKind::Imap(imap) = &config.storages["gmail"].kind else {
        panic!("not imap");
    };
    assert!(imap.subscribed_only);
    let pair = &config.pairs["mail"];
    assert!(!pair.names.keywords);
    assert!(pair.policy().ignore_keywords);
    let t = &pair.names.translation;
    assert_eq!(
        t.to_pair(Side::A, &name("[Gmail]/Sent Mail")),
        Some(name("Sent"))
    );
    assert_eq!(
        t.to_pair(Side::A, &name("[Gmail]/Drafts")),
        Some(name("Drafts"))
    );
    assert_eq!(t.to_pair(Side::A, &name("INBOX")), Some(name("inbox-main")));
    assert_eq!(
        t.to_side(Side::B, &name("inbox-main")),
        Some(name("inbox-main"))
    );
    assert_eq!(t.to_side(Side::A, &name("INBOX")), None);
    assert_eq!(t.to_pair(Side::A, &name("Elsewhere")), None);

    // Defaults: no translation, keywords synced, every folder listed.
    let config = ok(&with_maildirs("a = \"one\"\nb = \"two\"\n"));
    let pair = &config.pairs["p"];
    assert!(pair.names.keywords && pair.names.translation.is_identity());
    assert!(!pair.policy().ignore_keywords);
}

#[test]
fn name_translation_errors_point_at_the_entry() {
    let check = |pair: &str, needle: &str, parts: &[&str]| {
        let text = with_maildirs(pair);
        fails(&text, line_of(&text, needle), parts);
    };
    let base = "a = \"one\"\nb = \"two\"\n";
    check(
        &format!("{base}folder_map = [\n  [\"x\", \"y\"],\n  [\"w\", \"y\"],\n]\n"),
        "[\"w\"",
        &["key \"folder_map\"", "would both be synced as \"y\""],
    );
    check(
        &format!("{base}folder_map = [\n  [\"x\", \"y\"],\n  [\"x\", \"z\"],\n]\n"),
        "[\"x\", \"z\"]",
        &["key \"folder_map\"", "\"x\" on side a is mapped twice"],
    );
    check(
        &format!("{base}folder_map = [[\"INBOX\", \"Inbox\"]]\n"),
        "folder_map",
        &["\"Inbox\" is INBOX"],
    );
    check(
        &format!("{base}folder_map = [[\"a\", \"b\", \"c\"]]\n"),
        "folder_map",
        &["must be an array of [\"name on a\", \"name on b\"] pairs"],
    );
    check(
        &format!("{base}folder_map = \"a\"\n"),
        "folder_map",
        &["must be an array"],
    );
    check(
        &format!("{base}prefix_b = \"INBOX.\"\n"),
        "prefix_b",
        &["key \"prefix_b\"", "'/' between levels"],
    );
    check(
        &format!("{base}prefix_a = \"a//b\"\n"),
        "prefix_a",
        &["key \"prefix_a\"", "empty level"],
    );
    check(
        &format!("{base}keywords = \"no\"\n"),
        "keywords",
        &["key \"keywords\" must be true or false"],
    );
    let text = "[storage.cal]\ntype = \"vdir\"\npath = \"/c\"\nfileext = \".ics\"\n\
                [storage.cal2]\ntype = \"vdir\"\npath = \"/d\"\nfileext = \".ics\"\n\
                [pair.p]\na = \"cal\"\nb = \"cal2\"\nkeywords = true\n";
    fails(
        text,
        line_of(text, "keywords"),
        &["applies only to mail pairs"],
    );
    let text = "[storage.m]\ntype = \"maildir\"\npath = \"/m\"\nsubscribed_only = true\n";
    fails(text, line_of(text, "subscribed_only"), &["subscribed_only"]);
}

const IMAP_AND_MAILDIR: &str = r#"
[storage.remote]
type = "imap"
host = "127.0.0.1"
user = "u"
password = "p"

[storage.local]
type = "maildir"
path = "/m/local"
"#;

#[test]
fn limits_convert_and_default_to_the_maildir_side() {
    let text = format!(
        "{IMAP_AND_MAILDIR}\n[pair.p]\na = \"remote\"\nb = \"local\"\nmax_size = \"10M\"\n\
         max_messages = 500\nmax_age = \"90d\"\n"
    );
    let limits = ok(&text).pairs["p"].limits;
    assert_eq!(limits.near, Some(Side::B));
    assert_eq!(limits.max_size, Some(10 << 20));
    assert_eq!(limits.max_messages, Some(500));
    assert_eq!(limits.max_age, Some(Duration::from_secs(90 * 86_400)));
    assert_eq!(ok(&text).pairs["p"].policy().limits, limits);

    // Bytes and days as plain integers; an explicit near side.
    let text =
        with_maildirs("a = \"one\"\nb = \"two\"\nnear = \"a\"\nmax_size = 2048\nmax_age = 30\n");
    let limits = ok(&text).pairs["p"].limits;
    assert_eq!(limits.near, Some(Side::A));
    assert_eq!(limits.max_size, Some(2048));
    assert_eq!(limits.max_age, Some(Duration::from_secs(30 * 86_400)));
    assert_eq!(limits.max_messages, None);

    // A one-way pair limits its receiving side; no limits, no near side.
    let text =
        with_maildirs("a = \"one\"\nb = \"two\"\ndirection = \"b-to-a\"\nmax_messages = 5\n");
    assert_eq!(ok(&text).pairs["p"].limits.near, Some(Side::A));
    let text = with_maildirs("a = \"one\"\nb = \"two\"\n");
    assert_eq!(ok(&text).pairs["p"].limits, Limits::default());
}

#[test]
fn limit_errors_point_at_the_key() {
    let check = |pair: &str, needle: &str, parts: &[&str]| {
        let text = with_maildirs(pair);
        fails(&text, line_of(&text, needle), parts);
    };
    check(
        "a = \"one\"\nb = \"two\"\nmax_size = \"10X\"\n",
        "max_size",
        &["\"max_size\"", "\"10X\" is not a size"],
    );
    check(
        "a = \"one\"\nb = \"two\"\nmax_size = 0\n",
        "max_size",
        &["\"max_size\" must be between 1"],
    );
    check(
        "a = \"one\"\nb = \"two\"\nmax_size = [1]\n",
        "max_size",
        &["\"max_size\" must be a size"],
    );
    check(
        "a = \"one\"\nb = \"two\"\nmax_age = \"3 months\"\n",
        "max_age",
        &["\"max_age\"", "not an age", "90d"],
    );
    check(
        "a = \"one\"\nb = \"two\"\nmax_messages = -1\n",
        "max_messages",
        &["\"max_messages\" must be between 1"],
    );
    check(
        "a = \"one\"\nb = \"two\"\nmax_messages = \"5\"\n",
        "max_messages",
        &["\"max_messages\" must be an integer"],
    );
    // Two Maildirs: which one is local cannot be guessed.
    check(
        "a = \"one\"\nb = \"two\"\nmax_age = \"9d\"\n",
        "max_age",
        &["near = \"a\" or near = \"b\""],
    );
    check(
        "a = \"one\"\nb = \"two\"\nnear = \"c\"\n",
        "near",
        &["\"near\"", "a, b"],
    );
    check(
        "a = \"one\"\nb = \"two\"\ndirection = \"b-to-a\"\nnear = \"b\"\nmax_messages = 3\n",
        "near = ",
        &["side b receives no copies"],
    );
    let text = "[storage.x]\ntype = \"vdir\"\npath = \"/x\"\nfileext = \".ics\"\n\
                [storage.y]\ntype = \"vdir\"\npath = \"/y\"\nfileext = \".ics\"\n\
                [pair.p]\na = \"x\"\nb = \"y\"\nmax_messages = 3\n";
    fails(
        text,
        line_of(text, "max_messages"),
        &["\"max_messages\" applies only to mail pairs"],
    );
}

#[test]
fn dav_domain_client_cert_and_webcal_collection_id_convert() {
    let config = ok(r#"
[storage.cal]
type = "caldav"
domain = "Example.COM."
client_cert = "~/certs/me.pem"

[storage.cards]
type = "carddav"
url = "https://dav.example.com/"
client_cert = "certs/me.crt"
client_key = "certs/me.key"

[storage.feed]
type = "webcal"
url = "https://example.net/h.ics"
collection_id = "holidays"
"#);
    let StorageKind::CalDav(cal) = &config.storages["cal"].kind else {
        panic!("not caldav");
    };
    assert_eq!(cal.domain.as_deref(), Some("example.com"));
    assert_eq!(cal.url, "https://example.com/");
    assert_eq!(
        cal.trust.client_cert,
        Some(ClientCert {
            cert: PathBuf::from("/home/u/certs/me.pem"),
            key: PathBuf::from("/home/u/certs/me.pem"),
        })
    );
    let StorageKind::CardDav(cards) = &config.storages["cards"].kind else {
        panic!("not carddav");
    };
    assert_eq!(cards.domain, None);
    assert_eq!(
        cards.trust.client_cert,
        Some(ClientCert {
            cert: PathBuf::from("/home/u/.config/pimlink/certs/me.crt"),
            key: PathBuf::from("/home/u/.config/pimlink/certs/me.key"),
        })
    );
    let StorageKind::Webcal(feed) = &config.storages["feed"].kind else {
        panic!("not webcal");
    };
    assert_eq!(feed.collection_id.as_deref(), Some("holidays"));
    assert_eq!(feed.trust.client_cert, None);
}

#[test]
fn dav_domain_client_cert_and_collection_id_errors_point_at_the_key() {
    fails(
        "[storage.c]\ntype = \"caldav\"\nurl = \"https://x.org/\"\ndomain = \"x.org\"\n",
        4,
        &["either \"url\" or \"domain\""],
    );
    fails(
        "[storage.c]\ntype = \"caldav\"\ndomain = \"https://x.org/\"\n",
        3,
        &["\"domain\"", "not a domain name"],
    );
    fails(
        "[storage.c]\ntype = \"caldav\"\ndomain = \"localhost\"\n",
        3,
        &["\"domain\"", "not a domain name"],
    );
    fails(
        "[storage.c]\ntype = \"carddav\"\n",
        1,
        &["\"url\"", "\"domain\""],
    );
    fails(
        "[storage.c]\ntype = \"caldav\"\nurl = \"https://x.org/\"\nskip_unchanged = \"yes\"\n",
        4,
        &["skip_unchanged", "\"yes\"", "auto, ctag, last-modified"],
    );
    fails(
        "[storage.c]\ntype = \"caldav\"\nurl = \"https://x.org/\"\nskip_unchanged = 1\n",
        4,
        &[
            "skip_unchanged",
            "true, false, \"auto\", \"ctag\" or \"last-modified\"",
        ],
    );
    fails(
        "[storage.c]\ntype = \"vdir\"\npath = \"/c\"\nskip_unchanged = true\n",
        4,
        &["skip_unchanged"],
    );
    fails(
        "[storage.c]\ntype = \"carddav\"\nurl = \"https://x.org/\"\nclient_key = \"k.pem\"\n",
        4,
        &["\"client_key\" needs \"client_cert\""],
    );
    fails(
        "[storage.c]\ntype = \"webcal\"\nurl = \"https://x.org/f.ics\"\ncollection_id = \"a/b\"\n",
        4,
        &["\"collection_id\""],
    );
    fails(
        "[storage.c]\ntype = \"caldav\"\nurl = \"https://x.org/\"\ncollection_id = \"x\"\n",
        4,
        &["\"collection_id\" does not apply to type \"caldav\""],
    );
    fails(
        "[storage.v]\ntype = \"vdir\"\npath = \"/v\"\nfileext = \".ics\"\nclient_cert = \"c\"\n",
        5,
        &["\"client_cert\" does not apply to type \"vdir\""],
    );
}
