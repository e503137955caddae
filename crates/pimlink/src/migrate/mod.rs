//! `pimlink migrate NAME --accounts FILE` (issue 15): copies many accounts from one IMAP server
//! to another, `--jobs N` at a time, each as a one-way pair with its own state, so that a rerun
//! copies only what is new and never duplicates.
//!
//! Layout: `accounts` reads the accounts file, `shard` picks this run's accounts, `account`
//! runs one account through the pair runner (`login` gives the configured storages the
//! account's login, `folders` matches folders by use, `state` says where its state lives),
//! `throttle` holds the rate limits, `progress` shows the run, `report` writes the final
//! report.
//!
//! Not here: the sync itself (the pair runner in pimlink-core), the `[migration.NAME]` keys
//! (`config::migration`).

mod account;
mod accounts;
mod folders;
mod login;
mod progress;
mod report;
mod shard;
mod state;
mod throttle;

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};

pub use report::Format as ReportFormat;
pub use shard::Shard;

use crate::cli::{MigrateArgs, exit};
use crate::config::Config;
use crate::failure::UsageError;
use crate::output::Output;
use report::{AccountReport, Status};
use throttle::Throttle;

/// Runs `migrate` and returns the exit status: 0 every account of this shard done, 1 some
/// failed or stopped at their daily cap (the others done), 2 usage or configuration.
pub fn run(config: &Config, args: &MigrateArgs, output: &Output) -> u8 {
    let Some(migration) = config.migrations.get(&args.name) else {
        let known: Vec<&str> = config.migrations.keys().map(String::as_str).collect();
        output.error(&anyhow!(UsageError(format!(
            "no migration named {:?} in {} (configured: {})",
            args.name,
            config.path.display(),
            if known.is_empty() {
                "none; add a [migration.NAME] table".to_owned()
            } else {
                known.join(", ")
            }
        ))));
        return exit::USAGE;
    };
    let accounts = match read_accounts(&args.accounts) {
        Ok(accounts) => accounts,
        Err(error) => {
            output.error(&error);
            return exit::USAGE;
        }
    };
    let mut reports: Vec<AccountReport> = accounts.iter().map(AccountReport::new).collect();
    let mine: Vec<usize> = (0..accounts.len())
        .filter(|&i| {
            args.shard
                .is_none_or(|shard| shard.takes(&accounts[i].source_user))
        })
        .collect();
    if let Some(shard) = args.shard {
        for (index, report) in reports.iter_mut().enumerate() {
            if !mine.contains(&index) {
                report.error = Some(format!("another shard's (this run is shard {shard})"));
            }
        }
    }
    crate::endpoint::warn_cleartext(
        config,
        [migration.source.as_str(), migration.destination.as_str()],
    );
    let start = Instant::now();
    let total = Mutex::new(Throttle::new(&migration.total, Duration::ZERO, None));
    let shared = account::Shared {
        config,
        migration,
        dry_run: args.dry_run,
        total: &total,
        start,
    };
    let board = progress::Board::new(mine.len(), output.verbose(), output.quiet());
    let done: Vec<Mutex<Option<AccountReport>>> = mine.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let jobs = args.jobs.get().min(mine.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                loop {
                    let slot = next.fetch_add(1, Ordering::SeqCst);
                    let Some(&index) = mine.get(slot) else {
                        break;
                    };
                    let account = &accounts[index];
                    let line = board.start(&account.source_user);
                    let report = account::migrate(&shared, account, &line);
                    line.finish(&report);
                    if let Ok(mut cell) = done[slot].lock() {
                        *cell = Some(report);
                    }
                }
            });
        }
    });
    board.finish();
    for (slot, &index) in mine.iter().enumerate() {
        if let Some(report) = done[slot].lock().ok().and_then(|mut r| r.take()) {
            reports[index] = report;
        }
    }
    let count = |status| reports.iter().filter(|r| r.status == status).count();
    let (failed, throttled) = (count(Status::Failed), count(Status::Throttled));
    output.info(format!(
        "migration {}: {} accounts done, {failed} failed, {throttled} throttled, {} messages \
         copied ({}) in {:.1} s",
        migration.name,
        count(Status::Done),
        reports.iter().map(|r| r.messages).sum::<u64>(),
        indicatif::HumanBytes(reports.iter().map(|r| r.bytes).sum::<u64>()),
        start.elapsed().as_secs_f64(),
    ));
    let mut code = if failed + throttled > 0 {
        exit::PARTIAL
    } else {
        exit::OK
    };
    if let Some(path) = &args.report
        && let Err(error) = write_report(path, args.report_format, &migration.name, &reports)
    {
        output.error(&error);
        code = code.max(exit::PARTIAL);
    }
    code
}

fn read_accounts(path: &Path) -> anyhow::Result<Vec<accounts::Account>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the accounts file {}", path.display()))?;
    accounts::parse(&text).map_err(|e| anyhow!(UsageError(format!("{}: {e}", path.display()))))
}

/// Writes the report next to its final place and renames it there (`crate::atomic_file`), so
/// that a reader never sees half a report.
fn write_report(
    path: &Path,
    format: ReportFormat,
    migration: &str,
    reports: &[AccountReport],
) -> anyhow::Result<()> {
    let context = || format!("cannot write the report {}", path.display());
    let mut text = Vec::new();
    report::write(&mut text, format, migration, reports).with_context(context)?;
    crate::atomic_file::replace(path, &text).with_context(context)
}
