//! What a run of a pair of either family takes and gives: [`RunOptions`], the one
//! [`Observer`] trait, and the reports ([`CollectionReport`], [`PairReport`]).
//!
//! Both wings run the same way (plan every collection, then carry the plans out, reporting
//! per collection), but they talk about different things: a mail plan is not a calendar plan.
//! So these types are defined once here, generic over a [`Family`] that names each wing's
//! vocabulary (`mail::Mail`, `dav::Dav`). The binary's observers implement
//! `Observer<Mail>` and `Observer<Dav>`; the future pair runner (`runner/`) drives either.
//!
//! Not here: the executors themselves (`mail::exec`, `dav::exec`), exit status numbers (the
//! binary's), and what `--force` means to a policy (the binary sets `on_empty` and
//! `max_delete` before the run; [`RunOptions::force`] is only what the executor itself may
//! override).

use std::fmt;

use crate::error::Error;
use crate::guard::Refusal;
use crate::side::{PerSide, Side};
use crate::status::{CollectionEntry, RunEntry};

/// Options of one run, for both families.
#[derive(Clone, Copy, Debug, Default)]
pub struct RunOptions {
    /// Plan and report, change nothing.
    pub dry_run: bool,
    /// Override safety refusals that the user confirmed (mail: a re-pairing after a key reset
    /// that recognised too few items). The calendar/contact executor has no such refusal.
    pub force: bool,
}

/// One wing's vocabulary, as the run types need it. Implemented by a marker type per wing.
pub trait Family {
    /// What was decided for one collection: its names on both sides and its step.
    type CollectionPlan: fmt::Debug;
    /// The plan for a collection's items.
    type ItemPlan;
    /// One action on one item.
    type Action;
    /// An item's key on one side (in moves between collections).
    type Key;
    /// A collection metadata property (display name, colour, ...), if the family has any.
    type MetaProperty;
    /// What is done about one metadata property.
    type MetaAction;
    /// How many actions of each kind were carried out.
    type Counts: fmt::Debug;
    /// What only this family reports about a collection.
    type Details: fmt::Debug;

    /// A collection's line in the run journal (`status::journal`): its name, what changed in
    /// words, and the counts `pimlink status` shows on their own.
    fn journal(collection: &CollectionReport<Self>) -> CollectionEntry
    where
        Self: Sized;
}

/// Receives what a run plans and does, for display. Every method has an empty default; a
/// family calls only the methods that make sense for it (the mail executor never calls
/// `meta_planned`, the calendar/contact executor never calls `move_planned`, `held_back` or
/// `action_failed`).
pub trait Observer<F: Family> {
    /// A collection's step was decided.
    fn collection_planned(&mut self, _plan: &F::CollectionPlan) {}
    /// A collection's items were planned.
    fn items_planned(&mut self, _collection: &F::CollectionPlan, _plan: &F::ItemPlan) {}
    /// The status knows no item of this collection although both sides hold some (`items`
    /// per side: a first sync, or a lost state). They are about to be matched by content (mail)
    /// or UID (calendars, contacts); nothing has been changed for the collection yet.
    fn matching_by_content(&mut self, _collection: &F::CollectionPlan, _items: PerSide<usize>) {}
    /// Changes that a read-only side would receive wait there: `held` per side.
    fn held_back(&mut self, _collection: &F::CollectionPlan, _held: PerSide<usize>) {}
    /// A message moved between collections on the other side is moved on `side` (in a dry run:
    /// would be).
    fn move_planned(
        &mut self,
        _from: &F::CollectionPlan,
        _to: &F::CollectionPlan,
        _side: Side,
        _key: &F::Key,
    ) {
    }
    /// An action was carried out.
    fn action_done(&mut self, _collection: &F::CollectionPlan, _action: &F::Action) {}
    /// An action failed; the run goes on.
    fn action_failed(
        &mut self,
        _collection: &F::CollectionPlan,
        _action: &F::Action,
        _error: &Error,
    ) {
    }
    /// A metadata property was decided (in a dry run) or changed.
    fn meta_planned(
        &mut self,
        _collection: &F::CollectionPlan,
        _property: F::MetaProperty,
        _action: &F::MetaAction,
    ) {
    }
    /// The run is over and `report` says what it did (the pair runner calls this; the
    /// summary's turn).
    fn finished(&mut self, _report: &PairReport<F>) {}
    /// True once the run should end at its next safe point (the daemon got SIGTERM). The
    /// executors ask between collections and between batches of writes: what was written is
    /// recorded, nothing more is started, and a collection left unfinished keeps no listing
    /// state or sync token, so that the next run lists it whole and finishes it.
    fn stop_requested(&self) -> bool {
        false
    }
}

/// An observer that ignores everything.
impl<F: Family> Observer<F> for () {}

/// What happened in one collection.
pub struct CollectionReport<F: Family> {
    /// The collection and what was decided for it.
    pub plan: F::CollectionPlan,
    /// Actions carried out (in a dry run: planned).
    pub done: F::Counts,
    /// Failures, each naming the item or step; the rest of the collection went on.
    pub errors: Vec<Error>,
    /// Set when a safety check withheld the collection's changes.
    pub refused: Option<Refusal>,
    /// What only this family reports (mail: late copies, left unchanged; calendars and
    /// contacts: metadata changes, warnings).
    pub details: F::Details,
}

// By hand: a derive would ask `F: Debug` of the marker type instead of its associated types.
impl<F: Family> fmt::Debug for CollectionReport<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CollectionReport")
            .field("plan", &self.plan)
            .field("done", &self.done)
            .field("errors", &self.errors)
            .field("refused", &self.refused)
            .field("details", &self.details)
            .finish()
    }
}

/// How a run ended, for the exit status (the binary maps these to numbers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Everything was done.
    Clean,
    /// Some action or collection failed; the rest was done.
    Partial,
    /// A safety check withheld changes somewhere (whether or not something also failed).
    Refused,
    /// The run ended early at a safe point because the observer asked it to
    /// ([`Observer::stop_requested`]).
    Stopped,
}

impl Outcome {
    /// `clean`, `partial`, `refused` or `stopped`, as the journal and `--json` spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Clean => "clean",
            Outcome::Partial => "partial",
            Outcome::Refused => "refused",
            Outcome::Stopped => "stopped",
        }
    }
}

/// A collection's outcome in the same words as [`Outcome::as_str`].
pub(crate) fn collection_outcome<F: Family>(collection: &CollectionReport<F>) -> &'static str {
    if collection.refused.is_some() {
        "refused"
    } else if collection.errors.is_empty() {
        "clean"
    } else {
        "partial"
    }
}

/// What happened in one pair.
pub struct PairReport<F: Family> {
    /// Per collection, in name order.
    pub collections: Vec<CollectionReport<F>>,
}

impl<F: Family> Default for PairReport<F> {
    fn default() -> Self {
        Self {
            collections: Vec::new(),
        }
    }
}

impl<F: Family> fmt::Debug for PairReport<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PairReport")
            .field("collections", &self.collections)
            .finish()
    }
}

impl<F: Family> PairReport<F> {
    /// True if any action or collection failed (conflicts left open included).
    pub fn has_errors(&self) -> bool {
        self.collections.iter().any(|c| !c.errors.is_empty())
    }

    /// True if a safety check withheld changes somewhere.
    pub fn has_refusals(&self) -> bool {
        self.collections.iter().any(|c| c.refused.is_some())
    }

    /// The run's entry and its collections' lines for the run journal, for a run that ended
    /// at `finished_at` (seconds since the epoch) as `outcome` (a stop the report cannot know).
    pub fn journal(&self, finished_at: i64, outcome: Outcome) -> (RunEntry, Vec<CollectionEntry>) {
        let collections: Vec<CollectionEntry> = self.collections.iter().map(F::journal).collect();
        let changed: Vec<String> = collections
            .iter()
            .filter(|c| c.changes != "nothing")
            .map(|c| format!("{}: {}", c.name, c.changes))
            .collect();
        let run = RunEntry {
            finished_at,
            outcome: outcome.as_str().to_owned(),
            collections: self.collections.len(),
            errors: self.collections.iter().map(|c| c.errors.len()).sum(),
            changes: if changed.is_empty() {
                "nothing".to_owned()
            } else {
                changed.join("; ")
            },
            error: None,
        };
        (run, collections)
    }

    /// How the run ended: a refusal outranks a failure.
    pub fn outcome(&self) -> Outcome {
        if self.has_refusals() {
            Outcome::Refused
        } else if self.has_errors() {
            Outcome::Partial
        } else {
            Outcome::Clean
        }
    }
}
