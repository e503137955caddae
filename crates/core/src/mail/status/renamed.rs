//! A folder renamed on both sides outside a run (a replication following the master's RENAME,
//! issue 15): its pairings, and those of the folders below it, take the new name, so the next
//! run finds its items' rows under the name the folder has now instead of taking it for a
//! new folder.

use rusqlite::params;

use crate::error::Result;
use crate::name::CollectionName;
use crate::status::{StatusStore, sql};

impl StatusStore {
    /// Renames every pairing named `from` or below it (`from/...`) to `to` (`to/...`), on
    /// each side where the name matches, in one transaction; returns how many were renamed.
    ///
    /// The caller has just renamed the folder on both sides, so a pairing that still holds a
    /// new name describes a folder that no longer exists there: it is dropped with its rows.
    pub fn rename_collections(
        &mut self,
        from: &CollectionName,
        to: &CollectionName,
    ) -> Result<usize> {
        let renamed = |name: &str| -> Option<String> {
            let rest = name.strip_prefix(from.as_str())?;
            (rest.is_empty() || rest.starts_with('/')).then(|| format!("{}{rest}", to.as_str()))
        };
        let tx = self
            .conn
            .transaction()
            .map_err(sql("starting a transaction"))?;
        let rows: Vec<(i64, String, String)> = {
            let mut stmt = tx
                .prepare("SELECT id, name_a, name_b FROM collections")
                .map_err(sql("listing collections"))?;
            let rows = stmt
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
                .map_err(sql("listing collections"))?;
            rows.collect::<std::result::Result<_, _>>()
                .map_err(sql("listing collections"))?
        };
        let moving: Vec<(i64, String, String)> = rows
            .iter()
            .filter_map(|(id, a, b)| {
                let (new_a, new_b) = (renamed(a), renamed(b));
                (new_a.is_some() || new_b.is_some()).then(|| {
                    (
                        *id,
                        new_a.unwrap_or_else(|| a.clone()),
                        new_b.unwrap_or_else(|| b.clone()),
                    )
                })
            })
            .collect();
        let stale = rows.iter().filter(|(id, a, b)| {
            !moving.iter().any(|(m, _, _)| m == id)
                && moving
                    .iter()
                    .any(|(_, new_a, new_b)| a == new_a || b == new_b)
        });
        for (id, _, _) in stale {
            tx.execute("DELETE FROM collections WHERE id = ?1", [id])
                .map_err(sql("dropping a pairing the renamed folder replaces"))?;
        }
        // Through names no pairing can hold, so that pairings renamed within the moved tree
        // never meet each other's old names.
        for (id, _, _) in &moving {
            tx.execute(
                "UPDATE collections SET name_a = '\u{1}' || id, name_b = '\u{1}' || id \
                 WHERE id = ?1",
                [id],
            )
            .map_err(sql("renaming a collection"))?;
        }
        for (id, a, b) in &moving {
            tx.execute(
                "UPDATE collections SET name_a = ?2, name_b = ?3 WHERE id = ?1",
                params![id, a, b],
            )
            .map_err(sql("renaming a collection"))?;
        }
        tx.commit().map_err(sql("committing a rename"))?;
        Ok(moving.len())
    }
}

#[cfg(test)]
mod tests {
    use crate::name::CollectionName;
    use crate::status::StatusStore;

    fn name(s: &str) -> CollectionName {
        CollectionName::new(s).unwrap()
    }

    #[test]
    fn a_folder_and_the_folders_below_it_take_the_new_name() {
        let dir = tempfile::tempdir().unwrap();
        let mut status = StatusStore::open(dir.path(), "p").unwrap();
        let work = status.collection_id(&name("Work"), &name("Work")).unwrap();
        let child = status
            .collection_id(&name("Work/2025"), &name("Work/2025"))
            .unwrap();
        let other = status
            .collection_id(&name("Workshop"), &name("Workshop"))
            .unwrap();
        // A pairing left from an earlier folder of the new name.
        let stale = status
            .collection_id(&name("Projects"), &name("Projects"))
            .unwrap();
        let renamed = status
            .rename_collections(&name("Work"), &name("Projects"))
            .unwrap();
        assert_eq!(renamed, 2);
        let find = |a: &str| status.find_collection(&name(a), &name(a)).unwrap();
        assert_eq!(find("Projects"), Some(work));
        assert_eq!(find("Projects/2025"), Some(child));
        assert_eq!(find("Workshop"), Some(other));
        assert_eq!(find("Work"), None);
        assert!(status.collections().unwrap().iter().all(|c| c.id != stale));
    }
}
