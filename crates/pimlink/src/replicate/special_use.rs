//! Special-use attributes (RFC 6154: `\Sent`, `\Drafts`, `\Trash`, `\Junk`, `\Archive`, `\All`,
//! `\Flagged`) are folder metadata the pair runner does not sync, so a replication copies them
//! after each user's pass, as it does subscriptions: each replica folder gets its master
//! folder's attribute, through METADATA's `/private/specialuse` (Cyrus). A replica that cannot
//! take them (no METADATA, or a refusal: Dovecot 2.3 keeps them in its configuration) is
//! reported once per run with the folders concerned; it never fails the pass.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use anyhow::{Context, Result};
use pimlink_imap::{Client, ListEntry};

use crate::config::StorageConfig;

/// One folder whose attribute the replica changes (or, with a dry run, would).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// The folder, with '/' between levels.
    pub folder: String,
    /// The master's attribute, `None` where the master has none.
    pub attribute: Option<String>,
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.attribute {
            Some(attribute) => write!(f, "special-use {attribute} set on {:?}", self.folder),
            None => write!(
                f,
                "undone: special-use removed from {:?}, which has none on the master",
                self.folder
            ),
        }
    }
}

/// What a user's replication of the attributes did.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Made (or, with a dry run, to be made).
    pub changes: Vec<Change>,
    /// Why the replica took none, or some not, with the changes it did not take; `None` if it
    /// took all.
    pub refused: Option<(String, Vec<Change>)>,
}

/// Makes the replica's special-use attributes the master's, for the folders both have
/// (both as one user, see `login::storage_as_user`), leaving the `replica_only` folder alone.
/// Nothing is done unless both sides are IMAP.
pub async fn replicate(
    master: &StorageConfig,
    replica: &StorageConfig,
    replica_only: Option<&str>,
    dry_run: bool,
) -> Result<Outcome> {
    let (Some(master_options), Some(replica_options)) = (
        super::subscriptions::options(master)?,
        super::subscriptions::options(replica)?,
    ) else {
        return Ok(Outcome::default());
    };
    let mut client = Client::connect(master_options)
        .await
        .with_context(|| format!("storage {}", master.name))?;
    let on_master = attributes(&client.list("", "*").await?);
    // A failed LOGOUT changes nothing that was read.
    let _ = client.logout().await;
    let mut client = Client::connect(replica_options)
        .await
        .with_context(|| format!("storage {}", replica.name))?;
    let entries = client.list("", "*").await?;
    let delimiter = entries.iter().find_map(|entry| entry.delimiter);
    // The replica-only folder is the replica's own, its attribute too.
    let names: BTreeSet<String> = entries
        .iter()
        .map(super::subscriptions::engine_name)
        .filter(|name| Some(name.as_str()) != replica_only)
        .collect();
    let changes = plan(&on_master, &attributes(&entries), &names);
    let mut outcome = Outcome::default();
    if changes.is_empty() || dry_run {
        outcome.changes = changes;
    } else if !client.has("METADATA") {
        outcome.refused = Some(("it does not offer METADATA".to_owned(), changes));
    } else {
        let mut refused = Vec::new();
        let mut why = String::new();
        for change in changes {
            let name = super::subscriptions::server_name(&change.folder, delimiter);
            match client
                .set_special_use(&name, change.attribute.as_deref())
                .await
            {
                Ok(()) => outcome.changes.push(change),
                Err(error) if client.is_broken() => {
                    return Err(error).with_context(|| format!("storage {}", replica.name));
                }
                Err(error) => {
                    why = error.to_string();
                    refused.push(change);
                }
            }
        }
        if !refused.is_empty() {
            outcome.refused = Some((why, refused));
        }
    }
    let _ = client.logout().await;
    Ok(outcome)
}

/// The changes that give each folder in `replica_names` the master's attribute.
fn plan(
    master: &BTreeMap<String, String>,
    replica: &BTreeMap<String, String>,
    replica_names: &BTreeSet<String>,
) -> Vec<Change> {
    let mut folders: BTreeSet<&String> = master.keys().collect();
    folders.extend(replica.keys());
    folders
        .into_iter()
        .filter(|folder| replica_names.contains(*folder))
        .filter(|folder| {
            // RFC 6154 names the attributes case-insensitively.
            match (master.get(*folder), replica.get(*folder)) {
                (Some(m), Some(r)) => !m.eq_ignore_ascii_case(r),
                (m, r) => m != r,
            }
        })
        .map(|folder| Change {
            folder: folder.clone(),
            attribute: master.get(folder).cloned(),
        })
        .collect()
}

/// Folder (with '/') -> special-use attribute, of the folders that have one.
fn attributes(entries: &[ListEntry]) -> BTreeMap<String, String> {
    entries
        .iter()
        .filter_map(|entry| {
            Some((
                super::subscriptions::engine_name(entry),
                entry.special_use()?.to_owned(),
            ))
        })
        .collect()
}

/// True the first time in this process a replica storage refuses: the warning is given once
/// per run, not once per user or rolling cycle.
pub fn first_refusal(replica: &str) -> bool {
    static WARNED: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    let mut warned = WARNED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    warned.insert(replica.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_replica_gets_the_masters_attributes_and_loses_its_own() {
        let master = map(&[
            ("Sent", "\\Sent"),
            ("Old", "\\Archive"),
            ("Gone", "\\Trash"),
        ]);
        let replica = map(&[("Sent", "\\SENT"), ("Junk", "\\Junk")]);
        let names: BTreeSet<String> = ["Sent", "Old", "Junk", "INBOX"]
            .iter()
            .map(|n| n.to_string())
            .collect();
        assert_eq!(
            plan(&master, &replica, &names),
            [
                Change {
                    folder: "Junk".into(),
                    attribute: None
                },
                Change {
                    folder: "Old".into(),
                    attribute: Some("\\Archive".into())
                },
            ]
        );
    }

    #[test]
    fn a_refusing_replica_is_reported_once() {
        assert!(first_refusal("special_use test storage"));
        assert!(!first_refusal("special_use test storage"));
    }
}
