//! Splitting a whole-calendar feed (webcal, one `.ics` file) into one item per UID, each a
//! complete VCALENDAR with the feed's own properties and the VTIMEZONEs it uses, or a file of
//! vCards into one item per card. Broken input is split as far as it goes; only a text without
//! any component fails.
//!
//! Key types: [`SplitItem`]. Not here: the UID and hash of an item (`item.rs`).

use std::collections::{BTreeMap, BTreeSet};

use crate::error::{Error, ErrorKind, Result};

use super::item::uid;
use super::lines::{ContentLine, component_name, content_lines, split_params};

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

fn join(lines: &[String]) -> String {
    let mut out = String::with_capacity(lines.iter().map(|l| l.len() + 2).sum());
    for line in lines {
        out.push_str(line);
        out.push_str("\r\n");
    }
    out
}
