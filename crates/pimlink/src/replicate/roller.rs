//! Rolling replication's loop, as `sync_client -r` runs it: each cycle takes the users and
//! mailboxes that changed, from the change log (`logfile.rs`) or from watchers on the master
//! (`watching.rs`), and hands them to the cycle (`rolling.rs`: replicate, then verify); between
//! cycles it waits as the pacer (`pacer.rs`) says.
//!
//! Stops: SIGTERM/SIGINT end the running cycle at its next safe point (the engine reads
//! `Output::stop_requested`) and exit 0; the shutdown file (`-F`) is looked for before each
//! cycle and while waiting, removed, and ends with `status::STOPPED` once no cycle runs; `-1`
//! ends after one log; `-o` ends with `exit::UNAVAILABLE` the first time a server cannot be
//! reached, instead of backing off.
//!
//! Not here: what a cycle does to a user (the engine), the log's format (`changelog.rs`).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;

use super::changelog::Work;
use super::logfile::{ChangeLog, Taken};
use super::pacer::{Pacer, Pacing};
use super::watching::{UserChange, Watching};
use crate::cli::exit;
use crate::output::Output;

/// How often the shutdown file and the log are looked for while nothing else wakes the loop.
const LOOK_EVERY: Duration = Duration::from_millis(250);

/// Set by SIGTERM/SIGINT; the engine's observer reads it (`Output::stop_requested`).
static STOP: AtomicBool = AtomicBool::new(false);

/// What rolling replication is told by the command line and the configuration.
#[derive(Clone, Debug)]
pub struct Controls {
    /// `-1`: process one log (a leftover run file, then the log), then exit.
    pub once_log: bool,
    /// `-o`: no retry; an unreachable server ends the run.
    pub connect_once: bool,
    /// `-F`: stop cleanly when this file appears, and remove it.
    pub shutdown_file: Option<PathBuf>,
    /// `-d`, `-t`, `max_backoff`.
    pub pacing: Pacing,
}

/// Where the changes come from.
pub enum Source {
    /// A change log (`log` in the configuration, or `-f FILE` with `-r`).
    Log(ChangeLog),
    /// Watchers on the master, one per user; every user is replicated whole first.
    Watch(Watching),
}

/// What one cycle did.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The worst exit status of the users it reached (`cli::exit`).
    pub code: u8,
    /// What it could not do because a server could not be reached: tried again later.
    pub unreached: Work,
}

/// One cycle's work, done on a thread of its own: replicates `work` and verifies it.
pub type Cycle = Arc<dyn Fn(&Work, &Output) -> Outcome + Send + Sync>;

/// Runs rolling replication until it is stopped; returns the exit status.
pub fn roll_until_stopped(
    source: Source,
    controls: &Controls,
    cycle: Cycle,
    output: &Output,
) -> u8 {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build();
    let output = output.with_stop(&STOP);
    let result = runtime
        .context("starting rolling replication's runtime")
        .and_then(|runtime| runtime.block_on(roll(source, controls, cycle, output)));
    match result {
        Ok(code) => code,
        Err(error) => {
            output.error(&error);
            crate::failure::exit_code(&error)
        }
    }
}

/// What the loop does after a cycle.
enum Step {
    /// The next cycle, when the pacer allows.
    Go,
    /// Nothing to do: look again a little later.
    Idle,
    /// The run ends with this status.
    Exit(u8),
}

struct Roller<'a> {
    controls: &'a Controls,
    output: Output,
    pacer: Pacer,
    rng: fastrand::Rng,
    started: Instant,
    cycle: Cycle,
    /// The highest status of the cycles so far (what `-1` ends with).
    worst: u8,
}

async fn roll(mut source: Source, controls: &Controls, cycle: Cycle, output: Output) -> Result<u8> {
    // Signals first: one arriving during the first cycle must not kill the process.
    let stopping = Arc::new(Notify::new());
    watch_signals(Arc::clone(&stopping))?;
    let mut roller = Roller {
        controls,
        output,
        pacer: Pacer::new(controls.pacing),
        rng: fastrand::Rng::new(),
        started: Instant::now(),
        cycle,
        worst: exit::OK,
    };
    let (tx, mut changes) = mpsc::channel::<UserChange>(1024);
    let mut pending = Work::default();
    let mut idle = false;
    if let Source::Watch(watching) = &mut source {
        // Watching starts before the first cycle lists anything, so that no change falls
        // between the first listing and its watch; the first cycle covers every user.
        watching.start(&tx);
        pending = watching.everyone();
    }
    loop {
        if let Step::Exit(code) = roller.between_cycles() {
            return Ok(code);
        }
        // `-t`: between cycles, busy or idle.
        if let Source::Watch(watching) = &mut source
            && roller.pacer.restart_due(roller.now())
        {
            roller.restart(watching, &tx);
        }
        // Wait for the pacer, collecting what changes meanwhile.
        let wake = roller.started + roller.pacer.not_before();
        let now = Instant::now();
        let nothing_to_do = idle || matches!(source, Source::Watch(_)) && pending.is_empty();
        idle = false;
        if now < wake || nothing_to_do {
            let until = if now < wake { wake } else { now + LOOK_EVERY };
            tokio::select! {
                Some(change) = changes.recv() => {
                    if let Source::Watch(watching) = &source {
                        watching.add(&mut pending, change);
                    }
                }
                () = tokio::time::sleep_until(until.min(now + LOOK_EVERY)) => {}
                () = stopping.notified() => {}
            }
            continue;
        }
        let step = match &mut source {
            Source::Log(log) => roller.log_cycle(log).await?,
            Source::Watch(watching) => {
                // Whatever arrived while waiting joins this cycle.
                while let Ok(change) = changes.try_recv() {
                    watching.add(&mut pending, change);
                }
                let work = std::mem::take(&mut pending);
                let (step, retry) = roller.watch_cycle(work).await;
                if let Some(retry) = retry {
                    pending.merge(retry);
                }
                step
            }
        };
        match step {
            Step::Go => {}
            Step::Idle => idle = true,
            Step::Exit(code) => return Ok(code),
        }
    }
}

/// SIGTERM/SIGINT set [`STOP`] (a running cycle ends at its next safe point) and wake the
/// loop; a second one exits at once, as safe as kill -9 (every write is recorded first).
fn watch_signals(stopping: Arc<Notify>) -> Result<()> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        STOP.store(true, Ordering::SeqCst);
        stopping.notify_one();
        eprintln!("pimlink: stopping: the running cycle ends at its next safe point");
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        eprintln!("pimlink: stopping now, without waiting for the running cycle");
        std::process::exit(i32::from(exit::PARTIAL));
    });
    Ok(())
}

impl Roller<'_> {
    fn now(&self) -> Duration {
        self.started.elapsed()
    }

    /// Before each cycle and each wait: a signal or the shutdown file ends the run.
    fn between_cycles(&self) -> Step {
        if STOP.load(Ordering::SeqCst) {
            eprintln!("pimlink: rolling replication stopped");
            return Step::Exit(exit::OK);
        }
        let Some(file) = &self.controls.shutdown_file else {
            return Step::Go;
        };
        match file.try_exists() {
            Ok(true) => {}
            Ok(false) => return Step::Go,
            Err(error) => {
                tracing::warn!("looking for shutdown file {}: {error}", file.display());
                return Step::Go;
            }
        }
        if let Err(error) = std::fs::remove_file(file) {
            tracing::warn!("removing shutdown file {}: {error}", file.display());
        }
        eprintln!(
            "pimlink: shutdown file {} found: rolling replication stopped",
            file.display()
        );
        Step::Exit(super::status::STOPPED)
    }

    /// One log: replicated, then removed; kept (and replayed) when a server was unreachable.
    async fn log_cycle(&mut self, log: &ChangeLog) -> Result<Step> {
        let now = self.now();
        self.pacer.started(now);
        let log_path = log.path().to_owned();
        let log = log.clone();
        let taken = tokio::task::spawn_blocking(move || log.take())
            .await
            .context("reading the change log")??;
        let Some(taken) = taken else {
            return Ok(if self.controls.once_log {
                Step::Exit(self.worst)
            } else {
                Step::Idle
            });
        };
        for skipped in &taken.skipped {
            tracing::warn!("change log {}: {skipped}; skipped", log_path.display());
        }
        if taken.replayed {
            eprintln!("pimlink: replaying the change log left by an earlier run");
        }
        let outcome = self.replicate(&taken.work).await;
        if !outcome.unreached.is_empty() {
            // The run file stays: the next cycle replays it (what was replicated is found
            // identical and costs a comparison only).
            return Ok(self.unreachable());
        }
        if STOP.load(Ordering::SeqCst) {
            // Stopped at a safe point, maybe before the last user: the run file stays for
            // the next start to replay.
            return Ok(Step::Go);
        }
        self.pacer.succeeded();
        self.worst = self.worst.max(outcome.code);
        let replayed = taken.replayed;
        finish(taken).await?;
        if !self.controls.once_log {
            return Ok(Step::Go);
        }
        // `-1`: a replayed run file is followed at once by the log itself, then the run ends.
        if replayed {
            self.pacer = Pacer::new(self.controls.pacing);
            return Ok(Step::Go);
        }
        Ok(Step::Exit(self.worst))
    }

    /// One batch of watched changes; returns the work to retry when a server was unreachable.
    async fn watch_cycle(&mut self, work: Work) -> (Step, Option<Work>) {
        let now = self.now();
        self.pacer.started(now);
        let outcome = self.replicate(&work).await;
        self.worst = self.worst.max(outcome.code);
        if !outcome.unreached.is_empty() {
            return (self.unreachable(), Some(outcome.unreached));
        }
        self.pacer.succeeded();
        (Step::Go, None)
    }

    /// Replicates `work` on a thread of its own (the engine has its own runtime).
    async fn replicate(&self, work: &Work) -> Outcome {
        if work.is_empty() {
            return Outcome::default();
        }
        if self.output.verbose() > 0 {
            let users: Vec<&str> = work.users().map(|(user, _)| user).collect();
            eprintln!("pimlink: replicating {}", users.join(", "));
        }
        let (cycle, work, output) = (Arc::clone(&self.cycle), work.clone(), self.output);
        match tokio::task::spawn_blocking(move || cycle(&work, &output)).await {
            Ok(outcome) => outcome,
            Err(error) => {
                self.output
                    .error(&anyhow::Error::from(error).context("a replication cycle failed"));
                Outcome {
                    code: exit::PARTIAL,
                    unreached: Work::default(),
                }
            }
        }
    }

    /// A server could not be reached: back off, or end with `-o`.
    fn unreachable(&mut self) -> Step {
        if self.controls.connect_once {
            eprintln!("pimlink: a server could not be reached (-o: not retrying)");
            return Step::Exit(exit::UNAVAILABLE);
        }
        let now = self.now();
        let wait = self.pacer.failed(now, &mut self.rng);
        eprintln!(
            "pimlink: a server could not be reached; retrying in {} s (attempt {})",
            wait.as_secs_f32().ceil(),
            self.pacer.failures() + 1
        );
        Step::Go
    }

    /// `-t`: the watchers' connections are made anew; each reports everything once back.
    fn restart(&mut self, watching: &mut Watching, tx: &mpsc::Sender<UserChange>) {
        if self.output.verbose() > 0 {
            eprintln!("pimlink: restarting the master's connections (-t)");
        }
        watching.start(tx);
        let now = self.now();
        self.pacer.restarted(now);
    }
}

async fn finish(taken: Taken) -> Result<()> {
    tokio::task::spawn_blocking(move || taken.done())
        .await
        .context("removing the change log")?
}
