//! Warnings about collection patterns that match no collection on either side of a pair.
//!
//! Such a pattern is accepted (a collection may appear later), but it is most often a mistake
//! that otherwise goes unnoticed: a typo, a name quoted as mbsync's configuration needs
//! (`"!\"Deleted Items\""`), `"froma"` for `"from a"` copied from a badly rendered manual, or
//! pimsync's `collections all`. The engine asks the pair's selection about every collection
//! either side lists; [`Patterns`] answers and remembers those names so that the patterns can be
//! checked against them after the run (the observer warns before the summary, `list` after
//! the plans).

use std::cell::RefCell;
use std::collections::BTreeSet;

use crate::config::{CollectionFilter, PairConfig};

/// A pair's collection patterns as a run asks them, remembering every name asked about.
pub struct Patterns<'c> {
    filter: Option<&'c CollectionFilter>,
    seen: SeenNames,
}

impl<'c> Patterns<'c> {
    /// The patterns of `pair` (`PairConfig::patterns`).
    pub fn of(pair: &'c PairConfig) -> Self {
        Self {
            filter: pair.patterns(),
            seen: SeenNames::default(),
        }
    }

    /// True if a pattern selects collection `name` (none does if the pair has none).
    pub fn matches(&self, name: &str) -> bool {
        self.seen.note(name);
        self.filter.is_some_and(|filter| filter.matches(name))
    }

    /// Warns once per pattern that matched none of the names asked about.
    pub fn warn_unmatched(&self, pair: &str) {
        if let Some(filter) = self.filter {
            self.seen.warn_unmatched(pair, filter);
        }
    }
}

/// The collection names a run's selection was asked about.
#[derive(Default)]
struct SeenNames(RefCell<BTreeSet<String>>);

impl SeenNames {
    /// Remembers `name`.
    fn note(&self, name: &str) {
        self.0.borrow_mut().insert(name.to_owned());
    }

    /// Warns once per pattern of `filter` that matched none of the names seen.
    fn warn_unmatched(&self, pair: &str, filter: &CollectionFilter) {
        let names = self.0.borrow();
        for pattern in filter.unmatched(names.iter().map(String::as_str)) {
            // "*" matches nothing only when there is nothing at all, which needs no warning.
            if pattern == "*" {
                continue;
            }
            let hint = hint(pattern).map_or(String::new(), |hint| format!("; {hint}"));
            tracing::warn!(
                "pair {pair}: collection pattern {pattern:?} matches no collection on either \
                 side{hint}"
            );
        }
    }
}

/// What the user probably meant by a pattern that matches nothing, when it looks like a known
/// mistake.
fn hint(pattern: &str) -> Option<String> {
    let (not, body) = match pattern.strip_prefix('!') {
        Some(body) => ("!", body),
        None => ("", pattern),
    };
    if body.contains('"') {
        return Some(format!(
            "each pattern is a string of its own, so quotes are part of the name (mbsync's \
             Patterns need them around names with spaces, pimlink's do not): write {:?}",
            format!("{not}{}", body.replace('"', ""))
        ));
    }
    let squashed: String = body
        .chars()
        .filter(|c| !matches!(c, ' ' | '_' | '-'))
        .flat_map(char::to_lowercase)
        .collect();
    match squashed.as_str() {
        "froma" | "fromb" if body != "from a" && body != "from b" => Some(format!(
            "for every collection of a side, write \"from {}\" (with a space)",
            &squashed[4..]
        )),
        "all" => Some(
            "pimsync's `collections all` is [\"from a\", \"from b\"] here (the default), or \
             [\"*\"]"
                .to_owned(),
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_mistakes_get_a_hint() {
        let quoted = hint("!\"Deleted Items\"").unwrap();
        assert!(quoted.contains("write \"!Deleted Items\""), "{quoted}");
        assert!(quoted.contains("mbsync"), "{quoted}");
        assert!(hint("\"Sent\"").unwrap().contains("write \"Sent\""));
        for (pattern, want) in [
            ("froma", "\"from a\""),
            ("fromb", "\"from b\""),
            ("from_b", "\"from b\""),
            ("From-A", "\"from a\""),
        ] {
            let text = hint(pattern).unwrap();
            assert!(text.contains(want), "{pattern}: {text}");
        }
        assert!(hint("all").unwrap().contains("[\"*\"]"));
        assert_eq!(hint("Lists/%"), None);
        assert_eq!(hint("!Junk"), None);
    }

    #[test]
    fn only_patterns_that_matched_nothing_are_reported() {
        let filter = CollectionFilter::new(&["*", "!Junk", "!\"Deleted Items\""]).unwrap();
        let seen = SeenNames::default();
        for name in ["INBOX", "Junk", "Deleted Items"] {
            seen.note(name);
        }
        let names = seen.0.borrow();
        assert_eq!(
            filter.unmatched(names.iter().map(String::as_str)),
            ["!\"Deleted Items\""]
        );
    }
}
