//! The planner's decision table, and a model-based property test of convergence.
//!
//! One file: the table's rows and the model share the row and entry builders at its top; the
//! limits have their own file (`limits_tests.rs`).

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;
use crate::mail::flags::{Flag, Flags};
use crate::mail::item::{ItemEntry, ItemKey};
use crate::mail::status::StatusItem;
use crate::policy::{Direction, OnEmpty, SyncPolicy};
use crate::side::Side;

pub(super) fn entry(key: &str, flags: &str) -> ItemEntry {
    ItemEntry {
        key: ItemKey::new(key),
        flags: Flags::from_status_text(flags),
        size: None,
    }
}

pub(super) fn row(id: i64, a: &str, b: &str, flags: &str, pending: Option<Side>) -> StatusItem {
    StatusItem {
        id,
        key_a: Some(ItemKey::new(a)),
        key_b: Some(ItemKey::new(b)),
        flags: Flags::from_status_text(flags),
        pending,
        expired: None,
    }
}

#[derive(Clone, Copy, Debug)]
enum Now {
    Absent,
    Same,
    Changed,
}

/// Every combination of (status row or not, pending or not) x (A absent/same/changed) x
/// (B absent/same/changed), with the expected decision written out by hand.
#[test]
fn decision_table() {
    use Now::*;
    let policy = SyncPolicy::both_ways();
    // "S" is the recorded flag; "Changed" on A adds F, on B adds R.
    let listing = |now: Now, key: &str, extra: &str| match now {
        Absent => vec![],
        Same => vec![entry(key, "S")],
        Changed => vec![entry(key, &format!("{extra}S"))],
    };
    type Case = (Option<Option<Side>>, Now, Now, &'static str);
    let cases: &[Case] = &[
        // No status row: an item on one side only is new there.
        (None, Absent, Absent, "nothing"),
        (None, Same, Absent, "copy a->b"),
        (None, Changed, Absent, "copy a->b"),
        (None, Absent, Same, "copy b->a"),
        (None, Absent, Changed, "copy b->a"),
        // Paired items.
        (Some(None), Absent, Absent, "forget"),
        (Some(None), Same, Absent, "delete on a"),
        (Some(None), Changed, Absent, "delete on a"),
        (Some(None), Absent, Same, "delete on b"),
        (Some(None), Absent, Changed, "delete on b"),
        (Some(None), Same, Same, "nothing"),
        (Some(None), Changed, Same, "flags b=FS agreed=FS"),
        (Some(None), Same, Changed, "flags a=RS agreed=RS"),
        (Some(None), Changed, Changed, "flags a=FRS b=FRS agreed=FRS"),
        // A copy to B was in flight: it landed if B has the reserved key.
        (Some(Some(Side::B)), Absent, Absent, "forget"),
        (Some(Some(Side::B)), Same, Absent, "copy a->b replacing"),
        (Some(Some(Side::B)), Changed, Absent, "copy a->b replacing"),
        (Some(Some(Side::B)), Absent, Same, "delete on b"),
        (Some(Some(Side::B)), Absent, Changed, "delete on b"),
        (Some(Some(Side::B)), Same, Same, "flags agreed=S"),
        (Some(Some(Side::B)), Changed, Same, "flags b=FS agreed=FS"),
        (Some(Some(Side::B)), Same, Changed, "flags a=RS agreed=RS"),
        (
            Some(Some(Side::B)),
            Changed,
            Changed,
            "flags a=FRS b=FRS agreed=FRS",
        ),
        // And towards A.
        (Some(Some(Side::A)), Absent, Absent, "forget"),
        (Some(Some(Side::A)), Same, Absent, "delete on a"),
        (Some(Some(Side::A)), Absent, Same, "copy b->a replacing"),
        (Some(Some(Side::A)), Absent, Changed, "copy b->a replacing"),
        (Some(Some(Side::A)), Same, Same, "flags agreed=S"),
        (
            Some(Some(Side::A)),
            Changed,
            Changed,
            "flags a=FRS b=FRS agreed=FRS",
        ),
    ];
    for (status, now_a, now_b, expected) in cases {
        let rows: Vec<StatusItem> = status
            .iter()
            .map(|pending| row(7, "ka", "kb", "S", *pending))
            .collect();
        // Keep a second, untouched pair so that an absent item never makes a side empty (the
        // empty-side guard is tested on its own).
        let mut rows = rows;
        rows.push(row(8, "other-a", "other-b", "", None));
        let mut a = listing(*now_a, "ka", "F");
        a.push(entry("other-a", ""));
        let mut b = listing(*now_b, "kb", "R");
        b.push(entry("other-b", ""));
        let plan = plan_items(&rows, &a, &b, &policy);
        assert_eq!(plan.refused, None);
        let got = describe(&plan.actions);
        assert_eq!(
            &got, expected,
            "status {status:?}, a {now_a:?}, b {now_b:?}"
        );
    }
}

pub(super) fn describe(actions: &[ItemAction]) -> String {
    match actions {
        [] => "nothing".to_owned(),
        [ItemAction::Copy { from, replaces, .. }] => format!(
            "copy {from}->{}{}",
            from.other(),
            if replaces.is_some() { " replacing" } else { "" }
        ),
        [ItemAction::Delete { side, .. }] => format!("delete on {side}"),
        [ItemAction::Forget { .. }] => "forget".to_owned(),
        [
            ItemAction::Flags {
                set_a,
                set_b,
                agreed,
                ..
            },
        ] => {
            let mut parts = vec!["flags".to_owned()];
            if let Some((_, f)) = set_a {
                parts.push(format!("a={}", f.to_status_text()));
            }
            if let Some((_, f)) = set_b {
                parts.push(format!("b={}", f.to_status_text()));
            }
            parts.push(format!("agreed={}", agreed.to_status_text()));
            parts.join(" ")
        }
        more => format!("{more:?}"),
    }
}

#[test]
fn one_way_pairs_neither_push_back_nor_forget_the_blocked_change() {
    let policy = SyncPolicy {
        direction: Direction::AToB,
        ..SyncPolicy::both_ways()
    };
    let rows = [row(1, "a1", "b1", "", None), row(2, "a2", "b2", "", None)];
    // B flagged b1 and deleted b2, and has a new item: none of it may reach A.
    let a = [entry("a1", ""), entry("a2", ""), entry("a3", "S")];
    let b = [entry("b1", "F"), entry("b9", "")];
    let plan = plan_items(&rows, &a, &b, &policy);
    assert_eq!(
        plan.actions,
        vec![ItemAction::Copy {
            from: Side::A,
            key: ItemKey::new("a3"),
            flags: Flags::new().with(Flag::Seen),
            replaces: None,
            size: None,
        }]
    );
}

#[test]
fn empty_side_guard_refuses_mass_deletion() {
    let rows = [row(1, "a1", "b1", "", None), row(2, "a2", "b2", "", None)];
    let b = [entry("b1", ""), entry("b2", "")];
    let plan = plan_items(&rows, &[], &b, &SyncPolicy::both_ways());
    assert_eq!(
        plan.actions.len(),
        2,
        "kept, for move detection; never executed"
    );
    assert_eq!(
        plan.refused,
        Some(Refusal::EmptySide {
            side: Side::A,
            known: 2,
            deletions: 2
        })
    );
    let message = plan.refused.unwrap().to_string();
    assert!(message.contains("--force"), "{message}");

    let forced = SyncPolicy {
        on_empty: OnEmpty::Sync,
        ..SyncPolicy::both_ways()
    };
    let plan = plan_items(&rows, &[], &b, &forced);
    assert_eq!(plan.refused, None);
    assert_eq!(plan.actions.len(), 2);
}

#[test]
fn empty_side_guard_lets_first_sync_and_partial_deletion_through() {
    // Nothing known yet: an empty side just receives copies.
    let plan = plan_items(&[], &[], &[entry("b1", "")], &SyncPolicy::both_ways());
    assert_eq!(plan.refused, None);
    // One side lost one of two items: an ordinary deletion.
    let rows = [row(1, "a1", "b1", "", None), row(2, "a2", "b2", "", None)];
    let plan = plan_items(
        &rows,
        &[entry("a1", "")],
        &[entry("b1", ""), entry("b2", "")],
        &SyncPolicy::both_ways(),
    );
    assert_eq!(plan.refused, None);
    assert_eq!(describe(&plan.actions), "delete on b");
}

#[test]
fn collections_are_created_or_skipped_per_policy() {
    use crate::mail::status::StatusCollection;
    use crate::mail::store::CollectionInfo;
    use crate::name::CollectionName;
    let info = |n: &str, selectable| CollectionInfo {
        name: CollectionName::new(n).unwrap(),
        selectable,
    };
    let a = [
        info("INBOX", true),
        info("Only-a", true),
        info("Parent", false),
    ];
    let b = [
        info("INBOX", true),
        info("Only-b", true),
        info("Junk", true),
    ];
    let known = [StatusCollection {
        id: 1,
        name_a: CollectionName::new("Vanished").unwrap(),
        name_b: CollectionName::new("Vanished").unwrap(),
    }];
    let not_junk = |n: &CollectionName| n.as_str() != "Junk";
    let plans = plan_collections(&a, &b, &known, not_junk, &SyncPolicy::both_ways());
    let got: Vec<String> = plans.iter().map(ToString::to_string).collect();
    assert_eq!(
        got,
        [
            "collection INBOX: sync",
            "collection Only-a: create on b, then sync",
            "collection Only-b: create on a, then sync",
            "collection Vanished: skip (gone from both sides)",
        ]
    );
    let no_create = SyncPolicy {
        create: crate::side::PerSide { a: false, b: true },
        ..SyncPolicy::both_ways()
    };
    let plans = plan_collections(&a, &b, &[], not_junk, &no_create);
    assert!(plans[2].to_string().contains("skip (exists only on side b"));
}

// ---- Model-based property: any history of changes converges, and a second plan is empty. ----

/// An in-memory side: key -> flags.
pub(super) type Side_ = BTreeMap<String, Flags>;

pub(super) fn listing(side: &Side_) -> Vec<ItemEntry> {
    side.iter()
        .map(|(k, f)| ItemEntry {
            key: ItemKey::new(k.clone()),
            flags: f.clone(),
            size: None,
        })
        .collect()
}

/// Applies a plan the way the executor does, to in-memory sides and status.
pub(super) fn apply(
    plan: &ItemPlan,
    a: &mut Side_,
    b: &mut Side_,
    status: &mut Vec<StatusItem>,
    next: &mut i64,
) {
    for action in &plan.actions {
        match action {
            ItemAction::Copy {
                from,
                key,
                flags,
                replaces,
                ..
            } => {
                status.retain(|r| Some(r.id) != *replaces);
                *next += 1;
                let new_key = format!("n{next}");
                let (src_key, dst) = match from {
                    Side::A => (key.clone(), &mut *b),
                    Side::B => (key.clone(), &mut *a),
                };
                dst.insert(new_key.clone(), flags.clone());
                let (ka, kb) = match from {
                    Side::A => (src_key, ItemKey::new(new_key)),
                    Side::B => (ItemKey::new(new_key), src_key),
                };
                status.push(StatusItem {
                    id: *next,
                    key_a: Some(ka),
                    key_b: Some(kb),
                    flags: flags.clone(),
                    pending: None,
                    expired: None,
                });
            }
            ItemAction::Flags {
                id,
                set_a,
                set_b,
                agreed,
            } => {
                if let Some((k, f)) = set_a {
                    a.insert(k.as_str().to_owned(), f.clone());
                }
                if let Some((k, f)) = set_b {
                    b.insert(k.as_str().to_owned(), f.clone());
                }
                let row = status.iter_mut().find(|r| r.id == *id).unwrap();
                row.flags = agreed.clone();
                row.pending = None;
            }
            ItemAction::Delete {
                id,
                side,
                key,
                keep_row,
                ..
            } => {
                match side {
                    Side::A => a.remove(key.as_str()),
                    Side::B => b.remove(key.as_str()),
                };
                if !keep_row {
                    status.retain(|r| r.id != *id);
                }
            }
            ItemAction::Forget { id } => status.retain(|r| r.id != *id),
            ItemAction::Discard { side, key, .. } => {
                match side {
                    Side::A => a.remove(key.as_str()),
                    Side::B => b.remove(key.as_str()),
                };
            }
            ItemAction::Expire { .. } => unreachable!("no limits in these tests"),
        }
    }
}

#[derive(Clone, Debug)]
pub(super) enum Edit {
    New(bool, u8),
    Toggle(bool, usize, u8),
    Delete(bool, usize),
}

pub(super) fn edit_strategy() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<bool>(), 0u8..64).prop_map(|(s, f)| Edit::New(s, f)),
        (any::<bool>(), any::<usize>(), 0u8..6).prop_map(|(s, i, f)| Edit::Toggle(s, i, f)),
        (any::<bool>(), any::<usize>()).prop_map(|(s, i)| Edit::Delete(s, i)),
    ]
}

pub(super) fn edit(e: &Edit, a: &mut Side_, b: &mut Side_, next: &mut i64) {
    let pick = |on_a: bool| if on_a { 0 } else { 1 };
    let sides: [&mut Side_; 2] = [a, b];
    match e {
        Edit::New(on_a, bits) => {
            *next += 1;
            let mut flags = Flags::new();
            for (i, flag) in Flag::ALL.iter().enumerate() {
                flags.set(*flag, bits & (1 << i) != 0);
            }
            sides
                .into_iter()
                .nth(pick(*on_a))
                .unwrap()
                .insert(format!("e{next}"), flags);
        }
        Edit::Toggle(on_a, i, f) => {
            let side = sides.into_iter().nth(pick(*on_a)).unwrap();
            if side.is_empty() {
                return;
            }
            let key = side.keys().nth(i % side.len()).unwrap().clone();
            let flags = side.get_mut(&key).unwrap();
            let flag = Flag::ALL[*f as usize];
            let on = flags.contains(flag);
            flags.set(flag, !on);
        }
        Edit::Delete(on_a, i) => {
            let side = sides.into_iter().nth(pick(*on_a)).unwrap();
            // Never empty a side completely: that is the guard's business, tested above.
            if side.len() < 2 {
                return;
            }
            let key = side.keys().nth(i % side.len()).unwrap().clone();
            side.remove(&key);
        }
    }
}

pub(super) fn flag_multiset(side: &Side_) -> Vec<String> {
    let mut v: Vec<String> = side.values().map(Flags::to_status_text).collect();
    v.sort();
    v
}

proptest! {
    #[test]
    fn any_history_converges_and_second_plan_is_empty(
        rounds in proptest::collection::vec(proptest::collection::vec(edit_strategy(), 0..8), 1..6)
    ) {
        // A round may delete most of a side: the deletion-share guard's business, tested in
        // plan::max_delete, not this test's.
        let policy = SyncPolicy {
            max_delete: crate::policy::MaxDelete::UNLIMITED,
            ..SyncPolicy::both_ways()
        };
        let (mut a_all, mut b_all, mut status, mut next) =
            (Side_::new(), Side_::new(), Vec::new(), 0i64);
        for round in &rounds {
            for e in round {
                edit(e, &mut a_all, &mut b_all, &mut next);
            }
            let plan = plan_items(&status, &listing(&a_all), &listing(&b_all), &policy);
            prop_assert_eq!(plan.refused.clone(), None);
            apply(&plan, &mut a_all, &mut b_all, &mut status, &mut next);
            // A new message marked \Deleted is not copied (both sides expunge): it stays
            // where it is, unpaired. Everything else converges.
            let (a, b) = (paired(&a_all, &status, Side::A), paired(&b_all, &status, Side::B));
            // Converged: same number of items with the same flags, every item paired.
            prop_assert_eq!(a.len(), b.len());
            prop_assert_eq!(status.len(), a.len());
            prop_assert_eq!(flag_multiset(&a), flag_multiset(&b));
            for r in &status {
                let ka = r.key_a.as_ref().unwrap().as_str();
                let kb = r.key_b.as_ref().unwrap().as_str();
                prop_assert_eq!(a.get(ka), b.get(kb));
                prop_assert_eq!(a.get(ka), Some(&r.flags));
            }
            // Idempotent: nothing left to do.
            let again = plan_items(&status, &listing(&a_all), &listing(&b_all), &policy);
            prop_assert!(again.actions.is_empty(), "{:?}", again.actions);
        }
    }
}

/// A keyword one side cannot store is neither removed from the side that has it nor copied to
/// the side that cannot hold it; shared keywords merge as flags do; a pair that ignores
/// keywords leaves every keyword where it is.
#[test]
fn keywords_merge_only_where_both_sides_hold_them() {
    use crate::mail::keywords::{KeywordScope, KeywordSupport, resolve};
    use crate::side::PerSide;
    let policy = SyncPolicy::both_ways();
    let b_support = KeywordSupport::Limited {
        known: ["$Junk".to_owned()].into(),
        room: 0,
        why: "full".into(),
    };
    let on_a = ["$Junk".to_owned(), "big".to_owned()].into();
    let (scope, notes) = resolve(
        PerSide {
            a: &KeywordSupport::Any,
            b: &b_support,
        },
        PerSide {
            a: &on_a,
            b: &Default::default(),
        },
    );
    assert_eq!(notes.len(), 1);
    let status = [row(1, "a1", "b1", "S", None)];
    // A added both keywords; B can store only $Junk.
    let plan = plan_items_scoped(
        &status,
        &[entry("a1", "S $Junk big"), entry("a2", "F big $Junk")],
        &[entry("b1", "S")],
        &policy,
        &scope,
    );
    assert!(plan.actions.contains(&ItemAction::Flags {
        id: 1,
        set_a: None,
        set_b: Some((ItemKey::new("b1"), Flags::from_status_text("S $Junk"))),
        agreed: Flags::from_status_text("S $Junk"),
    }));
    assert!(plan.actions.iter().any(|a| matches!(a,
        ItemAction::Copy { from: Side::A, flags, .. } if *flags == Flags::from_status_text("F $Junk"))));
    // Next run: B still lacks "big"; nothing to do, and "big" stays on A.
    let status = [row(1, "a1", "b1", "S $Junk", None)];
    let plan = plan_items_scoped(
        &status,
        &[entry("a1", "S $Junk big")],
        &[entry("b1", "S $Junk")],
        &policy,
        &scope,
    );
    assert_eq!(plan.actions, []);
    // Ignored keywords: B dropping $Junk is not propagated, A's keywords stay.
    let plan = plan_items_scoped(
        &status,
        &[entry("a1", "S $Junk big")],
        &[entry("b1", "FS")],
        &policy,
        &KeywordScope::none(),
    );
    assert_eq!(
        plan.actions,
        [ItemAction::Flags {
            id: 1,
            set_a: Some((ItemKey::new("a1"), Flags::from_status_text("FS $Junk big"))),
            set_b: None,
            agreed: Flags::from_status_text("FS $Junk"),
        }]
    );
}

fn keyword_flags() -> impl Strategy<Value = Flags> {
    (
        0u8..4,
        proptest::collection::btree_set(proptest::sample::select(vec!["k1", "k2", "k3"]), 0..3),
    )
        .prop_map(|(bits, words)| {
            let mut flags = Flags::new();
            flags.set(Flag::Seen, bits & 1 != 0);
            flags.set(Flag::Flagged, bits & 2 != 0);
            for w in words {
                flags.set_keyword(w, true);
            }
            flags
        })
}

proptest! {
    /// Whatever both sides and the status hold, and whichever keywords side B can store: a
    /// keyword B cannot store keeps its value on each side (never removed from A, never set on
    /// B), the status keeps its old value for it, and a shared keyword follows the three-way
    /// merge. Running the plan once more changes nothing.
    #[test]
    fn keywords_a_side_cannot_store_are_never_changed(
        base in keyword_flags(),
        on_a in keyword_flags(),
        on_b in keyword_flags(),
        known in proptest::collection::btree_set(proptest::sample::select(vec!["k1", "k2", "k3"]), 0..3),
        room in 0usize..3,
    ) {
        use crate::mail::keywords::{KeywordSupport, keywords_of, resolve};
        use crate::side::PerSide;
        let support = KeywordSupport::Limited {
            known: known.iter().map(|k| (*k).to_owned()).collect(),
            room,
            why: "test".into(),
        };
        let words_a = keywords_of([&on_a]);
        let words_b = keywords_of([&on_b]);
        let (scope, _) = resolve(
            PerSide { a: &KeywordSupport::Any, b: &support },
            PerSide { a: &words_a, b: &words_b },
        );
        let policy = SyncPolicy::both_ways();
        let status = [StatusItem {
            id: 1,
            key_a: Some(ItemKey::new("a")),
            key_b: Some(ItemKey::new("b")),
            flags: base.clone(),
            pending: None,
            expired: None,
        }];
        let a = [ItemEntry { key: ItemKey::new("a"), flags: on_a.clone(), size: None }];
        let b = [ItemEntry { key: ItemKey::new("b"), flags: on_b.clone(), size: None }];
        let plan = plan_items_scoped(&status, &a, &b, &policy, &scope);
        let (mut now_a, mut now_b, mut agreed) = (on_a.clone(), on_b.clone(), base.clone());
        for action in &plan.actions {
            if let ItemAction::Flags { set_a, set_b, agreed: new, .. } = action {
                if let Some((_, f)) = set_a { now_a = f.clone(); }
                if let Some((_, f)) = set_b { now_b = f.clone(); }
                agreed = new.clone();
            }
        }
        let has = |f: &Flags, k: &str| f.keywords().any(|x| x == k);
        for k in ["k1", "k2", "k3"] {
            if scope.shared(k) {
                let expected = if has(&on_a, k) != has(&base, k) { has(&on_a, k) } else { has(&on_b, k) };
                prop_assert_eq!(has(&now_a, k), expected, "{}", k);
                prop_assert_eq!(has(&now_b, k), expected, "{}", k);
            } else {
                prop_assert_eq!(has(&now_a, k), has(&on_a, k), "{} changed on a", k);
                prop_assert_eq!(has(&now_b, k), has(&on_b, k), "{} changed on b", k);
                prop_assert_eq!(has(&agreed, k), has(&base, k), "{} changed in the status", k);
            }
            if !scope.holds(Side::B, k) {
                prop_assert!(!has(&now_b, k) || has(&on_b, k));
            }
        }
        let status = [StatusItem { flags: agreed, ..status[0].clone() }];
        let a = [ItemEntry { flags: now_a, ..a[0].clone() }];
        let b = [ItemEntry { flags: now_b, ..b[0].clone() }];
        let again = plan_items_scoped(&status, &a, &b, &policy, &scope);
        prop_assert!(again.actions.is_empty(), "{:?}", again.actions);
    }
}

/// The items of `side` that the status pairs; asserts that every other one is marked
/// \Deleted.
fn paired(side: &Side_, status: &[StatusItem], which: Side) -> Side_ {
    let keys: std::collections::HashSet<&str> = status
        .iter()
        .filter_map(|r| r.key(which).map(ItemKey::as_str))
        .collect();
    let (paired, unpaired): (Side_, Side_) = side
        .clone()
        .into_iter()
        .partition(|(k, _)| keys.contains(k.as_str()));
    assert!(
        unpaired.values().all(|f| f.contains(Flag::Trashed)),
        "unpaired and not marked deleted: {unpaired:?}"
    );
    paired
}
