//! Rolling mode (`-r`, `-f`, `-1`, `-o`, `-d`, `-t`, `-F`): replicate what a change log
//! names, or what changes on the master, until stopped. This file turns the command line and
//! `[replication.NAME]` into the loop's controls (`roller.rs`), its source of changes (the
//! log, `logfile.rs`, or the master's watchers, `watching.rs`) and its cycle: the named users
//! and mailboxes through the one-pass engine (`once::replicate_users`), then a verification of
//! what it touched.
//!
//! `-f FILE` alone replicates the names in FILE once and leaves it in place; with `-r` or
//! `-1`, FILE is the change log instead of `log`, processed with the log's discipline, and
//! the run ends once it is done (as `sync_client -r -f`).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use pimlink_core::runner::Request;

use super::changelog::{Scope, Work};
use super::logfile::{self, ChangeLog};
use super::login::storage_as_user;
use super::once::{Report, replicate_users};
use super::pacer::Pacing;
use super::roller::{Controls, Cycle, Outcome, Source, roll_until_stopped};
use super::users::{self, User};
use super::watching::Watching;
use crate::cli::{ReplicateArgs, exit};
use crate::config::{Config, ReplicationConfig, UserLogin, parse_duration};
use crate::failure::UsageError;
use crate::output::Output;

/// `-d` when not given: as Cyrus's `sync_repeat_interval`.
const DEFAULT_DELAY: Duration = Duration::from_secs(1);

/// Runs rolling mode and returns the exit status.
pub fn run(
    config: &Config,
    repl: &ReplicationConfig,
    args: &ReplicateArgs,
    output: &Output,
) -> Result<u8> {
    if !args.mailboxes.is_empty() {
        return Err(UsageError(
            "-m applies to one pass; rolling mode (-r, -f, -1) replicates what changed".into(),
        )
        .into());
    }
    let pacing = Pacing {
        delay: duration_arg("-d", args.delay.as_deref())?.unwrap_or(DEFAULT_DELAY),
        restart_after: duration_arg("-t", args.restart_after.as_deref())?,
        max_backoff: repl.max_backoff,
    };
    let users = rolling_users(repl, args)?;
    let request = Request {
        dry_run: args.dry_run,
        force: false,
        fetch_big: true,
    };
    let config = Arc::new(config.clone());
    let cycle = cycle(&config, repl, Selection::new(repl, &users), request);
    let rolling = args.rolling || args.once_log;
    if let (Some(file), false) = (&args.log_file, rolling) {
        let (work, skipped) = logfile::read_names(file)?;
        for skipped in skipped {
            tracing::warn!("{}: {skipped}; skipped", file.display());
        }
        let outcome = cycle(&work, output);
        let unreached = if outcome.unreached.is_empty() {
            exit::OK
        } else {
            exit::UNAVAILABLE
        };
        return Ok(outcome.code.max(unreached));
    }
    let controls = Controls {
        once_log: args.once_log || args.log_file.is_some(),
        connect_once: args.connect_once,
        shutdown_file: args.shutdown_file.clone(),
        pacing,
    };
    let source = match args.log_file.as_ref().or(repl.log.as_ref()) {
        Some(log) => Source::Log(ChangeLog::new(log)),
        None if args.once_log => {
            return Err(UsageError(format!(
                "-1 processes a change log: set `log` in [replication.{}] or give -f FILE",
                repl.name
            ))
            .into());
        }
        None => Source::Watch(Watching::new(&repl.master, users, for_user(&config, repl))),
    };
    Ok(roll_until_stopped(source, &controls, cycle, output))
}

/// `-d` or `-t`, written as durations are in the file (`500ms`, `3s`, `30m`).
fn duration_arg(flag: &str, text: Option<&str>) -> Result<Option<Duration>> {
    let Some(text) = text else { return Ok(None) };
    match parse_duration(text) {
        Some(duration) => Ok(Some(duration)),
        None => Err(UsageError(format!(
            "{flag} {text:?}: a duration is a positive whole number with ms, s, m, h or d, \
             e.g. 3s or 30m"
        ))
        .into()),
    }
}

/// Who rolling mode serves: `-u`; else every configured user (a log names whom it names,
/// as `sync_client -r` does without `-u`); else the one account of a self-login replication.
fn rolling_users(repl: &ReplicationConfig, args: &ReplicateArgs) -> Result<Vec<User>> {
    if args.users.is_empty() && !repl.users.is_empty() {
        return users::configured(repl);
    }
    users::resolve(repl, args)
}

/// Which names of a log or a watcher a cycle replicates.
struct Selection {
    /// The users served.
    users: BTreeSet<User>,
    /// A self-login replication has one account: every name in a log means it.
    only: Option<User>,
}

impl Selection {
    fn new(repl: &ReplicationConfig, users: &[User]) -> Self {
        let self_login = repl.users.is_empty()
            && repl.master_login == UserLogin::SelfOnly
            && repl.replica_login == UserLogin::SelfOnly;
        Self {
            users: users.iter().cloned().collect(),
            only: self_login.then(|| users.first().cloned()).flatten(),
        }
    }

    /// `work`'s users that are served, each with its scope; the others are reported.
    fn pick(&self, work: &Work) -> Vec<(User, Scope)> {
        let mut picked = Work::default();
        for (name, scope) in work.users() {
            let user = match &self.only {
                Some(only) => only.clone(),
                None => match User::new(name) {
                    Ok(user) if self.users.contains(&user) => user,
                    _ => {
                        tracing::warn!("{name:?} is not a user of this replication; skipped");
                        continue;
                    }
                },
            };
            match scope {
                Scope::Whole => picked.user(user.as_str()),
                Scope::Mailboxes(mailboxes) => {
                    for mailbox in mailboxes {
                        picked.mailbox(user.as_str(), mailbox);
                    }
                }
            }
        }
        picked
            .users()
            .filter_map(|(name, scope)| {
                let user = self.users.iter().find(|user| user.as_str() == name)?;
                Some((user.clone(), scope.clone()))
            })
            .collect()
    }
}

/// A cycle: the users named whole in one pass, each user named by mailboxes in a pass of
/// its own; then what was reached is verified.
fn cycle(
    config: &Arc<Config>,
    repl: &ReplicationConfig,
    selection: Selection,
    request: Request,
) -> Cycle {
    let (config, repl) = (Arc::clone(config), repl.clone());
    Arc::new(move |work: &Work, output: &Output| {
        let picked = selection.pick(work);
        let mut outcome = Outcome::default();
        let whole: Vec<User> = picked
            .iter()
            .filter(|(_, scope)| *scope == Scope::Whole)
            .map(|(user, _)| user.clone())
            .collect();
        if !whole.is_empty() {
            let report = replicate_users(&config, &repl, &whole, None, request, output);
            tally(&report, &Scope::Whole, &mut outcome);
        }
        for (user, scope) in &picked {
            let Scope::Mailboxes(mailboxes) = scope else {
                continue;
            };
            let mailboxes: Vec<String> = mailboxes.iter().cloned().collect();
            let users = std::slice::from_ref(user);
            let report = replicate_users(&config, &repl, users, Some(&mailboxes), request, output);
            tally(&report, scope, &mut outcome);
        }
        if repl.verify_level > 0 && !request.dry_run {
            for (user, scope) in &picked {
                if !outcome
                    .unreached
                    .users()
                    .any(|(name, _)| name == user.as_str())
                {
                    let code = verify_touched(&config, &repl, user, scope, output);
                    outcome.code = outcome.code.max(code);
                }
            }
        }
        outcome
    })
}

/// Adds a pass's users to `outcome`: a user whose server could not be reached, or that
/// another pimlink was replicating, is tried again later with the same scope.
fn tally(report: &Report, scope: &Scope, outcome: &mut Outcome) {
    for user in &report.users {
        if matches!(user.code, exit::UNAVAILABLE | exit::BUSY) {
            match scope {
                Scope::Whole => outcome.unreached.user(user.user.as_str()),
                Scope::Mailboxes(mailboxes) => {
                    for mailbox in mailboxes {
                        outcome.unreached.mailbox(user.user.as_str(), mailbox);
                    }
                }
            }
        } else {
            outcome.code = outcome.code.max(user.code);
        }
    }
}

/// Verifies what a cycle touched at `verify_level` (a user's mailboxes, or all of them for a
/// whole user), printing each difference; 7 if any, a failure's status if the user could not
/// be read. A difference is left to the next change or full pass to repair: the replica is
/// never written from here.
fn verify_touched(
    config: &Config,
    repl: &ReplicationConfig,
    user: &User,
    scope: &Scope,
    output: &Output,
) -> u8 {
    let Some(level) = super::verify::Level::from_number(repl.verify_level) else {
        return exit::OK;
    };
    let mailboxes: Vec<pimlink_core::CollectionName> = match scope {
        Scope::Whole => Vec::new(),
        Scope::Mailboxes(names) => names
            .iter()
            .filter_map(|name| pimlink_core::CollectionName::new(name.as_str()).ok())
            .collect(),
    };
    match crate::commands::runtime() {
        Ok(runtime) => super::verify::verify_and_report(
            &runtime, config, repl, user, level, &mailboxes, output,
        ),
        Err(error) => {
            eprintln!(
                "pimlink: replication {}: cannot verify {user}: {error:#}",
                repl.name
            );
            exit::PARTIAL
        }
    }
}

/// The configuration in which the master logs in as one user, for its watcher; the
/// watcher's reconnections back off up to the replication's `max_backoff`.
fn for_user(config: &Arc<Config>, repl: &ReplicationConfig) -> super::watching::ForUser {
    let (config, repl) = (Arc::clone(config), repl.clone());
    Arc::new(move |user: &User| {
        let mut user_config = (*config).clone();
        let login = repl.master_login;
        if let Some(storage) = user_config.storages.get_mut(&repl.master) {
            *storage = storage_as_user(storage, user, login, &repl.master_user_separator);
        }
        user_config.daemon.max_backoff = repl.max_backoff;
        user_config
    })
}
