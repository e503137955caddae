//! What a run did, as the hooks and the mailbox list need it: [`RunSummary`], taken from the
//! pair's report by [`Recorder`], an observer that passes everything on to the one it wraps
//! (the output) and keeps the summary when the run finishes.

use pimlink_core::dav::Dav;
use pimlink_core::mail::Mail;
use pimlink_core::mail::plan::CollectionStep;
use pimlink_core::run::{Family, Observer, PairReport};
use pimlink_core::{CollectionName, Error, PerSide, Side};

/// The counts of one run and, for a mail pair, its folders on the local side.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunSummary {
    /// Items created on each side (mail: messages copied there).
    pub created: PerSide<usize>,
    /// Items updated on each side (calendars and contacts; mail reports flags instead).
    pub updated: PerSide<usize>,
    /// Items deleted on each side.
    pub deleted: PerSide<usize>,
    /// Flag changes on either side (mail).
    pub flags: usize,
    /// Conflicts left for the user (calendars and contacts).
    pub conflicts: usize,
    /// Mail: the folders (by the pair's name) that got messages copied into the local side,
    /// with how many.
    pub new_mail: Vec<(CollectionName, usize)>,
    /// Mail: the folders the run looked at (by the pair's name), true if the local side holds
    /// it afterwards. Folders left alone (skipped) are not here.
    pub folders: Vec<(CollectionName, bool)>,
}

/// A family whose report can be summarised.
pub trait Summarize: Family + Sized {
    /// The summary of `report`, for a pair whose local side is `local`.
    fn summarize(report: &PairReport<Self>, local: Side) -> RunSummary;
}

impl Summarize for Mail {
    fn summarize(report: &PairReport<Self>, local: Side) -> RunSummary {
        let mut summary = RunSummary::default();
        for collection in &report.collections {
            let done = &collection.done;
            for side in [Side::A, Side::B] {
                *summary.created.get_mut(side) += done.copies.get(side.other());
                *summary.deleted.get_mut(side) += done.deletions.get(side);
            }
            summary.flags += done.flags;
            let plan = &collection.plan;
            let name = match local {
                Side::A => &plan.name_a,
                Side::B => &plan.name_b,
            };
            let arrived = *done.copies.get(local.other());
            if arrived > 0 {
                summary.new_mail.push((name.clone(), arrived));
            }
            let failed = !collection.errors.is_empty();
            let present = match plan.step {
                CollectionStep::Sync => Some(true),
                // A failed creation may have left no folder behind; the next run tells.
                CollectionStep::Create(side) => Some(side != local || !failed),
                CollectionStep::Remove(side) => Some(side == local && failed),
                CollectionStep::Skip(_) => None,
            };
            if let Some(present) = present {
                summary.folders.push((name.clone(), present));
            }
        }
        summary
    }
}

impl Summarize for Dav {
    fn summarize(report: &PairReport<Self>, _local: Side) -> RunSummary {
        let mut summary = RunSummary::default();
        for collection in &report.collections {
            let done = &collection.done;
            for side in [Side::A, Side::B] {
                *summary.created.get_mut(side) += done.created.get(side);
                *summary.updated.get_mut(side) += done.updated.get(side);
                *summary.deleted.get_mut(side) += done.deleted.get(side);
            }
            summary.conflicts += done.conflicts;
        }
        summary
    }
}

/// Passes a run's events on to `inner` and keeps the summary of its report.
pub struct Recorder<O> {
    inner: O,
    local: Side,
    summary: Option<RunSummary>,
}

impl<O> Recorder<O> {
    /// Around `inner`, for a pair whose local side is `local`.
    pub fn new(inner: O, local: Side) -> Self {
        Self {
            inner,
            local,
            summary: None,
        }
    }

    /// The summary, once the run finished (`None` if it stopped before its report).
    pub fn into_summary(self) -> Option<RunSummary> {
        self.summary
    }
}

impl<F: Summarize, O: Observer<F>> Observer<F> for Recorder<O> {
    fn collection_planned(&mut self, plan: &F::CollectionPlan) {
        self.inner.collection_planned(plan);
    }
    fn items_planned(&mut self, collection: &F::CollectionPlan, plan: &F::ItemPlan) {
        self.inner.items_planned(collection, plan);
    }
    fn matching_by_content(&mut self, collection: &F::CollectionPlan, items: PerSide<usize>) {
        self.inner.matching_by_content(collection, items);
    }
    fn held_back(&mut self, collection: &F::CollectionPlan, held: PerSide<usize>) {
        self.inner.held_back(collection, held);
    }
    fn move_planned(
        &mut self,
        from: &F::CollectionPlan,
        to: &F::CollectionPlan,
        side: Side,
        key: &F::Key,
    ) {
        self.inner.move_planned(from, to, side, key);
    }
    fn action_done(&mut self, collection: &F::CollectionPlan, action: &F::Action) {
        self.inner.action_done(collection, action);
    }
    fn action_failed(&mut self, collection: &F::CollectionPlan, action: &F::Action, error: &Error) {
        self.inner.action_failed(collection, action, error);
    }
    fn meta_planned(
        &mut self,
        collection: &F::CollectionPlan,
        property: F::MetaProperty,
        action: &F::MetaAction,
    ) {
        self.inner.meta_planned(collection, property, action);
    }
    // Without this the daemon's SIGTERM would wait for the whole run: the stop request is
    // the wrapped output's.
    fn stop_requested(&self) -> bool {
        self.inner.stop_requested()
    }

    fn finished(&mut self, report: &PairReport<F>) {
        self.inner.finished(report);
        self.summary = Some(F::summarize(report, self.local));
    }
}
