//! What the engine reads from one item: its UID (the item's own, not an alarm's or the
//! calendar's), its normalised text and [`ContentHash`] (volatile properties and VTIMEZONEs left
//! out, so a server's rewrites are no change), and the file name or href segment a new item
//! gets from its UID.
//!
//! Key types: [`ContentHash`], [`VOLATILE_PROPERTIES`]. Not here: unfolding (`lines.rs`),
//! splitting a feed into items (`feed.rs`).

use std::fmt;

use crate::digest::sha256_hex;

use super::lines::{component_name, content_lines};

/// Properties left out of [`normalized`] and [`content_hash`]: those servers and feeds
/// rewrite without the item changing. vdirsyncer's list (`vdirsyncer/vobject.py`).
pub const VOLATILE_PROPERTIES: [&str; 9] = [
    // Radicale rewrites PRODID on upload.
    "PRODID",
    // Webcal feeds add METHOD:PUBLISH.
    "METHOD",
    "X-RADICALE-NAME",
    // Horde sets it per item.
    "X-WR-CALNAME",
    // Meant to change with the item, but servers also bump them on their own.
    "REV",
    "LAST-MODIFIED",
    "CREATED",
    // Feeds (Google's read-only links) stamp every download with the time of the request.
    "DTSTAMP",
    // Some feeds regenerate UIDs on every download; items are matched by UID anyway.
    "UID",
];

/// Components whose UIDs are not the item's own.
fn is_nested_component(name: &str) -> bool {
    matches!(name, "VALARM" | "VTIMEZONE" | "STANDARD" | "DAYLIGHT")
}

/// The UID of an item: the first `UID` of its VEVENT/VTODO/VJOURNAL/VCARD, surrounding
/// whitespace trimmed. Only a UID directly in the item's component counts: not one of a VALARM
/// or another nested component, and not one of the VCALENDAR itself (RFC 7986 gives a calendar
/// a UID of its own), so that an item split out of a feed keeps the UID it was split by.
/// `None` if it has none or it is empty.
pub fn uid(raw: &str) -> Option<String> {
    let mut stack: Vec<String> = Vec::new();
    for line in content_lines(raw) {
        if let Some(name) = component_name(&line, "BEGIN") {
            stack.push(name);
        } else if let Some(name) = component_name(&line, "END") {
            if let Some(pos) = stack.iter().rposition(|n| *n == name) {
                stack.truncate(pos);
            }
        } else if line.is("UID") && is_item_level(&stack) {
            let value = line.value().trim();
            if !value.is_empty() {
                return Some(value.to_owned());
            }
        }
    }
    None
}

/// Whether properties inside the components `stack` (outermost first) are the item's own: those
/// of a component directly in a VCALENDAR but a VTIMEZONE (what [`split_feed`](super::split_feed) makes items
/// of), or of a top-level component (a VCARD).
fn is_item_level(stack: &[String]) -> bool {
    match stack {
        [calendar, item] if calendar == "VCALENDAR" => item != "VTIMEZONE",
        [item] => item != "VCALENDAR" && !is_nested_component(item),
        _ => false,
    }
}

/// The text [`content_hash`] hashes: the content lines without VTIMEZONE components and without
/// [`VOLATILE_PROPERTIES`], names upper-cased, surrounding whitespace trimmed, sorted, joined by
/// CRLF. So line folding, line endings, property order and volatile properties do not matter.
pub fn normalized(raw: &str) -> String {
    let mut depth_in_timezone = 0usize;
    let mut lines: Vec<String> = Vec::new();
    for line in content_lines(raw) {
        if let Some(name) = component_name(&line, "BEGIN") {
            if name == "VTIMEZONE" || depth_in_timezone > 0 {
                depth_in_timezone += 1;
                continue;
            }
        } else if component_name(&line, "END").is_some() && depth_in_timezone > 0 {
            depth_in_timezone -= 1;
            continue;
        }
        if depth_in_timezone > 0 || VOLATILE_PROPERTIES.iter().any(|p| line.is(p)) {
            continue;
        }
        let name = line.name().to_ascii_uppercase();
        let rest = line.line[line.name_end..].trim_end();
        let text = format!("{name}{rest}");
        if !text.is_empty() {
            lines.push(text);
        }
    }
    lines.sort_unstable();
    lines.join("\r\n")
}

/// A hash of an item's [`normalized`] text: equal for two versions of an item that differ only
/// in what servers rewrite on their own. SHA-256, written as 64 lower-case hex digits so that
/// it can be stored and compared as text.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ContentHash(String);

impl ContentHash {
    /// Wraps a hash read back from storage.
    pub fn from_hex(hex: impl Into<String>) -> Self {
        Self(hex.into())
    }

    /// The hash as hex text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContentHash({})", self.0)
    }
}

/// The [`ContentHash`] of an item.
pub fn content_hash(raw: &str) -> ContentHash {
    ContentHash(sha256_hex(normalized(raw).as_bytes()))
}

/// Characters a UID may consist of to be used as a file name or href unchanged (vdirsyncer's
/// `SAFE_UID_CHARS`).
fn is_safe_uid_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '+' | '@')
}

/// The file name (vdir) or last href segment (DAV) of a new item with `uid`, ending in
/// `extension` (`.ics`). A UID of safe characters (`A-Z a-z 0-9 _ . - + @`, at most 200 bytes,
/// not starting with `.`) is used as it is, as vdirsyncer does; any other UID is replaced by
/// the hex SHA-256 of the UID, so the name is still the same every time (a create interrupted by
/// a crash finds its item again) and can never escape a directory.
pub fn item_file_name(uid: &str, extension: &str) -> String {
    let safe = !uid.is_empty()
        && uid.len() <= 200
        && !uid.starts_with('.')
        && uid.chars().all(is_safe_uid_char);
    if safe {
        format!("{uid}{extension}")
    } else {
        format!("{}{extension}", sha256_hex(uid.as_bytes()))
    }
}
