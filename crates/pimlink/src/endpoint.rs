//! Where a storage's server is: the host messages name, and whether the connection to it
//! carries passwords and data in clear text off this machine (which deserves a warning).

use std::net::{IpAddr, ToSocketAddrs};

use crate::config::{Config, ImapEndpoint, StorageKind, TlsMode};

/// The host of an `http://` or `https://` URL (without brackets for IPv6), if it parses.
pub fn url_host(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    match parsed.host()? {
        url::Host::Domain(domain) => Some(domain.to_owned()),
        url::Host::Ipv4(ip) => Some(ip.to_string()),
        url::Host::Ipv6(ip) => Some(ip.to_string()),
    }
}

/// Warns, once per storage among `names`, about each that sends its password and data
/// unencrypted to another machine.
pub fn warn_cleartext<'n>(config: &Config, names: impl IntoIterator<Item = &'n str>) {
    let names: std::collections::BTreeSet<&str> = names.into_iter().collect();
    for name in names {
        let Some(storage) = config.storages.get(name) else {
            continue;
        };
        if let Some(warning) = cleartext_warning(name, &storage.kind, &is_loopback) {
            tracing::warn!("{warning}");
        }
    }
}

/// The warning for storage `name` if it talks in clear text (IMAP `tls = "none"`, an
/// `http://` CalDAV/CardDAV URL) to a host that `loopback` does not call this machine.
/// Webcal feeds are left out: they carry no password, and public feeds are often `http://`.
fn cleartext_warning(
    name: &str,
    kind: &StorageKind,
    loopback: &dyn Fn(&str, u16) -> bool,
) -> Option<String> {
    match kind {
        StorageKind::Imap(imap) => match &imap.endpoint {
            ImapEndpoint::Tcp {
                host,
                port,
                tls: TlsMode::None,
                ..
            } if !loopback(host, *port) => Some(format!(
                "storage {name:?}: tls = \"none\" sends the password and the mail unencrypted to \
                 {host}, which is not this machine; use tls = \"starttls\" or \"implicit\""
            )),
            _ => None,
        },
        StorageKind::CalDav(dav) | StorageKind::CardDav(dav) => {
            let url = url::Url::parse(&dav.url).ok()?;
            let host = url_host(&dav.url)?;
            let port = url.port_or_known_default().unwrap_or(80);
            (url.scheme() == "http" && !loopback(&host, port)).then(|| {
                format!(
                    "storage {name:?}: url = {:?} sends the password and every item \
                     unencrypted to {host}, which is not this machine; use an https:// URL",
                    dav.url
                )
            })
        }
        _ => None,
    }
}

/// True if `host` is this machine: a loopback address, `localhost` or a name below it (RFC
/// 6761 reserves them for loopback), or a name whose every address is a loopback one. A name
/// that cannot be looked up counts as another machine: better a warning too many.
fn is_loopback(host: &str, port: u16) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return ip.is_loopback();
    }
    let name = bare.trim_end_matches('.').to_ascii_lowercase();
    if name == "localhost" || name.ends_with(".localhost") {
        return true;
    }
    match (bare, port).to_socket_addrs() {
        Ok(addresses) => {
            let addresses: Vec<_> = addresses.collect();
            !addresses.is_empty() && addresses.iter().all(|a| a.ip().is_loopback())
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_of_urls() {
        let table = [
            ("http://127.0.0.1:5232/", Some("127.0.0.1")),
            (
                "https://dav.example.org/remote.php/dav",
                Some("dav.example.org"),
            ),
            ("http://user@[::1]:8080/x", Some("::1")),
            ("not a url", None),
        ];
        for (url, host) in table {
            assert_eq!(url_host(url).as_deref(), host, "{url}");
        }
    }

    #[test]
    fn loopback_addresses_and_localhost_need_no_lookup() {
        for host in [
            "127.0.0.1",
            "127.1.2.3",
            "::1",
            "[::1]",
            "localhost",
            "LocalHost.",
            "a.localhost",
        ] {
            assert!(is_loopback(host, 143), "{host}");
        }
        for host in ["10.0.0.1", "192.0.2.7", "::2", "0.0.0.0"] {
            assert!(!is_loopback(host, 143), "{host}");
        }
    }

    /// Which storages warn, decided with a stand-in for the name lookup (tests do not resolve
    /// names): only `*.example.org` is another machine.
    #[test]
    fn clear_text_to_another_machine_is_warned_about() {
        let config = crate::config::parse(
            r#"
[storage.far]
type = "imap"
host = "imap.example.org"
tls = "none"
user = "u"
password = "p"
[storage.near]
type = "imap"
host = "127.0.0.1"
tls = "none"
user = "u"
password = "p"
[storage.secure]
type = "imap"
host = "imap.example.org"
tls = "starttls"
user = "u"
password = "p"
[storage.dav]
type = "caldav"
url = "http://dav.example.org:8080/dav/"
[storage.davs]
type = "caldav"
url = "https://dav.example.org/"
[storage.localdav]
type = "carddav"
url = "http://localhost:5232/"
[storage.feed]
type = "webcal"
url = "http://feeds.example.org/holidays.ics"
"#,
            std::path::Path::new("config.toml"),
        )
        .unwrap();
        let this_machine = |host: &str, _: u16| !host.ends_with(".example.org");
        let warned: Vec<String> = config
            .storages
            .iter()
            .filter_map(|(name, s)| cleartext_warning(name, &s.kind, &this_machine))
            .collect();
        assert_eq!(
            warned,
            [
                "storage \"dav\": url = \"http://dav.example.org:8080/dav/\" sends the password \
                 and every item unencrypted to dav.example.org, which is not this machine; use \
                 an https:// URL",
                "storage \"far\": tls = \"none\" sends the password and the mail unencrypted to \
                 imap.example.org, which is not this machine; use tls = \"starttls\" or \
                 \"implicit\"",
            ]
        );
    }
}
