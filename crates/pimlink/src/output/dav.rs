//! What a calendar/contact pair's run shows.

use pimlink_core::PerSide;
use pimlink_core::dav::store::MetaProperty;
use pimlink_core::dav::{
    CollectionPlan, CollectionReport, CollectionStep, Dav, ItemAction, ItemCounts, ItemPlan,
    MetaAction, Observer, PairReport,
};

use super::{Output, report_refusal};
use crate::error_groups;
use crate::no_state::NoStateNotice;

/// Prints one calendar/contact pair's progress and summary.
pub struct DavObserver<'o> {
    output: &'o Output,
    pair: String,
    dry_run: bool,
    /// Set when the pair's status knew nothing at the start of the run.
    pub no_state: Option<NoStateNotice>,
}

impl<'o> DavObserver<'o> {
    pub fn new(output: &'o Output, pair: &str, dry_run: bool) -> Self {
        Self {
            output,
            pair: pair.to_owned(),
            dry_run,
            no_state: None,
        }
    }

    pub fn finish(&self, report: &PairReport) {
        let mut total = ItemCounts::default();
        let mut errors = 0;
        let mut meta = 0;
        for collection in &report.collections {
            self.collection_summary(collection);
            total.add(&collection.done);
            errors += collection.errors.len();
            meta += collection.details.meta_changed;
        }
        let verb = if self.dry_run {
            "would change"
        } else {
            "changed"
        };
        let mut line = format!(
            "{}: {} collections, {verb}: {total}",
            self.pair,
            report.collections.len()
        );
        if meta > 0 {
            line.push_str(&format!(", {meta} metadata properties"));
        }
        if errors > 0 {
            line.push_str(&format!(", {errors} errors"));
        }
        if report.has_refusals() {
            line.push_str(", some changes refused (see above)");
        }
        self.output.info(line);
    }

    fn collection_summary(&self, collection: &CollectionReport) {
        let name = &collection.plan.name;
        for warning in &collection.details.warnings {
            eprintln!("pimlink: {}: warning: {warning}", self.pair);
        }
        let verbose = self.output.verbose() > 0;
        for line in error_groups::lines(name, &collection.errors, verbose) {
            eprintln!("pimlink: {}: {line}", self.pair);
        }
        if let Some(refusal) = &collection.refused {
            report_refusal(&self.pair, name, refusal);
        }
        if let CollectionStep::Skip(why) = &collection.plan.step {
            self.output
                .info(format!("{}: {name}: skipped ({why})", self.pair));
            return;
        }
        // A new collection is worth a line of its own: the item counts do not show it. (A dry
        // run printed the plan already.)
        let created = match collection.plan.step {
            CollectionStep::Create(side) => Some(format!("side {side}")),
            CollectionStep::CreateBoth => Some("sides a and b".to_owned()),
            _ => None,
        };
        if let (Some(sides), false, true) = (created, self.dry_run, collection.errors.is_empty()) {
            self.output
                .info(format!("{}: {name}: created on {sides}", self.pair));
        }
        if collection.done != ItemCounts::default() || self.output.verbose() > 0 {
            self.output
                .info(format!("{}: {name}: {}", self.pair, collection.done));
        }
    }
}

impl Observer<Dav> for DavObserver<'_> {
    fn collection_planned(&mut self, plan: &CollectionPlan) {
        if !matches!(plan.step, CollectionStep::Sync | CollectionStep::Skip(_))
            && (self.dry_run || self.output.verbose() > 0)
        {
            self.output.info(format!("{}: {plan}", self.pair));
        }
    }

    fn matching_by_content(&mut self, collection: &CollectionPlan, items: PerSide<usize>) {
        if let Some(notice) = &mut self.no_state {
            notice.tell(&collection.name, items);
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
