//! The per-side options (read-only, expunge, trash, remove): decision tables, and the
//! model-based property test run with random per-side options.

use proptest::prelude::*;

use super::tests::{
    Side_, apply, describe, edit, edit_strategy, entry, flag_multiset, listing, row,
};
use super::*;
use crate::mail::flags::Flag;
use crate::mail::item::ItemKey;
use crate::mail::status::{StatusCollection, StatusItem};
use crate::mail::store::CollectionInfo;
use crate::name::CollectionName;
use crate::policy::{SideOptions, SyncPolicy};
use crate::side::{PerSide, Side};

fn policy(a: SideOptions, b: SideOptions) -> SyncPolicy {
    SyncPolicy {
        sides: PerSide { a, b },
        // Histories may delete most of a side: the deletion-share guard's business.
        max_delete: crate::policy::MaxDelete::UNLIMITED,
        ..SyncPolicy::both_ways()
    }
}

fn keeps_deleted() -> SideOptions {
    SideOptions {
        expunge: false,
        ..SideOptions::default()
    }
}

fn read_only() -> SideOptions {
    SideOptions {
        read_only: true,
        ..SideOptions::default()
    }
}

fn trash(name: &str) -> SideOptions {
    SideOptions {
        trash: Some(CollectionName::new(name).unwrap()),
        ..SideOptions::default()
    }
}

/// Plans one paired item (row 7, recorded flags `was`) next to an untouched pair that keeps
/// both sides non-empty, and describes the actions for row 7 in the words of
/// `tests::describe`, plus a trash folder and a kept row where a delete has them.
fn decide(policy: &SyncPolicy, was: &str, a: Option<&str>, b: Option<&str>) -> String {
    let rows = [row(7, "ka", "kb", was, None), row(8, "oa", "ob", "", None)];
    let mut on_a: Vec<_> = a.iter().map(|f| entry("ka", f)).collect();
    on_a.push(entry("oa", ""));
    let mut on_b: Vec<_> = b.iter().map(|f| entry("kb", f)).collect();
    on_b.push(entry("ob", ""));
    let plan = plan_items(&rows, &on_a, &on_b, policy);
    assert_eq!(plan.refused, None);
    let parts: Vec<String> = plan
        .actions
        .iter()
        .map(|action| {
            let mut text = describe(std::slice::from_ref(action));
            if let ItemAction::Delete {
                trash, keep_row, ..
            } = action
            {
                if let Some(trash) = trash {
                    text.push_str(&format!(" into {trash}"));
                }
                if *keep_row {
                    text.push_str(" keeping row");
                }
            }
            text
        })
        .collect();
    if parts.is_empty() {
        "nothing".to_owned()
    } else {
        parts.join(", ")
    }
}

#[test]
fn expunge_decision_table() {
    let both = SyncPolicy::both_ways();
    let b_keeps = policy(SideOptions::default(), keeps_deleted());
    let none = policy(keeps_deleted(), keeps_deleted());
    let b_trash = policy(SideOptions::default(), trash("Trash"));
    // (policy, recorded flags, A now, B now, expected)
    type Case<'p> = (
        &'p SyncPolicy,
        &'p str,
        Option<&'p str>,
        Option<&'p str>,
        &'p str,
    );
    let cases: &[Case<'_>] = &[
        // A deleted it: B expunges (the default), or only marks it.
        (&both, "S", None, Some("S"), "delete on b"),
        (&b_keeps, "S", None, Some("S"), "flags b=ST agreed=ST"),
        // Marked already (by us or the user): wait for the user to expunge it on B.
        (&b_keeps, "ST", None, Some("ST"), "nothing"),
        (&b_keeps, "S", None, Some("ST"), "nothing"),
        // The user cleared the mark on B: undeleted, so it goes back to A.
        (&b_keeps, "ST", None, Some("S"), "copy b->a replacing"),
        // Expunged on B by the user at last: forgotten.
        (&b_keeps, "ST", None, None, "forget"),
        // Marked \Deleted by the user on A: removed wherever the pair expunges.
        (
            &both,
            "S",
            Some("ST"),
            Some("S"),
            "delete on a, delete on b",
        ),
        (
            &both,
            "ST",
            Some("ST"),
            Some("ST"),
            "delete on a, delete on b",
        ),
        (
            &b_keeps,
            "S",
            Some("ST"),
            Some("S"),
            "flags b=ST agreed=ST, delete on a keeping row",
        ),
        (
            &b_keeps,
            "S",
            Some("S"),
            Some("ST"),
            "flags a=ST agreed=ST, delete on a keeping row",
        ),
        // A side that keeps it and already has the mark: only the expunging side acts.
        (
            &b_keeps,
            "ST",
            Some("ST"),
            Some("ST"),
            "delete on a keeping row",
        ),
        // Neither side expunges: \Deleted is just a flag.
        (&none, "S", Some("ST"), Some("S"), "flags b=ST agreed=ST"),
        (&none, "ST", Some("ST"), Some("ST"), "nothing"),
        // Trash: deletions on B go into B's trash.
        (&b_trash, "S", None, Some("S"), "delete on b into Trash"),
        (
            &b_trash,
            "S",
            Some("ST"),
            Some("S"),
            "delete on a, delete on b into Trash",
        ),
    ];
    for (policy, was, a, b, expected) in cases {
        assert_eq!(
            &decide(policy, was, *a, *b),
            expected,
            "was {was}, a {a:?}, b {b:?}, sides {:?}",
            policy.sides
        );
    }
}

#[test]
fn a_read_only_side_is_never_written_and_its_changes_stay_pending() {
    let b_ro = policy(SideOptions::default(), read_only());
    let cases: &[(&str, Option<&str>, Option<&str>, &str)] = &[
        // Changes on B flow to A.
        ("S", Some("S"), Some("FS"), "flags a=FS agreed=FS"),
        ("S", Some("S"), None, "delete on a"),
        // Changes on A would write B: left pending, the status keeps the old value.
        ("S", Some("FS"), Some("S"), "nothing"),
        ("S", None, Some("S"), "nothing"),
        // \Deleted by the user on A: expunged on A only, B keeps its copy untouched.
        ("S", Some("ST"), Some("S"), "delete on a keeping row"),
    ];
    for (was, a, b, expected) in cases {
        assert_eq!(&decide(&b_ro, was, *a, *b), expected, "a {a:?}, b {b:?}");
    }
    // A new item on A is not copied to B; one on B is copied to A.
    let plan = plan_items(&[], &[entry("a1", "")], &[entry("b1", "")], &b_ro);
    assert_eq!(describe(&plan.actions), "copy b->a");
    // And B gets no collection created.
    assert!(!b_ro.creates_on(Side::B));
    assert!(b_ro.creates_on(Side::A));
}

#[test]
fn changes_waiting_for_a_read_only_side_are_counted() {
    let b_ro = policy(SideOptions::default(), read_only());
    let rows = [row(1, "a1", "b1", "", None), row(2, "a2", "b2", "", None)];
    // A flagged a1, deleted a2 and has a new a3; B flagged b1 too and has a new b9.
    let a = [entry("a1", "F"), entry("a3", "")];
    let b = [entry("b1", "S"), entry("b2", ""), entry("b9", "")];
    let held = held_for_read_only(&rows, &a, &b, &b_ro);
    assert_eq!(held, PerSide { a: 0, b: 3 });
    let both = held_for_read_only(&rows, &a, &b, &SyncPolicy::both_ways());
    assert_eq!(both, PerSide { a: 0, b: 0 }, "only read-only sides count");
}

#[test]
fn the_empty_side_guard_counts_deleted_marks_as_deletions() {
    let b_keeps = policy(SideOptions::default(), keeps_deleted());
    let rows = [row(1, "a1", "b1", "", None), row(2, "a2", "b2", "", None)];
    let b = [entry("b1", ""), entry("b2", "")];
    let plan = plan_items(&rows, &[], &b, &b_keeps);
    assert!(
        matches!(plan.refused, Some(Refusal::EmptySide { deletions: 2, .. })),
        "{plan:?}"
    );
}

#[test]
fn the_trash_folder_itself_deletes_for_good() {
    let b_trash = policy(SideOptions::default(), trash("Trash"));
    let name = |n: &str| CollectionName::new(n).unwrap();
    let inbox = b_trash.in_collection(&name("INBOX"), &name("INBOX"));
    assert_eq!(inbox.sides.b.trash, Some(name("Trash")));
    let in_trash = b_trash.in_collection(&name("Trash"), &name("Trash"));
    assert_eq!(in_trash.sides.b.trash, None);
    assert_eq!(
        decide(&in_trash, "S", None, Some("S")),
        "delete on b",
        "not moved into itself"
    );
}

#[test]
fn removed_collections_are_planned_only_where_asked_and_never_inbox() {
    let info = |n: &str| CollectionInfo {
        name: CollectionName::new(n).unwrap(),
        selectable: true,
    };
    let known = |n: &str, id| StatusCollection {
        id,
        name_a: CollectionName::new(n).unwrap(),
        name_b: CollectionName::new(n).unwrap(),
    };
    // Old and INBOX were deleted on A; New appeared on A.
    let a = [info("Kept"), info("New")];
    let b = [info("Kept"), info("Old"), info("INBOX")];
    let known = [known("Kept", 1), known("Old", 2), known("INBOX", 3)];
    let removing = policy(
        SideOptions::default(),
        SideOptions {
            remove: true,
            ..SideOptions::default()
        },
    );
    let got: Vec<String> = plan_collections(&a, &b, &known, |_| true, &removing)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        got,
        [
            "collection INBOX: create on a, then sync",
            "collection Kept: sync",
            "collection New: create on b, then sync",
            "collection Old: remove on b (deleted on a)",
        ]
    );
    // Without `remove`, or on a read-only side, or without deletions: recreated.
    for policy in [
        SyncPolicy::both_ways(),
        policy(
            SideOptions::default(),
            SideOptions {
                remove: true,
                read_only: true,
                ..SideOptions::default()
            },
        ),
        SyncPolicy {
            operations: crate::policy::Operations {
                delete: false,
                ..Default::default()
            },
            ..removing.clone()
        },
    ] {
        let plans = plan_collections(&a, &b, &known, |_| true, &policy);
        let old = plans.iter().find(|p| p.name_a.as_str() == "Old").unwrap();
        assert!(
            !matches!(old.step, CollectionStep::Remove(_)),
            "{old} with {policy:?}"
        );
    }
}

#[test]
fn a_side_that_lost_every_known_collection_removes_nothing() {
    let info = |n: &str| CollectionInfo {
        name: CollectionName::new(n).unwrap(),
        selectable: true,
    };
    let known: Vec<StatusCollection> = ["Old", "Other"]
        .iter()
        .zip(1..)
        .map(|(n, id)| StatusCollection {
            id,
            name_a: CollectionName::new(*n).unwrap(),
            name_b: CollectionName::new(*n).unwrap(),
        })
        .collect();
    let removing = policy(
        SideOptions::default(),
        SideOptions {
            remove: true,
            ..SideOptions::default()
        },
    );
    // A lists nothing it listed before (a wiped tree, a confused server): recreated, so that
    // the empty-side guard looks at the items.
    let b = [info("Old"), info("Other")];
    let got: Vec<String> = plan_collections(&[info("Fresh")], &b, &known, |_| true, &removing)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        got,
        [
            "collection Fresh: create on b, then sync",
            "collection Old: create on a, then sync",
            "collection Other: create on a, then sync",
        ]
    );
    // One known collection left on A: the other one was deleted on purpose.
    let plans = plan_collections(&[info("Other")], &b, &known, |_| true, &removing);
    assert_eq!(plans[0].step, CollectionStep::Remove(Side::B));
}

#[test]
fn a_removal_needs_every_message_paired() {
    let b_trash = policy(SideOptions::default(), trash("Trash"));
    let rows = [
        row(1, "a1", "b1", "", None),
        row(2, "a2", "b2", "", Some(Side::B)),
    ];
    // Empty: removed as it is.
    let plan = plan_removal(&rows, Side::B, &[], &b_trash).unwrap();
    assert!(plan.actions.is_empty());
    // Only paired messages: deleted first, into the trash.
    let plan = plan_removal(&rows, Side::B, &[entry("b1", "S")], &b_trash).unwrap();
    assert_eq!(
        plan.actions,
        [ItemAction::Delete {
            id: 1,
            side: Side::B,
            key: ItemKey::new("b1"),
            trash: Some(CollectionName::new("Trash").unwrap()),
            keep_row: false,
        }]
    );
    // A message the status does not know, or a copy still pending: kept.
    assert_eq!(
        plan_removal(
            &rows,
            Side::B,
            &[entry("b1", ""), entry("b9", "")],
            &b_trash
        ),
        None
    );
    assert_eq!(
        plan_removal(&rows, Side::B, &[entry("b2", "")], &b_trash),
        None
    );
}

fn side_options() -> impl Strategy<Value = SideOptions> {
    (any::<bool>(), any::<bool>()).prop_map(|(read_only, expunge)| SideOptions {
        read_only,
        expunge,
        ..SideOptions::default()
    })
}

fn untrashed(side: &Side_) -> Vec<(String, String)> {
    side.iter()
        .filter(|(_, f)| !f.contains(Flag::Trashed))
        .map(|(k, f)| (k.clone(), f.to_status_text()))
        .collect()
}

proptest! {
    /// Any history of edits under any per-side options: a read-only side is never changed, a
    /// second plan is empty, and (with both sides writable) every message not marked \Deleted
    /// is paired with an identical one on the other side.
    #[test]
    fn any_history_with_side_options_settles(
        a_options in side_options(),
        b_options in side_options(),
        rounds in proptest::collection::vec(proptest::collection::vec(edit_strategy(), 0..8), 1..6)
    ) {
        let policy = policy(a_options, b_options);
        let (mut a, mut b, mut status, mut next) =
            (Side_::new(), Side_::new(), Vec::<StatusItem>::new(), 0i64);
        for round in &rounds {
            for e in round {
                edit(e, &mut a, &mut b, &mut next);
            }
            let plan = plan_items(&status, &listing(&a), &listing(&b), &policy);
            if plan.refused.is_some() {
                // The guard's own business (a side emptied by expunges); not this test's.
                return Ok(());
            }
            let (before_a, before_b) = (a.clone(), b.clone());
            apply(&plan, &mut a, &mut b, &mut status, &mut next);
            if policy.sides.a.read_only {
                prop_assert_eq!(&a, &before_a);
            }
            if policy.sides.b.read_only {
                prop_assert_eq!(&b, &before_b);
            }
            let again = plan_items(&status, &listing(&a), &listing(&b), &policy);
            prop_assert!(again.actions.is_empty(), "{:?}", again.actions);
            if !policy.sides.a.read_only && !policy.sides.b.read_only {
                for (side, this, other) in [(Side::A, &a, &b), (Side::B, &b, &a)] {
                    for (key, flags) in untrashed(this) {
                        let row = status
                            .iter()
                            .find(|r| r.key(side).map(ItemKey::as_str) == Some(key.as_str()));
                        prop_assert!(row.is_some(), "{key} on {side} unpaired");
                        let theirs = row
                            .and_then(|r| r.key(side.other()))
                            .and_then(|k| other.get(k.as_str()))
                            .map(|f| f.to_status_text());
                        prop_assert_eq!(theirs, Some(flags), "{} on {}", key, side);
                    }
                }
            }
        }
    }
}

/// Where a simulated kill stops the executor (which runs forgets, flag changes, copies and
/// deletions in that order, recording each group in the status only after it is on the sides).
#[derive(Clone, Copy, Debug)]
enum Kill {
    /// After the flag changes reached the sides, before the status recorded them.
    FlagsUnrecorded,
    /// After the flag changes were recorded, before any copy or deletion.
    AfterFlags,
    /// After the deletions reached the sides, before the status recorded them.
    DeletesUnrecorded,
}

/// Carries out `plan` up to `kill`, as [`apply`] would but with the status changes of the
/// interrupted group missing.
fn apply_until(
    plan: &ItemPlan,
    kill: Kill,
    a: &mut Side_,
    b: &mut Side_,
    status: &mut Vec<StatusItem>,
    next: &mut i64,
) {
    let group = |action: &ItemAction| match action {
        ItemAction::Forget { .. } => 0,
        ItemAction::Flags { .. } => 1,
        ItemAction::Copy { .. } => 2,
        ItemAction::Delete { .. } | ItemAction::Discard { .. } => 3,
        ItemAction::Expire { .. } => 4,
    };
    let (recorded, on_sides_only) = match kill {
        Kill::FlagsUnrecorded => (0, Some(1)),
        Kill::AfterFlags => (1, None),
        Kill::DeletesUnrecorded => (2, Some(3)),
    };
    let part = |wanted: &dyn Fn(usize) -> bool| ItemPlan {
        actions: plan
            .actions
            .iter()
            .filter(|action| wanted(group(action)))
            .cloned()
            .collect(),
        ..ItemPlan::default()
    };
    apply(&part(&|g| g <= recorded), a, b, status, next);
    if let Some(g) = on_sides_only {
        let mut scratch = status.clone();
        apply(&part(&|x| x == g), a, b, &mut scratch, next);
    }
}

/// Plans and applies until nothing is left to do (at most a few rounds).
fn settle(
    policy: &SyncPolicy,
    a: &mut Side_,
    b: &mut Side_,
    status: &mut Vec<StatusItem>,
    next: &mut i64,
) -> bool {
    for _ in 0..4 {
        let plan = plan_items(status, &listing(a), &listing(b), policy);
        if plan.refused.is_some() {
            return false;
        }
        if plan.actions.is_empty() {
            return true;
        }
        apply(&plan, a, b, status, next);
    }
    false
}

fn kill_strategy() -> impl Strategy<Value = Kill> {
    prop_oneof![
        Just(Kill::FlagsUnrecorded),
        Just(Kill::AfterFlags),
        Just(Kill::DeletesUnrecorded),
    ]
}

proptest! {
    // Cheap in-memory runs; the interesting histories (one side expunging, a mark made on the
    // other, a kill in between) are rare, so look at many.
    #![proptest_config(ProptestConfig::with_cases(2048))]

    /// A run killed at a group boundary and then resumed ends where an uninterrupted run ends:
    /// the same messages with the same flags on both sides, under any per-side options.
    #[test]
    fn a_killed_run_resumes_to_the_same_result(
        a_options in side_options(),
        b_options in side_options(),
        setup in proptest::collection::vec(edit_strategy(), 0..10),
        changes in proptest::collection::vec(edit_strategy(), 1..10),
        kill in kill_strategy(),
    ) {
        let policy = policy(a_options, b_options);
        let (mut a, mut b, mut status, mut next) =
            (Side_::new(), Side_::new(), Vec::<StatusItem>::new(), 0i64);
        for e in &setup {
            edit(e, &mut a, &mut b, &mut next);
        }
        if !settle(&policy, &mut a, &mut b, &mut status, &mut next) {
            return Ok(());
        }
        for e in &changes {
            edit(e, &mut a, &mut b, &mut next);
        }
        let plan = plan_items(&status, &listing(&a), &listing(&b), &policy);
        if plan.refused.is_some() {
            return Ok(());
        }
        let (mut a2, mut b2, mut status2, mut next2) =
            (a.clone(), b.clone(), status.clone(), next);
        prop_assert!(settle(&policy, &mut a, &mut b, &mut status, &mut next));
        apply_until(&plan, kill, &mut a2, &mut b2, &mut status2, &mut next2);
        prop_assert!(settle(&policy, &mut a2, &mut b2, &mut status2, &mut next2));
        prop_assert_eq!(flag_multiset(&a2), flag_multiset(&a), "side a");
        prop_assert_eq!(flag_multiset(&b2), flag_multiset(&b), "side b");
    }
}
