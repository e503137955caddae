//! What the user sees: summaries on stdout, errors on stderr, every planned action in a dry
//! run or with `-v`.
//!
//! [`Output`] is the verbosity; [`PairOutput`] is the one observer of a pair's run, for both
//! families: `pair` holds what both show alike (errors, refusals, the totals line, the
//! warnings), `mail` and `dav` implement the core `Observer` for each family, `progress` draws
//! the progress bars of a mail run on a terminal; `json` is the observer of `--json`
//! ([`JsonEvents`]: JSON Lines on stdout, schema documented there).
//!
//! Not here: the wording of a failure that stopped a command (`failure`), one line per cause
//! of a collection's failures (`error_groups`), the no-state warning (`no_state`).

mod dav;
mod json;
mod mail;
mod pair;
mod progress;

pub use json::{JsonEvents, write_event as write_json_event};

use std::sync::atomic::{AtomicBool, Ordering};

pub use pair::PairOutput;

/// Verbosity, resolved from `-v` and `-q`, and whether a run is shown as JSON events.
#[derive(Clone, Copy, Debug)]
pub struct Output {
    verbose: u8,
    quiet: bool,
    json: bool,
    /// The daemon's stop flag (SIGTERM), which the runs it starts read at their safe points.
    stop: Option<&'static AtomicBool>,
}

impl Output {
    /// From the command-line flags.
    pub fn new(verbose: u8, quiet: bool) -> Self {
        Self {
            verbose,
            quiet,
            json: false,
            stop: None,
        }
    }

    /// The same, for runs that end at their next safe point once `stop` is set.
    pub fn with_stop(self, stop: &'static AtomicBool) -> Self {
        Self {
            stop: Some(stop),
            ..self
        }
    }

    /// The same, with a run's progress and summary as JSON Lines on stdout (`--json`) when
    /// `json` is true; text lines (`info`) are then left out, so that stdout stays JSON.
    pub fn with_json(self, json: bool) -> Self {
        Self {
            json,
            quiet: self.quiet || json,
            ..self
        }
    }

    /// True if a run is shown as JSON events ([`JsonEvents`]).
    pub fn json(&self) -> bool {
        self.json
    }

    /// True once the daemon was asked to stop.
    pub fn stop_requested(&self) -> bool {
        self.stop.is_some_and(|stop| stop.load(Ordering::SeqCst))
    }

    /// How many `-v` were given.
    pub fn verbose(&self) -> u8 {
        self.verbose
    }

    /// `-q`: print only errors.
    pub fn quiet(&self) -> bool {
        self.quiet
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

    /// An error that stopped work on `storages` (a pair's two, or one), then what to do
    /// about it when there is advice for its kind (`next_step`), on stderr.
    pub fn storage_error(
        &self,
        config: &crate::config::Config,
        storages: &[&str],
        error: &anyhow::Error,
    ) {
        self.error(error);
        if let Some(advice) = crate::next_step::next_step(config, storages, error) {
            eprintln!("pimlink: what to do: {advice}");
        }
    }
}

/// True if diagnostics on stderr may be coloured: only for a person watching (stderr is a
/// terminal; cron mail and the journal would get the escape codes as text), and not when
/// `NO_COLOR` is set to anything but the empty string (<https://no-color.org>).
pub fn colour(stderr_is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    stderr_is_terminal && no_color.is_none_or(|value| value.is_empty())
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
