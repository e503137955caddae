//! Where mbsync keeps the state of a Maildir tree's folders: in each folder (`SyncState *`),
//! or in a directory, under a name that says which channel's boxes a file is for. mbsync names
//! a file in a channel's own `SyncState DIR/` after the near box, and in the global one (by
//! default `~/.mbsync/`) `:FAR_STORE:FAR_BOX_:NEAR_STORE:NEAR_BOX`, `/` in box names written
//! as `!`. For a directory, mbsync's configuration (`~/.mbsyncrc`) says which channel syncs the
//! tree: the one whose near store's `Path` is the tree's root. Without a single such channel
//! (none, several, or one with a mailbox prefix) the place is unknown and nothing is read or
//! written there.

use std::path::{Path, PathBuf};

use pimlink_core::CollectionName;
use pimlink_foreign::config::mbsync::{Channel, MbsyncConfig};
use pimlink_foreign::state::mbsync::{self as state, ChannelStateFile};
use pimlink_maildir::Names;

/// mbsync's global `SyncState` when its configuration names none.
const DEFAULT_SYNC_STATE: &str = "~/.mbsync/";

/// Where a tree's state lives.
#[derive(Debug)]
pub(super) enum Place {
    /// `.mbsyncstate` in each folder.
    InTree,
    /// Files in a directory.
    Dir(StateDir),
}

/// A `SyncState` directory, narrowed to one channel's files.
#[derive(Debug)]
pub(super) struct StateDir {
    /// The directory.
    pub dir: PathBuf,
    /// The far and near store names, for the global naming; `None` for a channel's own
    /// directory (files named after the near box alone).
    stores: Option<(String, String)>,
    /// The channel's state files in it.
    pub files: Vec<ChannelStateFile>,
}

impl StateDir {
    /// The state file of the near box `near_box` (mbsync's spelling, `/` between levels):
    /// the existing one, or the name mbsync gives a new one, with far box `far_box`.
    pub fn file_for(&self, near_box: &str, far_box: &str) -> PathBuf {
        if let Some(file) = self.files.iter().find(|file| file.near_box == near_box) {
            return file.path.clone();
        }
        let bang = |name: &str| name.replace('/', "!");
        let name = match &self.stores {
            Some((far, near)) => format!(":{far}:{}_:{near}:{}", bang(far_box), bang(near_box)),
            None => bang(near_box),
        };
        self.dir.join(name)
    }
}

/// Where mbsync keeps the state of the tree at `root` whose folders are in `dirs`; `None` if
/// mbsync keeps none that can be told.
pub(super) fn locate(root: &Path, dirs: &[PathBuf]) -> Option<Place> {
    if dirs.iter().any(|dir| dir.join(state::STATE_FILE).is_file()) {
        return Some(Place::InTree);
    }
    let home = PathBuf::from(std::env::var_os("HOME")?);
    let config_home = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| home.join(".config"));
    let path = crate::import::Tool::Mbsync
        .default_paths(&home, &config_home)
        .into_iter()
        .find(|path| path.is_file())?;
    let text = std::fs::read_to_string(&path).ok()?;
    let config = pimlink_foreign::config::mbsync::parse(&path, &text).ok()?;
    from_config(&config, root, &home)
}

/// The place `config` gives the tree at `root`.
fn from_config(config: &MbsyncConfig, root: &Path, home: &Path) -> Option<Place> {
    let same = |written: &str| same_dir(&expand(written, home), root);
    let stores: Vec<&str> = config
        .maildir_stores
        .iter()
        .filter(|store| store.store.path.as_deref().is_some_and(same))
        .map(|store| store.name.as_str())
        .collect();
    let channels: Vec<&Channel> = config
        .channels
        .iter()
        .filter(|channel| stores.contains(&channel.near.store.as_str()))
        .collect();
    let [channel] = channels.as_slice() else {
        return None;
    };
    // A mailbox prefix changes the box names in the files; not worth guessing.
    if !channel.near.mailbox.is_empty() || !channel.far.mailbox.is_empty() {
        return None;
    }
    let (written, stores) = match &channel.options.sync_state {
        Some(own) => (own.as_str(), None),
        None => (
            config
                .defaults
                .sync_state
                .as_deref()
                .unwrap_or(DEFAULT_SYNC_STATE),
            Some((channel.far.store.clone(), channel.near.store.clone())),
        ),
    };
    if written == "*" {
        return Some(Place::InTree);
    }
    let dir = expand(written, home);
    let files = match state::channel_state_files(&dir) {
        Ok(files) => files,
        Err(_) if !dir.exists() => Vec::new(),
        Err(_) => return None,
    };
    let files = files
        .into_iter()
        .filter(|file| match &stores {
            Some((far, near)) => &file.far_store == far && &file.near_store == near,
            None => true,
        })
        .collect();
    Some(Place::Dir(StateDir { dir, stores, files }))
}

/// A folder's name as mbsync spells a box: its levels joined by `/`, each in modified UTF-7
/// where the store names folders so (mbsync 1.4 passes the server's names through undecoded).
pub(super) fn box_name(name: &CollectionName, names: Names) -> String {
    let levels: Vec<String> = name
        .levels()
        .map(|level| match names {
            Names::Utf8 => level.to_owned(),
            Names::ImapUtf7 => pimlink_core::utf7::encode(level),
        })
        .collect();
    levels.join("/")
}

/// `~/` expanded against `home`.
fn expand(written: &str, home: &Path) -> PathBuf {
    match written.strip_prefix("~/") {
        Some(rest) => home.join(rest),
        None => PathBuf::from(written),
    }
}

/// True if two paths name the same directory (a trailing `/` or a symbolic link aside).
fn same_dir(a: &Path, b: &Path) -> bool {
    let canonical = |path: &Path| std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
    canonical(a) == canonical(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> MbsyncConfig {
        pimlink_foreign::config::mbsync::parse(Path::new("rc"), text).unwrap()
    }

    const RC: &str = "IMAPAccount a\nHost h\nUser u\n\nIMAPStore remote\nAccount a\n\n\
                      MaildirStore local\nPath ~/Mail/\nInbox ~/Mail/INBOX\n\n\
                      MaildirStore other\nPath ~/Other/\n\n\
                      Channel c\nFar :remote:\nNear :local:\nPatterns *\n";

    #[test]
    fn the_global_sync_state_by_default() {
        let home = tempfile::tempdir().unwrap();
        let root = home.path().join("Mail");
        std::fs::create_dir_all(home.path().join(".mbsync")).unwrap();
        std::fs::write(home.path().join(".mbsync/:remote:INBOX_:local:INBOX"), "x").unwrap();
        std::fs::write(home.path().join(".mbsync/:remote2:INBOX_:other:INBOX"), "x").unwrap();
        let Some(Place::Dir(dir)) = from_config(&config(RC), &root, home.path()) else {
            panic!("no directory");
        };
        assert_eq!(dir.files.len(), 1, "only this channel's files: {dir:?}");
        assert_eq!(
            dir.file_for("INBOX", "INBOX"),
            home.path().join(".mbsync/:remote:INBOX_:local:INBOX")
        );
        assert_eq!(
            dir.file_for("Archive/2024", "Archive/2024"),
            home.path()
                .join(".mbsync/:remote:Archive!2024_:local:Archive!2024")
        );
    }

    #[test]
    fn a_channels_own_directory_and_the_in_tree_state() {
        let home = tempfile::tempdir().unwrap();
        let root = home.path().join("Mail");
        let own = format!("{RC}SyncState ~/state/\n");
        let Some(Place::Dir(dir)) = from_config(&config(&own), &root, home.path()) else {
            panic!("no directory");
        };
        assert_eq!(dir.file_for("a/b", "a/b"), home.path().join("state/a!b"));
        let star = format!("{RC}SyncState *\n");
        assert!(matches!(
            from_config(&config(&star), &root, home.path()),
            Some(Place::InTree)
        ));
    }

    #[test]
    fn another_tree_or_a_prefixed_channel_is_no_place() {
        let home = tempfile::tempdir().unwrap();
        assert!(from_config(&config(RC), &home.path().join("Elsewhere"), home.path()).is_none());
        let prefixed = RC.replace("Near :local:", "Near :local:Sub/");
        assert!(from_config(&config(&prefixed), &home.path().join("Mail"), home.path()).is_none());
    }
}
