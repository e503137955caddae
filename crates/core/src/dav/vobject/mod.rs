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

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::digest::sha256_hex;
use crate::error::{Error, ErrorKind, Result};

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

/// One unfolded content line: `NAME;PARAMS:VALUE`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContentLine {
    /// The whole line, unfolded, without its line break.
    pub line: String,
    /// Where the name ends (at the first `;` or `:` outside quotes, or the line's end).
    name_end: usize,
    /// Where the value starts (after the first `:` outside quotes), if there is one.
    value_start: Option<usize>,
}

impl ContentLine {
    fn parse(line: String) -> Self {
        let bytes = line.as_bytes();
        let name_end = bytes
            .iter()
            .position(|&b| b == b';' || b == b':')
            .unwrap_or(bytes.len());
        let mut in_quotes = false;
        let mut value_start = None;
        for (i, &b) in bytes.iter().enumerate().skip(name_end) {
            match b {
                b'"' => in_quotes = !in_quotes,
                b':' if !in_quotes => {
                    value_start = Some(i + 1);
                    break;
                }
                _ => {}
            }
        }
        // A line whose quotes never close: take the first colon after the name, as lenient
        // parsers do, rather than losing the value.
        if value_start.is_none() {
            value_start = line[name_end..].find(':').map(|i| name_end + i + 1);
        }
        Self {
            line,
            name_end,
            value_start,
        }
    }

    /// The property name as written (compare it case-insensitively).
    pub fn name(&self) -> &str {
        self.line[..self.name_end].trim()
    }

    /// True if the name is `name`, ignoring ASCII case.
    pub fn is(&self, name: &str) -> bool {
        self.name().eq_ignore_ascii_case(name)
    }

    /// The parameters between the name and the value, without the leading `;` (may be empty).
    pub fn params(&self) -> &str {
        let end = self.value_start.map_or(self.line.len(), |v| v - 1);
        self.line
            .get(self.name_end..end)
            .map_or("", |p| p.strip_prefix(';').unwrap_or(p))
    }

    /// The raw value (escapes not decoded); empty for a line without `:`.
    pub fn value(&self) -> &str {
        self.value_start.map_or("", |v| &self.line[v..])
    }
}

/// The unfolded content lines of `raw`, in order. Accepts CRLF, LF and lone CR line ends;
/// a line starting with a space or tab continues the previous one; empty lines are dropped.
pub fn content_lines(raw: &str) -> Vec<ContentLine> {
    let mut out: Vec<String> = Vec::new();
    for physical in raw.split('\n').flat_map(|l| l.split('\r')) {
        if let Some(rest) = physical.strip_prefix([' ', '\t'])
            && let Some(last) = out.last_mut()
        {
            last.push_str(rest);
            continue;
        }
        if !physical.is_empty() {
            out.push(physical.to_owned());
        }
    }
    out.into_iter().map(ContentLine::parse).collect()
}

fn component_name(line: &ContentLine, keyword: &str) -> Option<String> {
    line.is(keyword)
        .then(|| line.value().trim().to_ascii_uppercase())
}

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
/// of a component directly in a VCALENDAR but a VTIMEZONE (what [`split_feed`] makes items
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

/// One item split out of a feed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SplitItem {
    /// Its UID, `None` for a component without one.
    pub uid: Option<String>,
    /// The item as a complete object: a VCALENDAR holding the feed's own properties, the
    /// VTIMEZONEs the item refers to, and every component with this UID (a recurring event and
    /// its overrides); or one VCARD.
    pub data: String,
}

#[derive(Default)]
struct Component {
    lines: Vec<String>,
}

/// Splits a whole-calendar feed (webcal, a single `.ics` file) into one item per UID, or a
/// file of several vCards into one item per card, keeping the items' text as it is (lines are
/// unfolded and re-joined with CRLF). Components without a UID become one item each.
///
/// [`ErrorKind::Peer`] only if the text holds no component at all.
pub fn split_feed(raw: &str) -> Result<Vec<SplitItem>> {
    let lines = content_lines(raw);
    let mut wrapper_props: Vec<String> = Vec::new();
    let mut filed = Filed::default();
    let mut cards: Vec<Component> = Vec::new();

    // Depth 0: outside everything; 1: inside VCALENDAR; >1: inside a component of it.
    let mut stack: Vec<String> = Vec::new();
    let mut current = Component::default();
    let mut current_uid: Option<String> = None;
    for line in lines {
        let begin = component_name(&line, "BEGIN");
        let end = component_name(&line, "END");
        match (stack.len(), &begin, &end) {
            (0, Some(name), _) if name == "VCARD" => {
                stack.push(name.clone());
                current = Component::default();
                current.lines.push(line.line);
            }
            // Items are wrapped in a VCALENDAR whatever the outer component was called, so
            // it is read as one: an END:VCALENDAR inside then closes it here as in the items.
            (0, Some(_), _) => stack.push("VCALENDAR".to_owned()),
            (0, _, _) => {} // Text outside any component: nothing to keep.
            (1, None, Some(_)) if stack[0] == "VCARD" => {
                current.lines.push(line.line);
                cards.push(std::mem::take(&mut current));
                stack.clear();
            }
            (1, _, _) if stack[0] == "VCARD" => {
                if let Some(name) = begin {
                    stack.push(name);
                }
                current.lines.push(line.line);
            }
            (1, Some(name), _) => {
                stack.push(name.clone());
                current = Component::default();
                current_uid = None;
                current.lines.push(line.line);
            }
            (1, None, Some(_)) => stack.clear(),
            // VERSION goes first, where readers expect it.
            (1, None, None) if line.is("VERSION") => wrapper_props.insert(0, line.line),
            (1, None, None) => wrapper_props.push(line.line),
            (_, Some(name), _) => {
                stack.push(name.clone());
                current.lines.push(line.line);
            }
            (depth, None, Some(name)) => {
                let Some(pos) = stack.iter().rposition(|n| n == name) else {
                    current.lines.push(line.line);
                    continue; // A stray END: kept as a line, nothing closes.
                };
                if pos == 0 && depth > 1 && stack[0] != "VCARD" {
                    // The calendar ends inside a component: the component ends first, so
                    // that its text stays balanced wherever it is copied.
                    close_open(&mut current, &stack[1..]);
                    let done = std::mem::take(&mut current);
                    file_component(&mut filed, done, current_uid.take());
                    stack.clear();
                    continue;
                }
                current.lines.push(line.line);
                stack.truncate(pos.max(1));
                if stack[0] != "VCARD" && stack.len() == 1 && depth > 1 {
                    let done = std::mem::take(&mut current);
                    file_component(&mut filed, done, current_uid.take());
                }
            }
            (_, None, None) => {
                if stack.len() == 2 && line.is("UID") && current_uid.is_none() {
                    let value = line.value().trim();
                    if !value.is_empty() {
                        current_uid = Some(value.to_owned());
                    }
                }
                current.lines.push(line.line);
            }
        }
    }
    // An unterminated component at the end of the text still counts.
    if !current.lines.is_empty() {
        if stack.first().is_some_and(|n| n == "VCARD") {
            cards.push(current);
        } else if stack.len() > 1 {
            close_open(&mut current, &stack[1..]);
            file_component(&mut filed, current, current_uid.take());
        }
    }

    let mut items: Vec<SplitItem> = cards
        .into_iter()
        .map(|card| {
            let data = join(&card.lines);
            SplitItem {
                uid: uid(&data),
                data,
            }
        })
        .collect();
    let Filed {
        timezones, by_uid, ..
    } = filed;
    for (uid, component) in by_uid {
        let used = referenced_tzids(&component.lines);
        let mut text = vec!["BEGIN:VCALENDAR".to_owned()];
        text.extend(wrapper_props.iter().cloned());
        for (tzid, tz) in &timezones {
            if used.contains(tzid) {
                text.extend(tz.lines.iter().cloned());
            }
        }
        text.extend(component.lines);
        text.push("END:VCALENDAR".to_owned());
        items.push(SplitItem {
            uid,
            data: join(&text),
        });
    }
    if items.is_empty() {
        return Err(Error::new(
            ErrorKind::Peer,
            "no VEVENT, VTODO, VJOURNAL or VCARD found: the data is not iCalendar or vCard",
        ));
    }
    Ok(items)
}

/// The components of a calendar feed sorted out so far.
#[derive(Default)]
struct Filed {
    /// VTIMEZONEs by TZID.
    timezones: BTreeMap<String, Component>,
    /// Items in order of appearance, the components of one UID together.
    by_uid: Vec<(Option<String>, Component)>,
    /// Where each UID is in `by_uid`.
    uid_index: BTreeMap<String, usize>,
}

/// Files a finished component of a calendar: a VTIMEZONE by its TZID, anything else as (part
/// of) the item with `uid`.
fn file_component(filed: &mut Filed, done: Component, uid: Option<String>) {
    let top = done.lines.first().map(|l| ContentLine::parse(l.clone()));
    let is_tz = top
        .as_ref()
        .and_then(|l| component_name(l, "BEGIN"))
        .is_some_and(|n| n == "VTIMEZONE");
    if is_tz {
        let tzid = done
            .lines
            .iter()
            .map(|l| ContentLine::parse(l.clone()))
            .find(|l| l.is("TZID"))
            .map(|l| l.value().trim().to_owned())
            .unwrap_or_default();
        filed.timezones.insert(tzid, done);
        return;
    }
    match uid {
        Some(uid) => match filed.uid_index.get(&uid) {
            Some(&i) => filed.by_uid[i].1.lines.extend(done.lines),
            None => {
                filed.uid_index.insert(uid.clone(), filed.by_uid.len());
                filed.by_uid.push((Some(uid), done));
            }
        },
        None => filed.by_uid.push((None, done)),
    }
}

/// Ends the components `open` (outermost first) that `component` left open.
fn close_open(component: &mut Component, open: &[String]) {
    for name in open.iter().rev() {
        component.lines.push(format!("END:{name}"));
    }
}

fn referenced_tzids(lines: &[String]) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    for line in lines {
        let line = ContentLine::parse(line.clone());
        for param in split_params(line.params()) {
            if let Some((name, value)) = param.split_once('=')
                && name.trim().eq_ignore_ascii_case("TZID")
            {
                used.insert(value.trim().trim_matches('"').to_owned());
            }
        }
    }
    used
}

/// Splits a parameter list at `;` outside double quotes.
fn split_params(params: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut in_quotes = false;
    let mut start = 0;
    for (i, c) in params.char_indices() {
        match c {
            '"' => in_quotes = !in_quotes,
            ';' if !in_quotes => {
                out.push(&params[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if start < params.len() {
        out.push(&params[start..]);
    }
    out
}

fn join(lines: &[String]) -> String {
    let mut out = String::with_capacity(lines.iter().map(|l| l.len() + 2).sum());
    for line in lines {
        out.push_str(line);
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const EVENT: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//A//B//EN\r\n\
        BEGIN:VEVENT\r\nUID:abc@example.com\r\nDTSTAMP:20240101T000000Z\r\n\
        DTSTART;TZID=Europe/Berlin:20240102T100000\r\nSUMMARY:Lunch\r\n\
        BEGIN:VALARM\r\nUID:alarm-1\r\nACTION:DISPLAY\r\nEND:VALARM\r\n\
        END:VEVENT\r\nEND:VCALENDAR\r\n";

    #[test]
    fn content_lines_unfold_and_split_name_params_value() {
        let lines = content_lines(
            "DESCRIPTION;ALTREP=\"cid:a:b\";LANGUAGE=en:Hello\r\n  wor\n\tld\rX:1\n\n",
        );
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].name(), "DESCRIPTION");
        assert_eq!(lines[0].params(), "ALTREP=\"cid:a:b\";LANGUAGE=en");
        assert_eq!(lines[0].value(), "Hello world");
        assert_eq!(lines[1].value(), "1");
        let broken = &content_lines("no colon here")[0];
        assert_eq!((broken.name(), broken.value()), ("no colon here", ""));
    }

    #[test]
    fn uid_is_the_items_not_the_alarms() {
        assert_eq!(uid(EVENT).as_deref(), Some("abc@example.com"));
        let alarm_first = EVENT
            .replace("UID:abc@example.com\r\n", "")
            .replace("END:VALARM\r\n", "END:VALARM\r\nUID:later\r\n");
        assert_eq!(uid(&alarm_first).as_deref(), Some("later"));
        assert_eq!(
            uid("BEGIN:VCARD\nuid: x-1 \nEND:VCARD\n").as_deref(),
            Some("x-1")
        );
        assert_eq!(uid("BEGIN:VCARD\nFN:No Uid\nEND:VCARD\n"), None);
        assert_eq!(uid("BEGIN:VCARD\nUID:\nEND:VCARD\n"), None);
    }

    #[test]
    fn hash_ignores_volatile_properties_order_folding_and_line_ends() {
        let base = content_hash(EVENT);
        let rewritten = EVENT
            .replace("PRODID:-//A//B//EN", "PRODID:-//Radicale//NONSGML//EN")
            .replace("DTSTAMP:20240101T000000Z", "DTSTAMP:20250505T121212Z")
            .replace(
                "SUMMARY:Lunch\r\n",
                "SUMMARY:Lu\r\n nch\r\nLAST-MODIFIED:20250101T000000Z\r\n",
            )
            .replace("\r\n", "\n");
        assert_eq!(content_hash(&rewritten), base);
        let reordered = EVENT.replace(
            "DTSTART;TZID=Europe/Berlin:20240102T100000\r\nSUMMARY:Lunch\r\n",
            "SUMMARY:Lunch\r\nDTSTART;TZID=Europe/Berlin:20240102T100000\r\n",
        );
        assert_eq!(content_hash(&reordered), base);
        let changed = EVENT.replace("SUMMARY:Lunch", "SUMMARY:Dinner");
        assert_ne!(content_hash(&changed), base);
        assert_eq!(base.as_str().len(), 64);
    }

    #[test]
    fn hash_ignores_timezone_definitions() {
        let with_tz = EVENT.replace(
            "BEGIN:VEVENT",
            "BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:STANDARD\r\nTZOFFSETTO:+0100\r\n\
             END:STANDARD\r\nEND:VTIMEZONE\r\nBEGIN:VEVENT",
        );
        assert_eq!(content_hash(&with_tz), content_hash(EVENT));
    }

    #[test]
    fn file_names_use_safe_uids_and_hash_the_rest() {
        assert_eq!(
            item_file_name("abc@example.com", ".ics"),
            "abc@example.com.ics"
        );
        for unsafe_uid in [
            "../../etc/passwd",
            "a/b",
            "",
            ".hidden",
            "ä",
            "a b",
            &"x".repeat(201),
        ] {
            let name = item_file_name(unsafe_uid, ".vcf");
            assert_eq!(name.len(), 64 + 4, "{unsafe_uid}");
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_hexdigit() || c == '.' || c == 'v' || c == 'f')
            );
            assert_eq!(name, item_file_name(unsafe_uid, ".vcf"), "deterministic");
        }
    }

    #[test]
    fn split_feed_groups_by_uid_and_carries_used_timezones() {
        let feed = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:feed\r\nX-WR-CALNAME:Holidays\r\n\
            BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:STANDARD\r\nTZOFFSETTO:+0100\r\n\
            END:STANDARD\r\nEND:VTIMEZONE\r\n\
            BEGIN:VTIMEZONE\r\nTZID:Unused/Zone\r\nEND:VTIMEZONE\r\n\
            BEGIN:VEVENT\r\nUID:one\r\nDTSTART;TZID=Europe/Berlin:20240101T100000\r\n\
            RRULE:FREQ=DAILY\r\nEND:VEVENT\r\n\
            BEGIN:VEVENT\r\nUID:two\r\nDTSTART:20240101\r\nEND:VEVENT\r\n\
            BEGIN:VEVENT\r\nUID:one\r\nRECURRENCE-ID;TZID=Europe/Berlin:20240102T100000\r\n\
            SUMMARY:moved\r\nEND:VEVENT\r\n\
            BEGIN:VTODO\r\nSUMMARY:no uid\r\nEND:VTODO\r\n\
            END:VCALENDAR\r\n";
        let items = split_feed(feed).unwrap();
        let uids: Vec<_> = items.iter().map(|i| i.uid.as_deref()).collect();
        assert_eq!(uids, [Some("one"), Some("two"), None]);
        let one = &items[0].data;
        assert!(
            one.starts_with("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:feed\r\n"),
            "{one}"
        );
        assert!(one.contains("TZID:Europe/Berlin"), "{one}");
        assert!(!one.contains("Unused/Zone"), "{one}");
        assert_eq!(one.matches("BEGIN:VEVENT").count(), 2, "{one}");
        assert!(one.ends_with("END:VEVENT\r\nEND:VCALENDAR\r\n"), "{one}");
        assert!(!items[1].data.contains("VTIMEZONE"));
        assert_eq!(uid(&items[1].data).as_deref(), Some("two"));
        assert!(
            items[2]
                .data
                .contains("BEGIN:VTODO\r\nSUMMARY:no uid\r\nEND:VTODO")
        );
    }

    #[test]
    fn split_feed_splits_vcards_and_survives_broken_input() {
        let cards = "BEGIN:VCARD\nUID:a\nFN:A\nEND:VCARD\nBEGIN:VCARD\nFN:B\nEND:VCARD\n";
        let items = split_feed(cards).unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].uid.as_deref(), Some("a"));
        assert_eq!(items[1].data, "BEGIN:VCARD\r\nFN:B\r\nEND:VCARD\r\n");

        let unterminated = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:x\nSUMMARY:cut off";
        let items = split_feed(unterminated).unwrap();
        assert_eq!(items.len(), 1);
        assert!(items[0].data.contains("SUMMARY:cut off"));

        let err = split_feed("<html>not a calendar</html>").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Peer);
    }

    /// Issue 12, found by fuzzing (fuzz/fuzz_targets/vobject.rs; the input as minimised): the
    /// engine finds an item by `uid(data)`, so an item split out of a feed must have the UID it
    /// was split by. `uid` took a UID from anywhere outside VALARM/VTIMEZONE, `split_feed` only
    /// one directly in a component of the calendar.
    #[test]
    fn split_items_have_the_uid_they_were_split_by() {
        let minimised: &[u8] = b"BEGIN\nBEGIN:DAYLIGHT\nUID:\0";
        let feed = std::str::from_utf8(minimised).unwrap();
        let items = split_feed(feed).unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].uid.as_deref(), Some("\0"));
        assert_eq!(uid(&items[0].data), items[0].uid);

        // The case behind it: RFC 7986 lets a calendar carry a UID of its own, which every
        // item of a feed would otherwise have been found by.
        let feed = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nUID:the-calendar\r\n\
            BEGIN:VEVENT\r\nUID:one\r\nEND:VEVENT\r\n\
            BEGIN:VEVENT\r\nBEGIN:X-PART\r\nUID:inner\r\nEND:X-PART\r\nUID:two\r\nEND:VEVENT\r\n\
            END:VCALENDAR\r\n";
        let items = split_feed(feed).unwrap();
        let uids: Vec<Option<String>> = items.iter().map(|i| uid(&i.data)).collect();
        assert_eq!(uids, [Some("one".to_owned()), Some("two".to_owned())]);
        assert_eq!(uid(feed).as_deref(), Some("one"));
    }

    /// Issue 12, found by fuzzing in the second round (fuzz/fuzz_targets/vobject.rs; the input
    /// as minimised): a VTIMEZONE still open at the end of the text became an item, and a
    /// calendar that ended inside a component left that component's text unbalanced, so an
    /// item carrying it was found by another UID than it was split by.
    #[test]
    fn split_items_stay_balanced_when_components_are_left_open() {
        let minimised: &[u8] = b"BEGIN\nBEGIN:VTIMEZONE\nUID:m";
        let feed = std::str::from_utf8(minimised).unwrap();
        assert!(split_feed(feed).is_err(), "a lone VTIMEZONE is no item");

        let feed = "BEGIN:VCALENDAR\r\nBEGIN:VTIMEZONE\r\nTZID:Z\r\nBEGIN:VEVENT\r\nUID:tz-inner\r\n\
            END:VCALENDAR\r\nBEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:real\r\n\
            DTSTART;TZID=Z:20240101T000000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let items = split_feed(feed).unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].uid.as_deref(), Some("real"));
        assert_eq!(
            uid(&items[0].data).as_deref(),
            Some("real"),
            "{}",
            items[0].data
        );
        assert!(items[0].data.contains("END:VEVENT\r\nEND:VTIMEZONE\r\n"));
    }

    /// Issue 12, found by fuzzing in the third round (fuzz/fuzz_targets/vobject.rs; the input as
    /// minimised): an outer component not called VCALENDAR let an END:VCALENDAR inside an item
    /// pass as a stray line, while the item, re-wrapped in a VCALENDAR, ended there.
    #[test]
    fn split_items_read_the_outer_component_as_the_calendar() {
        let minimised: &[u8] = b"BEGIN\nBEGIN\nEND:VCALENDAR\nUID:1";
        let feed = std::str::from_utf8(minimised).unwrap();
        for item in split_feed(feed).unwrap_or_default() {
            assert_eq!(uid(&item.data), item.uid, "{}", item.data);
        }
    }

    proptest! {
        #[test]
        fn helpers_never_panic(raw in "(BEGIN:|END:|UID:|VEVENT|VCALENDAR|VCARD|VTIMEZONE|TZID=|[;:\"\r\n \tA-Z]){0,60}") {
            let _ = uid(&raw);
            let _ = split_feed(&raw);
            let _ = content_hash(&raw);
        }

        #[test]
        fn refolding_never_changes_the_hash(summary in "[ -~]{0,200}", width in 1usize..80) {
            let item = format!("BEGIN:VEVENT\r\nUID:u\r\nSUMMARY:{summary}\r\nEND:VEVENT\r\n");
            let line = format!("SUMMARY:{summary}");
            let chars: Vec<char> = line.chars().collect();
            let folded: Vec<String> = chars.chunks(width).map(|c| c.iter().collect()).collect();
            let refolded = item.replace(&line, &folded.join("\r\n "));
            prop_assert_eq!(content_hash(&refolded), content_hash(&item));
        }
    }
}
