//! mbsync's (isync 1.x) sync state: one state file per channel and folder pair, and the
//! `.uidvalidity` and `,U=` file names of its Maildir store.
//!
//! - The state file is `.mbsyncstate` in the near folder (`SyncState *`); `<dir>/<near box>`
//!   for a channel's own `SyncState <dir>/`; or `<dir>/:<far store>:<far box>_:<near
//!   store>:<near box>` for the global `SyncState` (default `~/.mbsync/`) — `/` in box names
//!   written as `!` (seen with isync 1.4.4). Header lines `FarUidValidity N`, `NearUidValidity N`,
//!   `MaxPulledUid N`, `MaxPushedUid N` (isync 1.4; 1.3 and older wrote `MasterUidValidity`,
//!   `SlaveUidValidity` and the same Max lines; other headers such as `MaxExpiredFarUid` are
//!   read and ignored), a blank line, then one line per message pair: `far near [<>^~]FLAGS`,
//!   where 0 is "no such message on that side", `<`/`>` mark a placeholder (a message not
//!   fully copied, `MaxSize`), `^` one skipped and `~` one expired (`MaxMessages`).
//! - A journal (`<state>.journal`) beside the state file means mbsync was interrupted and has
//!   not yet replayed it; the state file alone is then out of date, and [`read_state`] refuses.
//! - `near` UIDs are the Maildir store's own, not the server's: `.uidvalidity` in the folder
//!   holds that store's UIDVALIDITY and next UID, and each file name carries its UID as
//!   `,U=<n>` in the unique part. A state whose `NearUidValidity` differs from `.uidvalidity`
//!   describes files that were renumbered since, and its near UIDs mean nothing.

use std::fmt;
use std::path::{Path, PathBuf};

/// The name of the state file in a folder (`SyncState *`).
pub const STATE_FILE: &str = ".mbsyncstate";
/// The Maildir store's UID file in each folder.
pub const UIDVALIDITY_FILE: &str = ".uidvalidity";

/// What is wrong with one of mbsync's files, naming the file and the line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateError {
    /// The file.
    pub path: PathBuf,
    /// The line (1-based), if one line is at fault.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.path.display(), self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

impl std::error::Error for StateError {}

/// One folder pair's state file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FolderState {
    /// The far (server) folder's UIDVALIDITY.
    pub far_uid_validity: u32,
    /// The near (Maildir) folder's UIDVALIDITY, as `.uidvalidity` had it.
    pub near_uid_validity: u32,
    /// The highest far UID mbsync pulled.
    pub max_pulled: u32,
    /// The highest near UID mbsync pushed.
    pub max_pushed: u32,
    /// The message pairs, in file order.
    pub records: Vec<Record>,
}

/// One message line of a state file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Record {
    /// The far (server) UID; 0 if the message is not (yet) there.
    pub far: u32,
    /// The near (Maildir store) UID; 0 if the message is not (yet) there.
    pub near: u32,
    /// The flags both sides had at mbsync's last run: letters of `D F P R S T`.
    pub flags: String,
    /// `<` or `>`: one side holds only a placeholder (`MaxSize`).
    pub placeholder: bool,
    /// `^`: the message was skipped (too big).
    pub skipped: bool,
    /// `~`: the message was expired from the near side (`MaxMessages`).
    pub expired: bool,
}

impl Record {
    /// True if mbsync had the whole message on both sides: the only records that pair a
    /// server message with a local file.
    pub fn is_paired(&self) -> bool {
        self.far != 0 && self.near != 0 && !self.placeholder && !self.skipped && !self.expired
    }
}

/// Reads the state file at `path`, refusing one with a journal beside it (an interrupted
/// run that mbsync has not finished).
pub fn read_state(path: &Path) -> Result<FolderState, StateError> {
    let mut journal = path.as_os_str().to_owned();
    journal.push(".journal");
    if Path::new(&journal).exists() {
        return Err(StateError {
            path: PathBuf::from(journal),
            line: None,
            message: "mbsync was interrupted and has not replayed its journal yet, so its state \
                      is out of date; run mbsync once more (it finishes the run), then adopt"
                .to_owned(),
        });
    }
    let text = std::fs::read_to_string(path).map_err(|err| StateError {
        path: path.to_path_buf(),
        line: None,
        message: format!("cannot read it: {err}"),
    })?;
    parse_state(path, &text)
}

/// Parses the text of a state file (`path` only names it in errors).
pub fn parse_state(path: &Path, text: &str) -> Result<FolderState, StateError> {
    let error = |line: usize, message: String| StateError {
        path: path.to_path_buf(),
        line: Some(line),
        message,
    };
    let mut state = FolderState::default();
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(index, line)| (index + 1, line));
    let (mut far_seen, mut near_seen) = (false, false);
    for (number, line) in lines.by_ref() {
        if line.is_empty() {
            break;
        }
        let header = line
            .split_once(' ')
            .filter(|(name, _)| name.starts_with(|c: char| c.is_ascii_alphabetic()));
        let Some((name, value)) = header else {
            return Err(error(
                number,
                format!(
                    "expected a header line \"Name value\", found {line:?} (a state file of \
                     isync 1.0, which this reader does not know?)"
                ),
            ));
        };
        let value: u32 = value
            .trim()
            .parse()
            .map_err(|_| error(number, format!("{name}: {value:?} is not a number")))?;
        match name {
            "FarUidValidity" | "MasterUidValidity" => {
                state.far_uid_validity = value;
                far_seen = true;
            }
            "NearUidValidity" | "SlaveUidValidity" => {
                state.near_uid_validity = value;
                near_seen = true;
            }
            "MaxPulledUid" => state.max_pulled = value,
            "MaxPushedUid" => state.max_pushed = value,
            // MaxExpiredFarUid and whatever later versions add: not needed to pair messages.
            _ => {}
        }
    }
    if !far_seen || !near_seen {
        return Err(error(
            1,
            "the header lacks FarUidValidity or NearUidValidity".to_owned(),
        ));
    }
    for (number, line) in lines {
        if line.is_empty() {
            continue;
        }
        let mut fields = line.splitn(3, ' ');
        let (Some(far), Some(near)) = (fields.next(), fields.next()) else {
            return Err(error(
                number,
                format!("expected \"far near flags\", found {line:?}"),
            ));
        };
        let uid = |text: &str| {
            text.parse::<u32>()
                .map_err(|_| error(number, format!("{text:?} is not a UID")))
        };
        let mut record = Record {
            far: uid(far)?,
            near: uid(near)?,
            ..Record::default()
        };
        for c in fields.next().unwrap_or("").trim_end().chars() {
            match c {
                '<' | '>' => record.placeholder = true,
                '^' => record.skipped = true,
                '~' => record.expired = true,
                'D' | 'F' | 'P' | 'R' | 'S' | 'T' => record.flags.push(c),
                other => {
                    return Err(error(number, format!("unknown flag {other:?} in {line:?}")));
                }
            }
        }
        state.records.push(record);
    }
    Ok(state)
}

/// The Maildir store's UIDVALIDITY from the `.uidvalidity` file in folder `dir`.
pub fn read_uidvalidity(dir: &Path) -> Result<u32, StateError> {
    let path = dir.join(UIDVALIDITY_FILE);
    let error = |line, message: String| StateError {
        path: path.clone(),
        line,
        message,
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|err| error(None, format!("cannot read it: {err}")))?;
    let first = text.lines().next().unwrap_or("");
    first
        .trim()
        .parse()
        .map_err(|_| error(Some(1), format!("{first:?} is not a UIDVALIDITY")))
}

/// The Maildir store's UIDVALIDITY and the highest UID it handed out, from `.uidvalidity` in
/// folder `dir` (`None` if the folder has no such file). mbsync writes two lines; a file with
/// only the first (older isync) counts as having handed out nothing.
pub fn read_uid_counter(dir: &Path) -> Result<Option<(u32, u32)>, StateError> {
    let path = dir.join(UIDVALIDITY_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => {
            return Err(StateError {
                path,
                line: None,
                message: format!("cannot read it: {err}"),
            });
        }
    };
    let mut lines = text.lines();
    let number = |line: usize, text: Option<&str>| match text {
        None if line == 2 => Ok(0),
        text => {
            let text = text.unwrap_or("").trim();
            text.parse().map_err(|_| StateError {
                path: path.clone(),
                line: Some(line),
                message: format!("{text:?} is not a number"),
            })
        }
    };
    let validity = number(1, lines.next())?;
    let max_uid = number(2, lines.next())?;
    Ok(Some((validity, max_uid)))
}

/// The text of a `.uidvalidity` file as mbsync writes it.
pub fn render_uid_counter(validity: u32, max_uid: u32) -> String {
    format!("{validity}\n{max_uid}\n")
}

/// The text of a state file as isync 1.4 writes it: the header, a blank line, one line per
/// record (`far near markers+flags`, the flags as their letters in `DFPRST` order).
pub fn render_state(state: &FolderState) -> String {
    let mut text = format!(
        "FarUidValidity {}\nNearUidValidity {}\nMaxPulledUid {}\nMaxPushedUid {}\n\n",
        state.far_uid_validity, state.near_uid_validity, state.max_pulled, state.max_pushed
    );
    for record in &state.records {
        let marker = if record.skipped {
            "^"
        } else if record.expired {
            "~"
        } else if record.placeholder {
            ">"
        } else {
            ""
        };
        let mut flags: Vec<char> = record.flags.chars().collect();
        flags.sort_unstable();
        flags.dedup();
        let flags: String = flags.into_iter().collect();
        text.push_str(&format!("{} {} {marker}{flags}\n", record.far, record.near));
    }
    text
}

/// The Maildir store UID mbsync gave a file (`,U=<n>` in its unique part), from its name.
pub fn near_uid(file_name: &str) -> Option<u32> {
    let unique = file_name.split_once(":2,").map_or(file_name, |(u, _)| u);
    unique
        .split(',')
        .skip(1)
        .find_map(|field| field.strip_prefix("U="))
        .and_then(|digits| digits.parse().ok())
        .filter(|uid| *uid != 0)
}

/// A state file of a `SyncState <dir>/` directory, by what its name says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelStateFile {
    /// The file.
    pub path: PathBuf,
    /// The far store's name.
    pub far_store: String,
    /// The far box (mbsync's canonical name, `/` between levels).
    pub far_box: String,
    /// The near store's name.
    pub near_store: String,
    /// The near box.
    pub near_box: String,
}

/// Reads a state file's name in a `SyncState` directory: `:far:box_:near:box` (the global
/// `SyncState`) or just the near box (a channel's own), boxes with `!` for `/`; the stores and
/// the far box are empty for the latter. `None` for journals, locks, `.new` files and hidden
/// files.
pub fn channel_state_name(file_name: &str) -> Option<(String, String, String, String)> {
    if file_name.ends_with(".journal")
        || file_name.ends_with(".lock")
        || file_name.ends_with(".new")
        || file_name.starts_with('.')
    {
        return None;
    }
    let Some(rest) = file_name.strip_prefix(':') else {
        let near_box = file_name.replace('!', "/");
        return Some((String::new(), String::new(), String::new(), near_box));
    };
    let (far_store, rest) = rest.split_once(':')?;
    // A box name may contain `_:`; store names cannot contain `:`, so the last `_:` that is
    // followed by `store:` splits the two halves.
    let split = rest.rmatch_indices("_:").find(|(index, _)| {
        rest[index + 2..]
            .split_once(':')
            .is_some_and(|(store, _)| !store.is_empty())
    })?;
    let far_box = &rest[..split.0];
    let (near_store, near_box) = rest[split.0 + 2..].split_once(':')?;
    let unbang = |text: &str| text.replace('!', "/");
    Some((
        far_store.to_owned(),
        unbang(far_box),
        near_store.to_owned(),
        unbang(near_box),
    ))
}

/// Every channel state file in a `SyncState` directory, sorted by file name.
pub fn channel_state_files(dir: &Path) -> Result<Vec<ChannelStateFile>, StateError> {
    let error = |err: std::io::Error| StateError {
        path: dir.to_path_buf(),
        line: None,
        message: format!("cannot list it: {err}"),
    };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(error)? {
        let entry = entry.map_err(error)?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if let Some((far_store, far_box, near_store, near_box)) = channel_state_name(&name) {
            out.push(ChannelStateFile {
                path: entry.path(),
                far_store,
                far_box,
                near_store,
                near_box,
            });
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATE: &str = "FarUidValidity 1796667185\nNearUidValidity 1796667190\n\
                         MaxPulledUid 4\nMaxPushedUid 2\n\n1 1 \n2 2 FS\n3 0 \n0 5 \n4 3 >\n\
                         6 7 ~S\n";

    #[test]
    fn reads_what_isync_1_4_writes() {
        let state = parse_state(Path::new("s"), STATE).unwrap();
        assert_eq!(state.far_uid_validity, 1796667185);
        assert_eq!(state.near_uid_validity, 1796667190);
        assert_eq!((state.max_pulled, state.max_pushed), (4, 2));
        let paired: Vec<(u32, u32, &str)> = state
            .records
            .iter()
            .filter(|r| r.is_paired())
            .map(|r| (r.far, r.near, r.flags.as_str()))
            .collect();
        assert_eq!(paired, [(1, 1, ""), (2, 2, "FS")]);
        assert!(state.records[4].placeholder);
        assert!(state.records[5].expired);
        assert_eq!(state.records[5].flags, "S");
    }

    #[test]
    fn reads_the_older_master_slave_header() {
        let text =
            "MasterUidValidity 7\nSlaveUidValidity 8\nMaxPulledUid 1\nMaxPushedUid 0\n\n1 1 S\n";
        let state = parse_state(Path::new("s"), text).unwrap();
        assert_eq!((state.far_uid_validity, state.near_uid_validity), (7, 8));
        assert_eq!(state.records.len(), 1);
    }

    #[test]
    fn malformed_files_name_the_file_and_line() {
        for (text, line, part) in [
            ("1:2 3:4:5\n", 1, "isync 1.0"),
            ("FarUidValidity x\n", 1, "not a number"),
            ("MaxPulledUid 1\n\n", 1, "lacks"),
            (
                "FarUidValidity 1\nNearUidValidity 2\n\n1 1 S\n1 x S\n",
                5,
                "not a UID",
            ),
            (
                "FarUidValidity 1\nNearUidValidity 2\n\n1 1 Sz\n",
                4,
                "unknown flag",
            ),
            (
                "FarUidValidity 1\nNearUidValidity 2\n\n7\n",
                4,
                "far near flags",
            ),
        ] {
            let err = parse_state(Path::new("/m/INBOX/.mbsyncstate"), text).unwrap_err();
            assert_eq!(err.line, Some(line), "{text:?}: {err}");
            let message = err.to_string();
            assert!(
                message.starts_with(&format!("/m/INBOX/.mbsyncstate:{line}: "))
                    && message.contains(part),
                "{message}"
            );
        }
    }

    #[test]
    fn an_interrupted_run_is_refused_clearly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(STATE_FILE);
        std::fs::write(&path, STATE).unwrap();
        assert!(read_state(&path).is_ok());
        std::fs::write(dir.path().join(".mbsyncstate.journal"), "3\n").unwrap();
        let err = read_state(&path).unwrap_err();
        assert!(err.to_string().contains("run mbsync once more"), "{err}");
        assert!(err.path.ends_with(".mbsyncstate.journal"));
    }

    #[test]
    fn near_uids_come_from_u_fields() {
        assert_eq!(near_uid("1796667185.15664_1.vm,U=1:2,"), Some(1));
        assert_eq!(near_uid("1.host,S=300,U=42:2,FS"), Some(42));
        assert_eq!(near_uid("1.host:2,S"), None);
        assert_eq!(near_uid("1.host,U=:2,S"), None);
        assert_eq!(near_uid("1.host,U=0"), None);
    }

    #[test]
    fn uidvalidity_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(UIDVALIDITY_FILE), "1796667185\n2\n").unwrap();
        assert_eq!(read_uidvalidity(dir.path()).unwrap(), 1796667185);
        std::fs::write(dir.path().join(UIDVALIDITY_FILE), "x\n").unwrap();
        assert!(read_uidvalidity(dir.path()).is_err());
    }

    #[test]
    fn a_rendered_state_reads_back_the_same() {
        let state = parse_state(Path::new("s"), STATE).unwrap();
        let again = parse_state(Path::new("s"), &render_state(&state)).unwrap();
        assert_eq!(again, state);
        let fresh = FolderState {
            far_uid_validity: 9,
            near_uid_validity: 10,
            max_pulled: 3,
            max_pushed: 2,
            records: vec![Record {
                far: 3,
                near: 2,
                flags: "SF".to_owned(),
                ..Record::default()
            }],
        };
        assert_eq!(
            render_state(&fresh),
            "FarUidValidity 9\nNearUidValidity 10\nMaxPulledUid 3\nMaxPushedUid 2\n\n3 2 FS\n"
        );
    }

    #[test]
    fn uid_counter_file() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_uid_counter(dir.path()).unwrap(), None);
        std::fs::write(
            dir.path().join(UIDVALIDITY_FILE),
            render_uid_counter(17, 42),
        )
        .unwrap();
        assert_eq!(read_uid_counter(dir.path()).unwrap(), Some((17, 42)));
        std::fs::write(dir.path().join(UIDVALIDITY_FILE), "17\n").unwrap();
        assert_eq!(read_uid_counter(dir.path()).unwrap(), Some((17, 0)));
        std::fs::write(dir.path().join(UIDVALIDITY_FILE), "17\nx\n").unwrap();
        assert_eq!(read_uid_counter(dir.path()).unwrap_err().line, Some(2));
    }

    #[test]
    fn channel_state_names() {
        assert_eq!(
            channel_state_name(":remote:Archive!2024_:local:Archive!2024"),
            Some((
                "remote".to_owned(),
                "Archive/2024".to_owned(),
                "local".to_owned(),
                "Archive/2024".to_owned()
            ))
        );
        assert_eq!(
            channel_state_name(":r:a_:b_:l:a_:b").map(|n| (n.1, n.3)),
            Some(("a_:b".to_owned(), "a_:b".to_owned()))
        );
        assert_eq!(channel_state_name(":r:INBOX_:l:INBOX.journal"), None);
        // A channel's own SyncState directory names files by the near box alone.
        assert_eq!(
            channel_state_name("Lists!rust").map(|n| n.3),
            Some("Lists/rust".to_owned())
        );
        assert_eq!(channel_state_name("INBOX.lock"), None);
    }
}
