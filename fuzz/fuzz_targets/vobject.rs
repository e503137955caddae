//! Arbitrary text through the iCalendar/vCard helpers the engine runs on every item it reads
//! from a server, a feed or a vdir: UID, normalised hash, file name, feed splitting. Besides
//! panics it checks the promises the sync relies on: the hash and UID do not change when lines
//! are refolded, line ends change, properties are reordered within a component or volatile
//! properties are added; a file name never leaves its directory; and an item split out of a
//! feed has the UID it was split by (the engine finds items by `uid(data)`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pimlink_core::dav::vobject::{
    ContentLine, content_hash, content_lines, item_file_name, split_feed, uid,
};

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    let item_uid = uid(raw);
    let hash = content_hash(raw);
    let lines = content_lines(raw);

    let joined = join(lines.iter().map(|l| l.line.as_str()), "\r\n");
    assert_eq!(content_lines(&joined), lines, "unfolding is idempotent");
    assert_eq!(content_hash(&joined), hash);
    assert_eq!(uid(&joined), item_uid);

    let width = 1 + data.len() % 7;
    let folded = join(lines.iter().map(|l| fold(&l.line, width)), "\n");
    assert_eq!(content_hash(&folded), hash, "refolded: {folded:?}");
    assert_eq!(uid(&folded), item_uid, "refolded: {folded:?}");

    // Only the first line can start with a blank (any later one would continue its
    // predecessor); moved, it would fold into another line.
    if !lines.iter().any(|l| l.line.starts_with([' ', '\t'])) {
        let reordered = join(reorder(&lines).into_iter(), "\r\n");
        assert_eq!(content_hash(&reordered), hash, "reordered: {reordered:?}");
    }

    let stamped = join(
        lines.iter().flat_map(|l| {
            let stamp = is_marker(l).then_some("DTSTAMP:20991231T235959Z");
            std::iter::once(l.line.as_str()).chain(stamp)
        }),
        "\r\n",
    );
    assert_eq!(content_hash(&stamped), hash, "stamped: {stamped:?}");
    assert_eq!(uid(&stamped), item_uid);

    let ident = item_uid.clone().unwrap_or_else(|| hash.as_str().to_owned());
    for extension in [".ics", ".vcf"] {
        let name = item_file_name(&ident, extension);
        assert!(
            !name.contains(['/', '\\', '\0'])
                && !name.starts_with('.')
                && name.ends_with(extension)
                && name.len() <= 255,
            "{name:?}"
        );
        assert_eq!(name, item_file_name(&ident, extension));
    }

    if let Ok(items) = split_feed(raw) {
        for item in items {
            assert_eq!(uid(&item.data), item.uid, "split item: {:?}", item.data);
            let _ = content_hash(&item.data);
        }
    }
});

fn join<'a>(lines: impl Iterator<Item = impl AsRef<str> + 'a>, end: &str) -> String {
    let mut out = String::new();
    for line in lines {
        out.push_str(line.as_ref());
        out.push_str(end);
    }
    out
}

/// `line` folded every `width` characters (RFC 5545 3.1: CRLF or LF, then one space).
fn fold(line: &str, width: usize) -> String {
    let chars: Vec<char> = line.chars().collect();
    let pieces: Vec<String> = chars.chunks(width).map(|c| c.iter().collect()).collect();
    pieces.join("\n ")
}

fn is_marker(line: &ContentLine) -> bool {
    line.is("BEGIN") || line.is("END")
}

/// The lines with each run of properties between two BEGIN/END lines reversed.
fn reorder(lines: &[ContentLine]) -> Vec<&str> {
    let mut out = Vec::with_capacity(lines.len());
    let mut run: Vec<&str> = Vec::new();
    for line in lines {
        if is_marker(line) {
            out.extend(run.drain(..).rev());
            out.push(line.line.as_str());
        } else {
            run.push(line.line.as_str());
        }
    }
    out.extend(run.drain(..).rev());
    out
}
