//! What a calendar/contact pair's run shows.

use pimlink_core::PerSide;
use pimlink_core::dav::store::MetaProperty;
use pimlink_core::dav::{
    CollectionPlan, CollectionReport, CollectionStep, Dav, ItemAction, ItemCounts, ItemPlan,
    MetaAction, Observer, PairReport,
};

use super::PairOutput;
use crate::no_state::Items;

impl PairOutput<'_> {
    /// Prints the per-collection summaries and the pair's totals.
    fn dav_summary(&mut self, report: &PairReport) {
        self.warn_patterns();
        let mut total = ItemCounts::default();
        let mut errors = 0;
        let mut meta = 0;
        for collection in &report.collections {
            self.dav_collection(collection);
            total.add(&collection.done);
            errors += collection.errors.len();
            meta += collection.details.meta_changed;
        }
        let extra = if meta > 0 {
            format!(", {meta} metadata properties")
        } else {
            String::new()
        };
        let counts = total.to_string();
        let refused = report.has_refusals();
        self.totals(report.collections.len(), &counts, &extra, errors, refused);
    }

    fn dav_collection(&self, collection: &CollectionReport) {
        let name = &collection.plan.name;
        for warning in &collection.details.warnings {
            eprintln!("pimlink: {}: warning: {warning}", self.pair);
        }
        self.errors(name, &collection.errors);
        self.refusal(name, collection.refused.as_ref());
        if let CollectionStep::Skip(why) = &collection.plan.step {
            self.output
                .info(format!("{}: {name}: skipped ({why})", self.pair));
            return;
        }
        let created = match collection.plan.step {
            CollectionStep::Create(side) => Some(format!("side {side}")),
            CollectionStep::CreateBoth => Some("sides a and b".to_owned()),
            _ => None,
        };
        self.created(name, created, &collection.errors);
        if collection.done != ItemCounts::default() || self.output.verbose() > 0 {
            self.output
                .info(format!("{}: {name}: {}", self.pair, collection.done));
        }
    }
}

impl Observer<Dav> for PairOutput<'_> {
    fn stop_requested(&self) -> bool {
        self.output.stop_requested()
    }
    fn collection_planned(&mut self, plan: &CollectionPlan) {
        if !matches!(plan.step, CollectionStep::Sync | CollectionStep::Skip(_))
            && (self.dry_run || self.output.verbose() > 0)
        {
            self.output.info(format!("{}: {plan}", self.pair));
        }
    }

    fn matching_by_content(&mut self, collection: &CollectionPlan, items: PerSide<usize>) {
        if let Some(notice) = &mut self.no_state {
            notice.tell(&collection.name, items, Items::Dav);
        }
    }

    fn items_planned(&mut self, collection: &CollectionPlan, plan: &ItemPlan) {
        if !self.dry_run || plan.refused.is_some() {
            return;
        }
        for action in plan.actions.iter().filter(|a| visible(a)) {
            self.output
                .info(format!("{}: {}: {action}", self.pair, collection.name));
        }
    }

    fn action_done(&mut self, collection: &CollectionPlan, action: &ItemAction) {
        if self.output.verbose() > 0 && visible(action) {
            self.output
                .info(format!("{}: {}: {action}", self.pair, collection.name));
        }
    }

    fn finished(&mut self, report: &PairReport) {
        self.dav_summary(report);
    }

    fn meta_planned(
        &mut self,
        collection: &CollectionPlan,
        property: MetaProperty,
        action: &MetaAction,
    ) {
        if let MetaAction::Set { on, value } = action
            && (self.dry_run || self.output.verbose() > 0)
        {
            self.output.info(format!(
                "{}: {}: set {} on {on} to {:?}",
                self.pair,
                collection.name,
                property.name(),
                value.as_deref().unwrap_or("")
            ));
        }
    }
}

/// Status-only actions are not worth a line of output.
fn visible(action: &ItemAction) -> bool {
    !matches!(
        action,
        ItemAction::Record { .. } | ItemAction::Forget { .. }
    )
}
