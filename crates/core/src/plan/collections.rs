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

    let mut plans = Vec::new();
    for name in names.into_iter().filter(|name| selected(name)) {
        let has = |side: Side| sides.get(side).get(name).copied() == Some(true);
        let step = match (has(Side::A), has(Side::B)) {
            (true, true) => CollectionStep::Sync,
            (true, false) => create_or_skip(Side::B, known_names.contains(name), policy),
            (false, true) => create_or_skip(Side::A, known_names.contains(name), policy),
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

fn create_or_skip(missing_on: Side, known: bool, policy: &SyncPolicy) -> CollectionStep {
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
