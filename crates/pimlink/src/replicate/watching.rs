//! Rolling replication without a change log: the daemon's watchers (`crate::watch`: NOTIFY
//! or IDLE plus LIST-STATUS polls on IMAP, inotify on Maildir) on the master, one per user,
//! each logged in as its user the way the replication says (`master_login`). Their
//! [`Change`]s become the users and mailboxes of the next cycle.
//!
//! A watcher that cannot watch (the server lacks IDLE) or gives up is replaced by a poll of
//! its user every `poll_interval`, as in the daemon; a watcher that reconnects reports
//! `Change::Everything`, which replicates its user whole.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::changelog::Work;
use super::users::User;
use crate::config::{Config, StorageKind};
use crate::watch::Change;

/// A change seen on the master, and whose.
#[derive(Debug)]
pub struct UserChange {
    user: User,
    change: Change,
}

/// Builds the configuration in which the master storage logs in as one user.
pub type ForUser = Arc<dyn Fn(&User) -> Config + Send + Sync>;

/// The watchers of the master, one per user; dropped, they stop.
pub struct Watching {
    users: Vec<User>,
    master: String,
    for_user: ForUser,
    tasks: Vec<JoinHandle<()>>,
}

impl Watching {
    /// Watchers for `users` on storage `master`; `for_user` gives the configuration in which
    /// `master` is logged in as one user. Nothing runs before [`Watching::start`].
    pub fn new(master: &str, users: Vec<User>, for_user: ForUser) -> Self {
        Self {
            users,
            master: master.to_owned(),
            for_user,
            tasks: Vec::new(),
        }
    }

    /// Starts (or restarts, with new connections) a watcher per user, sending to `tx`.
    pub fn start(&mut self, tx: &mpsc::Sender<UserChange>) {
        self.stop();
        for user in &self.users {
            let config = Arc::new((self.for_user)(user));
            let task = watch_user(config, self.master.clone(), user.clone(), tx.clone());
            self.tasks.push(tokio::spawn(task));
        }
    }

    /// Every user, whole: the first cycle's work.
    pub fn everyone(&self) -> Work {
        let mut work = Work::default();
        for user in &self.users {
            work.user(user.as_str());
        }
        work
    }

    /// Adds what `change` says changed to `work`.
    pub fn add(&self, work: &mut Work, change: UserChange) {
        match change.change {
            Change::Collection { collection, .. } => {
                work.mailbox(change.user.as_str(), &collection);
            }
            // A folder created, deleted or renamed, or anything: the user's folder list
            // and every mailbox are compared.
            Change::Collections { .. } | Change::Everything { .. } => {
                work.user(change.user.as_str());
            }
        }
    }

    fn stop(&mut self) {
        for task in self.tasks.drain(..) {
            task.abort();
        }
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Watches `master` as `user` (in `config`), forwarding its changes tagged with the user;
/// falls back to polling when it cannot watch.
async fn watch_user(config: Arc<Config>, master: String, user: User, tx: mpsc::Sender<UserChange>) {
    let interval = config
        .storages
        .get(&master)
        .map_or(crate::config::DEFAULT_POLL_INTERVAL, |s| s.poll_interval);
    let (changes_tx, mut changes) = mpsc::channel(64);
    let kind = config.storages.get(&master).map(|s| &s.kind);
    let watcher = match kind {
        Some(StorageKind::Imap(_)) => Some(tokio::spawn(crate::watch::imap::watch(
            Arc::clone(&config),
            master.clone(),
            changes_tx,
        ))),
        Some(StorageKind::Maildir(_)) => Some(tokio::spawn(crate::watch::local::watch(
            Arc::clone(&config),
            master.clone(),
            changes_tx,
        ))),
        _ => None,
    };
    if let Some(watcher) = watcher {
        let _stop = AbortOnDrop(watcher.abort_handle());
        while let Some(change) = changes.recv().await {
            let tagged = UserChange {
                user: user.clone(),
                change,
            };
            if tx.send(tagged).await.is_err() {
                return;
            }
        }
        match watcher.await {
            Ok(Ok(())) => return,
            Ok(Err(error)) => tracing::warn!(
                "user {user}: cannot be watched ({error:#}); polling every {interval:?}"
            ),
            Err(error) => tracing::warn!("user {user}: watcher: {error}"),
        }
    }
    poll(user, interval, tx).await;
}

/// Asks for a whole-user cycle every `interval`.
async fn poll(user: User, interval: Duration, tx: mpsc::Sender<UserChange>) {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let change = UserChange {
            user: user.clone(),
            change: Change::Everything {
                storage: String::new(),
            },
        };
        if tx.send(change).await.is_err() {
            return;
        }
    }
}

struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
