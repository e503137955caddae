//! `pimlink discover STORAGE`: the collections a calendar/contact storage holds, with their ids
//! (what `collections` in a pair refers to) and names.

use anyhow::Result;
use pimlink_core::dav::store::ItemStore;

use crate::cli::exit;
use crate::config::Config;
use crate::failure::exit_code;
use crate::output::Output;
use crate::storages::{self, ItemSide, items};

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
    // A vdir says nothing about what it holds until a pair uses it; it is listed as its file
    // extension suggests.
    let kind = items::own_kind(config, name)?;
    super::runtime()?.block_on(async {
        let store = storages::open_items(config, name, Some(kind)).await?;
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
        anyhow::Ok(())
    })
}
