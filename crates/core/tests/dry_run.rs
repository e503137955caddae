//! A dry run shows exactly what a real run does (issue 13): random Maildir<->Maildir scenarios
//! (a first sync, then changes on both sides and damage to the status), each run once dry and
//! then for real from the same state, must
//!
//! 1. plan the same: every observer call but `action_done`/`action_failed` (collections, item
//!    plans with their row ids and keys, moves, held-back counts) is the same in both runs;
//! 2. report the same: counts, errors, refusals, late copies (but whether one was removed);
//! 3. do in the real run what was shown: each collection's `action_done` and `action_failed`
//!    together are the actions its plan showed;
//! 4. change nothing in the dry run: both sides' files and the status are as before.
//!
//! The dry run goes through `Pair::sync` as the binary calls it, so it makes its own copy of the
//! status. Both runs are in-process and use the same temp dirs, one after the other.

// Test helpers outside #[test] fns are not covered by clippy.toml's allow-unwrap-in-tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;

use pimlink_core::mail::exec::{Pair, PairReport, RunOptions};
use pimlink_core::mail::plan::{CollectionPlan, ItemAction, ItemPlan};
use pimlink_core::mail::status::StatusChange;
use pimlink_core::mail::{Mail, MailStore};
use pimlink_core::policy::{Limits, MaxDelete, OnEmpty, SyncPolicy};
use pimlink_core::run::Observer;
use pimlink_core::status::StatusStore;
use pimlink_core::{
    CollectionName, Content, Error, Flag, Flags, ItemData, ItemKey, Known, NewItem, PerSide, Side,
};
use pimlink_maildir::{Layout, Maildir};
use proptest::prelude::*;

const FOLDERS: [&str; 2] = ["INBOX", "Work"];

fn name(text: &str) -> CollectionName {
    CollectionName::new(text).unwrap()
}

/// A message: which body (a few bodies, so that identical copies occur) and its flags.
#[derive(Clone, Debug)]
struct Message {
    body: u8,
    seen: bool,
    flagged: bool,
}

impl Message {
    fn flags(&self) -> Flags {
        let mut flags = Flags::new();
        if self.seen {
            flags = flags.with(Flag::Seen);
        }
        if self.flagged {
            flags = flags.with(Flag::Flagged);
        }
        flags
    }

    fn content(&self) -> Vec<u8> {
        format!(
            "From: a@example.org\r\nSubject: message {}\r\n\r\nbody {}\r\n",
            self.body, self.body
        )
        .into_bytes()
    }
}

/// One change made between the first sync and the runs compared.
#[derive(Clone, Debug)]
enum Change {
    /// A new message in a folder of a side.
    Add(Side, usize, Message),
    /// The `n`th message (of the folder's listing, modulo its length) is deleted.
    Delete(Side, usize, usize),
    /// Its flags are replaced.
    Flags(Side, usize, usize, Message),
    /// It is moved to the other folder.
    Move(Side, usize, usize),
    /// The status forgets the `n`th row of a folder (a lost pairing).
    ForgetRow(usize, usize),
    /// The status gets a pending copy of the `n`th message of side A's folder towards B that
    /// never landed (an interrupted run), under a key nothing has.
    PendingCopy(usize, usize),
}

#[derive(Clone, Debug)]
struct Scenario {
    /// Per folder, per side: the messages before the first sync.
    initial: Vec<PerSide<Vec<Message>>>,
    /// Whether the first sync runs (otherwise the compared runs are a first sync).
    first_sync: bool,
    changes: Vec<Change>,
    /// `--force`: empty sides and mass deletions go through.
    force: bool,
    /// Side B keeps only its newest `n` messages per folder.
    max_messages: Option<usize>,
}

fn message() -> impl Strategy<Value = Message> {
    (0u8..6, any::<bool>(), any::<bool>()).prop_map(|(body, seen, flagged)| Message {
        body,
        seen,
        flagged,
    })
}

fn side() -> impl Strategy<Value = Side> {
    prop_oneof![Just(Side::A), Just(Side::B)]
}

fn change() -> impl Strategy<Value = Change> {
    let folder = 0..FOLDERS.len();
    prop_oneof![
        (side(), folder.clone(), message()).prop_map(|(s, f, m)| Change::Add(s, f, m)),
        (side(), folder.clone(), 0usize..8).prop_map(|(s, f, n)| Change::Delete(s, f, n)),
        (side(), folder.clone(), 0usize..8, message())
            .prop_map(|(s, f, n, m)| Change::Flags(s, f, n, m)),
        (side(), folder.clone(), 0usize..8).prop_map(|(s, f, n)| Change::Move(s, f, n)),
        (folder.clone(), 0usize..8).prop_map(|(f, n)| Change::ForgetRow(f, n)),
        (folder, 0usize..8).prop_map(|(f, n)| Change::PendingCopy(f, n)),
    ]
}

fn scenario() -> impl Strategy<Value = Scenario> {
    let per_side = (
        prop::collection::vec(message(), 0..5),
        prop::collection::vec(message(), 0..5),
    )
        .prop_map(|(a, b)| PerSide { a, b });
    (
        prop::collection::vec(per_side, FOLDERS.len()),
        any::<bool>(),
        prop::collection::vec(change(), 0..8),
        any::<bool>(),
        prop::option::weighted(0.25, 1usize..4),
    )
        .prop_map(
            |(initial, first_sync, changes, force, max_messages)| Scenario {
                initial,
                first_sync,
                changes,
                force,
                max_messages,
            },
        )
}

/// What the observer saw, in order, as text (`Debug` of the values, so that row ids and keys
/// count). `action_done` and `action_failed` go to `done` per collection instead.
#[derive(Default)]
struct Seen {
    events: Vec<String>,
    shown: BTreeMap<String, Vec<String>>,
    done: BTreeMap<String, Vec<String>>,
}

impl Observer<Mail> for Seen {
    fn collection_planned(&mut self, plan: &CollectionPlan) {
        self.events.push(format!("collection {plan:?}"));
    }
    fn items_planned(&mut self, collection: &CollectionPlan, plan: &ItemPlan) {
        self.events
            .push(format!("items {}: {plan:?}", collection.name_a));
        if plan.refused.is_none() {
            let mut shown: Vec<String> = plan.actions.iter().map(|a| format!("{a:?}")).collect();
            shown.sort();
            self.shown.insert(collection.name_a.to_string(), shown);
        }
    }
    fn matching_by_content(&mut self, collection: &CollectionPlan, items: PerSide<usize>) {
        self.events
            .push(format!("matching {}: {items:?}", collection.name_a));
    }
    fn held_back(&mut self, collection: &CollectionPlan, held: PerSide<usize>) {
        self.events
            .push(format!("held {}: {held:?}", collection.name_a));
    }
    fn move_planned(
        &mut self,
        from: &CollectionPlan,
        to: &CollectionPlan,
        side: Side,
        key: &ItemKey,
    ) {
        self.events.push(format!(
            "move {side} {key}: {} -> {}",
            from.name_a, to.name_a
        ));
    }
    fn action_done(&mut self, collection: &CollectionPlan, action: &ItemAction) {
        self.note_done(collection, action);
    }
    fn action_failed(&mut self, collection: &CollectionPlan, action: &ItemAction, _: &Error) {
        self.note_done(collection, action);
    }
}

impl Seen {
    fn note_done(&mut self, collection: &CollectionPlan, action: &ItemAction) {
        self.done
            .entry(collection.name_a.to_string())
            .or_default()
            .push(format!("{action:?}"));
    }
}

/// A report as the comparison sees it: a late copy's `removed` is left out (a dry run removes
/// none).
fn report_text(report: &PairReport) -> Vec<String> {
    report
        .collections
        .iter()
        .map(|c| {
            let errors: Vec<String> = c.errors.iter().map(|e| e.to_string()).collect();
            let late: Vec<(Side, &ItemKey)> = c
                .details
                .late_copies
                .iter()
                .map(|l| (l.side, &l.key))
                .collect();
            format!(
                "{:?} done {:?} errors {errors:?} refused {:?} late {late:?} unchanged {}",
                c.plan,
                c.done,
                c.refused.is_some(),
                c.details.unchanged
            )
        })
        .collect()
}

/// Every file under `dir` (relative path) with its content.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let relative = path.strip_prefix(root).unwrap().display().to_string();
                out.insert(relative, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// The status's collections and rows, as text.
fn status_text(status: &StatusStore) -> Vec<String> {
    let mut out = Vec::new();
    for collection in status.collections().unwrap() {
        out.push(format!("{collection:?}"));
        for row in status.items(collection.id).unwrap() {
            out.push(format!("  {row:?}"));
        }
    }
    out
}

async fn keys(store: &mut Maildir, folder: &str) -> Vec<ItemKey> {
    let listing = store.list_items(&name(folder), Known::default()).await;
    let mut keys: Vec<ItemKey> = listing
        .map(|l| l.items.into_iter().map(|e| e.key).collect())
        .unwrap_or_default();
    keys.sort();
    keys
}

async fn add(store: &mut Maildir, folder: &str, message: &Message) {
    let item = NewItem {
        data: ItemData {
            content: Content::Bytes(message.content()),
            internal_date: None,
        },
        flags: &message.flags(),
        reserved_key: None,
    };
    store.deliver(&name(folder), item).await.unwrap();
}

/// The `n`th key of a folder (modulo its length), if it holds any.
async fn nth(store: &mut Maildir, folder: &str, n: usize) -> Option<ItemKey> {
    let keys = keys(store, folder).await;
    (!keys.is_empty()).then(|| keys[n % keys.len()].clone())
}

async fn apply_change(
    change: &Change,
    stores: &mut PerSide<Maildir>,
    status: &mut StatusStore,
) -> pimlink_core::Result<()> {
    let folder = |f: usize| FOLDERS[f];
    match change {
        Change::Add(side, f, message) => add(stores.get_mut(*side), folder(*f), message).await,
        Change::Delete(side, f, n) => {
            let store = stores.get_mut(*side);
            if let Some(key) = nth(store, folder(*f), *n).await {
                store.delete(&name(folder(*f)), &key).await?;
            }
        }
        Change::Flags(side, f, n, message) => {
            let store = stores.get_mut(*side);
            if let Some(key) = nth(store, folder(*f), *n).await {
                store
                    .set_flags(&name(folder(*f)), &key, &message.flags())
                    .await?;
            }
        }
        Change::Move(side, f, n) => {
            let store = stores.get_mut(*side);
            let to = folder((*f + 1) % FOLDERS.len());
            if let Some(key) = nth(store, folder(*f), *n).await {
                store.move_item(&name(folder(*f)), &key, &name(to)).await?;
            }
        }
        Change::ForgetRow(f, n) => {
            if let Some(id) = status.find_collection(&name(folder(*f)), &name(folder(*f)))? {
                let rows = status.items(id)?;
                if !rows.is_empty() {
                    let id = rows[n % rows.len()].id;
                    status.apply(&[StatusChange::Remove { id }])?;
                }
            }
        }
        Change::PendingCopy(f, n) => {
            let collection = status.collection_id(&name(folder(*f)), &name(folder(*f)))?;
            if let Some(key) = nth(&mut stores.a, folder(*f), *n).await {
                let rows = status.items(collection)?;
                // A pending row only for a message no row knows on A, as a run would leave it.
                if rows.iter().all(|row| row.key(Side::A) != Some(&key)) {
                    status.apply(&[StatusChange::BeginCopy {
                        collection,
                        to: Side::B,
                        source_key: key,
                        reserved_key: Some(ItemKey::new(format!("never-landed.{n}"))),
                        flags: Flags::new(),
                    }])?;
                }
            }
        }
    }
    for side in [Side::A, Side::B] {
        stores.get_mut(side).flush().await?;
    }
    Ok(())
}

fn policy(scenario: &Scenario) -> SyncPolicy {
    let mut policy = SyncPolicy::both_ways();
    if scenario.force {
        policy.on_empty = OnEmpty::Sync;
        policy.max_delete = MaxDelete::UNLIMITED;
    }
    if let Some(n) = scenario.max_messages {
        policy.limits = Limits {
            near: Some(Side::B),
            max_messages: Some(n),
            ..Limits::default()
        };
    }
    policy
}

async fn sync(
    stores: &mut PerSide<Maildir>,
    status: &mut StatusStore,
    scenario: &Scenario,
    dry_run: bool,
) -> (Seen, PairReport) {
    let mut seen = Seen::default();
    let (a, b) = (&mut stores.a, &mut stores.b);
    let report = Pair {
        a,
        b,
        status,
        policy: policy(scenario),
    }
    .sync(
        |_| true,
        RunOptions {
            dry_run,
            force: scenario.force,
        },
        &mut seen,
    )
    .await
    .unwrap();
    (seen, report)
}

async fn check(scenario: Scenario) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let root = PerSide {
        a: dir.path().join("a"),
        b: dir.path().join("b"),
    };
    let mut stores = PerSide {
        a: Maildir::open(&root.a, Layout::Verbatim).unwrap(),
        b: Maildir::open(&root.b, Layout::Verbatim).unwrap(),
    };
    let mut status = StatusStore::open(&dir.path().join("state"), "pair").unwrap();
    for (folder, messages) in FOLDERS.iter().zip(&scenario.initial) {
        for side in [Side::A, Side::B] {
            let store = stores.get_mut(side);
            store.create_collection(&name(folder)).await.unwrap();
            for message in messages.get(side) {
                add(store, folder, message).await;
            }
            store.flush().await.unwrap();
        }
    }
    if scenario.first_sync {
        sync(&mut stores, &mut status, &scenario, false).await;
    }
    for change in &scenario.changes {
        apply_change(change, &mut stores, &mut status)
            .await
            .unwrap();
    }

    let before = (files(&root.a), files(&root.b), status_text(&status));
    let (dry, dry_report) = sync(&mut stores, &mut status, &scenario, true).await;
    let after = (files(&root.a), files(&root.b), status_text(&status));
    prop_assert!(before == after, "the dry run changed a side or the status");
    prop_assert!(dry.done.is_empty(), "a dry run carries no action out");

    let (real, real_report) = sync(&mut stores, &mut status, &scenario, false).await;
    prop_assert_eq!(&dry.events, &real.events, "the runs planned differently");
    prop_assert_eq!(
        report_text(&dry_report),
        report_text(&real_report),
        "the runs reported differently"
    );
    for (collection, shown) in &real.shown {
        let mut done = real.done.get(collection).cloned().unwrap_or_default();
        done.sort();
        prop_assert_eq!(
            shown,
            &done,
            "collection {}: the real run did not do what it showed",
            collection
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn a_dry_run_shows_what_the_real_run_then_does(scenario in scenario()) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(check(scenario))?;
    }
}
