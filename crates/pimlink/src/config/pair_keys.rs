//! Which keys a `[pair.NAME]` table accepts, and for which family of pair: one table, read by
//! the check for unknown keys (every key of the table) and by the check that a key belongs to
//! the pair's family (mail keys in a calendar/contact pair and the reverse are errors naming
//! the family the key is for).
//!
//! Not here: reading the keys' values (`pair`, `dav_pair`, `mail_names`, `limits`, `sides`),
//! and the keys of storages, which depend on the storage's type (`storage`).

use super::error::ConfigError;
use super::model::Family;
use super::raw::Fields;

/// The pairs a key applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Applies {
    /// Every pair, whichever storages it joins.
    Every,
    /// Only pairs of this family.
    Only(Family),
}

use Applies::{Every, Only};

const MAIL: Applies = Only(Family::Mail);
const DAV: Applies = Only(Family::Dav);

/// Every key of a pair table, in the order an unknown key's message lists them.
const KEYS: &[(&str, Applies)] = &[
    ("a", Every),
    ("b", Every),
    ("collections", Every),
    ("direction", Every),
    ("operations", Every),
    ("create", Every),
    ("on_empty", Every),
    ("max_delete", Every),
    // Conflicts, deletions and collection properties of calendars and contacts (dav_pair).
    ("conflict_resolution", DAV),
    ("on_delete", DAV),
    ("metadata", DAV),
    // How each side of a mail pair may be written (sides).
    ("read_only", MAIL),
    ("expunge", MAIL),
    ("remove", MAIL),
    // Folder names and keywords (mail_names).
    ("prefix_a", MAIL),
    ("prefix_b", MAIL),
    ("folder_map", MAIL),
    ("keywords", MAIL),
    // What the near side keeps (limits).
    ("max_size", MAIL),
    ("max_messages", MAIL),
    ("max_age", MAIL),
    ("near", MAIL),
    // Commands run around a sync (hooks, issue 14).
    ("pre_sync_hook", Every),
    ("post_sync_hook", Every),
    ("new_mail_hook", MAIL),
    // Taking over another tool's state on the first sync (issue 16).
    ("adopt", Every),
];

/// Every key a pair table may hold, whatever its family.
pub(super) fn all() -> impl Iterator<Item = &'static str> {
    KEYS.iter().map(|(key, _)| *key)
}

/// Refuses the keys of a pair of `family` that apply only to the other family, naming the
/// family they are for.
pub(super) fn refuse_others(fields: &Fields<'_, '_>, family: Family) -> Result<(), ConfigError> {
    for (key, applies) in KEYS {
        let Only(owner) = *applies else { continue };
        if owner == family {
            continue;
        }
        if let Some(span) = fields.key_span(key) {
            let pairs = match owner {
                Family::Mail => "mail pairs (imap, maildir)",
                Family::Dav => "calendar/contact pairs (caldav, carddav, webcal, vdir)",
            };
            return Err(fields.error(span, format!("key {key:?} applies only to {pairs}")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    const STORAGES: &str = "[storage.m1]\ntype = \"maildir\"\npath = \"/m1\"\n\
        [storage.m2]\ntype = \"maildir\"\npath = \"/m2\"\n\
        [storage.v1]\ntype = \"vdir\"\npath = \"/v1\"\nfileext = \".ics\"\n\
        [storage.v2]\ntype = \"vdir\"\npath = \"/v2\"\nfileext = \".ics\"\n";

    /// Each family-specific key, set (to any value) in a pair of the other family, is refused
    /// by its name and the family it is for, before its value is read.
    #[test]
    fn every_family_key_is_refused_in_the_other_family() {
        for (key, applies) in KEYS {
            let Only(owner) = *applies else { continue };
            let (storages, pairs) = match owner {
                Family::Mail => (("v1", "v2"), "mail pairs (imap, maildir)"),
                Family::Dav => (
                    ("m1", "m2"),
                    "calendar/contact pairs (caldav, carddav, webcal, vdir)",
                ),
            };
            let text = format!(
                "{STORAGES}[pair.p]\na = \"{}\"\nb = \"{}\"\n{key} = \"x\"\n",
                storages.0, storages.1
            );
            let error = super::super::parse(&text, Path::new("/c.toml"))
                .expect_err(key)
                .to_string();
            assert!(
                error.ends_with(&format!("key {key:?} applies only to {pairs}")),
                "{key}: {error}"
            );
        }
    }

    #[test]
    fn each_key_is_listed_once() {
        let mut keys: Vec<&str> = all().collect();
        let count = keys.len();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), count);
    }
}
