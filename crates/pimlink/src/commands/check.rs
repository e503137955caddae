//! `pimlink check`: the configuration is valid and every storage of the named pairs answers.

use anyhow::{Context, Result};
use pimlink_core::MailStore;

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
                output.error(&error);
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

fn check_storage(config: &Config, name: &str) -> Result<String> {
    let family = config.storages.get(name).map(|s| s.kind.family());
    if family == Some(crate::config::Family::Dav) {
        return check_item_storage(config, name);
    }
    let mut store = storages::open_mail(config, name)?;
    let collections = super::runtime()?.block_on(store.list_collections())?;
    let selectable = collections.iter().filter(|c| c.selectable).count();
    Ok(format!("{}: {selectable} collections", store.describe()))
}

/// A calendar/contact storage answers: it is connected (discovery included) and listed.
fn check_item_storage(config: &Config, name: &str) -> Result<String> {
    use pimlink_core::dav::store::ItemStore;
    let kind = match crate::item_storages::declared_kind(config, name)? {
        Some(kind) => kind,
        None => crate::item_storages::pair_kind(config, name, name)?,
    };
    super::runtime()?.block_on(async {
        let store = crate::item_storages::open(config, name, kind).await?;
        let collections = store.list_collections().await?;
        anyhow::Ok(format!(
            "{}: {} collections",
            store.describe(),
            collections.len()
        ))
    })
}
