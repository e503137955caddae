//! `pimlink daemon`: syncs the pairs once, then whenever a watcher or a poll reports a change,
//! until SIGTERM or SIGINT stops it at a safe point.
//!
//! One async loop owns the state: it takes [`Change`]s from the watchers and pollers
//! (`watchers.rs`), turns them into work per pair (`route.rs`), asks the pure scheduler
//! (`schedule.rs`) what to start and when, and starts each sync on a thread of its own through
//! `commands::sync::sync_pair`, the one pair runner the `sync` command uses (it has its own
//! runtime; a pair runs once at a time, different pairs in parallel, at most [`PARALLEL`]).
//! Signals: SIGTERM/SIGINT stop (the running syncs end at their next safe point, through
//! `Observer::stop_requested`), SIGHUP re-reads the configuration, SIGUSR1 syncs everything
//! now. `notify.rs` tells a service manager (`--ready-fd`, `NOTIFY_SOCKET`);
//! `credentials.rs` runs the password commands once.
//!
//! Not here: watching storages (`crate::watch`), syncing (`pimlink_core::runner`).

mod credentials;
mod notify;
mod ready_fd;
mod route;
pub mod schedule;
mod watchers;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use pimlink_core::runner::Request;
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::cli::{DaemonArgs, exit};
use crate::commands::sync;
use crate::config::{self, Config};
use crate::failure::exit_code;
use crate::output::Output;
use crate::watch::Change;
use notify::Notifier;
use schedule::{Ended, Job, Scheduler, Scope, Settings, Tick};
use watchers::Watchers;

/// How many pairs sync at once: a sync mostly waits for servers and disks, and each pair has
/// its own connections (`connections` per IMAP storage).
const PARALLEL: usize = 4;

/// The first wait before retrying a failing pair; it doubles up to `max_backoff`.
const FIRST_BACKOFF: Duration = Duration::from_secs(5);

/// Set by SIGTERM/SIGINT; every running sync's observer reads it (`Output::stop_requested`).
static STOP: AtomicBool = AtomicBool::new(false);

pub use ready_fd::ReadyFd;

/// Runs the daemon on `config` until it is stopped; returns the exit status. `ready` is
/// `--ready-fd`, taken at the start of `main`.
pub fn run(config: Config, args: &DaemonArgs, ready: Option<ReadyFd>, output: &Output) -> u8 {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build();
    let result = runtime
        .context("starting the daemon's runtime")
        .and_then(|runtime| {
            runtime.block_on(main_loop(config, args, ready, output.with_stop(&STOP)))
        });
    match result {
        Ok(code) => code,
        Err(error) => {
            output.error(&error);
            exit_code(&error)
        }
    }
}

/// A sync that ended: its job and exit status.
type Done = (Job, u8);

struct Daemon {
    /// The configuration as read, with the password commands not yet run (for a reload and
    /// for running them again).
    raw: Config,
    /// The configuration the syncs use: `raw` with every password resolved.
    config: Arc<Config>,
    /// The pairs named on the command line (none: all).
    named: Vec<String>,
    /// The pairs served.
    pairs: Vec<String>,
    scheduler: Scheduler,
    rng: fastrand::Rng,
    started: Instant,
    output: Output,
    notifier: Notifier,
    changes: (mpsc::Sender<Change>, mpsc::Receiver<Change>),
    done: (mpsc::UnboundedSender<Done>, mpsc::UnboundedReceiver<Done>),
    watchers: Watchers,
    /// When the last sync ended, for the status line.
    last_sync: Option<SystemTime>,
}

async fn main_loop(
    raw: Config,
    args: &DaemonArgs,
    ready: Option<ReadyFd>,
    output: Output,
) -> Result<u8> {
    // Signals first: one arriving during the first sync must not kill the process.
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    let mut usr1 = signal(SignalKind::user_defined1())?;

    if let (Some(fd), None) = (args.ready_fd, &ready) {
        tracing::warn!("--ready-fd {fd} is not an open file descriptor; not writing READY=1");
    }
    let mut notifier = Notifier::new(ready);
    let pairs = selected(&raw, &args.pairs)?;
    let mut config = raw.clone();
    tokio::task::block_in_place(|| {
        credentials::resolve(&mut config, pairs.iter().map(String::as_str))
    })?;
    let config = Arc::new(config);
    let settings = settings(&config);
    let mut daemon = Daemon {
        scheduler: Scheduler::new(settings, pairs.clone(), Duration::ZERO),
        raw,
        named: args.pairs.clone(),
        pairs,
        rng: fastrand::Rng::new(),
        started: Instant::now(),
        output,
        notifier: Notifier::new(None),
        changes: mpsc::channel(1024),
        done: mpsc::unbounded_channel(),
        watchers: Watchers::default(),
        last_sync: None,
        config,
    };
    // Watching starts before the first syncs list anything, so that no change falls between
    // a first listing and its watch.
    daemon.watchers = Watchers::start(&daemon.config, &daemon.storages(), &daemon.changes.0);
    daemon.start_ready();
    // Ready: the configuration is read, the passwords are known, the first syncs started.
    notifier.ready(&daemon.status_line());
    daemon.notifier = notifier;
    let mut watchdog = daemon
        .notifier
        .watchdog_interval()
        .map(tokio::time::interval);

    loop {
        let wake = daemon
            .scheduler
            .next_wake()
            .map(|tick| daemon.started + tick);
        tokio::select! {
            Some(change) = daemon.changes.1.recv() => daemon.changed(&change),
            Some((job, code)) = daemon.done.1.recv() => daemon.finished(job, code),
            () = sleep_until(wake) => {}
            _ = term.recv() => return Ok(daemon.stop(&mut term, &mut int).await),
            _ = int.recv() => return Ok(daemon.stop(&mut term, &mut int).await),
            _ = hup.recv() => daemon.reload(),
            _ = usr1.recv() => {
                daemon.output.info("pimlink: SIGUSR1: syncing every pair now");
                let now = daemon.now();
                daemon.scheduler.sync_all(now);
            }
            () = tick(&mut watchdog) => daemon.notifier.watchdog(),
        }
        daemon.start_ready();
        daemon.notifier.status(&daemon.status_line());
    }
}

/// Sleeps until `at`, or forever.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The next tick of `interval`, or never.
async fn tick(interval: &mut Option<tokio::time::Interval>) {
    match interval {
        Some(interval) => {
            interval.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// The pairs to serve: those named, or all.
fn selected(config: &Config, named: &[String]) -> Result<Vec<String>> {
    Ok(crate::commands::select_pairs(config, named)?
        .into_iter()
        .map(|pair| pair.name.clone())
        .collect())
}

fn settings(config: &Config) -> Settings {
    Settings {
        debounce: config.daemon.debounce,
        max_backoff: config.daemon.max_backoff,
        first_backoff: FIRST_BACKOFF.min(config.daemon.max_backoff),
        full_sync_interval: config.daemon.full_sync_interval,
        parallel: PARALLEL,
    }
}

impl Daemon {
    fn now(&self) -> Tick {
        self.started.elapsed()
    }

    /// The storages of the pairs served.
    fn storages(&self) -> Vec<String> {
        let mut storages: Vec<String> = self
            .pairs
            .iter()
            .filter_map(|name| self.config.pairs.get(name))
            .flat_map(|pair| [pair.a.clone(), pair.b.clone()])
            .collect();
        storages.sort();
        storages.dedup();
        storages
    }

    fn changed(&mut self, change: &Change) {
        let now = self.now();
        tracing::debug!("change: {change:?}");
        for (pair, scope) in route::route(&self.config, &self.pairs, change) {
            self.scheduler.changed(pair, scope, now);
        }
    }

    /// Starts every sync the scheduler says is due.
    fn start_ready(&mut self) {
        let now = self.now();
        for job in self.scheduler.take_ready(now) {
            self.spawn_sync(job);
        }
    }

    fn spawn_sync(&mut self, job: Job) {
        let what = match &job.scope {
            Scope::Whole => job.pair.clone(),
            Scope::Collections(names) => {
                let names: Vec<&str> = names.iter().map(String::as_str).collect();
                format!("{} ({})", job.pair, names.join(", "))
            }
        };
        if self.output.verbose() > 0 {
            self.output.info(format!("pimlink: syncing {what}"));
        }
        let (config, output, done) = (Arc::clone(&self.config), self.output, self.done.0.clone());
        let failed = done.clone();
        let sync_job = job.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("sync {}", job.pair))
            .spawn(move || {
                let code = sync_one(&config, &sync_job, &output);
                // The receiver is gone only when the daemon exits.
                let _ = done.send((sync_job, code));
            });
        if let Err(error) = spawned {
            let error = anyhow::Error::from(error).context(format!("starting a sync of {what}"));
            self.output.error(&error);
            let _ = failed.send((job, exit::UNAVAILABLE));
        }
    }

    fn finished(&mut self, job: Job, code: u8) {
        self.last_sync = Some(SystemTime::now());
        let now = self.now();
        // A storage that could not be reached or a busy pair: wait and retry; anything that
        // ran (even with some items failing, or a refusal) waits for the next change.
        let ended = match code {
            exit::OK | exit::PARTIAL | exit::REFUSED => Ended::Done,
            _ => Ended::Failed,
        };
        if ended == Ended::Failed {
            self.refresh_credentials(&job.pair);
        }
        self.scheduler.finished(job, ended, now, &mut self.rng);
    }

    /// Runs the password commands of `pair`'s storages again (a token may have expired).
    fn refresh_credentials(&mut self, pair: &str) {
        let Some(of_pair) = self.raw.pairs.get(pair) else {
            return;
        };
        let mut fresh = (*self.config).clone();
        for storage in [&of_pair.a, &of_pair.b] {
            if let Some(raw) = self.raw.storages.get(storage) {
                fresh.storages.insert(storage.clone(), raw.clone());
            }
        }
        match tokio::task::block_in_place(|| credentials::resolve(&mut fresh, [pair])) {
            Ok(()) => self.config = Arc::new(fresh),
            Err(error) => self.output.error(&error.context(format!("pair {pair}"))),
        }
    }

    /// SIGHUP: reads the configuration again; a file that fails keeps the one in use.
    fn reload(&mut self) {
        self.notifier.reloading();
        match self.try_reload() {
            Ok(()) => eprintln!(
                "pimlink: reloaded {}: serving {}",
                self.raw.path.display(),
                self.pairs.join(", ")
            ),
            Err(error) => {
                let error = error.context(format!(
                    "reloading {} (the configuration in use stays)",
                    self.raw.path.display()
                ));
                self.output.error(&error);
            }
        }
        self.notifier.ready(&self.status_line());
    }

    fn try_reload(&mut self) -> Result<()> {
        let raw = config::load(&self.raw.path)?;
        let pairs = selected(&raw, &self.named)?;
        let mut resolved = raw.clone();
        tokio::task::block_in_place(|| {
            credentials::resolve(&mut resolved, pairs.iter().map(String::as_str))
        })?;
        let now = self.now();
        self.scheduler.set_settings(settings(&resolved), now);
        self.scheduler.set_pairs(pairs.clone(), now);
        // Any pair may have changed (its storages, patterns, policy): each syncs whole.
        for pair in &pairs {
            self.scheduler.restart(pair, now);
        }
        self.raw = raw;
        self.config = Arc::new(resolved);
        self.pairs = pairs;
        // The old watchers stop when dropped; the new ones watch the new storages.
        self.watchers = Watchers::start(&self.config, &self.storages(), &self.changes.0);
        Ok(())
    }

    /// SIGTERM/SIGINT: the running syncs end at their next safe point; nothing new starts.
    /// A second signal exits at once (as safe as kill -9: every write is recorded first).
    async fn stop(&mut self, term: &mut Signal, int: &mut Signal) -> u8 {
        STOP.store(true, Ordering::SeqCst);
        self.notifier.stopping();
        self.watchers = Watchers::default();
        let running = self.scheduler.running();
        if running > 0 {
            eprintln!("pimlink: stopping: {running} running sync(s) end at their next safe point");
        }
        while self.scheduler.running() > 0 {
            tokio::select! {
                Some((job, code)) = self.done.1.recv() => {
                    let now = self.now();
                    let ended = if code == exit::OK { Ended::Done } else { Ended::Failed };
                    self.scheduler.finished(job, ended, now, &mut self.rng);
                }
                _ = term.recv() => return self.stop_now(),
                _ = int.recv() => return self.stop_now(),
            }
        }
        eprintln!("pimlink: daemon stopped");
        exit::OK
    }

    fn stop_now(&self) -> u8 {
        eprintln!("pimlink: stopping now, without waiting for the running syncs");
        exit::PARTIAL
    }

    /// What `systemctl status` shows.
    fn status_line(&self) -> String {
        let running: Vec<&str> = self
            .pairs
            .iter()
            .filter(|pair| self.scheduler.busy(pair))
            .map(String::as_str)
            .collect();
        if self.scheduler.running() > 0 {
            return format!("syncing {}", running.join(", "));
        }
        match self.last_sync {
            Some(at) => format!("idle; last sync {}", clock(at)),
            None => "idle".to_owned(),
        }
    }
}

/// Syncs one job's pair (as `pimlink sync PAIR/COLLECTION...`); returns its exit status.
fn sync_one(config: &Config, job: &Job, output: &Output) -> u8 {
    let Some(pair) = config.pairs.get(&job.pair) else {
        return exit::OK;
    };
    let only: Option<Vec<String>> = match &job.scope {
        Scope::Whole => None,
        Scope::Collections(names) => Some(names.iter().cloned().collect()),
    };
    let result = sync::sync_pair(
        config,
        pair,
        only.as_deref(),
        Request::default(),
        None,
        output,
    );
    let code = sync::pair_code(config, result, pair, output);
    if output.stop_requested() {
        eprintln!("pimlink: {}: stopped at a safe point", pair.name);
    }
    code
}

/// `HH:MM:SS UTC` of `at`.
fn clock(at: SystemTime) -> String {
    let seconds = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        % 86_400;
    format!(
        "{:02}:{:02}:{:02} UTC",
        seconds / 3_600,
        seconds / 60 % 60,
        seconds % 60
    )
}
