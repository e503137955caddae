//! One replication pass: each given user's master mailboxes made identical on the replica,
//! through the one pair runner (so durability, kill -9 safety, the run journal and `--json`
//! are those of `pimlink sync`), with the replica-mode policy: the master wins, and changes
//! found on the replica are undone and reported.

use std::path::PathBuf;

use anyhow::Result;
use pimlink_core::policy::{Direction, MaxDelete, OnEmpty, Operations, SideOptions};
use pimlink_core::runner::Request;
use pimlink_core::side::PerSide;

use crate::cli::ReplicateArgs;
use crate::config::{
    AdoptMode, CollectionFilter, Config, PairConfig, PairHooks, ReplicationConfig, StorageConfig,
};
use crate::failure::exit_code;
use crate::output::Output;

use super::login::storage_as_user;
use super::users::{self, User};

/// What one pass did.
#[derive(Debug, Default)]
pub struct Report {
    /// One entry per user, in the order they were given.
    pub users: Vec<UserReport>,
}

/// What one pass did for one user.
#[derive(Debug)]
pub struct UserReport {
    /// Who.
    pub user: User,
    /// The user's exit status (`cli::exit`): 0 done, 1 some mailboxes failed, 3 a storage
    /// could not be reached, 5 refused by a safety check, ...
    pub code: u8,
    /// Why the user could not be replicated at all, if that is what happened (already
    /// reported on the output).
    pub error: Option<String>,
}

/// `replicate NAME` without a mode: one pass over the users and mailboxes the command line
/// names.
pub fn run(
    config: &Config,
    repl: &ReplicationConfig,
    args: &ReplicateArgs,
    output: &Output,
) -> Result<u8> {
    let users = users::resolve(repl, args)?;
    let mailboxes = (!args.mailboxes.is_empty()).then_some(args.mailboxes.as_slice());
    let request = Request {
        dry_run: args.dry_run,
        force: false,
        fetch_big: true,
    };
    let report = replicate_users(config, repl, &users, mailboxes, request, output);
    Ok(super::pass_code(&report))
}

/// One pass over `users`: each user's mailboxes (all, or only `mailboxes`) replicated from the
/// master to the replica, one user after the other. A user that fails is reported on
/// `output` and in the report; the others go on. State: one status per user under
/// `<state_dir>/replication/NAME/`.
pub fn replicate_users(
    config: &Config,
    repl: &ReplicationConfig,
    users: &[User],
    mailboxes: Option<&[String]>,
    request: Request,
    output: &Output,
) -> Report {
    let mut report = Report::default();
    for user in users {
        let (user_config, pair) = user_pair(config, repl, user);
        let result = renames(&user_config, &pair, request.dry_run, output).and_then(|()| {
            crate::commands::sync::sync_pair(&user_config, &pair, mailboxes, request, None, output)
        });
        let result = result.and_then(|code| {
            let subscribed = subscriptions(
                &user_config,
                repl,
                &pair,
                mailboxes,
                request.dry_run,
                output,
            );
            subscribed.map(|subscriptions_code| code.max(subscriptions_code))
        });
        let result = result.and_then(|code| {
            special_use(&user_config, repl, &pair, user, request.dry_run, output).map(|()| code)
        });
        let result = result.and_then(|code| {
            let scripts = sieve_scripts(&user_config, repl, &pair, user, request.dry_run, output);
            scripts.map(|sieve_code| code.max(sieve_code))
        });
        let (code, error) = match result {
            Ok(code) => (code, None),
            Err(error) => {
                let error = error.context(format!("replication {}, user {user}", repl.name));
                output.storage_error(&user_config, &[&pair.a, &pair.b], &error);
                (exit_code(&error), Some(format!("{error:#}")))
            }
        };
        report.users.push(UserReport {
            user: user.clone(),
            code,
            error,
        });
    }
    report
}

/// Where a replication keeps its per-user state: `<state_dir>/replication/NAME`.
pub fn state_dir(config: &Config, repl: &ReplicationConfig) -> PathBuf {
    config.state_dir.join("replication").join(&repl.name)
}

/// The configuration a user's pass runs with (the storages as the user, the state directory
/// of the replication) and the pair it syncs: master as side a, replica as side b, named by
/// the user's escaped name (the status file's name).
fn user_pair(config: &Config, repl: &ReplicationConfig, user: &User) -> (Config, PairConfig) {
    let mut user_config = config.clone();
    user_config.state_dir = state_dir(config, repl);
    for (name, login) in [
        (&repl.master, repl.master_login),
        (&repl.replica, repl.replica_login),
    ] {
        if let Some(storage) = user_config.storages.get_mut(name) {
            *storage = storage_as_user(storage, user, login, &repl.master_user_separator);
        }
    }
    let pair = PairConfig {
        name: user.file_name(),
        a: repl.master.clone(),
        b: repl.replica.clone(),
        // The replica-only folder exists on the replica alone; the mirror leaves it there
        // as the replica's trash.
        collections: CollectionFilter::all(),
        direction: Direction::Mirror,
        operations: Operations::default(),
        create: PerSide { a: false, b: true },
        on_empty: OnEmpty::default(),
        max_delete: MaxDelete::UNLIMITED,
        dav: None,
        names: crate::config::replica_names(),
        limits: Default::default(),
        sides: PerSide {
            a: SideOptions {
                read_only: true,
                ..SideOptions::default()
            },
            // A mirror's trash is where messages only the replica has go.
            b: SideOptions {
                remove: true,
                trash: repl.replica_only_folder.clone(),
                ..SideOptions::default()
            },
        },
        hooks: PairHooks::default(),
        adopt: AdoptMode::Never,
    };
    (user_config, pair)
}

/// With `sieve = true`: makes the user's Sieve scripts on the replica the master's over
/// ManageSieve, reporting each change; a change the replica refused is reported and makes the
/// user's status 1 (partial). Sides without ManageSieve (Maildir, a tunnel) are skipped.
fn sieve_scripts(
    config: &Config,
    repl: &ReplicationConfig,
    pair: &PairConfig,
    user: &User,
    dry_run: bool,
    output: &Output,
) -> Result<u8> {
    if !repl.sieve {
        return Ok(crate::cli::exit::OK);
    }
    let (Some(master), Some(replica)) =
        (config.storages.get(&pair.a), config.storages.get(&pair.b))
    else {
        return Ok(crate::cli::exit::OK);
    };
    let (Some(master), Some(replica)) = (
        super::sieve::SieveSide::for_storage(master, repl.sieve_port)?,
        super::sieve::SieveSide::for_storage(replica, repl.sieve_port)?,
    ) else {
        return Ok(crate::cli::exit::OK);
    };
    let report = crate::commands::runtime()?.block_on(super::sieve::replicate_scripts(
        &master,
        &replica,
        user.as_str(),
        dry_run,
    ))?;
    let json = output
        .json()
        .then(|| crate::output::JsonEvents::new(&pair.name, dry_run));
    for change in &report.changes {
        match &json {
            Some(json) => json.emit("sieve", serde_json::json!({"text": change.to_string()})),
            None => output.info(format!("{}: {change}", pair.name)),
        }
    }
    for failure in &report.failures {
        eprintln!(
            "pimlink: replication {}, user {user}: the replica refused: {}: {}",
            repl.name, failure.change, failure.error
        );
    }
    Ok(if report.failures.is_empty() {
        crate::cli::exit::OK
    } else {
        crate::cli::exit::PARTIAL
    })
}

/// Renames on the replica the folders the master renamed (by MAILBOXID), reporting each.
fn renames(config: &Config, pair: &PairConfig, dry_run: bool, output: &Output) -> Result<()> {
    let Some((master, replica)) = sides(config, pair) else {
        return Ok(());
    };
    let steps = crate::commands::runtime()?.block_on(super::renames::follow(
        master,
        replica,
        &config.state_dir,
        &pair.name,
        dry_run,
    ))?;
    report(output, pair, dry_run, "rename", "", &steps, |_| None);
    Ok(())
}

/// Gives the user's replica folders the master's special-use attributes, reporting each
/// change; a replica that cannot take them is a warning, once per run, never a failure.
fn special_use(
    config: &Config,
    repl: &ReplicationConfig,
    pair: &PairConfig,
    user: &User,
    dry_run: bool,
    output: &Output,
) -> Result<()> {
    let Some((master, replica)) = sides(config, pair) else {
        return Ok(());
    };
    let outcome = crate::commands::runtime()?.block_on(super::special_use::replicate(
        master,
        replica,
        repl.replica_only_folder.as_ref().map(|f| f.as_str()),
        dry_run,
    ))?;
    report(
        output,
        pair,
        dry_run,
        "special-use",
        "",
        &outcome.changes,
        |change| Some(change.attribute.is_none()),
    );
    if let Some((why, refused)) = outcome.refused
        && super::special_use::first_refusal(&replica.name)
    {
        let folders: Vec<String> = refused
            .iter()
            .map(|change| match &change.attribute {
                Some(attribute) => format!("{:?} ({attribute})", change.folder),
                None => format!("{:?} (none)", change.folder),
            })
            .collect();
        eprintln!(
            "pimlink: replication {}, user {user}: warning: the replica, storage {}{}, cannot \
             take special-use attributes ({why}); these folders keep the replica's: {}",
            repl.name,
            replica.name,
            server_of(replica),
            folders.join(", ")
        );
    }
    Ok(())
}

/// ` (host:port)` of an IMAP storage, for messages.
fn server_of(storage: &StorageConfig) -> String {
    match &storage.kind {
        crate::config::StorageKind::Imap(imap) => match &imap.endpoint {
            crate::config::ImapEndpoint::Tcp { host, port, .. } => format!(" ({host}:{port})"),
            _ => String::new(),
        },
        _ => String::new(),
    }
}

/// Makes the user's replica subscriptions the master's (of `mailboxes` alone when given),
/// reporting each change; a change the replica refused is reported and makes the user's
/// status 1 (partial).
fn subscriptions(
    config: &Config,
    repl: &ReplicationConfig,
    pair: &PairConfig,
    mailboxes: Option<&[String]>,
    dry_run: bool,
    output: &Output,
) -> Result<u8> {
    let Some((master, replica)) = sides(config, pair) else {
        return Ok(crate::cli::exit::OK);
    };
    let outcome = crate::commands::runtime()?.block_on(super::subscriptions::replicate(
        master,
        replica,
        repl.replica_only_folder.as_ref().map(|f| f.as_str()),
        mailboxes,
        dry_run,
    ))?;
    report(
        output,
        pair,
        dry_run,
        "subscription",
        "subscriptions: ",
        &outcome.changes,
        |change| {
            Some(matches!(
                change,
                super::subscriptions::Change::Unsubscribe(_)
            ))
        },
    );
    for refused in &outcome.refused {
        eprintln!(
            "pimlink: replication {}, user {}: the replica refused: {}: {}",
            repl.name, pair.name, refused.change, refused.error
        );
    }
    Ok(if outcome.refused.is_empty() {
        crate::cli::exit::OK
    } else {
        crate::cli::exit::PARTIAL
    })
}

/// The pair's master and replica storages.
fn sides<'c>(
    config: &'c Config,
    pair: &PairConfig,
) -> Option<(&'c StorageConfig, &'c StorageConfig)> {
    Some((config.storages.get(&pair.a)?, config.storages.get(&pair.b)?))
}

/// Prints each change of folder data the runner does not sync as a line `PAIR: PREFIXchange`,
/// or with `--json` as an `event` event with its text (and whether it undid a replica change,
/// where `undone` says).
fn report<T: std::fmt::Display>(
    output: &Output,
    pair: &PairConfig,
    dry_run: bool,
    event: &str,
    prefix: &str,
    changes: &[T],
    undone: impl Fn(&T) -> Option<bool>,
) {
    let json = output
        .json()
        .then(|| crate::output::JsonEvents::new(&pair.name, dry_run));
    for change in changes {
        match &json {
            Some(json) => {
                let mut fields = serde_json::json!({"text": change.to_string()});
                if let Some(undone) = undone(change) {
                    fields["undone"] = serde_json::Value::Bool(undone);
                }
                json.emit(event, fields);
            }
            None => output.info(format!("{}: {prefix}{change}", pair.name)),
        }
    }
}
