//! Mailbox commands: the account's folders, their counters, and selecting one.

use pimlink_core::Error;

use super::Client;
use crate::proto::commands::{
    List, ListStatus, MailboxOp, Namespace, Select, SelectOptions, SelectedMailbox, SetSpecialUse,
    Status, Unselect,
};
use crate::proto::response::{ListEntry, MailboxStatus, NamespaceEntry};

impl Client {
    /// NAMESPACE: personal, other users' and shared namespaces.
    pub async fn namespace(&mut self) -> Result<[Vec<NamespaceEntry>; 3], Error> {
        self.run(Namespace::default()).await
    }

    /// LIST `reference` `pattern` (e.g. `""`, `"*"`).
    pub async fn list(&mut self, reference: &str, pattern: &str) -> Result<Vec<ListEntry>, Error> {
        self.run(List::new(reference, pattern)).await
    }

    /// LSUB: the subscribed mailboxes.
    pub async fn lsub(&mut self, reference: &str, pattern: &str) -> Result<Vec<ListEntry>, Error> {
        self.run(List::subscribed(reference, pattern)).await
    }

    /// LIST with `RETURN (STATUS ...)` (RFC 5819): every mailbox with its counters in one round
    /// trip, which is what makes an unchanged account cheap to resync. `Unsupported` if the
    /// server lacks LIST-STATUS.
    pub async fn list_status(
        &mut self,
        pattern: &str,
    ) -> Result<Vec<(ListEntry, Option<MailboxStatus>)>, Error> {
        self.run(ListStatus::new(pattern)).await
    }

    /// Every mailbox with its MAILBOXID (RFC 8474), in one round trip. `Unsupported` if the
    /// server lacks OBJECTID or LIST-STATUS.
    pub async fn mailbox_ids(&mut self) -> Result<Vec<(ListEntry, Option<String>)>, Error> {
        let entries = self.run(ListStatus::mailbox_ids("*")).await?;
        Ok(entries
            .into_iter()
            .map(|(entry, status)| (entry, status.and_then(|s| s.mailbox_id)))
            .collect())
    }

    /// Gives `mailbox` the special-use `attribute` (`\Sent`...), or none, through METADATA's
    /// `/private/specialuse` (RFC 6154 section 5.1). `Unsupported` without METADATA; a server
    /// that keeps the attribute to itself answers NO.
    pub async fn set_special_use(
        &mut self,
        mailbox: &str,
        attribute: Option<&str>,
    ) -> Result<(), Error> {
        self.run(SetSpecialUse::new(mailbox, attribute)).await
    }

    /// STATUS of one mailbox (MESSAGES, UIDNEXT, UIDVALIDITY, UNSEEN, and HIGHESTMODSEQ with
    /// CONDSTORE).
    pub async fn status(&mut self, mailbox: &str) -> Result<MailboxStatus, Error> {
        self.run(Status::new(mailbox)).await
    }

    /// STATUS of several mailboxes, pipelined: every command goes out before the first reply
    /// is read, so the whole list costs one round trip (for servers without LIST-STATUS).
    /// Each mailbox gets its own result, in order; a missing one is `NotFound`.
    pub async fn status_many(
        &mut self,
        mailboxes: &[&str],
    ) -> Result<Vec<Result<MailboxStatus, Error>>, Error> {
        let commands = mailboxes.iter().map(|m| Status::new(m)).collect();
        self.run_all_answered(commands, "STATUS").await
    }

    /// CREATE a mailbox.
    pub async fn create(&mut self, mailbox: &str) -> Result<(), Error> {
        self.run(MailboxOp::create(mailbox)).await
    }

    /// DELETE a mailbox.
    pub async fn delete(&mut self, mailbox: &str) -> Result<(), Error> {
        self.run(MailboxOp::delete(mailbox)).await
    }

    /// RENAME a mailbox.
    pub async fn rename(&mut self, from: &str, to: &str) -> Result<(), Error> {
        self.run(MailboxOp::rename(from, to)).await
    }

    /// SUBSCRIBE to a mailbox.
    pub async fn subscribe(&mut self, mailbox: &str) -> Result<(), Error> {
        self.run(MailboxOp::subscribe(mailbox)).await
    }

    /// UNSUBSCRIBE from a mailbox.
    pub async fn unsubscribe(&mut self, mailbox: &str) -> Result<(), Error> {
        self.run(MailboxOp::unsubscribe(mailbox)).await
    }

    /// SELECT (or EXAMINE) a mailbox, with CONDSTORE or QRESYNC when asked and offered
    /// (QRESYNC is ENABLEd first).
    pub async fn select(
        &mut self,
        mailbox: &str,
        options: SelectOptions,
    ) -> Result<SelectedMailbox, Error> {
        if options.qresync.is_some() && self.has("QRESYNC") && !self.is_enabled("QRESYNC") {
            self.enable(&["QRESYNC"]).await?;
        }
        self.run(Select::new(mailbox, options)).await
    }

    /// Leaves the selected mailbox without expunging (UNSELECT, or a failing EXAMINE where
    /// UNSELECT is missing: CLOSE would expunge).
    pub async fn unselect(&mut self) -> Result<(), Error> {
        self.run(Unselect::default()).await
    }
}
