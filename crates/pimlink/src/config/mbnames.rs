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
