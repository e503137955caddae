//! Just enough iCalendar (RFC 5545) and vCard (RFC 6350) to sync items without understanding
//! them: find an item's UID, split a whole-calendar feed into one item per UID, and hash an
//! item so that a server rewriting volatile properties does not look like a change.
//!
//! Why hand-written and why here: the engine (this crate) needs the UID and the hash, and every
//! calendar storage needs the UID, so the helper must live below all of them; this crate takes
//! no parsing dependencies. What is needed is only the content-line layer (unfolding, name,
//! parameters with quoted strings, value), which is what `vparser` also implements; nothing here
//! validates. Invalid data is never rejected: a line without `:` is kept as it is, an
//! unterminated component ends at the end of the text, a stray `END` is ignored. Only
//! [`split_feed`] can fail, when the text holds no component at all.
//!
//! Layout: `lines.rs` the content-line layer ([`ContentLine`]), `item.rs` what is read from one
//! item ([`uid`], [`ContentHash`], [`item_file_name`]), `feed.rs` [`split_feed`]. Not here: any
//! understanding of dates, recurrence or properties' meaning; the storages that use these.

mod feed;
mod item;
mod lines;
#[cfg(test)]
mod tests;

pub use feed::{SplitItem, split_feed};
pub use item::{ContentHash, VOLATILE_PROPERTIES, content_hash, item_file_name, normalized, uid};
pub use lines::{ContentLine, content_lines};
