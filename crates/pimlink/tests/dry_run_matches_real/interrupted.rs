//! What interrupted mail runs leave behind, made by hand: status rows of copies in flight and
//! records of given-up copies, written with SQL into the status of a `Mail` world, with the
//! files such runs leave (or do not leave) on the sides. Not here: the other changes a
//! scenario makes (`mail.rs`).

use super::mail::{Mail, base_name, flags_of};
use super::*;

/// A status row of a message synced on both sides.
struct Synced {
    id: String,
    collection: String,
    /// Its key and folder on a and on b.
    a: (String, String),
    b: (String, String),
}

impl Synced {
    /// Its key and folder on `side`.
    fn on(&self, side: &str) -> (&str, &str) {
        let (key, folder) = if side == "a" { &self.a } else { &self.b };
        (key, folder)
    }
}

impl Mail {
    fn db(&self) -> PathBuf {
        self.world.state_dir().join("p.sqlite")
    }

    /// The `pick`-th (modulo their number) row of a message synced on both sides, with no copy
    /// in flight and expired nowhere; none without a status or such rows.
    fn synced(&self, pick: usize) -> Option<Synced> {
        if !self.db().exists() {
            return None;
        }
        let rows = common::sqlite(
            &self.db(),
            "SELECT i.id, i.collection, i.key_a, c.name_a, i.key_b, c.name_b \
             FROM mail_items i JOIN collections c ON c.id = i.collection \
             WHERE i.pending IS NULL AND i.expired IS NULL \
             AND i.key_a IS NOT NULL AND i.key_b IS NOT NULL ORDER BY i.id",
        );
        let rows: Vec<&str> = rows.lines().collect();
        if rows.is_empty() {
            return None;
        }
        let row: Vec<String> = rows[pick % rows.len()]
            .split('|')
            .map(str::to_owned)
            .collect();
        let [id, collection, key_a, name_a, key_b, name_b] = <[String; 6]>::try_from(row).ok()?;
        Some(Synced {
            id,
            collection,
            a: (key_a, name_a),
            b: (key_b, name_b),
        })
    }

    /// See `MailOp::Interrupt` (mail.rs).
    pub(super) fn interrupt(&self, pick: usize, to: &str, forget_key: bool, landed: bool) {
        let from = other(to);
        let Some(row) = self.synced(pick) else {
            return;
        };
        let (id, source, there) = (&row.id, row.on(from), row.on(to));
        // A run copies no message marked \Deleted, so none is the source of a copy in flight.
        // (A message marked so after the interruption is `a_resumed_copy_of_a_message_since_
        // marked_deleted_is_not_made`, in pinned.rs.)
        if self
            .file(from, source)
            .is_some_and(|path| flags_of(&path).contains('T'))
        {
            return;
        }
        let key_there = if forget_key {
            "NULL".to_owned()
        } else {
            format!("key_{to}")
        };
        common::sqlite(
            &self.db(),
            &format!(
                "UPDATE mail_items SET pending = '{to}', key_{to} = {key_there} WHERE id = {id}"
            ),
        );
        if !landed && let Some(path) = self.file(to, there) {
            fs::remove_file(path).unwrap();
        }
    }

    /// See `MailOp::LateCopy` (mail.rs).
    pub(super) fn late_copy(&mut self, pick: usize, to: &str, old: bool, landed: bool) {
        let Some(row) = self.synced(pick) else {
            return;
        };
        let (collection, source, made_again) = (&row.collection, row.on(other(to)).0, row.on(to));
        let Some(made_again) = self.file(to, made_again) else {
            return;
        };
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let at = if old { now - 7200 } else { now };
        common::sqlite(
            &self.db(),
            &format!(
                "INSERT INTO mail_abandoned_copies (collection, side, source_key, abandoned_at) \
                 VALUES ({collection}, '{to}', '{source}', {at})"
            ),
        );
        if landed {
            // What the server stored for the interrupted APPEND: the same message under a
            // name of its own, in new/.
            self.next += 1;
            let late = made_again
                .parent()
                .unwrap()
                .parent()
                .unwrap()
                .join("new")
                .join(format!("late{}", self.next));
            fs::copy(&made_again, late).unwrap();
        }
    }

    /// The file of the message with `key` in `folder` of `side`, if it is there.
    pub(super) fn file(&self, side: &str, (key, folder): (&str, &str)) -> Option<PathBuf> {
        maildir_files(&self.world.root(side).join(folder))
            .into_values()
            .flatten()
            .map(|(_, path)| path)
            .find(|path| base_name(path) == key)
    }
}
