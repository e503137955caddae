//! Maildir file names: the unique part (the item's key) and the info part that carries flags.
//!
//! A delivered message is named `<unique>` in `new/` and `<unique>:2,<letters>` in `cur/`. The
//! letters are the six system flags `D F P R S T` plus whatever else other programs put there
//! (Dovecot keeps keywords as lowercase letters `a`-`z`); those other letters are carried along
//! untouched so that a flag change made by pimlink never drops a mail reader's keyword.

use pimlink_core::{Error, ErrorKind, Flag, Flags, Result};

/// What separates the unique part from the info part. `2` is the only info version in use.
pub(crate) const INFO_SEPARATOR: &str = ":2,";

/// Longest key pimlink accepts: a file name is at most 255 bytes, and the info part needs room
/// (`:2,` plus the six flags plus a few keyword letters).
pub(crate) const MAX_KEY_LEN: usize = 200;

/// The parts of a message file name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ParsedName<'a> {
    /// Everything before `:2,` (the whole name if there is no info part).
    pub key: &'a str,
    /// The info part after `:2,`, if any.
    pub info: Option<Info>,
}

/// The letters of an info part, split into what the model knows and what it does not.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Info {
    /// The system flags found.
    pub flags: Flags,
    /// Every other character, sorted and without repeats: kept verbatim across renames.
    pub other: String,
}

impl Info {
    /// True if there is nothing to write after `:2,`.
    pub fn is_empty(&self) -> bool {
        self.flags.system_flags().next().is_none() && self.other.is_empty()
    }

    /// The same unknown letters with the system flags replaced by `flags` (keywords in `flags`
    /// are not kept: a Maildir file name cannot hold them without Dovecot's keyword file).
    pub fn with_flags(&self, flags: &Flags) -> Info {
        let mut system = Flags::new();
        for flag in flags.system_flags() {
            system.set(flag, true);
        }
        Info {
            flags: system,
            other: self.other.clone(),
        }
    }

    /// The letters in the order the Maildir spec requires (ASCII order, each once).
    pub fn letters(&self) -> String {
        let mut letters: Vec<char> = self
            .flags
            .system_flags()
            .map(Flag::maildir_letter)
            .chain(self.other.chars())
            .collect();
        letters.sort_unstable();
        letters.dedup();
        letters.into_iter().collect()
    }
}

/// Splits a file name into its key and info part. Never fails: any name has a key (possibly
/// empty, which callers treat as unusable).
pub(crate) fn parse(name: &str) -> ParsedName<'_> {
    let Some((key, info)) = name.split_once(INFO_SEPARATOR) else {
        return ParsedName {
            key: name,
            info: None,
        };
    };
    ParsedName {
        key,
        info: Some(parse_info(info)),
    }
}

/// Reads the letters after `:2,`.
pub(crate) fn parse_info(letters: &str) -> Info {
    let mut flags = Flags::new();
    let mut other: Vec<char> = Vec::new();
    for c in letters.chars() {
        match Flag::from_maildir_letter(c) {
            Some(flag) => flags.set(flag, true),
            None => other.push(c),
        }
    }
    other.sort_unstable();
    other.dedup();
    Info {
        flags,
        other: other.into_iter().collect(),
    }
}

/// The file name for `key` with `info`: `key` alone if `info` is `None`, else `key:2,letters`.
pub(crate) fn format(key: &str, info: Option<&Info>) -> String {
    match info {
        None => key.to_owned(),
        Some(info) => format!("{key}{INFO_SEPARATOR}{}", info.letters()),
    }
}

/// The message size Dovecot records in the unique part (`...,S=1234,W=1260`), if present: it
/// lets a listing report sizes without a `stat` per file.
pub(crate) fn size_hint(key: &str) -> Option<u64> {
    key.split(',')
        .skip(1)
        .find_map(|field| field.strip_prefix("S="))
        .and_then(|digits| digits.parse().ok())
}

/// Checks that `key` can be used to address an existing message file: it must be a single,
/// non-hidden file name. Keys from a listing always pass; anything else could escape the
/// collection directory.
pub(crate) fn check_existing_key(key: &str) -> Result<()> {
    let why = if key.is_empty() {
        "it is empty"
    } else if key.contains('/') {
        "it contains '/'"
    } else if key.contains('\0') {
        "it contains NUL"
    } else if key.starts_with('.') {
        "it starts with '.' (hidden files are not messages)"
    } else {
        return Ok(());
    };
    Err(Error::new(
        ErrorKind::InvalidName,
        format!("invalid Maildir message key {key:?}: {why}"),
    ))
}

/// Checks that `key` can name a new message: [`check_existing_key`] plus no `:` (it would be
/// read back as the start of an info part) and no more than [`MAX_KEY_LEN`] bytes.
pub(crate) fn check_new_key(key: &str) -> Result<()> {
    check_existing_key(key)?;
    let why = if key.contains(':') {
        "it contains ':', which starts a Maildir info part"
    } else if key.len() > MAX_KEY_LEN {
        "it is longer than 200 bytes"
    } else if key.chars().any(char::is_control) {
        "it contains a control character"
    } else {
        return Ok(());
    };
    Err(Error::new(
        ErrorKind::InvalidName,
        format!("invalid key for a new Maildir message {key:?}: {why}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn flags_strategy() -> impl Strategy<Value = Flags> {
        proptest::collection::vec(proptest::sample::select(Flag::ALL.to_vec()), 0..6).prop_map(
            |list| {
                let mut flags = Flags::new();
                for flag in list {
                    flags.set(flag, true);
                }
                flags
            },
        )
    }

    /// Letters other programs may put in an info part: anything but the system flags and '/'.
    fn other_strategy() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9,=é]{0,8}".prop_map(|s| {
            let mut chars: Vec<char> = s
                .chars()
                .filter(|c| Flag::from_maildir_letter(*c).is_none())
                .collect();
            chars.sort_unstable();
            chars.dedup();
            chars.into_iter().collect()
        })
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(
            key in "[0-9A-Za-z._,=\\\\-]{1,40}",
            flags in flags_strategy(),
            other in other_strategy(),
        ) {
            let info = Info { flags, other };
            let name = format(&key, Some(&info));
            let parsed = parse(&name);
            prop_assert_eq!(parsed.key, key.as_str());
            prop_assert_eq!(parsed.info, Some(info.clone()));
            // The letters are in strictly increasing (for ASCII: ASCII) order, as the spec
            // requires.
            let letters: Vec<char> = info.letters().chars().collect();
            prop_assert!(letters.windows(2).all(|w| w[0] < w[1]), "{letters:?}");
        }

        #[test]
        fn arbitrary_names_never_panic(name in "\\PC*", raw in proptest::collection::vec(any::<u8>(), 0..64)) {
            let parsed = parse(&name);
            prop_assert!(name.starts_with(parsed.key));
            let lossy = String::from_utf8_lossy(&raw);
            let _ = parse(&lossy);
            let _ = size_hint(&lossy);
            let _ = check_new_key(&lossy);
        }

        #[test]
        fn changing_flags_keeps_unknown_letters(
            other in other_strategy(),
            old in flags_strategy(),
            new in flags_strategy(),
        ) {
            let info = Info { flags: old, other: other.clone() };
            let changed = info.with_flags(&new);
            let reparsed = parse_info(&changed.letters());
            prop_assert_eq!(reparsed.other, other);
            prop_assert_eq!(reparsed.flags, new);
        }
    }

    #[test]
    fn parses_flags_and_keeps_dovecot_keywords() {
        let parsed = parse("1700000000.M1P2.host,S=42:2,FSab");
        assert_eq!(parsed.key, "1700000000.M1P2.host,S=42");
        let info = parsed.info.unwrap();
        assert_eq!(info.flags.maildir_letters(), "FS");
        assert_eq!(info.other, "ab");
        assert_eq!(size_hint(parsed.key), Some(42));
    }

    #[test]
    fn name_without_info_is_all_key() {
        let parsed = parse("1700000000.M1P2.host");
        assert_eq!(parsed.key, "1700000000.M1P2.host");
        assert_eq!(parsed.info, None);
        assert_eq!(size_hint(parsed.key), None);
    }

    #[test]
    fn formats_in_ascii_order() {
        let info = Info {
            flags: Flags::new().with(Flag::Seen).with(Flag::Draft),
            other: "ba".into(),
        };
        assert_eq!(format("k", Some(&info)), "k:2,DSab");
        assert_eq!(format("k", Some(&Info::default())), "k:2,");
        assert_eq!(format("k", None), "k");
    }

    #[test]
    fn refuses_keys_that_could_escape() {
        for bad in ["", "a/b", "../x", ".hidden", "a\0b"] {
            assert_eq!(
                check_existing_key(bad).unwrap_err().kind(),
                ErrorKind::InvalidName,
                "{bad:?}"
            );
        }
        for bad in ["a:2,S", "x\ny", &"k".repeat(201)] {
            assert_eq!(
                check_new_key(bad).unwrap_err().kind(),
                ErrorKind::InvalidName,
                "{bad:?}"
            );
        }
        check_new_key("1700000000.M1P2Q3R00ff.host").unwrap();
    }
}
