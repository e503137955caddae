//! Name translation between a pair's sides: each side's folder names map to the pair's own
//! names, so that `[Gmail]/Sent Mail` on the server can be `Sent` in a Maildir tree.
//!
//! A side may have a *prefix* (a folder whose subfolders are the side's part of the pair, like
//! mbsync's `Path INBOX.` or OfflineIMAP's `nametrans` stripping `INBOX.`): `P/x` on the side is
//! `x` in the pair, `INBOX` stays `INBOX`, and folders outside the prefix are not part of the
//! pair. A *folder map* names single folders: `[a, b]` pairs folder `a` on side A with folder `b`
//! on side B, overriding prefixes. Collection patterns and `pimlink sync PAIR/FOLDER` use the
//! pair's names: for a map entry, B's name with B's prefix removed.
//!
//! The translation is a bijection by construction: a side name is in the pair only if
//! translating it back gives the same side name ([`NameTranslation::to_pair`] checks this), so
//! two folders can never land on one name; a folder that would is reported and left out. The
//! static mistakes (two map entries for one folder, an entry that undoes itself) are refused by
//! [`NameTranslation::new`].

use std::collections::BTreeMap;
use std::fmt;

use crate::name::CollectionName;
use crate::side::{PerSide, Side};

/// What is wrong with a translation, and which map entry (index) caused it, if one did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TranslationError {
    /// The folder-map entry at fault, if any.
    pub entry: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for TranslationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Why a folder is not part of the pair.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Exclusion {
    /// It lies outside the side's prefix: by design.
    Outside(String),
    /// Its translated name belongs to another folder: worth a warning.
    Collision(String),
}

/// One side's rules.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct SideRules {
    prefix: Option<CollectionName>,
    /// Side name -> pair name, and back.
    to_pair: BTreeMap<CollectionName, CollectionName>,
    to_side: BTreeMap<CollectionName, CollectionName>,
}

impl SideRules {
    /// The pair name by prefix alone (no map), or `None` if the name is outside the prefix.
    fn strip(&self, name: &CollectionName) -> Option<CollectionName> {
        let Some(prefix) = &self.prefix else {
            return Some(name.clone());
        };
        if name.is_inbox() {
            return Some(name.clone());
        }
        let rest = name
            .as_str()
            .strip_prefix(prefix.as_str())?
            .strip_prefix('/')?;
        CollectionName::new(rest).ok()
    }

    /// The side name by prefix alone.
    fn add(&self, name: &CollectionName) -> Option<CollectionName> {
        match &self.prefix {
            Some(prefix) if !name.is_inbox() => {
                CollectionName::new(format!("{prefix}/{name}")).ok()
            }
            _ => Some(name.clone()),
        }
    }

    fn to_pair_unchecked(&self, name: &CollectionName) -> Option<CollectionName> {
        match self.to_pair.get(name) {
            Some(pair) => Some(pair.clone()),
            None => self.strip(name),
        }
    }

    fn to_side_unchecked(&self, name: &CollectionName) -> Option<CollectionName> {
        match self.to_side.get(name) {
            Some(side) => Some(side.clone()),
            None => self.add(name),
        }
    }
}

/// The translation of a pair's folder names; the identity unless configured.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NameTranslation {
    sides: PerSide<SideRules>,
}

impl NameTranslation {
    /// No translation: every folder has the same name on both sides and in the pair.
    pub fn identity() -> Self {
        Self::default()
    }

    /// Builds the translation from the prefixes of each side and the folder map (`[name on a,
    /// name on b]` entries). Refuses entries that are not valid folder names, that name a folder
    /// twice, or that would map two folders to one name.
    pub fn new(
        prefix: PerSide<Option<&str>>,
        folder_map: &[(String, String)],
    ) -> Result<Self, TranslationError> {
        let mut translation = Self::default();
        for side in [Side::A, Side::B] {
            if let Some(text) = prefix.get(side) {
                translation.sides.get_mut(side).prefix = Some(parse_prefix(text)?);
            }
        }
        for (index, (on_a, on_b)) in folder_map.iter().enumerate() {
            let error = |message: String| TranslationError {
                entry: Some(index),
                message,
            };
            let parse = |text: &str| {
                let name = CollectionName::new(text).map_err(|e| error(e.to_string()))?;
                if name.is_inbox() && text != CollectionName::INBOX {
                    return Err(error(format!(
                        "{text:?} is INBOX (pimlink treats INBOX in any case as INBOX, as IMAP \
                         does); to keep INBOX under another name, map it to a name that is not \
                         INBOX in any case, e.g. [\"INBOX\", \"Inbox-mail\"]"
                    )));
                }
                Ok(name)
            };
            let (a, b) = (parse(on_a)?, parse(on_b)?);
            // The pair name: B's name as B's prefix alone would translate it.
            let rules_b = &translation.sides.b;
            let pair = rules_b.strip(&b).unwrap_or_else(|| b.clone());
            for (side, name) in [(Side::A, &a), (Side::B, &b)] {
                let rules = translation.sides.get_mut(side);
                if rules.to_pair.contains_key(name) {
                    return Err(error(format!(
                        "folder {name:?} on side {side} is mapped twice"
                    )));
                }
                if let Some(other) = rules.to_side.get(&pair) {
                    return Err(error(format!(
                        "folder {name:?} and folder {other:?} on side {side} would both be \
                         synced as {pair:?}"
                    )));
                }
                rules.to_pair.insert(name.clone(), pair.clone());
                rules.to_side.insert(pair.clone(), name.clone());
            }
        }
        Ok(translation)
    }

    /// True if no name changes.
    pub fn is_identity(&self) -> bool {
        *self == Self::default()
    }

    /// The pair's name for folder `name` on `side`, or `None` if the folder is not part of the
    /// pair (outside the side's prefix, or it would take a name another folder already has).
    pub fn to_pair(&self, side: Side, name: &CollectionName) -> Option<CollectionName> {
        let rules = self.sides.get(side);
        let pair = rules.to_pair_unchecked(name)?;
        (rules.to_side_unchecked(&pair).as_ref() == Some(name)).then_some(pair)
    }

    /// Why folder `name` on `side` is not part of the pair (for a message), when
    /// [`NameTranslation::to_pair`] gives `None`.
    pub fn why_excluded(&self, side: Side, name: &CollectionName) -> Exclusion {
        let rules = self.sides.get(side);
        match rules.to_pair_unchecked(name) {
            None => Exclusion::Outside(match &rules.prefix {
                Some(prefix) => format!("it is outside the prefix {prefix:?} of side {side}"),
                None => "it has no name in the pair".to_owned(),
            }),
            Some(pair) => Exclusion::Collision(match rules.to_side_unchecked(&pair) {
                Some(other) => format!(
                    "its name in the pair, {pair:?}, belongs to folder {other:?} on side {side}"
                ),
                None => format!("its name in the pair, {pair:?}, has no way back"),
            }),
        }
    }

    /// The folder on `side` for the pair's name `name`, or `None` if it has none (the name
    /// would translate to a folder that belongs to another pair name).
    pub fn to_side(&self, side: Side, name: &CollectionName) -> Option<CollectionName> {
        let rules = self.sides.get(side);
        let on_side = rules.to_side_unchecked(name)?;
        (rules.to_pair_unchecked(&on_side).as_ref() == Some(name)).then_some(on_side)
    }
}

/// A prefix as written: a folder name with `/` between levels, optionally ending in `/`.
fn parse_prefix(text: &str) -> Result<CollectionName, TranslationError> {
    let error = |message: String| TranslationError {
        entry: None,
        message,
    };
    let trimmed = text.strip_suffix('/').unwrap_or(text);
    if trimmed.ends_with('.') {
        return Err(error(format!(
            "prefix {text:?} ends with '.': write folder names with '/' between levels, as \
             pimlink shows them (\"INBOX/\" for the server folders INBOX.*), whatever the \
             server's own delimiter"
        )));
    }
    CollectionName::new(trimmed).map_err(|e| error(format!("prefix {text:?}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn name(text: &str) -> CollectionName {
        CollectionName::new(text).unwrap()
    }

    fn map(entries: &[(&str, &str)]) -> Vec<(String, String)> {
        entries
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    fn gmail() -> NameTranslation {
        NameTranslation::new(
            PerSide {
                a: Some("[Gmail]/"),
                b: None,
            },
            &map(&[("[Gmail]/Sent Mail", "Sent"), ("Work", "Job")]),
        )
        .unwrap()
    }

    #[test]
    fn prefixes_and_map_entries_translate_both_ways() {
        let t = gmail();
        for (on_a, pair, on_b) in [
            ("INBOX", "INBOX", "INBOX"),
            ("[Gmail]/Sent Mail", "Sent", "Sent"),
            ("[Gmail]/Drafts", "Drafts", "Drafts"),
            ("[Gmail]/a/b", "a/b", "a/b"),
            ("Work", "Job", "Job"),
        ] {
            assert_eq!(t.to_pair(Side::A, &name(on_a)), Some(name(pair)), "{on_a}");
            assert_eq!(t.to_side(Side::A, &name(pair)), Some(name(on_a)), "{pair}");
            assert_eq!(t.to_pair(Side::B, &name(on_b)), Some(name(pair)), "{on_b}");
            assert_eq!(t.to_side(Side::B, &name(pair)), Some(name(on_b)), "{pair}");
        }
        // Outside the prefix: not in the pair.
        assert_eq!(t.to_pair(Side::A, &name("Other")), None);
        assert_eq!(t.to_pair(Side::A, &name("[Gmail]")), None);
        // Would collide with the map entry's pair name: left out on both sides.
        assert_eq!(t.to_pair(Side::A, &name("[Gmail]/Sent")), None);
        assert!(matches!(
            t.why_excluded(Side::A, &name("[Gmail]/Sent")),
            Exclusion::Collision(why) if why.contains("\"[Gmail]/Sent Mail\"")
        ));
        assert!(matches!(
            t.why_excluded(Side::A, &name("Other")),
            Exclusion::Outside(why) if why.contains("prefix")
        ));
        assert_eq!(
            t.to_pair(Side::B, &name("Sent Mail")),
            Some(name("Sent Mail"))
        );
        assert_eq!(t.to_side(Side::A, &name("Sent Mail")), None);
        // A folder literally named like the prefix's INBOX twin.
        let inbox_prefix = NameTranslation::new(
            PerSide {
                a: Some("INBOX"),
                b: None,
            },
            &[],
        )
        .unwrap();
        assert_eq!(inbox_prefix.to_pair(Side::A, &name("INBOX/INBOX")), None);
        assert_eq!(
            inbox_prefix.to_pair(Side::A, &name("INBOX/Sent")),
            Some(name("Sent"))
        );
        assert!(NameTranslation::identity().is_identity());
        assert!(!inbox_prefix.is_identity());
    }

    #[test]
    fn collisions_and_bad_entries_are_refused() {
        let none = PerSide { a: None, b: None };
        for (entries, at, says) in [
            (map(&[("x", "y"), ("x", "z")]), 1, "mapped twice"),
            (map(&[("x", "y"), ("w", "y")]), 1, "both be synced"),
            (map(&[("INBOX", "Inbox")]), 0, "is INBOX"),
            (map(&[("a//b", "c")]), 0, "empty level"),
        ] {
            let err = NameTranslation::new(none, &entries).unwrap_err();
            assert_eq!(err.entry, Some(at), "{entries:?}");
            assert!(err.message.contains(says), "{err}");
        }
        let err = NameTranslation::new(
            PerSide {
                a: None,
                b: Some("Mail"),
            },
            &map(&[("x", "Mail/y"), ("z", "y")]),
        )
        .unwrap_err();
        assert!(err.message.contains("both be synced as"), "{err}");
        let err = NameTranslation::new(
            PerSide {
                a: Some("INBOX."),
                b: None,
            },
            &[],
        )
        .unwrap_err();
        assert!(err.message.contains("'/' between levels"), "{err}");
    }

    fn level() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("INBOX".to_owned()),
            Just("Sent".to_owned()),
            Just("x".to_owned()),
            "[a-c]{1,2}",
        ]
    }

    fn folder() -> impl Strategy<Value = CollectionName> {
        proptest::collection::vec(level(), 1..4).prop_map(|l| name(&l.join("/")))
    }

    fn translation() -> impl Strategy<Value = Option<NameTranslation>> {
        (
            proptest::option::of(folder()),
            proptest::option::of(folder()),
            proptest::collection::vec((folder(), folder()), 0..4),
        )
            .prop_map(|(pa, pb, entries)| {
                let entries: Vec<(String, String)> = entries
                    .into_iter()
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .collect();
                NameTranslation::new(
                    PerSide {
                        a: pa.as_ref().map(|p| p.as_str()),
                        b: pb.as_ref().map(|p| p.as_str()),
                    },
                    &entries,
                )
                .ok()
            })
    }

    proptest! {
        #[test]
        fn every_translation_round_trips_and_never_merges_folders(
            t in translation(),
            names in proptest::collection::btree_set(folder(), 0..12),
        ) {
            let Some(t) = t else { return Ok(()); };
            for side in [Side::A, Side::B] {
                let mut seen = BTreeMap::new();
                for n in &names {
                    if let Some(pair) = t.to_pair(side, n) {
                        prop_assert_eq!(t.to_side(side, &pair), Some(n.clone()));
                        if let Some(other) = seen.insert(pair.clone(), n.clone()) {
                            prop_assert!(false, "{} and {} both became {}", other, n, pair);
                        }
                    }
                    if let Some(on_side) = t.to_side(side, n) {
                        prop_assert_eq!(t.to_pair(side, &on_side), Some(n.clone()));
                    }
                }
            }
        }
    }
}
