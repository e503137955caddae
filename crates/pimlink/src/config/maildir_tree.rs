//! The Maildir keys for trees other tools wrote (issue 16): `flatten`, `names` and `inbox`, as
//! mbsync 1.4 and OfflineIMAP lay out their trees. Kept apart from `storage.rs` so that the
//! importer's and the layouts' keys stay one block.

use pimlink_maildir::{Names, TreeOptions, check_flatten};

use super::error::ConfigError;
use super::model::MaildirLayout;
use super::raw::Fields;

/// The keys this module reads.
pub(super) const KEYS: [&str; 3] = ["flatten", "names", "inbox"];

/// `flatten`, `names` and `inbox` of a Maildir storage whose `layout` is `layout`.
pub(super) fn build(
    fields: &Fields<'_, '_>,
    layout: MaildirLayout,
) -> Result<TreeOptions, ConfigError> {
    let flatten = match fields.string("flatten")? {
        None => None,
        Some(sep) => {
            let mut chars = sep.value.chars();
            let (Some(c), None) = (chars.next(), chars.next()) else {
                return Err(fields.error(
                    sep.at,
                    "key \"flatten\" must be one character (the separator, such as \".\")",
                ));
            };
            check_flatten(c)
                .map_err(|why| fields.error(sep.at.clone(), format!("key \"flatten\": {why}")))?;
            Some(c)
        }
    };
    let names = fields
        .choice(
            "names",
            &[("utf-8", Names::Utf8), ("imap-utf-7", Names::ImapUtf7)],
        )?
        .map_or(Names::Utf8, |n| n.value);
    let inbox = fields.path("inbox")?;
    if layout == MaildirLayout::MaildirPlusPlus {
        for key in ["flatten", "inbox"] {
            if let Some(span) = fields.key_span(key) {
                return Err(fields.error(
                    span,
                    format!(
                        "key {key:?} applies only to layout \"verbatim\" (in Maildir++ the \
                         inbox is the root and levels are already flattened with '.')"
                    ),
                ));
            }
        }
    }
    Ok(TreeOptions {
        flatten,
        names,
        inbox,
    })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use pimlink_maildir::{Names, TreeOptions};

    use super::super::StorageKind;
    use super::super::tests::{fails, ok};

    fn tree(keys: &str) -> TreeOptions {
        let text = format!(
            "[storage.m]\ntype = \"maildir\"\npath = \"/m\"\n{keys}\n\n\
             [storage.n]\ntype = \"maildir\"\npath = \"/n\"\n\n[pair.p]\na = \"m\"\nb = \"n\"\n"
        );
        match &ok(&text).storages["m"].kind {
            StorageKind::Maildir(maildir) => maildir.tree.clone(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_keys_of_an_mbsync_tree() {
        assert_eq!(tree(""), TreeOptions::default());
        assert_eq!(
            tree("flatten = \".\"\nnames = \"imap-utf-7\"\ninbox = \"~/inbox\""),
            TreeOptions {
                flatten: Some('.'),
                names: Names::ImapUtf7,
                inbox: Some(PathBuf::from("/home/u/inbox")),
            }
        );
        assert_eq!(tree("names = \"utf-8\"").names, Names::Utf8);
    }

    #[test]
    fn wrong_values_name_the_key_and_line() {
        let base = "[storage.m]\ntype = \"maildir\"\npath = \"/m\"\n";
        fails(
            &format!("{base}flatten = \"..\"\n"),
            4,
            &["\"flatten\"", "one character"],
        );
        fails(
            &format!("{base}flatten = \"&\"\n"),
            4,
            &["\"flatten\"", "cannot separate"],
        );
        fails(
            &format!("{base}names = \"utf-7\"\n"),
            4,
            &["\"names\"", "imap-utf-7"],
        );
        fails(
            &format!("{base}layout = \"maildir++\"\ninbox = \"/i\"\n"),
            5,
            &["\"inbox\"", "verbatim"],
        );
        fails(&format!("{base}flatten = 1\n"), 4, &["\"flatten\""]);
    }
}
