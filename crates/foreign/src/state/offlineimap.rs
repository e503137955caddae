//! OfflineIMAP's state (offlineimap3, 7.x and 8.x): what it knew about each folder at its last
//! run, read from its metadata directory (`[general] metadata`, default `~/.offlineimap`):
//!
//! - `Account-<account>/LocalStatus-sqlite/<folder>`: one SQLite database per folder, table
//!   `status(id INTEGER PRIMARY KEY, flags VARCHAR(50), mtime INTEGER, labels VARCHAR(256))`
//!   where `id` is the server's UID and `flags` the Maildir letters both sides had, and
//!   `metadata(key, value)` with `db_version` 1 (no `mtime`/`labels` columns) or 2.
//! - `Account-<account>/LocalStatus/<folder>`: the older plain-text status, a magic line
//!   (`OFFLINEIMAP LocalStatus CACHE DATA - DO NOT MODIFY - FORMAT 1|2`) then one message a line,
//!   `uid:flags` (format 1) or `uid|flags|mtime|labels` (format 2). OfflineIMAP 7 and 8 import it
//!   into SQLite when they find no database, so it is read only where no database exists.
//! - `Repository-<repository>/FolderValidity/<folder>`: the UIDVALIDITY OfflineIMAP saw for that
//!   repository's folder (one decimal line; a Maildir repository always writes 42).
//!
//! `<folder>` is the folder's name with `/` made `.` and a name `.` spelled `dot`
//! ([`status_file_name`]); for the status it is the remote folder's visible name with the remote
//! separator made `.`.
//!
//! In the Maildir, OfflineIMAP names the files it writes
//! `<secs>_<seq>.<pid>.<host>,U=<uid>,FMD5=<md5 of the local folder name>:2,<flags>`. The `,U=`
//! is the *server's* UID, and OfflineIMAP believes it only when the `,FMD5=` part is the MD5 of
//! the folder the file lies in ([`folder_md5`]); any other file is a new local message to it.
//! [`read_folder`] pairs a folder's files with the status the same way.
//!
//! Not here: OfflineIMAP's configuration (`config/`), IMAP, pimlink's status.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use md5::{Digest, Md5};

/// Where OfflineIMAP keeps its state unless `[general] metadata` says otherwise (relative to the
/// home directory).
pub const DEFAULT_METADATA: &str = ".offlineimap";

/// The magic line of the plain-text status, `%d` being the format version.
const MAGIC: &str = "OFFLINEIMAP LocalStatus CACHE DATA - DO NOT MODIFY - FORMAT ";

/// What went wrong reading OfflineIMAP's state; each names the file (and line) at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file or directory could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A status database could not be opened or queried.
    #[error("{path}: not an OfflineIMAP status database: {source}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// Why.
        source: rusqlite::Error,
    },
    /// A file is not in the format OfflineIMAP writes.
    #[error("{path}:{line}: {what}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// Its 1-based line (0: the file as a whole, such as a database row).
        line: usize,
        /// What was wrong.
        what: String,
    },
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_owned(),
        source,
    }
}

/// One message OfflineIMAP had synced: the flags both sides had at its last run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusEntry {
    /// The Maildir flag letters, in ASCII order.
    pub flags: String,
    /// OfflineIMAP's record of the local file's time (0 where it kept none).
    pub mtime: i64,
    /// Gmail labels (empty elsewhere).
    pub labels: Vec<String>,
}

/// One folder's status: server UID -> what both sides had.
pub type FolderStatus = BTreeMap<u32, StatusEntry>;

/// OfflineIMAP's metadata directory.
#[derive(Clone, Debug)]
pub struct Metadata {
    root: PathBuf,
}

impl Metadata {
    /// The metadata directory at `root` (it is only read, when asked).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Metadata { root: root.into() }
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The accounts that left state here (`Account-<name>` directories), sorted.
    pub fn accounts(&self) -> Result<Vec<String>, Error> {
        self.prefixed("Account-")
    }

    /// The repositories that left state here (`Repository-<name>` directories), sorted.
    pub fn repositories(&self) -> Result<Vec<String>, Error> {
        self.prefixed("Repository-")
    }

    fn prefixed(&self, prefix: &str) -> Result<Vec<String>, Error> {
        let mut names = Vec::new();
        let entries = match fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(names),
            Err(e) => return Err(io_error(&self.root)(e)),
        };
        for entry in entries {
            let entry = entry.map_err(io_error(&self.root))?;
            if let Some(name) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.strip_prefix(prefix))
                && entry.path().is_dir()
            {
                names.push(name.to_owned());
            }
        }
        names.sort();
        Ok(names)
    }

    /// The status of `folder` (its status name, see [`status_file_name`]) in `account`: the
    /// SQLite database if there is one, else the plain-text file; `None` if OfflineIMAP never
    /// synced that folder.
    pub fn status(&self, account: &str, folder: &str) -> Result<Option<FolderStatus>, Error> {
        let account_dir = self.root.join(format!("Account-{account}"));
        let file = status_file_name(folder);
        let sqlite = account_dir.join("LocalStatus-sqlite").join(&file);
        if sqlite.is_file() {
            return read_status_sqlite(&sqlite).map(Some);
        }
        let plain = account_dir.join("LocalStatus").join(&file);
        if plain.is_file() {
            return read_status_plain(&plain).map(Some);
        }
        Ok(None)
    }

    /// The UIDVALIDITY `repository` recorded for `folder` (the repository's own folder name),
    /// `None` if it recorded none.
    pub fn folder_validity(&self, repository: &str, folder: &str) -> Result<Option<u32>, Error> {
        let path = self
            .root
            .join(format!("Repository-{repository}"))
            .join("FolderValidity")
            .join(status_file_name(folder));
        match fs::read_to_string(&path) {
            Ok(text) => parse_validity(&path, &text).map(Some),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error(&path)(e)),
        }
    }

    /// The UIDVALIDITY of `folder` as the server had it: that of the one repository with a
    /// FolderValidity file for it other than 42 (what every Maildir repository writes). `None`
    /// when no repository, or more than one, qualifies.
    pub fn server_validity(&self, folder: &str) -> Result<Option<u32>, Error> {
        let mut found = None;
        for repository in self.repositories()? {
            match self.folder_validity(&repository, folder)? {
                Some(MAILDIR_VALIDITY) | None => {}
                Some(value) if found.is_none() => found = Some(value),
                Some(_) => return Ok(None),
            }
        }
        Ok(found)
    }
}

/// The UIDVALIDITY OfflineIMAP records for every Maildir folder.
const MAILDIR_VALIDITY: u32 = 42;

fn parse_validity(path: &Path, text: &str) -> Result<u32, Error> {
    let line = text.lines().next().unwrap_or("").trim();
    line.parse().map_err(|_| Error::Malformed {
        path: path.to_owned(),
        line: 1,
        what: format!("a UIDVALIDITY must be a number, not {line:?}"),
    })
}

/// The file name OfflineIMAP gives a folder's status and FolderValidity files
/// (`BaseFolder.getfolderbasename`): `/` becomes `.`, and a name that would be `.` is `dot`.
pub fn status_file_name(folder: &str) -> String {
    let name = if folder.is_empty() {
        ".".to_owned()
    } else {
        folder.replace('/', ".")
    };
    if name == "." { "dot".to_owned() } else { name }
}

/// The `FMD5` OfflineIMAP writes into the names of a local folder's files: the hexadecimal MD5
/// of the folder's local name (as it spells it, separator included: `Archive.2024` with
/// `sep = .`, `Archive/2024` with `sep = /`).
pub fn folder_md5(local_name: &str) -> String {
    let digest = Md5::digest(local_name.as_bytes());
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// A Maildir file name taken apart as OfflineIMAP reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageName<'a> {
    /// Everything before the info part (`:2,`): the name as pimlink's Maildir store keys it.
    pub unique: &'a str,
    /// The `,U=` number, if any (believe it only with a matching [`Self::fmd5`]).
    pub uid: Option<u32>,
    /// The `,FMD5=` value, if any.
    pub fmd5: Option<&'a str>,
    /// The flag letters after `:2,`.
    pub flags: &'a str,
}

impl<'a> MessageName<'a> {
    /// `name` taken apart; any name is accepted (the parts it lacks are `None` or empty).
    pub fn parse(name: &'a str) -> Self {
        let (unique, flags) = name.split_once(":2,").unwrap_or((name, ""));
        let field = |key: &str| {
            unique
                .split(',')
                .skip(1)
                .find_map(|part| part.strip_prefix(key))
        };
        MessageName {
            unique,
            uid: field("U=")
                .and_then(|uid| uid.parse().ok())
                .filter(|&uid| uid > 0),
            fmd5: field("FMD5="),
            flags,
        }
    }

    /// The server UID OfflineIMAP pairs this file with when it lies in the folder whose
    /// [`folder_md5`] is `md5`.
    pub fn uid_in(&self, md5: &str) -> Option<u32> {
        self.uid.filter(|_| self.fmd5 == Some(md5))
    }
}

/// Reads a `LocalStatus-sqlite` database (format 1 or 2).
pub fn read_status_sqlite(path: &Path) -> Result<FolderStatus, Error> {
    let sqlite = |source| Error::Sqlite {
        path: path.to_owned(),
        source,
    };
    // Read-only, so that a database OfflineIMAP is writing right now is never changed, and one
    // that is not there is not created.
    let db =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(sqlite)?;
    let version: String = db
        .query_row(
            "SELECT value FROM metadata WHERE key = 'db_version'",
            [],
            |row| row.get(0),
        )
        .map_err(sqlite)?;
    let query = match version.as_str() {
        "1" => "SELECT id, flags, 0, '' FROM status",
        "2" => "SELECT id, flags, mtime, labels FROM status",
        other => {
            return Err(Error::Malformed {
                path: path.to_owned(),
                line: 0,
                what: format!("unknown status database version {other:?} (1 and 2 are known)"),
            });
        }
    };
    let mut statement = db.prepare(query).map_err(sqlite)?;
    let rows = statement
        .query_map([], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, Option<String>>(1)?,
                row.get::<_, Option<i64>>(2)?,
                row.get::<_, Option<String>>(3)?,
            ))
        })
        .map_err(sqlite)?;
    let mut status = FolderStatus::new();
    for row in rows {
        let (id, flags, mtime, labels) = row.map_err(sqlite)?;
        let uid = u32::try_from(id)
            .ok()
            .filter(|&uid| uid > 0)
            .ok_or_else(|| Error::Malformed {
                path: path.to_owned(),
                line: 0,
                what: format!("a UID must be from 1 to 4294967295, not {id}"),
            })?;
        status.insert(
            uid,
            StatusEntry {
                flags: sorted_flags(flags.as_deref().unwrap_or("")),
                mtime: mtime.unwrap_or(0),
                labels: split_labels(labels.as_deref().unwrap_or("")),
            },
        );
    }
    Ok(status)
}

/// Reads a plain-text `LocalStatus` file (format 1 or 2).
pub fn read_status_plain(path: &Path) -> Result<FolderStatus, Error> {
    let text = fs::read_to_string(path).map_err(io_error(path))?;
    let malformed = |line: usize, what: String| Error::Malformed {
        path: path.to_owned(),
        line,
        what,
    };
    let mut lines = text.lines();
    let magic = lines.next().unwrap_or("").trim();
    let version = magic
        .strip_prefix(MAGIC)
        .filter(|v| *v == "1" || *v == "2")
        .ok_or_else(|| {
            malformed(
                1,
                format!("not an OfflineIMAP status (format 1 or 2): {magic:?}"),
            )
        })?;
    let mut status = FolderStatus::new();
    for (index, line) in lines.enumerate() {
        let number = index + 2;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let (uid, entry) = if version == "1" {
            let (uid, flags) = line
                .split_once(':')
                .ok_or_else(|| malformed(number, format!("expected uid:flags, not {line:?}")))?;
            let entry = StatusEntry {
                flags: sorted_flags(flags),
                mtime: 0,
                labels: Vec::new(),
            };
            (uid, entry)
        } else {
            let fields: Vec<&str> = line.split('|').collect();
            let [uid, flags, mtime, labels] = fields[..] else {
                return Err(malformed(
                    number,
                    format!("expected uid|flags|mtime|labels, not {line:?}"),
                ));
            };
            let mtime = mtime
                .parse()
                .map_err(|_| malformed(number, format!("the mtime {mtime:?} is not a number")))?;
            let entry = StatusEntry {
                flags: sorted_flags(flags),
                mtime,
                labels: split_labels(labels),
            };
            (uid, entry)
        };
        let uid = uid
            .parse::<u32>()
            .ok()
            .filter(|&uid| uid > 0)
            .ok_or_else(|| malformed(number, format!("the UID {uid:?} is not a UID")))?;
        status.insert(uid, entry);
    }
    Ok(status)
}

fn sorted_flags(flags: &str) -> String {
    let mut letters: Vec<char> = flags.chars().collect();
    letters.sort_unstable();
    letters.dedup();
    letters.into_iter().collect()
}

fn split_labels(labels: &str) -> Vec<String> {
    labels
        .split(',')
        .map(str::trim)
        .filter(|label| !label.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A local message OfflineIMAP had synced, paired with its server UID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paired {
    /// The server's UID.
    pub uid: u32,
    /// The file's name up to its info part (pimlink's Maildir key), as it lies in `cur/` or
    /// `new/`.
    pub unique: String,
    /// The flags both sides had at OfflineIMAP's last run (those of the status).
    pub synced_flags: String,
}

/// One local folder as OfflineIMAP left it, paired the way OfflineIMAP pairs it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FolderState {
    /// The server's UIDVALIDITY when OfflineIMAP last synced the folder, if it recorded it.
    pub uid_validity: Option<u32>,
    /// Files with a `,U=` and this folder's `,FMD5=` whose UID the status knows.
    pub paired: Vec<Paired>,
    /// UIDs the status knows whose file is gone: deleted locally since OfflineIMAP's last run
    /// (OfflineIMAP would delete them on the server), with the flags they had.
    pub deleted_locally: Vec<(u32, String)>,
    /// Files with a `,U=` and this folder's `,FMD5=` that the status does not know: OfflineIMAP
    /// takes them for that server message if the server has it, and only records them.
    pub unrecorded: Vec<(u32, String)>,
    /// Every other file: new local messages to OfflineIMAP (it would upload them).
    pub new_locally: Vec<String>,
}

/// Where a folder's state lies and how OfflineIMAP names it.
#[derive(Clone, Copy, Debug)]
pub struct FolderPlace<'a> {
    /// The account (`[Account <name>]`).
    pub account: &'a str,
    /// The folder's local name as OfflineIMAP spells it: the directory under the local root
    /// (`Archive.2024` with `sep = .`, `Archive/2024` with `sep = /`; modified UTF-7 unless
    /// `decode_foldernames` was set), which its `FMD5` hashes.
    pub local_name: &'a str,
    /// The local repository's `sep` (`.` unless configured).
    pub sep: char,
    /// The folder's Maildir directory (holding `cur/` and `new/`).
    pub dir: &'a Path,
}

impl FolderPlace<'_> {
    /// The name of the folder's status and FolderValidity files: the local name with the
    /// separator made `.` (without a `nametrans`, the remote visible name is the local one).
    pub fn status_name(&self) -> String {
        self.local_name.replace(self.sep, ".")
    }
}

/// Reads one local folder's files and its status and pairs them as OfflineIMAP would; `None`
/// when OfflineIMAP has no status for the folder (it never synced it).
pub fn read_folder(
    metadata: &Metadata,
    place: &FolderPlace<'_>,
) -> Result<Option<FolderState>, Error> {
    let status_name = place.status_name();
    let Some(mut status) = metadata.status(place.account, &status_name)? else {
        return Ok(None);
    };
    let md5 = folder_md5(place.local_name);
    let mut state = FolderState {
        uid_validity: metadata.server_validity(&status_name)?,
        ..FolderState::default()
    };
    for name in message_names(place.dir)? {
        let message = MessageName::parse(&name);
        match message.uid_in(&md5) {
            Some(uid) => match status.remove(&uid) {
                Some(entry) => state.paired.push(Paired {
                    uid,
                    unique: message.unique.to_owned(),
                    synced_flags: entry.flags,
                }),
                None => state.unrecorded.push((uid, message.unique.to_owned())),
            },
            None => state.new_locally.push(message.unique.to_owned()),
        }
    }
    state.deleted_locally = status
        .into_iter()
        .map(|(uid, entry)| (uid, entry.flags))
        .collect();
    state.paired.sort_by_key(|paired| paired.uid);
    state.unrecorded.sort();
    state.new_locally.sort();
    Ok(Some(state))
}

/// Replaces every row of the status database at `path` with `rows` (UID, flags as Maildir
/// letters), as OfflineIMAP's next run should find them; a missing database is created with
/// OfflineIMAP's schema (version 2). One transaction: OfflineIMAP sees the old rows or the new
/// ones. Used to hand a tree back to OfflineIMAP after pimlink synced it.
pub fn write_status_sqlite(path: &Path, rows: &[(u32, String)]) -> Result<(), Error> {
    let sqlite = |source| Error::Sqlite {
        path: path.to_owned(),
        source,
    };
    let mut db = rusqlite::Connection::open(path).map_err(sqlite)?;
    let tx = db.transaction().map_err(sqlite)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS metadata (key VARCHAR(50) PRIMARY KEY, value VARCHAR(128));
         INSERT OR IGNORE INTO metadata VALUES ('db_version', '2');
         CREATE TABLE IF NOT EXISTS status (id INTEGER PRIMARY KEY, flags VARCHAR(50),
                                            mtime INTEGER, labels VARCHAR(256));
         DELETE FROM status;",
    )
    .map_err(sqlite)?;
    let version: String = tx
        .query_row(
            "SELECT value FROM metadata WHERE key = 'db_version'",
            [],
            |row| row.get(0),
        )
        .map_err(sqlite)?;
    // A version 1 database (kept by an older OfflineIMAP) has no mtime and labels columns.
    let statement = match version.as_str() {
        "1" => "INSERT INTO status (id, flags) VALUES (?1, ?2)",
        _ => "INSERT INTO status (id, flags, mtime, labels) VALUES (?1, ?2, 0, '')",
    };
    {
        let mut insert = tx.prepare(statement).map_err(sqlite)?;
        for (uid, flags) in rows {
            insert
                .execute(rusqlite::params![i64::from(*uid), sorted_flags(flags)])
                .map_err(sqlite)?;
        }
    }
    tx.commit().map_err(sqlite)
}

/// The message file names in `dir`'s `new/` and `cur/` (dot-files skipped, as both OfflineIMAP
/// and pimlink skip them).
fn message_names(dir: &Path) -> Result<Vec<String>, Error> {
    let mut names = Vec::new();
    for sub in ["new", "cur"] {
        let path = dir.join(sub);
        let entries = match fs::read_dir(&path) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_error(&path)(e)),
        };
        for entry in entries {
            let entry = entry.map_err(io_error(&path))?;
            if let Some(name) = entry.file_name().to_str()
                && !name.starts_with('.')
            {
                names.push(name.to_owned());
            }
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests;
