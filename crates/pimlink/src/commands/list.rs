//! `pimlink list`: the collections of both sides and how they are matched.

use anyhow::Result;
use pimlink_core::MailStore;
use pimlink_core::plan::plan_collections;
use pimlink_core::status::StatusStore;

use crate::cli::exit;
use crate::config::{Config, PairConfig};
use crate::failure::exit_code;
use crate::output::Output;
use crate::storages;

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
    let mut a = storages::open_mail(config, &pair.a)?;
    let mut b = storages::open_mail(config, &pair.b)?;
    let (on_a, on_b) = super::runtime()?.block_on(async {
        let on_a = a.list_collections().await?;
        let on_b = b.list_collections().await?;
        anyhow::Ok((on_a, on_b))
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
    let selected = |name: &pimlink_core::CollectionName| pair.collections.matches(name.as_str());
    for plan in plan_collections(&on_a, &on_b, &known, selected, &policy) {
        output.info(format!("  {plan}"));
    }
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
