//! Which collections of a calendar/contact pair are synced, and whether each must be created,
//! synced, deleted or left alone: pure decisions over both sides' listings and the status.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::dav::store::CollectionId;
use crate::side::Side;

use super::model::{ItemPolicy, OnDelete};

/// A collection paired explicitly, under a name of the pair's own (vdirsyncer's
/// `["name", "id on a", "id on b"]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExplicitCollection {
    /// The pair's name for it (used in messages, the status and `sync PAIR/NAME`).
    pub name: String,
    /// Its id on side A.
    pub a: CollectionId,
    /// Its id on side B.
    pub b: CollectionId,
}

/// Which collections a pair syncs (`collections` in the configuration).
pub struct Selection<'f> {
    /// `"from a"`: every collection on side A (paired with the same id on B).
    pub from_a: bool,
    /// `"from b"`: every collection on side B.
    pub from_b: bool,
    /// Collections named explicitly, possibly with different ids on each side; the only ones
    /// created on both sides when neither has them.
    pub explicit: Vec<ExplicitCollection>,
    /// Further ids selected by pattern, on either side.
    pub matches: &'f dyn Fn(&CollectionId) -> bool,
}

impl Selection<'_> {
    /// Every collection of both sides (`["from a", "from b"]`), the default.
    pub fn all() -> Selection<'static> {
        Selection {
            from_a: true,
            from_b: true,
            explicit: Vec::new(),
            matches: &|_| false,
        }
    }
}

impl fmt::Debug for Selection<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Selection")
            .field("from_a", &self.from_a)
            .field("from_b", &self.from_b)
            .field("explicit", &self.explicit)
            .finish_non_exhaustive()
    }
}

/// A collection pairing the status remembers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnownCollection {
    /// Its row id.
    pub id: i64,
    /// The pair's name for it.
    pub name: String,
    /// Its id on side A.
    pub a: CollectionId,
    /// Its id on side B.
    pub b: CollectionId,
}

/// What to do with one collection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CollectionStep {
    /// Both sides have it: sync its items.
    Sync,
    /// Create it on this side, then sync its items.
    Create(Side),
    /// Named by an explicit entry of the selection but on neither side yet: create it on both
    /// (empty).
    CreateBoth,
    /// It was synced before and is gone from the other side: delete it on this side too
    /// (`on_delete = "delete"`), and drop its status.
    Delete(Side),
    /// Gone from both sides: drop its status.
    Forget,
    /// Leave it alone, for the reason given.
    Skip(String),
}

/// The plan for one collection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CollectionPlan {
    /// The pair's name for it.
    pub name: String,
    /// Its id on A.
    pub a: CollectionId,
    /// Its id on B.
    pub b: CollectionId,
    /// What to do.
    pub step: CollectionStep,
}

impl CollectionPlan {
    /// The collection's id on `side`.
    pub fn id(&self, side: Side) -> &CollectionId {
        match side {
            Side::A => &self.a,
            Side::B => &self.b,
        }
    }
}

impl fmt::Display for CollectionPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = if self.a.as_str() == self.name && self.b.as_str() == self.name {
            self.name.clone()
        } else {
            format!("{} (a: {}, b: {})", self.name, self.a, self.b)
        };
        match &self.step {
            CollectionStep::Sync => write!(f, "collection {name}: sync"),
            CollectionStep::Create(side) => {
                write!(f, "collection {name}: create on {side}, then sync")
            }
            CollectionStep::CreateBoth => write!(f, "collection {name}: create on a and b"),
            CollectionStep::Delete(side) => write!(
                f,
                "collection {name}: delete on {side} (deleted on {}, on_delete = \"delete\")",
                side.other()
            ),
            CollectionStep::Forget => write!(f, "collection {name}: forget (gone from both sides)"),
            CollectionStep::Skip(why) => write!(f, "collection {name}: skip ({why})"),
        }
    }
}

/// Matches the collections of both sides and decides what to do with each selected one.
///
/// `on_a`/`on_b` are the ids each side lists now; `known` what the status remembers.
pub fn plan_collections(
    on_a: &[CollectionId],
    on_b: &[CollectionId],
    known: &[KnownCollection],
    selection: &Selection<'_>,
    policy: &ItemPolicy,
) -> Vec<CollectionPlan> {
    let a: BTreeSet<&CollectionId> = on_a.iter().collect();
    let b: BTreeSet<&CollectionId> = on_b.iter().collect();
    // name -> (id on a, id on b)
    let mut chosen: BTreeMap<String, (CollectionId, CollectionId)> = BTreeMap::new();
    let mut implicit = |id: &CollectionId| {
        chosen
            .entry(id.as_str().to_owned())
            .or_insert_with(|| (id.clone(), id.clone()));
    };
    if selection.from_a {
        on_a.iter().for_each(&mut implicit);
    }
    if selection.from_b {
        on_b.iter().for_each(&mut implicit);
    }
    on_a.iter()
        .chain(on_b)
        .filter(|id| (selection.matches)(id))
        .for_each(&mut implicit);
    // A known collection stays selected while the selection would still pick it, so that its
    // disappearance from one side is seen (on_delete) rather than silently forgotten.
    for k in known {
        let selected = selection.from_a
            || selection.from_b
            || (selection.matches)(&k.a)
            || selection.explicit.iter().any(|e| e.name == k.name);
        if selected && k.a == k.b && k.a.as_str() == k.name {
            implicit(&k.a);
        }
    }
    for e in &selection.explicit {
        chosen.insert(e.name.clone(), (e.a.clone(), e.b.clone()));
    }

    let known_names: BTreeSet<&str> = known.iter().map(|k| k.name.as_str()).collect();
    let named: BTreeSet<&str> = selection.explicit.iter().map(|e| e.name.as_str()).collect();
    chosen
        .into_iter()
        .map(|(name, (id_a, id_b))| {
            let was_synced = known_names.contains(name.as_str());
            let step = match (a.contains(&id_a), b.contains(&id_b)) {
                (true, true) => CollectionStep::Sync,
                (true, false) => missing_on(Side::B, was_synced, policy),
                (false, true) => missing_on(Side::A, was_synced, policy),
                (false, false) if was_synced => CollectionStep::Forget,
                // Named by an alias entry: make it exist. Patterns never create anything on
                // both sides, so that a mistaken one ("froma", "all") makes nothing up.
                (false, false) if named.contains(name.as_str()) => create_both(policy),
                (false, false) => CollectionStep::Skip("exists on neither side".to_owned()),
            };
            CollectionPlan {
                name,
                a: id_a,
                b: id_b,
                step,
            }
        })
        .collect()
}

fn create_both(policy: &ItemPolicy) -> CollectionStep {
    match [Side::A, Side::B]
        .into_iter()
        .find(|side| !policy.sync.creates_on(*side))
    {
        None => CollectionStep::CreateBoth,
        Some(side) => CollectionStep::Skip(format!(
            "exists on neither side; the pair does not create collections on {side}"
        )),
    }
}

fn missing_on(side: Side, was_synced: bool, policy: &ItemPolicy) -> CollectionStep {
    let other = side.other();
    if !was_synced {
        return if policy.sync.creates_on(side) {
            CollectionStep::Create(side)
        } else {
            CollectionStep::Skip(format!(
                "exists only on side {other}; the pair does not create collections on {side}"
            ))
        };
    }
    match policy.on_delete {
        OnDelete::Delete if policy.sync.deletes_from(side) => CollectionStep::Delete(other),
        _ => CollectionStep::Skip(format!(
            "deleted on side {side} since the last sync; its items on {other} are kept (set \
             on_delete = \"delete\" to delete it there too, or delete it on {other} yourself)"
        )),
    }
}
