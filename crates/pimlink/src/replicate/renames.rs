//! Folders renamed on the master, recognised by their MAILBOXID (RFC 8474 OBJECTID, which
//! Cyrus offers) and renamed on the replica before the pass: the replica's folder keeps its
//! messages and UIDs, so nothing is moved or copied again. Without OBJECTID on the master
//! (Dovecot 2.3), or where a rename cannot be followed, the pass itself still finds the
//! messages by content and moves them on the replica.
//!
//! State: the master's MAILBOXIDs by name, after the last pass, in
//! `<pair>.mailbox-ids.json` beside the user's status. Each rename is made on the replica,
//! then in the status (`StatusStore::rename_collections`), and the ids are written last, so
//! that a kill at any point is finished by the next pass: a replica already renamed needs only
//! the status renamed.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use pimlink_core::CollectionName;
use pimlink_core::status::StatusStore;
use pimlink_imap::Client;

use crate::config::StorageConfig;

/// One folder renamed on the replica (or, with a dry run, to be).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// The master renamed `from` to `to`; `on_replica` is false where the replica has
    /// already been renamed (by a parent's rename, or before a crash) and only the status is.
    Rename {
        from: String,
        to: String,
        on_replica: bool,
    },
    /// The replica's `name` is a folder the master deleted, in the way of a rename to its
    /// name: it is renamed to `to`, which the pass then deletes as the master did.
    Aside { name: String, to: String },
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Step::Rename { from, to, .. } => {
                write!(f, "renamed {from:?} to {to:?} (MAILBOXID)")
            }
            Step::Aside { name, to } => write!(
                f,
                "renamed {name:?} to {to:?}: the master deleted it and reused its name"
            ),
        }
    }
}

/// The steps that make the replica's folder names follow the master's renames: `known` is
/// MAILBOXID -> name after the last pass, `master` name -> MAILBOXID now, `replica` the
/// replica's folder names now. Parents come before their children, whose own rename is then
/// only the status's. A rename whose new name holds a folder the master still has (a swap)
/// is left to the pass.
pub fn plan(
    known: &BTreeMap<String, String>,
    master: &BTreeMap<String, String>,
    replica: &BTreeSet<String>,
) -> Vec<Step> {
    let master_ids: BTreeSet<&String> = master.values().collect();
    let known_by_name: BTreeMap<&String, &String> =
        known.iter().map(|(id, name)| (name, id)).collect();
    let mut have = replica.clone();
    let mut steps = Vec::new();
    for (to, id) in master {
        let Some(from) = known.get(id).filter(|from| *from != to) else {
            continue;
        };
        if !have.contains(from) {
            if have.contains(to) {
                steps.push(Step::Rename {
                    from: from.clone(),
                    to: to.clone(),
                    on_replica: false,
                });
            }
            continue;
        }
        if have.contains(to) {
            let deleted_on_master = known_by_name
                .get(to)
                .filter(|old| !master_ids.contains(*old));
            let Some(old) = deleted_on_master else {
                continue;
            };
            let aside = aside_name(to, old, &have);
            move_tree(&mut have, to, &aside);
            steps.push(Step::Aside {
                name: to.clone(),
                to: aside,
            });
        }
        move_tree(&mut have, from, to);
        steps.push(Step::Rename {
            from: from.clone(),
            to: to.clone(),
            on_replica: true,
        });
    }
    steps
}

/// A free name beside `name` for the deleted folder that held it.
fn aside_name(name: &str, id: &str, have: &BTreeSet<String>) -> String {
    let base = format!("{name} (deleted {id})");
    let mut candidate = base.clone();
    let mut n = 1;
    while have.contains(&candidate) {
        n += 1;
        candidate = format!("{base} {n}");
    }
    candidate
}

/// Renames `from` and the names below it to `to` in `names`, as an IMAP RENAME does.
fn move_tree(names: &mut BTreeSet<String>, from: &str, to: &str) {
    let moved: Vec<String> = names
        .iter()
        .filter(|name| under(name, from).is_some())
        .cloned()
        .collect();
    for name in moved {
        names.remove(&name);
        if let Some(rest) = under(&name, from) {
            names.insert(format!("{to}{rest}"));
        }
    }
}

/// What follows `parent` in `name` ("" or "/..."), if `name` is `parent` or below it.
fn under<'n>(name: &'n str, parent: &str) -> Option<&'n str> {
    let rest = name.strip_prefix(parent)?;
    (rest.is_empty() || rest.starts_with('/')).then_some(rest)
}

/// Follows the master's renames on the replica for one user's pair (`pair`, its status in
/// `status_dir`); returns what was done, or would be with `dry_run`. Nothing is done unless
/// both sides are IMAP and the master offers OBJECTID and LIST-STATUS.
pub async fn follow(
    master: &StorageConfig,
    replica: &StorageConfig,
    status_dir: &Path,
    pair: &str,
    dry_run: bool,
) -> Result<Vec<Step>> {
    let (Some(master_options), Some(replica_options)) = (
        super::subscriptions::options(master)?,
        super::subscriptions::options(replica)?,
    ) else {
        return Ok(Vec::new());
    };
    let mut client = Client::connect(master_options)
        .await
        .with_context(|| format!("storage {}", master.name))?;
    if !(client.has("OBJECTID") && client.has("LIST-STATUS")) {
        let _ = client.logout().await;
        return Ok(Vec::new());
    }
    let master_ids = client
        .mailbox_ids()
        .await
        .with_context(|| format!("storage {}: reading the MAILBOXIDs", master.name))?;
    // A failed LOGOUT changes nothing that was read.
    let _ = client.logout().await;
    let master_ids: BTreeMap<String, String> = master_ids
        .into_iter()
        .filter_map(|(entry, id)| Some((super::subscriptions::engine_name(&entry), id?)))
        .collect();
    let ids_path = ids_path(status_dir, pair);
    let known = read_known(&ids_path)?;
    let steps = if known.is_empty() {
        Vec::new()
    } else {
        rename_on_replica(
            replica,
            replica_options,
            status_dir,
            pair,
            &known,
            &master_ids,
            dry_run,
        )
        .await?
    };
    let unchanged = known.len() == master_ids.len()
        && master_ids
            .iter()
            .all(|(name, id)| known.get(id) == Some(name));
    if !dry_run && !unchanged {
        write_known(&ids_path, &master_ids)?;
    }
    Ok(steps)
}

async fn rename_on_replica(
    replica: &StorageConfig,
    options: pimlink_imap::ClientOptions,
    status_dir: &Path,
    pair: &str,
    known: &BTreeMap<String, String>,
    master_ids: &BTreeMap<String, String>,
    dry_run: bool,
) -> Result<Vec<Step>> {
    let context = || format!("storage {}", replica.name);
    let mut client = Client::connect(options).await.with_context(context)?;
    let entries = client.list("", "*").await.with_context(context)?;
    let delimiter = entries.iter().find_map(|entry| entry.delimiter);
    let have: BTreeSet<String> = entries
        .iter()
        .map(super::subscriptions::engine_name)
        .collect();
    let steps = plan(known, master_ids, &have);
    if steps.is_empty() || dry_run {
        let _ = client.logout().await;
        return Ok(steps);
    }
    // The pair's lock too: no other pimlink runs this user meanwhile.
    let mut status = StatusStore::open(status_dir, pair)?;
    for step in &steps {
        let (from, to, on_replica) = match step {
            Step::Rename {
                from,
                to,
                on_replica,
            } => (from, to, *on_replica),
            Step::Aside { name, to } => (name, to, true),
        };
        if on_replica {
            client
                .rename(
                    &super::subscriptions::server_name(from, delimiter),
                    &super::subscriptions::server_name(to, delimiter),
                )
                .await
                .with_context(|| format!("storage {}: {step}", replica.name))?;
        }
        status.rename_collections(
            &CollectionName::new(from.as_str())?,
            &CollectionName::new(to.as_str())?,
        )?;
    }
    let _ = client.logout().await;
    Ok(steps)
}

fn ids_path(status_dir: &Path, pair: &str) -> PathBuf {
    status_dir.join(format!("{pair}.mailbox-ids.json"))
}

/// MAILBOXID -> name as recorded after the last pass; empty before the first.
fn read_known(path: &Path) -> Result<BTreeMap<String, String>> {
    let Some(bytes) =
        crate::atomic_file::read(path).with_context(|| format!("reading {}", path.display()))?
    else {
        return Ok(BTreeMap::new());
    };
    let by_name: BTreeMap<String, String> = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is damaged; delete it to start over", path.display()))?;
    Ok(by_name.into_iter().map(|(name, id)| (id, name)).collect())
}

/// Records the master's folders (name -> MAILBOXID).
fn write_known(path: &Path, by_name: &BTreeMap<String, String>) -> Result<()> {
    let json = serde_json::to_vec_pretty(by_name)?;
    let write = || {
        if let Some(dir) = path.parent() {
            // Owner only, as the rest of the state directory, whatever the umask.
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)?;
        }
        crate::atomic_file::replace(path, &json)
    };
    write().with_context(|| format!("writing {}", path.display()))
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

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    fn rename(from: &str, to: &str, on_replica: bool) -> Step {
        Step::Rename {
            from: from.into(),
            to: to.into(),
            on_replica,
        }
    }

    #[test]
    fn a_renamed_folder_is_renamed_and_an_unchanged_one_is_not() {
        let known = map(&[("i1", "INBOX"), ("w", "Work")]);
        let master = map(&[("INBOX", "i1"), ("Projects", "w")]);
        let steps = plan(&known, &master, &set(&["INBOX", "Work"]));
        assert_eq!(steps, [rename("Work", "Projects", true)]);
    }

    #[test]
    fn children_follow_their_parent_and_need_only_the_status() {
        let known = map(&[("w", "Work"), ("c", "Work/2025")]);
        let master = map(&[("Projects", "w"), ("Projects/2025", "c")]);
        let steps = plan(&known, &master, &set(&["Work", "Work/2025"]));
        assert_eq!(
            steps,
            [
                rename("Work", "Projects", true),
                rename("Work/2025", "Projects/2025", false)
            ]
        );
    }

    #[test]
    fn a_name_the_master_deleted_and_reused_is_moved_aside_first() {
        let known = map(&[("o", "Old"), ("w", "Work")]);
        let master = map(&[("Old", "w")]);
        let steps = plan(&known, &master, &set(&["Old", "Work"]));
        assert_eq!(
            steps,
            [
                Step::Aside {
                    name: "Old".into(),
                    to: "Old (deleted o)".into()
                },
                rename("Work", "Old", true)
            ]
        );
    }

    #[test]
    fn a_swap_and_a_folder_the_replica_lacks_are_left_to_the_pass() {
        let known = map(&[("a", "A"), ("b", "B")]);
        let master = map(&[("A", "b"), ("B", "a")]);
        assert!(plan(&known, &master, &set(&["A", "B"])).is_empty());
        let known = map(&[("w", "Work")]);
        let master = map(&[("Projects", "w")]);
        assert!(plan(&known, &master, &set(&["INBOX"])).is_empty());
    }
}
