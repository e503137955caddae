//! Entry points for the fuzz targets in `fuzz/` (a project outside the workspace). The rules for
//! message file names, folder directories and keyword files are private to this crate, and
//! reaching them through a whole [`crate::Maildir`] would spend the fuzzer's time in the file
//! system; these wrappers call the very same functions. Not an API: hidden from the docs and
//! free to change with the targets.

use std::path::{Path, PathBuf};

use pimlink_core::{CollectionName, Flags, Result};

use crate::filename::{self, Info};
use crate::keywords::KeywordMap;
use crate::layout::Layout;

/// A message file name split as a listing splits it: the key, and the info part (system flags
/// and every other letter, sorted and deduplicated) if the name has `:2,`.
pub fn parse_name(name: &str) -> (&str, Option<(Flags, String)>) {
    let parsed = filename::parse(name);
    (parsed.key, parsed.info.map(|info| (info.flags, info.other)))
}

/// The file name pimlink writes for `key` with `info` (system flags and other letters).
pub fn format_name(key: &str, info: Option<(&Flags, &str)>) -> String {
    let info = info.map(|(flags, other)| Info {
        flags: flags.clone(),
        other: other.to_owned(),
    });
    filename::format(key, info.as_ref())
}

/// The size a key carries as Dovecot's `,S=<size>`.
pub fn size_hint(key: &str) -> Option<u64> {
    filename::size_hint(key)
}

/// Whether `key` may address an existing message file.
pub fn check_existing_key(key: &str) -> Result<()> {
    filename::check_existing_key(key)
}

/// Whether `key` may name a new message file.
pub fn check_new_key(key: &str) -> Result<()> {
    filename::check_new_key(key)
}

/// The directory of folder `name` relative to the root.
pub fn relative_dir(layout: Layout, name: &CollectionName) -> Result<PathBuf> {
    layout.relative_dir(name)
}

/// The folder a directory relative to the root is listed as.
pub fn name_of(layout: Layout, relative: &Path) -> std::result::Result<CollectionName, String> {
    layout.name_of(relative)
}

/// A folder's `dovecot-keywords` mapping.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keywords(KeywordMap);

impl Keywords {
    /// Reads the file's text.
    pub fn parse(text: &str) -> Self {
        Self(KeywordMap::parse(text))
    }

    /// The file's text as pimlink writes it.
    pub fn format(&self) -> String {
        self.0.format()
    }

    /// The letters for `flags`' keywords, giving free letters to new ones: (letters, whether
    /// the mapping changed, keywords that got no letter).
    pub fn letters_for(&mut self, flags: &Flags) -> (String, bool, Vec<String>) {
        self.0.letters_for(flags)
    }

    /// Adds what `letters` stand for to `flags`; returns the letters that map to nothing.
    pub fn read_letters(&self, letters: &str, flags: &mut Flags) -> String {
        self.0.read_letters(letters, flags)
    }
}
