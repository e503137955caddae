//! Watching an IMAP account for changes, for a daemon that syncs when something changed.
//!
//! [`watch`] runs until the receiver of its events is dropped. With NOTIFY (RFC 5465, when
//! the server offers it and [`WatchOptions::notify`] allows it) one connection reports every
//! change in the personal namespaces: messages added, expunged or re-flagged in any folder,
//! folders created, renamed, deleted, (un)subscribed. Without it, each of
//! [`WatchOptions::idle_folders`] gets a connection in IDLE (as many as
//! [`WatchOptions::connections`] allows; the rest are polled), and the first connection also
//! polls the other folders every [`WatchOptions::poll_interval`] (LIST-STATUS, or STATUS per
//! folder), reporting only folders whose counters moved.
//!
//! Keeping connections alive: IDLE is re-issued before [`timing::IDLE_LIMIT`] and at every
//! `keepalive` (its DONE and the server's answer prove the connection lives); a NOTIFY
//! connection quiet for `keepalive` sends a NOOP. An answer that does not come within the
//! client's read timeout, a failed send, an EOF or a BYE ends the session: it is reopened at
//! once, then with capped exponential backoff and jitter ([`timing::Backoff`]). Every session
//! starts with [`Event::Everything`], since changes may have been missed while no connection
//! watched (the first one too: the daemon may have listed before it connected). A jump of the
//! wall clock against the monotonic one (a suspend and resume) ends the session at once.
//!
//! - `timing.rs`: the pure timing decisions (backoff, clock jumps, IDLE length);
//! - `stamps.rs`: folder counters as change stamps, and what a poll found;
//! - `session.rs`: one connected session, NOTIFY or IDLE and polls.
//!
//! Not here: which pairs and collections a change concerns, and suppressing the echoes of a
//! sync's own writes (the daemon; [`Stamp::matches_listing_state`] is its tool).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use pimlink_core::{Error, ErrorKind};
use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::options::ClientOptions;

mod session;
mod stamps;
pub mod timing;

pub use stamps::{PollDiff, Stamp, Stamps};
use timing::{Backoff, CLOCK_TICK, CLOCK_TOLERANCE, ClockWatch};

/// What the watcher reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A folder changed, by the engine's name for it (decoded from modified UTF-7, levels
    /// separated by `/` whatever the server's delimiter). `stamp`: its counters when the change was reported
    /// (NOTIFY and polls have them; an IDLE wake-up does not).
    Folder {
        /// The folder's engine name (`Archive/2024`).
        name: String,
        /// Its counters, if the report carried them.
        stamp: Option<Stamp>,
    },
    /// Folders were created, deleted, renamed or (un)subscribed: list them again.
    Folders,
    /// Anything may have changed (a new session, notifications dropped by the server).
    Everything,
}

/// How to watch an account.
#[derive(Clone, Debug)]
pub struct WatchOptions {
    /// The account (its password already resolved).
    pub client: ClientOptions,
    /// Use NOTIFY when the server offers it.
    pub notify: bool,
    /// Folders watched with IDLE without NOTIFY (engine names: `/` between levels).
    pub idle_folders: Vec<String>,
    /// The most connections open at once (at least 1).
    pub connections: usize,
    /// How often folders not in IDLE are polled without NOTIFY.
    pub poll_interval: Duration,
    /// Silence after which a connection is checked.
    pub keepalive: Duration,
    /// The first wait before reconnecting after a failed attempt.
    pub min_backoff: Duration,
    /// The longest wait between reconnection attempts.
    pub max_backoff: Duration,
    /// A new password when the server refuses the one in `client` (an OAuth2 token that
    /// expired while the watcher ran, issue 18): asked once per refusal, then the login is
    /// tried again at once.
    pub relogin: Option<Relogin>,
}

/// Where [`WatchOptions::relogin`] gets a new password.
#[derive(Clone)]
pub struct Relogin(pub crate::store::PasswordRefresh);

impl std::fmt::Debug for Relogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Relogin")
    }
}

impl WatchOptions {
    /// The defaults for `client`: NOTIFY if offered, else IDLE on INBOX; polls and checks
    /// every 5 minutes; reconnection waits from 1 second up to 20 minutes.
    pub fn new(client: ClientOptions) -> Self {
        Self {
            client,
            notify: true,
            idle_folders: vec!["INBOX".to_owned()],
            connections: 4,
            poll_interval: Duration::from_secs(300),
            keepalive: Duration::from_secs(300),
            min_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(20 * 60),
            relogin: None,
        }
    }
}

/// Why a session ended.
#[derive(Debug)]
enum Ended {
    /// The receiver was dropped: stop.
    Closed,
    /// A connection failed.
    Failed(Error),
}

/// Watches the account until `tx`'s receiver is dropped, reconnecting as needed. Fails only
/// if the server refuses the login before any session worked (a wrong password will not
/// right itself; the caller reports it), or offers neither NOTIFY nor IDLE for a folder to
/// watch (`Unsupported`: poll it instead).
pub async fn watch(options: WatchOptions, tx: mpsc::Sender<Event>) -> Result<(), Error> {
    let mut options = Arc::new(options);
    let mut backoff = Backoff::new(options.min_backoff, options.max_backoff);
    let mut ever_worked = false;
    // A new password was fetched after the last refusal and has not worked yet: a second
    // refusal in a row is not met with a third password.
    let mut relogged = false;
    loop {
        // Set by the session once a connection answered after being set up: a server that
        // accepts and drops at once must not make the watcher reconnect in a tight loop.
        let proven = Arc::new(AtomicBool::new(false));
        let ended = tokio::select! {
            () = tx.closed() => Ended::Closed,
            () = clock_jump() => {
                info!("{}: the clock jumped (suspend and resume?): reconnecting", options.client.host);
                backoff.succeeded();
                continue;
            }
            ended = session::run(Arc::clone(&options), tx.clone(), Arc::clone(&proven)) => ended,
        };
        let error = match ended {
            Ended::Closed => return Ok(()),
            Ended::Failed(error) => error,
        };
        if proven.load(Ordering::SeqCst) {
            ever_worked = true;
            relogged = false;
            backoff.succeeded();
        }
        if let (ErrorKind::Auth, Some(relogin), false) = (error.kind(), &options.relogin, relogged)
        {
            info!(
                "{}: login refused; trying again with a new password",
                options.client.host
            );
            let mut renewed = (*options).clone();
            renewed.client.password = (relogin.0)()?;
            options = Arc::new(renewed);
            relogged = true;
            continue;
        }
        // Neither will right itself by retrying: a refused login before anything worked, and a
        // server that offers neither NOTIFY nor IDLE (the caller polls it instead).
        if (error.kind() == ErrorKind::Auth && !ever_worked)
            || error.kind() == ErrorKind::Unsupported
        {
            return Err(error);
        }
        let wait = backoff.failed(crate::client::random_nonce());
        warn!(
            "{}: watching failed ({error}); reconnecting in {:.1} s",
            options.client.host,
            wait.as_secs_f64()
        );
        tokio::select! {
            () = tx.closed() => return Ok(()),
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// Returns when the wall clock jumps against the monotonic one.
async fn clock_jump() {
    let mut clocks = ClockWatch::new(SystemTime::now(), Instant::now());
    loop {
        tokio::time::sleep(CLOCK_TICK).await;
        if clocks.jumped(SystemTime::now(), Instant::now(), CLOCK_TOLERANCE) {
            return;
        }
    }
}
