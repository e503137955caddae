//! `pimlink replicate` (issue 15): a master storage kept identical on a replica, for each user
//! of a `[replication.NAME]`.
//!
//! - `users`: who is replicated (`-u`, `-A`, the configured sources).
//! - `login`: each user's view of a storage (an administrator acting as the user, or a
//!   Maildir path with `{user}`).
//! - `once`: one pass over users and mailboxes through the one pair runner, in replica mode
//!   (the master wins; replica changes are undone and reported). The other modes call it.
//! - `renames`: folders the master renamed (seen by MAILBOXID) renamed on the replica before
//!   each pass, so their messages stay put.
//! - `special_use`: the replica's folders given the master's special-use attributes after
//!   each pass, where the replica lets a client set them (METADATA).
//! - `subscriptions`: the replica's IMAP subscriptions made the master's after each pass.
//! - `rolling`: `-r`, `-f`, `-1`: replicate what changed, until stopped; its loop is
//!   `roller`, its changes come from `changelog` + `logfile` (the change log) or `watching`
//!   (the master's watchers), its timing from `pacer`.
//! - `verify`: `--verify`: compare, change nothing.
//! - [`sieve`]: users' Sieve scripts and the active one, over ManageSieve (`sieve = true`).

// The API the rolling and verify modes build on; parts of it are used only once they land.
#![allow(dead_code)]

pub mod login;
pub mod once;
pub mod renames;
pub mod rolling;
pub mod sieve;
pub mod special_use;
pub mod subscriptions;
pub mod users;
pub mod verify;
// Rolling mode's parts (replroll).
mod changelog;
mod logfile;
mod pacer;
mod roller;
mod watching;

use anyhow::Result;

use crate::cli::{ReplicateArgs, exit};
use crate::config::{Config, ReplicationConfig};
use crate::failure::{UsageError, exit_code};
use crate::output::Output;

/// Exit statuses of `replicate` beyond the common ones (`cli::exit`).
pub mod status {
    /// Rolling mode stopped cleanly because the shutdown file (-F) appeared.
    pub const STOPPED: u8 = 6;
    /// `--verify` found differences.
    pub const DIFFERENT: u8 = 7;
}

/// Runs `replicate` and returns the exit status.
pub fn run(config: &Config, args: &ReplicateArgs, output: &Output) -> u8 {
    let output = &output.with_json(args.json);
    match dispatch(config, args, output) {
        Ok(code) => code,
        Err(error) => {
            output.error(&error);
            exit_code(&error)
        }
    }
}

fn dispatch(config: &Config, args: &ReplicateArgs, output: &Output) -> Result<u8> {
    let repl = replication(config, &args.name)?;
    if args.verify {
        return verify::run(config, repl, args, output);
    }
    if args.rolling || args.once_log || args.log_file.is_some() {
        return rolling::run(config, repl, args, output);
    }
    if args.delay.is_some() || args.restart_after.is_some() || args.shutdown_file.is_some() {
        return Err(
            UsageError("-d, -t and -F apply to rolling mode (-r, -f or -1)".to_owned()).into(),
        );
    }
    once::run(config, repl, args, output)
}

/// The `[replication.NAME]` named on the command line.
pub fn replication<'c>(config: &'c Config, name: &str) -> Result<&'c ReplicationConfig> {
    config.replications.get(name).ok_or_else(|| {
        crate::commands::unknown(config, "replication", name, config.replications.keys())
    })
}

/// The exit status for a finished pass: the worst of its users, except that a storage
/// unreachable for some users while others were replicated is a partial failure (a user the
/// replica does not know yet, say), not an unreachable server.
pub fn pass_code(report: &once::Report) -> u8 {
    let worst = report
        .users
        .iter()
        .map(|user| user.code)
        .max()
        .unwrap_or(exit::OK);
    let some_done = report.users.iter().any(|user| user.code <= exit::PARTIAL);
    if worst == exit::UNAVAILABLE && some_done {
        exit::PARTIAL
    } else {
        worst
    }
}
