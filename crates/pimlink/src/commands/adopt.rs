//! `pimlink adopt PAIR --from TOOL [PATH]` (issue 16): takes over what another tool knew about a
//! pair's local copy. For a mail pair (mbsync, OfflineIMAP; `adopt_mail`) that knowledge is
//! written into the pair's status, reading only the Maildir side (the server's UIDVALIDITY is
//! checked by the next sync), so that the next sync downloads no message again and renames no
//! file; `--force` replaces state the pair has. For a calendar/contact pair (vdirsyncer,
//! pimsync; `adopt_dav`) the pair's first sync is run, taking over the tool's state from where
//! the user says it is (`pimlink sync` looks only in the tools' default places); a pair that
//! already has state is refused, its own knowledge being newer than any other tool's.

use anyhow::{Context, Result, bail};
use pimlink_core::runner::{PairRun, Request};
use pimlink_foreign::state::dav::Tool as DavTool;

use crate::adopt_dav::Source;
use crate::adopt_mail::{self, Tool};
use crate::cli::{AdoptArgs, AdoptFrom, exit};
use crate::config::{Config, PairConfig};
use crate::failure::{UsageError, exit_code};
use crate::output::Output;

/// Runs `adopt` and returns the exit status.
pub fn run(config: &Config, args: &AdoptArgs, output: &Output) -> u8 {
    let result = super::select_pairs(config, std::slice::from_ref(&args.pair)).and_then(|pairs| {
        let pair = pairs[0];
        match args.from {
            AdoptFrom::Mbsync => adopt_mail(config, pair, args, Tool::Mbsync, "mbsync", output),
            AdoptFrom::Offlineimap => {
                adopt_mail(config, pair, args, Tool::Offlineimap, "OfflineIMAP", output)
            }
            AdoptFrom::Vdirsyncer => adopt_dav(config, pair, args, DavTool::Vdirsyncer, output),
            AdoptFrom::Pimsync => adopt_dav(config, pair, args, DavTool::Pimsync, output),
        }
    });
    match result {
        Ok(code) => code,
        Err(error) => {
            let error = error.context(format!("pair {}", args.pair));
            output.error(&error);
            exit_code(&error)
        }
    }
}

fn adopt_mail(
    config: &Config,
    pair: &PairConfig,
    args: &AdoptArgs,
    tool: Tool,
    name: &str,
    output: &Output,
) -> Result<u8> {
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
    Ok(exit::OK)
}

fn adopt_dav(
    config: &Config,
    pair: &PairConfig,
    args: &AdoptArgs,
    tool: DavTool,
    output: &Output,
) -> Result<u8> {
    if pair.dav.is_none() {
        return Err(UsageError(format!(
            "{} keeps calendars and contacts; pair {} is a mail pair",
            tool.name(),
            pair.name
        ))
        .into());
    }
    let run = PairRun::lock(&config.state_dir, &pair.name)
        .with_context(|| format!("opening the status of pair {}", pair.name))?;
    let Some(file) = run.without_state() else {
        return Err(UsageError(format!(
            "the pair already has pimlink state ({}), which is newer than {}'s: `adopt` is for \
             a pair's first sync",
            config
                .state_dir
                .join(format!("{}.sqlite", pair.name))
                .display(),
            tool.name()
        ))
        .into());
    };
    let file = file.to_owned();
    let source = Source::Tool(tool, args.path.clone());
    let mut adopter =
        crate::adopt_dav::for_pair(config, pair, source, *output).ok_or_else(|| {
            UsageError(format!(
                "neither side of pair {} is a vdir, the only local copy {} writes",
                pair.name,
                tool.name()
            ))
        })?;
    let found = adopter
        .load()
        .with_context(|| format!("reading {}'s state", tool.name()))?;
    if found == 0 {
        let place = match &args.path {
            Some(path) => path.display().to_string(),
            None => format!("{}'s default status directory", tool.name()),
        };
        return Err(UsageError(format!(
            "no {} state found in {place} (nothing was changed; {} stays without state)",
            tool.name(),
            file.display()
        ))
        .into());
    }
    let request = Request {
        dry_run: args.dry_run,
        ..Request::default()
    };
    super::sync::run_locked(
        config,
        pair,
        run,
        None,
        request,
        None,
        Some(adopter),
        output,
    )
}
