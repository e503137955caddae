//! `pimlink auth STORAGE [--device] [--no-browser]`: the first OAuth2 authorization of a
//! storage, whose refresh token later runs use (issue 18).

use anyhow::{Result, bail};

use crate::cli::{AuthArgs, exit};
use crate::config::{Config, PasswordSource, StorageKind};
use crate::failure::{UsageError, exit_code};
use crate::output::Output;
use pimlink::oauth2::{self, Place};

/// Runs `auth` and returns the exit status.
pub fn run(config: &Config, args: &AuthArgs, output: &Output) -> u8 {
    match authorize(config, args, output) {
        Ok(()) => exit::OK,
        Err(error) => {
            output.error(&error);
            exit_code(&error)
        }
    }
}

fn authorize(config: &Config, args: &AuthArgs, output: &Output) -> Result<()> {
    let name = &args.storage;
    let Some(storage) = config.storages.get(name) else {
        bail!(UsageError(format!(
            "{}: no storage {name:?} is configured",
            config.path.display()
        )));
    };
    let credentials = match &storage.kind {
        StorageKind::Imap(imap) => imap.credentials.as_ref(),
        StorageKind::CalDav(dav) | StorageKind::CardDav(dav) => dav.credentials.as_ref(),
        _ => None,
    };
    let Some(PasswordSource::OAuth2(source)) = credentials.map(|c| &c.password) else {
        bail!(UsageError(format!(
            "storage {name:?} has no oauth2 table (imap, caldav and carddav storages take one: \
             oauth2 = {{ provider = \"google\", client_id = \"...\" }})"
        )));
    };
    // Instructions go to stdout even with -q: without them there is nothing to do.
    let mut say = |line: &str| println!("{line}");
    let place = if args.device {
        oauth2::flow::device(source, &mut say)?
    } else {
        oauth2::flow::authorize(source, args.no_browser, &mut say)?
    };
    // Proves the token works, and leaves an access token for the first sync.
    oauth2::access_token(source, false)?;
    let where_ = match place {
        Place::Keyring => format!(
            "in the keyring (secret-tool attributes service={} storage={name})",
            oauth2::store::KEYRING_SERVICE
        ),
        Place::File(path) => format!(
            "in {} (readable by you only; no keyring was reachable)",
            path.display()
        ),
    };
    output.info(format!(
        "storage {name}: authorized; the refresh token is kept {where_}"
    ));
    Ok(())
}
