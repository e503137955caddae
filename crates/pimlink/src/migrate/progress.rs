//! Progress of a migration, per account and in total. On a terminal (and without `-q`/`-v`):
//! a line per running account, updated in place, under a line for the whole run. Otherwise
//! plain lines on standard output: an account's start, every 1,000 messages, and its end.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use indicatif::{HumanBytes, MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::report::{AccountReport, Status};

/// Plain lines come this many messages apart.
const PLAIN_EVERY: u64 = 1_000;

/// The whole run's progress.
pub struct Board {
    bars: Option<(MultiProgress, ProgressBar)>,
    quiet: bool,
    messages: AtomicU64,
    bytes: AtomicU64,
    /// Accounts finished, by status, for the total line.
    finished: Mutex<[u64; 4]>,
}

impl Board {
    /// A board for `accounts` accounts; bars only when a person watches a terminal.
    pub fn new(accounts: usize, verbose: u8, quiet: bool) -> Self {
        let watched = std::io::stderr().is_terminal() && !quiet && verbose == 0;
        let bars = watched.then(|| {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
            let total = multi.add(ProgressBar::new(accounts as u64));
            if let Ok(style) =
                ProgressStyle::with_template("total [{bar:30}] {pos}/{len} accounts, {msg}")
            {
                total.set_style(style.progress_chars("=> "));
            }
            (multi, total)
        });
        Self {
            bars,
            quiet,
            messages: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            finished: Mutex::new([0; 4]),
        }
    }

    /// The line of an account that starts now.
    pub fn start(&self, source_user: &str) -> AccountLine<'_> {
        let bar = self.bars.as_ref().map(|(multi, _)| {
            let bar = multi.add(ProgressBar::new_spinner());
            if let Ok(style) = ProgressStyle::with_template("{spinner} {prefix}: {msg}") {
                bar.set_style(style);
            }
            bar.set_prefix(source_user.to_owned());
            bar.set_message("listing folders");
            bar.enable_steady_tick(std::time::Duration::from_millis(200));
            bar
        });
        if bar.is_none() && !self.quiet {
            println!("{source_user}: started");
        }
        AccountLine { board: self, bar }
    }

    fn total_message(&self) -> String {
        let finished = self.finished.lock().map(|f| *f).unwrap_or_default();
        format!(
            "{} messages, {} ({} done, {} failed, {} throttled)",
            self.messages.load(Ordering::Relaxed),
            HumanBytes(self.bytes.load(Ordering::Relaxed)),
            finished[0],
            finished[1],
            finished[2],
        )
    }

    /// Clears the bars at the end of the run.
    pub fn finish(&self) {
        if let Some((multi, total)) = &self.bars {
            total.finish_and_clear();
            let _ = multi.clear();
        }
    }
}

/// One running account's line.
pub struct AccountLine<'b> {
    board: &'b Board,
    bar: Option<ProgressBar>,
}

impl AccountLine<'_> {
    /// A message of `bytes` was copied from `folder`; `report` holds the account's counts.
    pub fn copied(&self, bytes: u64, folder: &str, report: &AccountReport) {
        self.board.messages.fetch_add(1, Ordering::Relaxed);
        self.board.bytes.fetch_add(bytes, Ordering::Relaxed);
        match &self.bar {
            Some(bar) => {
                bar.set_message(format!(
                    "{} messages, {}, {folder}",
                    report.messages,
                    HumanBytes(report.bytes)
                ));
                if let Some((_, total)) = &self.board.bars {
                    total.set_message(self.board.total_message());
                }
            }
            None if !self.board.quiet && report.messages.is_multiple_of(PLAIN_EVERY) => {
                println!(
                    "{}: {} messages, {} (total: {})",
                    report.source_user,
                    report.messages,
                    HumanBytes(report.bytes),
                    self.board.total_message()
                );
            }
            None => {}
        }
    }

    /// The account ended as `report` says.
    pub fn finish(self, report: &AccountReport) {
        if let Ok(mut finished) = self.board.finished.lock() {
            finished[report.status as usize] += 1;
        }
        let line = format!(
            "{}: {}, {} folders, {} messages, {}{}",
            report.source_user,
            report.status.as_str(),
            report.folders,
            report.messages,
            HumanBytes(report.bytes),
            report
                .error
                .as_deref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        );
        match (&self.bar, &self.board.bars) {
            (Some(bar), Some((multi, total))) => {
                bar.finish_and_clear();
                multi.remove(bar);
                total.inc(1);
                total.set_message(self.board.total_message());
                // Finished accounts scroll above the bars.
                let _ = multi.println(line);
            }
            _ if report.status == Status::Failed => eprintln!("pimlink: {line}"),
            _ if !self.board.quiet => println!("{line}"),
            _ => {}
        }
    }
}
