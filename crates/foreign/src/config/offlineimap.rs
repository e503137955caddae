//! OfflineIMAP's `.offlineimaprc`: `[general]` with `accounts = a, b`, one `[Account NAME]`
//! per account naming its `localrepository` and `remoterepository`, and `[Repository NAME]`
//! sections of a `type` (`IMAP`, `Gmail`, `Maildir`, `GmailMaildir`). OfflineIMAP has well
//! over a hundred options, so the sections keep their settings as written (keys in lower
//! case, as OfflineIMAP reads them) and the importer takes the ones it translates; what this
//! parser checks is the structure: the accounts named exist, name their two repositories, and
//! those exist with a known type.

use std::path::Path;

use super::ini::{self, IniSection};
use super::{ConfigFileError, Setting};

/// The whole file.
#[derive(Clone, Debug, PartialEq)]
pub struct OfflineimapConfig {
    /// `[general] accounts`, in order.
    pub accounts: Vec<Account>,
    /// The other settings of `[general]` (`pythonfile`, `maxsyncaccounts`, `socktimeout`...).
    pub general: Vec<Setting>,
    /// Sections that are neither `[general]`, an account nor a repository (`[mbnames]`,
    /// `[ui.Curses.Blinkenlights]`, `[DEFAULT]`), with their lines.
    pub other_sections: Vec<(String, usize)>,
}

/// One `[Account NAME]` listed in `accounts`, with its repositories.
#[derive(Clone, Debug, PartialEq)]
pub struct Account {
    /// The account's name.
    pub name: String,
    /// The section's line.
    pub line: usize,
    /// `localrepository`.
    pub local: Repository,
    /// `remoterepository`.
    pub remote: Repository,
    /// The account's other settings (`maxage`, `presynchook`, `autorefresh`...).
    pub settings: Vec<Setting>,
}

/// A `[Repository NAME]` section.
#[derive(Clone, Debug, PartialEq)]
pub struct Repository {
    /// The repository's name.
    pub name: String,
    /// The section's line.
    pub line: usize,
    /// `type`.
    pub kind: RepositoryKind,
    /// The other settings, as written.
    pub settings: Vec<Setting>,
}

/// A repository's `type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RepositoryKind {
    /// `IMAP`.
    Imap,
    /// `Gmail`: IMAP with Gmail's defaults (host, TLS, labels as folders).
    Gmail,
    /// `Maildir`.
    Maildir,
    /// `GmailMaildir`: a Maildir that also keeps Gmail labels.
    GmailMaildir,
}

impl RepositoryKind {
    /// An IMAP server (`IMAP`, `Gmail`), as opposed to a local Maildir.
    pub fn is_imap(self) -> bool {
        matches!(self, RepositoryKind::Imap | RepositoryKind::Gmail)
    }
}

impl Repository {
    /// The setting `key` (lower case), if given.
    pub fn get(&self, key: &str) -> Option<&Setting> {
        self.settings.iter().find(|s| s.key == key)
    }
}

/// Reads `text` (the file `path`).
pub fn parse(path: &Path, text: &str) -> Result<OfflineimapConfig, ConfigFileError> {
    let sections = ini::parse(path, text)?;
    let Some(general) = sections.iter().find(|s| s.name == "general") else {
        return Err(ConfigFileError::new(
            path,
            1,
            "no [general] section (it lists the accounts: accounts = NAME, ...)",
        ));
    };
    let Some(listed) = general.entries.iter().find(|e| e.key == "accounts") else {
        return Err(ConfigFileError::new(
            path,
            general.line,
            "[general] has no \"accounts\" (the accounts to sync: accounts = NAME, ...)",
        ));
    };
    let find = |prefix: &str, name: &str| -> Option<&IniSection> {
        sections.iter().find(|s| {
            s.name
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.trim() == name)
        })
    };
    let mut accounts = Vec::new();
    for name in listed
        .value
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        let Some(section) = find("Account ", name) else {
            return Err(ConfigFileError::new(
                path,
                listed.line,
                format!("account {name:?} is listed but has no [Account {name}] section"),
            ));
        };
        let repository = |key: &str| -> Result<Repository, ConfigFileError> {
            let Some(setting) = section.entries.iter().find(|e| e.key == key) else {
                return Err(ConfigFileError::new(
                    path,
                    section.line,
                    format!("[Account {name}] has no {key:?}"),
                ));
            };
            let Some(repo) = find("Repository ", &setting.value) else {
                return Err(ConfigFileError::new(
                    path,
                    setting.line,
                    format!(
                        "{key} names [Repository {}], which is not defined",
                        setting.value
                    ),
                ));
            };
            read_repository(path, repo)
        };
        accounts.push(Account {
            name: name.to_owned(),
            line: section.line,
            local: repository("localrepository")?,
            remote: repository("remoterepository")?,
            settings: section
                .entries
                .iter()
                .filter(|e| e.key != "localrepository" && e.key != "remoterepository")
                .cloned()
                .collect(),
        });
    }
    if accounts.is_empty() {
        return Err(ConfigFileError::new(
            path,
            listed.line,
            "\"accounts\" lists no account",
        ));
    }
    let other_sections = sections
        .iter()
        .filter(|s| {
            s.name != "general"
                && !s.name.starts_with("Account ")
                && !s.name.starts_with("Repository ")
        })
        .map(|s| (s.name.clone(), s.line))
        .collect();
    Ok(OfflineimapConfig {
        accounts,
        general: general
            .entries
            .iter()
            .filter(|e| e.key != "accounts")
            .cloned()
            .collect(),
        other_sections,
    })
}

fn read_repository(path: &Path, section: &IniSection) -> Result<Repository, ConfigFileError> {
    let name = section
        .name
        .strip_prefix("Repository ")
        .unwrap_or(&section.name)
        .trim()
        .to_owned();
    let Some(kind) = section.entries.iter().find(|e| e.key == "type") else {
        return Err(ConfigFileError::new(
            path,
            section.line,
            format!("[Repository {name}] has no \"type\""),
        ));
    };
    let kind_value = match kind.value.to_ascii_lowercase().as_str() {
        "imap" => RepositoryKind::Imap,
        "gmail" => RepositoryKind::Gmail,
        "maildir" => RepositoryKind::Maildir,
        "gmailmaildir" => RepositoryKind::GmailMaildir,
        _ => {
            return Err(ConfigFileError::new(
                path,
                kind.line,
                format!(
                    "unknown repository type {:?} (expected IMAP, Gmail, Maildir or GmailMaildir)",
                    kind.value
                ),
            ));
        }
    };
    Ok(Repository {
        name,
        line: section.line,
        kind: kind_value,
        settings: section
            .entries
            .iter()
            .filter(|e| e.key != "type")
            .cloned()
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<OfflineimapConfig, ConfigFileError> {
        parse(Path::new("/rc"), text)
    }

    #[test]
    fn reads_accounts_and_their_repositories() {
        let config = read(
            "[general]\naccounts = Work\nmaxsyncaccounts = 1\n\n[Account Work]\nlocalrepository = WL\nremoterepository = WR\nmaxage = 30\n\n[Repository WL]\ntype = Maildir\nlocalfolders = ~/Mail/work\n\n[Repository WR]\ntype = IMAP\nremotehost = imap.example.com\n\n[mbnames]\nenabled = yes\n",
        )
        .unwrap();
        let work = &config.accounts[0];
        assert_eq!(work.local.kind, RepositoryKind::Maildir);
        assert_eq!(
            work.remote.get("remotehost").map(|s| s.value.as_str()),
            Some("imap.example.com")
        );
        assert_eq!(work.settings[0].key, "maxage");
        assert_eq!(config.general[0].key, "maxsyncaccounts");
        assert_eq!(config.other_sections, [("mbnames".to_owned(), 18)]);
    }

    #[test]
    fn errors_name_the_line() {
        let cases = [
            ("[general]\n", 1),
            ("[general]\naccounts = A\n", 2),
            (
                "[general]\naccounts = A\n[Account A]\nremoterepository = R\n",
                3,
            ),
            (
                "[general]\naccounts = A\n[Account A]\nlocalrepository = L\nremoterepository = R\n",
                4,
            ),
            (
                "[general]\naccounts = A\n[Account A]\nlocalrepository = L\nremoterepository = L\n[Repository L]\ntype = Mbox\n",
                7,
            ),
        ];
        for (text, line) in cases {
            let error = read(text).unwrap_err();
            assert_eq!(error.line, line, "{text}: {error}");
        }
    }
}
