//! Subscriptions (IMAP LSUB) are not mail the pair runner syncs, so a replication copies them
//! after each user's pass: the replica ends up subscribed to exactly the master's folders.
//! A Maildir side has no subscriptions; nothing is done there.

use std::collections::BTreeSet;

use anyhow::{Context, Result};
use pimlink_imap::{Client, ClientOptions};

use crate::config::{StorageConfig, StorageKind};

/// One subscription the replica gains or loses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// Subscribed on the master: subscribed on the replica too.
    Subscribe(String),
    /// Subscribed on the replica alone: a replica change, undone.
    Unsubscribe(String),
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Change::Subscribe(name) => write!(f, "subscribed to {name:?}"),
            Change::Unsubscribe(name) => write!(
                f,
                "undone: {name:?} was subscribed on the replica only: unsubscribed"
            ),
        }
    }
}

/// A subscription change the replica refused (NO): a master subscription to a folder the
/// replica does not have, say. The other changes are still made.
#[derive(Debug)]
pub struct Refused {
    /// What was tried.
    pub change: Change,
    /// The server's answer.
    pub error: pimlink_core::Error,
}

/// What [`replicate`] did: the changes made (or that would be, in a dry run) and those the
/// replica refused. A refusal makes the user's status partial, never "unreachable".
#[derive(Debug, Default)]
pub struct Report {
    pub changes: Vec<Change>,
    pub refused: Vec<Refused>,
}

/// Makes the replica's subscriptions those of the master (both as one user, see
/// `login::storage_as_user`), leaving the `replica_only` folder alone; with `only` (`-m`, or
/// the mailboxes a change log named), only those folders' subscriptions change. Returns what
/// changed, or would change with `dry_run`. Nothing is done unless both sides are IMAP.
pub async fn replicate(
    master: &StorageConfig,
    replica: &StorageConfig,
    replica_only: Option<&str>,
    only: Option<&[String]>,
    dry_run: bool,
) -> Result<Report> {
    let (Some(master_options), Some(replica_options)) = (options(master)?, options(replica)?)
    else {
        return Ok(Report::default());
    };
    let (master_names, _) = subscribed(master_options)
        .await
        .with_context(|| format!("reading the subscriptions of storage {}", master.name))?;
    let mut client = Client::connect(replica_options)
        .await
        .with_context(|| format!("storage {}", replica.name))?;
    let (replica_names, delimiter) = list_subscribed(&mut client).await?;
    // Names travel with '/' between the sides, as the pair runner's do.
    let want: BTreeSet<String> = master_names.into_iter().collect();
    // The replica-only folder is the replica's own, subscribed or not.
    let have: BTreeSet<String> = replica_names
        .into_iter()
        .filter(|name| Some(name.as_str()) != replica_only)
        .collect();
    let changes = plan(&want, &have, only);
    if dry_run {
        let _ = client.logout().await;
        return Ok(Report {
            changes,
            refused: Vec::new(),
        });
    }
    let mut report = Report::default();
    for change in changes {
        let result = match &change {
            Change::Subscribe(name) => client.subscribe(&server_name(name, delimiter)).await,
            Change::Unsubscribe(name) => client.unsubscribe(&server_name(name, delimiter)).await,
        };
        match result {
            Ok(()) => report.changes.push(change),
            Err(error) if refused(&error) => report.refused.push(Refused { change, error }),
            Err(error) => {
                return Err(error).with_context(|| format!("storage {}: {change}", replica.name));
            }
        }
    }
    // A failed LOGOUT changes nothing that was done.
    let _ = client.logout().await;
    Ok(report)
}

/// A NO to one SUBSCRIBE or UNSUBSCRIBE: that change failed, the connection is fine.
fn refused(error: &pimlink_core::Error) -> bool {
    use pimlink_core::ErrorKind;
    matches!(
        error.kind(),
        ErrorKind::NotFound | ErrorKind::Peer | ErrorKind::Unsupported
    )
}

/// The subscriptions to add and remove so that `have` becomes `want`, for the folders in
/// `only` alone when given (a narrowed run leaves the others' subscriptions as they are).
fn plan(want: &BTreeSet<String>, have: &BTreeSet<String>, only: Option<&[String]>) -> Vec<Change> {
    let named = |name: &&String| only.is_none_or(|only| only.contains(*name));
    want.difference(have)
        .filter(named)
        .map(|name| Change::Subscribe(name.clone()))
        .chain(
            have.difference(want)
                .filter(named)
                .map(|name| Change::Unsubscribe(name.clone())),
        )
        .collect()
}

/// How to log in to an IMAP storage, with its password resolved; `None` for a Maildir.
pub(super) fn options(storage: &StorageConfig) -> Result<Option<ClientOptions>> {
    let StorageKind::Imap(imap) = &storage.kind else {
        return Ok(None);
    };
    let mut options = crate::storages::mail::imap_options(imap);
    if let Some(credentials) = &imap.credentials {
        let secret = credentials
            .password
            .resolve()
            .with_context(|| format!("storage {}", storage.name))?;
        options.password = pimlink_imap::Secret::new(secret.expose());
    }
    Ok(Some(options))
}

async fn subscribed(options: ClientOptions) -> Result<(Vec<String>, Option<char>)> {
    let mut client = Client::connect(options).await?;
    let names = list_subscribed(&mut client).await?;
    let _ = client.logout().await;
    Ok(names)
}

/// The subscribed names with '/' as delimiter, and the server's delimiter.
async fn list_subscribed(client: &mut Client) -> Result<(Vec<String>, Option<char>)> {
    let entries = client.lsub("", "*").await?;
    let delimiter = entries.iter().find_map(|entry| entry.delimiter);
    let names = entries.iter().map(engine_name).collect();
    Ok((names, delimiter))
}

/// A LIST entry's name with '/' between levels, as the pair runner names folders.
pub(super) fn engine_name(entry: &pimlink_imap::ListEntry) -> String {
    match entry.delimiter {
        Some(d) if d != '/' => entry.name.replace(d, "/"),
        _ => entry.name.clone(),
    }
}

/// `name` (with '/') as the server spells it.
pub(super) fn server_name(name: &str, delimiter: Option<char>) -> String {
    match delimiter {
        Some(d) if d != '/' => name.replace('/', &d.to_string()),
        _ => name.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_adds_and_removes_the_differences() {
        let set = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<BTreeSet<_>>();
        let changes = plan(
            &set(&["INBOX", "Lists/rust"]),
            &set(&["Lists/rust", "Old"]),
            None,
        );
        assert_eq!(
            changes,
            [
                Change::Subscribe("INBOX".into()),
                Change::Unsubscribe("Old".into())
            ]
        );
        assert!(plan(&set(&["a"]), &set(&["a"]), None).is_empty());
        assert_eq!(server_name("Lists/rust", Some('.')), "Lists.rust");
    }

    #[test]
    fn a_narrowed_plan_changes_only_the_named_folders() {
        let set = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<BTreeSet<_>>();
        let (want, have) = (set(&["INBOX", "Lists/rust"]), set(&["Old", "Other"]));
        let only = ["Lists/rust".to_owned(), "Old".to_owned()];
        assert_eq!(
            plan(&want, &have, Some(&only)),
            [
                Change::Subscribe("Lists/rust".into()),
                Change::Unsubscribe("Old".into())
            ]
        );
        assert!(plan(&want, &have, Some(&[])).is_empty());
    }
}
