//! An IMAP storage's keys for the daemon's watcher: `notify`, `idle_folders`, `keepalive`
//! (its `poll_interval` is every storage's, in `daemon.rs`).

use std::time::Duration;

use super::duration::duration;
use super::error::ConfigError;
use super::raw::Fields;

/// How the daemon watches an IMAP storage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImapWatchConfig {
    /// `notify` (default true): use IMAP NOTIFY when the server offers it.
    pub notify: bool,
    /// `idle_folders` (default `["INBOX"]`): folders watched with IDLE when NOTIFY is not used,
    /// as the server names them (the rest are polled every `poll_interval`).
    pub idle_folders: Vec<String>,
    /// `keepalive` (default 5 min): silence on a watching connection after which it is checked
    /// (a NOOP, or IDLE's DONE), so that a connection that died silently is found.
    pub keepalive: Duration,
}

impl Default for ImapWatchConfig {
    fn default() -> Self {
        Self {
            notify: true,
            idle_folders: vec!["INBOX".to_owned()],
            keepalive: Duration::from_secs(300),
        }
    }
}

/// Reads the watcher's keys of an IMAP storage.
pub(crate) fn build(fields: &Fields<'_, '_>) -> Result<ImapWatchConfig, ConfigError> {
    let default = ImapWatchConfig::default();
    let idle_folders = match fields.strings("idle_folders")? {
        None => default.idle_folders,
        Some(list) => {
            let mut folders = Vec::new();
            for name in list.value {
                if name.value.is_empty() {
                    return Err(fields.error(name.at, "a folder in \"idle_folders\" is empty"));
                }
                folders.push(name.value);
            }
            folders
        }
    };
    Ok(ImapWatchConfig {
        notify: fields
            .boolean("notify")?
            .map_or(default.notify, |b| b.value),
        idle_folders,
        keepalive: duration(fields, "keepalive")?.map_or(default.keepalive, |d| d.value),
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::config::{StorageKind, parse};

    fn watch_of(keys: &str) -> Result<super::ImapWatchConfig, String> {
        let text = format!(
            "[storage.mail]\ntype = \"imap\"\nhost = \"h\"\nuser = \"u\"\npassword = \"p\"\n{keys}\n"
        );
        let config = parse(&text, "c.toml".as_ref()).map_err(|e| e.to_string())?;
        match &config.storages["mail"].kind {
            StorageKind::Imap(imap) => Ok(imap.watch.clone()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_watcher_keys_default_and_parse() {
        let d = watch_of("").unwrap();
        assert!(d.notify);
        assert_eq!(d.idle_folders, ["INBOX"]);
        assert_eq!(d.keepalive, Duration::from_secs(300));

        let w = watch_of(
            "notify = false\nidle_folders = [\"INBOX\", \"Lists/rust\"]\nkeepalive = \"90s\"",
        )
        .unwrap();
        assert!(!w.notify);
        assert_eq!(w.idle_folders, ["INBOX", "Lists/rust"]);
        assert_eq!(w.keepalive, Duration::from_secs(90));
        assert_eq!(
            watch_of("idle_folders = []").unwrap().idle_folders,
            Vec::<String>::new()
        );
    }

    #[test]
    fn bad_watcher_keys_name_the_key() {
        for (keys, words) in [
            ("keepalive = \"5\"", "keepalive"),
            ("keepalive = 5", "keepalive"),
            ("notify = \"yes\"", "notify"),
            ("idle_folders = \"INBOX\"", "idle_folders"),
            ("idle_folders = [\"\"]", "idle_folders"),
        ] {
            let err = watch_of(keys).unwrap_err();
            assert!(err.contains(words), "{keys}: {err}");
        }
    }

    #[test]
    fn the_watcher_keys_are_imap_only() {
        let text = "[storage.m]\ntype = \"maildir\"\npath = \"/tmp/m\"\nkeepalive = \"5m\"\n";
        let err = parse(text, "c.toml".as_ref()).unwrap_err().to_string();
        assert!(err.contains("keepalive"), "{err}");
    }
}
