//! vdirsyncer's configuration: `[general]` (`status_path`), `[pair NAME]` and `[storage NAME]`
//! sections in Python's INI dialect, every value written in JSON (`"text"`, `["a", "b"]`,
//! `true`, `null`). A value can instead be fetched: `password.fetch = ["command", "pass",
//! "dav"]` (also `["shell", "..."]` and `["prompt", "..."]`).

use std::path::Path;

use serde_json::Value as Json;

use super::ini::{self, IniSection};
use super::{ConfigFileError, Setting};

/// The whole file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VdirsyncerConfig {
    /// `[general] status_path`.
    pub status_path: Option<String>,
    /// The other settings of `[general]`, JSON as written.
    pub general: Vec<Setting>,
    /// `[pair NAME]` sections.
    pub pairs: Vec<Pair>,
    /// `[storage NAME]` sections.
    pub storages: Vec<Storage>,
}

/// A `[pair NAME]` section.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Pair {
    /// The pair's name.
    pub name: String,
    /// The section's line.
    pub line: usize,
    /// `a`.
    pub a: String,
    /// `b`.
    pub b: String,
    /// `collections`; `Some(None)` is `null` (the storages' URLs are single collections).
    pub collections: Option<Option<Vec<CollectionEntry>>>,
    /// `conflict_resolution`.
    pub conflict_resolution: Option<Conflict>,
    /// `metadata`.
    pub metadata: Vec<String>,
    /// `partial_sync` (`revert`, `error`, `ignore`).
    pub partial_sync: Option<String>,
    /// Other settings, JSON as written.
    pub other: Vec<Setting>,
}

/// One entry of a pair's `collections`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CollectionEntry {
    /// `"from a"`.
    FromA,
    /// `"from b"`.
    FromB,
    /// A collection of this id on both sides.
    Name(String),
    /// `["name", "id on a", "id on b"]`.
    Mapped {
        /// The pair's name for it.
        name: String,
        /// Its id on a.
        a: String,
        /// Its id on b.
        b: String,
    },
}

/// A pair's `conflict_resolution`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Conflict {
    /// `"a wins"`.
    AWins,
    /// `"b wins"`.
    BWins,
    /// `["command", "ARG", ...]`: the command and its arguments.
    Command(Vec<String>),
}

/// A value given in the file or fetched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// Written in the file.
    Plain(String),
    /// `KEY.fetch = [...]`: the strategy (`command`, `shell`, `prompt`) and its arguments.
    Fetch(Vec<String>),
}

/// A `[storage NAME]` section.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Storage {
    /// The storage's name.
    pub name: String,
    /// The section's line.
    pub line: usize,
    /// `type` (`caldav`, `carddav`, `filesystem`, `http`, `singlefile`, `google_calendar`...).
    pub kind: String,
    /// `url`.
    pub url: Option<Value>,
    /// `username`.
    pub username: Option<Value>,
    /// `password`.
    pub password: Option<Value>,
    /// `path`.
    pub path: Option<String>,
    /// `fileext`.
    pub fileext: Option<String>,
    /// `read_only`.
    pub read_only: Option<bool>,
    /// `verify`: `false`, `true` or a CA bundle's path.
    pub verify: Option<Verify>,
    /// `verify_fingerprint`.
    pub verify_fingerprint: Option<String>,
    /// `auth` (`basic`, `digest`, `guess`).
    pub auth: Option<String>,
    /// `auth_cert`: a PEM file, or a certificate and its key.
    pub auth_cert: Option<(String, Option<String>)>,
    /// Other settings, JSON as written.
    pub other: Vec<Setting>,
}

/// A storage's `verify`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verify {
    /// `true` or `false`.
    Enabled(bool),
    /// A CA bundle.
    CaFile(String),
}

/// Reads `text` (the file `path`).
pub fn parse(path: &Path, text: &str) -> Result<VdirsyncerConfig, ConfigFileError> {
    let mut config = VdirsyncerConfig::default();
    for section in ini::parse(path, text)? {
        let mut words = section.name.split_whitespace();
        match (words.next(), words.next(), words.next()) {
            (Some("general"), None, None) => {
                for entry in &section.entries {
                    if entry.key == "status_path" {
                        config.status_path = Some(string(path, entry)?);
                    } else {
                        config.general.push(entry.clone());
                    }
                }
            }
            (Some("pair"), Some(name), None) => {
                config.pairs.push(read_pair(path, name, &section)?);
            }
            (Some("storage"), Some(name), None) => {
                config.storages.push(read_storage(path, name, &section)?);
            }
            _ => {
                return Err(ConfigFileError::new(
                    path,
                    section.line,
                    format!(
                        "unknown section [{}] (expected [general], [pair NAME] or [storage NAME])",
                        section.name
                    ),
                ));
            }
        }
    }
    let storages: Vec<&str> = config.storages.iter().map(|s| s.name.as_str()).collect();
    super::check_pair_storages(
        path,
        config
            .pairs
            .iter()
            .map(|p| (p.name.as_str(), p.line, [p.a.as_str(), p.b.as_str()])),
        &storages,
    )?;
    Ok(config)
}

fn json(path: &Path, entry: &Setting) -> Result<Json, ConfigFileError> {
    serde_json::from_str(&entry.value).map_err(|err| {
        ConfigFileError::new(
            path,
            entry.line,
            format!(
                "{}: not a JSON value ({err}); strings need double quotes",
                entry.key
            ),
        )
    })
}

fn wrong(path: &Path, entry: &Setting, want: &str) -> ConfigFileError {
    ConfigFileError::new(
        path,
        entry.line,
        format!("{}: expected {want}, found {}", entry.key, entry.value),
    )
}

fn string(path: &Path, entry: &Setting) -> Result<String, ConfigFileError> {
    match json(path, entry)? {
        Json::String(s) => Ok(s),
        _ => Err(wrong(path, entry, "a string")),
    }
}

fn strings(path: &Path, entry: &Setting) -> Result<Vec<String>, ConfigFileError> {
    match json(path, entry)? {
        Json::Array(items) => items
            .into_iter()
            .map(|item| match item {
                Json::String(s) => Ok(s),
                _ => Err(wrong(path, entry, "a list of strings")),
            })
            .collect(),
        _ => Err(wrong(path, entry, "a list of strings")),
    }
}

fn read_pair(path: &Path, name: &str, section: &IniSection) -> Result<Pair, ConfigFileError> {
    let mut pair = Pair {
        name: name.to_owned(),
        line: section.line,
        ..Pair::default()
    };
    for entry in &section.entries {
        match entry.key.as_str() {
            "a" => pair.a = string(path, entry)?,
            "b" => pair.b = string(path, entry)?,
            "collections" => {
                pair.collections = Some(match json(path, entry)? {
                    Json::Null => None,
                    Json::Array(items) => Some(
                        items
                            .into_iter()
                            .map(|item| collection_entry(item).ok_or_else(|| {
                                wrong(
                                    path,
                                    entry,
                                    "null or a list of \"from a\", \"from b\", names and [name, a, b] lists",
                                )
                            }))
                            .collect::<Result<_, _>>()?,
                    ),
                    _ => return Err(wrong(path, entry, "null or a list")),
                });
            }
            "conflict_resolution" => {
                pair.conflict_resolution = Some(match json(path, entry)? {
                    Json::Null => continue,
                    Json::String(s) if s == "a wins" => Conflict::AWins,
                    Json::String(s) if s == "b wins" => Conflict::BWins,
                    Json::Array(_) => {
                        let words = strings(path, entry)?;
                        match words.split_first() {
                            Some((first, rest)) if first == "command" && !rest.is_empty() => {
                                Conflict::Command(rest.to_vec())
                            }
                            _ => {
                                return Err(wrong(path, entry, "[\"command\", \"PROGRAM\", ...]"));
                            }
                        }
                    }
                    _ => {
                        return Err(wrong(
                            path,
                            entry,
                            "\"a wins\", \"b wins\" or [\"command\", ...]",
                        ));
                    }
                });
            }
            "metadata" => pair.metadata = strings(path, entry)?,
            "partial_sync" => pair.partial_sync = Some(string(path, entry)?),
            _ => pair.other.push(entry.clone()),
        }
    }
    for (key, value) in [("a", &pair.a), ("b", &pair.b)] {
        if value.is_empty() {
            return Err(ConfigFileError::new(
                path,
                section.line,
                format!("pair {name} has no {key:?}"),
            ));
        }
    }
    Ok(pair)
}

fn collection_entry(item: Json) -> Option<CollectionEntry> {
    match item {
        Json::String(s) if s == "from a" => Some(CollectionEntry::FromA),
        Json::String(s) if s == "from b" => Some(CollectionEntry::FromB),
        Json::String(s) => Some(CollectionEntry::Name(s)),
        Json::Array(parts) => match parts.as_slice() {
            [Json::String(name), Json::String(a), Json::String(b)] => {
                Some(CollectionEntry::Mapped {
                    name: name.clone(),
                    a: a.clone(),
                    b: b.clone(),
                })
            }
            _ => None,
        },
        _ => None,
    }
}

fn read_storage(path: &Path, name: &str, section: &IniSection) -> Result<Storage, ConfigFileError> {
    let mut storage = Storage {
        name: name.to_owned(),
        line: section.line,
        ..Storage::default()
    };
    for entry in &section.entries {
        let fetched = |key: &str| -> Option<Result<Value, ConfigFileError>> {
            if entry.key == key {
                Some(string(path, entry).map(Value::Plain))
            } else if entry.key == format!("{key}.fetch") {
                Some(strings(path, entry).and_then(|words| {
                    if words.is_empty() {
                        Err(wrong(path, entry, "[\"command\", \"PROGRAM\", ...]"))
                    } else {
                        Ok(Value::Fetch(words))
                    }
                }))
            } else {
                None
            }
        };
        if let Some(value) = fetched("url") {
            storage.url = Some(value?);
            continue;
        }
        if let Some(value) = fetched("username") {
            storage.username = Some(value?);
            continue;
        }
        if let Some(value) = fetched("password") {
            storage.password = Some(value?);
            continue;
        }
        match entry.key.as_str() {
            "type" => storage.kind = string(path, entry)?,
            "path" => storage.path = Some(string(path, entry)?),
            "fileext" => storage.fileext = Some(string(path, entry)?),
            "read_only" => match json(path, entry)? {
                Json::Bool(b) => storage.read_only = Some(b),
                _ => return Err(wrong(path, entry, "true or false")),
            },
            "verify" => {
                storage.verify = Some(match json(path, entry)? {
                    Json::Bool(b) => Verify::Enabled(b),
                    Json::String(s) => Verify::CaFile(s),
                    _ => return Err(wrong(path, entry, "true, false or a path")),
                });
            }
            "verify_fingerprint" => storage.verify_fingerprint = Some(string(path, entry)?),
            "auth" => storage.auth = Some(string(path, entry)?),
            "auth_cert" => {
                storage.auth_cert = Some(match json(path, entry)? {
                    Json::String(s) => (s, None),
                    Json::Array(parts) => match parts.as_slice() {
                        [Json::String(cert), Json::String(key)] => {
                            (cert.clone(), Some(key.clone()))
                        }
                        _ => return Err(wrong(path, entry, "a path or [cert, key]")),
                    },
                    _ => return Err(wrong(path, entry, "a path or [cert, key]")),
                });
            }
            _ => {
                // Every value is JSON, so a malformed one is an error even for an option the
                // importer will only list.
                json(path, entry)?;
                storage.other.push(entry.clone());
            }
        }
    }
    if storage.kind.is_empty() {
        return Err(ConfigFileError::new(
            path,
            section.line,
            format!("storage {name} has no \"type\""),
        ));
    }
    Ok(storage)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<VdirsyncerConfig, ConfigFileError> {
        parse(Path::new("/config"), text)
    }

    #[test]
    fn reads_pairs_storages_and_fetched_values() {
        let config = read(
            "[general]\nstatus_path = \"~/.vdirsyncer/status/\"\n\n[pair cal]\na = \"remote\"\nb = \"local\"\ncollections = [\"from a\", [\"work\", \"w1\", \"work\"]]\nconflict_resolution = [\"command\", \"vimdiff\"]\nmetadata = [\"color\"]\n\n[storage remote]\ntype = \"caldav\"\nurl = \"https://dav.example.com/\"\nusername = \"me\"\npassword.fetch = [\"command\", \"pass\", \"dav\"]\nverify = false\nitem_types = [\"VEVENT\"]\n\n[storage local]\ntype = \"filesystem\"\npath = \"~/.calendars/\"\nfileext = \".ics\"\n",
        )
        .unwrap();
        assert_eq!(config.status_path.as_deref(), Some("~/.vdirsyncer/status/"));
        let pair = &config.pairs[0];
        assert_eq!(
            pair.collections,
            Some(Some(vec![
                CollectionEntry::FromA,
                CollectionEntry::Mapped {
                    name: "work".into(),
                    a: "w1".into(),
                    b: "work".into()
                }
            ]))
        );
        assert_eq!(
            pair.conflict_resolution,
            Some(Conflict::Command(vec!["vimdiff".into()]))
        );
        let remote = &config.storages[0];
        assert_eq!(
            remote.password,
            Some(Value::Fetch(vec![
                "command".into(),
                "pass".into(),
                "dav".into()
            ]))
        );
        assert_eq!(remote.verify, Some(Verify::Enabled(false)));
        assert_eq!(remote.other[0].key, "item_types");
    }

    #[test]
    fn errors_name_the_line() {
        let cases = [
            ("[pair p]\na = remote\n", 2),
            ("[pair p]\na = \"x\"\nb = \"y\"\n", 1),
            ("[storage s]\ntype = \"caldav\"\nverify = 3\n", 3),
            ("[storage s]\npath = \"/x\"\n", 1),
            ("[what ever]\n", 1),
            ("[storage s]\ntype = \"caldav\"\nitem_types = [VEVENT]\n", 3),
        ];
        for (text, line) in cases {
            let error = read(text).unwrap_err();
            assert_eq!(error.line, line, "{text}: {error}");
        }
    }
}
