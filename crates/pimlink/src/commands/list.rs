//! `pimlink list`: the collections of both sides and how they are matched.

use anyhow::Result;
use pimlink_core::mail::plan::plan_collections;
use pimlink_core::status::StatusStore;
use pimlink_core::{MailStore, PerSide};

use crate::cli::exit;
use crate::config::{Config, PairConfig};
use crate::failure::exit_code;
use crate::output::Output;
use crate::storages::{self, PairSides};

/// Runs `list` and returns the exit status.
pub fn run(config: &Config, pairs: &[String], output: &Output) -> u8 {
    let pairs = match super::select_pairs(config, pairs) {
        Ok(pairs) => pairs,
        Err(error) => {
            output.error(&error);
            return exit_code(&error);
        }
    };
    let mut code = exit::OK;
    for pair in pairs {
        if let Err(error) = list_pair(config, pair, output) {
            let error = error.context(format!("pair {}", pair.name));
            output.error(&error);
            code = code.max(exit_code(&error));
        }
    }
    code
}

fn list_pair(config: &Config, pair: &PairConfig, output: &Output) -> Result<()> {
    if pair.family() == crate::config::Family::Dav {
        return list_dav_pair(config, pair, output);
    }
    let (a, b, on_a, on_b) = super::runtime()?.block_on(async {
        let PairSides::Mail(PerSide { mut a, mut b }) = storages::open_pair(config, pair).await?
        else {
            anyhow::bail!("pair {} does not sync mail", pair.name);
        };
        let on_a = a.list_collections().await?;
        let on_b = b.list_collections().await?;
        anyhow::Ok((a, b, on_a, on_b))
    })?;
    // The status is only read; a pair that never synced has none yet.
    let known = if config
        .state_dir
        .join(format!("{}.sqlite", pair.name))
        .exists()
    {
        StatusStore::open(&config.state_dir, &pair.name)?.collections()?
    } else {
        Vec::new()
    };
    output.info(format!(
        "pair {}: a = {} ({}), b = {} ({})",
        pair.name,
        pair.a,
        a.describe(),
        pair.b,
        b.describe()
    ));
    let policy = pair.policy();
    let seen = super::patterns::SeenNames::default();
    let selected = |name: &pimlink_core::CollectionName| {
        seen.note(name.as_str());
        pair.collections.matches(name.as_str())
    };
    for plan in plan_collections(&on_a, &on_b, &known, selected, &policy) {
        output.info(format!("  {plan}"));
    }
    seen.warn_unmatched(&pair.name, &pair.collections);
    let excluded: Vec<String> = on_a
        .iter()
        .chain(&on_b)
        .filter(|info| info.selectable && !pair.collections.matches(info.name.as_str()))
        .map(|info| info.name.to_string())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if !excluded.is_empty() {
        output.info(format!(
            "  not selected by `collections`: {}",
            excluded.join(", ")
        ));
    }
    Ok(())
}

/// `list` for a calendar/contact pair: collections by id, matched as the pair's `collections`
/// selects them.
fn list_dav_pair(config: &Config, pair: &PairConfig, output: &Output) -> Result<()> {
    use pimlink_core::dav::store::{CollectionId, ItemStore};
    use pimlink_core::dav::{ItemPolicy, Selection, plan_collections};

    let (describe_a, describe_b, on_a, on_b) = super::runtime()?.block_on(async {
        let PairSides::Items(PerSide { a, b }) = storages::open_pair(config, pair).await? else {
            anyhow::bail!("pair {} does not sync calendars or contacts", pair.name);
        };
        let ids = |list: Vec<pimlink_core::dav::store::Collection>| {
            list.into_iter().map(|c| c.id).collect::<Vec<_>>()
        };
        let on_a = ids(a.list_collections().await?);
        let on_b = ids(b.list_collections().await?);
        anyhow::Ok((a.describe(), b.describe(), on_a, on_b))
    })?;
    let known = if config
        .state_dir
        .join(format!("{}.sqlite", pair.name))
        .exists()
    {
        StatusStore::open(&config.state_dir, &pair.name)?.dav_collections()?
    } else {
        Vec::new()
    };
    output.info(format!(
        "pair {}: a = {} ({describe_a}), b = {} ({describe_b})",
        pair.name, pair.a, pair.b
    ));
    let dav = pair.dav.clone().unwrap_or_default();
    let patterns = dav.collections.patterns.clone();
    let seen = super::patterns::SeenNames::default();
    let matches = |id: &CollectionId| {
        seen.note(id.as_str());
        patterns.as_ref().is_some_and(|p| p.matches(id.as_str()))
    };
    let explicit = super::dav_sync::explicit_collections(&dav)?;
    let selection = Selection {
        from_a: dav.collections.from_a,
        from_b: dav.collections.from_b,
        explicit,
        matches: &matches,
    };
    let policy = ItemPolicy {
        sync: pair.policy(),
        conflict: dav.conflict.clone(),
        on_delete: dav.on_delete,
    };
    let plans = plan_collections(&on_a, &on_b, &known, &selection, &policy);
    for plan in &plans {
        output.info(format!("  {plan}"));
    }
    if let Some(patterns) = &patterns {
        seen.warn_unmatched(&pair.name, patterns);
    }
    let excluded: std::collections::BTreeSet<&str> = on_a
        .iter()
        .chain(&on_b)
        .map(CollectionId::as_str)
        .filter(|id| {
            !plans
                .iter()
                .any(|p| p.a.as_str() == *id || p.b.as_str() == *id)
        })
        .collect();
    if !excluded.is_empty() {
        output.info(format!(
            "  not selected by `collections`: {}",
            excluded.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    Ok(())
}
