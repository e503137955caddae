//! `pimlink sync`.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use pimlink_core::CollectionName;
use pimlink_core::dav::ConflictResolver;
use pimlink_core::runner::{PairRun, Request, Selection};

use crate::cli::{SyncArgs, exit};
use crate::config::{Config, PairConfig};
use crate::failure::{self, UsageError, exit_code};
use crate::no_state::NoStateNotice;
use crate::output::{Output, PairOutput};

use super::patterns::Patterns;

/// Runs `sync` and returns the exit status.
pub fn run(config: &Config, args: &SyncArgs, output: &Output) -> u8 {
    let targets = match parse_targets(config, &args.targets) {
        Ok(targets) => targets,
        Err(error) => {
            output.error(&error);
            return exit_code(&error);
        }
    };
    let storages = targets
        .iter()
        .flat_map(|(pair, _)| [pair.a.as_str(), pair.b.as_str()]);
    crate::endpoint::warn_cleartext(config, storages);
    let mut code = exit::OK;
    for (pair, only) in targets {
        let request = Request {
            dry_run: args.dry_run,
            force: args.force,
            fetch_big: args.fetch_big,
        };
        let result = sync_pair(config, pair, only.as_deref(), request, None, output);
        code = code.max(pair_code(result, pair, output));
    }
    code
}

/// The exit status of a pair's sync; a failure that stopped it is reported, naming the pair.
pub fn pair_code(result: Result<u8>, pair: &PairConfig, output: &Output) -> u8 {
    result.unwrap_or_else(|error| {
        let error = error.context(format!("pair {}", pair.name));
        output.error(&error);
        exit_code(&error)
    })
}

/// A pair to sync and, if the command line narrowed it, the only collections to sync.
type Target<'c> = (&'c PairConfig, Option<Vec<String>>);

/// `PAIR` or `PAIR/COLLECTION` arguments, grouped by pair; `None` means every collection.
fn parse_targets<'c>(config: &'c Config, targets: &[String]) -> Result<Vec<Target<'c>>> {
    let mut by_pair: BTreeMap<String, Option<Vec<String>>> = BTreeMap::new();
    for target in targets {
        let (pair, collection) = match target.split_once('/') {
            Some((pair, collection)) => {
                // Normalised as the engine names collections (INBOX in any case is INBOX).
                let name = CollectionName::new(collection)
                    .map_err(|e| UsageError(format!("{target:?}: {e}")))?;
                (pair.to_owned(), Some(name.as_str().to_owned()))
            }
            None => (target.clone(), None),
        };
        let entry = by_pair.entry(pair).or_insert_with(|| Some(Vec::new()));
        match (entry.as_mut(), collection) {
            (Some(list), Some(collection)) => list.push(collection),
            // A bare pair name means all of it, whatever else was named.
            (_, None) => *entry = None,
            (None, Some(_)) => {}
        }
    }
    let names: Vec<String> = by_pair.keys().cloned().collect();
    let pairs = super::select_pairs(config, &names)?;
    if targets.is_empty() {
        return Ok(pairs.into_iter().map(|pair| (pair, None)).collect());
    }
    Ok(pairs
        .into_iter()
        .map(|pair| {
            let only = by_pair.get(&pair.name).cloned().flatten();
            (pair, only)
        })
        .collect())
}

/// Syncs one pair of either family through the pair runner and returns its exit status;
/// `resolver` takes a calendar/contact pair's conflicts (`resolve-conflicts`).
pub fn sync_pair(
    config: &Config,
    pair: &PairConfig,
    only: Option<&[String]>,
    request: Request,
    resolver: Option<&mut dyn ConflictResolver>,
    output: &Output,
) -> Result<u8> {
    let run = PairRun::lock(&config.state_dir, &pair.name)
        .with_context(|| format!("opening the status of pair {}", pair.name))?;
    let no_state = run
        .without_state()
        .map(|file| NoStateNotice::new(&pair.name, file));
    let patterns = Patterns::of(pair);
    let selection = Selection {
        patterns: &|name| patterns.matches(name),
        only,
    };
    let mut observer = PairOutput::new(output, &pair.name, request.dry_run, no_state, &patterns);
    let outcome = super::runtime()?.block_on(async {
        let sides = crate::pair::open(config, pair, resolver).await?;
        anyhow::Ok(run.sync(sides, selection, request, &mut observer).await?)
    })?;
    Ok(failure::outcome_code(outcome))
}
