//! `pimlink adopt PAIR --from vdirsyncer|pimsync [PATH]`: the first sync of a calendar/contact
//! pair, taking over the named tool's state from where the user says it is (`pimlink sync`
//! looks only in the tools' default places). Refused for a pair that already has state: its
//! own knowledge is newer than any other tool's.

use anyhow::{Context, Result};
use pimlink_core::runner::{PairRun, Request};
use pimlink_foreign::state::dav::Tool;

use crate::adopt_dav::Source;
use crate::cli::{AdoptArgs, AdoptFrom};
use crate::config::Config;
use crate::failure::{UsageError, exit_code};
use crate::output::Output;

/// Runs `adopt` and returns the exit status.
pub fn run(config: &Config, args: &AdoptArgs, output: &Output) -> u8 {
    match adopt(config, args, output) {
        Ok(code) => code,
        Err(error) => {
            let error = error.context(format!("pair {}", args.pair));
            output.error(&error);
            exit_code(&error)
        }
    }
}

fn adopt(config: &Config, args: &AdoptArgs, output: &Output) -> Result<u8> {
    let pair = super::select_pairs(config, std::slice::from_ref(&args.pair))?[0];
    let tool = match args.from {
        AdoptFrom::Vdirsyncer => Tool::Vdirsyncer,
        AdoptFrom::Pimsync => Tool::Pimsync,
    };
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
