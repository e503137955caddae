//! The other tools' configuration files, parsed into what they say (one module per tool).
//! Translating them into pimlink's configuration is the binary's `import` command.
//!
//! Each parser takes the file's path (for messages only) and its text, and returns typed
//! sections. What a parser knows is a field; every other setting is kept as a [`Setting`] in
//! the section's `other` list, so that the importer can name each option it did not translate.
//! Malformed input is a [`ConfigFileError`] naming the file and line.
//!
//! Layout: `mbsync` (`.mbsyncrc`), `offlineimap` (`.offlineimaprc`, with `python` for its
//! `folderfilter`/`nametrans` lambdas), `vdirsyncer` (its INI file with JSON values), `pimsync`
//! (scfg); `ini` is the INI reader OfflineIMAP's and vdirsyncer's files share.

mod ini;
pub mod mbsync;
pub mod offlineimap;
pub mod pimsync;
pub mod python;
pub mod vdirsyncer;

use std::path::{Path, PathBuf};

/// A configuration file that cannot be read as its tool would: the file, the line (1-based)
/// and what is wrong there.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}: {message}", path.display())]
pub struct ConfigFileError {
    /// The file.
    pub path: PathBuf,
    /// The line the problem is on, from 1.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl ConfigFileError {
    pub(crate) fn new(path: &Path, line: usize, message: impl Into<String>) -> Self {
        Self {
            path: path.to_owned(),
            line,
            message: message.into(),
        }
    }
}

/// One setting a parser keeps as written: the option's name, its value and its line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setting {
    /// The option's name as written (OfflineIMAP's and vdirsyncer's in lower case, as their
    /// parsers read them).
    pub key: String,
    /// The value, unquoted.
    pub value: String,
    /// The line, from 1.
    pub line: usize,
}

/// The error for the first pair (name, line, storages) naming a storage not in `storages`.
pub(crate) fn check_pair_storages<'p>(
    path: &Path,
    pairs: impl IntoIterator<Item = (&'p str, usize, [&'p str; 2])>,
    storages: &[&str],
) -> Result<(), ConfigFileError> {
    for (name, line, sides) in pairs {
        for side in sides {
            if !storages.contains(&side) {
                return Err(ConfigFileError::new(
                    path,
                    line,
                    format!("pair {name} names storage {side:?}, which is not defined"),
                ));
            }
        }
    }
    Ok(())
}
