//! Which IMAP keywords a side can hold, and how the planner keeps keywords that one side cannot
//! store from being lost on the other.
//!
//! A side that cannot store a keyword lists every message without it. Left alone, the three-way
//! merge would read that as "removed on this side" and remove the keyword on the other side too.
//! So each side's listing says what it can hold ([`KeywordSupport`]), [`resolve`] turns that
//! into a per-collection [`KeywordScope`] before planning, and the planner only merges a keyword
//! that both sides hold; any other keyword stays exactly as it is on each side, and the status
//! keeps its old value for it, so it is picked up as a change once both sides can hold it.

use std::collections::BTreeSet;

use crate::mail::flags::Flags;
use crate::side::{PerSide, Side};

/// What keywords one side can store in one collection, as its listing reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum KeywordSupport {
    /// Any keyword (an IMAP server whose PERMANENTFLAGS include `\*`, or that sent none).
    #[default]
    Any,
    /// Only the keywords in `known`, plus up to `room` new ones (a Maildir folder with
    /// Dovecot's keyword file: 26 letters; an IMAP server that lists its keywords in
    /// PERMANENTFLAGS without `\*`: no room).
    Limited {
        /// Keywords the side can store already.
        known: BTreeSet<String>,
        /// How many new keywords it can still take.
        room: usize,
        /// Why the room is limited, for the report (e.g. "all 26 Maildir keyword letters are
        /// in use").
        why: String,
    },
}

/// Which keywords each side holds in one collection, resolved before planning.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeywordScope {
    sides: PerSide<Holds>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Holds {
    All,
    Only(BTreeSet<String>),
}

impl KeywordScope {
    /// Both sides hold every keyword.
    pub fn all() -> Self {
        Self {
            sides: PerSide {
                a: Holds::All,
                b: Holds::All,
            },
        }
    }

    /// Neither side's keywords are synced (the pair's `keywords = false`).
    pub fn none() -> Self {
        Self {
            sides: PerSide {
                a: Holds::Only(BTreeSet::new()),
                b: Holds::Only(BTreeSet::new()),
            },
        }
    }

    /// True if `side` can store `keyword`.
    pub fn holds(&self, side: Side, keyword: &str) -> bool {
        match self.sides.get(side) {
            Holds::All => true,
            Holds::Only(set) => set.contains(keyword),
        }
    }

    /// True if the keyword is synced: both sides hold it.
    pub fn shared(&self, keyword: &str) -> bool {
        self.holds(Side::A, keyword) && self.holds(Side::B, keyword)
    }

    /// `flags` without the keywords that `side` cannot store: what a copy to `side` carries.
    pub fn fit(&self, side: Side, flags: &Flags) -> Flags {
        let mut fitted = flags.clone();
        for keyword in flags.keywords() {
            if !self.holds(side, keyword) {
                fitted.set_keyword(keyword, false);
            }
        }
        fitted
    }
}

/// A keyword that will not be synced to a side, for the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unsyncable {
    /// The side that cannot store them.
    pub side: Side,
    /// The keywords, sorted.
    pub keywords: Vec<String>,
    /// Why.
    pub why: String,
}

/// Decides which keywords each side holds in a collection: every keyword it already can, plus,
/// for a side with limited room, the first new ones (in sorted order, so the choice is the same
/// every run) that the other side's messages carry. The keywords that do not fit are returned
/// for the report; they stay on the side that has them.
pub fn resolve(
    support: PerSide<&KeywordSupport>,
    keywords_on: PerSide<&BTreeSet<String>>,
) -> (KeywordScope, Vec<Unsyncable>) {
    let mut unsyncable = Vec::new();
    let mut holds = |side: Side| -> Holds {
        match support.get(side) {
            KeywordSupport::Any => Holds::All,
            KeywordSupport::Limited { known, room, why } => {
                let mut set = known.clone();
                let wanted: Vec<&String> = keywords_on
                    .get(side.other())
                    .iter()
                    .filter(|k| !known.contains(*k))
                    .collect();
                let (fits, left) = wanted.split_at((*room).min(wanted.len()));
                set.extend(fits.iter().map(|k| (*k).clone()));
                if !left.is_empty() {
                    unsyncable.push(Unsyncable {
                        side,
                        keywords: left.iter().map(|k| (*k).clone()).collect(),
                        why: why.clone(),
                    });
                }
                Holds::Only(set)
            }
        }
    };
    let a = holds(Side::A);
    let b = holds(Side::B);
    (
        KeywordScope {
            sides: PerSide { a, b },
        },
        unsyncable,
    )
}

/// Every keyword on the messages of a listing.
pub fn keywords_of<'a>(entries: impl IntoIterator<Item = &'a Flags>) -> BTreeSet<String> {
    entries
        .into_iter()
        .flat_map(|flags| flags.keywords().map(str::to_owned))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(words: &[&str]) -> BTreeSet<String> {
        words.iter().map(|w| (*w).to_owned()).collect()
    }

    fn limited(known: &[&str], room: usize) -> KeywordSupport {
        KeywordSupport::Limited {
            known: set(known),
            room,
            why: "full".into(),
        }
    }

    #[test]
    fn any_holds_everything() {
        let (scope, notes) = resolve(
            PerSide {
                a: &KeywordSupport::Any,
                b: &KeywordSupport::Any,
            },
            PerSide {
                a: &set(&["x"]),
                b: &set(&["y"]),
            },
        );
        assert!(scope.shared("x") && scope.shared("anything"));
        assert!(notes.is_empty());
    }

    #[test]
    fn limited_room_takes_the_first_new_keywords_in_order() {
        let support = limited(&["old"], 2);
        let (scope, notes) = resolve(
            PerSide {
                a: &KeywordSupport::Any,
                b: &support,
            },
            PerSide {
                a: &set(&["old", "d", "b", "c", "a"]),
                b: &set(&["old"]),
            },
        );
        for k in ["old", "a", "b"] {
            assert!(scope.shared(k), "{k}");
        }
        for k in ["c", "d"] {
            assert!(!scope.holds(Side::B, k) && scope.holds(Side::A, k), "{k}");
        }
        assert_eq!(
            notes,
            [Unsyncable {
                side: Side::B,
                keywords: vec!["c".into(), "d".into()],
                why: "full".into()
            }]
        );
    }

    #[test]
    fn fit_drops_what_a_side_cannot_store() {
        let support = limited(&["ok"], 0);
        let (scope, _) = resolve(
            PerSide {
                a: &KeywordSupport::Any,
                b: &support,
            },
            PerSide {
                a: &set(&["ok", "no"]),
                b: &set(&[]),
            },
        );
        let mut flags = Flags::new().with(crate::Flag::Seen);
        flags.set_keyword("ok", true);
        flags.set_keyword("no", true);
        let fitted = scope.fit(Side::B, &flags);
        assert_eq!(fitted.to_status_text(), "S ok");
        assert_eq!(scope.fit(Side::A, &flags), flags);
        assert!(!KeywordScope::none().holds(Side::A, "ok"));
    }
}
