//! What a mail pair's run shows.

use std::fmt::Write as _;

use pimlink_core::mail::Mail;
use pimlink_core::mail::exec::{CollectionReport, Observer, PairReport};
use pimlink_core::mail::plan::{CollectionPlan, CollectionStep, ItemAction, ItemPlan, PlanCounts};
use pimlink_core::{Error, ItemKey, PerSide, Side};

use super::PairOutput;
use crate::no_state::Items;

impl PairOutput<'_> {
    fn start_progress(&mut self, collection: &CollectionPlan, actions: &[ItemAction]) {
        self.bars
            .start(self.output, &self.pair, &collection.name_a, actions);
    }

    fn advance(&mut self, collection: &CollectionPlan, action: &ItemAction) {
        self.bars.advance(&collection.name_a, action);
    }

    /// Prints the per-collection summaries and the pair's totals.
    fn mail_summary(&mut self, report: &PairReport) {
        self.bars.clear();
        self.warn_patterns();
        let mut total = PlanCounts::default();
        let mut errors = 0;
        for collection in &report.collections {
            self.mail_collection(collection);
            total.add(&collection.done);
            errors += collection.errors.len();
        }
        let mut extra = String::new();
        if total.held_back > 0 {
            let _ = write!(
                extra,
                "; {} not copied because of the limits (max_size, max_messages, max_age)",
                total.held_back
            );
        }
        let counts = total.to_string();
        let refused = report.has_refusals();
        self.totals(report.collections.len(), &counts, &extra, errors, refused);
    }

    fn mail_collection(&self, collection: &CollectionReport) {
        let name = &collection.plan.name_a;
        self.errors(name.as_str(), &collection.errors);
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
        self.refusal(name.as_str(), collection.refused.as_ref());
        if let CollectionStep::Skip(why) = &collection.plan.step {
            if self.output.verbose > 0 || self.dry_run {
                self.output
                    .info(format!("{}: {name}: skipped ({why})", self.pair));
            }
            return;
        }
        let created = match &collection.plan.step {
            CollectionStep::Create(side) => Some(format!("side {side}")),
            _ => None,
        };
        self.created(name.as_str(), created, &collection.errors);
        if let CollectionStep::Remove(side) = &collection.plan.step
            && collection.errors.is_empty()
        {
            let verb = if self.dry_run {
                "would be removed"
            } else {
                "removed"
            };
            // A replication speaks of master and replica: the replica's folder went because
            // the master has none.
            let whence = if collection.plan.replica == Some(*side) {
                "from the replica: only there".to_owned()
            } else {
                format!("on side {side}")
            };
            self.output
                .info(format!("{}: {name}: {verb} {whence}", self.pair));
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
            self.output
                .info(format!("{}: {name}: {}", self.pair, counts));
        }
    }
}

impl Observer<Mail> for PairOutput<'_> {
    fn stop_requested(&self) -> bool {
        self.output.stop_requested()
    }
    fn collection_planned(&mut self, plan: &CollectionPlan) {
        if (self.dry_run || self.output.verbose > 0) && !matches!(plan.step, CollectionStep::Sync) {
            self.output.info(format!("{}: {plan}", self.pair));
        }
    }

    fn items_planned(&mut self, collection: &CollectionPlan, plan: &ItemPlan) {
        if plan.refused.is_some() {
            if !self.dry_run {
                self.start_progress(collection, &plan.actions);
            }
            return;
        }
        // Replication (issue 15): every replica change a mirror undoes gets its line.
        for undone in &plan.undone {
            self.output
                .info(format!("{}: {}: {undone}", self.pair, collection.name_a));
        }
        if !self.dry_run {
            self.start_progress(collection, &plan.actions);
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
            notice.tell(collection.name_a.as_str(), items, Items::Mail);
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

    fn finished(&mut self, report: &PairReport) {
        self.mail_summary(report);
    }

    fn action_failed(&mut self, collection: &CollectionPlan, action: &ItemAction, _error: &Error) {
        // The error itself is reported with the collection's summary.
        self.advance(collection, action);
    }
}
