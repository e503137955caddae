//! pimsync's status: one SQLite database per pair, `<status_path>/<pair>.status`
//! (vstorage's `StatusDatabase`, documented as internal and subject to change):
//! `collections(uid, href_a, href_b, …)` pairs a collection's hrefs on both sides (a vdir
//! collection's href is its directory name, a server's its path), and
//! `items(ident, mapping_uid, hash, href_a, etag_a, href_b, etag_b)` holds one row per item
//! both sides held, `mapping_uid` naming its collection pairing. Only these columns are read,
//! so the columns later versions add (`id_a`, sync tokens, `properties`) do not matter.
//!
//! pimsync's vdir items have hrefs `collection/file`; its vdir etags are
//! `"{mtime seconds};{inode}"` ([`super::dav::Tool::local_etag_matches`]).

use std::path::{Path, PathBuf};

use super::dav::{
    CollectionStatus, ItemRecord, Recorded, StateError, Tool, entries, is_sqlite, open_sqlite,
};

/// pimsync's default status directory, given `$XDG_DATA_HOME` and `$HOME`.
pub fn default_status_dir(xdg_data_home: Option<&Path>, home: &Path) -> PathBuf {
    match xdg_data_home.filter(|p| p.is_absolute()) {
        Some(data) => data.join("pimsync/status"),
        None => home.join(".local/share/pimsync/status"),
    }
}

/// Every collection status in the `*.status` databases of `dir` (or in `dir` itself if it
/// is one database); a missing directory holds none.
pub fn find(dir: &Path) -> Result<Vec<CollectionStatus>, StateError> {
    if dir.is_file() {
        return read(dir);
    }
    let mut out = Vec::new();
    for path in entries(dir)? {
        if path.extension().is_some_and(|e| e == "status") && path.is_file() && is_sqlite(&path)? {
            out.extend(read(&path)?);
        }
    }
    Ok(out)
}

/// The collection pairings of one pair's database, in collection order.
pub fn read(path: &Path) -> Result<Vec<CollectionStatus>, StateError> {
    let conn = open_sqlite(path)?;
    let sql = |source| StateError::Sqlite {
        path: path.to_owned(),
        source,
    };
    let pair = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_owned();
    let mut collections: Vec<(i64, String, String)> = Vec::new();
    {
        let mut stmt = conn
            .prepare("SELECT uid, href_a, href_b FROM collections ORDER BY uid")
            .map_err(sql)?;
        let rows = stmt
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .map_err(sql)?;
        for row in rows {
            collections.push(row.map_err(sql)?);
        }
    }
    // mapping_uid is declared TEXT but holds the collection's integer uid; CAST matches
    // either way it was stored.
    let mut stmt = conn
        .prepare(
            "SELECT ident, href_a, etag_a, href_b, etag_b FROM items \
             WHERE CAST(mapping_uid AS INTEGER) = ?1 ORDER BY ident",
        )
        .map_err(sql)?;
    let mut out = Vec::new();
    for (uid, href_a, href_b) in collections {
        let items = stmt
            .query_map([uid], |row| {
                Ok(ItemRecord {
                    ident: row.get(0)?,
                    a: Recorded {
                        href: row.get(1)?,
                        etag: row.get(2)?,
                    },
                    b: Recorded {
                        href: row.get(3)?,
                        etag: row.get(4)?,
                    },
                })
            })
            .map_err(sql)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(sql)?;
        // The vdir side's href is the directory name, the server's a path: name the
        // collection by the directory, as pimsync's `collection` directives do.
        let collection = [href_a, href_b]
            .into_iter()
            .find(|h| !h.starts_with('/') && !h.contains("://"));
        out.push(CollectionStatus {
            tool: Tool::Pimsync,
            file: path.to_owned(),
            pair: pair.clone(),
            collection,
            items,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The schema of vstorage's `StatusDatabase::init_schema` (schema version 2), written by
    /// hand from its documentation: pimsync cannot be built here.
    fn write_status(path: &Path) {
        let conn = rusqlite::Connection::open(path).unwrap();
        conn.execute_batch(
            "CREATE TABLE meta (version INTEGER PRIMARY KEY);
             INSERT INTO meta (version) VALUES (2);
             CREATE TABLE collections (uid INTEGER PRIMARY KEY AUTOINCREMENT, id_a TEXT,
               href_a TEXT NOT NULL, id_b TEXT, href_b TEXT NOT NULL);
             CREATE TABLE items (ident TEXT NOT NULL, mapping_uid TEXT NOT NULL,
               hash TEXT NOT NULL, href_a TEXT NOT NULL, etag_a TEXT NOT NULL,
               href_b TEXT NOT NULL, etag_b TEXT NOT NULL,
               FOREIGN KEY(mapping_uid) REFERENCES collections(uid));
             INSERT INTO collections (id_a, href_a, id_b, href_b)
               VALUES ('work', '/dav/u/work/', 'work', 'work');
             INSERT INTO collections (id_a, href_a, id_b, href_b)
               VALUES ('home', '/dav/u/home/', 'home', 'home');
             INSERT INTO items VALUES ('u1', 1, 'H', '/dav/u/work/u1.ics', '\"e1\"',
               'work/u1.ics', '1733600000;77');
             INSERT INTO items VALUES ('u2', '1', 'H', '/dav/u/work/u2.ics', '\"e2\"',
               'work/u2.ics', '1733600000;78');
             INSERT INTO items VALUES ('u3', 2, 'H', '/dav/u/home/u3.ics', '\"e3\"',
               'home/u3.ics', '1733600000;79');",
        )
        .unwrap();
    }

    #[test]
    fn reads_collections_and_items_of_each_pair() {
        let dir = tempfile::tempdir().unwrap();
        write_status(&dir.path().join("calendars.status"));
        std::fs::write(dir.path().join("notes.txt"), "not a status").unwrap();
        let found = find(dir.path()).unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].pair, "calendars");
        assert_eq!(found[0].collection.as_deref(), Some("work"));
        let idents: Vec<_> = found[0].items.iter().map(|i| i.ident.as_str()).collect();
        assert_eq!(idents, ["u1", "u2"]);
        assert_eq!(found[0].items[0].b.file_name(), "u1.ics");
        assert_eq!(found[0].local_side(), Some(super::super::dav::ToolSide::B));
        assert_eq!(found[1].collection.as_deref(), Some("home"));
        assert_eq!(found[1].items[0].a.etag, "\"e3\"");
        // A file path reads that database alone.
        assert_eq!(find(&dir.path().join("calendars.status")).unwrap(), found);
    }

    #[test]
    fn a_database_without_pimsync_tables_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.status");
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE other (a);")
            .unwrap();
        let err = find(dir.path()).unwrap_err().to_string();
        assert!(err.contains("x.status"), "{err}");
    }
}
