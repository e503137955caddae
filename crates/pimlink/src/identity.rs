//! Which storage a configured storage is, in words, for the status to remember per side
//! (core's `status/storages.rs`): what, if changed, means the status's rows describe another
//! storage. Made of where the data is and who it belongs to (server, port and user, or a
//! directory), never of how it is reached (TLS, timeouts) or of a secret.

use anyhow::{Context, Result};
use pimlink_core::runner::PairRun;
use pimlink_core::side::PerSide;

use crate::config::{Config, ImapEndpoint, StorageConfig, StorageKind};

/// `storage` in words; two storages with the same words hold the same data.
pub fn of(storage: &StorageConfig) -> String {
    match &storage.kind {
        StorageKind::Imap(imap) => {
            let user = imap
                .credentials
                .as_ref()
                .map(|c| c.user.as_str())
                .unwrap_or_default();
            // The user acting (a replication's authorization identity) owns the mailboxes.
            let acting = imap
                .authzid
                .as_deref()
                .map(|authzid| format!(" as {authzid}"))
                .unwrap_or_default();
            match &imap.endpoint {
                ImapEndpoint::Tcp { host, port, .. } => {
                    format!("imap {user}@{host}:{port}{acting}")
                }
                ImapEndpoint::Tunnel { command } => {
                    format!("imap tunnel `{command}` {user}{acting}")
                }
            }
        }
        StorageKind::Maildir(maildir) => format!("maildir {}", maildir.path.display()),
        StorageKind::CalDav(dav) | StorageKind::CardDav(dav) => {
            let user = dav.credentials.as_ref().map(|c| c.user.as_str());
            format!(
                "{} {} {}",
                storage.kind.type_name(),
                dav.url,
                user.unwrap_or_default()
            )
        }
        StorageKind::Webcal(webcal) => format!("webcal {}", webcal.url),
        StorageKind::Vdir(vdir) => format!("vdir {}", vdir.path.display()),
    }
}

/// A side pointed at another storage than the one the status describes (a new server, an empty
/// directory) makes the status forget the pair, so that the run matches by content as a first
/// run does, rather than take the old storage's rows for the new one's (its items would look
/// deleted there, or its folders unchanged). Said on stderr, naming both storages.
pub fn forget_other_storages(
    config: &Config,
    pair: &str,
    [a, b]: [&String; 2],
    run: &mut PairRun,
    dry_run: bool,
) -> Result<()> {
    let names = PerSide { a, b };
    let (Some(a), Some(b)) = (config.storages.get(a), config.storages.get(b)) else {
        return Ok(());
    };
    let now = PerSide { a: of(a), b: of(b) };
    let changes = run
        .note_storages(&now, dry_run)
        .with_context(|| format!("recording the storages of pair {pair}"))?;
    for change in changes {
        let storage = names.get(change.side);
        eprintln!(
            "pimlink: {}: warning: storage {storage} (side {}) is now another storage \
             ({}, was {}); the pair's status is forgotten and this run matches items by \
             content, as a first run does",
            pair, change.side, change.now, change.was
        );
    }
    Ok(())
}
