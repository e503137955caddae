//! vdirsyncer's status: under its `status_path` (default `~/.local/share/vdirsyncer/status/`),
//! `<pair>/<collection>.items` per collection pairing, or `<pair>.items` for a pair without
//! collections, beside `<pair>.collections` (discovery's cache, JSON: not needed here).
//!
//! An `.items` file is SQLite since vdirsyncer 0.16: table
//! `status(ident, href_a, href_b, hash_a, hash_b, etag_a, etag_b)`, one row per item both sides
//! held (a row with a side missing is a run that died midway, and is left out). Before, it was
//! JSON: one object `{ident: [href_a, etag_a, href_b, etag_b]}` or, later,
//! `{ident: [{"href", "etag", "hash"}, {…}]}`; vdirsyncer migrates either on its next run, and
//! both are read here (so are the JSON lines `[ident, entry]` of the oldest releases). The
//! hashes are vdirsyncer's own and are not read.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::dav::{CollectionStatus, ItemRecord, Recorded, StateError, Tool, entries, is_sqlite};

/// vdirsyncer's default status directory, given `$XDG_DATA_HOME` and `$HOME`.
pub fn default_status_dir(xdg_data_home: Option<&Path>, home: &Path) -> PathBuf {
    match xdg_data_home.filter(|p| p.is_absolute()) {
        Some(data) => data.join("vdirsyncer/status"),
        None => home.join(".local/share/vdirsyncer/status"),
    }
}

/// Every collection status under `dir`, in path order; a missing directory holds none.
pub fn find(dir: &Path) -> Result<Vec<CollectionStatus>, StateError> {
    let mut out = Vec::new();
    for path in entries(dir)? {
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if path.is_dir() {
            for file in entries(&path)? {
                let Some(collection) = items_stem(&file) else {
                    continue;
                };
                out.push(CollectionStatus {
                    tool: Tool::Vdirsyncer,
                    items: read_items(&file)?,
                    file,
                    pair: name.to_owned(),
                    collection: Some(collection),
                });
            }
        } else if let Some(pair) = items_stem(&path) {
            out.push(CollectionStatus {
                tool: Tool::Vdirsyncer,
                items: read_items(&path)?,
                file: path,
                pair,
                collection: None,
            });
        }
    }
    Ok(out)
}

/// `NAME` for a file `NAME.items`.
fn items_stem(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    let stem = name.strip_suffix(".items")?;
    (!stem.is_empty() && path.is_file()).then(|| stem.to_owned())
}

/// The records of one `.items` file, in either of its formats.
pub fn read_items(path: &Path) -> Result<Vec<ItemRecord>, StateError> {
    if is_sqlite(path)? {
        return read_sqlite(path);
    }
    let text = std::fs::read_to_string(path).map_err(|source| StateError::Io {
        path: path.to_owned(),
        source,
    })?;
    read_json(path, &text)
}

fn read_sqlite(path: &Path) -> Result<Vec<ItemRecord>, StateError> {
    let conn = super::dav::open_sqlite(path)?;
    let sql = |source| StateError::Sqlite {
        path: path.to_owned(),
        source,
    };
    let mut stmt = conn
        .prepare(
            "SELECT ident, href_a, etag_a, href_b, etag_b FROM status \
             WHERE href_a IS NOT NULL AND href_b IS NOT NULL ORDER BY ident",
        )
        .map_err(sql)?;
    let rows = stmt
        .query_map([], |row| {
            let side = |href: usize| -> rusqlite::Result<Recorded> {
                Ok(Recorded {
                    href: row.get(href)?,
                    etag: row.get::<_, Option<String>>(href + 1)?.unwrap_or_default(),
                })
            };
            Ok(ItemRecord {
                ident: row.get(0)?,
                a: side(1)?,
                b: side(3)?,
            })
        })
        .map_err(sql)?;
    rows.collect::<rusqlite::Result<_>>().map_err(sql)
}

fn read_json(path: &Path, text: &str) -> Result<Vec<ItemRecord>, StateError> {
    let malformed = |line: Option<usize>, why: String| StateError::Malformed {
        path: match line {
            Some(line) => format!("{}:{line}", path.display()),
            None => path.display().to_string(),
        },
        why,
    };
    let mut out = Vec::new();
    if text.trim_start().starts_with('{') {
        let value: Value =
            serde_json::from_str(text).map_err(|e| malformed(Some(e.line()), e.to_string()))?;
        let Value::Object(map) = value else {
            return Err(malformed(None, "not a JSON object".into()));
        };
        for (ident, entry) in map {
            if let Some(record) = json_entry(ident, &entry).map_err(|why| malformed(None, why))? {
                out.push(record);
            }
        }
    } else {
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let entry: Value =
                serde_json::from_str(line).map_err(|e| malformed(Some(n + 1), e.to_string()))?;
            let parsed = match entry {
                Value::Array(pair) if pair.len() == 2 => match &pair[0] {
                    Value::String(ident) => json_entry(ident.clone(), &pair[1]),
                    _ => Err("the identity is not a string".into()),
                },
                _ => Err("not an [ident, entry] pair".into()),
            };
            if let Some(record) = parsed.map_err(|why| malformed(Some(n + 1), why))? {
                out.push(record);
            }
        }
    }
    out.sort_by(|x, y| x.ident.cmp(&y.ident));
    Ok(out)
}

/// One legacy entry: `[href_a, etag_a, href_b, etag_b]` or `[{href, etag, …}, {…}]`; `None`
/// for an entry without both hrefs.
fn json_entry(ident: String, entry: &Value) -> Result<Option<ItemRecord>, String> {
    let text = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let Value::Array(parts) = entry else {
        return Err(format!("item {ident:?}: not a list"));
    };
    let sides = match parts.as_slice() {
        [href_a, etag_a, href_b, etag_b] => {
            [(href_a, etag_a), (href_b, etag_b)].map(|(href, etag)| {
                text(href).map(|href| Recorded {
                    href,
                    etag: text(etag).unwrap_or_default(),
                })
            })
        }
        [a, b] => [a, b].map(|side| {
            let href = side.get("href").and_then(text)?;
            Some(Recorded {
                href,
                etag: side.get("etag").and_then(text).unwrap_or_default(),
            })
        }),
        _ => return Err(format!("item {ident:?}: neither 2 nor 4 fields")),
    };
    let [a, b] = sides;
    Ok(a.zip(b).map(|(a, b)| ItemRecord { ident, a, b }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ident, href_a, etag_a, href_b, etag_b.
    type Row<'a> = (&'a str, Option<&'a str>, &'a str, Option<&'a str>, &'a str);

    /// The schema vdirsyncer 0.19 creates (vdirsyncer/sync/status.py).
    fn write_sqlite(path: &Path, rows: &[Row<'_>]) {
        let conn = rusqlite::Connection::open(path).unwrap();
        conn.execute_batch(
            "CREATE TABLE meta (\"version\" INTEGER PRIMARY KEY);
             INSERT INTO meta (version) VALUES (1);
             CREATE TABLE status (\"ident\" TEXT PRIMARY KEY NOT NULL, \"href_a\" TEXT,
               \"href_b\" TEXT, \"hash_a\" TEXT NOT NULL, \"hash_b\" TEXT NOT NULL,
               \"etag_a\" TEXT, \"etag_b\" TEXT);
             CREATE TABLE new_status (\"ident\" TEXT PRIMARY KEY NOT NULL, \"href_a\" TEXT,
               \"href_b\" TEXT, \"hash_a\" TEXT, \"hash_b\" TEXT, \"etag_a\" TEXT, \"etag_b\" TEXT);",
        )
        .unwrap();
        for (ident, href_a, etag_a, href_b, etag_b) in rows {
            conn.execute(
                "INSERT INTO status VALUES (?1, ?2, ?3, 'h', 'h', ?4, ?5)",
                rusqlite::params![ident, href_a, href_b, etag_a, etag_b],
            )
            .unwrap();
        }
    }

    #[test]
    fn finds_sqlite_and_json_statuses_by_pair_and_collection() {
        let dir = tempfile::tempdir().unwrap();
        let pair = dir.path().join("cal");
        std::fs::create_dir(&pair).unwrap();
        write_sqlite(
            &pair.join("work.items"),
            &[
                (
                    "u1",
                    Some("u1.ics"),
                    "1.0;2",
                    Some("/dav/work/u1.ics"),
                    "\"e1\"",
                ),
                // A run that died between the sides: left out.
                ("u2", Some("u2.ics"), "1.0;3", None, ""),
            ],
        );
        std::fs::write(
            pair.join("home.items"),
            r#"{"u3": [{"href": "u3.ics", "etag": "5.0;9", "hash": "x"}, {"href": "/dav/home/u3.ics", "etag": "\"e3\""}], "u4": ["u4.ics", "6.0;1", "/dav/home/u4.ics", "\"e4\""]}"#,
        )
        .unwrap();
        std::fs::write(
            dir.path().join("old.items"),
            "[\"u5\", [\"u5.vcf\", \"7.0;1\", \"/dav/c/u5.vcf\", \"\\\"e5\\\"\"]]\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("cal.collections"), "{}").unwrap();

        let found = find(dir.path()).unwrap();
        let names: Vec<_> = found
            .iter()
            .map(|s| (s.pair.as_str(), s.collection.as_deref(), s.items.len()))
            .collect();
        assert_eq!(
            names,
            [
                ("cal", Some("home"), 2),
                ("cal", Some("work"), 1),
                ("old", None, 1)
            ]
        );
        let work = &found[1];
        assert_eq!(work.items[0].a.href, "u1.ics");
        assert_eq!(work.items[0].b.etag, "\"e1\"");
        assert_eq!(found[0].items[1].b.href, "/dav/home/u4.ics");
        assert_eq!(found[2].items[0].ident, "u5");
        assert!(find(&dir.path().join("missing")).unwrap().is_empty());
    }

    #[test]
    fn a_broken_json_status_names_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.items");
        std::fs::write(&path, "[\"u\", [\"a\", \"1\", \"b\", \"2\"]]\n[\"v\", 3]\n").unwrap();
        let err = read_items(&path).unwrap_err().to_string();
        assert!(err.contains("p.items:2"), "{err}");
    }

    #[test]
    fn the_default_directory_follows_xdg() {
        let home = Path::new("/home/u");
        assert_eq!(
            default_status_dir(None, home),
            Path::new("/home/u/.local/share/vdirsyncer/status")
        );
        assert_eq!(
            default_status_dir(Some(Path::new("/d")), home),
            Path::new("/d/vdirsyncer/status")
        );
        assert_eq!(
            default_status_dir(Some(Path::new("rel")), home),
            Path::new("/home/u/.local/share/vdirsyncer/status")
        );
    }
}
