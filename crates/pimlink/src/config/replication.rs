//! `[replication.NAME]` (issue 15): a master storage kept identical on a replica storage, for
//! many users at once through an administrator's credentials. `pimlink replicate` reads it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use pimlink_core::CollectionName;

use super::duration::duration;
use super::error::ConfigError;
use super::mail_names::MailNames;
use super::model::{StorageConfig, StorageKind};
use super::raw::{Fields, Located};

/// The keys of `[replication.NAME]`.
pub(crate) const REPLICATION_KEYS: &[&str] = &[
    "master",
    "replica",
    "users",
    "users_file",
    "users_command",
    "master_login",
    "replica_login",
    "master_user_separator",
    "replica_only_folder",
    "sieve",
    "sieve_port",
    "log",
    "verify_level",
    "max_backoff",
];

/// What a Maildir storage's `path` holds in place of the user's name.
pub const USER_PLACEHOLDER: &str = "{user}";

/// One `[replication.NAME]` table.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplicationConfig {
    /// The table key.
    pub name: String,
    /// `master`: the storage copied from; it is never written.
    pub master: String,
    /// `replica`: the storage made identical to the master (a different storage, not
    /// `read_only`).
    pub replica: String,
    /// Who is replicated, from `users`, `users_file` and `users_command` (joined); empty when
    /// both sides replicate their storage's own account (see [`UserLogin::SelfOnly`]).
    pub users: UserSources,
    /// `master_login`: how the master's credentials act as each user.
    pub master_login: UserLogin,
    /// `replica_login`: how the replica's credentials act as each user.
    pub replica_login: UserLogin,
    /// `master_user_separator`: between user and administrator for
    /// [`UserLogin::MasterUser`] (default `*`, Dovecot's usual `auth_master_user_separator`).
    pub master_user_separator: String,
    /// `replica_only_folder`: where a message found only on the replica is moved; `None`
    /// deletes it.
    pub replica_only_folder: Option<CollectionName>,
    /// `sieve`: replicate Sieve scripts through ManageSieve too (default false).
    pub sieve: bool,
    /// `sieve_port`: the ManageSieve port of an IMAP storage without its own `sieve_port`
    /// (none: 4190). Kept from before the storage key, which two servers on one host need.
    pub sieve_port: Option<u16>,
    /// `log`: rolling mode's change log; `None` watches the master instead.
    pub log: Option<PathBuf>,
    /// `verify_level`: the level rolling mode verifies each touched mailbox at (0 = off,
    /// default 1).
    pub verify_level: u8,
    /// `max_backoff`: the longest wait between reconnects (default 20 min, as Cyrus's
    /// `sync_reconnect_maxwait`).
    pub max_backoff: Duration,
}

/// The configured sources of user names.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UserSources {
    /// `users`.
    pub list: Vec<String>,
    /// `users_file`: one name a line, `#` comments and blank lines ignored.
    pub file: Option<PathBuf>,
    /// `users_command`: run with `sh -c`, one name a line on its standard output.
    pub command: Option<String>,
}

impl UserSources {
    /// True if no source is configured.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty() && self.file.is_none() && self.command.is_none()
    }
}

/// How a storage's credentials act as one of the replicated users (`master_login`,
/// `replica_login`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserLogin {
    /// `authzid`: SASL PLAIN with the storage's user as authentication identity and the
    /// replicated user as authorization identity (Cyrus admins, Dovecot master users).
    Authzid,
    /// `master-user`: LOGIN/PLAIN as `USER*ADMIN` (Dovecot master users).
    MasterUser,
    /// `self`: only the storage's own account (one-user replication, no users key).
    SelfOnly,
}

/// The written forms of [`UserLogin`].
const LOGINS: &[(&str, UserLogin)] = &[
    ("authzid", UserLogin::Authzid),
    ("master-user", UserLogin::MasterUser),
    ("self", UserLogin::SelfOnly),
];

/// The folder names and keywords of a replication's pairs: names kept as they are, and
/// keywords replicated (the replica must be exact).
pub fn replica_names() -> MailNames {
    MailNames {
        translation: Default::default(),
        keywords: true,
    }
}

/// Reads one `[replication.NAME]` table; `storages` are the configured ones.
pub(crate) fn build(
    name: &str,
    fields: &Fields<'_, '_>,
    storages: &BTreeMap<String, StorageConfig>,
) -> Result<ReplicationConfig, ConfigError> {
    fields.only(REPLICATION_KEYS, |_| None)?;
    let master = side(fields, "master", storages)?;
    let replica = side(fields, "replica", storages)?;
    if master.value == replica.value {
        return Err(fields.error(
            replica.at,
            format!(
                "master and replica are the same storage {:?}; a replica must be another \
                 storage",
                master.value
            ),
        ));
    }
    if storages[&replica.value].mail.read_only {
        return Err(fields.error(
            replica.at,
            format!(
                "storage {:?} is read_only, so it cannot be a replica",
                replica.value
            ),
        ));
    }
    let users = UserSources {
        list: user_list(fields)?,
        file: fields.path("users_file")?,
        command: fields.non_empty("users_command")?.map(|c| c.value),
    };
    let master_login = login(fields, "master_login", &storages[&master.value])?;
    let replica_login = login(fields, "replica_login", &storages[&replica.value])?;
    check_users(
        fields,
        &users,
        [
            (&master, master_login, &storages[&master.value]),
            (&replica, replica_login, &storages[&replica.value]),
        ],
    )?;
    let master_user_separator = match fields.string("master_user_separator")? {
        Some(sep) if sep.value.is_empty() => {
            return Err(fields.error(sep.at, "key \"master_user_separator\" must not be empty"));
        }
        Some(sep) => sep.value,
        None => "*".to_owned(),
    };
    let replica_only_folder =
        match fields.non_empty("replica_only_folder")? {
            Some(folder) => Some(CollectionName::new(&folder.value).map_err(|e| {
                fields.error(folder.at, format!("key \"replica_only_folder\": {e}"))
            })?),
            None => None,
        };
    let sieve_port = fields
        .integer("sieve_port", 1..=65535)?
        .and_then(|p| u16::try_from(p.value).ok());
    let verify_level = fields
        .integer("verify_level", 0..=5)?
        .and_then(|l| u8::try_from(l.value).ok())
        .unwrap_or(1);
    Ok(ReplicationConfig {
        name: name.to_owned(),
        master: master.value,
        replica: replica.value,
        users,
        master_login,
        replica_login,
        master_user_separator,
        replica_only_folder,
        sieve: fields.boolean("sieve")?.is_some_and(|b| b.value),
        sieve_port,
        log: fields.path("log")?,
        verify_level,
        max_backoff: duration(fields, "max_backoff")?
            .map_or(Duration::from_secs(20 * 60), |d| d.value),
    })
}

/// `master` or `replica`: the name of a configured mail storage.
fn side(
    fields: &Fields<'_, '_>,
    key: &str,
    storages: &BTreeMap<String, StorageConfig>,
) -> Result<Located<String>, ConfigError> {
    let name = fields
        .non_empty(key)?
        .ok_or_else(|| fields.missing(key, " (the name of an imap or maildir storage)"))?;
    match storages.get(&name.value).map(|s| &s.kind) {
        Some(StorageKind::Imap(_) | StorageKind::Maildir(_)) => Ok(name),
        Some(other) => Err(fields.error(
            name.at.clone(),
            format!(
                "key {key:?}: storage {:?} is a {} storage; replication takes an imap or \
                 maildir storage",
                name.value,
                other.type_name()
            ),
        )),
        None => {
            let known: Vec<&str> = storages.keys().map(String::as_str).collect();
            Err(fields.error(
                name.at.clone(),
                format!(
                    "key {key:?}: no storage named {:?} (configured: {})",
                    name.value,
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                ),
            ))
        }
    }
}

/// `users`: a list of non-empty names.
fn user_list(fields: &Fields<'_, '_>) -> Result<Vec<String>, ConfigError> {
    let Some(list) = fields.strings("users")? else {
        return Ok(Vec::new());
    };
    list.value
        .into_iter()
        .map(|user| {
            check_user_name(&user.value)
                .map(|()| user.value.clone())
                .map_err(|why| fields.error(user.at, format!("key \"users\": {why}")))
        })
        .collect()
}

/// Why `user` cannot be a user name, if it cannot: names come from files and commands too, so
/// `pimlink replicate` checks them with this as well.
pub fn check_user_name(user: &str) -> Result<(), String> {
    if user.trim().is_empty() {
        return Err("a user name must not be empty".to_owned());
    }
    if user.chars().any(char::is_control) {
        return Err(format!("user name {user:?} holds a control character"));
    }
    Ok(())
}

/// `master_login` or `replica_login` for `storage`: only IMAP storages log in as users.
fn login(
    fields: &Fields<'_, '_>,
    key: &str,
    storage: &StorageConfig,
) -> Result<UserLogin, ConfigError> {
    let chosen = fields.choice(key, LOGINS)?;
    match (&storage.kind, chosen) {
        (StorageKind::Imap(_), Some(login)) => Ok(login.value),
        (StorageKind::Imap(_), None) => Ok(UserLogin::Authzid),
        (_, Some(login)) => Err(fields.error(
            login.key,
            format!(
                "key {key:?} applies to imap storages; storage {:?} is a maildir: put {} in \
                 its path instead",
                storage.name, USER_PLACEHOLDER
            ),
        )),
        // A Maildir side is per user through its path, or one tree for a one-user replication.
        (_, None) => Ok(UserLogin::SelfOnly),
    }
}

/// Users are required when a side acts for many users, and refused when no side can.
fn check_users(
    fields: &Fields<'_, '_>,
    users: &UserSources,
    sides: [(&Located<String>, UserLogin, &StorageConfig); 2],
) -> Result<(), ConfigError> {
    let per_user = |login: UserLogin, storage: &StorageConfig| match &storage.kind {
        StorageKind::Maildir(m) => m.path.to_string_lossy().contains(USER_PLACEHOLDER),
        _ => login != UserLogin::SelfOnly,
    };
    for (name, login, storage) in sides {
        if let StorageKind::Imap(imap) = &storage.kind
            && login != UserLogin::SelfOnly
            && imap.credentials.is_none()
        {
            return Err(fields.error(
                name.at.clone(),
                format!(
                    "storage {:?} has no user and password, which {} login needs (the \
                     administrator's)",
                    storage.name,
                    if login == UserLogin::Authzid {
                        "the authzid"
                    } else {
                        "the master-user"
                    }
                ),
            ));
        }
        if per_user(login, storage) && users.is_empty() {
            return Err(fields.missing(
                "users",
                &format!(
                    " (or \"users_file\", \"users_command\"): storage {:?} acts for many users; \
                     for one account set master_login and replica_login = \"self\"",
                    storage.name
                ),
            ));
        }
    }
    let any_per_user = sides
        .iter()
        .any(|(_, login, storage)| per_user(*login, storage));
    // Every user would write the same tree.
    for (name, login, storage) in sides {
        if any_per_user
            && matches!(storage.kind, StorageKind::Maildir(_))
            && !per_user(login, storage)
        {
            return Err(fields.error(
                name.at.clone(),
                format!(
                    "storage {:?} is one Maildir tree for many users: put {USER_PLACEHOLDER} in                      its path",
                    storage.name
                ),
            ));
        }
    }
    if !any_per_user && !users.is_empty() {
        let key = ["users", "users_file", "users_command"]
            .into_iter()
            .find_map(|k| fields.key_span(k))
            .unwrap_or_default();
        return Err(fields.error(
            key,
            "users are listed, but both sides log in as their storage's own account (\"self\" \
             or a maildir without {user} in its path)",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::tests::{fails, ok};
    use super::*;

    const STORAGES: &str = r#"
[storage.m]
type = "imap"
host = "127.0.0.1"
tls = "none"
user = "admin"
password = "secret"

[storage.r]
type = "imap"
host = "127.0.0.2"
tls = "none"
user = "admin"
password = "secret"

[storage.dir]
type = "maildir"
path = "/srv/replica/{user}"

[storage.flat]
type = "maildir"
path = "/srv/replica"

[storage.cal]
type = "caldav"
url = "https://example.org/"
"#;

    fn with(table: &str) -> String {
        format!("{STORAGES}\n[replication.x]\n{table}")
    }

    #[test]
    fn every_key_converts() {
        let config = ok(&with(
            "master = \"m\"\nreplica = \"r\"\nusers = [\"alice\", \"bob\"]\n\
             users_file = \"/etc/users\"\nusers_command = \"list-users\"\n\
             master_login = \"master-user\"\nreplica_login = \"authzid\"\n\
             master_user_separator = \"%\"\nreplica_only_folder = \"Recovered\"\n\
             sieve = true\nsieve_port = 14190\nlog = \"/var/log/repl\"\nverify_level = 3\n\
             max_backoff = \"5m\"\n",
        ));
        let repl = &config.replications["x"];
        assert_eq!(repl.master, "m");
        assert_eq!(repl.replica, "r");
        assert_eq!(repl.users.list, ["alice", "bob"]);
        assert_eq!(repl.users.file, Some(PathBuf::from("/etc/users")));
        assert_eq!(repl.users.command.as_deref(), Some("list-users"));
        assert_eq!(repl.master_login, UserLogin::MasterUser);
        assert_eq!(repl.replica_login, UserLogin::Authzid);
        assert_eq!(repl.master_user_separator, "%");
        assert_eq!(
            repl.replica_only_folder.as_ref().map(|f| f.as_str()),
            Some("Recovered")
        );
        assert!(repl.sieve);
        assert_eq!(repl.sieve_port, Some(14190));
        assert_eq!(repl.log, Some(PathBuf::from("/var/log/repl")));
        assert_eq!(repl.verify_level, 3);
        assert_eq!(repl.max_backoff, Duration::from_secs(300));
    }

    #[test]
    fn defaults() {
        let config = ok(&with(
            "master = \"m\"\nreplica = \"dir\"\nusers = [\"alice\"]\n",
        ));
        let repl = &config.replications["x"];
        assert_eq!(repl.master_login, UserLogin::Authzid);
        assert_eq!(repl.replica_login, UserLogin::SelfOnly);
        assert_eq!(repl.master_user_separator, "*");
        assert_eq!(repl.replica_only_folder, None);
        assert!(!repl.sieve);
        assert_eq!(repl.sieve_port, None);
        assert_eq!(repl.verify_level, 1);
        assert_eq!(repl.max_backoff, Duration::from_secs(1200));
        let one = ok(&with(
            "master = \"m\"\nreplica = \"r\"\nmaster_login = \"self\"\nreplica_login = \"self\"\n",
        ));
        assert!(one.replications["x"].users.is_empty());
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let line = STORAGES.lines().count() + 3;
        fails(
            &with("master = \"nope\"\nreplica = \"r\"\nusers = [\"a\"]\n"),
            line,
            &["no storage named \"nope\"", "m, r"],
        );
        fails(
            &with("master = \"cal\"\nreplica = \"r\"\nusers = [\"a\"]\n"),
            line,
            &["caldav", "imap or maildir"],
        );
        fails(
            &with("master = \"m\"\nreplica = \"m\"\nusers = [\"a\"]\n"),
            line + 1,
            &["same storage"],
        );
        fails(
            &with("master = \"m\"\nreplica = \"r\"\n"),
            line - 1,
            &["missing key \"users\"", "\"self\""],
        );
        fails(
            &with("replica = \"r\"\nusers = [\"a\"]\n"),
            line - 1,
            &["missing key \"master\""],
        );
        fails(
            &with(
                "master = \"m\"\nreplica = \"dir\"\nusers = [\"a\"]\nreplica_login = \"authzid\"\n",
            ),
            line + 3,
            &["applies to imap storages", "{user}"],
        );
        fails(
            &with("master = \"m\"\nreplica = \"r\"\nusers = [\"a\"]\nmaster_login = \"root\"\n"),
            line + 3,
            &["unknown value \"root\"", "authzid, master-user, self"],
        );
        fails(
            &with(
                "master = \"m\"\nreplica = \"r\"\nmaster_login = \"self\"\n\
                 replica_login = \"self\"\nusers = [\"a\"]\n",
            ),
            line + 4,
            &["users are listed"],
        );
        fails(
            &with("master = \"m\"\nreplica = \"flat\"\nusers = [\"a\"]\n"),
            line + 1,
            &["one Maildir tree for many users", "{user}"],
        );
        fails(
            &with("master = \"m\"\nreplica = \"r\"\nusers = [\"\"]\n"),
            line + 2,
            &["must not be empty"],
        );
        fails(
            &with("master = \"m\"\nreplica = \"r\"\nusers = [\"a\"]\nverify_level = 6\n"),
            line + 3,
            &["\"verify_level\"", "between 0 and 5"],
        );
        fails(
            &with("master = \"m\"\nreplica = \"r\"\nusers = [\"a\"]\nsieves = true\n"),
            line + 3,
            &["unknown key \"sieves\""],
        );
    }

    /// Master and replica may serve ManageSieve on different ports (two servers on one
    /// host): each IMAP storage names its own, the replication's `sieve_port` is the fallback.
    #[test]
    fn each_imap_storage_may_name_its_sieve_port() {
        let text = with("master = \"m\"\nreplica = \"r\"\nusers = [\"a\"]\nsieve = true\n")
            .replace(
                "host = \"127.0.0.2\"\n",
                "host = \"127.0.0.2\"\nsieve_port = 24190\n",
            );
        let config = ok(&text);
        let sieve_port = |name: &str| match &config.storages[name].kind {
            StorageKind::Imap(imap) => imap.sieve_port,
            _ => None,
        };
        assert_eq!(sieve_port("r"), Some(24190));
        assert_eq!(sieve_port("m"), None);
        let tunnel = format!(
            "{STORAGES}\n[storage.t]\ntype = \"imap\"\ntunnel = \"imapd\"\nsieve_port = 4190\n"
        );
        let line = tunnel.lines().count();
        fails(
            &tunnel,
            line,
            &["\"sieve_port\" does not apply to a \"tunnel\""],
        );
    }
}
