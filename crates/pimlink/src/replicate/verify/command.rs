//! `pimlink replicate NAME --verify [--level N] [-u USER...] [-m MAILBOX...]`: each user's
//! master and replica compared, each difference printed (a line, or a `difference` event with
//! `--json`), exit status 0 if identical, 7 if not. A user that cannot be read is reported and
//! the others go on; then the status is that failure's (3 for a server that cannot be
//! reached), since the verification is incomplete.

use std::io::Write as _;

use anyhow::{Context as _, Result};
use pimlink_core::CollectionName;
use serde_json::json;

use crate::cli::{ReplicateArgs, exit};
use crate::config::{Config, ReplicationConfig};
use crate::failure::{UsageError, exit_code};
use crate::output::{Output, write_json_event};
use crate::replicate::login::config_as_user;
use crate::replicate::sieve::SieveSide;
use crate::replicate::status::DIFFERENT;
use crate::replicate::users::{self, User};
use crate::storages;

use super::difference::Difference;
use super::snapshot::Level;

/// The level when `--level` is not given: everything but the bytes of each message, which
/// level 5 reads.
pub const DEFAULT_LEVEL: Level = Level::SizesDates;

/// Runs `--verify` and returns the exit status (0 identical, 7 differences found).
pub fn run(
    config: &Config,
    repl: &ReplicationConfig,
    args: &ReplicateArgs,
    output: &Output,
) -> Result<u8> {
    let level = match args.level {
        None => DEFAULT_LEVEL,
        Some(n) => Level::from_number(n)
            .ok_or_else(|| UsageError(format!("--level {n}: the levels are 1 to 5")))?,
    };
    let mailboxes = args
        .mailboxes
        .iter()
        .map(|name| CollectionName::new(name.as_str()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| UsageError(format!("-m: {e}")))?;
    let users = users::resolve(repl, args)?;
    let runtime = crate::commands::runtime()?;
    let (mut failed, mut different) = (None::<u8>, false);
    for user in &users {
        match verify_and_report(&runtime, config, repl, user, level, &mailboxes, output) {
            DIFFERENT => different = true,
            exit::OK => {}
            code => failed = Some(failed.map_or(code, |worst| worst.max(code))),
        }
    }
    Ok(match failed {
        Some(code) => code,
        None if different => DIFFERENT,
        None => exit::OK,
    })
}

/// Verifies one user's `mailboxes` (all for none) at `level` and prints what differs: 0 if
/// identical, [`DIFFERENT`] if not, a failure's status if the user could not be read (which
/// is reported). Rolling mode calls it for what each cycle touched.
pub fn verify_and_report(
    runtime: &tokio::runtime::Runtime,
    config: &Config,
    repl: &ReplicationConfig,
    user: &User,
    level: Level,
    mailboxes: &[CollectionName],
    output: &Output,
) -> u8 {
    match runtime.block_on(verify_user(config, repl, user, level, mailboxes)) {
        Ok(differences) => {
            report(repl, user, level, &differences, output);
            if differences.is_empty() {
                exit::OK
            } else {
                DIFFERENT
            }
        }
        Err(error) => {
            let error = error.context(format!("verifying replication {}, user {user}", repl.name));
            output.storage_error(config, &[&repl.master, &repl.replica], &error);
            exit_code(&error)
        }
    }
}

/// One user's differences: the user's view of both storages, read at the same time.
pub async fn verify_user(
    config: &Config,
    repl: &ReplicationConfig,
    user: &User,
    level: Level,
    mailboxes: &[CollectionName],
) -> Result<Vec<Difference>> {
    let user_config = config_as_user(config, repl, user);
    let mut master = storages::open_mail(&user_config, &repl.master)
        .await
        .with_context(|| format!("opening the master, storage {}", repl.master))?;
    let mut replica = storages::open_mail(&user_config, &repl.replica)
        .await
        .with_context(|| format!("opening the replica, storage {}", repl.replica))?;
    for side in [&mut master, &mut replica] {
        if let storages::MailSide::Imap(store) = side {
            store.set_examine_only(true);
        }
    }
    let differences = if mailboxes.is_empty() {
        super::verify_account(&mut master, &mut replica, level).await
    } else {
        super::verify_mailboxes(&mut master, &mut replica, level, mailboxes).await
    };
    pimlink_core::MailStore::close(&mut master).await;
    pimlink_core::MailStore::close(&mut replica).await;
    let mut differences = differences?;
    // Scripts belong to the account, not to a mailbox: a narrowed (-m, rolling) check leaves
    // them out.
    if mailboxes.is_empty() {
        differences.extend(sieve_differences(&user_config, repl, user).await?);
    }
    Ok(differences)
}

/// With `sieve = true`, how the user's Sieve scripts differ (none without ManageSieve on
/// both sides, as replicating them skips such sides too).
async fn sieve_differences(
    user_config: &Config,
    repl: &ReplicationConfig,
    user: &User,
) -> Result<Vec<Difference>> {
    if !repl.sieve {
        return Ok(Vec::new());
    }
    let side = |name: &str| match user_config.storages.get(name) {
        Some(storage) => SieveSide::for_storage(storage, repl.sieve_port),
        None => Ok(None),
    };
    let (Some(master), Some(replica)) = (side(&repl.master)?, side(&repl.replica)?) else {
        return Ok(Vec::new());
    };
    let steps = crate::replicate::sieve::differences(&master, &replica, user.as_str()).await?;
    Ok(steps.into_iter().map(Difference::sieve).collect())
}

/// Prints one user's differences, and with `--json` a `verified` event after them. Not
/// silenced by `-q`: the differences are what was asked for.
fn report(
    repl: &ReplicationConfig,
    user: &User,
    level: Level,
    differences: &[Difference],
    output: &Output,
) {
    let owner = ("replication", repl.name.as_str());
    if output.json() {
        for difference in differences {
            write_json_event("difference", owner, difference.json(user.as_str()));
        }
        let summary = json!({
            "user": user.as_str(),
            "level": level.number(),
            "differences": differences.len(),
        });
        write_json_event("verified", owner, summary);
        return;
    }
    let mut stdout = std::io::stdout().lock();
    for difference in differences {
        // A closed stdout (the reader went away) changes nothing in the result.
        let _ = writeln!(stdout, "{}", difference.line(user.as_str()));
    }
    drop(stdout);
    output.info(format!(
        "{user}: {} at level {}",
        match differences.len() {
            0 => "master and replica are identical".to_owned(),
            1 => "1 difference".to_owned(),
            n => format!("{n} differences"),
        },
        level.number()
    ));
}
