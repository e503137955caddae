//! `pimlink import`: another tool's configuration translated into pimlink's. The other
//! tool's file is read by `pimlink-foreign`; each tool's module here maps what it says onto
//! pimlink's keys, and every option it cannot map is kept as a comment in the output saying
//! why (so nothing is dropped silently). Passwords stay where they were: a command stays a
//! command (`password_cmd`), a file or keyring lookup becomes one, and a password that was in
//! plain text is copied only with a comment saying so.
//!
//! Layout: `toml_out` renders the result; `mbsync`, `offlineimap`, `vdirsyncer` and
//! `pimsync` translate one tool each; this module holds what they share (names, notes,
//! commands) and the entry point [`translate`].
//!
//! Not here: reading or writing files (the `import` command does that), checking the result
//! (pimlink's own configuration loader and `pimlink check` do).

mod mbsync;
mod offlineimap;
mod pimsync;
pub mod toml_out;
mod vdirsyncer;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use pimlink_foreign::config::{ConfigFileError, Setting};

use toml_out::Document;

/// The tools whose configuration can be imported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Tool {
    /// isync's mbsync: `~/.mbsyncrc`.
    Mbsync,
    /// OfflineIMAP: `~/.offlineimaprc`.
    Offlineimap,
    /// vdirsyncer: `~/.vdirsyncer/config` or `$XDG_CONFIG_HOME/vdirsyncer/config`.
    Vdirsyncer,
    /// pimsync: `$XDG_CONFIG_HOME/pimsync/pimsync.conf`.
    Pimsync,
}

impl Tool {
    /// The name as typed on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Tool::Mbsync => "mbsync",
            Tool::Offlineimap => "offlineimap",
            Tool::Vdirsyncer => "vdirsyncer",
            Tool::Pimsync => "pimsync",
        }
    }

    /// Where the tool looks for its configuration, in its order: the first that exists is
    /// read. `home` and `config_home` are `$HOME` and `$XDG_CONFIG_HOME` (or `~/.config`).
    pub fn default_paths(self, home: &Path, config_home: &Path) -> Vec<PathBuf> {
        match self {
            Tool::Mbsync => vec![
                home.join(".mbsyncrc"),
                config_home.join("isync").join("mbsyncrc"),
            ],
            Tool::Offlineimap => vec![
                home.join(".offlineimaprc"),
                config_home.join("offlineimap").join("config"),
            ],
            Tool::Vdirsyncer => vec![
                home.join(".vdirsyncer").join("config"),
                config_home.join("vdirsyncer").join("config"),
            ],
            Tool::Pimsync => vec![config_home.join("pimsync").join("pimsync.conf")],
        }
    }
}

/// Translates the text of `tool`'s configuration file `path`.
pub fn translate(tool: Tool, path: &Path, text: &str) -> Result<Document, ConfigFileError> {
    let mut doc = match tool {
        Tool::Mbsync => mbsync::translate(&pimlink_foreign::config::mbsync::parse(path, text)?),
        Tool::Offlineimap => {
            offlineimap::translate(&pimlink_foreign::config::offlineimap::parse(path, text)?)
        }
        Tool::Vdirsyncer => {
            vdirsyncer::translate(&pimlink_foreign::config::vdirsyncer::parse(path, text)?)
        }
        Tool::Pimsync => pimsync::translate(&pimlink_foreign::config::pimsync::parse(path, text)?),
    };
    let mut header = vec![
        format!(
            "pimlink configuration imported by `pimlink import {}` from {}.",
            tool.name(),
            path.display()
        ),
        "Lines starting with \"not imported\" name options pimlink does not take, and why. Check \
         the file with `pimlink check`; the first `pimlink sync` adopts what the other tool \
         already synced instead of downloading it again."
            .to_owned(),
    ];
    header.append(&mut doc.header);
    doc.header = header;
    Ok(doc)
}

/// Storage or pair names made valid for pimlink (`A-Z a-z 0-9 _ -`) and unique.
#[derive(Default)]
struct Names {
    taken: BTreeSet<String>,
}

impl Names {
    /// A new name for `wanted`: other characters become `-`, and a name already given gets a
    /// number.
    fn make(&mut self, wanted: &str) -> String {
        let mut base: String = wanted
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        if base.is_empty() {
            base.push_str("unnamed");
        }
        let mut name = base.clone();
        let mut n = 2;
        while !self.taken.insert(name.clone()) {
            name = format!("{base}-{n}");
            n += 1;
        }
        name
    }
}

/// A comment for an option that was not translated: its name, its value (unless it may be a
/// secret), its line, and why.
fn not_imported(setting: &Setting, why: &str) -> String {
    let key = setting.key.to_lowercase();
    let value = if ["pass", "secret", "token", "key"]
        .iter()
        .any(|word| key.contains(word))
    {
        "(value not shown)".to_owned()
    } else {
        setting.value.replace('\n', " ")
    };
    format!(
        "not imported: {} {} (line {}): {why}",
        setting.key, value, setting.line
    )
}

/// The comment for a password copied in plain text because the old file had it so.
const PLAIN_PASSWORD: &str = "WARNING: the password was in plain text in the imported file, so \
    it is copied here; better: password_cmd (e.g. \"pass show NAME\") and this file kept private";

/// A command line for `sh -c` that runs `words` as one program with its arguments.
fn shell_join(words: &[String]) -> String {
    words
        .iter()
        .map(|word| {
            if !word.is_empty()
                && word
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:@%+,~".contains(c))
            {
                word.clone()
            } else {
                format!("'{}'", word.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `flatten = SEP` on a Maildir storage, or a warning if pimlink cannot separate levels with
/// `sep` (it takes one character).
fn flatten(table: &mut toml_out::Table, sep: &str) {
    if sep.chars().count() == 1 {
        table.set("flatten", toml_out::Value::str(sep));
    } else {
        table.note(format!(
            "WARNING: the folder levels were separated with {sep:?}; pimlink's flatten takes \
             one character, so folders below the top level would not be found"
        ));
    }
}

/// `N` bytes as pimlink's `max_size` writes them: `"10M"`, `"500k"` or plain bytes.
fn size_value(bytes: u64) -> toml_out::Value {
    const MIB: u64 = 1024 * 1024;
    if bytes > 0 && bytes.is_multiple_of(MIB) {
        toml_out::Value::str(format!("{}M", bytes / MIB))
    } else if bytes > 0 && bytes.is_multiple_of(1024) {
        toml_out::Value::str(format!("{}k", bytes / 1024))
    } else {
        toml_out::Value::Int(i64::try_from(bytes).unwrap_or(i64::MAX))
    }
}

/// Escapes the characters pimlink's collection patterns treat specially, so that `name`
/// matches itself only.
fn literal_pattern(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if matches!(c, '*' | '%' | '?' | '\\') || (c == '!' && out.is_empty()) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_valid_and_unique() {
        let mut names = Names::default();
        assert_eq!(names.make("work"), "work");
        assert_eq!(names.make("work"), "work-2");
        assert_eq!(names.make("my mail.box"), "my-mail-box");
        assert_eq!(names.make(""), "unnamed");
    }

    #[test]
    fn commands_are_quoted_for_sh() {
        let words = ["pass", "show", "mail/my work", "it's"].map(String::from);
        assert_eq!(shell_join(&words), r"pass show 'mail/my work' 'it'\''s'");
    }

    #[test]
    fn secrets_are_not_echoed_in_notes() {
        let setting = Setting {
            key: "RemotePassWord".into(),
            value: "hunter2".into(),
            line: 4,
        };
        assert!(!not_imported(&setting, "x").contains("hunter2"));
    }

    #[test]
    fn sizes_and_literal_patterns() {
        assert_eq!(size_value(10 * 1024 * 1024), toml_out::Value::str("10M"));
        assert_eq!(size_value(1500), toml_out::Value::Int(1500));
        assert_eq!(literal_pattern("!50% *off*"), r"\!50\% \*off\*");
    }
}
