//! Adopting another tool's state for a mail pair (issue 16): finding it beside the pair's
//! Maildir side, translating it into core's neutral [`Adoption`] (one module per tool), and
//! writing it into the pair's status, automatically on a pair's first sync (`adopt = "auto"`)
//! or when `pimlink adopt` asks.
//!
//! Not here: reading the tools' files (`pimlink_foreign::state`), the status rows
//! (`pimlink_core::mail::adopt`).

mod hand_back;
mod mbsync;
mod mbsync_place;
mod offlineimap;

use std::path::Path;

use anyhow::Result;
use pimlink_core::mail::adopt::{AdoptSummary, Adoption};
use pimlink_core::runner::PairRun;
use pimlink_core::{CollectionInfo, Flag, Flags, MailStore, Side};
use pimlink_imap::ImapSpelling;
use pimlink_maildir::Maildir;

pub use hand_back::after_sync as hand_back_after_sync;

use crate::config::{Config, MaildirConfig, MaildirLayout, PairConfig, StorageKind};
use crate::output::Output;

/// Another tool's state found for a pair, ready to adopt.
pub struct Found {
    /// What the tool knew.
    pub adoption: Adoption,
    /// The side of the pair that holds the server's folders.
    pub server: Side,
    /// Folders whose state was left out, and why (each is then matched by content).
    pub left_out: Vec<String>,
}

/// The tools whose mail state pimlink can adopt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tool {
    /// mbsync (isync).
    Mbsync,
    /// OfflineIMAP (offlineimap3).
    Offlineimap,
}

/// A mail pair's server side (IMAP) and local side (Maildir), or `None` for any other pair.
pub fn sides<'c>(config: &'c Config, pair: &PairConfig) -> Option<(Side, &'c MaildirConfig)> {
    let kind = |name: &str| config.storages.get(name).map(|storage| &storage.kind);
    match (kind(&pair.a)?, kind(&pair.b)?) {
        (StorageKind::Imap(_), StorageKind::Maildir(maildir)) => Some((Side::A, maildir)),
        (StorageKind::Maildir(maildir), StorageKind::Imap(_)) => Some((Side::B, maildir)),
        _ => None,
    }
}

/// `tool`'s state for `pair`, from `path` (mbsync: a `SyncState` directory) or from where the
/// tool keeps it by default beside the local folders; `None` if the pair is no IMAP/Maildir
/// pair or no folder has such state.
pub fn find(
    config: &Config,
    pair: &PairConfig,
    tool: Tool,
    path: Option<&Path>,
) -> Result<Option<Found>> {
    let Some((server, maildir)) = sides(config, pair) else {
        return Ok(None);
    };
    if !maildir.path.is_dir() {
        return Ok(None);
    }
    let found = match tool {
        Tool::Mbsync => mbsync::find(pair, server, maildir, path)?,
        Tool::Offlineimap => offlineimap::find(pair, server, maildir, path)?,
    };
    Ok(found.filter(|found| !found.adoption.folders.is_empty()))
}

/// Writes `found` into the status `run` holds.
pub fn write(run: &mut PairRun, found: &Found, replace: bool) -> Result<AdoptSummary> {
    Ok(run.adopt_mail(&found.adoption, found.server, &ImapSpelling, replace)?)
}

/// The first sync of a pair without state: adopts mbsync's (else OfflineIMAP's) state if the pair allows it and
/// the pair's Maildir has some, saying so in one line. A state that cannot be used is reported
/// and left alone: the sync then matches messages by content, as without it.
pub fn on_first_sync(config: &Config, pair: &PairConfig, run: &mut PairRun, output: &Output) {
    if pair.adopt == crate::config::AdoptMode::Never || run.without_state().is_none() {
        return;
    }
    // mbsync's state lies in the tree itself; OfflineIMAP's in its metadata directory
    // (~/.offlineimap), which names the tree's files by their `,U=` and `,FMD5=`.
    for (tool, name) in [(Tool::Mbsync, "mbsync"), (Tool::Offlineimap, "OfflineIMAP")] {
        let result = find(config, pair, tool, None).and_then(|found| match found {
            Some(found) => Ok(Some((write(run, &found, false)?, found))),
            None => Ok(None),
        });
        match result {
            Ok(Some((summary, found))) => {
                tell(output, &pair.name, &found, summary);
                return;
            }
            Ok(None) => {}
            Err(error) => {
                eprintln!(
                    "pimlink: {}: warning: {name}'s state is not taken over ({error:#}); \
                     messages are matched by content instead",
                    pair.name
                );
                return;
            }
        }
    }
}

/// A dry run of a first sync: says what a real run would adopt (it adopts nothing, and the
/// dry run matches messages by content).
pub fn on_first_dry_run(config: &Config, pair: &PairConfig, run: &PairRun, output: &Output) {
    if pair.adopt == crate::config::AdoptMode::Never || run.without_state().is_none() {
        return;
    }
    if let Ok(Some(found)) = find(config, pair, Tool::Mbsync, None) {
        let items: usize = found.adoption.folders.iter().map(|f| f.items.len()).sum();
        output.info(format!(
            "{}: a real run adopts {}'s state first ({} folders, {items} messages); this dry \
             run matches messages by content instead",
            pair.name,
            found.adoption.tool,
            found.adoption.folders.len()
        ));
    }
}

/// The one line that says what was adopted, and a warning per folder left out.
pub fn tell(output: &Output, pair: &str, found: &Found, summary: AdoptSummary) {
    for why in &found.left_out {
        eprintln!("pimlink: {pair}: warning: {why}");
    }
    output.info(format!(
        "{pair}: adopted {}'s state: {} folder{}, {} message{} paired (nothing is downloaded \
         again; changes since its last run are synced)",
        found.adoption.tool,
        summary.folders,
        if summary.folders == 1 { "" } else { "s" },
        summary.items,
        if summary.items == 1 { "" } else { "s" },
    ));
}

/// The pair's Maildir tree opened as configured, with its folders. Reads only the disk.
fn open_tree(maildir: &MaildirConfig) -> Result<(Maildir, Vec<CollectionInfo>)> {
    let layout = match maildir.layout {
        MaildirLayout::Verbatim => pimlink_maildir::Layout::Verbatim,
        MaildirLayout::MaildirPlusPlus => pimlink_maildir::Layout::MaildirPlusPlus,
    };
    let mut store = Maildir::open_with(&maildir.path, layout, maildir.tree.clone())?;
    let folders = crate::commands::runtime()?.block_on(store.list_collections())?;
    Ok((store, folders))
}

/// Flags from Maildir letters as the tools record them; keywords (`a`-`z`, whose meaning only
/// a folder's `dovecot-keywords` knows) are left to the next sync's listing.
fn flags(letters: &str) -> Flags {
    letters
        .chars()
        .filter_map(Flag::from_maildir_letter)
        .fold(Flags::new(), Flags::with)
}
