//! Mail scenarios: a Maildir <-> Maildir pair (verbatim layout), random messages before the
//! first sync, random changes on both sides after it (what a mail reader or delivery agent
//! does, and what a lost status or an interrupted copy leaves), and the checks that are mail's
//! own (folders created as planned, sides equal at the end). The comparison of the two runs
//! is in `main.rs`.

use super::*;

const FOLDERS: [&str; 4] = ["INBOX", "F", "G", "H"];
/// Flag letters a message may have; most are seen (S), since the limits keep every unseen one.
const FLAG_SETS: [&str; 7] = ["", "S", "S", "FS", "RS", "ST", "DS"];

#[derive(Clone, Debug)]
pub(super) enum MailOp {
    /// A new message; `copy_of` delivers an identical copy of an existing message instead.
    New {
        side: bool,
        folder: usize,
        flags: usize,
        copy_of: Option<usize>,
        /// Over `max_size` (4 KiB of body).
        big: bool,
    },
    Delete {
        side: bool,
        pick: usize,
    },
    Flags {
        side: bool,
        pick: usize,
        flags: usize,
    },
    /// Into another folder of the same side, as a mail reader moves it.
    Move {
        side: bool,
        pick: usize,
        folder: usize,
    },
    /// new/ -> cur/ (seen by a reader) or cur/ -> new/.
    CurNew {
        side: bool,
        pick: usize,
    },
    /// Arrived 60 days ago (the file's mtime is a Maildir message's arrival date).
    Age {
        side: bool,
        pick: usize,
    },
    AddFolder {
        side: bool,
        folder: usize,
    },
    RemoveFolder {
        side: bool,
        folder: usize,
    },
    /// The status is lost (deleted): the next run matches both sides by content.
    LoseState,
    /// What a run killed in the middle of a copy to `to` leaves: the status row of a synced
    /// message marked pending towards `to` (its key there forgotten, as for a side that
    /// chooses keys itself, if `forget_key`), and the copy landed there or not (`landed`).
    /// Only messages not marked \Deleted: a run does not copy those.
    Interrupt {
        pick: usize,
        to: bool,
        forget_key: bool,
        landed: bool,
    },
    /// What an interrupted upload leaves when a later run gave it up and made the copy again:
    /// a record of the given-up copy of a synced message to `to` (made `old`: two hours ago,
    /// else now), and the late copy itself landed next to the one made again (`landed`).
    LateCopy {
        pick: usize,
        to: bool,
        old: bool,
        landed: bool,
    },
}

#[derive(Clone, Debug)]
pub(super) struct MailScenario {
    /// Messages before the first sync: (on a, on b, folder, flags); on both = identical copies.
    initial: Vec<(bool, bool, usize, usize)>,
    ops: Vec<MailOp>,
    /// Pair keys: remove, max_delete, limits.
    remove: bool,
    max_delete: usize,
    limits: usize,
    force: bool,
    sides: Sides,
    /// The compared runs and the ones after them sync only this folder (`sync p/F`).
    only: Option<usize>,
}

/// How the pair may write each side (indices into the `*_KEYS` tables, `DIRECTION_KEYS` in
/// main.rs; 0 is the default), and whether side a has a trash folder.
#[derive(Clone, Copy, Debug, Default)]
struct Sides {
    direction: usize,
    operations: usize,
    expunge: usize,
    read_only: usize,
    trash: bool,
}

const OPERATION_KEYS: [&str; 3] = [
    "",
    "operations = [\"new\", \"flags\"]\n",
    "operations = [\"new\", \"delete\"]\n",
];
const EXPUNGE_KEYS: [&str; 3] = ["", "expunge = []\n", "expunge = [\"a\"]\n"];
const READ_ONLY_KEYS: [&str; 3] = ["", "read_only = [\"a\"]\n", "read_only = [\"b\"]\n"];
/// The limits: none, `max_messages`, `max_age`, `max_size`, on side b.
const LIMIT_KEYS: [&str; 4] = [
    "",
    "near = \"b\"\nmax_messages = 3\n",
    "near = \"b\"\nmax_age = \"30d\"\n",
    "near = \"b\"\nmax_size = \"2k\"\n",
];

impl Sides {
    /// True if a run leaves both sides with the same messages.
    fn converge(&self) -> bool {
        self.direction == 0 && self.operations == 0 && self.expunge == 0 && self.read_only == 0
    }
}

/// Mostly the defaults, so that most scenarios sync both ways in full; `operations` up to
/// `max_operations` (see `OPERATION_KEYS`).
fn sides(max_operations: usize) -> impl Strategy<Value = Sides> {
    let mostly_default = || prop_oneof![6 => Just(0usize), 1 => Just(1usize), 1 => Just(2usize)];
    (
        mostly_default(),
        mostly_default().prop_map(move |operations| operations.min(max_operations)),
        mostly_default(),
        mostly_default(),
        prop::bool::weighted(0.2),
    )
        .prop_map(|(direction, operations, expunge, read_only, trash)| Sides {
            direction,
            operations,
            expunge,
            read_only,
            trash,
        })
}

fn mail_op() -> impl Strategy<Value = MailOp> {
    let pick = 0usize..64;
    prop_oneof![
        4 => (
            any::<bool>(),
            0..FOLDERS.len(),
            0..FLAG_SETS.len(),
            prop::option::weighted(0.3, 0usize..64),
            prop::bool::weighted(0.2),
        )
            .prop_map(|(side, folder, flags, copy_of, big)| MailOp::New {
                side,
                folder,
                flags,
                copy_of,
                big
            }),
        3 => (any::<bool>(), pick.clone()).prop_map(|(side, pick)| MailOp::Delete { side, pick }),
        3 => (any::<bool>(), pick.clone(), 0..FLAG_SETS.len())
            .prop_map(|(side, pick, flags)| MailOp::Flags { side, pick, flags }),
        2 => (any::<bool>(), pick.clone(), 0..FOLDERS.len())
            .prop_map(|(side, pick, folder)| MailOp::Move { side, pick, folder }),
        1 => (any::<bool>(), pick.clone()).prop_map(|(side, pick)| MailOp::CurNew { side, pick }),
        1 => (any::<bool>(), pick.clone()).prop_map(|(side, pick)| MailOp::Age { side, pick }),
        1 => (any::<bool>(), 0..FOLDERS.len()).prop_map(|(side, folder)| MailOp::AddFolder { side, folder }),
        1 => (any::<bool>(), 0..FOLDERS.len()).prop_map(|(side, folder)| MailOp::RemoveFolder { side, folder }),
        1 => Just(MailOp::LoseState),
        2 => (pick.clone(), any::<bool>(), any::<bool>(), any::<bool>())
            .prop_map(|(pick, to, forget_key, landed)| MailOp::Interrupt { pick, to, forget_key, landed }),
        1 => (pick, any::<bool>(), any::<bool>(), any::<bool>())
            .prop_map(|(pick, to, old, landed)| MailOp::LateCopy { pick, to, old, landed }),
    ]
}

/// Scenarios whose limits are drawn from `limits` (see `LIMIT_KEYS`) and whose `operations`
/// go up to `max_operations` (see `OPERATION_KEYS`).
pub(super) fn mail_scenario(
    limits: std::ops::Range<usize>,
    max_operations: usize,
) -> impl Strategy<Value = MailScenario> {
    let placement = prop_oneof![Just((true, false)), Just((false, true)), Just((true, true)),];
    (
        prop::collection::vec((placement, 0..FOLDERS.len(), 0..FLAG_SETS.len()), 0..10),
        prop::collection::vec(mail_op(), 1..10),
        any::<bool>(),
        0usize..3,
        limits,
        prop::bool::weighted(0.25),
        sides(max_operations),
        prop::option::weighted(0.15, 0..FOLDERS.len()),
    )
        .prop_map(
            |(initial, ops, remove, max_delete, limits, force, sides, only)| MailScenario {
                initial: initial
                    .into_iter()
                    .map(|((a, b), folder, flags)| (a, b, folder, flags))
                    .collect(),
                ops,
                remove,
                max_delete,
                limits,
                force,
                sides,
                only,
            },
        )
}

impl MailScenario {
    fn pair_keys(&self) -> String {
        let mut keys = String::new();
        if self.remove {
            keys.push_str("remove = [\"a\", \"b\"]\n");
        }
        keys.push_str(MAX_DELETE_KEYS[self.max_delete]);
        // The limits apply to a side that receives copies.
        if self.sides.direction != 2 {
            keys.push_str(LIMIT_KEYS[self.limits]);
        }
        let sides = &self.sides;
        keys.push_str(DIRECTION_KEYS[sides.direction]);
        keys.push_str(OPERATION_KEYS[sides.operations]);
        keys.push_str(EXPUNGE_KEYS[sides.expunge]);
        keys.push_str(READ_ONLY_KEYS[sides.read_only]);
        if sides.trash {
            // The trash is left out, as the documentation advises: a run fills it after
            // planning, so the next run would have it to sync.
            keys.push_str("collections = [\"*\", \"!Trash\"]\n");
        }
        keys
    }

    /// True if the limits are on (see `pair_keys`).
    fn limited(&self) -> bool {
        self.limits != 0 && self.sides.direction != 2
    }
}

/// A Maildir world and the messages written into it so far.
pub(super) struct Mail {
    pub(super) world: World,
    /// How many files were written: a number for the next one's name.
    pub(super) next: usize,
}

impl Mail {
    pub(super) fn new(keys: &str) -> Mail {
        Mail {
            world: World::new(keys),
            next: 0,
        }
    }

    /// Gives side a the trash folder `Trash`.
    fn with_trash(self) -> Mail {
        let config = fs::read_to_string(self.world.config()).unwrap();
        let config = config.replacen("\n\n[storage.b]", "\ntrash = \"Trash\"\n\n[storage.b]", 1);
        fs::write(self.world.config(), config).unwrap();
        self
    }

    pub(super) fn run(&self, args: &[&str]) -> Run {
        self.world.run(args)
    }

    fn snapshot(&self) -> String {
        listing(self.world.dir.path())
    }

    /// Writes message `id` into `folder` of `side` under a file name of its own (so that
    /// identical copies can share a folder).
    pub(super) fn write(&mut self, side: &str, folder: &str, id: usize, flags: &str) {
        self.write_sized(side, folder, id, flags, false);
    }

    /// Like `write`; a `big` message has 4 KiB of body.
    fn write_sized(&mut self, side: &str, folder: &str, id: usize, flags: &str, big: bool) {
        let maildir = self.world.root(side).join(folder);
        for sub in ["cur", "new", "tmp"] {
            fs::create_dir_all(maildir.join(sub)).unwrap();
        }
        let body = format!(
            "From: test@example.org\r\nSubject: message m{id}\r\nMessage-ID: <m{id}@test>\r\n\
             \r\nbody of m{id}\r\n{}",
            if big { "x".repeat(4096) } else { String::new() }
        );
        self.next += 1;
        let base = format!("u{}-m{id}", self.next);
        let path = if flags.is_empty() {
            maildir.join("new").join(base)
        } else {
            maildir.join("cur").join(format!("{base}:2,{flags}"))
        };
        fs::write(path, body).unwrap();
    }

    /// Every message file of `side`, in a stable order.
    pub(super) fn files(&self, side: &str) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = maildir_files(&self.world.root(side))
            .into_values()
            .flatten()
            .map(|(_, path)| path)
            .collect();
        files.sort();
        files
    }

    fn pick(&self, side: &str, pick: usize) -> Option<PathBuf> {
        let files = self.files(side);
        (!files.is_empty()).then(|| files[pick % files.len()].clone())
    }

    pub(super) fn apply(&mut self, op: &MailOp) {
        match *op {
            MailOp::New {
                side,
                folder,
                flags,
                copy_of,
                big,
            } => {
                // An identical copy reuses the Message-ID (and so the whole text) of one
                // written before.
                let id = match copy_of {
                    Some(n) if self.next > 0 => n % self.next,
                    _ => 1000 + self.next,
                };
                self.write_sized(side_of(side), FOLDERS[folder], id, FLAG_SETS[flags], big);
            }
            MailOp::Delete { side, pick } => {
                if let Some(path) = self.pick(side_of(side), pick) {
                    fs::remove_file(path).unwrap();
                }
            }
            MailOp::Flags { side, pick, flags } => {
                if let Some(path) = self.pick(side_of(side), pick) {
                    let maildir = path.parent().unwrap().parent().unwrap();
                    let to = maildir.join("cur").join(format!(
                        "{}:2,{}",
                        base_name(&path),
                        FLAG_SETS[flags]
                    ));
                    fs::rename(path, to).unwrap();
                }
            }
            MailOp::Move { side, pick, folder } => {
                if let Some(path) = self.pick(side_of(side), pick) {
                    let to = self.world.root(side_of(side)).join(FOLDERS[folder]);
                    for sub in ["cur", "new", "tmp"] {
                        fs::create_dir_all(to.join(sub)).unwrap();
                    }
                    let sub = path.parent().unwrap().file_name().unwrap().to_owned();
                    let name = path.file_name().unwrap().to_owned();
                    fs::rename(&path, to.join(sub).join(name)).unwrap();
                }
            }
            MailOp::CurNew { side, pick } => {
                if let Some(path) = self.pick(side_of(side), pick) {
                    let maildir = path.parent().unwrap().parent().unwrap();
                    let in_new = path.parent().unwrap().ends_with("new");
                    let to = if in_new {
                        maildir.join("cur").join(format!("{}:2,", base_name(&path)))
                    } else {
                        maildir.join("new").join(base_name(&path))
                    };
                    fs::rename(path, to).unwrap();
                }
            }
            MailOp::Age { side, pick } => {
                if let Some(path) = self.pick(side_of(side), pick) {
                    let old = SystemTime::now() - Duration::from_secs(60 * 86_400);
                    let file = fs::File::options().write(true).open(path).unwrap();
                    file.set_modified(old).unwrap();
                }
            }
            MailOp::AddFolder { side, folder } => {
                let maildir = self.world.root(side_of(side)).join(FOLDERS[folder]);
                for sub in ["cur", "new", "tmp"] {
                    fs::create_dir_all(maildir.join(sub)).unwrap();
                }
            }
            MailOp::RemoveFolder { side, folder } => {
                let _ = fs::remove_dir_all(self.world.root(side_of(side)).join(FOLDERS[folder]));
            }
            MailOp::LoseState => lose_state(&self.world.state_dir()),
            MailOp::Interrupt {
                pick,
                to,
                forget_key,
                landed,
            } => self.interrupt(pick, side_of(to), forget_key, landed),
            MailOp::LateCopy {
                pick,
                to,
                old,
                landed,
            } => self.late_copy(pick, side_of(to), old, landed),
        }
    }

    /// The folders of each side.
    fn folders(&self) -> BTreeMap<&'static str, BTreeSet<String>> {
        SIDES
            .iter()
            .map(|side| {
                let folders = maildir_files(&self.world.root(side)).into_keys().collect();
                (*side, folders)
            })
            .collect()
    }

    /// Both runs, compared; also that the folders the dry run plans to create are the ones
    /// the real run created.
    fn dry_then_real(&self, flags: &[&str]) -> Result<Run, TestCaseError> {
        let before = self.folders();
        let (dry, real) = dry_then_real(&|args| self.run(args), &|| self.snapshot(), flags)?;
        let after = self.folders();
        let mut planned = BTreeSet::new();
        for line in dry.stdout().lines() {
            if let Some(rest) = line.strip_prefix("p: collection ")
                && let Some((name, step)) = rest.split_once(": create on ")
            {
                let side = &step[..1];
                planned.insert((side.to_owned(), name.to_owned()));
            }
        }
        let mut created = BTreeSet::new();
        for side in SIDES {
            for folder in after[side].difference(&before[side]) {
                created.insert((side.to_owned(), folder.clone()));
            }
        }
        // The trash folder is created when a deletion first needs it, which the dry run shows
        // as a deletion "(into Trash)", not as a collection plan.
        if dry.stdout().contains(" (into Trash)") {
            created.remove(&("a".to_owned(), "Trash".to_owned()));
        }
        prop_assert_eq!(
            planned,
            created,
            "folders planned for creation (left) and created (right) differ:\n{}",
            real
        );
        Ok(real)
    }
}

/// The flag letters of a Maildir file.
pub(super) fn flags_of(path: &Path) -> String {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    name.split_once(":2,")
        .map(|(_, flags)| flags.to_owned())
        .unwrap_or_default()
}

/// A Maildir file name without its flags part.
pub(super) fn base_name(path: &Path) -> String {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    name.split_once(":2,")
        .map_or(name.clone(), |(base, _)| base.to_owned())
}

/// A tree with each message's copies in a stable order, without the messages marked
/// \Deleted (T): a new one is not copied to a side that would expunge it, so it may stay on
/// one side only; and without the trash folder (not synced).
fn comparable(mut tree: Tree) -> Tree {
    tree.remove("Trash");
    for messages in tree.values_mut() {
        for copies in messages.values_mut() {
            copies.retain(|flags| !flags.contains('T'));
            copies.sort();
        }
        messages.retain(|_, copies| !copies.is_empty());
    }
    tree
}

pub(super) fn check_mail(scenario: &MailScenario) -> Result<(), TestCaseError> {
    let mut mail = Mail::new(&scenario.pair_keys());
    if scenario.sides.trash {
        mail = mail.with_trash();
    }
    for &(a, b, folder, flags) in &scenario.initial {
        let id = mail.next;
        for (on, side) in [(a, "a"), (b, "b")] {
            if on {
                mail.write(side, FOLDERS[folder], id, FLAG_SETS[flags]);
            }
        }
    }
    mail.dry_then_real(&[])?;
    // Interruptions last: what a user does after a run was killed is `pinned.rs`'s business.
    let (interrupts, changes): (Vec<&MailOp>, Vec<&MailOp>) = scenario
        .ops
        .iter()
        .partition(|op| matches!(op, MailOp::Interrupt { .. } | MailOp::LateCopy { .. }));
    for op in changes.into_iter().chain(interrupts) {
        mail.apply(op);
    }
    let only = scenario.only.map(|folder| FOLDERS[folder]);
    let real = mail.dry_then_real(&strs(&sync_flags(scenario.force, only)))?;
    let follow_up = follow_up(only);
    let mut again = mail.run(&strs(&follow_up));
    if scenario.limited() && real.code() != 5 {
        // With limits, the run after an upload is the first to rank it and keeps it whatever
        // its rank (ARCHITECTURE.md, "Ranking"); the run after that may expire it. (And a row
        // forgotten by a run may let a held-back message into the kept set of the next.) So
        // with limits a pair may take two more runs to settle, not more.
        for _ in 0..2 {
            again = mail.run(&strs(&follow_up));
        }
    }
    assert_quiet(&again, &real)?;
    if again.code() == 0 && !scenario.limited() && scenario.sides.converge() && only.is_none() {
        prop_assert_eq!(
            comparable(read_tree(&mail.world.root("a"))),
            comparable(read_tree(&mail.world.root("b"))),
            "the sides differ after the run:\n{}",
            again
        );
    }
    Ok(())
}
