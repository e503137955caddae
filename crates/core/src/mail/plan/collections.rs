//! Decisions for the collections of a pair.

use std::collections::{BTreeMap, BTreeSet};

use crate::mail::status::StatusCollection;
use crate::mail::store::CollectionInfo;
use crate::name::CollectionName;
use crate::policy::SyncPolicy;
use crate::side::{PerSide, Side};

/// What to do with one collection of a pair.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CollectionStep {
    /// Both sides have it: sync its items.
    Sync,
    /// Create it on this side, then sync its items.
    Create(Side),
    /// It was deleted on the other side: delete its items on this side (every one of them is
    /// paired, so nothing unsynced is lost) and then remove it here. See `plan_removal`.
    Remove(Side),
    /// Leave it alone, for the reason given.
    Skip(String),
}

/// The plan for one collection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CollectionPlan {
    /// Its name on A.
    pub name_a: CollectionName,
    /// Its name on B.
    pub name_b: CollectionName,
    /// What to do.
    pub step: CollectionStep,
    /// In a replication (a mirror), the replica's side, so that the plan is told in master
    /// and replica terms (a folder removed from the replica was only there).
    pub replica: Option<Side>,
}

/// Matches the collections of both sides by name and decides, for every selected one, whether
/// to sync it, create it first, or leave it alone.
///
/// A collection the status knows but one side no longer has is recreated (when creating on that
/// side is allowed) rather than deleted on the other side: the empty-side guard then stops the
/// item deletions, so a folder that vanished by accident costs nothing.
pub fn plan_collections(
    a: &[CollectionInfo],
    b: &[CollectionInfo],
    known: &[StatusCollection],
    selected: impl Fn(&CollectionName) -> bool,
    policy: &SyncPolicy,
) -> Vec<CollectionPlan> {
    // name -> selectable, per side; a non-selectable parent holds no items.
    let index = |list: &[CollectionInfo]| -> BTreeMap<CollectionName, bool> {
        list.iter()
            .map(|info| (info.name.clone(), info.selectable))
            .collect()
    };
    let sides = PerSide {
        a: index(a),
        b: index(b),
    };
    let known_names: BTreeSet<&CollectionName> = known.iter().map(|c| &c.name_a).collect();
    let names: BTreeSet<&CollectionName> = sides
        .a
        .iter()
        .chain(&sides.b)
        .filter(|(_, selectable)| **selectable)
        .map(|(name, _)| name)
        .chain(known_names.iter().copied())
        .collect();

    // A side on which every collection the status knows is gone looks wiped (an emptied tree,
    // a server that answered LIST with nothing), not like a user who deleted all folders: its
    // missing collections are never a reason to remove them on the other side.
    let looks_wiped = |side: Side| {
        !known_names.is_empty()
            && known_names
                .iter()
                .all(|name| sides.get(side).get(*name) != Some(&true))
    };
    let wiped = PerSide {
        a: looks_wiped(Side::A),
        b: looks_wiped(Side::B),
    };
    let mut plans = Vec::new();
    for name in names.into_iter().filter(|name| selected(name)) {
        let has = |side: Side| sides.get(side).get(name).copied() == Some(true);
        let known = known_names.contains(name);
        let missing = |side: Side| {
            if *wiped.get(side) {
                create_or_skip(side, known, policy)
            } else {
                missing_on(side, name, known, policy)
            }
        };
        let step = match (has(Side::A), has(Side::B)) {
            (true, true) => CollectionStep::Sync,
            (true, false) => missing(Side::B),
            (false, true) => missing(Side::A),
            (false, false) => CollectionStep::Skip("gone from both sides".to_owned()),
        };
        plans.push(CollectionPlan {
            name_a: name.clone(),
            name_b: name.clone(),
            step,
            replica: policy.mirrors().then_some(Side::B),
        });
    }
    plans
}

/// A collection one side lacks. One that was synced before was deleted there: with `remove`
/// on the other side it is removed there too (confirmed against its items by the executor,
/// which falls back to [`create_or_skip`]); otherwise it is recreated, which leads into the
/// empty-side guard instead of deleting the other side's items.
fn missing_on(
    missing_on: Side,
    name: &CollectionName,
    known: bool,
    policy: &SyncPolicy,
) -> CollectionStep {
    let other = missing_on.other();
    // A replica holds no folder its master lacks, except its own trash (the replica-only
    // folder, where what it alone held goes).
    if policy.mirrors()
        && missing_on == Side::A
        && !name.is_inbox()
        && policy.sides.b.trash.as_ref() != Some(name)
        && policy.removes_collections_on(Side::B)
    {
        return CollectionStep::Remove(Side::B);
    }
    // INBOX cannot be removed on IMAP and is the root of a Maildir++ tree.
    if known && !name.is_inbox() && policy.removes_collections_on(other) {
        return CollectionStep::Remove(other);
    }
    create_or_skip(missing_on, known, policy)
}

/// Recreates a collection on the side that lacks it, or leaves it alone if the pair may not.
pub fn create_or_skip(missing_on: Side, known: bool, policy: &SyncPolicy) -> CollectionStep {
    if policy.creates_on(missing_on) {
        return CollectionStep::Create(missing_on);
    }
    let other = missing_on.other();
    CollectionStep::Skip(if known {
        format!(
            "gone from side {missing_on} (it was synced before); not recreated there because \
             the pair does not create collections on {missing_on}, and its items on {other} are \
             kept"
        )
    } else {
        format!("exists only on side {other}; the pair does not create collections on {missing_on}")
    })
}

/// Leaves alone the known collections that a side did not list because its listing was
/// incomplete (`incomplete` per side; an IMAP folder list with lines that could not be read):
/// they may well exist there, so removing them on the other side (their items with them) or
/// creating them again would act on a guess. New collections are still created.
pub fn hold_unlisted(
    plans: &mut [CollectionPlan],
    known: &[StatusCollection],
    incomplete: PerSide<bool>,
) {
    for plan in plans.iter_mut() {
        let unlisted_on = match plan.step {
            CollectionStep::Create(side) => side,
            CollectionStep::Remove(side) => side.other(),
            _ => continue,
        };
        let is_known = known.iter().any(|c| c.name_a == plan.name_a);
        if *incomplete.get(unlisted_on) && is_known {
            plan.step = CollectionStep::Skip(format!(
                "not in the collections of side {unlisted_on}, whose list left out entries \
                 that could not be read; left as it is on both sides"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::SideOptions;

    fn name(n: &str) -> CollectionName {
        CollectionName::new(n).unwrap()
    }

    #[test]
    fn a_known_collection_missing_from_an_incomplete_list_is_neither_removed_nor_created() {
        let known: Vec<StatusCollection> = ["INBOX", "Known", "Gone"]
            .iter()
            .zip(1..)
            .map(|(n, id)| StatusCollection {
                id,
                name_a: name(n),
                name_b: name(n),
            })
            .collect();
        // Side A lists INBOX only; "Known" and "Gone" were synced before (A does not look wiped:
        // it still lists INBOX), "New" is new on B.
        let on_a = [CollectionInfo {
            name: name("INBOX"),
            selectable: true,
        }];
        let on_b: Vec<CollectionInfo> = ["INBOX", "Known", "New"]
            .iter()
            .map(|n| CollectionInfo {
                name: name(n),
                selectable: true,
            })
            .collect();
        let mut removing = SyncPolicy::both_ways();
        removing.sides.b = SideOptions {
            remove: true,
            ..SideOptions::default()
        };
        let cases = [
            (SyncPolicy::both_ways(), CollectionStep::Create(Side::A)),
            (removing, CollectionStep::Remove(Side::B)),
        ];
        for (policy, step_when_complete) in cases {
            let planned = |incomplete: PerSide<bool>| {
                let mut plans = plan_collections(&on_a, &on_b, &known, |_| true, &policy);
                hold_unlisted(&mut plans, &known, incomplete);
                plans
                    .iter()
                    .map(|p| (p.name_a.to_string(), p.step.clone()))
                    .collect::<Vec<_>>()
            };
            let complete = planned(PerSide::default());
            let incomplete = planned(PerSide { a: true, b: false });
            for ((name, before), (_, after)) in complete.iter().zip(&incomplete) {
                match name.as_str() {
                    "Known" => {
                        assert_eq!(before, &step_when_complete);
                        assert!(
                            matches!(after, CollectionStep::Skip(why) if why.contains("could not be read")),
                            "{after:?}"
                        );
                    }
                    // Unaffected: new collections, and what a side lists.
                    _ => assert_eq!(before, after, "{name}"),
                }
            }
            // An incomplete list on the other side changes nothing here.
            assert_eq!(planned(PerSide { a: false, b: true }), complete);
        }
    }
}
