//! Unit tests of `vobject`: content lines, UIDs, hashes, file names and feed splitting, with
//! a property test that refolding never changes the hash.

use super::*;
use proptest::prelude::*;

use crate::error::ErrorKind;

const EVENT: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//A//B//EN\r\n\
    BEGIN:VEVENT\r\nUID:abc@example.com\r\nDTSTAMP:20240101T000000Z\r\n\
    DTSTART;TZID=Europe/Berlin:20240102T100000\r\nSUMMARY:Lunch\r\n\
    BEGIN:VALARM\r\nUID:alarm-1\r\nACTION:DISPLAY\r\nEND:VALARM\r\n\
    END:VEVENT\r\nEND:VCALENDAR\r\n";

#[test]
fn content_lines_unfold_and_split_name_params_value() {
    let lines =
        content_lines("DESCRIPTION;ALTREP=\"cid:a:b\";LANGUAGE=en:Hello\r\n  wor\n\tld\rX:1\n\n");
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
