//! The configuration file: where it is, what it may contain, and its conversion into the
//! checked [`Config`] the commands work from.
//!
//! The file is TOML, at `$XDG_CONFIG_HOME/pimlink/config.toml` (or
//! `~/.config/pimlink/config.toml`) unless `-c FILE` names another. It has three kinds of
//! table; `docs/config.example.toml` shows every key with its default:
//! - `[general]` (optional): `state_dir`, where the per-pair status databases live
//!   (default `$XDG_STATE_HOME/pimlink`, else `~/.local/state/pimlink`); `hook_timeout`, how
//!   long a pair's hook may run (`hooks`).
//! - `[storage.NAME]`: one per mailbox, server or local tree; `type` says which kind
//!   ([`StorageKind`] documents the keys each type takes).
//! - `[pair.NAME]`: two storages `a` and `b` kept in sync, with the policy between them
//!   ([`PairConfig`]).
//! - `[daemon]` (optional): how `pimlink daemon` schedules syncs ([`DaemonConfig`]).
//! - `[mbnames]` (optional): the mailbox list file for mail readers ([`MbnamesConfig`]).
//! - `[replication.NAME]`: a master storage kept identical on a replica for many users
//!   ([`ReplicationConfig`], `pimlink replicate`).

//! - `[migration.NAME]`: two imap storages `pimlink migrate` copies accounts between
//!   ([`MigrationConfig`]); their login may be left to the accounts file.
//!
//! Rules that hold for the whole file:
//! - NAME is one or more of `A-Z a-z 0-9 _ -`.
//! - Unknown keys, and keys that do not apply to a storage's type, are errors: a typo must
//!   not silently fall back to a default. Every error names the file, line, column and key.
//! - In paths (`state_dir`, `path`, `ca_file`), `~` and `$VAR`/`${VAR}` are expanded (an unset
//!   variable is an error, `$$` is a literal `$`), and a relative path is relative to the
//!   directory of the configuration file. Commands (`password_cmd`, `tunnel`) are left to the
//!   shell.
//! - Passwords are held in [`Secret`]s; `password_cmd` runs only when
//!   [`PasswordSource::resolve`] is called.
//! - Collection patterns are described in the `filter` module: `*` spans levels, `%` does not.
//!
//! Layout: `raw` gives located access to the parsed TOML tree, `storage` and `pair` convert
//! tables into the plain types of `model` (`pair_keys` is the one table of which pair keys
//! apply to which family; `dav_pair`, `mail_names`, `limits` and `sides` read the
//! family-specific ones), `expand` handles paths, `secret` passwords, `filter` collection
//! patterns, and `error` the one error type.
//!
//! Not here: opening storages or connecting anywhere; `pimlink check` does that.

// The binary uses part of this API so far; the rest (DAV settings, fingerprints, ...) is for
// the storages still being written.
#![allow(dead_code)]

mod daemon;
mod dav_pair;
#[cfg(test)]
mod docs;
mod duration;
mod error;
mod expand;
mod filter;
// Hooks and the mailbox list file (issue 14).
mod hooks;
mod imap_watch;
mod limits;
mod mail_names;
mod maildir_tree;
mod mbnames;
// Migration (issue 15).
mod migration;
mod model;
// OAuth2 (issue 18).
mod oauth2;
#[cfg(test)]
mod oauth2_tests;
mod pair;
mod pair_keys;
// Provider presets (issue 18).
mod provider;
#[cfg(test)]
mod provider_tests;
mod raw;
// Replication (issue 15).
mod replication;
mod secret;
mod sides;
#[cfg(test)]
mod sides_tests;
mod storage;
mod template;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use toml::de::DeTable;

// The whole model is public for the commands and storages; not every part is used by the
// binary yet, so the re-exports would otherwise warn.
#[allow(unused_imports)]
pub use daemon::{DEFAULT_POLL_INTERVAL, DaemonConfig};
#[allow(unused_imports)]
pub use dav_pair::{DavCollections, DavPairConfig};
#[allow(unused_imports)]
pub use error::{ConfigError, ConfigErrorKind, Position};
#[allow(unused_imports)]
pub use filter::{CollectionFilter, PatternError};
#[allow(unused_imports)]
pub use imap_watch::ImapWatchConfig;
// Rolling replication: `replicate -d/-t` take durations written as in the file.
pub use duration::parse_duration;
#[allow(unused_imports)]
pub use model::{
    AdoptMode, CertFingerprint, ClientCert, Config, Credentials, DavConfig, Family, ImapAuth,
    ImapConfig, ImapEndpoint, MailStorageOptions, MaildirConfig, MaildirLayout, PairConfig,
    SkipUnchanged, StorageConfig, StorageKind, TlsMode, Trust, VdirConfig, WebcalConfig,
};
// The pair policy types are the engine's own, so a configured pair needs no translation.
#[allow(unused_imports)]
pub use pimlink_core::policy::{Direction, OnEmpty, Operations, SideOptions};
#[allow(unused_imports)]
pub use pimlink_core::side::PerSide;
#[allow(unused_imports)]
pub use secret::{PasswordSource, Secret};
// Hooks and the mailbox list file (issue 14).
pub use hooks::PairHooks;
pub use mbnames::MbnamesConfig;
// Provider presets (issue 18).
pub use provider::Provider;

// Migration (issue 15).
pub use mail_names::MailNames;
pub use migration::{FolderMatching, MigrationConfig, Rates};
// OAuth2 (issue 18).
pub use oauth2::{OAuth2Config, OAuth2Provider, OAuth2Source};
pub use template::{Placeholder, Template};
// Replication (issue 15).
#[allow(unused_imports)]
pub use replication::{
    ReplicationConfig, USER_PLACEHOLDER, UserLogin, UserSources, check_user_name, replica_names,
};

use expand::{Env, ProcessEnv, xdg_dir};
use raw::{Fields, Source};

/// The configuration file used when `-c` is not given:
/// `$XDG_CONFIG_HOME/pimlink/config.toml`, else `~/.config/pimlink/config.toml`.
pub fn default_config_path() -> Result<PathBuf, ConfigError> {
    default_config_path_in(&ProcessEnv)
}

fn default_config_path_in(env: &dyn Env) -> Result<PathBuf, ConfigError> {
    xdg_dir(env, "XDG_CONFIG_HOME", ".config")
        .map(|dir| dir.join("pimlink").join("config.toml"))
        .map_err(|why| {
            ConfigError::new(
                ConfigErrorKind::Environment,
                format!("cannot find the configuration file: {why}; name it with -c FILE"),
            )
        })
}

/// Reads, parses and checks the configuration file at `path`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    // Made absolute first so that paths relative to the file stay right whatever the current
    // directory is when they are used.
    let path = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let text = std::fs::read_to_string(&path).map_err(|err| {
        let hint = if err.kind() == std::io::ErrorKind::NotFound {
            "; `pimlink init --address you@example.org` (with --provider gmail, outlook, \
             fastmail or icloud for their preset) prints a starting configuration and \
             `pimlink init --write` puts it there (every key: pimlink-config(5))"
        } else {
            ""
        };
        ConfigError::in_file(
            ConfigErrorKind::Io,
            &path,
            format!("cannot read the configuration file: {err}{hint}"),
        )
    })?;
    parse(&text, &path)
}

/// Parses and checks configuration `text`, as if read from `path` (which names the file in
/// errors and anchors relative paths). Does not touch the file system.
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    parse_in(text, path, &ProcessEnv)
}

/// The top-level tables, in the order they are converted (pairs refer to storages).
const TOP_LEVEL: &[&str] = &[
    "general",
    "storage",
    "pair",
    "daemon",
    "mbnames",
    // Replication (issue 15).
    "replication",
    // Migration (issue 15).
    "migration",
];

/// The keys of `[general]`.
const GENERAL_KEYS: &[&str] = &["state_dir", "hook_timeout"];

fn parse_in(text: &str, path: &Path, env: &dyn Env) -> Result<Config, ConfigError> {
    let document = DeTable::parse(text).map_err(|err| {
        let span = err.span().unwrap_or(0..0);
        let mut message = format!("invalid TOML: {}", err.message().trim_end());
        // toml does not say which key is doubled; its span does.
        if message.ends_with("duplicate key")
            && let Some(key) = text.get(span.clone()).filter(|k| !k.is_empty())
        {
            message.push_str(&format!(" {key:?}"));
        }
        ConfigError::at(ConfigErrorKind::Syntax, path, text, span, message)
    })?;
    let source = Source { path, text, env };
    let whole = Fields::from_table(&source, "the file".to_owned(), 0..0, document.get_ref());
    let mut tables = BTreeMap::new();
    for (key, value) in whole.entries() {
        if !TOP_LEVEL.contains(&key.value) {
            return Err(source.error(
                key.key,
                format!(
                    "unknown table {:?} (expected one of: {})",
                    key.value,
                    TOP_LEVEL.join(", ")
                ),
            ));
        }
        let fields = Fields::new(&source, format!("[{}]", key.value), key.key, value)?;
        tables.insert(key.value, fields);
    }

    let (state_dir, hook_timeout) = match tables.get("general") {
        Some(general) => {
            general.only(GENERAL_KEYS, |_| None)?;
            (general.path("state_dir")?, hooks::timeout(general)?)
        }
        None => (None, hooks::DEFAULT_TIMEOUT),
    };
    let state_dir = match state_dir {
        Some(dir) => dir,
        None => xdg_dir(env, "XDG_STATE_HOME", ".local/state")
            .map(|dir| dir.join("pimlink"))
            .map_err(|why| {
                ConfigError::in_file(
                    ConfigErrorKind::Environment,
                    path,
                    format!("cannot choose a state directory: {why}; set [general] state_dir"),
                )
            })?,
    };

    // Migration (issue 15): the storages whose login comes from the accounts file.
    let per_account = tables
        .get("migration")
        .map(migration::storages_named)
        .unwrap_or_default();
    let mut storages = BTreeMap::new();
    if let Some(table) = tables.get("storage") {
        for (name, value) in table.entries() {
            let fields = named_table(&source, "storage", &name, value)?;
            let home = storage::Home {
                name: name.value,
                state_dir: &state_dir,
            };
            let kind = storage::build(&fields, home, per_account.contains(name.value))?;
            let mail = if kind.family() == model::Family::Mail {
                let mut mail = sides::storage(&fields)?;
                // Provider presets (issue 18): an explicit `trash` wins.
                mail.trash = mail.trash.or_else(|| provider::trash(&kind));
                mail
            } else {
                MailStorageOptions::default()
            };
            // The daemon: how often to poll it when nothing watches it.
            let poll_interval = daemon::poll_interval(&fields)?;
            let name = name.value.to_owned();
            storages.insert(
                name.clone(),
                StorageConfig {
                    name,
                    kind,
                    mail,
                    poll_interval,
                },
            );
        }
    }
    let mut pairs = BTreeMap::new();
    if let Some(table) = tables.get("pair") {
        for (name, value) in table.entries() {
            let fields = named_table(&source, "pair", &name, value)?;
            let pair = pair::build(name.value, &fields, &storages)?;
            pairs.insert(name.value.to_owned(), pair);
        }
    }
    let daemon = match tables.get("daemon") {
        Some(table) => daemon::build(table)?,
        None => DaemonConfig::default(),
    };
    let mbnames = match tables.get("mbnames") {
        Some(table) => mbnames::build(table)?,
        None => None,
    };
    // Replication (issue 15).
    let mut replications = BTreeMap::new();
    if let Some(table) = tables.get("replication") {
        for (name, value) in table.entries() {
            let fields = named_table(&source, "replication", &name, value)?;
            let replication = replication::build(name.value, &fields, &storages)?;
            replications.insert(name.value.to_owned(), replication);
        }
    }
    // Migration (issue 15).
    let mut migrations = BTreeMap::new();
    if let Some(table) = tables.get("migration") {
        for (name, value) in table.entries() {
            let fields = named_table(&source, "migration", &name, value)?;
            let built = migration::build(name.value, &fields, &storages)?;
            migrations.insert(name.value.to_owned(), built);
        }
    }
    Ok(Config {
        path: path.to_owned(),
        state_dir,
        storages,
        pairs,
        daemon,
        hook_timeout,
        mbnames,
        replications,
        migrations,
    })
}

/// The `[KIND.NAME]` table `value`, after checking NAME.
fn named_table<'a, 'i>(
    source: &'a Source<'a>,
    kind: &str,
    name: &raw::Located<&str>,
    value: &'a toml::Spanned<toml::de::DeValue<'i>>,
) -> Result<Fields<'a, 'i>, ConfigError> {
    let valid = !name.value.is_empty()
        && name
            .value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !valid {
        return Err(source.error(
            name.key.clone(),
            format!(
                "{kind} name {:?} is not allowed: use letters, digits, \"_\" and \"-\"",
                name.value
            ),
        ));
    }
    if !value.get_ref().is_table() {
        return Err(source.error(
            name.key.clone(),
            format!(
                "{kind} {:?} must be a table, found {}; write each {kind} as [{kind}.NAME] \
                 with its keys below",
                name.value,
                value.get_ref().type_str()
            ),
        ));
    }
    Fields::new(
        source,
        format!("{kind} {:?}", name.value),
        name.key.clone(),
        value,
    )
}
