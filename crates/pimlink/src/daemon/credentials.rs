//! The daemon runs each `password_cmd` once, before it reports ready, and syncs with the
//! passwords it printed: a sync every few seconds must not run `pass` or `gpg` each time, and
//! a command that fails should stop the daemon at start, not every sync later. A pair whose
//! sync fails has its commands run again before the retry (an access token may have expired).

use anyhow::{Context, Result};

use crate::config::{Config, Credentials, PasswordSource, StorageKind};

/// Runs the `password_cmd` of every storage of `pairs` and keeps its answer in `config` in
/// its place.
pub fn resolve<'p>(config: &mut Config, pairs: impl IntoIterator<Item = &'p str>) -> Result<()> {
    let mut storages = Vec::new();
    for pair in pairs {
        if let Some(pair) = config.pairs.get(pair) {
            storages.extend([pair.a.clone(), pair.b.clone()]);
        }
    }
    storages.sort();
    storages.dedup();
    for name in storages {
        let Some(storage) = config.storages.get_mut(&name) else {
            continue;
        };
        if let Some(credentials) = credentials_mut(&mut storage.kind) {
            let secret = credentials
                .password
                .resolve()
                .with_context(|| format!("storage {name}"))?;
            // An OAuth2 token expires within the hour: the source stays, and hands out the
            // token it now caches until it needs refreshing (issue 18).
            if !matches!(credentials.password, PasswordSource::OAuth2(_)) {
                credentials.password = PasswordSource::Literal(secret);
            }
        }
    }
    Ok(())
}

fn credentials_mut(kind: &mut StorageKind) -> Option<&mut Credentials> {
    match kind {
        StorageKind::Imap(imap) => imap.credentials.as_mut(),
        StorageKind::CalDav(dav) | StorageKind::CardDav(dav) => dav.credentials.as_mut(),
        StorageKind::Maildir(_) | StorageKind::Webcal(_) | StorageKind::Vdir(_) => None,
    }
}
