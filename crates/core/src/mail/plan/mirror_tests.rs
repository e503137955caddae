//! The mirror policy (`Direction::Mirror`, `pimlink replicate`): B ends up identical to A
//! whatever happened on either side, and A is never written.

use proptest::prelude::*;

use super::tests::{
    Side_, apply, describe, edit, edit_strategy, entry, flag_multiset, listing, row,
};
use super::*;
use crate::mail::flags::Flag;
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
            prop_assert_eq!(a.len(), b.len());
            prop_assert_eq!(status.len(), a.len());
            prop_assert_eq!(flag_multiset(&a), flag_multiset(&b));
            for r in &status {
                let ka = r.key_a.as_ref().unwrap().as_str();
                let kb = r.key_b.as_ref().unwrap().as_str();
                prop_assert_eq!(a.get(ka), b.get(kb));
                prop_assert_eq!(a.get(ka), Some(&r.flags));
            }
            prop_assert!(b.values().all(|f| !f.contains(Flag::Trashed) || a.values().any(|g| g == f)));
            let again = plan_items(&status, &listing(&a), &listing(&b), &policy);
            prop_assert!(again.actions.is_empty(), "{:?}", again.actions);
        }
    }
}
