//! Which storages are watched and which are polled. Each watcher (`crate::watch`) is plugged
//! in by one arm of [`spawn_watcher`]; a storage without one, or whose watcher gave up, is
//! polled: every `poll_interval` its pairs are synced (the sync itself asks the server what
//! changed since last time: sync-collection, ctag, an IMAP listing's state).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::config::{Config, StorageKind};
use crate::watch::Change;

/// The tasks watching or polling the daemon's storages; dropped, they stop.
#[derive(Default)]
pub struct Watchers {
    tasks: Vec<JoinHandle<()>>,
}

impl Watchers {
    /// Watches (or polls) every storage in `storages`.
    pub fn start(config: &Arc<Config>, storages: &[String], tx: &mpsc::Sender<Change>) -> Self {
        let tasks = storages
            .iter()
            .map(|storage| {
                let (config, storage, tx) = (Arc::clone(config), storage.clone(), tx.clone());
                tokio::spawn(async move {
                    let interval = config
                        .storages
                        .get(&storage)
                        .map_or(crate::config::DEFAULT_POLL_INTERVAL, |s| s.poll_interval);
                    if let Some(watcher) = spawn_watcher(&config, &storage, &tx) {
                        match watcher.await {
                            Ok(Ok(())) => return,
                            Ok(Err(error)) => tracing::warn!(
                                "storage {storage}: cannot be watched ({error:#}); polling it \
                                 every {interval:?}"
                            ),
                            Err(error) => tracing::warn!("storage {storage}: watcher: {error}"),
                        }
                    }
                    poll(storage, interval, tx).await;
                })
            })
            .collect();
        Self { tasks }
    }
}

impl Drop for Watchers {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

type Watcher = JoinHandle<anyhow::Result<()>>;

/// The watcher for `storage`, if its type has one (see the contract in `crate::watch`).
fn spawn_watcher(
    config: &Arc<Config>,
    storage: &str,
    tx: &mpsc::Sender<Change>,
) -> Option<Watcher> {
    let (config, name, tx) = (Arc::clone(config), storage.to_owned(), tx.clone());
    match &config.storages.get(storage)?.kind {
        StorageKind::Imap(_) => Some(tokio::spawn(crate::watch::imap::watch(config, name, tx))),
        StorageKind::Maildir(_) | StorageKind::Vdir(_) => {
            Some(tokio::spawn(crate::watch::local::watch(config, name, tx)))
        }
        // Servers that cannot tell: their pairs are synced every poll_interval, which asks
        // them what changed (sync-collection, ctag, a conditional GET of a feed).
        StorageKind::CalDav(_) | StorageKind::CardDav(_) | StorageKind::Webcal(_) => None,
    }
}

/// Asks for a sync of `storage` every `interval`, from one interval after the start (the
/// daemon's first sync covers the start).
async fn poll(storage: String, interval: Duration, tx: mpsc::Sender<Change>) {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    // After a suspend, one poll, not one per interval missed.
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let change = Change::Everything {
            storage: storage.clone(),
        };
        if tx.send(change).await.is_err() {
            return;
        }
    }
}
