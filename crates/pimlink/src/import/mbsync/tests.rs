//! Unit tests of the mbsync import.

use std::path::Path;

use super::*;

fn import(text: &str) -> String {
    let config = pimlink_foreign::config::mbsync::parse(Path::new("/rc"), text).unwrap();
    translate(&config).render()
}

/// mbsync's defaults differ from pimlink's: STARTTLS, no folder creation, no expunge.
#[test]
fn mbsync_defaults_are_written_out() {
    let out = import(
        "IMAPAccount a\nHost mail.example.org\nUser u\nPassCmd \"pass x\"\n\n\
         IMAPStore r\nAccount a\n\nMaildirStore l\nPath ~/Mail/\nInbox ~/Mail/INBOX\n\n\
         Channel c\nFar :r:\nNear :l:\nPatterns *\n",
    );
    let table: toml::Table = out.parse().unwrap();
    assert_eq!(
        table["storage"]["r"]["tls"].as_str(),
        Some("starttls"),
        "{out}"
    );
    let pair = &table["pair"]["c"];
    assert_eq!(pair["create"].as_array().map(Vec::len), Some(0), "{out}");
    assert_eq!(pair["expunge"].as_array().map(Vec::len), Some(0), "{out}");
    assert!(pair.get("direction").is_none() && pair.get("operations").is_none());
    assert!(table["storage"]["l"].get("inbox").is_none(), "{out}");
}

#[test]
fn a_separator_pimlink_cannot_take_is_a_warning() {
    let store = |sep: &str| import(&format!("MaildirStore l\nPath ~/Mail/\nFlatten {sep}\n"));
    assert!(store(".").contains("flatten = \".\""));
    let out = store("::");
    assert!(!out.contains("flatten ="), "{out}");
    assert!(
        out.contains("WARNING: the folder levels were separated with \"::\""),
        "{out}"
    );
}

#[test]
fn sync_becomes_direction_and_operations() {
    let cases = [
        ("Sync Pull", Some("a-to-b"), None),
        ("Sync Push New", Some("b-to-a"), Some(vec!["new"])),
        ("Sync New Delete", None, Some(vec!["new", "delete"])),
        ("Sync PullNew PushNew PullFlags", None, Some(vec!["new"])),
    ];
    for (sync, direction, operations) in cases {
        let out = import(&format!(
            "MaildirStore x\nPath /x/\n\nMaildirStore y\nPath /y/\n\n\
             Channel c\nFar :x:\nNear :y:\n{sync}\n"
        ));
        let table: toml::Table = out.parse().unwrap();
        let pair = &table["pair"]["c"];
        assert_eq!(
            pair.get("direction").and_then(|d| d.as_str()),
            direction,
            "{sync}"
        );
        let ops: Option<Vec<&str>> = pair
            .get("operations")
            .and_then(|o| o.as_array())
            .map(|a| a.iter().filter_map(|v| v.as_str()).collect());
        assert_eq!(ops, operations, "{sync}");
    }
}
