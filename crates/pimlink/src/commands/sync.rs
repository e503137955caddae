//! `pimlink sync`.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use pimlink_core::CollectionName;
use pimlink_core::dav::ConflictResolver;
use pimlink_core::dav::Dav;
use pimlink_core::mail::Mail;
use pimlink_core::run::Observer;
use pimlink_core::runner::{AnyPair, Outcome, PairRun, Request, Selection};

use crate::adopt_dav::{ForeignDav, Source};
use crate::cli::{SyncArgs, exit};
use crate::config::{AdoptMode, Config, PairConfig};
use crate::failure::{self, UsageError, exit_code};
use crate::hooks::Hooked;
use crate::no_state::NoStateNotice;
use crate::output::{JsonEvents, Output, PairOutput};

use super::patterns::Patterns;

/// Runs `sync` and returns the exit status.
pub fn run(config: &Config, args: &SyncArgs, output: &Output) -> u8 {
    let output = &output.with_json(args.json);
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
        code = code.max(pair_code(config, result, pair, output));
    }
    code
}

/// The exit status of a pair's sync; a failure that stopped it is reported, naming the pair.
pub fn pair_code(config: &Config, result: Result<u8>, pair: &PairConfig, output: &Output) -> u8 {
    result.unwrap_or_else(|error| {
        let error = error.context(format!("pair {}", pair.name));
        output.storage_error(config, &[&pair.a, &pair.b], &error);
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
/// `resolver` takes a calendar/contact pair's conflicts (`resolve-conflicts`). A collection's
/// first sync takes over vdirsyncer's or pimsync's state where it finds it (`adopt_dav`).
pub fn sync_pair(
    config: &Config,
    pair: &PairConfig,
    only: Option<&[String]>,
    request: Request,
    resolver: Option<&mut dyn ConflictResolver>,
    output: &Output,
) -> Result<u8> {
    let mut run = PairRun::lock(&config.state_dir, &pair.name)
        .with_context(|| format!("opening the status of pair {}", pair.name))?;
    crate::identity::forget_other_storages(
        config,
        &pair.name,
        [&pair.a, &pair.b],
        &mut run,
        request.dry_run,
    )?;
    // Another tool's state (issue 16): taken over before the run, which then continues from
    // it. A dry run changes no status, so it matches by content and says so.
    if request.dry_run {
        crate::adopt_mail::on_first_dry_run(config, pair, &run, output);
    } else {
        crate::adopt_mail::on_first_sync(config, pair, &mut run, output);
    }
    // Asked only for collections never synced (core's `dav::adopt`), so a first sync that was
    // interrupted still adopts the collections it did not reach.
    let adopter = (pair.adopt != AdoptMode::Never)
        .then(|| crate::adopt_dav::for_pair(config, pair, Source::Defaults, *output))
        .flatten();
    let code = run_locked(config, pair, run, only, request, resolver, adopter, output)?;
    // A tree mbsync keeps state in stays usable by mbsync: what this run transferred is
    // written into that state, so that going back costs no copy.
    if !request.dry_run {
        crate::adopt_mail::hand_back_after_sync(config, pair);
    }
    Ok(code)
}

/// Syncs a pair whose status `run` holds, with `adopter` for a first sync.
#[allow(clippy::too_many_arguments)] // One call per command; a struct would only rename them.
pub fn run_locked(
    config: &Config,
    pair: &PairConfig,
    run: PairRun,
    only: Option<&[String]>,
    request: Request,
    resolver: Option<&mut dyn ConflictResolver>,
    adopter: Option<ForeignDav>,
    output: &Output,
) -> Result<u8> {
    let no_state = run
        .without_state()
        .map(|file| NoStateNotice::new(&pair.name, file));
    let patterns = Patterns::of(pair);
    let selection = Selection {
        patterns: &|name| patterns.matches(name),
        only,
    };
    let hooked = Hooked {
        config,
        pair,
        dry_run: request.dry_run,
        narrowed: only.is_some(),
    };
    let target = RunTarget {
        config,
        pair,
        selection,
        request,
        adopter,
    };
    let outcome = if output.json() {
        let observer = JsonEvents::new(&pair.name, request.dry_run);
        observed(hooked, observer, run, target, resolver)
    } else {
        let observer = PairOutput::new(output, &pair.name, request.dry_run, no_state, &patterns);
        observed(hooked, observer, run, target, resolver)
    }?;
    Ok(failure::outcome_code(outcome))
}

/// What one run of a pair works on, besides its observer.
struct RunTarget<'a, 's> {
    config: &'a Config,
    pair: &'a PairConfig,
    selection: Selection<'s>,
    request: Request,
    /// A calendar/contact pair's first sync: another tool's state to take over.
    adopter: Option<ForeignDav>,
}

/// Runs the pair with `observer` (text or `--json`), between its hooks: the sides are opened
/// and handed to the runner; a pair whose sides cannot be opened has that recorded in its run
/// journal (`pimlink status`).
fn observed<O: Observer<Mail> + Observer<Dav>>(
    hooked: Hooked<'_>,
    observer: O,
    run: PairRun,
    target: RunTarget<'_, '_>,
    resolver: Option<&mut dyn ConflictResolver>,
) -> Result<Outcome> {
    let RunTarget {
        config,
        pair,
        selection,
        request,
        adopter,
    } = target;
    hooked.run(observer, |observer| {
        super::runtime()?.block_on(async {
            let mut sides = match crate::pair::open(config, pair, resolver).await {
                Ok(sides) => sides,
                Err(error) => {
                    if !request.dry_run {
                        run.record_failure(&format!("{error:#}"));
                    }
                    return Err(error);
                }
            };
            if let AnyPair::Dav(wing) = &mut sides {
                wing.adopter = adopter.map(|a| Box::new(a) as _);
            }
            anyhow::Ok(run.sync(sides, selection, request, observer).await?)
        })
    })
}
