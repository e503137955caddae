//! Replicating a user's Sieve scripts over ManageSieve (`sieve = true` in a
//! `[replication.NAME]` section): the replica ends up with the master's scripts, byte for
//! byte, and the master's active script (or none) active; scripts only the replica has are
//! deleted. Each change is reported; a second run changes nothing.
//!
//! The entry point is [`replicate_scripts`]; the replicate engine calls it once per user
//! after the user's mail, with each side's [`SieveSide`]: the storage's IMAP connection as
//! the user sees it (`login::storage_as_user`, so `master_login`/`replica_login` apply as
//! for mail) and its ManageSieve port ([`SieveSide::for_storage`]).

mod plan;
#[cfg(test)]
mod tests;

use std::fmt;

use pimlink_core::{Error, ErrorKind};
use pimlink_imap::ClientOptions;
use pimlink_imap::sieve::{SieveClient, SieveOptions};

use crate::config::{ImapEndpoint, StorageConfig, StorageKind};

pub use plan::{Script, Step, plan};

/// ManageSieve's registered port (RFC 5804).
const DEFAULT_PORT: u16 = 4190;

/// One side of a Sieve replication, logged in as the replicated user.
#[derive(Clone, Debug)]
pub struct SieveSide {
    /// The storage's IMAP connection settings as the user sees them (after
    /// [`super::login::storage_as_user`]: `authzid` set, or the `USER*ADMIN` login, or the
    /// storage's own user): host, TLS (either TLS mode means STARTTLS on the ManageSieve
    /// port), trust, timeouts, credentials.
    pub connection: ClientOptions,
    /// The ManageSieve port (the storage's `sieve_port`, else the replication's, else 4190).
    pub port: u16,
}

impl SieveSide {
    /// The side of a storage as `user` sees it: `storage` comes from
    /// [`super::login::storage_as_user`]; its port is the storage's `sieve_port`, else
    /// `fallback` (the replication's `sieve_port`), else 4190: each server has its own, as
    /// master and replica on one host must. The password (or `password_cmd`, or keyring
    /// entry) is resolved here. `None` for a storage that is not IMAP over TCP (a Maildir
    /// side, a tunnel): it has no ManageSieve server.
    pub fn for_storage(
        storage: &StorageConfig,
        fallback: Option<u16>,
    ) -> Result<Option<SieveSide>, Error> {
        let StorageKind::Imap(imap) = &storage.kind else {
            return Ok(None);
        };
        if !matches!(imap.endpoint, ImapEndpoint::Tcp { .. }) {
            return Ok(None);
        }
        let mut connection = crate::storages::mail::imap_options(imap);
        if let Some(credentials) = &imap.credentials {
            connection.password = credentials.password.resolve().map_err(|e| {
                Error::new(ErrorKind::Config, format!("storage {}: {e}", storage.name))
            })?;
        }
        let port = imap.sieve_port.or(fallback).unwrap_or(DEFAULT_PORT);
        Ok(Some(SieveSide { connection, port }))
    }

    fn options(&self) -> SieveOptions {
        let mut connection = self.connection.clone();
        connection.port = Some(self.port);
        SieveOptions { connection }
    }
}

/// A change made to the replica (or, in a dry run, that would be made).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SieveChange {
    /// A master script the replica lacked was stored.
    Created(String),
    /// A replica script with other bytes than the master's was replaced.
    Updated(String),
    /// The master's active script was made active.
    Activated(String),
    /// The replica's active script was deactivated: the master has none active.
    Deactivated,
    /// A script only the replica had was deleted.
    Deleted(String),
}

impl fmt::Display for SieveChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SieveChange::Created(name) => write!(f, "Sieve script {name:?} created"),
            SieveChange::Updated(name) => write!(f, "Sieve script {name:?} updated"),
            SieveChange::Activated(name) => write!(f, "Sieve script {name:?} activated"),
            SieveChange::Deactivated => write!(f, "active Sieve script deactivated"),
            SieveChange::Deleted(name) => write!(f, "replica-only Sieve script {name:?} deleted"),
        }
    }
}

impl From<&Step> for SieveChange {
    fn from(step: &Step) -> Self {
        match step {
            Step::Put { name, new: true } => SieveChange::Created(name.clone()),
            Step::Put { name, new: false } => SieveChange::Updated(name.clone()),
            Step::Activate(name) => SieveChange::Activated(name.clone()),
            Step::Deactivate => SieveChange::Deactivated,
            Step::Delete(name) => SieveChange::Deleted(name.clone()),
        }
    }
}

/// A change the replica refused (a script its Sieve implementation cannot compile, a quota).
#[derive(Debug)]
pub struct SieveFailure {
    /// What was tried.
    pub change: SieveChange,
    /// The server's answer.
    pub error: Error,
}

/// What [`replicate_scripts`] did for one user.
#[derive(Debug, Default)]
pub struct SieveReport {
    /// The user replicated.
    pub user: String,
    /// Changes made, in order (or planned, in a dry run).
    pub changes: Vec<SieveChange>,
    /// Changes the replica refused; the others were still made. Non-empty means the user's
    /// scripts are not identical: the engine counts the user as failed (exit status 1).
    pub failures: Vec<SieveFailure>,
}

/// Makes the Sieve scripts on `replica` identical to those on `master`: stores the
/// master's scripts whose bytes differ or that are missing, makes the master's active script
/// active (or deactivates all), and deletes the scripts only the replica has. The master is
/// only read. Both sides already log in as `user`, which names the user in the report and in
/// errors. With `dry_run` nothing is written and the report lists what would change.
///
/// Idempotent: a second run reports no change. A change the replica refuses (NO) is recorded
/// in [`SieveReport::failures`] and the rest go on; a connection or login failure is the
/// error, with nothing more changed.
pub async fn replicate_scripts(
    master: &SieveSide,
    replica: &SieveSide,
    user: &str,
    dry_run: bool,
) -> Result<SieveReport, Error> {
    let on = |role: &str| format!("replicating {user}'s Sieve scripts, on the {role}");
    let (from, ours) = read_side(master, &on("master")).await?;
    from.logout().await?;
    let (mut to, theirs) = read_side(replica, &on("replica")).await?;
    let steps = plan(&ours, &theirs);
    let mut report = SieveReport {
        user: user.to_string(),
        ..SieveReport::default()
    };
    if dry_run {
        report.changes = steps.iter().map(SieveChange::from).collect();
        to.logout().await?;
        return Ok(report);
    }
    for step in &steps {
        let change = SieveChange::from(step);
        let result = match step {
            Step::Put { name, .. } => match ours.iter().find(|s| &s.name == name) {
                Some(script) => to.put_script(name, &script.body).await,
                None => Ok(()),
            },
            Step::Activate(name) if failed_to_store(&report, name) => {
                // Activating the replica's stale copy would run a script the master no
                // longer has; the failure to store it is already reported.
                continue;
            }
            Step::Activate(name) => to.set_active(Some(name)).await,
            Step::Deactivate => to.set_active(None).await,
            Step::Delete(name) => to.delete_script(name).await,
        };
        match result {
            Ok(()) => report.changes.push(change),
            Err(error) if refused(&error) => report.failures.push(SieveFailure { change, error }),
            Err(error) => return Err(error.context(on("replica"))),
        }
    }
    to.logout().await?;
    Ok(report)
}

/// What would change on `replica` to make its Sieve scripts the master's, both sides only
/// read (`--verify`): empty when they are identical.
pub async fn differences(
    master: &SieveSide,
    replica: &SieveSide,
    user: &str,
) -> Result<Vec<Step>, Error> {
    let on = |role: &str| format!("reading {user}'s Sieve scripts, on the {role}");
    let (from, ours) = read_side(master, &on("master")).await?;
    from.logout().await?;
    let (to, theirs) = read_side(replica, &on("replica")).await?;
    to.logout().await?;
    Ok(plan(&ours, &theirs))
}

/// Logs in to `side` and reads every script; errors say `what` was being done.
async fn read_side(side: &SieveSide, what: &str) -> Result<(SieveClient, Vec<Script>), Error> {
    let mut client = SieveClient::connect(&side.options())
        .await
        .map_err(|e| e.context(what))?;
    let scripts = read_all(&mut client).await.map_err(|e| e.context(what))?;
    Ok((client, scripts))
}

fn failed_to_store(report: &SieveReport, name: &str) -> bool {
    report.failures.iter().any(
        |f| matches!(&f.change, SieveChange::Created(n) | SieveChange::Updated(n) if n == name),
    )
}

/// A NO from the server: this change failed, the connection is fine.
fn refused(error: &Error) -> bool {
    matches!(error.kind(), ErrorKind::Unsupported | ErrorKind::NotFound)
}

async fn read_all(client: &mut SieveClient) -> Result<Vec<Script>, Error> {
    let mut scripts = Vec::new();
    for entry in client.list_scripts().await? {
        let body = client.get_script(&entry.name).await?;
        scripts.push(Script {
            name: entry.name,
            body,
            active: entry.active,
        });
    }
    Ok(scripts)
}
