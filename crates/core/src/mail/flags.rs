//! Message flags and their three-way merge.

use std::collections::BTreeSet;
use std::fmt;

/// A system flag that both IMAP and Maildir know.
///
/// The order of the variants is the ASCII order of their Maildir letters, which is the order the
/// Maildir spec requires in a file name's info part.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Flag {
    /// `\Draft`, Maildir `D`.
    Draft,
    /// `\Flagged`, Maildir `F`.
    Flagged,
    /// `$Forwarded`, Maildir `P` (passed).
    Passed,
    /// `\Answered`, Maildir `R` (replied).
    Replied,
    /// `\Seen`, Maildir `S`.
    Seen,
    /// `\Deleted`, Maildir `T` (trashed).
    Trashed,
}

impl Flag {
    /// Every flag, in Maildir letter order.
    pub const ALL: [Flag; 6] = [
        Flag::Draft,
        Flag::Flagged,
        Flag::Passed,
        Flag::Replied,
        Flag::Seen,
        Flag::Trashed,
    ];

    /// The Maildir letter.
    pub fn maildir_letter(self) -> char {
        match self {
            Flag::Draft => 'D',
            Flag::Flagged => 'F',
            Flag::Passed => 'P',
            Flag::Replied => 'R',
            Flag::Seen => 'S',
            Flag::Trashed => 'T',
        }
    }

    /// The flag for a Maildir letter, if it is one of the six.
    pub fn from_maildir_letter(letter: char) -> Option<Flag> {
        Flag::ALL
            .into_iter()
            .find(|flag| flag.maildir_letter() == letter)
    }

    /// The IMAP spelling.
    pub fn imap_name(self) -> &'static str {
        match self {
            Flag::Draft => "\\Draft",
            Flag::Flagged => "\\Flagged",
            Flag::Passed => "$Forwarded",
            Flag::Replied => "\\Answered",
            Flag::Seen => "\\Seen",
            Flag::Trashed => "\\Deleted",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// The flags of one message: system flags plus free-form keywords (IMAP keywords such as
/// `$Junk`, which storages that cannot hold them simply do not report).
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Flags {
    system: u8,
    keywords: BTreeSet<String>,
}

impl Flags {
    /// No flags.
    pub fn new() -> Self {
        Self::default()
    }

    /// True if `flag` is set.
    pub fn contains(&self, flag: Flag) -> bool {
        self.system & flag.bit() != 0
    }

    /// Sets or clears `flag`.
    pub fn set(&mut self, flag: Flag, on: bool) {
        if on {
            self.system |= flag.bit();
        } else {
            self.system &= !flag.bit();
        }
    }

    /// Builder form of [`Flags::set`].
    pub fn with(mut self, flag: Flag) -> Self {
        self.set(flag, true);
        self
    }

    /// The same flags without `flag`.
    pub fn without(mut self, flag: Flag) -> Self {
        self.set(flag, false);
        self
    }

    /// The set system flags, in Maildir letter order.
    pub fn system_flags(&self) -> impl Iterator<Item = Flag> + '_ {
        Flag::ALL.into_iter().filter(|flag| self.contains(*flag))
    }

    /// The keywords, sorted.
    pub fn keywords(&self) -> impl Iterator<Item = &str> {
        self.keywords.iter().map(String::as_str)
    }

    /// Adds or removes a keyword. Keywords are atoms: callers must not pass spaces or controls.
    pub fn set_keyword(&mut self, keyword: &str, on: bool) {
        if on {
            self.keywords.insert(keyword.to_owned());
        } else {
            self.keywords.remove(keyword);
        }
    }

    /// True if no flag and no keyword is set.
    pub fn is_empty(&self) -> bool {
        self.system == 0 && self.keywords.is_empty()
    }

    /// The system flags as Maildir letters, in the required ASCII order (e.g. `"FS"`).
    pub fn maildir_letters(&self) -> String {
        self.system_flags().map(Flag::maildir_letter).collect()
    }

    /// Three-way merge per flag: a flag that one side changed since `base` takes that side's
    /// value; a flag both sides changed necessarily changed the same way (a flag has two values),
    /// so the result is well defined and no flag change is ever lost.
    pub fn merge3(base: &Flags, a: &Flags, b: &Flags) -> Flags {
        // For each bit: if a differs from base, take a, else take b.
        let changed_on_a = a.system ^ base.system;
        let system = (a.system & changed_on_a) | (b.system & !changed_on_a);
        let mut keywords = BTreeSet::new();
        for keyword in base.keywords.iter().chain(&a.keywords).chain(&b.keywords) {
            let in_base = base.keywords.contains(keyword);
            let in_a = a.keywords.contains(keyword);
            let in_b = b.keywords.contains(keyword);
            if if in_a != in_base { in_a } else { in_b } {
                keywords.insert(keyword.clone());
            }
        }
        Flags { system, keywords }
    }

    /// The flags and keywords both sets have.
    pub fn intersection(a: &Flags, b: &Flags) -> Flags {
        Flags {
            system: a.system & b.system,
            keywords: a.keywords.intersection(&b.keywords).cloned().collect(),
        }
    }

    /// A compact text form for the status store: Maildir letters, then the keywords, separated
    /// by spaces (`"FS $Junk"`). [`Flags::from_status_text`] reads it back.
    pub fn to_status_text(&self) -> String {
        let mut text = self.maildir_letters();
        for keyword in &self.keywords {
            text.push(' ');
            text.push_str(keyword);
        }
        text
    }

    /// Reads the form written by [`Flags::to_status_text`]; unknown letters are ignored.
    pub fn from_status_text(text: &str) -> Flags {
        let mut parts = text.split(' ');
        let mut flags = Flags::new();
        for letter in parts.next().unwrap_or_default().chars() {
            if let Some(flag) = Flag::from_maildir_letter(letter) {
                flags.set(flag, true);
            }
        }
        for keyword in parts.filter(|k| !k.is_empty()) {
            flags.set_keyword(keyword, true);
        }
        flags
    }
}

impl fmt::Debug for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Flags({:?})", self.to_status_text())
    }
}

impl fmt::Display for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("-");
        }
        f.write_str(&self.to_status_text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn flags_strategy() -> impl Strategy<Value = Flags> {
        (
            0u8..64,
            proptest::collection::btree_set("\\$?[a-zA-Z]{1,6}", 0..3),
        )
            .prop_map(|(system, keywords)| Flags { system, keywords })
    }

    proptest! {
        #[test]
        fn status_text_round_trips(flags in flags_strategy()) {
            prop_assert_eq!(Flags::from_status_text(&flags.to_status_text()), flags);
        }

        #[test]
        fn merge_keeps_every_one_sided_change(base in flags_strategy(), a in flags_strategy(), b in flags_strategy()) {
            let merged = Flags::merge3(&base, &a, &b);
            for flag in Flag::ALL {
                let expected = if a.contains(flag) != base.contains(flag) { a.contains(flag) } else { b.contains(flag) };
                prop_assert_eq!(merged.contains(flag), expected, "{:?}", flag);
            }
            // Unchanged sides are no-ops.
            prop_assert_eq!(Flags::merge3(&base, &base, &b), b.clone());
            prop_assert_eq!(Flags::merge3(&base, &a, &base), a.clone());
            // Symmetric: which side is called "a" does not matter.
            prop_assert_eq!(Flags::merge3(&base, &b, &a), merged);
        }
    }

    #[test]
    fn maildir_letters_are_sorted() {
        let flags = Flags::new()
            .with(Flag::Seen)
            .with(Flag::Draft)
            .with(Flag::Replied);
        assert_eq!(flags.maildir_letters(), "DRS");
    }
}
