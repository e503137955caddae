//! What interrupted mail runs leave behind, made by hand: status rows of copies in flight and
//! records of given-up copies, written with SQL into the status of a `Mail` world, with the
//! files such runs leave (or do not leave) on the sides. Not here: the other changes a
//! scenario makes (`mail.rs`).

use super::mail::{Mail, base_name, flags_of};
use super::*;

impl Mail {
    /// See `MailOp::Interrupt` (mail.rs).
    pub(super) fn interrupt(&self, pick: usize, to: &str, forget_key: bool, landed: bool) {
        let from = other(to);
        let db = self.world.state_dir().join("p.sqlite");
        if !db.exists() {
            return;
        }
        let rows = common::sqlite(
            &db,
            &format!(
                "SELECT i.id, i.key_{from}, c.name_{from}, i.key_{to}, c.name_{to} \
                 FROM mail_items i JOIN collections c ON c.id = i.collection \
                 WHERE i.pending IS NULL AND i.expired IS NULL \
                 AND i.key_a IS NOT NULL AND i.key_b IS NOT NULL ORDER BY i.id"
            ),
        );
        let rows: Vec<&str> = rows.lines().collect();
        if rows.is_empty() {
            return;
        }
        let row: Vec<&str> = rows[pick % rows.len()].split('|').collect();
        let (id, source, there) = (row[0], (row[1], row[2]), (row[3], row[4]));
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
            &db,
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
        let from = other(to);
        let db = self.world.state_dir().join("p.sqlite");
        if !db.exists() {
            return;
        }
        let rows = common::sqlite(
            &db,
            &format!(
                "SELECT i.collection, i.key_{from}, i.key_{to}, c.name_{to} \
                 FROM mail_items i JOIN collections c ON c.id = i.collection \
                 WHERE i.pending IS NULL AND i.expired IS NULL \
                 AND i.key_a IS NOT NULL AND i.key_b IS NOT NULL ORDER BY i.id"
            ),
        );
        let rows: Vec<&str> = rows.lines().collect();
        if rows.is_empty() {
            return;
        }
        let row: Vec<&str> = rows[pick % rows.len()].split('|').collect();
        let (collection, source, made_again) = (row[0], row[1], (row[2], row[3]));
        let Some(made_again) = self.file(to, made_again) else {
            return;
        };
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let at = if old { now - 7200 } else { now };
        common::sqlite(
            &db,
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
