//! Which storage a configured storage is, in words, for the status to remember per side
//! (core's `status/storages.rs`): what, if changed, means the status's rows describe another
//! storage. Made of where the data is and who it belongs to (server, port and user, or a
//! directory), never of how it is reached (TLS, timeouts) or of a secret.

use crate::config::{ImapEndpoint, StorageConfig, StorageKind};

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
