//! Which collections a pair syncs: mbsync-style patterns, compiled with `globset`.
//!
//! Pattern syntax (documented for users in the example config):
//! - `*` matches any sequence of characters, `/` included, so `Lists*` selects `Lists`,
//!   `Lists/rust` and `Lists/rust/announce` (as mbsync's `*`);
//! - `%` matches any sequence of characters within one level (no `/`), so `Lists/%` selects
//!   `Lists/rust` but not `Lists/rust/announce` or `Lists` (as mbsync's `%`);
//! - `?` matches one character other than `/`;
//! - `\` makes the next character literal (`\*`, `\%`, `\?`, `\\`, `\!`);
//! - everything else is literal, including `[`, `]`, `{` and `}`, so that names such as
//!   `[Gmail]/All Mail` need no escaping;
//! - a leading `!` makes the pattern an exclusion.
//!
//! Patterns match whole names, case-sensitively, except that a pattern `INBOX` in any case
//! matches the inbox (whose name pimlink normalises to `INBOX`). A name is selected when it
//! matches at least one inclusion and no exclusion; the order of patterns does not matter.

use std::fmt;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

/// A compiled list of collection patterns.
#[derive(Clone)]
pub struct CollectionFilter {
    patterns: Vec<String>,
    include: GlobSet,
    exclude: GlobSet,
    /// For each glob of `include`, then of `exclude`, the index of its pattern in `patterns`.
    include_of: Vec<usize>,
    exclude_of: Vec<usize>,
    /// How many of `patterns` the user wrote; the rest a provider preset added (issue 18),
    /// and an added one that matches nothing is no mistake worth a warning.
    written: usize,
}

/// A pattern that could not be compiled: which one (by index in the list) and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PatternError {
    /// The index of the bad pattern in the list given to [`CollectionFilter::new`].
    pub index: usize,
    /// What is wrong with it.
    pub message: String,
}

impl CollectionFilter {
    /// Compiles `patterns`. An empty list, or one with only exclusions, is refused, because it
    /// would select nothing: almost certainly not what was meant.
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<Self, PatternError> {
        let mut include = GlobSetBuilder::new();
        let mut exclude = GlobSetBuilder::new();
        let (mut include_of, mut exclude_of) = (Vec::new(), Vec::new());
        for (index, pattern) in patterns.iter().enumerate() {
            let pattern = pattern.as_ref();
            let (set, body) = match pattern.strip_prefix('!') {
                Some(body) => {
                    exclude_of.push(index);
                    (&mut exclude, body)
                }
                None => {
                    include_of.push(index);
                    (&mut include, pattern)
                }
            };
            let glob = GlobBuilder::new(&translate(body).map_err(|message| PatternError {
                index,
                message: format!("pattern {pattern:?}: {message}"),
            })?)
            .literal_separator(true)
            .backslash_escape(true)
            .build()
            .map_err(|err| PatternError {
                index,
                message: format!("pattern {pattern:?}: {}", err.kind()),
            })?;
            set.add(glob);
        }
        if include_of.is_empty() {
            return Err(PatternError {
                index: 0,
                message: if patterns.is_empty() {
                    "the list is empty, so no collection would be synced; use [\"*\"] for all"
                        .to_owned()
                } else {
                    "there are only exclusions (\"!...\"), so no collection would be synced; \
                     add \"*\" to sync everything else"
                        .to_owned()
                },
            });
        }
        let build = |set: GlobSetBuilder| {
            set.build().map_err(|err| PatternError {
                index: 0,
                message: err.to_string(),
            })
        };
        Ok(Self {
            written: patterns.len(),
            patterns: patterns.iter().map(|p| p.as_ref().to_owned()).collect(),
            include: build(include)?,
            exclude: build(exclude)?,
            include_of,
            exclude_of,
        })
    }

    /// The filter that selects every collection (`["*"]`), the default.
    pub fn all() -> Self {
        // "*" always compiles; the fallback keeps this total without an unwrap.
        Self::new(&["*"]).unwrap_or_else(|_| Self {
            patterns: vec!["*".to_owned()],
            include: GlobSet::empty(),
            exclude: GlobSet::empty(),
            include_of: Vec::new(),
            exclude_of: Vec::new(),
            written: 1,
        })
    }

    /// The same filter, of whose patterns only the first `written` were written by the user
    /// (the rest came from a provider preset).
    pub fn written(mut self, written: usize) -> Self {
        self.written = written.min(self.patterns.len());
        self
    }

    /// True if the collection `name` is selected: it matches an inclusion and no exclusion.
    pub fn matches(&self, name: &str) -> bool {
        self.include.is_match(name) && !self.exclude.is_match(name)
    }

    /// The patterns as written in the configuration.
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    /// The patterns that match none of `names`, in the order written: an inclusion that
    /// selects none of them, or an exclusion that leaves out none of them (whether or not an
    /// inclusion would have selected it). Such a pattern is most likely a mistake: a typo, or
    /// a name quoted the way another program's configuration needs.
    pub fn unmatched<'n>(&self, names: impl IntoIterator<Item = &'n str>) -> Vec<&str> {
        let mut matched = vec![false; self.patterns.len()];
        for name in names {
            for (set, index_of) in [
                (&self.include, &self.include_of),
                (&self.exclude, &self.exclude_of),
            ] {
                for glob in set.matches(name) {
                    if let Some(&index) = index_of.get(glob) {
                        matched[index] = true;
                    }
                }
            }
        }
        self.patterns[..self.written]
            .iter()
            .zip(matched)
            .filter(|(_, matched)| !matched)
            .map(|(pattern, _)| pattern.as_str())
            .collect()
    }
}

impl fmt::Debug for CollectionFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CollectionFilter")
            .field(&self.patterns)
            .finish()
    }
}

impl PartialEq for CollectionFilter {
    fn eq(&self, other: &Self) -> bool {
        self.patterns == other.patterns
    }
}

/// Rewrites a pattern in the syntax above into globset syntax with `literal_separator` on,
/// where `*` stays within a level and `**` between slashes spans levels.
fn translate(pattern: &str) -> Result<String, String> {
    if pattern.eq_ignore_ascii_case("INBOX") {
        return Ok("INBOX".to_owned());
    }
    let mut out = String::with_capacity(pattern.len() * 2);
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            // Either within one level, or a level prefix, any middle levels, a level suffix.
            '*' => out.push_str("{*,*/**/*}"),
            // A run of `%` is one `%`; written as `**` it would mean "anything" to globset.
            '%' if !out.ends_with('*') || out.ends_with("\\*") => out.push('*'),
            '%' => {}
            '?' => out.push('?'),
            '\\' => {
                let next = chars
                    .next()
                    .ok_or_else(|| "it ends with a lone \"\\\"".to_owned())?;
                push_literal(&mut out, next);
            }
            c => push_literal(&mut out, c),
        }
    }
    if out.is_empty() {
        return Err("the pattern is empty".to_owned());
    }
    Ok(out)
}

fn push_literal(out: &mut String, c: char) {
    if matches!(
        c,
        '*' | '?' | '[' | ']' | '{' | '}' | ',' | '\\' | '!' | '%'
    ) {
        out.push('\\');
    }
    out.push(c);
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn filter(patterns: &[&str]) -> CollectionFilter {
        CollectionFilter::new(patterns).unwrap()
    }

    #[test]
    fn star_spans_levels_and_percent_does_not() {
        let all = filter(&["*"]);
        for name in ["INBOX", "a", "a/b", "a/b/c", "[Gmail]/All Mail"] {
            assert!(all.matches(name), "{name}");
        }
        let top = filter(&["%"]);
        assert!(top.matches("INBOX"));
        assert!(!top.matches("a/b"));
        // Found by the property test: "%%" once became globset's "**", which matches anything.
        assert!(!filter(&["%%"]).matches("a/b"));
        assert!(filter(&["%%"]).matches("ab"));
        let lists = filter(&["Lists/%"]);
        assert!(lists.matches("Lists/rust"));
        assert!(!lists.matches("Lists"));
        assert!(!lists.matches("Lists/rust/announce"));
        let prefix = filter(&["Lists*"]);
        for name in ["Lists", "Lists/rust", "Lists/rust/announce", "Listsx"] {
            assert!(prefix.matches(name), "{name}");
        }
        assert!(!prefix.matches("Other/Lists"));
        let middle = filter(&["a*z"]);
        for name in ["az", "a/z", "ab/cd/z", "abz"] {
            assert!(middle.matches(name), "{name}");
        }
        assert!(!middle.matches("a/zb"));
        let one = filter(&["a?c"]);
        assert!(one.matches("abc"));
        assert!(!one.matches("a/c"));
    }

    #[test]
    fn patterns_match_whole_names() {
        let f = filter(&["Sent"]);
        assert!(f.matches("Sent"));
        assert!(!f.matches("Sent/2024"));
        assert!(!f.matches("Old/Sent"));
        assert!(!f.matches("sent"));
    }

    #[test]
    fn brackets_and_braces_are_literal() {
        let f = filter(&["[Gmail]/%"]);
        assert!(f.matches("[Gmail]/All Mail"));
        assert!(!f.matches("G/All Mail"));
        let f = filter(&["{a,b}"]);
        assert!(f.matches("{a,b}"));
        assert!(!f.matches("a"));
    }

    #[test]
    fn backslash_escapes_and_inbox_is_case_insensitive() {
        let f = filter(&["a\\*", "\\!x", "100\\%"]);
        assert!(f.matches("a*"));
        assert!(!f.matches("ab"));
        assert!(f.matches("!x"));
        assert!(f.matches("100%"));
        assert!(!f.matches("100x"));
        assert!(filter(&["inbox"]).matches("INBOX"));
    }

    #[test]
    fn exclusions_win_regardless_of_order() {
        let f = filter(&["!Junk", "*", "!Trash*"]);
        assert!(f.matches("INBOX"));
        assert!(!f.matches("Junk"));
        assert!(f.matches("Junk/keep"));
        assert!(!f.matches("Trash"));
        assert!(!f.matches("Trash/old"));
    }

    #[test]
    fn useless_lists_and_bad_patterns_are_refused() {
        let err = CollectionFilter::new::<&str>(&[]).unwrap_err();
        assert!(err.message.contains("empty"), "{err:?}");
        let err = CollectionFilter::new(&["!Junk"]).unwrap_err();
        assert!(err.message.contains("only exclusions"), "{err:?}");
        let err = CollectionFilter::new(&["*", "a\\"]).unwrap_err();
        assert_eq!(err.index, 1);
        assert!(err.message.contains("lone"), "{err:?}");
        let err = CollectionFilter::new(&["*", "!"]).unwrap_err();
        assert_eq!(err.index, 1);
        assert!(err.message.contains("empty"), "{err:?}");
    }

    #[test]
    fn patterns_that_match_no_name_are_named() {
        let f = filter(&["INBOX", "Lists/%", "Nope*", "!Junk", "!\"Deleted Items\""]);
        let names = ["INBOX", "Lists/rust", "Junk", "Deleted Items"];
        assert_eq!(f.unmatched(names), ["Nope*", "!\"Deleted Items\""]);
        // An exclusion counts when it matches a name, selected by an inclusion or not.
        assert_eq!(
            filter(&["INBOX", "!Junk"]).unmatched(["INBOX", "Junk"]),
            Vec::<&str>::new()
        );
        assert_eq!(filter(&["*"]).unmatched([]), ["*"]);
    }

    /// A direct reading of the documented syntax, to check the translation to globset against.
    fn reference(pattern: &[char], name: &[char]) -> bool {
        match pattern.split_first() {
            None => name.is_empty(),
            Some(('*', rest)) => (0..=name.len()).any(|i| reference(rest, &name[i..])),
            Some(('%', rest)) => (0..=name.len())
                .take_while(|&i| i == 0 || name[i - 1] != '/')
                .any(|i| reference(rest, &name[i..])),
            Some(('?', rest)) => {
                name.first().is_some_and(|&c| c != '/') && reference(rest, &name[1..])
            }
            Some((&c, rest)) => name.first() == Some(&c) && reference(rest, &name[1..]),
        }
    }

    proptest! {
        #[test]
        fn translation_agrees_with_the_reference(
            pattern in "[ab/*%?\\[{]{1,8}",
            name in "[ab/\\[{]{0,8}",
        ) {
            let f = CollectionFilter::new(&[&pattern]).unwrap();
            let p: Vec<char> = pattern.chars().collect();
            let n: Vec<char> = name.chars().collect();
            prop_assert_eq!(f.matches(&name), reference(&p, &n), "pattern {:?}", pattern);
        }

        #[test]
        fn excluded_names_are_never_selected(
            includes in proptest::collection::vec("[ab/*%?]{1,5}", 1..4),
            exclude in "[ab/*%?]{1,5}",
            name in "[ab/]{0,8}",
        ) {
            let mut patterns = includes.clone();
            patterns.push(format!("!{exclude}"));
            let f = CollectionFilter::new(&patterns).unwrap();
            let alone = CollectionFilter::new(&[&exclude]).unwrap();
            if alone.matches(&name) {
                prop_assert!(!f.matches(&name));
            } else {
                // Not excluded: selected exactly when some inclusion selects it.
                let included = includes
                    .iter()
                    .any(|p| CollectionFilter::new(&[p]).unwrap().matches(&name));
                prop_assert_eq!(f.matches(&name), included);
            }
        }
    }
}
