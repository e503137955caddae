//! What a mail pair's run shows.

use std::fmt::Write as _;

use pimlink_core::mail::Mail;
use pimlink_core::mail::exec::{CollectionReport, Observer, PairReport};
use pimlink_core::mail::plan::{CollectionPlan, CollectionStep, ItemAction, ItemPlan, PlanCounts};
use pimlink_core::{Error, ItemKey, PerSide, Side};

use super::progress::Bars;
use super::{Output, report_refusal};
use crate::error_groups;
use crate::no_state::NoStateNotice;

/// Prints one pair's progress.
pub struct PairObserver<'o> {
    output: &'o Output,
    pair: String,
    dry_run: bool,
    /// The progress bars of the collections being synced.
    bars: Bars,
    /// Set when the pair's status knew nothing at the start of the run.
    pub no_state: Option<NoStateNotice>,
}

impl<'o> PairObserver<'o> {
    /// For pair `pair`.
    pub fn new(output: &'o Output, pair: &str, dry_run: bool) -> Self {
        Self {
            output,
            pair: pair.to_owned(),
            dry_run,
            bars: Bars::new(),
            no_state: None,
        }
    }

    fn start_progress(&mut self, collection: &CollectionPlan, actions: &[ItemAction]) {
        self.bars
            .start(self.output, &self.pair, &collection.name_a, actions);
    }

    fn advance(&mut self, collection: &CollectionPlan, action: &ItemAction) {
        self.bars.advance(&collection.name_a, action);
    }

    /// Prints the per-collection summaries and the pair's totals.
    pub fn finish(&mut self, report: &PairReport) {
        self.bars.clear();
        let mut total = PlanCounts::default();
        let mut errors = 0;
        for collection in &report.collections {
            self.collection_summary(collection);
            total.add(&collection.done);
            errors += collection.errors.len();
        }
        let verb = if self.dry_run {
            "would change"
        } else {
            "changed"
        };
        let mut line = format!(
            "{}: {} collections, {verb}: {}",
            self.pair,
            report.collections.len(),
            describe_counts(&total)
        );
        if total.held_back > 0 {
            let _ = write!(
                line,
                "; {} not copied because of the limits (max_size, max_messages, max_age)",
                total.held_back
            );
        }
        if errors > 0 {
            let _ = write!(line, ", {errors} errors");
        }
        if report.has_refusals() {
            line.push_str(", some changes refused (see above)");
        }
        self.output.info(line);
    }

    fn collection_summary(&self, collection: &CollectionReport) {
        let name = &collection.plan.name_a;
        let verbose = self.output.verbose > 0;
        for line in error_groups::lines(name.as_str(), &collection.errors, verbose) {
            eprintln!("pimlink: {}: {line}", self.pair);
        }
        for late in &collection.details.late_copies {
            let what = if late.removed {
                "removed"
            } else if self.dry_run {
                "would remove"
            } else {
                "left (this side cannot delete it)"
            };
            self.output.info(format!(
                "{}: {name}: {what} {} on {}: a late duplicate that the server stored for an \
                 interrupted upload after it was made again; it is not copied",
                self.pair, late.key, late.side
            ));
        }
        if let Some(refusal) = &collection.refused {
            report_refusal(&self.pair, name.as_str(), refusal);
        }
        if let CollectionStep::Skip(why) = &collection.plan.step {
            if self.output.verbose > 0 || self.dry_run {
                self.output
                    .info(format!("{}: {name}: skipped ({why})", self.pair));
            }
            return;
        }
        if let CollectionStep::Remove(side) = &collection.plan.step
            && collection.errors.is_empty()
        {
            let verb = if self.dry_run {
                "would be removed"
            } else {
                "removed"
            };
            self.output
                .info(format!("{}: {name}: {verb} on side {side}", self.pair));
        }
        if collection.details.unchanged {
            if self.output.verbose > 0 {
                self.output.info(format!(
                    "{}: {name}: unchanged since the last sync (not listed)",
                    self.pair
                ));
            }
            return;
        }
        let counts = &collection.done;
        let changed = PlanCounts {
            held_back: 0,
            ..*counts
        };
        if changed != PlanCounts::default() || self.output.verbose > 0 {
            self.output.info(format!(
                "{}: {name}: {}",
                self.pair,
                describe_counts(counts)
            ));
        }
    }
}

impl Observer<Mail> for PairObserver<'_> {
    fn collection_planned(&mut self, plan: &CollectionPlan) {
        if self.dry_run && !matches!(plan.step, CollectionStep::Sync) {
            self.output.info(format!("{}: {plan}", self.pair));
        }
    }

    fn items_planned(&mut self, collection: &CollectionPlan, plan: &ItemPlan) {
        if !self.dry_run {
            self.start_progress(collection, &plan.actions);
            return;
        }
        if plan.refused.is_some() {
            return;
        }
        for action in &plan.actions {
            self.output
                .info(format!("{}: {}: {action}", self.pair, collection.name_a));
        }
        for held in &plan.held_back {
            self.output
                .info(format!("{}: {}: {held}", self.pair, collection.name_a));
        }
    }

    fn matching_by_content(&mut self, collection: &CollectionPlan, items: PerSide<usize>) {
        if let Some(notice) = &mut self.no_state {
            notice.tell(collection.name_a.as_str(), items);
        }
    }

    fn held_back(&mut self, collection: &CollectionPlan, held: PerSide<usize>) {
        for side in [Side::A, Side::B] {
            let count = *held.get(side);
            if count > 0 {
                self.output.info(format!(
                    "{}: {}: {count} changes wait for side {side}, which is read-only",
                    self.pair, collection.name_a
                ));
            }
        }
    }

    fn action_done(&mut self, collection: &CollectionPlan, action: &ItemAction) {
        self.advance(collection, action);
        if self.output.verbose > 0 && !self.output.quiet {
            println!("{}: {}: {action}", self.pair, collection.name_a);
        }
    }

    fn move_planned(
        &mut self,
        from: &CollectionPlan,
        to: &CollectionPlan,
        side: Side,
        key: &ItemKey,
    ) {
        if self.dry_run || self.output.verbose > 0 && !self.output.quiet {
            self.output.info(format!(
                "{}: move on {side} {key}: {} -> {}",
                self.pair, from.name_a, to.name_a
            ));
        }
    }

    fn action_failed(&mut self, collection: &CollectionPlan, action: &ItemAction, _error: &Error) {
        // The error itself is reported with the collection's summary.
        self.advance(collection, action);
    }
}

/// `"3 copied a->b, 1 copied b->a, 2 flag changes, 1 deleted on b"` or `"nothing"`.
pub fn describe_counts(counts: &PlanCounts) -> String {
    let mut parts = Vec::new();
    if counts.copies.a > 0 {
        parts.push(format!("{} copied a->b", counts.copies.a));
    }
    if counts.copies.b > 0 {
        parts.push(format!("{} copied b->a", counts.copies.b));
    }
    if counts.moves > 0 {
        parts.push(format!("{} moved", counts.moves));
    }
    if counts.flags > 0 {
        parts.push(format!("{} flag changes", counts.flags));
    }
    if counts.deletions.a > 0 {
        parts.push(format!("{} deleted on a", counts.deletions.a));
    }
    if counts.deletions.b > 0 {
        parts.push(format!("{} deleted on b", counts.deletions.b));
    }
    if counts.expired > 0 {
        parts.push(format!("{} expired", counts.expired));
    }
    if parts.is_empty() {
        "nothing".to_owned()
    } else {
        parts.join(", ")
    }
}
