//! Finding a user's calendar or address-book home (RFC 6764 / RFC 4791 6.2.1 / RFC 6352
//! 7.1.1): the configured URL or `/.well-known/caldav|carddav` -> `current-user-principal` ->
//! `calendar-home-set` / `addressbook-home-set`.
//!
//! When neither the configured URL nor its well-known path leads to a home set and the URL's
//! host is a domain name, the DNS SRV/TXT records of RFC 6764 name further servers to try (see
//! the `dns` module); a storage configured by `domain` alone asks DNS first.

use pimlink_core::dav::store::CollectionKind;
use pimlink_core::{Error, ErrorKind, Result};
use tracing::debug;

use crate::client::{ClientOptions, DavClient, status_error};
use crate::dns;
use crate::proto::multistatus::{self, Multistatus};
use crate::proto::request::{Depth, propfind};
use crate::proto::{CALDAV, CARDDAV, DAV};

fn home_set_prop(kind: CollectionKind) -> (&'static str, &'static str) {
    match kind {
        CollectionKind::Calendar => (CALDAV, "calendar-home-set"),
        CollectionKind::AddressBook => (CARDDAV, "addressbook-home-set"),
    }
}

fn well_known(kind: CollectionKind) -> &'static str {
    match kind {
        CollectionKind::Calendar => "/.well-known/caldav",
        CollectionKind::AddressBook => "/.well-known/carddav",
    }
}

async fn propfind_props(
    client: &DavClient,
    target: &str,
    props: &[(&str, &str)],
) -> Result<Option<Multistatus>> {
    let response = client.send(&propfind(target, Depth::Zero, props)).await?;
    match response.status {
        207 => {
            let ms = multistatus::parse(&response.body)
                .map_err(|e| Error::new(ErrorKind::Peer, format!("PROPFIND {target}: {e}")))?;
            Ok(Some(ms))
        }
        // Wrong credentials fail everywhere: say so instead of trying on.
        401 => Err(status_error(format!("PROPFIND {target}"), &response)),
        // Not a DAV resource (404, 405, an HTML page) or someone else's (403, as Radicale
        // answers for a path outside the user's own): try the next candidate.
        _ => Ok(None),
    }
}

/// Looks for the home set starting at each of `starts` (paths on `client`'s server) in turn;
/// records what it asked in `tried`.
async fn home_on(
    client: &DavClient,
    kind: CollectionKind,
    starts: &[&str],
    tried: &mut Vec<String>,
) -> Result<Option<String>> {
    let home_prop = home_set_prop(kind);
    for start in starts {
        tried.push(
            client
                .resolve(start)
                .map_or_else(|_| (*start).to_owned(), |u| u.to_string()),
        );
        let props = [(DAV, "current-user-principal"), home_prop];
        let Some(ms) = propfind_props(client, start, &props).await? else {
            continue;
        };
        let Some(first) = ms.responses.first() else {
            continue;
        };
        // The configured URL may already be the principal.
        if let Some(home) = first.href_in(home_prop.0, home_prop.1) {
            debug!(%home, start, "home set found");
            return Ok(Some(home));
        }
        let Some(principal) = first.href_in(DAV, "current-user-principal") else {
            continue;
        };
        if let Some(ms) = propfind_props(client, &principal, &[home_prop]).await?
            && let Some(home) = ms
                .responses
                .first()
                .and_then(|r| r.href_in(home_prop.0, home_prop.1))
        {
            debug!(%principal, %home, "home set found through the principal");
            return Ok(Some(home));
        }
        tried.push(principal);
    }
    Ok(None)
}

/// The canonical path of the home set of `kind` on `client`'s server, starting at the
/// configured URL and then the server's well-known path.
pub async fn find_home(client: &DavClient, kind: CollectionKind) -> Result<String> {
    let configured = client.base().path().to_owned();
    let mut tried = Vec::new();
    match home_on(client, kind, &[&configured, well_known(kind)], &mut tried).await? {
        Some(home) => Ok(home),
        None => Err(not_found(kind, client.base().as_str(), &tried)),
    }
}

/// Finds the home set of `kind` for `options`: the configured URL, its server's well-known
/// path, then (RFC 6764) the services the DNS SRV records of its host name; with
/// [`ClientOptions::srv_first`] DNS comes first. Returns the client for the server that
/// answered, which DNS may have named.
pub async fn discover(
    options: &ClientOptions,
    kind: CollectionKind,
) -> Result<(DavClient, String)> {
    let client = DavClient::new(options)?;
    let configured = client.base().path().to_owned();
    let mut tried = Vec::new();
    // A host that does not answer at all may still name its service in DNS (a domain whose
    // DAV server is hosted elsewhere); its error is reported when DNS names nothing either.
    let mut unreachable = None;
    if !options.srv_first {
        match home_on(&client, kind, &[&configured, well_known(kind)], &mut tried).await {
            Ok(Some(home)) => return Ok((client, home)),
            Ok(None) => {}
            Err(err) if err.kind() == ErrorKind::Connection => unreachable = Some(err),
            Err(err) => return Err(err),
        }
    }
    let base = client.base().clone();
    if let Some(domain) = base.host_str().filter(|h| dns::is_domain(h)) {
        let allow_plain = base.scheme() == "http";
        let services =
            dns::services(&options.dns, kind, domain, allow_plain, well_known(kind)).await;
        if services.is_empty() {
            tried.push(format!(
                "DNS SRV {}",
                dns::service_names(kind, domain, allow_plain)
                    .into_iter()
                    .map(|(_, name)| name)
                    .collect::<Vec<_>>()
                    .join(" ")
            ));
        }
        for url in services {
            let path = url.path().to_owned();
            let found = DavClient::for_url(options, url)?;
            match home_on(&found, kind, &[&path], &mut tried).await {
                Ok(Some(home)) => return Ok((found, home)),
                Ok(None) => {}
                // An unreachable SRV target is a reason to try the next one (RFC 2782).
                Err(err) if err.kind() == ErrorKind::Connection => {
                    debug!(url = %found.base(), %err, "SRV target unreachable");
                }
                Err(err) => return Err(err),
            }
        }
    }
    if options.srv_first {
        match home_on(&client, kind, &[well_known(kind)], &mut tried).await {
            Ok(Some(home)) => return Ok((client, home)),
            Ok(None) => {}
            Err(err) if err.kind() == ErrorKind::Connection => unreachable = Some(err),
            Err(err) => return Err(err),
        }
    }
    // Keep the kind of an unreachable server (a transient failure, not a missing service),
    // but say everything that was tried.
    Err(match unreachable {
        Some(err) => err.context(format!(
            "no {} found (asked {})",
            home_set_prop(kind).1,
            tried.join(", ")
        )),
        None => not_found(kind, options.url.as_str(), &tried),
    })
}

fn not_found(kind: CollectionKind, url: &str, tried: &[String]) -> Error {
    Error::new(
        ErrorKind::NotFound,
        format!(
            "no {} found for {url} (asked {}); configure the URL of the home set or principal",
            home_set_prop(kind).1,
            tried.join(", ")
        ),
    )
}
