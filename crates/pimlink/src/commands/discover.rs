//! `pimlink discover STORAGE`: the collections a calendar/contact storage holds, with their ids
//! (what `collections` in a pair refers to) and names.

use anyhow::Result;
use pimlink_core::dav::store::ItemStore;

use crate::cli::exit;
use crate::config::Config;
use crate::failure::exit_code;
use crate::item_storages::{self, ItemSide};
use crate::output::Output;

/// Runs `discover` and returns the exit status.
pub fn run(config: &Config, storage: &str, output: &Output) -> u8 {
    match discover(config, storage, output) {
        Ok(()) => exit::OK,
        Err(error) => {
            let error = error.context(format!("storage {storage}"));
            output.error(&error);
            exit_code(&error)
        }
    }
}

fn discover(config: &Config, name: &str, output: &Output) -> Result<()> {
    let kinds = match item_storages::declared_kind(config, name)? {
        Some(kind) => vec![kind],
        // A vdir says nothing about what it holds until a pair uses it; list it as its file
        // extension suggests.
        None => vec![item_storages::pair_kind(config, name, name)?],
    };
    super::runtime()?.block_on(async {
        for kind in kinds {
            let store = item_storages::open(config, name, kind).await?;
            let what = match kind {
                pimlink_core::dav::store::CollectionKind::Calendar => "calendars",
                pimlink_core::dav::store::CollectionKind::AddressBook => "address books",
            };
            let home = match &store {
                ItemSide::Dav(dav) => format!(" (home set {})", dav.home()),
                _ => String::new(),
            };
            let collections = store.list_collections().await?;
            output.info(format!(
                "storage {name}: {}{home}: {} {what}",
                store.describe(),
                collections.len()
            ));
            for collection in collections {
                let mut line = format!("  {}", collection.id);
                if let Some(display) = &collection.meta.displayname {
                    line.push_str(&format!("  {display:?}"));
                }
                if let Some(color) = &collection.meta.color {
                    line.push_str(&format!("  {color}"));
                }
                line.push_str(&format!("  {}", collection.location));
                if collection.supports_sync {
                    line.push_str("  [sync-token]");
                }
                output.info(line);
            }
        }
        anyhow::Ok(())
    })
}
