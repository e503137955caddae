//! The mirror policy (`Direction::Mirror`, `pimlink replicate`): B ends up identical to A
//! whatever happened on either side, and A is never written.

use proptest::prelude::*;

use super::tests::{
    Side_, apply, check_converged, describe, edit, edit_strategy, entry, listing, row,
};
use super::*;
use crate::mail::status::StatusItem;
use crate::name::CollectionName;
use crate::policy::{Direction, MaxDelete, SideOptions, SyncPolicy};
use crate::side::{PerSide, Side};

/// A replication's policy: A read-only, B written, with `replica_only` as B's trash.
fn mirror(replica_only: Option<&str>) -> SyncPolicy {
    SyncPolicy {
        direction: Direction::Mirror,
        max_delete: MaxDelete::UNLIMITED,
        create: PerSide { a: false, b: true },
        sides: PerSide {
            a: SideOptions {
                read_only: true,
                ..SideOptions::default()
            },
            b: SideOptions {
                remove: true,
                trash: replica_only.map(|f| CollectionName::new(f).unwrap()),
                ..SideOptions::default()
            },
        },
        ..SyncPolicy::default()
    }
}

/// Every replica-side change is undone; master changes flow as in a one-way pair.
#[test]
fn replica_changes_are_undone() {
    let policy = mirror(None);
    let keep = (
        row(8, "other-a", "other-b", "", None),
        entry("other-a", ""),
        entry("other-b", ""),
    );
    let cases: &[(&str, Vec<StatusItem>, Vec<_>, Vec<_>, &str)] = &[
        // A message only the replica has: removed.
        (
            "replica-only",
            vec![],
            vec![],
            vec![entry("kb", "S")],
            "discard",
        ),
        // A flag set on the replica: reset to the master's.
        (
            "flag on replica",
            vec![row(7, "ka", "kb", "S", None)],
            vec![entry("ka", "S")],
            vec![entry("kb", "FS")],
            "flags b=S agreed=S",
        ),
        // A flag cleared on the replica while the master set another: the master's flags.
        (
            "both changed",
            vec![row(7, "ka", "kb", "S", None)],
            vec![entry("ka", "RS")],
            vec![entry("kb", "F")],
            "flags b=RS agreed=RS",
        ),
        // Deleted on the replica: copied again.
        (
            "deleted on replica",
            vec![row(7, "ka", "kb", "S", None)],
            vec![entry("ka", "S")],
            vec![],
            "copy a->b replacing",
        ),
        // Deleted on the master: deleted on the replica.
        (
            "deleted on master",
            vec![row(7, "ka", "kb", "S", None)],
            vec![],
            vec![entry("kb", "S")],
            "delete on b",
        ),
        // Marked \Deleted on the master: the replica gets the mark and keeps the message.
        (
            "marked on master",
            vec![row(7, "ka", "kb", "S", None)],
            vec![entry("ka", "ST")],
            vec![entry("kb", "S")],
            "flags b=ST agreed=ST",
        ),
        // New on the master, marked \Deleted: copied with its mark.
        (
            "new marked",
            vec![],
            vec![entry("ka", "T")],
            vec![],
            "copy a->b",
        ),
    ];
    for (what, status, a, b, expected) in cases {
        let mut status = status.clone();
        status.push(keep.0.clone());
        let (mut a, mut b) = (a.clone(), b.clone());
        a.push(keep.1.clone());
        b.push(keep.2.clone());
        let plan = plan_items(&status, &a, &b, &policy);
        assert_eq!(plan.refused, None, "{what}");
        let got = match plan.actions.as_slice() {
            [ItemAction::Discard { side: Side::B, .. }] => "discard".to_owned(),
            actions => describe(actions),
        };
        assert_eq!(&got, expected, "{what}");
        assert!(
            !plan
                .actions
                .iter()
                .any(|action| sides::writes(action, Side::A)),
            "{what}: writes the master: {:?}",
            plan.actions
        );
    }
}

#[test]
fn replica_only_messages_go_to_the_replica_only_folder_and_deletions_do_not() {
    let policy = mirror(Some("Recovered"));
    let status = vec![row(7, "ka", "kb", "S", None), row(8, "xa", "xb", "", None)];
    let a = vec![entry("xa", "")];
    let b = vec![entry("kb", "S"), entry("xb", ""), entry("stray", "F")];
    let plan = plan_items(&status, &a, &b, &policy);
    let recovered = CollectionName::new("Recovered").unwrap();
    assert!(plan.actions.contains(&ItemAction::Discard {
        side: Side::B,
        key: crate::mail::item::ItemKey::new("stray"),
        trash: Some(recovered),
    }));
    // What the master deleted is not kept anywhere on the replica.
    assert!(plan.actions.iter().any(|action| matches!(
        action,
        ItemAction::Delete {
            trash: None,
            side: Side::B,
            ..
        }
    )));
}

/// A replica emptied of everything is filled again, not refused; a master that looks empty
/// is refused (a wiped master must not wipe its replica).
#[test]
fn empty_sides() {
    let policy = mirror(None);
    let status = vec![row(7, "ka", "kb", "S", None), row(8, "xa", "xb", "", None)];
    let a = vec![entry("ka", "S"), entry("xa", "")];
    let b = vec![entry("kb", "S"), entry("xb", "")];
    let refill = plan_items(&status, &a, &[], &policy);
    assert_eq!(refill.refused, None);
    assert_eq!(refill.counts().copies.a, 2);
    let wiped = plan_items(&status, &[], &b, &policy);
    assert!(wiped.refused.is_some(), "{:?}", wiped.actions);
}

proptest! {
    /// Whatever both sides did, one plan makes the replica identical to the master (same
    /// messages with the same flags, every one paired), the master is never written, and a
    /// second plan has nothing to do.
    #[test]
    fn any_history_makes_the_replica_identical(
        rounds in proptest::collection::vec(proptest::collection::vec(edit_strategy(), 0..8), 1..6)
    ) {
        let policy = mirror(None);
        let (mut a, mut b, mut status, mut next) = (Side_::new(), Side_::new(), Vec::new(), 0i64);
        for round in &rounds {
            for e in round {
                edit(e, &mut a, &mut b, &mut next);
            }
            let master_before = a.clone();
            let plan = plan_items(&status, &listing(&a), &listing(&b), &policy);
            prop_assert_eq!(plan.refused.clone(), None);
            apply(&plan, &mut a, &mut b, &mut status, &mut next);
            prop_assert_eq!(&a, &master_before, "the master was written");
            check_converged(&a, &b, &status)?;
            let again = plan_items(&status, &listing(&a), &listing(&b), &policy);
            prop_assert!(again.actions.is_empty(), "{:?}", again.actions);
        }
    }
}

/// Each undone replica change is named once, and master changes are not mistaken for them.
#[test]
fn undone_changes_are_named() {
    let policy = mirror(None);
    let status = vec![
        row(1, "flag-a", "flag-b", "S", None),
        row(2, "gone-a", "gone-b", "S", None),
        row(3, "master-a", "master-b", "S", None),
        row(4, "pending-a", "pending-b", "S", Some(Side::B)),
    ];
    let a = vec![
        entry("flag-a", "S"),
        entry("gone-a", "S"),
        entry("master-a", "FS"),
        entry("pending-a", "S"),
    ];
    let b = vec![
        entry("flag-b", "RS"),
        entry("master-b", "S"),
        entry("stray", ""),
    ];
    let plan = plan_items(&status, &a, &b, &policy);
    let mut got: Vec<String> = plan.undone.iter().map(ToString::to_string).collect();
    got.sort();
    assert_eq!(
        got,
        [
            "undone: flags of flag-b changed on the replica: [RS] -> [S]",
            "undone: gone-b was deleted on the replica: copied again",
            "undone: stray was only on the replica: deleted",
        ],
        "{:?}",
        plan.actions
    );
    // A pair that does not mirror undoes nothing.
    let plain = plan_items(&status, &a, &b, &SyncPolicy::both_ways());
    assert!(plain.undone.is_empty());
}

/// A replica's folders the master lacks are removed, known or not, except its own trash (the
/// replica-only folder); the master's folders are created on the replica, empty ones too.
#[test]
fn replica_only_folders_are_removed() {
    use crate::mail::store::CollectionInfo;
    let info = |n: &str| CollectionInfo {
        name: CollectionName::new(n).unwrap(),
        selectable: true,
    };
    let a = [info("INBOX"), info("Empty")];
    let b = [info("INBOX"), info("Own"), info("Recovered")];
    let plans = plan_collections(&a, &b, &[], |_| true, &mirror(Some("Recovered")));
    let got: Vec<String> = plans.iter().map(ToString::to_string).collect();
    assert_eq!(
        got,
        [
            "collection Empty: create on b, then sync",
            "collection INBOX: sync",
            "collection Own: remove from the replica (only there)",
            "collection Recovered: skip (exists only on side b; the pair does not create \
             collections on a)",
        ]
    );
    // What the removed folder holds goes, paired or not.
    let status = [row(1, "ka", "kb", "", None)];
    let plan = plan_removal(
        &status,
        Side::B,
        &[entry("kb", ""), entry("own", "")],
        &mirror(None),
    )
    .unwrap();
    assert_eq!(plan.actions.len(), 2, "{:?}", plan.actions);
}
