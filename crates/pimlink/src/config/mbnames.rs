//! The `[mbnames]` table: the mailbox list file for mail readers (OfflineIMAP's mbnames). How
//! the file is built and written is the `mbnames` module's business.

use std::path::PathBuf;

use super::error::ConfigError;
use super::filter::CollectionFilter;
use super::raw::Fields;
use super::template::Template;

/// The keys of `[mbnames]`.
pub(super) const KEYS: &[&str] = &[
    "enabled",
    "filename",
    "header",
    "peritem",
    "sep",
    "footer",
    "collections",
];

/// What `[mbnames]` asks for.
#[derive(Clone, Debug)]
pub struct MbnamesConfig {
    /// `filename`: the file written, expanded and absolute.
    pub filename: PathBuf,
    /// `header` (default `mailboxes `): written first.
    pub header: String,
    /// `peritem` (default `"+{folder}"`): one per folder ([`Template`]).
    pub peritem: Template,
    /// `sep` (default `" "`): between two items.
    pub sep: String,
    /// `footer` (default a newline): written last.
    pub footer: String,
    /// `collections` (default all): which local folders are listed, by their name there.
    pub collections: CollectionFilter,
}

/// Reads `[mbnames]`; `None` when it says `enabled = false`.
pub(super) fn build(fields: &Fields<'_, '_>) -> Result<Option<MbnamesConfig>, ConfigError> {
    fields.only(KEYS, |_| None)?;
    if fields.boolean("enabled")?.is_some_and(|e| !e.value) {
        return Ok(None);
    }
    let filename = fields
        .path("filename")?
        .ok_or_else(|| fields.missing("filename", " (the file the mailbox list is written to)"))?;
    let text = |key, default: &str| {
        Ok::<_, ConfigError>(fields.string(key)?.map_or(default.to_owned(), |t| t.value))
    };
    let peritem = match fields.string("peritem")? {
        Some(text) => Template::parse(&text.value)
            .map_err(|why| fields.error(text.at, format!("key \"peritem\": {why}")))?,
        None => Template::default(),
    };
    Ok(Some(MbnamesConfig {
        filename,
        header: text("header", "mailboxes ")?,
        peritem,
        sep: text("sep", " ")?,
        footer: text("footer", "\n")?,
        collections: super::pair::collections(fields)?,
    }))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{fails, ok};
    use super::*;

    #[test]
    fn defaults_and_every_key() {
        let config = ok("[mbnames]\nfilename = \"~/.mutt/mailboxes\"\n");
        let mbnames = config.mbnames.unwrap();
        assert_eq!(mbnames.filename, PathBuf::from("/home/u/.mutt/mailboxes"));
        assert_eq!(
            (
                mbnames.header.as_str(),
                mbnames.sep.as_str(),
                mbnames.footer.as_str()
            ),
            ("mailboxes ", " ", "\n")
        );
        assert_eq!(mbnames.peritem, Template::default());
        assert!(mbnames.collections.matches("Anything/at all"));

        let config = ok(
            "[mbnames]\nfilename = \"/l\"\nheader = \"\"\nperitem = \"{path:raw}\"\n\
             sep = \"\\n\"\nfooter = \"\"\ncollections = [\"*\", \"!Junk\"]\n",
        );
        let mbnames = config.mbnames.unwrap();
        assert_eq!(mbnames.peritem, Template::parse("{path:raw}").unwrap());
        assert_eq!((mbnames.header.as_str(), mbnames.sep.as_str()), ("", "\n"));
        assert!(!mbnames.collections.matches("Junk"));

        let off = ok("[mbnames]\nenabled = false\n");
        assert!(off.mbnames.is_none(), "disabled needs no filename either");
        assert!(ok("").mbnames.is_none());
    }

    #[test]
    fn mistakes_are_located() {
        fails(
            "[mbnames]\nheader = \"x\"\n",
            1,
            &["[mbnames]", "missing key \"filename\""],
        );
        fails(
            "[mbnames]\nfilename = \"/l\"\nperitem = \"+{name}\"\n",
            3,
            &["peritem", "unknown placeholder {name}"],
        );
        fails(
            "[mbnames]\nfilename = \"/l\"\ncollections = []\n",
            3,
            &["collections", "the list is empty"],
        );
        fails(
            "[mbnames]\nfilename = \"/l\"\nfile = \"/l\"\n",
            3,
            &["unknown key \"file\""],
        );
    }
}
