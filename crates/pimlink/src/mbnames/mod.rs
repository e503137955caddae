//! The mailbox list file for mail readers (OfflineIMAP's mbnames, `[mbnames]`): after every
//! real sync of a mail pair whose local side is a Maildir, the folders that pair now holds
//! there are recorded (`cache`), and the file is rebuilt from the records of every such pair in
//! the configuration: header, one `peritem` per folder (sorted, INBOX first, a line that comes
//! out twice written once), joined by `sep`, footer. It is replaced (`crate::atomic_file`, mode 0600) only
//! when that text differs from what the file holds, so that a reader watching its mtime (or
//! mutt re-reading its muttrc) is not disturbed by syncs that changed no folder.
//!
//! Not here: the keys (`config::MbnamesConfig`), the placeholders (`config::Template`).

mod cache;

use std::path::Path;

use anyhow::{Context, Result};
use pimlink_core::{CollectionName, Side};

use crate::config::{Config, MbnamesConfig, PairConfig, Placeholder, StorageKind};
use crate::storages::mail::{MailSide, maildir};

/// Records the folders a run of `pair` saw on its local side `local` (pair's names, present
/// afterwards), `whole` if the run covered every folder of the pair, and rewrites the mailbox
/// list if it is configured and its text changed. Returns whether the file was written.
pub fn after_run(
    config: &Config,
    pair: &PairConfig,
    local: Side,
    folders: &[(CollectionName, bool)],
    whole: bool,
) -> Result<bool> {
    if local_maildir(config, pair).is_none() {
        return Ok(false);
    }
    let own: Vec<(CollectionName, bool)> = folders
        .iter()
        .map(|(name, present)| (local_name(pair, local, name), *present))
        .collect();
    cache::record(&config.state_dir, &pair.name, &own, whole)
        .with_context(|| format!("recording the folders of pair {}", pair.name))?;
    let Some(mbnames) = &config.mbnames else {
        return Ok(false);
    };
    let text = render(config, mbnames)?;
    let path = &mbnames.filename;
    let current =
        crate::atomic_file::read(path).with_context(|| format!("reading {}", path.display()))?;
    if current.as_deref() == Some(text.as_bytes()) {
        return Ok(false);
    }
    crate::atomic_file::replace(path, text.as_bytes())
        .with_context(|| format!("writing the mailbox list {}", path.display()))?;
    Ok(true)
}

/// The side of a mail pair whose folders are "local": its one Maildir side; side b when both
/// or neither are Maildirs (by convention the near side, as mbsync's `Near`).
pub fn local_side(config: &Config, pair: &PairConfig) -> Side {
    let is_maildir = |name: &str| {
        config
            .storages
            .get(name)
            .is_some_and(|s| matches!(s.kind, StorageKind::Maildir(_)))
    };
    if is_maildir(&pair.a) && !is_maildir(&pair.b) {
        Side::A
    } else {
        Side::B
    }
}

/// The storage's own name of the pair's folder `name` on side `side` (the pair's name when
/// its translation has none).
pub fn local_name(pair: &PairConfig, side: Side, name: &CollectionName) -> CollectionName {
    pair.names
        .translation
        .to_side(side, name)
        .unwrap_or_else(|| name.clone())
}

/// The Maildir settings and storage name of `pair`'s local side, if it is a Maildir.
fn local_maildir<'c>(
    config: &'c Config,
    pair: &'c PairConfig,
) -> Option<(&'c str, &'c crate::config::MaildirConfig)> {
    let name = match local_side(config, pair) {
        Side::A => &pair.a,
        Side::B => &pair.b,
    };
    match &config.storages.get(name)?.kind {
        StorageKind::Maildir(m) if pair.dav.is_none() => Some((name, m)),
        _ => None,
    }
}

/// One folder of the list.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    /// INBOX sorts first.
    not_inbox: bool,
    folder: CollectionName,
    pair: String,
    storage: String,
    dir: String,
    path: String,
}

/// The whole file, from the records of every mail pair with a local Maildir.
fn render(config: &Config, mbnames: &MbnamesConfig) -> Result<String> {
    let mut entries = Vec::new();
    for pair in config.pairs.values() {
        let Some((storage, settings)) = local_maildir(config, pair) else {
            continue;
        };
        let folders = cache::read(&config.state_dir, &pair.name)
            .with_context(|| format!("reading the folders of pair {}", pair.name))?;
        let folders: Vec<_> = folders
            .into_iter()
            .filter(|f| mbnames.collections.matches(f.as_str()))
            .collect();
        if folders.is_empty() {
            continue;
        }
        let MailSide::Maildir(tree) = maildir(settings)? else {
            continue;
        };
        for folder in folders {
            // A name this layout cannot hold was never synced there; leave it out.
            let Ok(path) = tree.collection_path(&folder) else {
                continue;
            };
            let dir = path.strip_prefix(tree.root()).unwrap_or(&path);
            entries.push(Entry {
                not_inbox: !folder.is_inbox(),
                dir: text(dir),
                path: text(&path),
                folder,
                pair: pair.name.clone(),
                storage: storage.to_owned(),
            });
        }
    }
    entries.sort();
    let mut items: Vec<String> = Vec::new();
    for entry in &entries {
        let item = mbnames.peritem.render(|of| match of {
            Placeholder::Folder => entry.folder.as_str(),
            Placeholder::Dir => &entry.dir,
            Placeholder::Path => &entry.path,
            Placeholder::Pair => &entry.pair,
            Placeholder::Storage => &entry.storage,
        });
        if !items.contains(&item) {
            items.push(item);
        }
    }
    Ok(format!(
        "{}{}{}",
        mbnames.header,
        items.join(&mbnames.sep),
        mbnames.footer
    ))
}

fn text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}
