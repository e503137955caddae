//! [`PairOutput`]: what a pair's run shows, for either family. The pair runner drives it as
//! the core `Observer` of both families (`output/mail.rs`, `output/dav.rs` say what differs);
//! what both show alike (errors, refusals, the totals line, the no-state warning, the
//! patterns' warnings) is here.

use std::fmt::Write as _;

use pimlink_core::Error;
use pimlink_core::guard::Refusal;

use super::progress::Bars;
use super::{Output, report_refusal};
use crate::commands::patterns::Patterns;
use crate::error_groups;
use crate::no_state::NoStateNotice;

/// Prints one pair's progress and summary.
pub struct PairOutput<'o> {
    pub(super) output: &'o Output,
    pub(super) pair: String,
    pub(super) dry_run: bool,
    /// The progress bars of the collections being synced (mail).
    pub(super) bars: Bars,
    /// Set when the pair's status knew nothing at the start of the run.
    pub(super) no_state: Option<NoStateNotice>,
    /// The pair's collection patterns, warned about (those that matched nothing) before the
    /// summary.
    patterns: Option<&'o Patterns<'o>>,
}

impl<'o> PairOutput<'o> {
    /// For pair `pair`: `no_state` if its status knew nothing, `patterns` its selection.
    pub fn new(
        output: &'o Output,
        pair: &str,
        dry_run: bool,
        no_state: Option<NoStateNotice>,
        patterns: &'o Patterns<'o>,
    ) -> Self {
        Self {
            output,
            pair: pair.to_owned(),
            dry_run,
            bars: Bars::new(),
            no_state,
            patterns: Some(patterns),
        }
    }

    /// The start of the summary: the patterns that matched nothing, once.
    pub(super) fn warn_patterns(&mut self) {
        if let Some(patterns) = self.patterns.take() {
            patterns.warn_unmatched(&self.pair);
        }
    }

    /// A collection's failures (one line per cause, each with `-v`), on stderr.
    pub(super) fn errors(&self, collection: &str, errors: &[Error]) {
        let verbose = self.output.verbose > 0;
        for line in error_groups::lines(collection, errors, verbose) {
            eprintln!("pimlink: {}: {line}", self.pair);
        }
    }

    /// "NAME: created on SIDES" after a real run created a collection without errors: the
    /// counts do not show a new collection, and a dry run printed the plan already. `sides`
    /// is "side a", "side b" or "sides a and b"; `None` when the plan created nothing.
    pub(super) fn created(&self, collection: &str, sides: Option<String>, errors: &[Error]) {
        if let (Some(sides), false, true) = (sides, self.dry_run, errors.is_empty()) {
            self.output
                .info(format!("{}: {collection}: created on {sides}", self.pair));
        }
    }

    /// A collection's withheld changes, with the command that lets them through once.
    pub(super) fn refusal(&self, collection: &str, refused: Option<&Refusal>) {
        if let Some(refusal) = refused {
            report_refusal(&self.pair, collection, refusal);
        }
    }

    /// The pair's totals line: "p: 3 collections, changed: <counts><extra>, 2 errors, ...".
    pub(super) fn totals(
        &self,
        collections: usize,
        counts: &str,
        extra: &str,
        errors: usize,
        refused: bool,
    ) {
        let verb = if self.dry_run {
            "would change"
        } else {
            "changed"
        };
        let mut line = format!(
            "{}: {collections} collections, {verb}: {counts}{extra}",
            self.pair
        );
        if errors > 0 {
            let _ = write!(line, ", {errors} errors");
        }
        if refused {
            line.push_str(", some changes refused (see above)");
        }
        self.output.info(line);
    }
}
