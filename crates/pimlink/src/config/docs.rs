//! Keeps the user documentation complete: every key the parser accepts must head an entry in
//! the man page docs/pimlink-config.5 and appear in docs/config.example.toml. A key added to the
//! parser without documentation fails here, naming the key and the file to fix.

use std::collections::BTreeSet;
use std::path::Path;

use super::{
    GENERAL_KEYS, daemon::DAEMON_KEYS, mbnames, migration, pair_keys, replication, storage,
};

fn read_doc(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../docs")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// Where a key must have its man page entry: the `.SH` section, and for a storage type the
/// `.SS` subsection that names it (a storage section's entries before any subsection, such
/// as `type`, apply to every type).
#[derive(Debug)]
struct Place {
    section: &'static str,
    storage_type: Option<&'static str>,
}

/// Every key the parser accepts, with where it must be documented.
fn accepted_keys() -> Vec<(Place, &'static str)> {
    let mut keys: Vec<(Place, &'static str)> = Vec::new();
    for key in GENERAL_KEYS {
        let place = Place {
            section: "[general]",
            storage_type: None,
        };
        keys.push((place, key));
    }
    for key in DAEMON_KEYS {
        let place = Place {
            section: "[daemon]",
            storage_type: None,
        };
        keys.push((place, key));
    }
    for (ty, type_keys) in storage::keys_by_type() {
        for key in type_keys {
            keys.push((
                Place {
                    section: "STORAGES",
                    storage_type: Some(ty),
                },
                key,
            ));
        }
    }
    for key in pair_keys::all() {
        keys.push((
            Place {
                section: "PAIRS",
                storage_type: None,
            },
            key,
        ));
    }
    // The mailbox list file (issue 14).
    for key in mbnames::KEYS {
        let place = Place {
            section: "[mbnames]",
            storage_type: None,
        };
        keys.push((place, key));
    }
    // Replication (issue 15).
    for key in replication::REPLICATION_KEYS {
        let place = Place {
            section: "[replication.NAME]",
            storage_type: None,
        };
        keys.push((place, key));
    }
    // Migration (issue 15).
    for key in migration::KEYS {
        let place = Place {
            section: "[migration.NAME]",
            storage_type: None,
        };
        keys.push((place, key));
    }
    keys
}

/// One tagged paragraph of the man page (`.TP` then a `.B`/`.BR key ...` line): the words of
/// its bold line, and the section and subsection titles it stands under.
struct Entry {
    section: String,
    subsection: String,
    words: BTreeSet<String>,
}

fn man_page_entries(page: &str) -> Vec<Entry> {
    let title = |line: &str| {
        line.split_once(' ')
            .map_or("", |(_, t)| t)
            .trim_matches('"')
            .to_owned()
    };
    let (mut section, mut subsection) = (String::new(), String::new());
    let mut entries = Vec::new();
    let lines: Vec<&str> = page.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        if line.starts_with(".SH") {
            section = title(line);
            subsection.clear();
        } else if line.starts_with(".SS") {
            subsection = title(line);
        } else if line.trim() == ".TP"
            && let Some(next) = lines.get(i + 1).filter(|next| next.starts_with(".B"))
        {
            let words = next
                .split_once(' ')
                .map_or("", |(_, rest)| rest)
                .split(|c: char| c.is_whitespace() || c == '"' || c == ',')
                .filter(|w| !w.is_empty())
                .map(str::to_owned)
                .collect();
            entries.push(Entry {
                section: section.clone(),
                subsection: subsection.clone(),
                words,
            });
        }
    }
    entries
}

fn has_entry(entries: &[Entry], place: &Place, key: &str) -> bool {
    entries.iter().any(|entry| {
        entry.words.contains(key)
            && entry.section == place.section
            && match place.storage_type {
                None => true,
                Some(ty) => {
                    entry.subsection.is_empty()
                        || entry.subsection.contains(&format!("\\(dq{ty}\\(dq"))
                }
            }
    })
}

/// True if some line of the example sets `key`, possibly commented out (`# key = ...`).
fn example_sets(example: &str, key: &str) -> bool {
    example.lines().any(|line| {
        let line = line.trim_start().trim_start_matches('#').trim_start();
        line.strip_prefix(key)
            .is_some_and(|rest| rest.trim_start().starts_with('='))
    })
}

#[test]
fn every_key_is_documented() {
    let page = read_doc("pimlink-config.5");
    let example = read_doc("config.example.toml");
    let entries = man_page_entries(&page);
    let mut missing = Vec::new();
    for (place, key) in accepted_keys() {
        if !has_entry(&entries, &place, key) {
            missing.push(format!(
                "key {key:?} has no entry in docs/pimlink-config.5 at {place:?}"
            ));
        }
        if !example_sets(&example, key) {
            missing.push(format!(
                "key {key:?} ({place:?}) is not shown in docs/config.example.toml"
            ));
        }
    }
    assert!(
        missing.is_empty(),
        "undocumented keys:\n{}",
        missing.join("\n")
    );
}

#[test]
fn the_check_sees_a_missing_entry() {
    // "port" is only mentioned in body text, and "timeout" only under another type.
    let page = ".SH STORAGES\n.TP\n.BR type \" = \" t\n.SS \"type = \\(dqimap\\(dq\"\n.TP\n\
                .BR host \" = \" name\nthe port is 993\n.TP\n.BR user \", \" password\n\
                .SS \"type = \\(dqwebcal\\(dq\"\n.TP\n.B timeout\n";
    let entries = man_page_entries(page);
    let imap = Place {
        section: "STORAGES",
        storage_type: Some("imap"),
    };
    for key in ["type", "host", "user", "password"] {
        assert!(has_entry(&entries, &imap, key), "{key}");
    }
    assert!(!has_entry(&entries, &imap, "port"));
    assert!(!has_entry(&entries, &imap, "timeout"));
    let general = Place {
        section: "[general]",
        storage_type: None,
    };
    assert!(!has_entry(&entries, &general, "host"));
    assert!(example_sets("# port = 993\n", "port"));
    assert!(!example_sets("# the port is 993\n", "port"));
}

/// The arguments of a man page request line, as groff splits them: at spaces, except inside
/// an argument that starts with `"` (where `""` is a quote); each with whether it was quoted.
fn request_arguments(line: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.next_if_eq(&' ').is_some() {}
        let Some(&first) = chars.peek() else {
            return out;
        };
        let mut arg = String::new();
        if first == '"' {
            chars.next();
            while let Some(c) = chars.next() {
                if c != '"' {
                    arg.push(c);
                } else if chars.next_if_eq(&'"').is_some() {
                    arg.push('"');
                } else {
                    break;
                }
            }
            out.push((arg, true));
        } else {
            while let Some(c) = chars.next_if(|c| *c != ' ') {
                arg.push(c);
            }
            out.push((arg, false));
        }
    }
}

/// Lines whose rendering loses spaces: the font-alternating requests (`.BR`, `.IR`, ...) glue
/// their arguments together, so text meant to stay together, such as `"from a"`, must be one
/// quoted argument. An unquoted argument with an odd number of quote marks is such text cut
/// at a space (`.BR [\(dqfrom a\(dq]` renders as `["froma"]`).
fn glued_lines(page: &str) -> Vec<String> {
    const ALTERNATING: &[&str] = &[".BR", ".RB", ".IR", ".RI", ".BI", ".IB"];
    page.lines()
        .enumerate()
        .filter(|(_, line)| {
            let Some((request, rest)) = line.split_once(' ') else {
                return false;
            };
            ALTERNATING.contains(&request)
                && request_arguments(rest).iter().any(|(arg, quoted)| {
                    !quoted && (arg.matches('"').count() + arg.matches("\\(dq").count()) % 2 == 1
                })
        })
        .map(|(index, line)| format!("line {}: {line}", index + 1))
        .collect()
}

#[test]
fn the_man_page_keeps_its_spaces() {
    for page in ["pimlink-config.5", "pimlink.1"] {
        let glued = glued_lines(&read_doc(page));
        assert!(
            glued.is_empty(),
            "docs/{page}: quote the text that must stay together:\n{}",
            glued.join("\n")
        );
    }
}

#[test]
fn the_check_sees_glued_text() {
    for bad in [
        ".BR [\\(dqfrom a\\(dq, \\(dqfrom b\\(dq] .",
        ".BR conflict_resolution \" = \" \\fB\\(dqkeep a\\(dq\\fR | x",
        ".BR folder_map \" = \" [[ \\fI\"name on a\"\\fR \"], ...]\"",
    ] {
        assert_eq!(glued_lines(bad).len(), 1, "{bad}");
    }
    for good in [
        ".BR \"[\\(dqfrom a\\(dq, \\(dqfrom b\\(dq]\" .",
        ".BR \\(dq!Trash\\(dq ,",
        ".RI \\(lq index \" \" keyword \\(rq,",
        ".BR a \" = \" \\fIstorage\\fR",
        ".B \\(dqfrom a\\(dq",
        ".BR x \"say \"\"hi\"\"\"",
    ] {
        assert!(glued_lines(good).is_empty(), "{good}");
    }
    assert_eq!(
        request_arguments(" a  \"b c\" \"d\"\"e\" f\"g"),
        [
            ("a".to_owned(), false),
            ("b c".to_owned(), true),
            ("d\"e".to_owned(), true),
            ("f\"g".to_owned(), false)
        ]
    );
}
