//! `pimlink repair STORAGE`: gives every calendar/contact item without a UID one, so that it
//! can be synced (items are matched by UID; one without is left alone and reported).

use anyhow::Result;
use pimlink_core::dav::store::{CollectionKind, ItemStore};
use pimlink_core::dav::vobject::{content_lines, uid};
use pimlink_core::digest::sha256_hex;

use crate::cli::exit;
use crate::config::Config;
use crate::failure::exit_code;
use crate::output::Output;
use crate::storages::{self, items};

/// Runs `repair` and returns the exit status.
pub fn run(config: &Config, storage: &str, dry_run: bool, output: &Output) -> u8 {
    match repair(config, storage, dry_run, output) {
        Ok(code) => code,
        Err(error) => {
            let error = error.context(format!("storage {storage}"));
            output.error(&error);
            exit_code(&error)
        }
    }
}

fn repair(config: &Config, name: &str, dry_run: bool, output: &Output) -> Result<u8> {
    let kind = items::own_kind(config, name)?;
    super::runtime()?.block_on(async {
        let store = storages::open_items(config, name, Some(kind)).await?;
        if store.read_only() {
            anyhow::bail!("{} is read-only: its items cannot be repaired", store.describe());
        }
        let mut code = exit::OK;
        let mut repaired = 0;
        for collection in store.list_collections().await? {
            let hrefs: Vec<_> = store
                .list_items(&collection.id)
                .await?
                .into_iter()
                .map(|item| item.href)
                .collect();
            for chunk in hrefs.chunks(100) {
                let fetched = store.get_many(&collection.id, chunk).await?;
                for (href, why) in fetched.failed {
                    eprintln!("pimlink: {name}: {}: {href}: {why}", collection.id);
                    code = exit::PARTIAL;
                }
                for item in fetched.items.into_iter().filter(|i| uid(&i.data).is_none()) {
                    let new_uid = fresh_uid(&item.data);
                    let Some(fixed) = with_uid(&item.data, &new_uid, kind) else {
                        eprintln!(
                            "pimlink: {name}: {}: {}: no VEVENT, VTODO, VJOURNAL or VCARD to give a \
                             UID to; left alone",
                            collection.id, item.href
                        );
                        code = exit::PARTIAL;
                        continue;
                    };
                    output.info(format!(
                        "{name}: {}: {}: {} UID {new_uid}",
                        collection.id,
                        item.href,
                        if dry_run { "would add" } else { "added" }
                    ));
                    if dry_run {
                        continue;
                    }
                    match store
                        .update_item(&collection.id, &item.href, &item.etag, &fixed)
                        .await
                    {
                        Ok(_) => repaired += 1,
                        Err(e) => {
                            eprintln!("pimlink: {name}: {}: {}: {e}", collection.id, item.href);
                            code = exit::PARTIAL;
                        }
                    }
                }
            }
        }
        store.flush().await?;
        output.info(format!("{name}: {repaired} items repaired"));
        anyhow::Ok(code)
    })
}

/// A new UID in the customary UUID form, from the item's content and the time (no two items
/// repaired get the same one, and nothing about the user leaks into it).
fn fresh_uid(data: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let hex = sha256_hex(format!("{nanos}:{}:{data}", std::process::id()).as_bytes());
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// `data` with a `UID` line after the opening line of each item component (every component of
/// one item shares the UID), or `None` if there is no such component. Lines are unfolded and
/// rejoined with CRLF; nothing else changes.
fn with_uid(data: &str, uid: &str, kind: CollectionKind) -> Option<String> {
    let targets: &[&str] = match kind {
        CollectionKind::Calendar => &["VEVENT", "VTODO", "VJOURNAL"],
        CollectionKind::AddressBook => &["VCARD"],
    };
    let mut depth = 0usize;
    let mut out = String::with_capacity(data.len() + uid.len() + 8);
    let mut added = false;
    for line in content_lines(data) {
        out.push_str(&line.line);
        out.push_str("\r\n");
        if line.is("BEGIN") {
            depth += 1;
            let name = line.value().trim().to_ascii_uppercase();
            let top = match kind {
                CollectionKind::Calendar => depth == 2,
                CollectionKind::AddressBook => depth == 1,
            };
            if top && targets.contains(&name.as_str()) {
                out.push_str(&format!("UID:{uid}\r\n"));
                added = true;
            }
        } else if line.is("END") {
            depth = depth.saturating_sub(1);
        }
    }
    added.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_uid_goes_into_every_item_component_only() {
        let event = "BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VEVENT\nSUMMARY:a\n b\nBEGIN:VALARM\n\
                     ACTION:DISPLAY\nEND:VALARM\nEND:VEVENT\nEND:VCALENDAR\n";
        let fixed = with_uid(event, "new-1", CollectionKind::Calendar).unwrap();
        assert_eq!(uid(&fixed).as_deref(), Some("new-1"));
        assert_eq!(fixed.matches("UID:").count(), 1, "{fixed}");
        assert!(
            fixed.contains("BEGIN:VEVENT\r\nUID:new-1\r\nSUMMARY:ab\r\n"),
            "{fixed}"
        );
        let card = "BEGIN:VCARD\r\nFN:X\r\nEND:VCARD\r\n";
        let fixed = with_uid(card, "c", CollectionKind::AddressBook).unwrap();
        assert_eq!(fixed, "BEGIN:VCARD\r\nUID:c\r\nFN:X\r\nEND:VCARD\r\n");
        assert_eq!(with_uid("garbage", "x", CollectionKind::Calendar), None);
    }

    #[test]
    fn fresh_uids_look_like_uuids_and_differ() {
        let a = fresh_uid("x");
        assert_eq!(a.len(), 36);
        assert_eq!(a.matches('-').count(), 4);
        assert_ne!(a, fresh_uid("y"));
    }
}
