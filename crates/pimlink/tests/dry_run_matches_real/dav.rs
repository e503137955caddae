//! Calendar scenarios: a vdir <-> vdir pair, random events before the first sync (on one side,
//! or on both, the same or different), random changes on both sides after it (new items, also
//! the same one on both sides, edits on one or both sides, deletions, collections added or
//! removed, a lost status), and the check that both sides end equal. The comparison of the two
//! runs is in `main.rs`.

use super::*;

const COLLECTIONS: [&str; 3] = ["c1", "c2", "c3"];

#[derive(Clone, Debug)]
pub(super) enum DavOp {
    /// A new item on `side`, or (`both`) the same new item on both sides.
    New {
        side: bool,
        collection: usize,
        both: bool,
    },
    Delete {
        side: bool,
        pick: usize,
    },
    /// A new SUMMARY for an item of `side`.
    Edit {
        side: bool,
        pick: usize,
    },
    /// The item picked on a edited on both sides: the same way, or differently (a conflict).
    EditBoth {
        pick: usize,
        same: bool,
    },
    AddCollection {
        side: bool,
        collection: usize,
    },
    RemoveCollection {
        side: bool,
        collection: usize,
    },
    /// The status is lost (deleted): the next run matches both sides by UID.
    LoseState,
    /// Sets (or with `value` 0 removes) a collection's `displayname` or `color` on `side`, as
    /// vdirsyncer's metadata files.
    SetMeta {
        side: bool,
        collection: usize,
        color: bool,
        value: usize,
    },
}

#[derive(Clone, Debug)]
pub(super) struct DavScenario {
    /// Items before the first sync: (on a, on b, collection, same text on both).
    initial: Vec<(bool, bool, usize, bool)>,
    ops: Vec<DavOp>,
    conflict: usize,
    on_delete: bool,
    max_delete: usize,
    force: bool,
    /// Index into `DIRECTION_KEYS`; 0 is both ways.
    direction: usize,
    /// Sync `displayname` and `color`.
    metadata: bool,
    /// The compared runs and the ones after them sync only this collection (`sync p/c1`).
    only: Option<usize>,
    /// Index into `COLLECTION_KEYS`.
    collections: usize,
}

/// Which collections the pair syncs: every one of both sides (the default), those matching
/// two patterns, or c1 on a paired with c3 on b under a name of the pair's own, and c2.
const COLLECTION_KEYS: [&str; 3] = [
    "",
    "collections = [\"c1\", \"c2\"]\n",
    "collections = [[\"home\", \"c1\", \"c3\"], \"c2\"]\n",
];

fn dav_op() -> impl Strategy<Value = DavOp> {
    let pick = 0usize..64;
    prop_oneof![
        4 => (any::<bool>(), 0..COLLECTIONS.len(), prop::bool::weighted(0.2))
            .prop_map(|(side, collection, both)| DavOp::New { side, collection, both }),
        3 => (any::<bool>(), pick.clone()).prop_map(|(side, pick)| DavOp::Delete { side, pick }),
        3 => (any::<bool>(), pick.clone()).prop_map(|(side, pick)| DavOp::Edit { side, pick }),
        2 => (pick, any::<bool>()).prop_map(|(pick, same)| DavOp::EditBoth { pick, same }),
        1 => (any::<bool>(), 0..COLLECTIONS.len())
            .prop_map(|(side, collection)| DavOp::AddCollection { side, collection }),
        1 => (any::<bool>(), 0..COLLECTIONS.len())
            .prop_map(|(side, collection)| DavOp::RemoveCollection { side, collection }),
        1 => Just(DavOp::LoseState),
        2 => (any::<bool>(), 0..COLLECTIONS.len(), any::<bool>(), 0usize..3)
            .prop_map(|(side, collection, color, value)| DavOp::SetMeta { side, collection, color, value }),
    ]
}

/// Scenarios whose conflict policy is drawn from `conflict` (report, keep a, keep b), syncing
/// metadata in some if `metadata`.
pub(super) fn dav_scenario(
    conflict: std::ops::Range<usize>,
    metadata: bool,
) -> impl Strategy<Value = DavScenario> {
    let placement = prop_oneof![Just((true, false)), Just((false, true)), Just((true, true)),];
    (
        prop::collection::vec(
            (placement, 0..COLLECTIONS.len(), prop::bool::weighted(0.8)),
            0..10,
        ),
        prop::collection::vec(dav_op(), 1..10),
        conflict,
        any::<bool>(),
        0usize..3,
        prop::bool::weighted(0.25),
        prop_oneof![6 => Just(0usize), 1 => Just(1usize), 1 => Just(2usize)],
        prop::bool::weighted(if metadata { 0.4 } else { 0.0 }),
        prop::option::weighted(0.15, 0..COLLECTIONS.len()),
        prop_oneof![4 => Just(0usize), 1 => Just(1usize), 1 => Just(2usize)],
    )
        .prop_map(
            |(
                initial,
                ops,
                conflict,
                on_delete,
                max_delete,
                force,
                direction,
                metadata,
                only,
                collections,
            )| {
                DavScenario {
                    initial: initial
                        .into_iter()
                        .map(|((a, b), collection, same)| (a, b, collection, same))
                        .collect(),
                    ops,
                    conflict,
                    on_delete,
                    max_delete,
                    force,
                    direction,
                    metadata,
                    only,
                    collections,
                }
            },
        )
}

impl DavScenario {
    fn pair_keys(&self) -> String {
        let mut keys = String::new();
        keys.push_str(
            [
                "",
                "conflict_resolution = \"keep a\"\n",
                "conflict_resolution = \"keep b\"\n",
            ][self.conflict],
        );
        if self.on_delete {
            keys.push_str("on_delete = \"delete\"\n");
        }
        keys.push_str(MAX_DELETE_KEYS[self.max_delete]);
        keys.push_str(DIRECTION_KEYS[self.direction]);
        keys.push_str(COLLECTION_KEYS[self.collections]);
        if self.metadata {
            keys.push_str("metadata = [\"displayname\", \"color\"]\n");
        }
        keys
    }
}

/// Two vdirs `a` and `b` paired as `p`.
pub(super) struct Dav {
    dir: tempfile::TempDir,
    next: usize,
}

impl Dav {
    pub(super) fn new(pair_keys: &str) -> Dav {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let mut config = format!(
            "[general]\nstate_dir = \"{}\"\n\n",
            root.join("state").display()
        );
        for side in SIDES {
            fs::create_dir_all(root.join(side)).unwrap();
            config.push_str(&format!(
                "[storage.{side}]\ntype = \"vdir\"\npath = \"{}\"\nfileext = \".ics\"\n\n",
                root.join(side).display()
            ));
        }
        config.push_str(&format!("[pair.p]\na = \"a\"\nb = \"b\"\n{pair_keys}\n"));
        fs::write(root.join("config.toml"), config).unwrap();
        Dav { dir, next: 0 }
    }

    pub(super) fn run(&self, args: &[&str]) -> Run {
        Run(
            common::pimlink_with(&self.dir.path().join("config.toml"), args)
                .output()
                .unwrap(),
        )
    }

    pub(super) fn snapshot(&self) -> String {
        listing(self.dir.path())
    }

    fn root(&self, side: &str) -> PathBuf {
        self.dir.path().join(side)
    }

    /// Writes item `uid` as an editor would save it: a new file renamed into place.
    pub(super) fn write(&mut self, side: &str, collection: &str, uid: &str, summary: &str) {
        let dir = self.root(side).join(collection);
        fs::create_dir_all(&dir).unwrap();
        let temp = dir.join(format!(".{uid}.tmp"));
        fs::write(&temp, event(uid, summary)).unwrap();
        fs::rename(temp, dir.join(format!("{uid}.ics"))).unwrap();
    }

    /// Every item file of `side`, in a stable order.
    fn files(&self, side: &str) -> Vec<PathBuf> {
        let mut files = Vec::new();
        for collection in fs::read_dir(self.root(side)).unwrap().flatten() {
            if !collection.path().is_dir() {
                continue;
            }
            for item in fs::read_dir(collection.path()).unwrap().flatten() {
                if item.file_name().to_string_lossy().ends_with(".ics") {
                    files.push(item.path());
                }
            }
        }
        files.sort();
        files
    }

    fn pick(&self, side: &str, pick: usize) -> Option<PathBuf> {
        let files = self.files(side);
        (!files.is_empty()).then(|| files[pick % files.len()].clone())
    }

    /// The collection and UID of an item file.
    fn item_of(path: &Path) -> (String, String) {
        let collection = path.parent().unwrap().file_name().unwrap();
        let uid = path.file_stem().unwrap();
        (
            collection.to_string_lossy().into_owned(),
            uid.to_string_lossy().into_owned(),
        )
    }

    pub(super) fn apply(&mut self, op: &DavOp) {
        self.next += 1;
        let summary = format!("edit {}", self.next);
        match *op {
            DavOp::New {
                side,
                collection,
                both,
            } => {
                let uid = format!("n{}", self.next);
                self.write(side_of(side), COLLECTIONS[collection], &uid, "new");
                if both {
                    self.write(other(side_of(side)), COLLECTIONS[collection], &uid, "new");
                }
            }
            DavOp::Delete { side, pick } => {
                if let Some(path) = self.pick(side_of(side), pick) {
                    fs::remove_file(path).unwrap();
                }
            }
            DavOp::Edit { side, pick } => {
                if let Some(path) = self.pick(side_of(side), pick) {
                    let (collection, uid) = Self::item_of(&path);
                    self.write(side_of(side), &collection, &uid, &summary);
                }
            }
            DavOp::EditBoth { pick, same } => {
                if let Some(path) = self.pick("a", pick) {
                    let (collection, uid) = Self::item_of(&path);
                    self.write("a", &collection, &uid, &summary);
                    if self
                        .root("b")
                        .join(&collection)
                        .join(format!("{uid}.ics"))
                        .exists()
                    {
                        let theirs = if same {
                            summary.clone()
                        } else {
                            format!("{summary} on b")
                        };
                        self.write("b", &collection, &uid, &theirs);
                    }
                }
            }
            DavOp::AddCollection { side, collection } => {
                fs::create_dir_all(self.root(side_of(side)).join(COLLECTIONS[collection])).unwrap();
            }
            DavOp::RemoveCollection { side, collection } => {
                let _ = fs::remove_dir_all(self.root(side_of(side)).join(COLLECTIONS[collection]));
            }
            DavOp::LoseState => lose_state(&self.dir.path().join("state")),
            DavOp::SetMeta {
                side,
                collection,
                color,
                value,
            } => {
                let dir = self.root(side_of(side)).join(COLLECTIONS[collection]);
                let (file, values) = if color {
                    ("color", ["", "#ff8800", "#0088ff"])
                } else {
                    ("displayname", ["", "Home", "Work"])
                };
                if !dir.is_dir() {
                    return;
                }
                if value == 0 {
                    let _ = fs::remove_file(dir.join(file));
                } else {
                    fs::write(dir.join(file), values[value]).unwrap();
                }
            }
        }
    }

    /// collection -> uid -> SUMMARY, per side.
    fn items(&self, side: &str) -> BTreeMap<String, BTreeMap<String, String>> {
        let mut out = BTreeMap::new();
        for collection in fs::read_dir(self.root(side)).unwrap().flatten() {
            if collection.path().is_dir() {
                let name = collection.file_name().to_string_lossy().into_owned();
                out.insert(name, items_in(&collection.path()));
            }
        }
        out
    }
}

pub(super) fn check_dav(scenario: &DavScenario) -> Result<(), TestCaseError> {
    let mut dav = Dav::new(&scenario.pair_keys());
    for (n, &(a, b, collection, same)) in scenario.initial.iter().enumerate() {
        let uid = format!("i{n}");
        if a {
            dav.write("a", COLLECTIONS[collection], &uid, "first");
        }
        if b {
            let summary = if same { "first" } else { "first on b" };
            dav.write("b", COLLECTIONS[collection], &uid, summary);
        }
    }
    let snapshot = || dav.snapshot();
    let run = |args: &[&str]| dav.run(args);
    dry_then_real(&run, &snapshot, &[])?;
    for op in &scenario.ops {
        dav.apply(op);
    }
    let only = scenario.only.map(|collection| COLLECTIONS[collection]);
    let flags = sync_flags(scenario.force, only);
    let snapshot = || dav.snapshot();
    let run = |args: &[&str]| dav.run(args);
    let (_, real) = dry_then_real(&run, &snapshot, &strs(&flags))?;
    let again = dav.run(&strs(&follow_up(only)));
    assert_quiet(&again, &real)?;
    // With a conflict policy every item ends equal; without one, conflicts stay as they are.
    // (Compared by directory name: only where the pair syncs every collection as it is named.)
    let whole = scenario.direction == 0 && only.is_none() && scenario.collections == 0;
    if again.code() == 0 && scenario.conflict != 0 && whole {
        let (a, b) = (dav.items("a"), dav.items("b"));
        for (collection, items) in &a {
            if let Some(theirs) = b.get(collection) {
                prop_assert_eq!(
                    items,
                    theirs,
                    "collection {} differs:\n{}",
                    collection,
                    again
                );
            }
        }
    }
    Ok(())
}
