//! `pimlink replicate NAME --verify [--level N]`: compares a master and its replica in levels
//! and reports every difference (issue 15). Rolling replication calls [`verify_mailboxes`]
//! for each mailbox it touched.
//!
//! - `snapshot.rs`: what one side looks like at a level ([`Level`], [`Snapshot`]);
//! - `read.rs`: reading a snapshot over IMAP or from a Maildir tree, only what the level needs;
//! - `hash.rs`: the level-5 SHA-256, with CRLF line ends whatever the storage keeps;
//! - `compare.rs`: the pure comparer, two snapshots in, [`Difference`]s out;
//! - `difference.rs`: a difference, as a line or a JSON object;
//! - `command.rs`: the command: each user's storages opened, compared, reported.
//!
//! Read-only: bodies are read with BODY.PEEK, so verifying never sets `\Seen`; the sides
//! [`verify_user`] opens are EXAMINE-only too (no `\Recent` cleared), while sides handed to
//! [`verify_mailboxes`] are used as they are (rolling mode goes on writing with them).

mod command;
mod compare;
mod difference;
mod hash;
mod read;
mod snapshot;

use std::collections::BTreeSet;

use pimlink_core::{CollectionName, Error};

pub use command::run;
#[allow(unused_imports)] // Rolling mode verifies what it touched through it.
pub use command::{verify_and_report, verify_user};
pub use compare::compare;
pub use difference::Difference;
pub use snapshot::Level;

use crate::storages::MailSide;

/// The differences between `master` and `replica` at `level`, over every folder; both sides
/// are read at the same time.
pub async fn verify_account(
    master: &mut MailSide,
    replica: &mut MailSide,
    level: Level,
) -> Result<Vec<Difference>, Error> {
    verify(master, replica, level, None).await
}

/// The differences between `master` and `replica` at `level` in `mailboxes` only (their
/// existence, subscription and special-use, and from level 2 their content).
pub async fn verify_mailboxes(
    master: &mut MailSide,
    replica: &mut MailSide,
    level: Level,
    mailboxes: &[CollectionName],
) -> Result<Vec<Difference>, Error> {
    let only: BTreeSet<CollectionName> = mailboxes.iter().cloned().collect();
    verify(master, replica, level, Some(&only)).await
}

async fn verify(
    master: &mut MailSide,
    replica: &mut MailSide,
    level: Level,
    only: Option<&BTreeSet<CollectionName>>,
) -> Result<Vec<Difference>, Error> {
    let (m, r) = tokio::join!(
        read::read_snapshot(master, level, only),
        read::read_snapshot(replica, level, only)
    );
    let master_snapshot = m.map_err(|e| e.context("reading the master"))?;
    let replica_snapshot = r.map_err(|e| e.context("reading the replica"))?;
    Ok(compare(&master_snapshot, &replica_snapshot, level))
}
