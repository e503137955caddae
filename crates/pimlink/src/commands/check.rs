//! `pimlink check`: the configuration is valid and every storage of the named pairs answers.

use anyhow::{Context, Result};

use crate::cli::exit;
use crate::config::Config;
use crate::failure::exit_code;
use crate::output::Output;
use crate::storages;

/// Runs `check` and returns the exit status.
pub fn run(config: &Config, pairs: &[String], output: &Output) -> u8 {
    let pairs = match super::select_pairs(config, pairs) {
        Ok(pairs) => pairs,
        Err(error) => {
            output.error(&error);
            return exit_code(&error);
        }
    };
    output.info(format!("config {}: ok", config.path.display()));
    let mut names: Vec<&str> = pairs
        .iter()
        .flat_map(|pair| [pair.a.as_str(), pair.b.as_str()])
        .collect();
    names.sort_unstable();
    names.dedup();
    crate::endpoint::warn_cleartext(config, names.iter().copied());
    let mut code = exit::OK;
    for name in names {
        match check_storage(config, name) {
            Ok(line) => output.info(format!("storage {name}: ok, {line}")),
            Err(error) => {
                let error = crate::failure::in_storage(error, name);
                output.storage_error(config, &[name], &error);
                code = code.max(exit_code(&error));
            }
        }
    }
    if let Err(error) = pimlink_core::private::dir_builder()
        .recursive(true)
        .create(&config.state_dir)
        .with_context(|| format!("state directory {}", config.state_dir.display()))
    {
        output.error(&error);
        code = code.max(exit::UNAVAILABLE);
    }
    code
}

/// A storage answers: it is opened (a server connected, discovery included) and its
/// collections are listed.
fn check_storage(config: &Config, name: &str) -> Result<String> {
    super::runtime()?.block_on(async {
        let mut store = storages::open(config, name, None).await?;
        let found = pimlink_core::runner::check_side(&mut store).await?;
        anyhow::Ok(format!(
            "{}: {} collections",
            found.describe, found.collections
        ))
    })
}
