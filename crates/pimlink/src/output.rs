//! What the user sees: summaries on stdout, errors on stderr, every planned action in a dry
//! run or with `-v`.

use std::fmt::Write as _;
use std::io::IsTerminal;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use pimlink_core::mail::Mail;
use pimlink_core::mail::exec::{CollectionReport, Observer, PairReport};
use pimlink_core::mail::plan::{CollectionPlan, CollectionStep, ItemAction, ItemPlan, PlanCounts};
use pimlink_core::{CollectionName, Error, ItemKey, PerSide, Side};

use crate::error_groups;
use crate::no_state::NoStateNotice;

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

/// True if diagnostics on stderr may be coloured: only for a person watching (stderr is a
/// terminal; cron mail and the journal would get the escape codes as text), and not when
/// `NO_COLOR` is set to anything but the empty string (<https://no-color.org>).
pub fn colour(stderr_is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    stderr_is_terminal && no_color.is_none_or(|value| value.is_empty())
}

/// Plans with fewer actions than this finish too fast for a progress bar to help.
const PROGRESS_THRESHOLD: usize = 50;

/// A collection's progress bar and what it counts.
struct Progress {
    bar: ProgressBar,
    tally: ProgressTally,
}

impl Progress {
    /// True once every action it counts was reported.
    fn complete(&self) -> bool {
        self.tally.changes_done >= self.tally.changes_total
    }

    fn advance(&mut self, action: &ItemAction) {
        self.tally.changes_done += 1;
        if self.tally.bytes_total > 0 {
            self.bar.inc(copy_bytes(action));
        } else {
            self.bar.inc(1);
        }
        self.bar.set_message(self.tally.message());
    }
}

/// The counts a progress bar shows: changes done of all, and how many items go each way.
#[derive(Debug, Default, PartialEq, Eq)]
struct ProgressTally {
    changes_done: usize,
    changes_total: usize,
    copies_to_a: usize,
    copies_to_b: usize,
    bytes_total: u64,
}

impl ProgressTally {
    fn of(actions: &[ItemAction]) -> Self {
        let mut tally = Self {
            changes_total: actions.len(),
            ..Self::default()
        };
        for action in actions {
            if let ItemAction::Copy { from, .. } = action {
                match from.other() {
                    Side::A => tally.copies_to_a += 1,
                    Side::B => tally.copies_to_b += 1,
                }
            }
            tally.bytes_total += copy_bytes(action);
        }
        tally
    }

    /// "12/300 changes (280 new to b, 20 new to a)".
    fn message(&self) -> String {
        let mut message = format!("{}/{} changes", self.changes_done, self.changes_total);
        let ways: Vec<String> = [(self.copies_to_b, "b"), (self.copies_to_a, "a")]
            .into_iter()
            .filter(|(count, _)| *count > 0)
            .map(|(count, side)| format!("{count} new to {side}"))
            .collect();
        if !ways.is_empty() {
            let _ = write!(message, " ({})", ways.join(", "));
        }
        message
    }
}

/// The bytes a copy moves, as its source listed them (0 for other actions or an unknown size).
fn copy_bytes(action: &ItemAction) -> u64 {
    match action {
        ItemAction::Copy { size, .. } => size.unwrap_or(0),
        _ => 0,
    }
}

/// Prints one pair's progress.
pub struct PairObserver<'o> {
    output: &'o Output,
    pair: String,
    dry_run: bool,
    /// The progress bars of the collections being synced (several at once when the pair uses
    /// several connections), on a terminal only.
    progress: Vec<(CollectionName, Progress)>,
    bars: MultiProgress,
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
            progress: Vec::new(),
            bars: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            no_state: None,
        }
    }

    /// A progress bar for the actions of `collection`, when a person is watching: stderr is a
    /// terminal, and neither `-q` nor `-v` (whose per-action lines would fight the bar) is on.
    /// When the plan copies items of known size the bar measures bytes (the slow part, and the
    /// rate a user compares with their line); the message counts changes either way.
    fn start_progress(&mut self, collection: &CollectionPlan, actions: &[ItemAction]) {
        self.progress.retain(|(_, progress)| {
            let done = progress.complete();
            if done {
                progress.bar.finish_and_clear();
            }
            !done
        });
        let watched = std::io::stderr().is_terminal() && !self.output.quiet;
        if !watched || self.output.verbose > 0 || actions.len() < PROGRESS_THRESHOLD {
            return;
        }
        let tally = ProgressTally::of(actions);
        let (length, template) = if tally.bytes_total > 0 {
            (
                tally.bytes_total,
                "{prefix} [{bar:30}] {msg}, {bytes}/{total_bytes}, {binary_bytes_per_sec}, \
                 eta {eta}",
            )
        } else {
            (
                tally.changes_total as u64,
                "{prefix} [{bar:30}] {msg}, {rate}, eta {eta}",
            )
        };
        let bar = self.bars.add(ProgressBar::new(length));
        if let Ok(style) = ProgressStyle::with_template(template) {
            // indicatif's {per_sec} prints four decimals; changes per second need none.
            let style = style.with_key(
                "rate",
                |state: &indicatif::ProgressState, out: &mut dyn std::fmt::Write| {
                    let _ = write!(out, "{:.0}/s", state.per_sec());
                },
            );
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(format!("{}: {}", self.pair, collection.name_a));
        bar.set_message(tally.message());
        self.progress
            .push((collection.name_a.clone(), Progress { bar, tally }));
    }

    /// Moves the bar of `collection` on by `action`.
    fn advance(&mut self, collection: &CollectionPlan, action: &ItemAction) {
        if let Some((_, progress)) = self
            .progress
            .iter_mut()
            .find(|(name, _)| *name == collection.name_a)
        {
            progress.advance(action);
        }
    }

    /// Prints the per-collection summaries and the pair's totals.
    pub fn finish(&mut self, report: &PairReport) {
        for (_, progress) in self.progress.drain(..) {
            progress.bar.finish_and_clear();
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

/// Reports a collection whose changes a safety check withheld, on stderr, with the command
/// that lets them through once.
pub fn report_refusal(pair: &str, collection: &str, refusal: &impl std::fmt::Display) {
    eprintln!("pimlink: {pair}: collection {collection}: {refusal}");
    eprintln!(
        "pimlink: {pair}: collection {collection}: to apply these changes once: pimlink sync \
         --force {}",
        shell_word(&format!("{pair}/{collection}"))
    );
}

/// `word` as a shell reads it back: quoted unless it is made of harmless characters only.
fn shell_word(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._-+@%:,".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
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

#[cfg(test)]
mod tests {
    use super::*;
    use pimlink_core::Flags;

    fn copy(from: Side, size: Option<u64>) -> ItemAction {
        ItemAction::Copy {
            from,
            key: ItemKey::new("k"),
            flags: Flags::default(),
            replaces: None,
            size,
        }
    }

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        use std::ffi::OsStr;
        assert!(colour(true, None));
        assert!(
            colour(true, Some(OsStr::new(""))),
            "an empty NO_COLOR is unset"
        );
        assert!(!colour(true, Some(OsStr::new("1"))));
        assert!(!colour(true, Some(OsStr::new("0"))), "any value, even 0");
        assert!(!colour(false, None));
    }

    #[test]
    fn commands_in_hints_survive_the_shell() {
        assert_eq!(shell_word("work/Lists/rust"), "work/Lists/rust");
        assert_eq!(shell_word("p/with space"), "'p/with space'");
        assert_eq!(shell_word("p/it's"), "'p/it'\\''s'");
        assert_eq!(shell_word("p/$HOME"), "'p/$HOME'");
    }

    #[test]
    fn progress_counts_changes_each_way_and_bytes_of_copies() {
        let actions = [
            copy(Side::A, Some(1000)),
            copy(Side::A, Some(24)),
            copy(Side::B, None),
            ItemAction::Forget { id: 7 },
        ];
        let mut tally = ProgressTally::of(&actions);
        assert_eq!(
            tally,
            ProgressTally {
                changes_done: 0,
                changes_total: 4,
                copies_to_a: 1,
                copies_to_b: 2,
                bytes_total: 1024,
            }
        );
        assert_eq!(tally.message(), "0/4 changes (2 new to b, 1 new to a)");
        tally.changes_done = 4;
        assert_eq!(copy_bytes(&actions[0]), 1000);
        assert_eq!(copy_bytes(&actions[3]), 0);
        let flags_only = ProgressTally::of(&[ItemAction::Forget { id: 1 }]);
        assert_eq!(flags_only.message(), "0/1 changes");
        assert_eq!(tally.message(), "4/4 changes (2 new to b, 1 new to a)");
    }
}
