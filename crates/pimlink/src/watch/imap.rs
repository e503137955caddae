//! The daemon's watcher for an IMAP storage: the configuration turned into
//! [`pimlink_imap::watch::WatchOptions`], and the account's events turned into [`Change`]s.
//!
//! Echoes: the daemon's own syncs write to the server (APPEND, STORE, EXPUNGE) on other
//! connections, and the watcher reports those changes like anyone else's; it cannot tell them
//! apart, and must not try (an outside change in the same folder at the same moment would be
//! lost). What keeps this from looping: the sync an echo causes finds every echoed message
//! already paired and writes nothing, so nothing more is reported. See docs/ARCHITECTURE.md,
//! "Watching IMAP servers".

use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use pimlink_imap::watch::{Event, Relogin, WatchOptions};
use tokio::sync::mpsc;

use super::Change;
use crate::config::{Config, PasswordSource, StorageKind};
use crate::storages::mail::imap_options;

/// Watches IMAP storage `storage` of `config` until `tx` is closed. Fails when the storage is
/// not an IMAP one, its password cannot be had, the server refuses the login, or it offers
/// neither NOTIFY nor IDLE: the daemon then polls it.
pub async fn watch(config: Arc<Config>, storage: String, tx: mpsc::Sender<Change>) -> Result<()> {
    let options = options(&config, &storage)?;
    let (events_tx, mut events) = mpsc::channel(64);
    let watcher = tokio::spawn(pimlink_imap::watch::watch(options, events_tx));
    // The watcher stops once `events` is dropped: when this future is dropped (the daemon
    // aborts it) or `tx` closes.
    let _stop = AbortOnDrop(watcher.abort_handle());
    loop {
        let event = tokio::select! {
            () = tx.closed() => return Ok(()),
            event = events.recv() => event,
        };
        let Some(event) = event else { break };
        if tx.send(change(&storage, event)).await.is_err() {
            return Ok(());
        }
    }
    match watcher.await {
        Ok(result) => result.with_context(|| format!("cannot watch storage {storage:?}")),
        Err(join) => Err(anyhow!("the watcher of storage {storage:?} ended: {join}")),
    }
}

/// The watcher's settings for `storage`, its password resolved (a `password_cmd` runs here).
fn options(config: &Config, storage: &str) -> Result<WatchOptions> {
    let Some(found) = config.storages.get(storage) else {
        bail!("no storage {storage:?} in the configuration");
    };
    let StorageKind::Imap(imap) = &found.kind else {
        bail!("storage {storage:?} is not an IMAP storage");
    };
    let mut client = imap_options(imap);
    if let Some(credentials) = &imap.credentials {
        let secret = credentials
            .password
            .resolve()
            .with_context(|| format!("the password of storage {storage:?}"))?;
        client.password = pimlink_imap::Secret::new(secret.expose());
    }
    let mut options = WatchOptions::new(client);
    // OAuth2 (issue 18): the token expires while the watcher runs; a refused reconnect gets a
    // new one.
    if let Some(PasswordSource::OAuth2(source)) = imap.credentials.as_ref().map(|c| &c.password) {
        let source = source.clone();
        options.relogin = Some(Relogin(Arc::new(move || {
            pimlink::oauth2::access_token(&source, true)
                .map_err(|e| pimlink_core::Error::new(pimlink_core::ErrorKind::Auth, e.to_string()))
        })));
    }
    options.notify = imap.watch.notify;
    options.idle_folders = imap.watch.idle_folders.clone();
    options.keepalive = imap.watch.keepalive;
    options.connections = imap.connections.get();
    options.poll_interval = found.poll_interval;
    options.max_backoff = config.daemon.max_backoff;
    Ok(options)
}

fn change(storage: &str, event: Event) -> Change {
    let storage = storage.to_owned();
    match event {
        Event::Folder { name, .. } => Change::Collection {
            storage,
            collection: name,
        },
        Event::Folders => Change::Collections { storage },
        Event::Everything => Change::Everything { storage },
    }
}

struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use pimlink_testkit::DovecotBuilder;

    use super::*;

    fn config_for(dovecot: &pimlink_testkit::Dovecot, extra: &str) -> Arc<Config> {
        config_with(dovecot, dovecot.password(), extra)
    }

    fn config_with(dovecot: &pimlink_testkit::Dovecot, password: &str, extra: &str) -> Arc<Config> {
        let text = format!(
            "[storage.mail]\ntype = \"imap\"\nhost = \"{}\"\nport = {}\ntls = \"none\"\n\
             user = \"{}\"\npassword = \"{password}\"\n{extra}\n",
            dovecot.host(),
            dovecot.port(),
            dovecot.user(),
        );
        Arc::new(crate::config::parse(&text, "c.toml".as_ref()).unwrap())
    }

    async fn next(rx: &mut mpsc::Receiver<Change>, want: &Change) {
        let mut seen = Vec::new();
        let found = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(change) = rx.recv().await {
                if &change == want {
                    return true;
                }
                seen.push(change);
            }
            false
        })
        .await;
        assert_eq!(found, Ok(true), "waiting for {want:?}, saw {seen:?}");
    }

    /// The configured storage is watched under its own name, whichever way the keys say.
    #[tokio::test]
    async fn a_configured_imap_storage_reports_changes_by_its_name() {
        let dovecot = DovecotBuilder::new().layout(false).start().unwrap();
        for extra in [
            "",
            "notify = false\npoll_interval = \"1s\"\nkeepalive = \"2s\"",
        ] {
            let (tx, mut rx) = mpsc::channel(64);
            let task = tokio::spawn(watch(config_for(&dovecot, extra), "mail".into(), tx));
            let storage = "mail".to_owned();
            next(
                &mut rx,
                &Change::Everything {
                    storage: storage.clone(),
                },
            )
            .await;
            let message = b"From: a@example.org\r\nSubject: hi\r\n\r\nbody\r\n";
            dovecot.deliver(dovecot.user(), "INBOX", message).unwrap();
            let inbox = Change::Collection {
                storage: storage.clone(),
                collection: "INBOX".into(),
            };
            next(&mut rx, &inbox).await;
            drop(rx);
            let ended = tokio::time::timeout(Duration::from_secs(60), task).await;
            assert!(matches!(ended, Ok(Ok(Ok(())))), "{extra}: {ended:?}");
        }
    }

    #[tokio::test]
    async fn a_storage_that_is_not_imap_or_cannot_log_in_is_an_error() {
        let dovecot = DovecotBuilder::new().start().unwrap();
        let (tx, _rx) = mpsc::channel(4);
        let err = watch(config_for(&dovecot, ""), "other".into(), tx)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("no storage \"other\""), "{err}");

        let (tx, _rx) = mpsc::channel(4);
        let config = config_with(&dovecot, "wrong", "");
        let err = watch(config, "mail".into(), tx).await.unwrap_err();
        assert!(
            format!("{err:#}").contains("cannot watch storage \"mail\""),
            "{err:#}"
        );
    }
}
