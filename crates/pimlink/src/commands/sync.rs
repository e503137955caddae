//! `pimlink sync`.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use pimlink_core::mail::exec::{Pair, RunOptions};
use pimlink_core::policy::{MaxDelete, OnEmpty};
use pimlink_core::status::StatusStore;
use pimlink_core::{CollectionName, PerSide};

use crate::cli::{SyncArgs, exit};
use crate::config::{Config, Family, PairConfig};
use crate::failure::{UsageError, exit_code};
use crate::no_state::{Items, NoStateNotice};
use crate::output::{Output, PairObserver};
use crate::storages::{self, PairSides};

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
        let result = sync_pair(config, pair, only.as_deref(), args, output);
        let pair_code = match result {
            Ok(code) => code,
            Err(error) => {
                let error = error.context(format!("pair {}", pair.name));
                output.error(&error);
                exit_code(&error)
            }
        };
        code = code.max(pair_code);
    }
    code
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

fn sync_pair(
    config: &Config,
    pair: &PairConfig,
    only: Option<&[String]>,
    args: &SyncArgs,
    output: &Output,
) -> Result<u8> {
    if pair.family() == Family::Dav {
        return super::dav_sync::sync_pair(
            config,
            pair,
            only,
            args.dry_run,
            args.force,
            super::dav_sync::Conflicts::AsConfigured,
            output,
        );
    }
    let runtime = super::runtime()?;
    let PairSides::Mail(PerSide { mut a, mut b }) =
        runtime.block_on(storages::open_pair(config, pair))?
    else {
        anyhow::bail!("pair {} does not sync mail", pair.name);
    };
    let mut status = StatusStore::open(&config.state_dir, &pair.name)
        .with_context(|| format!("opening the status of pair {}", pair.name))?;
    let mut policy = pair.policy();
    if args.force {
        policy.on_empty = OnEmpty::Sync;
        policy.max_delete = MaxDelete::UNLIMITED;
    }
    if args.fetch_big {
        policy.limits.max_size = None;
    }
    let mut observer = PairObserver::new(output, &pair.name, args.dry_run);
    observer.no_state = NoStateNotice::new(&pair.name, &status, Items::Mail)?;
    let options = RunOptions {
        dry_run: args.dry_run,
        force: args.force,
    };
    let seen = super::patterns::SeenNames::default();
    let selected = |name: &CollectionName| {
        seen.note(name.as_str());
        pair.collections.matches(name.as_str())
            && only.is_none_or(|only| only.iter().any(|c| c == name.as_str()))
    };
    let report = runtime.block_on(async {
        Pair {
            a: &mut a,
            b: &mut b,
            status: &mut status,
            policy,
        }
        .sync(selected, options, &mut observer)
        .await
    })?;
    seen.warn_unmatched(&pair.name, &pair.collections);
    observer.finish(&report);
    let mut code = exit::OK;
    if report.has_errors() {
        code = exit::PARTIAL;
    }
    if report.has_refusals() {
        code = exit::REFUSED;
    }
    Ok(code)
}
