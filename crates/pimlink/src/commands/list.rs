//! `pimlink list`: the collections of both sides and how they are matched, as the pair runner
//! plans them for a pair of either family.

use anyhow::Result;
use pimlink_core::runner;

use crate::cli::exit;
use crate::config::{Config, PairConfig};
use crate::failure::exit_code;
use crate::output::Output;

use super::patterns::Patterns;

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
            output.storage_error(config, &[&pair.a, &pair.b], &error);
            code = code.max(exit_code(&error));
        }
    }
    code
}

fn list_pair(config: &Config, pair: &PairConfig, output: &Output) -> Result<()> {
    let patterns = Patterns::of(pair);
    let listing = super::runtime()?.block_on(async {
        let sides = crate::pair::open(config, pair, None).await?;
        let matches = |name: &str| patterns.matches(name);
        anyhow::Ok(runner::list(&config.state_dir, &pair.name, sides, &matches).await?)
    })?;
    output.info(format!(
        "pair {}: a = {} ({}), b = {} ({})",
        pair.name, pair.a, listing.describe.a, pair.b, listing.describe.b
    ));
    for plan in &listing.plans {
        output.info(format!("  {plan}"));
    }
    patterns.warn_unmatched(&pair.name);
    if !listing.excluded.is_empty() {
        output.info(format!(
            "  not selected by `collections`: {}",
            listing.excluded.join(", ")
        ));
    }
    Ok(())
}
