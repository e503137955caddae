//! Decisions for the collections of a pair.

use std::collections::{BTreeMap, BTreeSet};

use crate::name::CollectionName;
use crate::policy::SyncPolicy;
use crate::side::{PerSide, Side};
use crate::status::StatusCollection;
use crate::store::CollectionInfo;

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
