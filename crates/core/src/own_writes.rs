//! The file events pimlink itself causes in a watched local tree, so that the daemon's watcher
//! does not take a sync's own writes for a user's change and sync again (a loop).
//!
//! A local store (Maildir, vdir) calls [`expect`] with the name an event will report *before*
//! it renames, links or removes a file there, and [`unexpect`] if that failed (no event will
//! come); [`during`] does both around one operation. The watcher calls [`take`] for each
//! event: `true` means it was pimlink's own and is consumed, so one expected event hides
//! exactly one event. An event for a name nobody expected is a real change: a mail reader
//! renaming another message during a sync is still seen.
//!
//! The registry is process-wide (the daemon runs its syncs in its own process, on other
//! threads) and off unless a watcher holds a [`Watched`] guard for a root: only names under a
//! watched root are recorded, so a one-shot `sync` pays one atomic load per write, and nothing
//! accumulates for trees nobody watches. Dropping the guard (the watcher task ends or is
//! aborted) forgets everything expected under its root.
//!
//! Expectations are recorded before the write because the kernel may queue the event, and the
//! watcher read it, before the write call returns. An expectation whose event never comes
//! (the directory was not watched yet, the event queue overflowed) would hide a later event of
//! the same name and kind; the watcher calls [`forget_under`] for a directory when it starts
//! watching it and for its whole root after an overflow, so such leftovers do not live on.
//!
//! Directories are never recorded: a folder pimlink creates is reported like any other, and
//! costs the daemon one listing that finds nothing to do.
//!
//! Not here: watching (the binary's `watch::local`), deciding what to sync.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

/// What an event says happened to a name in a directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Event {
    /// The name appeared: created, linked, or renamed into place (`IN_CREATE`,
    /// `IN_MOVED_TO`).
    Arrive,
    /// The name went away: removed, or renamed elsewhere (`IN_DELETE`, `IN_MOVED_FROM`).
    Leave,
}

struct Registry {
    /// The watched roots, one entry per guard (two watchers may share a root).
    roots: Vec<PathBuf>,
    /// How many events of each name and kind are still to come from pimlink's own writes.
    expected: BTreeMap<(PathBuf, Event), u32>,
}

/// True while any root is watched; read without the lock on every write.
static ENABLED: AtomicBool = AtomicBool::new(false);

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    roots: Vec::new(),
    expected: BTreeMap::new(),
});

fn registry() -> MutexGuard<'static, Registry> {
    // A panic while holding the lock leaves counts that are still a valid map.
    REGISTRY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Records pimlink's own writes under `root` while the guard lives.
#[derive(Debug)]
#[must_use = "the root is watched only while the guard lives"]
pub struct Watched {
    root: PathBuf,
}

/// Starts recording pimlink's own writes under `root` (as the stores spell paths: the
/// resolved root they opened).
pub fn watch(root: &Path) -> Watched {
    let mut registry = registry();
    registry.roots.push(root.to_path_buf());
    ENABLED.store(true, Ordering::SeqCst);
    Watched {
        root: root.to_path_buf(),
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        let mut registry = registry();
        if let Some(index) = registry.roots.iter().position(|root| *root == self.root) {
            registry.roots.swap_remove(index);
        }
        if !registry.roots.contains(&self.root) {
            forget_under_locked(&mut registry, &self.root);
        }
        if registry.roots.is_empty() {
            ENABLED.store(false, Ordering::SeqCst);
        }
    }
}

/// Notes that an `event` for `path` is pimlink's own and about to happen. Does nothing unless
/// `path` lies under a watched root.
pub fn expect(path: &Path, event: Event) {
    if !ENABLED.load(Ordering::SeqCst) {
        return;
    }
    let mut registry = registry();
    if registry.roots.iter().any(|root| path.starts_with(root)) {
        *registry
            .expected
            .entry((path.to_path_buf(), event))
            .or_insert(0) += 1;
    }
}

/// Withdraws one [`expect`]ation whose write failed, so that no event will come for it.
pub fn unexpect(path: &Path, event: Event) {
    if !ENABLED.load(Ordering::SeqCst) {
        return;
    }
    take(path, event);
}

/// Runs `write`, expecting `events` from it; withdraws them if it fails.
pub fn during<T, E>(
    events: &[(&Path, Event)],
    write: impl FnOnce() -> Result<T, E>,
) -> Result<T, E> {
    for (path, event) in events {
        expect(path, *event);
    }
    let result = write();
    if result.is_err() {
        for (path, event) in events {
            unexpect(path, *event);
        }
    }
    result
}

/// True if an `event` for `path` was expected (pimlink's own write); consumes it.
pub fn take(path: &Path, event: Event) -> bool {
    if !ENABLED.load(Ordering::SeqCst) {
        return false;
    }
    let mut registry = registry();
    let key = (path.to_path_buf(), event);
    match registry.expected.get_mut(&key) {
        Some(count) if *count > 1 => {
            *count -= 1;
            true
        }
        Some(_) => {
            registry.expected.remove(&key);
            true
        }
        None => false,
    }
}

/// Drops every expectation for a path under `dir` (their events will not come).
pub fn forget_under(dir: &Path) {
    forget_under_locked(&mut registry(), dir);
}

fn forget_under_locked(registry: &mut Registry, dir: &Path) {
    // Paths compare by components, so everything under `dir` sorts right after it.
    let doomed: Vec<(PathBuf, Event)> = registry
        .expected
        .range((dir.to_path_buf(), Event::Arrive)..)
        .map(|(key, _)| key)
        .take_while(|(path, _)| path.starts_with(dir))
        .cloned()
        .collect();
    for key in doomed {
        registry.expected.remove(&key);
    }
}

/// How many events are expected in all (for tests and the daemon's status).
pub fn pending() -> usize {
    registry().expected.values().map(|n| *n as usize).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::io;

    // The registry is process-wide and the tests of this crate share a process, so each test
    // uses roots of its own.

    #[test]
    fn records_nothing_outside_watched_roots_or_when_off() {
        let path = Path::new("/own-writes-test/off/new/k");
        expect(path, Event::Arrive);
        assert!(!take(path, Event::Arrive));
        let _guard = watch(Path::new("/own-writes-test/on"));
        expect(path, Event::Arrive);
        assert!(!take(path, Event::Arrive));
    }

    #[test]
    fn one_expectation_hides_one_event_of_its_name_and_kind() {
        let guard = watch(Path::new("/own-writes-test/one"));
        let old = Path::new("/own-writes-test/one/cur/k:2,S");
        let new = Path::new("/own-writes-test/one/cur/k:2,FS");
        during(&[(old, Event::Leave), (new, Event::Arrive)], || {
            io::Result::Ok(())
        })
        .unwrap();
        // The reader's rename back is not pimlink's.
        assert!(!take(new, Event::Leave));
        assert!(take(old, Event::Leave));
        assert!(take(new, Event::Arrive));
        assert!(!take(new, Event::Arrive));
        drop(guard);
    }

    #[test]
    fn a_failed_write_expects_nothing() {
        let _guard = watch(Path::new("/own-writes-test/failed"));
        let path = Path::new("/own-writes-test/failed/new/k");
        let result: io::Result<()> = during(&[(path, Event::Arrive)], || {
            Err(io::Error::from(io::ErrorKind::NotFound))
        });
        assert!(result.is_err());
        assert!(!take(path, Event::Arrive));
    }

    #[test]
    fn forgetting_a_directory_and_dropping_the_guard_clear_what_is_under_them() {
        let root = Path::new("/own-writes-test/forget");
        let guard = watch(root);
        let inside = root.join("A/new/k");
        let sibling = Path::new("/own-writes-test/forget/A2/new/k");
        expect(&inside, Event::Arrive);
        expect(sibling, Event::Arrive);
        forget_under(&root.join("A"));
        assert!(!take(&inside, Event::Arrive));
        assert!(take(sibling, Event::Arrive));
        expect(sibling, Event::Leave);
        drop(guard);
        let _again = watch(root);
        assert!(!take(sibling, Event::Leave));
    }

    proptest! {
        /// Whatever the interleaving of expectations and events, an event is taken as
        /// pimlink's own exactly as often as it was expected and not yet taken.
        #[test]
        fn takes_match_expectations(ops in proptest::collection::vec((0..3usize, any::<bool>(), any::<bool>()), 0..60)) {
            let root = Path::new("/own-writes-test/prop");
            let _guard = watch(root);
            forget_under(root);
            let mut model: BTreeMap<(usize, bool), u32> = BTreeMap::new();
            for (name, arrive, is_expect) in ops {
                let path = root.join(format!("cur/{name}"));
                let event = if arrive { Event::Arrive } else { Event::Leave };
                let count = model.entry((name, arrive)).or_insert(0);
                if is_expect {
                    expect(&path, event);
                    *count += 1;
                } else {
                    let own = take(&path, event);
                    prop_assert_eq!(own, *count > 0);
                    *count = count.saturating_sub(1);
                }
            }
        }
    }
}
