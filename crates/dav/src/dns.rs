//! RFC 6764 service discovery through DNS: SRV records (`_caldavs._tcp.DOMAIN`,
//! `_caldav._tcp.DOMAIN`, and the `carddav` pair) name the host and port of a service, a TXT
//! record at the same name may give its context path (`path=/dav/`).
//!
//! DNS answers are not authenticated (no DNSSEC here), so a service found this way is trusted
//! no further than DNS: TLS still verifies the certificate for the SRV *target* name, and a
//! plain-HTTP service (`_caldav._tcp`) is only used when the user configured an `http://` URL.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use pimlink_core::dav::store::CollectionKind;
use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use tracing::debug;

/// Which resolver answers the SRV/TXT queries of RFC 6764 discovery.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Dns {
    /// The system's resolver configuration (`/etc/resolv.conf`).
    #[default]
    System,
    /// One name server, asked over UDP (and TCP for truncated answers). Every host name the
    /// client connects to (the configured one and SRV targets) is resolved by the same
    /// server, so a private or test zone works end to end.
    Server(SocketAddr),
    /// No DNS lookups: discovery uses only the configured URL and its well-known path.
    Off,
}

/// One SRV answer, before its target is resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SrvRecord {
    pub priority: u16,
    pub weight: u16,
    pub port: u16,
    /// Without the trailing dot; `""` is the root, which means "no such service here".
    pub target: String,
}

/// Whether `host` can have SRV records at all: IP literals and `localhost` cannot, and asking
/// the system resolver about them would only leak the question.
pub(crate) fn is_domain(host: &str) -> bool {
    host.parse::<IpAddr>().is_err()
        && !host.starts_with('[')
        && !host.eq_ignore_ascii_case("localhost")
        && host.contains('.')
}

/// The SRV names to ask, best first: TLS before plain HTTP, which only `allow_plain` admits.
pub(crate) fn service_names(
    kind: CollectionKind,
    domain: &str,
    allow_plain: bool,
) -> Vec<(&'static str, String)> {
    let base = match kind {
        CollectionKind::Calendar => "caldav",
        CollectionKind::AddressBook => "carddav",
    };
    let domain = domain.trim_end_matches('.');
    let mut names = vec![("https", format!("_{base}s._tcp.{domain}."))];
    if allow_plain {
        names.push(("http", format!("_{base}._tcp.{domain}.")));
    }
    names
}

/// The usable records in the order RFC 2782 asks for: lowest priority first, heavier weight
/// first within a priority (deterministic rather than weighted-random: a sync client makes a
/// handful of connections, not enough for load spreading to matter). A lone `.` target means
/// the service is explicitly not offered.
pub(crate) fn order(mut records: Vec<SrvRecord>) -> Vec<SrvRecord> {
    if records.len() == 1 && records[0].target.is_empty() {
        return Vec::new();
    }
    records.retain(|r| !r.target.is_empty() && r.port != 0);
    records.sort_by(|a, b| {
        a.priority
            .cmp(&b.priority)
            .then(b.weight.cmp(&a.weight))
            .then(a.target.cmp(&b.target))
    });
    records
}

/// The context path a TXT record's strings give (`path=/x`), if any; RFC 6764 section 4.
pub(crate) fn txt_path<'a>(strings: impl IntoIterator<Item = &'a [u8]>) -> Option<String> {
    strings.into_iter().find_map(|s| {
        let s = std::str::from_utf8(s).ok()?;
        let path = s.strip_prefix("path=")?;
        path.starts_with('/').then(|| path.to_owned())
    })
}

fn resolver(dns: &Dns) -> Option<TokioResolver> {
    let built = match dns {
        Dns::Off => return None,
        Dns::System => TokioResolver::builder_tokio().and_then(|b| b.build()),
        Dns::Server(addr) => {
            let mut server = NameServerConfig::udp_and_tcp(addr.ip());
            for connection in &mut server.connections {
                connection.port = addr.port();
            }
            let mut options = ResolverOpts::default();
            options.timeout = Duration::from_secs(5);
            options.attempts = 1;
            TokioResolver::builder_with_config(
                ResolverConfig::from_name_servers(vec![server]),
                TokioRuntimeProvider::default(),
            )
            .with_options(options)
            .build()
        }
    };
    match built {
        Ok(resolver) => Some(resolver),
        Err(err) => {
            // No resolv.conf or an unusable one: discovery goes on without DNS.
            debug!(%err, "no DNS resolver for SRV discovery");
            None
        }
    }
}

/// Host name resolution for the HTTP client through a [`Dns::Server`].
struct HostResolver(TokioResolver);

impl Resolve for HostResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let resolver = self.0.clone();
        let host = format!("{}.", name.as_str().trim_end_matches('.'));
        Box::pin(async move {
            let ips = resolver.lookup_ip(host).await?;
            // The port is the connector's to fill in.
            let addrs: Vec<SocketAddr> = ips.iter().map(|ip| SocketAddr::new(ip, 0)).collect();
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// The resolver the HTTP client should use instead of the system's, if any.
pub(crate) fn host_resolver(dns: &Dns) -> Option<Arc<dyn Resolve>> {
    match dns {
        Dns::Server(_) => resolver(dns).map(|r| Arc::new(HostResolver(r)) as Arc<dyn Resolve>),
        Dns::System | Dns::Off => None,
    }
}

/// The service URLs (`http(s)://TARGET:PORT/PATH`, with the TXT record's path or else
/// `well_known`) DNS names for `kind` at `domain`, best first; empty when nothing answers.
pub(crate) async fn services(
    dns: &Dns,
    kind: CollectionKind,
    domain: &str,
    allow_plain: bool,
    well_known: &str,
) -> Vec<Url> {
    let Some(resolver) = resolver(dns) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for (scheme, name) in service_names(kind, domain, allow_plain) {
        let records = match resolver.srv_lookup(name.as_str()).await {
            Ok(lookup) => lookup
                .answers()
                .iter()
                .filter_map(|record| match &record.data {
                    RData::SRV(srv) => Some(SrvRecord {
                        priority: srv.priority,
                        weight: srv.weight,
                        port: srv.port,
                        target: srv.target.to_ascii().trim_end_matches('.').to_owned(),
                    }),
                    _ => None,
                })
                .collect(),
            Err(err) => {
                debug!(%name, %err, "no SRV record");
                continue;
            }
        };
        let records = order(records);
        if records.is_empty() {
            continue;
        }
        let path = match resolver.txt_lookup(name.as_str()).await {
            Ok(lookup) => lookup
                .answers()
                .iter()
                .find_map(|record| match &record.data {
                    RData::TXT(txt) => txt_path(txt.txt_data.iter().map(|s| &s[..])),
                    _ => None,
                }),
            Err(err) => {
                debug!(%name, %err, "no TXT record");
                None
            }
        };
        for record in records {
            let path = path.as_deref().unwrap_or(well_known);
            let Ok(url) = Url::parse(&format!(
                "{scheme}://{}:{}{path}",
                record.target, record.port
            )) else {
                debug!(?record, "SRV target is not a usable host name");
                continue;
            };
            debug!(%url, "service found through DNS SRV");
            found.push(url);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn srv(priority: u16, weight: u16, target: &str) -> SrvRecord {
        SrvRecord {
            priority,
            weight,
            port: 443,
            target: target.to_owned(),
        }
    }

    #[test]
    fn records_are_ordered_by_priority_then_weight_and_dot_means_none() {
        let ordered = order(vec![srv(10, 5, "c"), srv(0, 1, "b"), srv(0, 9, "a")]);
        let targets: Vec<_> = ordered.iter().map(|r| r.target.as_str()).collect();
        assert_eq!(targets, ["a", "b", "c"]);
        assert!(order(vec![srv(0, 0, "")]).is_empty());
        let mut zero_port = srv(0, 0, "x");
        zero_port.port = 0;
        assert!(order(vec![zero_port]).is_empty());
    }

    #[test]
    fn txt_paths_must_be_absolute() {
        let strings: [&[u8]; 2] = [b"foo=bar", b"path=/dav/"];
        assert_eq!(txt_path(strings), Some("/dav/".to_owned()));
        let relative: [&[u8]; 1] = [b"path=dav"];
        assert_eq!(txt_path(relative), None);
    }

    #[test]
    fn plain_http_is_asked_only_when_allowed_and_after_tls() {
        let names = service_names(CollectionKind::AddressBook, "example.com.", true);
        assert_eq!(
            names,
            [
                ("https", "_carddavs._tcp.example.com.".to_owned()),
                ("http", "_carddav._tcp.example.com.".to_owned())
            ]
        );
        assert_eq!(
            service_names(CollectionKind::Calendar, "example.com", false).len(),
            1
        );
    }

    #[test]
    fn only_domain_names_are_looked_up() {
        assert!(is_domain("example.com"));
        assert!(!is_domain("127.0.0.1"));
        assert!(!is_domain("[::1]"));
        assert!(!is_domain("localhost"));
        assert!(!is_domain("intranet"));
    }
}
