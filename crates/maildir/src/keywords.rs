//! Dovecot's keyword letters: the `dovecot-keywords` file of a maildir maps the info letters
//! `a`-`z` to IMAP keywords, one line `<index> <keyword>` each, index 0 being `a` (checked
//! against files Dovecot 2.3 writes: `0 $Forwarded\n1 $Junk\n`).
//!
//! Dovecot keeps `$Forwarded` as a keyword letter, while mbsync and pimlink write `P`: a letter
//! mapped to `$Forwarded` is read as the Passed flag, and written alongside `P` when the mapping
//! already has it, so that Dovecot still sees the flag. No new letter is ever given to it.

use std::collections::BTreeSet;
use std::io::{self, Write};
use std::path::Path;

use pimlink_core::mail::keywords::KeywordSupport;
use pimlink_core::{Error, Flag, Flags, Result};

use crate::fsutil::fsync_dir;

/// The file's name inside a maildir.
pub(crate) const FILE_NAME: &str = "dovecot-keywords";

/// How many keywords fit in file names: one lowercase letter each.
pub(crate) const LETTERS: usize = 26;

const FORWARDED: &str = "$Forwarded";

/// A folder's letter mapping, as read from its file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct KeywordMap {
    slots: [Option<String>; LETTERS],
    /// Set when the file had lines pimlink does not understand: the known letters are still
    /// read, but the file is never rewritten (that could destroy what another program meant).
    frozen: Option<String>,
}

impl KeywordMap {
    /// Reads the file's text. Lines with an index beyond `z` are ignored (Dovecot may know
    /// more keywords than letters); anything else unreadable freezes the mapping.
    pub fn parse(text: &str) -> KeywordMap {
        let mut map = KeywordMap::default();
        for (number, line) in text.lines().enumerate() {
            if line.is_empty() {
                continue;
            }
            let parsed = line
                .split_once(' ')
                .and_then(|(index, keyword)| Some((index.parse::<usize>().ok()?, keyword)))
                .filter(|(_, keyword)| is_keyword(keyword));
            match parsed {
                Some((index, keyword)) if index < LETTERS => {
                    if map.slots[index].is_some() || map.letter_index(keyword).is_some() {
                        map.frozen =
                            Some(format!("line {} repeats an index or keyword", number + 1));
                    } else {
                        map.slots[index] = Some(keyword.to_owned());
                    }
                }
                Some(_) => {}
                None => {
                    map.frozen = Some(format!("line {} is not \"<index> <keyword>\"", number + 1));
                }
            }
        }
        map
    }

    /// The file's text.
    pub fn format(&self) -> String {
        let mut text = String::new();
        for (index, slot) in self.slots.iter().enumerate() {
            if let Some(keyword) = slot {
                text.push_str(&format!("{index} {keyword}\n"));
            }
        }
        text
    }

    fn letter_index(&self, keyword: &str) -> Option<usize> {
        self.slots
            .iter()
            .position(|slot| slot.as_deref() == Some(keyword))
    }

    /// The keyword of an info letter, if the letter is a mapped `a`-`z`.
    pub fn keyword(&self, letter: char) -> Option<&str> {
        let index = (letter as usize).checked_sub('a' as usize)?;
        if !letter.is_ascii_lowercase() {
            return None;
        }
        self.slots.get(index)?.as_deref()
    }

    /// The letter of a keyword, if mapped.
    pub fn letter(&self, keyword: &str) -> Option<char> {
        self.letter_index(keyword).map(letter_of)
    }

    /// What the listing reports: the mapped keywords, and the free letters as room.
    pub fn support(&self) -> KeywordSupport {
        let known: BTreeSet<String> = self
            .slots
            .iter()
            .flatten()
            .filter(|k| *k != FORWARDED)
            .cloned()
            .collect();
        let (room, why) = match &self.frozen {
            Some(why) => (
                0,
                format!("its {FILE_NAME} file is not understood ({why}), so no letter is added"),
            ),
            None => (
                self.slots.iter().filter(|s| s.is_none()).count(),
                format!("all {LETTERS} Maildir keyword letters are in use"),
            ),
        };
        KeywordSupport::Limited { known, room, why }
    }

    /// Adds the system flags and keywords that `letters` (an info part's non-system letters)
    /// stand for to `flags`; returns the letters that map to nothing.
    pub fn read_letters(&self, letters: &str, flags: &mut Flags) -> String {
        let mut unmapped = String::new();
        for letter in letters.chars() {
            match self.keyword(letter) {
                Some(FORWARDED) => flags.set(Flag::Passed, true),
                Some(keyword) => flags.set_keyword(keyword, true),
                None => unmapped.push(letter),
            }
        }
        unmapped
    }

    /// The letters for `flags`' keywords (and for Passed, the `$Forwarded` letter if mapped),
    /// giving free letters to new keywords. Returns the letters, whether the mapping changed
    /// (it must then be saved before a file name uses a new letter), and the keywords that got
    /// no letter.
    pub fn letters_for(&mut self, flags: &Flags) -> (String, bool, Vec<String>) {
        let mut letters = String::new();
        let mut changed = false;
        let mut dropped = Vec::new();
        if flags.contains(Flag::Passed)
            && let Some(letter) = self.letter(FORWARDED)
        {
            letters.push(letter);
        }
        for keyword in flags.keywords() {
            if let Some(letter) = self.letter(keyword) {
                letters.push(letter);
                continue;
            }
            let free = self.slots.iter().position(Option::is_none);
            match free {
                Some(index) if self.frozen.is_none() && is_keyword(keyword) => {
                    self.slots[index] = Some(keyword.to_owned());
                    letters.push(letter_of(index));
                    changed = true;
                }
                _ => dropped.push(keyword.to_owned()),
            }
        }
        (letters, changed, dropped)
    }

    /// True if `letter` is one of the mapped letters (which a flag change rewrites).
    pub fn is_mapped(&self, letter: char) -> bool {
        self.keyword(letter).is_some()
    }
}

fn letter_of(index: usize) -> char {
    char::from(b'a' + index as u8)
}

/// A keyword that can stand in the file: an IMAP atom without spaces or controls.
fn is_keyword(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"(){%*\"\\]".contains(&b))
}

/// Reads the mapping of the maildir `dir`; a missing file is an empty mapping.
pub(crate) fn load(dir: &Path) -> Result<KeywordMap> {
    let path = dir.join(FILE_NAME);
    match std::fs::read(&path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => Ok(KeywordMap::parse(&text)),
            Err(_) => Ok(KeywordMap {
                frozen: Some("it is not UTF-8".to_owned()),
                ..KeywordMap::default()
            }),
        },
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(KeywordMap::default()),
        Err(err) => Err(Error::io(format!("reading {}", path.display()), err)),
    }
}

/// Replaces the mapping of the maildir `dir` durably and atomically: written under `tmp/`,
/// fsynced, renamed over the file, and the directory fsynced, so that a file name never uses a
/// letter whose meaning could be lost in a crash.
pub(crate) fn save(dir: &Path, map: &KeywordMap) -> Result<()> {
    let path = dir.join(FILE_NAME);
    let tmp = dir.join("tmp").join(format!(
        "{FILE_NAME}.{}.{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default()
    ));
    let context = || format!("writing {}", path.display());
    let write = || -> io::Result<()> {
        let mut file = pimlink_core::private::file_options()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        file.write_all(map.format().as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, &path)
    };
    if let Err(err) = write() {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(context(), err));
    }
    fsync_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_what_dovecot_writes() {
        let map = KeywordMap::parse("0 $Forwarded\n1 $Junk\n2 work\n3 $MDNSent\n4 zeta\n");
        assert_eq!(map.keyword('a'), Some("$Forwarded"));
        assert_eq!(map.keyword('e'), Some("zeta"));
        assert_eq!(map.keyword('f'), None);
        assert_eq!(map.keyword('A'), None);
        let mut flags = Flags::new();
        assert_eq!(map.read_letters("abcxy", &mut flags), "xy");
        assert_eq!(flags.to_status_text(), "P $Junk work");
        assert_eq!(
            map.format(),
            "0 $Forwarded\n1 $Junk\n2 work\n3 $MDNSent\n4 zeta\n"
        );
    }

    #[test]
    fn new_keywords_get_free_letters_until_z() {
        let mut map = KeywordMap::parse("1 b\n");
        let mut flags = Flags::new();
        flags.set_keyword("b", true);
        flags.set_keyword("new", true);
        let (letters, changed, dropped) = map.letters_for(&flags);
        assert_eq!((letters.as_str(), changed, dropped.len()), ("ba", true, 0));
        assert_eq!(map.format(), "0 new\n1 b\n");
        let mut many = Flags::new();
        for i in 0..30 {
            many.set_keyword(&format!("k{i:02}"), true);
        }
        let (letters, _, dropped) = map.letters_for(&many);
        assert_eq!(letters.len(), 24);
        assert_eq!(dropped.len(), 6);
        assert!(matches!(
            map.support(),
            KeywordSupport::Limited { room: 0, .. }
        ));
    }

    #[test]
    fn a_file_not_understood_is_never_extended() {
        let map = KeywordMap::parse("0 a\ngarbage\n");
        assert_eq!(map.keyword('a'), Some("a"));
        let mut flags = Flags::new();
        flags.set_keyword("x", true);
        let mut frozen = map.clone();
        let (letters, changed, dropped) = frozen.letters_for(&flags);
        assert_eq!((letters.as_str(), changed), ("", false));
        assert_eq!(dropped, ["x"]);
        assert!(matches!(
            map.support(),
            KeywordSupport::Limited { room: 0, .. }
        ));
        assert!(KeywordMap::parse("0 a\n1 a\n").frozen.is_some());
    }

    #[test]
    fn save_then_load_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("tmp")).unwrap();
        let map = KeywordMap::parse("0 $Junk\n5 x\n");
        save(dir.path(), &map).unwrap();
        assert_eq!(load(dir.path()).unwrap(), map);
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0
        );
        assert_eq!(
            load(&dir.path().join("none")).unwrap(),
            KeywordMap::default()
        );
    }

    proptest! {
        #[test]
        fn letters_read_back_as_the_same_keywords(
            words in proptest::collection::btree_set("\\$?[a-zA-Z]{1,8}", 0..26),
        ) {
            let mut flags = Flags::new();
            for w in &words {
                flags.set_keyword(w, true);
            }
            let mut map = KeywordMap::default();
            let (letters, _, dropped) = map.letters_for(&flags);
            prop_assert!(dropped.is_empty());
            let reparsed = KeywordMap::parse(&map.format());
            let mut back = Flags::new();
            prop_assert_eq!(reparsed.read_letters(&letters, &mut back), "");
            prop_assert_eq!(back, flags);
        }

        #[test]
        fn arbitrary_files_never_panic(text in "\\PC*") {
            let _ = KeywordMap::parse(&text).support();
        }
    }
}
