//! `[migration.NAME]` tables (issue 15): which two IMAP storages `pimlink migrate` copies
//! accounts between, how folders are matched, and how fast it may go. The accounts themselves
//! (users and passwords) come from the `--accounts` file, not from here.

use std::collections::{BTreeMap, BTreeSet};

use super::error::ConfigError;
use super::limits::size;
use super::model::{StorageConfig, StorageKind};
use super::raw::Fields;

/// The keys of a `[migration.NAME]` table.
pub(crate) const KEYS: &[&str] = &[
    "source",
    "destination",
    "folders",
    "max_bytes_per_second",
    "max_messages_per_second",
    "daily_bytes",
    "total_max_bytes_per_second",
    "total_max_messages_per_second",
];

/// One `[migration.NAME]` table.
#[derive(Clone, Debug, PartialEq)]
pub struct MigrationConfig {
    /// The table key.
    pub name: String,
    /// `source`: an IMAP storage; its server settings are used with each account's login.
    pub source: String,
    /// `destination`: an IMAP storage, likewise.
    pub destination: String,
    /// `folders`: how source folders find their destination folder.
    pub folders: FolderMatching,
    /// Limits of one account (`max_bytes_per_second`, `max_messages_per_second`,
    /// `daily_bytes`).
    pub per_account: Rates,
    /// Limits of all accounts of one `pimlink migrate` run together
    /// (`total_max_bytes_per_second`, `total_max_messages_per_second`; no daily cap).
    pub total: Rates,
}

/// How a migration matches folders (`folders`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FolderMatching {
    /// `special-use` (default): Sent, Drafts, Trash, Junk and Archive go to the destination's
    /// folder of the same use (RFC 6154 attribute, else a common name), whatever it is called;
    /// other folders keep their names.
    #[default]
    SpecialUse,
    /// `names`: every folder keeps its name.
    Names,
}

/// Rate limits; `None` is unlimited.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rates {
    /// Bytes of messages copied per second.
    pub bytes_per_second: Option<u64>,
    /// Messages copied per second.
    pub messages_per_second: Option<u64>,
    /// Bytes copied per UTC day (per account only).
    pub daily_bytes: Option<u64>,
}

/// The storages the `[migration.NAME]` tables of `table` (the whole `[migration]` table) name:
/// these may leave out `user` and the password, which each account brings. Read before the
/// storages are converted, so a table with mistakes only adds nothing here; [`build`] reports
/// them.
pub(crate) fn storages_named(table: &Fields<'_, '_>) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (name, value) in table.entries() {
        let Ok(fields) = Fields::new(table.source, String::new(), name.key, value) else {
            continue;
        };
        for key in ["source", "destination"] {
            if let Ok(Some(storage)) = fields.string(key) {
                names.insert(storage.value);
            }
        }
    }
    names
}

/// Converts the table of migration `name`; `storages` are the validated storages.
pub(crate) fn build(
    name: &str,
    fields: &Fields<'_, '_>,
    storages: &BTreeMap<String, StorageConfig>,
) -> Result<MigrationConfig, ConfigError> {
    fields.only(KEYS, |_| None)?;
    let source = imap_storage(fields, "source", storages)?;
    let destination = imap_storage(fields, "destination", storages)?;
    let folders = fields
        .choice(
            "folders",
            &[
                ("special-use", FolderMatching::SpecialUse),
                ("names", FolderMatching::Names),
            ],
        )?
        .map_or(FolderMatching::default(), |f| f.value);
    let messages = |key| {
        Ok::<_, ConfigError>(
            fields
                .integer(key, 1..=1_000_000)?
                .and_then(|n| u64::try_from(n.value).ok()),
        )
    };
    Ok(MigrationConfig {
        name: name.to_owned(),
        source,
        destination,
        folders,
        per_account: Rates {
            bytes_per_second: size(fields, "max_bytes_per_second")?,
            messages_per_second: messages("max_messages_per_second")?,
            daily_bytes: size(fields, "daily_bytes")?,
        },
        total: Rates {
            bytes_per_second: size(fields, "total_max_bytes_per_second")?,
            messages_per_second: messages("total_max_messages_per_second")?,
            daily_bytes: None,
        },
    })
}

/// The IMAP storage `key` names. Its `user` and password, if it has them, are replaced by each
/// account's; a tunnel is refused, since it logs in as one user.
fn imap_storage(
    fields: &Fields<'_, '_>,
    key: &str,
    storages: &BTreeMap<String, StorageConfig>,
) -> Result<String, ConfigError> {
    let name = fields
        .string(key)?
        .ok_or_else(|| fields.missing(key, " (the name of an imap [storage.NAME])"))?;
    let Some(storage) = storages.get(&name.value) else {
        let known: Vec<&str> = storages.keys().map(String::as_str).collect();
        return Err(fields.error(
            name.at,
            format!(
                "key {key:?} names storage {:?}, which is not defined (defined: {})",
                name.value,
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            ),
        ));
    };
    match &storage.kind {
        StorageKind::Imap(imap) if matches!(imap.endpoint, super::ImapEndpoint::Tcp { .. }) => {
            Ok(name.value)
        }
        kind => Err(fields.error(
            name.at,
            format!(
                "key {key:?}: storage {:?} is {}; a migration copies between imap storages \
                 reached by host (each account logs in with its own user and password)",
                name.value,
                if matches!(kind, StorageKind::Imap(_)) {
                    "an imap tunnel".to_owned()
                } else {
                    format!("of type {:?}", kind.type_name())
                }
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{fails, ok};
    use super::*;

    // Neither imap storage has a login: each account brings its own.
    const STORAGES: &str = "[storage.old]\ntype = \"imap\"\nhost = \"old.example.org\"\n\
                            [storage.new]\ntype = \"imap\"\nhost = \"new.example.org\"\n\
                            [storage.local]\ntype = \"maildir\"\npath = \"/m\"\n";

    #[test]
    fn defaults_and_every_key() {
        let config = ok(&format!(
            "{STORAGES}[migration.m]\nsource = \"old\"\ndestination = \"new\"\n"
        ));
        let m = &config.migrations["m"];
        assert_eq!((m.source.as_str(), m.destination.as_str()), ("old", "new"));
        assert_eq!(m.folders, FolderMatching::SpecialUse);
        assert_eq!(m.per_account, Rates::default());
        let config = ok(&format!(
            "{STORAGES}[migration.m]\nsource = \"old\"\ndestination = \"new\"\n\
             folders = \"names\"\nmax_bytes_per_second = \"5M\"\nmax_messages_per_second = 50\n\
             daily_bytes = \"2500M\"\ntotal_max_bytes_per_second = 1000\n\
             total_max_messages_per_second = 200\n"
        ));
        let m = &config.migrations["m"];
        assert_eq!(m.folders, FolderMatching::Names);
        assert_eq!(
            m.per_account,
            Rates {
                bytes_per_second: Some(5 << 20),
                messages_per_second: Some(50),
                daily_bytes: Some(2500 << 20),
            }
        );
        assert_eq!(m.total.bytes_per_second, Some(1000));
        assert_eq!(m.total.messages_per_second, Some(200));
    }

    #[test]
    fn refuses_other_storages_unknown_names_and_keys() {
        let head = format!("{STORAGES}[migration.m]\n");
        // The storages are lines 1-9, the table's header line 10.
        fails(
            "[storage.old]\ntype = \"imap\"\nhost = \"h\"\n\
             [storage.local]\ntype = \"maildir\"\npath = \"/m\"\n\
             [migration.m]\nsource = \"old\"\ndestination = \"local\"\n",
            9,
            &["destination", "of type \"maildir\""],
        );
        fails(
            "[storage.new]\ntype = \"imap\"\nhost = \"h\"\n\
             [migration.m]\nsource = \"gone\"\ndestination = \"new\"\n",
            5,
            &["\"gone\"", "not defined"],
        );
        fails(
            "[storage.old]\ntype = \"imap\"\nhost = \"h\"\n[migration.m]\nsource = \"old\"\n",
            4,
            &["missing key \"destination\""],
        );
        fails(
            &format!("{head}source = \"old\"\ndestination = \"new\"\nspeed = 1\n"),
            13,
            &["unknown key \"speed\""],
        );
    }

    #[test]
    fn only_a_migrations_storages_may_leave_out_the_login() {
        fails(
            "[storage.r]\ntype = \"imap\"\nhost = \"h\"\n",
            1,
            &["missing key \"user\""],
        );
    }
}
