//! Finding a user's calendar or address-book home (RFC 6764 / RFC 4791 6.2.1 / RFC 6352
//! 7.1.1): the configured URL or `/.well-known/caldav|carddav` -> `current-user-principal` ->
//! `calendar-home-set` / `addressbook-home-set`.
//!
//! DNS SRV/TXT lookups are not done here: the configured URL must name the server.

use pimlink_core::item_store::CollectionKind;
use pimlink_core::{Error, ErrorKind, Result};
use tracing::debug;

use crate::client::{DavClient, status_error};
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

/// The canonical path of the home set of `kind` for the client's user.
pub async fn find_home(client: &DavClient, kind: CollectionKind) -> Result<String> {
    let home_prop = home_set_prop(kind);
    let configured = client.base().path().to_owned();
    let mut tried = Vec::new();
    for start in [configured.as_str(), well_known(kind)] {
        tried.push(start.to_owned());
        let props = [(DAV, "current-user-principal"), home_prop];
        let Some(ms) = propfind_props(client, start, &props).await? else {
            continue;
        };
        let Some(first) = ms.responses.first() else {
            continue;
        };
        // The configured URL may already be the principal.
        if let Some(home) = first.href_in(home_prop.0, home_prop.1) {
            debug!(%home, "home set found on the configured URL");
            return Ok(home);
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
            return Ok(home);
        }
        tried.push(principal);
    }
    Err(Error::new(
        ErrorKind::NotFound,
        format!(
            "no {} found on {} (asked {}); configure the URL of the home set or principal",
            home_prop.1,
            client.base(),
            tried.join(", ")
        ),
    ))
}
