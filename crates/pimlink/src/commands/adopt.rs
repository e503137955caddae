//! `pimlink adopt PAIR --from offlineimap [PATH]` (issue 16): takes over what OfflineIMAP knew
//! about a mail pair's Maildir tree (`adopt_offlineimap`), writing it into the pair's empty
//! status, so that the next sync downloads no message again and renames no file.
//!
//! Only the Maildir side is read (no connection is made); the server side's UIDs and
//! UIDVALIDITY come from OfflineIMAP's state and are checked by the next sync.

use anyhow::{Result, bail};
use pimlink_core::mail::adopt::ServerSpelling;
use pimlink_core::status::StatusStore;
use pimlink_imap::ImapSpelling;

use crate::adopt_offlineimap::{self, PairAdoption};
use crate::cli::{AdoptArgs, AdoptFrom, exit};
use crate::config::Config;
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
    let metadata = match &args.path {
        Some(path) => path.clone(),
        None => adopt_offlineimap::default_metadata()?,
    };
    let PairAdoption {
        adoption,
        found,
        server,
        tree,
    } = super::runtime()?.block_on(adopt_offlineimap::read_pair(config, pair, &metadata))?;
    let Some(account) = found.account else {
        bail!(
            "{} holds no OfflineIMAP state for the folders of {} (or several accounts' state \
             fits them equally)",
            metadata.display(),
            tree.display()
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
