//! `impl MailStore for ImapStore`: the engine's entry points, each a thin step that finds the
//! folder, retries what is safe to repeat ([`Repeat`]) and hands the work to the file that does
//! it (`folders.rs`, `listing.rs`, `reading.rs`, `writing.rs`, `moving.rs`, `settle.rs`).
//!
//! Key types: none of its own. Not here: the store's state and overview (`mod.rs`), the
//! commands themselves (the files above), reconnecting (`connection.rs`).

use pimlink_core::mail::fingerprint::Fingerprint;
use pimlink_core::{
    CollectionInfo, CollectionName, Error, ErrorKind, Flags, ItemData, ItemKey, Known, Listing,
    MailStore, NewItem,
};

use super::ImapStore;
use super::retry::Repeat;

impl MailStore for ImapStore {
    fn describe(&self) -> String {
        match &self.options.tunnel {
            Some(command) if self.options.user.is_empty() => format!("imap via tunnel {command:?}"),
            Some(command) => format!("imap {} via tunnel {command:?}", self.options.user),
            None => format!(
                "imap {}@{}:{}",
                self.options.user,
                self.options.host,
                self.options.effective_port()
            ),
        }
    }

    fn concurrency(&self) -> Option<usize> {
        Some(self.connections)
    }

    /// A store on the same account that knows the folders this one listed but none of their
    /// messages (it lists those itself) and logs in on first use with the password this one
    /// resolved.
    fn another_handle(&self) -> Result<Self, Error> {
        if self.password.is_some() {
            // Resolving it again could run a password command (and prompt) a second time.
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!("{} has not logged in yet", self.describe()),
            ));
        }
        Ok(Self {
            delimiter: self.delimiter,
            folders: self.folders.clone(),
            retry: self.retry,
            uidplus: self.uidplus,
            subscribed_only: self.subscribed_only,
            connections: self.connections,
            examine_only: self.examine_only,
            refused_login: self.refused_login.clone(),
            password_refresh: self.password_refresh.clone(),
            ..Self::new(self.options.clone())
        })
    }

    async fn list_collections(&mut self) -> Result<Vec<CollectionInfo>, Error> {
        let mut failures = 0;
        loop {
            match self.list_folders().await {
                Ok(folders) => return Ok(folders),
                Err(e) => self.after_failure(e, Repeat::Safe, &mut failures).await?,
            }
        }
    }

    fn collections_incomplete(&self) -> bool {
        self.folders_incomplete
    }

    async fn create_collection(&mut self, name: &CollectionName) -> Result<(), Error> {
        let mut failures = 0;
        loop {
            match self.create_folder(name).await {
                Ok(()) => return Ok(()),
                Err(e) => self.after_failure(e, Repeat::Safe, &mut failures).await?,
            }
        }
    }

    async fn delete_collection(&mut self, name: &CollectionName) -> Result<(), Error> {
        self.delete_folder(name)
            .await
            .map_err(|e| e.context(format!("removing folder {name}")))
    }

    async fn change_stamp(
        &mut self,
        collection: &CollectionName,
    ) -> Result<Option<pimlink_core::ChangeStamp>, Error> {
        Ok(self.counters_stamp(collection))
    }

    async fn stamp_after_own_changes(
        &mut self,
        collection: &CollectionName,
    ) -> Result<Option<(pimlink_core::ChangeStamp, std::time::SystemTime)>, Error> {
        self.stamp_after_own(collection).await
    }

    async fn list_items(
        &mut self,
        collection: &CollectionName,
        known: Known<'_>,
    ) -> Result<Listing, Error> {
        let mut failures = 0;
        loop {
            // A listing cut short is never used: only a complete one returns.
            match self.list_messages(collection, known).await {
                Ok(listing) => return Ok(listing),
                Err(e) => self
                    .after_failure(e, Repeat::Safe, &mut failures)
                    .await
                    .map_err(|e| e.context(format!("listing {collection}")))?,
            }
        }
    }

    fn reserve_key(&mut self) -> Option<ItemKey> {
        None
    }

    async fn read(
        &mut self,
        collection: &CollectionName,
        key: &ItemKey,
    ) -> Result<ItemData, Error> {
        let mut results = self
            .read_messages(collection, std::slice::from_ref(key))
            .await;
        results
            .pop()
            .unwrap_or_else(|| Err(Error::new(ErrorKind::NotFound, format!("{key} not read"))))
    }

    async fn read_many(
        &mut self,
        collection: &CollectionName,
        keys: &[ItemKey],
    ) -> Vec<Result<ItemData, Error>> {
        self.read_messages(collection, keys).await
    }

    async fn fingerprints(
        &mut self,
        collection: &CollectionName,
        keys: &[ItemKey],
    ) -> Vec<Result<Option<Fingerprint>, Error>> {
        self.read_fingerprints(collection, keys).await
    }

    async fn dates(
        &mut self,
        collection: &CollectionName,
        keys: &[ItemKey],
    ) -> Vec<Result<Option<std::time::SystemTime>, Error>> {
        self.read_dates(collection, keys).await
    }

    async fn sizes(
        &mut self,
        collection: &CollectionName,
        keys: &[ItemKey],
    ) -> Vec<Result<Option<u64>, Error>> {
        self.read_sizes(collection, keys).await
    }

    async fn read_ahead(&mut self, collection: &CollectionName, items: &[(ItemKey, Option<u64>)]) {
        self.read_ahead_bodies(collection, items).await;
    }

    async fn deliver(
        &mut self,
        collection: &CollectionName,
        item: NewItem<'_>,
    ) -> Result<ItemKey, Error> {
        self.append_message(collection, item)
            .await
            .map_err(|e| e.context(format!("delivering to {collection} on {}", self.describe())))
    }

    async fn deliver_many(
        &mut self,
        collection: &CollectionName,
        items: Vec<NewItem<'_>>,
    ) -> Vec<Result<ItemKey, Error>> {
        let context = format!("delivering to {collection} on {}", self.describe());
        self.append_messages(collection, items)
            .await
            .into_iter()
            .map(|result| result.map_err(|e| e.context(&context)))
            .collect()
    }

    async fn settle(&mut self, collection: &CollectionName) -> Result<(), Error> {
        self.settle_folder(collection).await
    }

    async fn set_flags(
        &mut self,
        collection: &CollectionName,
        key: &ItemKey,
        flags: &Flags,
    ) -> Result<(), Error> {
        let mut failures = 0;
        loop {
            match self.queue_flags(collection, key, flags).await {
                Ok(()) => return Ok(()),
                Err(e) => self.after_failure(e, Repeat::Safe, &mut failures).await?,
            }
        }
    }

    fn can_move(&self) -> bool {
        self.moves_supported()
    }

    fn can_delete(&self) -> bool {
        // UID EXPUNGE needs UIDPLUS too (see `queue_delete`).
        self.moves_supported()
    }

    async fn move_item(
        &mut self,
        from: &CollectionName,
        key: &ItemKey,
        to: &CollectionName,
    ) -> Result<ItemKey, Error> {
        self.move_message(from, key, to).await
    }

    async fn delete(&mut self, collection: &CollectionName, key: &ItemKey) -> Result<(), Error> {
        let mut failures = 0;
        loop {
            match self.queue_delete(collection, key).await {
                Ok(()) => return Ok(()),
                Err(e) => self.after_failure(e, Repeat::Safe, &mut failures).await?,
            }
        }
    }

    async fn flush(&mut self) -> Result<(), Error> {
        self.flush_pending().await
    }

    async fn close(&mut self) {
        // Bounded, so that a server that stopped answering cannot hold up the end of a run.
        let _ = tokio::time::timeout(LOGOUT_WAIT, self.logout()).await;
    }
}

/// How long the LOGOUT at the end of a run may wait for the server's answer.
const LOGOUT_WAIT: std::time::Duration = std::time::Duration::from_secs(5);
