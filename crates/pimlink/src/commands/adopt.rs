//! `pimlink adopt PAIR --from offlineimap [PATH]` (issue 16): takes over what OfflineIMAP knew
//! about a mail pair's Maildir tree (`adopt_offlineimap`), writing it into the pair's empty
//! status, so that the next sync downloads no message again and renames no file.
//!
//! Only the Maildir side is read (no connection is made); the server side's UIDs and
//! UIDVALIDITY come from OfflineIMAP's state and are checked by the next sync.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use pimlink_core::mail::adopt::ServerSpelling;
use pimlink_core::status::StatusStore;
use pimlink_core::{MailStore, Side};
use pimlink_imap::ImapSpelling;
use pimlink_maildir::Maildir;

use crate::adopt_offlineimap::{self, Folder};
use crate::cli::{AdoptArgs, AdoptFrom, exit};
use crate::config::{Config, MaildirLayout, StorageKind};
use crate::failure::{UsageError, exit_code};
use crate::output::Output;

/// Runs `adopt` and returns the exit status.
pub fn run(config: &Config, args: &AdoptArgs, output: &Output) -> u8 {
    match adopt(config, args, output) {
        Ok(()) => exit::OK,
        Err(error) => {
            let error = error.context(format!("pair {}", args.pair));
            output.error(&error);
            exit_code(&error)
        }
    }
}

fn adopt(config: &Config, args: &AdoptArgs, output: &Output) -> Result<()> {
    let AdoptFrom::Offlineimap = args.from;
    let pair = config
        .pairs
        .get(&args.pair)
        .ok_or_else(|| UsageError(format!("no pair {} is configured", args.pair)))?;
    let kind = |name: &str| config.storages.get(name).map(|storage| &storage.kind);
    let (server, maildir) = match (kind(&pair.a), kind(&pair.b)) {
        (Some(StorageKind::Imap(_)), Some(StorageKind::Maildir(maildir))) => (Side::A, maildir),
        (Some(StorageKind::Maildir(maildir)), Some(StorageKind::Imap(_))) => (Side::B, maildir),
        _ => bail!(UsageError(
            "adopting OfflineIMAP's state needs a pair of an imap and a maildir storage".into()
        )),
    };
    let local = server.other();
    let metadata = match &args.path {
        Some(path) => path.clone(),
        None => default_metadata()?,
    };
    // OfflineIMAP's `sep` is the one character its folder names on disk separate levels by:
    // `flatten`'s, else `/` (nested directories).
    let sep = maildir.tree.flatten.unwrap_or('/');
    let layout = match maildir.layout {
        MaildirLayout::Verbatim => pimlink_maildir::Layout::Verbatim,
        MaildirLayout::MaildirPlusPlus => pimlink_maildir::Layout::MaildirPlusPlus,
    };
    let mut store = Maildir::open_with(maildir.path.clone(), layout, maildir.tree.clone())?;
    let collections = super::runtime()?.block_on(store.list_collections())?;
    let translation = &pair.names.translation;
    let mut folders = Vec::new();
    for collection in collections.into_iter().filter(|c| c.selectable) {
        let Some(server_name) = translation
            .to_pair(local, &collection.name)
            .and_then(|name| translation.to_side(server, &name))
        else {
            continue;
        };
        folders.push(Folder {
            dir: store.collection_path(&collection.name)?,
            server_name,
            local_name: collection.name,
        });
    }
    let (adoption, found) = adopt_offlineimap::adoption(&metadata, store.root(), sep, &folders)
        .with_context(|| format!("reading OfflineIMAP's state in {}", metadata.display()))?;
    let Some(account) = found.account else {
        bail!(
            "{} holds no OfflineIMAP state for the folders of {} (or several accounts' state \
             fits them equally)",
            metadata.display(),
            maildir.path.display()
        );
    };
    let mut status = StatusStore::open(&config.state_dir, &pair.name)?;
    let spelling: &dyn ServerSpelling = &ImapSpelling;
    let summary = status.adopt(&adoption, server, spelling, args.force)?;
    output.info(format!(
        "{}: adopted OfflineIMAP's state (account {account}): {} folders, {} messages",
        pair.name, summary.folders, summary.items
    ));
    for folder in found.without_validity {
        output.info(format!(
            "{}: {folder}: OfflineIMAP recorded no UIDVALIDITY that can be told apart; its \
             messages are matched by content on the next sync",
            pair.name
        ));
    }
    Ok(())
}

/// `~/.offlineimap`, OfflineIMAP's default `metadata`.
fn default_metadata() -> Result<PathBuf> {
    let home = std::env::var_os("HOME")
        .context("HOME is not set: name OfflineIMAP's metadata directory")?;
    Ok(PathBuf::from(home).join(pimlink_foreign::state::offlineimap::DEFAULT_METADATA))
}
