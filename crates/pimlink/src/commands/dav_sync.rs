//! `pimlink sync` and `pimlink resolve-conflicts` for calendar/contact pairs: resolves the
//! pair's policy and collection selection from the configuration, opens both storages, runs the
//! engine in `pimlink_core::dav` and prints what it did.

use anyhow::{Context, Result};
use pimlink_core::PerSide;
use pimlink_core::dav::store::CollectionId;
use pimlink_core::dav::store::MetaProperty;
use pimlink_core::dav::{
    CollectionPlan, CollectionReport, CollectionStep, ConflictPolicy, ConflictResolver, Dav,
    ExplicitCollection, ItemAction, ItemCounts, ItemPair, ItemPlan, ItemPolicy, MetaAction,
    Observer, PairReport, RunOptions, Selection,
};
use pimlink_core::policy::{MaxDelete, OnEmpty};
use pimlink_core::status::StatusStore;

use crate::cli::exit;
use crate::config::{Config, DavPairConfig, PairConfig};
use crate::error_groups;
use crate::no_state::{Items, NoStateNotice};
use crate::output::Output;
use crate::storages::{self, PairSides};

/// How a run treats conflicts.
pub enum Conflicts<'c> {
    /// As the pair's `conflict_resolution` says; a command is not run (conflicts it would
    /// resolve are reported).
    AsConfigured,
    /// Through this resolver (`pimlink resolve-conflicts`).
    Resolve(&'c mut dyn ConflictResolver),
}

/// Syncs one calendar/contact pair; returns the exit status.
pub fn sync_pair(
    config: &Config,
    pair: &PairConfig,
    only: Option<&[String]>,
    dry_run: bool,
    force: bool,
    conflicts: Conflicts<'_>,
    output: &Output,
) -> Result<u8> {
    let dav = pair.dav.clone().unwrap_or_default();
    let mut policy = ItemPolicy {
        sync: pair.policy(),
        conflict: dav.conflict.clone(),
        on_delete: dav.on_delete,
    };
    if force {
        policy.sync.on_empty = OnEmpty::Sync;
        policy.sync.max_delete = MaxDelete::UNLIMITED;
    }
    let explicit = explicit_collections(&dav)?;
    let patterns = dav.collections.patterns.clone();
    let seen = super::patterns::SeenNames::default();
    let matches = |id: &CollectionId| {
        seen.note(id.as_str());
        patterns.as_ref().is_some_and(|p| p.matches(id.as_str()))
    };
    let selection = Selection {
        from_a: dav.collections.from_a,
        from_b: dav.collections.from_b,
        explicit,
        matches: &matches,
    };
    let only_filter = |name: &str| only.is_none_or(|only| only.iter().any(|c| c.as_str() == name));
    let mut status = StatusStore::open(&config.state_dir, &pair.name)
        .with_context(|| format!("opening the status of pair {}", pair.name))?;
    let mut observer = DavObserver::new(output, &pair.name, dry_run);
    observer.no_state = NoStateNotice::new(&pair.name, &status, Items::Dav)?;
    let report = super::runtime()?.block_on(async {
        let PairSides::Items(PerSide { a, b }) = storages::open_pair(config, pair).await? else {
            anyhow::bail!("pair {} does not sync calendars or contacts", pair.name);
        };
        let resolver = match conflicts {
            Conflicts::AsConfigured => None,
            Conflicts::Resolve(resolver) => Some(resolver),
        };
        let report = ItemPair {
            a: &a,
            b: &b,
            status: &mut status,
            policy,
            metadata: dav.metadata.clone(),
        }
        .sync(
            &selection,
            &only_filter,
            RunOptions {
                dry_run,
                ..RunOptions::default()
            },
            &mut observer,
            resolver,
        )
        .await?;
        anyhow::Ok(report)
    })?;
    if let Some(patterns) = &patterns {
        seen.warn_unmatched(&pair.name, patterns);
    }
    observer.finish(&report);
    let mut code = exit::OK;
    if report.has_errors() {
        code = exit::PARTIAL;
    }
    if report.has_refusals() {
        code = exit::REFUSED;
    }
    Ok(code)
}

/// The collections the pair names explicitly (`[name, id on a, id on b]`).
pub fn explicit_collections(dav: &DavPairConfig) -> Result<Vec<ExplicitCollection>> {
    dav.collections
        .explicit
        .iter()
        .map(|(name, a, b)| {
            Ok(ExplicitCollection {
                name: name.clone(),
                a: CollectionId::new(a.as_str())?,
                b: CollectionId::new(b.as_str())?,
            })
        })
        .collect()
}

/// True if the pair resolves conflicts with a command (`resolve-conflicts` needs one).
pub fn conflict_command(pair: &PairConfig) -> Option<&[String]> {
    match pair.dav.as_ref().map(|d| &d.conflict) {
        Some(ConflictPolicy::Command(command)) => Some(command),
        _ => None,
    }
}

/// Prints one calendar/contact pair's progress and summary.
struct DavObserver<'o> {
    output: &'o Output,
    pair: String,
    dry_run: bool,
    /// Set when the pair's status knew nothing at the start of the run.
    no_state: Option<NoStateNotice>,
}

impl<'o> DavObserver<'o> {
    fn new(output: &'o Output, pair: &str, dry_run: bool) -> Self {
        Self {
            output,
            pair: pair.to_owned(),
            dry_run,
            no_state: None,
        }
    }

    fn finish(&self, report: &PairReport) {
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
            crate::output::report_refusal(&self.pair, name, refusal);
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
