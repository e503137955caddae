//! `pimlink adopt PAIR --from TOOL [PATH] [--force]` (issue 16): takes over what another tool
//! knew about a mail pair's Maildir tree (`adopt_mail`), writing it into the pair's status,
//! so that the next sync downloads no message again and renames no file. Only the Maildir side
//! is read (no connection is made): the server's UIDVALIDITY is checked by the next sync.

use anyhow::{Context, Result, bail};
use pimlink_core::runner::PairRun;

use crate::adopt_mail::{self, Tool};
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
    let (tool, name) = match args.from {
        AdoptFrom::Mbsync => (Tool::Mbsync, "mbsync"),
        AdoptFrom::Offlineimap => (Tool::Offlineimap, "OfflineIMAP"),
    };
    let pair = config
        .pairs
        .get(&args.pair)
        .ok_or_else(|| UsageError(format!("no pair {} is configured", args.pair)))?;
    if adopt_mail::sides(config, pair).is_none() {
        bail!(UsageError(format!(
            "adopting {name}'s state needs a pair of an imap and a maildir storage"
        )));
    }
    let mut run = PairRun::lock(&config.state_dir, &pair.name)
        .with_context(|| format!("opening the status of pair {}", pair.name))?;
    if run.without_state().is_none() && !args.force {
        bail!(UsageError(format!(
            "the pair already has pimlink state; `pimlink adopt --force` replaces it with \
             {name}'s"
        )));
    }
    let Some(found) = adopt_mail::find(config, pair, tool, args.path.as_deref())? else {
        bail!(
            "no {name} state found for the folders of pair {}{}",
            pair.name,
            match (&args.path, tool) {
                (Some(path), _) => format!(" in {}", path.display()),
                (None, Tool::Mbsync) =>
                    " (no folder has a .mbsyncstate; name mbsync's SyncState directory)".to_owned(),
                (None, Tool::Offlineimap) =>
                    " in ~/.offlineimap (name OfflineIMAP's metadata directory)".to_owned(),
            }
        );
    };
    let summary = adopt_mail::write(&mut run, &found, args.force)?;
    adopt_mail::tell(output, &pair.name, &found, summary);
    Ok(())
}
