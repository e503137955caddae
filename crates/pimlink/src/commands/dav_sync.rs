//! `pimlink sync` and `pimlink resolve-conflicts` for calendar/contact pairs: resolves the
//! pair's policy and collection selection from the configuration, opens both storages, runs the
//! engine in `pimlink_core::dav` and prints what it did.

use anyhow::{Context, Result};
use pimlink_core::PerSide;
use pimlink_core::dav::store::CollectionId;
use pimlink_core::dav::{
    ConflictPolicy, ConflictResolver, ExplicitCollection, ItemPair, ItemPolicy, RunOptions,
    Selection,
};
use pimlink_core::policy::{MaxDelete, OnEmpty};
use pimlink_core::status::StatusStore;

use crate::cli::exit;
use crate::config::{Config, DavPairConfig, PairConfig};
use crate::no_state::{Items, NoStateNotice};
use crate::output::{DavObserver, Output};
use crate::storages::{self, PairSides};

/// How a run treats conflicts.
pub enum Conflicts<'c> {
    /// As the pair's `conflict_resolution` says; a command is not run (conflicts it would
    /// resolve are reported).
    AsConfigured,
    /// Through this resolver (`pimlink resolve-conflicts`).
    Resolve(&'c mut dyn ConflictResolver),
}

/// Syncs one calendar/contact pair; returns the exit status.
pub fn sync_pair(
    config: &Config,
    pair: &PairConfig,
    only: Option<&[String]>,
    dry_run: bool,
    force: bool,
    conflicts: Conflicts<'_>,
    output: &Output,
) -> Result<u8> {
    let dav = pair.dav.clone().unwrap_or_default();
    let mut policy = ItemPolicy {
        sync: pair.policy(),
        conflict: dav.conflict.clone(),
        on_delete: dav.on_delete,
    };
    if force {
        policy.sync.on_empty = OnEmpty::Sync;
        policy.sync.max_delete = MaxDelete::UNLIMITED;
    }
    let explicit = explicit_collections(&dav)?;
    let patterns = dav.collections.patterns.clone();
    let seen = super::patterns::SeenNames::default();
    let matches = |id: &CollectionId| {
        seen.note(id.as_str());
        patterns.as_ref().is_some_and(|p| p.matches(id.as_str()))
    };
    let selection = Selection {
        from_a: dav.collections.from_a,
        from_b: dav.collections.from_b,
        explicit,
        matches: &matches,
    };
    let only_filter = |name: &str| only.is_none_or(|only| only.iter().any(|c| c.as_str() == name));
    let mut status = StatusStore::open(&config.state_dir, &pair.name)
        .with_context(|| format!("opening the status of pair {}", pair.name))?;
    let mut observer = DavObserver::new(output, &pair.name, dry_run);
    observer.no_state = NoStateNotice::new(&pair.name, &status, Items::Dav)?;
    let report = super::runtime()?.block_on(async {
        let PairSides::Items(PerSide { a, b }) = storages::open_pair(config, pair).await? else {
            anyhow::bail!("pair {} does not sync calendars or contacts", pair.name);
        };
        let resolver = match conflicts {
            Conflicts::AsConfigured => None,
            Conflicts::Resolve(resolver) => Some(resolver),
        };
        let report = ItemPair {
            a: &a,
            b: &b,
            status: &mut status,
            policy,
            metadata: dav.metadata.clone(),
        }
        .sync(
            &selection,
            &only_filter,
            RunOptions {
                dry_run,
                ..RunOptions::default()
            },
            &mut observer,
            resolver,
        )
        .await?;
        anyhow::Ok(report)
    })?;
    if let Some(patterns) = &patterns {
        seen.warn_unmatched(&pair.name, patterns);
    }
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

/// The collections the pair names explicitly (`[name, id on a, id on b]`).
pub fn explicit_collections(dav: &DavPairConfig) -> Result<Vec<ExplicitCollection>> {
    dav.collections
        .explicit
        .iter()
        .map(|(name, a, b)| {
            Ok(ExplicitCollection {
                name: name.clone(),
                a: CollectionId::new(a.as_str())?,
                b: CollectionId::new(b.as_str())?,
            })
        })
        .collect()
}

/// True if the pair resolves conflicts with a command (`resolve-conflicts` needs one).
pub fn conflict_command(pair: &PairConfig) -> Option<&[String]> {
    match pair.dav.as_ref().map(|d| &d.conflict) {
        Some(ConflictPolicy::Command(command)) => Some(command),
        _ => None,
    }
}
