//! The progress bars of a pair's collections, on a terminal only.

use std::fmt::Write as _;
use std::io::IsTerminal;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use pimlink_core::mail::plan::ItemAction;
use pimlink_core::{CollectionName, Side};

use super::Output;

/// The progress bars of the collections being synced (several at once when the pair uses
/// several connections), on a terminal only.
pub(super) struct Bars {
    progress: Vec<(CollectionName, Progress)>,
    bars: MultiProgress,
}

impl Bars {
    pub(super) fn new() -> Self {
        Self {
            progress: Vec::new(),
            bars: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
        }
    }

    /// A progress bar for the actions of `collection`, when a person is watching: stderr is a
    /// terminal, and neither `-q` nor `-v` (whose per-action lines would fight the bar) is on.
    /// When the plan copies items of known size the bar measures bytes (the slow part, and the
    /// rate a user compares with their line); the message counts changes either way.
    pub(super) fn start(
        &mut self,
        output: &Output,
        pair: &str,
        collection: &CollectionName,
        actions: &[ItemAction],
    ) {
        self.progress.retain(|(_, progress)| {
            let done = progress.complete();
            if done {
                progress.bar.finish_and_clear();
            }
            !done
        });
        let watched = std::io::stderr().is_terminal() && !output.quiet;
        if !watched || output.verbose > 0 || actions.len() < PROGRESS_THRESHOLD {
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
        bar.set_prefix(format!("{pair}: {collection}"));
        bar.set_message(tally.message());
        self.progress
            .push((collection.clone(), Progress { bar, tally }));
    }

    /// Moves the bar of `collection` on by `action`.
    pub(super) fn advance(&mut self, collection: &CollectionName, action: &ItemAction) {
        if let Some((_, progress)) = self
            .progress
            .iter_mut()
            .find(|(name, _)| name == collection)
        {
            progress.advance(action);
        }
    }

    /// Takes every bar off the terminal.
    pub(super) fn clear(&mut self) {
        for (_, progress) in self.progress.drain(..) {
            progress.bar.finish_and_clear();
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use pimlink_core::{Flags, ItemKey};

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
