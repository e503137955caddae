//! Which directories of a local tree are watched, and what an event on one of them means: pure
//! apart from the [`Inotify`] calls it is given, so that overflows and refused watches can be
//! injected in tests.
//!
//! Two roles: an *items* directory (a maildir's `new/` and `cur/`, a vdir collection) reports
//! each file name that arrives, leaves or is written, which is a change of its collection
//! unless it is pimlink's own (`pimlink_core::own_writes`); a *structure* directory (the root
//! and every directory above the items, down to each maildir folder) reports only directories
//! that appear or go, which means collections may have been created, deleted or renamed. Any
//! change of structure, and any watched directory that goes away, leads to a rescan that
//! watches what is new and drops what is gone; an overflowed queue also forgets pimlink's
//! expected events, which may have been lost with the rest.
//!
//! `tmp/` is never watched: deliveries write there first, and only the rename into `new/` or
//! `cur/` makes a message.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};

use pimlink_core::own_writes::{self, Event};

use super::super::Change;

/// A watch descriptor.
pub(crate) type Wd = i32;

/// What a watched directory is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// The storage's root: its disappearance means anything may have changed.
    Root,
    /// A directory above the items: only directories appearing or going matter.
    Structure,
    /// A directory whose files are the items of `collection`.
    Items {
        /// The collection, as the storage names it.
        collection: String,
        /// Items are edited in place here (vdir files), so a file closed after writing is a
        /// change. Not in a maildir, where a message appears by a rename and is never
        /// rewritten; pimlink itself closes each delivered message only after renaming it
        /// into place, which would look like a reader's write.
        edited_in_place: bool,
    },
}

/// What an inotify event says, reduced to what the watcher needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum What {
    /// A name appeared (`IN_CREATE`, `IN_MOVED_TO`).
    Arrive,
    /// A name went away (`IN_DELETE`, `IN_MOVED_FROM`).
    Leave,
    /// A file was written in place (`IN_CLOSE_WRITE`).
    Written,
    /// The kernel dropped events (`IN_Q_OVERFLOW`).
    Overflow,
    /// The watched directory itself was removed, moved or unmounted, or its watch ended
    /// (`IN_DELETE_SELF`, `IN_MOVE_SELF`, `IN_UNMOUNT`, `IN_IGNORED`).
    Gone,
}

/// One event from the kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RawEvent {
    /// The watch it came from (-1 for an overflow).
    pub(crate) wd: Wd,
    /// What happened.
    pub(crate) what: What,
    /// The name is a directory (`IN_ISDIR`).
    pub(crate) is_dir: bool,
    /// The name in the watched directory, if the event is about one.
    pub(crate) name: Option<OsString>,
}

/// The kernel side of watching, so that tests can refuse a watch or inject an overflow.
pub(crate) trait Inotify {
    /// Watches `dir` for the events of `role`, returning its descriptor (the same one again
    /// for a directory already watched).
    fn add(&mut self, dir: &Path, role: &Role) -> io::Result<Wd>;
    /// Stops watching `wd` (errors are ignored: it may be gone already).
    fn remove(&mut self, wd: Wd);
    /// The next events, waiting until there is at least one.
    fn next_batch(&mut self) -> impl Future<Output = io::Result<Vec<RawEvent>>> + Send;
}

/// What an event asks of the watcher.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Reaction {
    /// The change to report (after debouncing).
    pub(crate) change: Option<Change>,
    /// The set of watched directories must be read again.
    pub(crate) rescan: bool,
}

/// A directory could not be watched because a kernel limit is reached: the tree cannot be
/// watched whole.
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot watch {dir} for changes: {source} (the per-user limit of inotify watches, \
     fs.inotify.max_user_watches, or of inotify memory is reached; raise it with sysctl)"
)]
pub(crate) struct WatchRefused {
    /// The directory.
    pub(crate) dir: String,
    /// The kernel's error.
    #[source]
    pub(crate) source: io::Error,
}

/// The watched directories of one storage.
#[derive(Debug)]
pub(crate) struct Table {
    storage: String,
    root: PathBuf,
    dirs: HashMap<Wd, (PathBuf, Role)>,
    /// pimlink's own writes are recorded for these items directories too: they lie outside
    /// the root (an inbox kept elsewhere).
    outside: HashMap<PathBuf, own_writes::Watched>,
}

impl Table {
    /// Nothing watched yet under `root`, the storage's resolved root.
    pub(crate) fn new(storage: &str, root: &Path) -> Table {
        Table {
            storage: storage.to_owned(),
            root: root.to_path_buf(),
            dirs: HashMap::new(),
            outside: HashMap::new(),
        }
    }

    /// How many directories are watched.
    pub(crate) fn len(&self) -> usize {
        self.dirs.len()
    }

    /// Watches exactly `wanted` (the directories a scan found): adds what is new, drops what
    /// is no longer there. A directory that vanished since the scan is skipped (its parent's
    /// event brings another scan); a refused watch for lack of kernel resources is an error.
    pub(crate) fn apply(
        &mut self,
        wanted: Vec<(PathBuf, Role)>,
        inotify: &mut impl Inotify,
    ) -> Result<(), WatchRefused> {
        let mut dirs = HashMap::with_capacity(wanted.len());
        for (dir, role) in wanted {
            let wd = match inotify.add(&dir, &role) {
                Ok(wd) => wd,
                Err(err) if is_resource_limit(&err) => {
                    return Err(WatchRefused {
                        dir: dir.display().to_string(),
                        source: err,
                    });
                }
                Err(err) => {
                    tracing::debug!(dir = %dir.display(), error = %err, "not watching a directory that cannot be watched now");
                    continue;
                }
            };
            if !self.dirs.contains_key(&wd) {
                // Its earlier events were never seen, so pimlink's expected ones never come.
                own_writes::forget_under(&dir);
            }
            dirs.insert(wd, (dir, role));
        }
        for wd in self.dirs.keys() {
            if !dirs.contains_key(wd) {
                inotify.remove(*wd);
            }
        }
        let mut outside = std::mem::take(&mut self.outside);
        for (dir, role) in dirs.values() {
            if matches!(role, Role::Items { .. }) && !dir.starts_with(&self.root) {
                let guard = outside
                    .remove(dir)
                    .unwrap_or_else(|| own_writes::watch(dir));
                self.outside.insert(dir.clone(), guard);
            }
        }
        self.dirs = dirs;
        Ok(())
    }

    /// What `event` means. Events of pimlink's own writes are consumed here.
    pub(crate) fn react(&self, event: &RawEvent) -> Reaction {
        let storage = || self.storage.clone();
        if event.what == What::Overflow {
            own_writes::forget_under(&self.root);
            for dir in self.outside.keys() {
                own_writes::forget_under(dir);
            }
            return Reaction {
                change: Some(Change::Everything { storage: storage() }),
                rescan: true,
            };
        }
        // Events of a watch already dropped (a rescan, IN_IGNORED after removal) say nothing.
        let Some((dir, role)) = self.dirs.get(&event.wd) else {
            return Reaction::default();
        };
        if event.what == What::Gone {
            let change = match role {
                Role::Root => Change::Everything { storage: storage() },
                _ => Change::Collections { storage: storage() },
            };
            return Reaction {
                change: Some(change),
                rescan: true,
            };
        }
        let Some(name) = &event.name else {
            return Reaction::default();
        };
        match role {
            Role::Root | Role::Structure if event.is_dir && event.what != What::Written => {
                Reaction {
                    change: Some(Change::Collections { storage: storage() }),
                    rescan: true,
                }
            }
            Role::Root | Role::Structure => Reaction::default(),
            Role::Items { collection, .. } => {
                // Hidden files are no items (dot-files in a maildir, vdir temp files), nor are
                // directories inside a collection.
                if event.is_dir || name.as_encoded_bytes().first() == Some(&b'.') {
                    return Reaction::default();
                }
                let own = match event.what {
                    What::Arrive => own_writes::take(&dir.join(name), Event::Arrive),
                    What::Leave => own_writes::take(&dir.join(name), Event::Leave),
                    _ => false,
                };
                Reaction {
                    change: (!own).then(|| Change::Collection {
                        storage: storage(),
                        collection: collection.clone(),
                    }),
                    rescan: false,
                }
            }
        }
    }
}

/// ENOSPC is how `inotify_add_watch` says the watch limit is reached; ENOMEM its memory.
fn is_resource_limit(err: &io::Error) -> bool {
    matches!(
        err.raw_os_error(),
        Some(code) if code == rustix::io::Errno::NOSPC.raw_os_error()
            || code == rustix::io::Errno::NOMEM.raw_os_error()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fake {
        next: Wd,
        known: HashMap<PathBuf, Wd>,
        refuse: Option<PathBuf>,
        removed: Vec<Wd>,
    }

    impl Fake {
        fn new() -> Fake {
            Fake {
                next: 1,
                known: HashMap::new(),
                refuse: None,
                removed: Vec::new(),
            }
        }
    }

    impl Inotify for Fake {
        fn add(&mut self, dir: &Path, _role: &Role) -> io::Result<Wd> {
            if self.refuse.as_deref() == Some(dir) {
                return Err(io::Error::from_raw_os_error(
                    rustix::io::Errno::NOSPC.raw_os_error(),
                ));
            }
            let next = &mut self.next;
            Ok(*self.known.entry(dir.to_path_buf()).or_insert_with(|| {
                *next += 1;
                *next
            }))
        }

        fn remove(&mut self, wd: Wd) {
            self.removed.push(wd);
        }

        async fn next_batch(&mut self) -> io::Result<Vec<RawEvent>> {
            Ok(Vec::new())
        }
    }

    fn items(collection: &str) -> Role {
        Role::Items {
            collection: collection.into(),
            edited_in_place: true,
        }
    }

    fn event(wd: Wd, what: What, is_dir: bool, name: &str) -> RawEvent {
        RawEvent {
            wd,
            what,
            is_dir,
            name: Some(name.into()),
        }
    }

    fn table(root: &Path, fake: &mut Fake) -> Table {
        let mut table = Table::new("local", root);
        table
            .apply(
                vec![
                    (root.to_path_buf(), Role::Root),
                    (root.join("INBOX"), Role::Structure),
                    (root.join("INBOX/new"), items("INBOX")),
                    (root.join("INBOX/cur"), items("INBOX")),
                ],
                fake,
            )
            .unwrap();
        table
    }

    fn everything_and_rescan() -> Reaction {
        Reaction {
            change: Some(Change::Everything {
                storage: "local".into(),
            }),
            rescan: true,
        }
    }

    fn collection(name: &str) -> Option<Change> {
        Some(Change::Collection {
            storage: "local".into(),
            collection: name.into(),
        })
    }

    #[test]
    fn file_events_in_items_directories_are_changes_of_their_collection() {
        let root = Path::new("/tree-test/files");
        let mut fake = Fake::new();
        let table = table(root, &mut fake);
        let new = fake.known[&root.join("INBOX/new")];
        let cur = fake.known[&root.join("INBOX/cur")];
        for what in [What::Arrive, What::Leave, What::Written] {
            let reaction = table.react(&event(cur, what, false, "k:2,S"));
            assert_eq!(reaction.change, collection("INBOX"), "{what:?}");
            assert!(!reaction.rescan);
        }
        // Dot-files and directories inside cur/ are not messages.
        assert_eq!(
            table.react(&event(new, What::Arrive, false, ".x")),
            Reaction::default()
        );
        assert_eq!(
            table.react(&event(new, What::Arrive, true, "d")),
            Reaction::default()
        );
    }

    #[test]
    fn directories_appearing_or_going_above_the_items_mean_collections_and_a_rescan() {
        let root = Path::new("/tree-test/dirs");
        let mut fake = Fake::new();
        let table = table(root, &mut fake);
        let top = fake.known[root];
        let inbox = fake.known[&root.join("INBOX")];
        let collections = Reaction {
            change: Some(Change::Collections {
                storage: "local".into(),
            }),
            ..everything_and_rescan()
        };
        assert_eq!(
            table.react(&event(top, What::Arrive, true, "Archive")),
            collections
        );
        assert_eq!(
            table.react(&event(inbox, What::Leave, true, "sub")),
            collections
        );
        // A file beside the folders (dovecot-uidlist, a keyword file) is nothing.
        assert_eq!(
            table.react(&event(inbox, What::Arrive, false, "dovecot-keywords")),
            Reaction::default()
        );
        // A watched folder that goes away is a change of the collections; the root, of everything.
        let gone = |wd| RawEvent {
            wd,
            what: What::Gone,
            is_dir: false,
            name: None,
        };
        assert_eq!(
            table.react(&gone(fake.known[&root.join("INBOX/cur")])),
            collections
        );
        assert_eq!(table.react(&gone(top)), everything_and_rescan());
        // Events of a watch no longer in the table are stale.
        assert_eq!(
            table.react(&event(999, What::Arrive, false, "k")),
            Reaction::default()
        );
    }

    #[test]
    fn an_overflow_is_everything_and_forgets_expected_own_writes() {
        let root = Path::new("/tree-test/overflow");
        let mut fake = Fake::new();
        let table = table(root, &mut fake);
        let _guard = own_writes::watch(root);
        let path = root.join("INBOX/new/k");
        own_writes::expect(&path, Event::Arrive);
        let overflow = RawEvent {
            wd: -1,
            what: What::Overflow,
            is_dir: false,
            name: None,
        };
        assert_eq!(table.react(&overflow), everything_and_rescan());
        // The expected event may have been among the lost ones: when it comes after all, it
        // is reported (one sync too many) rather than hiding a reader's later event.
        assert!(!own_writes::take(&path, Event::Arrive));
    }

    #[test]
    fn own_writes_are_consumed_and_other_events_still_reported() {
        let root = Path::new("/tree-test/own");
        let mut fake = Fake::new();
        let table = table(root, &mut fake);
        let cur = fake.known[&root.join("INBOX/cur")];
        let _guard = own_writes::watch(root);
        own_writes::expect(&root.join("INBOX/cur/k:2,S"), Event::Leave);
        own_writes::expect(&root.join("INBOX/cur/k:2,FS"), Event::Arrive);
        assert_eq!(
            table.react(&event(cur, What::Leave, false, "k:2,S")).change,
            None
        );
        assert_eq!(
            table
                .react(&event(cur, What::Arrive, false, "k:2,FS"))
                .change,
            None
        );
        // A reader renaming another message meanwhile is reported.
        assert_eq!(
            table
                .react(&event(cur, What::Arrive, false, "j:2,S"))
                .change,
            collection("INBOX")
        );
        // And a second event of the same name is no longer pimlink's.
        assert_eq!(
            table
                .react(&event(cur, What::Arrive, false, "k:2,FS"))
                .change,
            collection("INBOX")
        );
    }

    #[test]
    fn own_writes_are_recognised_in_items_directories_outside_the_root() {
        let root = Path::new("/tree-test/outside/Mail");
        let inbox = Path::new("/tree-test/outside/inbox");
        let mut fake = Fake::new();
        let mut table = Table::new("local", root);
        let _root_guard = own_writes::watch(root);
        table
            .apply(
                vec![
                    (root.to_path_buf(), Role::Root),
                    (inbox.join("new"), items("INBOX")),
                ],
                &mut fake,
            )
            .unwrap();
        let new = fake.known[&inbox.join("new")];
        own_writes::expect(&inbox.join("new/k"), Event::Arrive);
        assert_eq!(
            table.react(&event(new, What::Arrive, false, "k")).change,
            None
        );
        // No longer watched: no longer recorded.
        table
            .apply(vec![(root.to_path_buf(), Role::Root)], &mut fake)
            .unwrap();
        own_writes::expect(&inbox.join("new/j"), Event::Arrive);
        assert!(!own_writes::take(&inbox.join("new/j"), Event::Arrive));
    }

    #[test]
    fn a_refused_watch_is_an_error_and_a_rescan_drops_what_is_gone() {
        let root = Path::new("/tree-test/refused");
        let mut fake = Fake::new();
        let mut table = table(root, &mut fake);
        let cur = fake.known[&root.join("INBOX/cur")];
        table
            .apply(
                vec![
                    (root.to_path_buf(), Role::Root),
                    (root.join("INBOX"), Role::Structure),
                    (root.join("INBOX/new"), items("INBOX")),
                ],
                &mut fake,
            )
            .unwrap();
        assert_eq!(fake.removed, vec![cur]);
        assert_eq!(table.len(), 3);
        fake.refuse = Some(root.join("Archive"));
        let err = table
            .apply(vec![(root.join("Archive"), Role::Structure)], &mut fake)
            .unwrap_err();
        assert!(err.to_string().contains("max_user_watches"), "{err}");
    }
}
