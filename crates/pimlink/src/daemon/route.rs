//! What a [`Change`] in a storage means for the pairs: which pairs, and which of their
//! collections. A collection is named only where the mapping from the storage's name to the
//! pair's is certain (a mail pair's name translation says so); otherwise the pair syncs whole.

use pimlink_core::{CollectionName, Side};

use super::schedule::Scope;
use crate::config::{Config, Family};
use crate::watch::Change;

/// The pairs among `pairs` that `change` concerns, with what of each to sync.
pub fn route<'c>(config: &'c Config, pairs: &[String], change: &Change) -> Vec<(&'c str, Scope)> {
    let mut out = Vec::new();
    for name in pairs {
        let Some(pair) = config.pairs.get(name) else {
            continue;
        };
        let sides = [(Side::A, &pair.a), (Side::B, &pair.b)];
        for (side, storage) in sides {
            if storage != change.storage() {
                continue;
            }
            let scope = match change {
                Change::Collection { collection, .. } if pair.family() == Family::Mail => {
                    match CollectionName::new(collection) {
                        Ok(name) => match pair.names.translation.to_pair(side, &name) {
                            Some(in_pair) => Scope::collection(in_pair.as_str()),
                            // Outside the pair's names: not this pair's business.
                            None => continue,
                        },
                        Err(_) => Scope::Whole,
                    }
                }
                _ => Scope::Whole,
            };
            out.push((pair.name.as_str(), scope));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn config() -> Config {
        let text = r#"
[storage.remote]
type = "maildir"
path = "/m/remote"
[storage.local]
type = "maildir"
path = "/m/local"
[storage.other]
type = "maildir"
path = "/m/other"
[storage.cal]
type = "vdir"
path = "/c"
fileext = ".ics"
[storage.cal2]
type = "vdir"
path = "/c2"
fileext = ".ics"
[pair.plain]
a = "remote"
b = "local"
[pair.prefixed]
a = "remote"
b = "other"
prefix_a = "Lists/"
[pair.cal]
a = "cal"
b = "cal2"
"#;
        crate::config::parse(text, Path::new("/c.toml")).unwrap()
    }

    fn all(config: &Config) -> Vec<String> {
        config.pairs.keys().cloned().collect()
    }

    #[test]
    fn a_mail_folder_maps_through_the_name_translation() {
        let config = config();
        let change = Change::Collection {
            storage: "remote".into(),
            collection: "Lists/rust".into(),
        };
        let routed = route(&config, &all(&config), &change);
        assert_eq!(
            routed,
            [
                ("plain", Scope::collection("Lists/rust")),
                ("prefixed", Scope::collection("rust")),
            ]
        );
        let change = Change::Collection {
            storage: "remote".into(),
            collection: "Other".into(),
        };
        let routed = route(&config, &all(&config), &change);
        assert_eq!(
            routed,
            [("plain", Scope::collection("Other"))],
            "outside the prefix"
        );
    }

    #[test]
    fn lists_everything_and_calendars_sync_the_pair_whole() {
        let config = config();
        let change = Change::Collections {
            storage: "local".into(),
        };
        assert_eq!(
            route(&config, &all(&config), &change),
            [("plain", Scope::Whole)]
        );
        let change = Change::Collection {
            storage: "cal2".into(),
            collection: "work".into(),
        };
        assert_eq!(
            route(&config, &all(&config), &change),
            [("cal", Scope::Whole)]
        );
        let only_plain = vec!["plain".to_owned()];
        let change = Change::Everything {
            storage: "remote".into(),
        };
        assert_eq!(
            route(&config, &only_plain, &change),
            [("plain", Scope::Whole)],
            "pairs the daemon was not asked to run are left alone"
        );
    }
}
