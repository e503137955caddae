//! What the user sees: summaries on stdout, errors on stderr, every planned action in a dry
//! run or with `-v`.

use std::fmt::Write as _;
use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use pimlink_core::exec::{CollectionReport, Observer, PairReport};
use pimlink_core::plan::{CollectionPlan, CollectionStep, ItemAction, ItemPlan, PlanCounts};
use pimlink_core::{Error, ItemKey, Side};

/// Verbosity, resolved from `-v` and `-q`.
#[derive(Clone, Copy, Debug)]
pub struct Output {
    verbose: u8,
    quiet: bool,
}

impl Output {
    /// From the command-line flags.
    pub fn new(verbose: u8, quiet: bool) -> Self {
        Self { verbose, quiet }
    }

    /// How many `-v` were given.
    pub fn verbose(&self) -> u8 {
        self.verbose
    }

    /// A result line (suppressed by `-q`).
    pub fn info(&self, line: impl AsRef<str>) {
        if !self.quiet {
            println!("{}", line.as_ref());
        }
    }

    /// An error with its chain of causes, on stderr.
    pub fn error(&self, error: &anyhow::Error) {
        eprintln!("pimlink: error: {error:#}");
    }
}

/// Plans with fewer actions than this finish too fast for a progress bar to help.
const PROGRESS_THRESHOLD: usize = 50;

/// Prints one pair's progress.
pub struct PairObserver<'o> {
    output: &'o Output,
    pair: String,
    dry_run: bool,
    /// The progress bar of the collection being synced, on a terminal only.
    progress: Option<ProgressBar>,
}

impl<'o> PairObserver<'o> {
    /// For pair `pair`.
    pub fn new(output: &'o Output, pair: &str, dry_run: bool) -> Self {
        Self {
            output,
            pair: pair.to_owned(),
            dry_run,
            progress: None,
        }
    }

    /// A progress bar for `total` actions in `collection`, when a person is watching: stderr is
    /// a terminal, and neither `-q` nor `-v` (whose per-action lines would fight the bar) is on.
    fn start_progress(&mut self, collection: &CollectionPlan, total: usize) {
        if let Some(bar) = self.progress.take() {
            bar.finish_and_clear();
        }
        let watched = std::io::stderr().is_terminal() && !self.output.quiet;
        if !watched || self.output.verbose > 0 || total < PROGRESS_THRESHOLD {
            return;
        }
        let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template(
            "{prefix} [{bar:30}] {pos}/{len} changes, {per_sec}, eta {eta}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(format!("{}: {}", self.pair, collection.name_a));
        self.progress = Some(bar);
    }

    /// Prints the per-collection summaries and the pair's totals.
    pub fn finish(&mut self, report: &PairReport) {
        if let Some(bar) = self.progress.take() {
            bar.finish_and_clear();
        }
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
        for error in &collection.errors {
            eprintln!("pimlink: {}: {error}", self.pair);
        }
        if let Some(refusal) = &collection.refused {
            eprintln!("pimlink: {}: collection {name}: {refusal}", self.pair);
        }
        if let CollectionStep::Skip(why) = &collection.plan.step {
            if self.output.verbose > 0 || self.dry_run {
                self.output
                    .info(format!("{}: {name}: skipped ({why})", self.pair));
            }
            return;
        }
        let counts = &collection.done;
        if *counts != PlanCounts::default() || self.output.verbose > 0 {
            self.output.info(format!(
                "{}: {name}: {}",
                self.pair,
                describe_counts(counts)
            ));
        }
    }
}

impl Observer for PairObserver<'_> {
    fn collection_planned(&mut self, plan: &CollectionPlan) {
        if self.dry_run && !matches!(plan.step, CollectionStep::Sync) {
            self.output.info(format!("{}: {plan}", self.pair));
        }
    }

    fn items_planned(&mut self, collection: &CollectionPlan, plan: &ItemPlan) {
        if !self.dry_run {
            self.start_progress(collection, plan.actions.len());
            return;
        }
        if plan.refused.is_some() {
            return;
        }
        for action in &plan.actions {
            self.output
                .info(format!("{}: {}: {action}", self.pair, collection.name_a));
        }
    }

    fn action_done(&mut self, collection: &CollectionPlan, action: &ItemAction) {
        if let Some(bar) = &self.progress {
            bar.inc(1);
        }
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

    fn action_failed(
        &mut self,
        _collection: &CollectionPlan,
        _action: &ItemAction,
        _error: &Error,
    ) {
        // The error itself is reported with the collection's summary.
        if let Some(bar) = &self.progress {
            bar.inc(1);
        }
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
    if parts.is_empty() {
        "nothing".to_owned()
    } else {
        parts.join(", ")
    }
}
