//! Watching a local tree (a Maildir or a vdir storage) with inotify, for the daemon: every
//! maildir folder's `new/` and `cur/` and every vdir collection, and the directories above them
//! so that collections created later are watched too.
//!
//! [`watch`] is the daemon's entry (the shape `watch/mod.rs` describes). It sends
//! `Change::Collection` for a file that arrived, left or was written in a collection,
//! `Change::Collections` when directories appeared or went, and `Change::Everything` when
//! events may have been lost (the kernel's queue overflowed, the root went away); each burst
//! of events on one collection becomes one change (`debounce`). Events that pimlink's own
//! syncs cause are recognised through `pimlink_core::own_writes` and not reported, so a sync
//! does not start another (no loop); a mail reader's rename during a sync still is.
//!
//! If a directory cannot be watched because a kernel limit is reached (the per-user number of
//! watches), the events cannot be read, or the root went away, the watcher sends
//! `Change::Everything` and returns the error: the daemon then polls the storage, and no
//! change goes unseen.
//!
//! Layout: `tree` (what is watched and what an event means; pure but for the kernel calls it
//! is given), `inotify` (the kernel's inotify), and here the scan of a tree and the loop.
//! The debouncing is `super::debounce`.
//!
//! Not here: deciding what to sync (the daemon), IMAP and DAV watching.

mod inotify;
#[cfg(test)]
mod tests;
mod tree;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use pimlink_core::MailStore;
use pimlink_core::dav::store::ItemStore;
use pimlink_core::own_writes;
use pimlink_maildir::Maildir;
use pimlink_vdir::Vdir;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::Change;
use super::debounce::Debouncer;
use crate::config::{Config, StorageKind};
use crate::storages::{ItemSide, MailSide};
use tree::{Inotify, Role, Table};

/// Watches the local storage `storage` (a Maildir or a vdir) and sends what changes in it on
/// `tx`, until `tx` is closed. An error means the storage cannot be watched (not local,
/// inotify unavailable, a kernel limit reached): the caller polls it instead.
pub async fn watch(config: Arc<Config>, storage: String, tx: mpsc::Sender<Change>) -> Result<()> {
    let settings = Settings::for_debounce(config.daemon.debounce);
    let source = Source::open(&config, &storage)?;
    let kernel = inotify::Kernel::new().context("inotify is not available")?;
    run(&storage, source, kernel, settings, tx, None).await
}

/// How the watcher groups events into changes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Settings {
    /// A burst on one collection is sent once it was quiet this long...
    pub(crate) quiet: Duration,
    /// ...or this long after it began.
    pub(crate) max_wait: Duration,
}

impl Settings {
    /// The daemon's scheduler waits `debounce` (`[daemon] debounce`) from a change's first
    /// report before it syncs, so the watcher only groups what comes in a fast run (a reader
    /// renaming hundreds of files) and passes it on quickly: a fifth of it quiet, at most the
    /// debounce itself, so that the two waits together stay within twice the debounce.
    pub(crate) fn for_debounce(debounce: Duration) -> Settings {
        Settings {
            quiet: debounce / 5,
            max_wait: debounce,
        }
    }
}

/// The store a watcher lists collections with, so that it names and places them exactly as
/// the sync does (layouts, file extensions).
// One value per watcher; boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Source {
    Maildir(Maildir),
    Vdir(Vdir),
}

impl Source {
    /// Opens the store of `storage` as a sync would.
    pub(crate) fn open(config: &Config, storage: &str) -> Result<Source> {
        let Some(storage_config) = config.storages.get(storage) else {
            bail!("no storage named {storage} in the configuration");
        };
        match &storage_config.kind {
            StorageKind::Maildir(maildir) => match crate::storages::mail::maildir(maildir)? {
                MailSide::Maildir(store) => Ok(Source::Maildir(store)),
                MailSide::Imap(_) => bail!("storage {storage} is not a local tree"),
            },
            StorageKind::Vdir(vdir) => {
                let kind = crate::storages::items::own_kind(config, storage)?;
                match crate::storages::items::vdir(vdir, kind)? {
                    ItemSide::Vdir(store) => Ok(Source::Vdir(store)),
                    _ => bail!("storage {storage} is not a local tree"),
                }
            }
            other => bail!(
                "storage {storage} is of type {}, not a local tree (maildir or vdir)",
                other.type_name()
            ),
        }
    }

    /// The resolved root, as the store spells the paths it writes.
    fn root(&self) -> &Path {
        match self {
            Source::Maildir(store) => store.root(),
            Source::Vdir(store) => store.root(),
        }
    }

    /// Every directory to watch now, with its role.
    async fn scan(&mut self) -> Result<Vec<(PathBuf, Role)>> {
        let root = self.root().to_path_buf();
        let mut wanted = vec![(root.clone(), Role::Root)];
        match self {
            Source::Maildir(store) => {
                structure_below(&root, &mut wanted)?;
                for folder in store.list_collections().await? {
                    if !folder.selectable {
                        continue;
                    }
                    let dir = store.collection_path(&folder.name)?;
                    for sub in ["new", "cur"] {
                        wanted.push((
                            dir.join(sub),
                            Role::Items {
                                collection: folder.name.as_str().to_owned(),
                                edited_in_place: false,
                            },
                        ));
                    }
                }
            }
            Source::Vdir(store) => {
                for collection in store.list_collections().await? {
                    wanted.push((
                        root.join(collection.id.as_str()),
                        Role::Items {
                            collection: collection.id.as_str().to_owned(),
                            edited_in_place: true,
                        },
                    ));
                }
            }
        }
        Ok(wanted)
    }
}

/// Every real directory below `dir` except maildirs' own `cur/`, `new/` and `tmp/` (the items
/// directories are added from the listing): where a new folder can appear, in any layout.
fn structure_below(dir: &Path, wanted: &mut Vec<(PathBuf, Role)>) -> Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        // Gone meanwhile: its parent's event brings another scan.
        Err(err) if err.kind() == std::io::ErrorKind::NotFound && !wanted.is_empty() => {
            return Ok(());
        }
        Err(err) => return Err(err).with_context(|| format!("listing {}", dir.display())),
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if ["cur", "new", "tmp"].iter().any(|sub| name == *sub) {
            continue;
        }
        // Symbolic links are not followed (the stores do not follow them either).
        if entry.file_type().is_ok_and(|kind| kind.is_dir()) {
            let path = entry.path();
            wanted.push((path.clone(), Role::Structure));
            structure_below(&path, wanted)?;
        }
    }
    Ok(())
}

/// The watcher's loop, over any [`Inotify`]; `ready` is told once the first watches are in
/// place (for tests).
pub(crate) async fn run(
    storage: &str,
    mut source: Source,
    mut inotify: impl Inotify,
    settings: Settings,
    tx: mpsc::Sender<Change>,
    ready: Option<oneshot::Sender<()>>,
) -> Result<()> {
    let root = source.root().to_path_buf();
    let _own = own_writes::watch(&root);
    let everything = || Change::Everything {
        storage: storage.to_owned(),
    };
    let mut table = Table::new(storage, &root);
    if let Err(err) = rescan(&mut table, &mut source, &mut inotify).await {
        let _ = tx.send(everything()).await;
        return Err(err);
    }
    tracing::debug!(
        storage,
        watched = table.len(),
        "watching {}",
        root.display()
    );
    if let Some(ready) = ready {
        let _ = ready.send(());
    }
    let mut debouncer = Debouncer::new(settings.quiet, settings.max_wait);
    loop {
        let next_due = debouncer.next_due();
        tokio::select! {
            batch = inotify.next_batch() => {
                let batch = match batch {
                    Ok(batch) => batch,
                    Err(err) => {
                        let _ = tx.send(everything()).await;
                        return Err(err).context("reading inotify events");
                    }
                };
                let now = Instant::now().into_std();
                let mut must_rescan = false;
                for event in &batch {
                    let reaction = table.react(event);
                    if let Some(change) = reaction.change {
                        debouncer.push(change, now);
                    }
                    must_rescan |= reaction.rescan;
                }
                if must_rescan && let Err(err) = rescan(&mut table, &mut source, &mut inotify).await {
                    let _ = tx.send(everything()).await;
                    return Err(err);
                }
            }
            () = sleep_until(next_due) => {}
            () = tx.closed() => return Ok(()),
        }
        for change in debouncer.due(Instant::now().into_std()) {
            if tx.send(change).await.is_err() {
                return Ok(());
            }
        }
    }
}

/// Reads the tree again and watches what it holds now.
async fn rescan(table: &mut Table, source: &mut Source, inotify: &mut impl Inotify) -> Result<()> {
    let wanted = source.scan().await.context("listing the tree to watch")?;
    table.apply(wanted, inotify)?;
    Ok(())
}

/// Waits until `deadline`, or forever without one.
async fn sleep_until(deadline: Option<std::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(Instant::from_std(deadline)).await,
        None => std::future::pending().await,
    }
}
