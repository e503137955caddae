//! A mail storage seen through a pair's name translation (`prefix_a`, `prefix_b`,
//! `folder_map`): the engine, the status and the collection patterns see the pair's names;
//! the storage sees its own, and still validates them (a translated name it cannot hold is
//! refused there, naming the folder).

use pimlink_core::mail::fingerprint::Fingerprint;
use pimlink_core::mail::item::{ItemData, NewItem};
use pimlink_core::mail::nametrans::{Exclusion, NameTranslation};
use pimlink_core::{
    CollectionInfo, CollectionName, Error, ErrorKind, Flags, ItemKey, Known, Listing, MailStore,
    Result, Side,
};

/// `inner` as side `side` of a pair with `names`. Every `MailStore` method is forwarded, also
/// those with default bodies: a storage's override (batched IMAP reads, APPENDs) must not be lost
/// behind the wrapper, so a new trait method needs a forward here too.
pub struct Renamed<S> {
    inner: S,
    side: Side,
    names: NameTranslation,
}

impl<S: MailStore> Renamed<S> {
    /// Wraps a storage.
    pub fn new(inner: S, side: Side, names: NameTranslation) -> Self {
        Self { inner, side, names }
    }

    /// The storage's own name for the pair's `name`.
    fn own(&self, name: &CollectionName) -> Result<CollectionName> {
        if self.names.is_identity() {
            return Ok(name.clone());
        }
        self.names.to_side(self.side, name).ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidName,
                format!(
                    "folder {name} has no name on side {} under the pair's name translation: \
                     it would be the name of another folder there",
                    self.side
                ),
            )
        })
    }
}

impl<S: MailStore> MailStore for Renamed<S> {
    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn concurrency(&self) -> Option<usize> {
        self.inner.concurrency()
    }

    fn another_handle(&self) -> Result<Self> {
        Ok(Self::new(
            self.inner.another_handle()?,
            self.side,
            self.names.clone(),
        ))
    }

    async fn list_collections(&mut self) -> Result<Vec<CollectionInfo>> {
        let listed = self.inner.list_collections().await?;
        if self.names.is_identity() {
            return Ok(listed);
        }
        let mut out = Vec::with_capacity(listed.len());
        for info in listed {
            match self.names.to_pair(self.side, &info.name) {
                Some(name) => out.push(CollectionInfo {
                    name,
                    selectable: info.selectable,
                }),
                None if info.selectable => match self.names.why_excluded(self.side, &info.name) {
                    Exclusion::Outside(why) => tracing::debug!(
                        "{}: folder {} is not synced: {why}",
                        self.inner.describe(),
                        info.name
                    ),
                    Exclusion::Collision(why) => tracing::warn!(
                        "{}: folder {} is not synced: {why}",
                        self.inner.describe(),
                        info.name
                    ),
                },
                None => {}
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn collections_incomplete(&self) -> bool {
        self.inner.collections_incomplete()
    }

    async fn create_collection(&mut self, name: &CollectionName) -> Result<()> {
        let own = self.own(name)?;
        self.inner.create_collection(&own).await
    }

    async fn delete_collection(&mut self, name: &CollectionName) -> Result<()> {
        let own = self.own(name)?;
        self.inner.delete_collection(&own).await
    }

    async fn change_stamp(
        &mut self,
        collection: &CollectionName,
    ) -> Result<Option<pimlink_core::ChangeStamp>> {
        let own = self.own(collection)?;
        self.inner.change_stamp(&own).await
    }

    async fn stamp_after_own_changes(
        &mut self,
        collection: &CollectionName,
    ) -> Result<Option<(pimlink_core::ChangeStamp, std::time::SystemTime)>> {
        let own = self.own(collection)?;
        self.inner.stamp_after_own_changes(&own).await
    }

    async fn list_items(
        &mut self,
        collection: &CollectionName,
        known: Known<'_>,
    ) -> Result<Listing> {
        let own = self.own(collection)?;
        self.inner.list_items(&own, known).await
    }

    fn reserve_key(&mut self) -> Option<ItemKey> {
        self.inner.reserve_key()
    }

    async fn read(&mut self, collection: &CollectionName, key: &ItemKey) -> Result<ItemData> {
        let own = self.own(collection)?;
        self.inner.read(&own, key).await
    }

    async fn read_many(
        &mut self,
        collection: &CollectionName,
        keys: &[ItemKey],
    ) -> Vec<Result<ItemData>> {
        match self.own(collection) {
            Ok(own) => self.inner.read_many(&own, keys).await,
            Err(error) => keys.iter().map(|_| Err(copy(&error))).collect(),
        }
    }

    async fn fingerprints(
        &mut self,
        collection: &CollectionName,
        keys: &[ItemKey],
    ) -> Vec<Result<Option<Fingerprint>>> {
        match self.own(collection) {
            Ok(own) => self.inner.fingerprints(&own, keys).await,
            Err(error) => keys.iter().map(|_| Err(copy(&error))).collect(),
        }
    }

    async fn dates(
        &mut self,
        collection: &CollectionName,
        keys: &[ItemKey],
    ) -> Vec<Result<Option<std::time::SystemTime>>> {
        match self.own(collection) {
            Ok(own) => self.inner.dates(&own, keys).await,
            Err(error) => keys.iter().map(|_| Err(copy(&error))).collect(),
        }
    }

    async fn sizes(
        &mut self,
        collection: &CollectionName,
        keys: &[ItemKey],
    ) -> Vec<Result<Option<u64>>> {
        match self.own(collection) {
            Ok(own) => self.inner.sizes(&own, keys).await,
            Err(error) => keys.iter().map(|_| Err(copy(&error))).collect(),
        }
    }

    async fn read_ahead(&mut self, collection: &CollectionName, items: &[(ItemKey, Option<u64>)]) {
        if let Ok(own) = self.own(collection) {
            self.inner.read_ahead(&own, items).await;
        }
    }

    async fn deliver(&mut self, collection: &CollectionName, item: NewItem<'_>) -> Result<ItemKey> {
        let own = self.own(collection)?;
        self.inner.deliver(&own, item).await
    }

    async fn deliver_many(
        &mut self,
        collection: &CollectionName,
        items: Vec<NewItem<'_>>,
    ) -> Vec<Result<ItemKey>> {
        match self.own(collection) {
            Ok(own) => self.inner.deliver_many(&own, items).await,
            Err(error) => items.iter().map(|_| Err(copy(&error))).collect(),
        }
    }

    async fn settle(&mut self, collection: &CollectionName) -> Result<()> {
        let own = self.own(collection)?;
        self.inner.settle(&own).await
    }

    async fn set_flags(
        &mut self,
        collection: &CollectionName,
        key: &ItemKey,
        flags: &Flags,
    ) -> Result<()> {
        let own = self.own(collection)?;
        self.inner.set_flags(&own, key, flags).await
    }

    fn can_move(&self) -> bool {
        self.inner.can_move()
    }

    fn can_delete(&self) -> bool {
        self.inner.can_delete()
    }

    async fn move_item(
        &mut self,
        from: &CollectionName,
        key: &ItemKey,
        to: &CollectionName,
    ) -> Result<ItemKey> {
        let (from, to) = (self.own(from)?, self.own(to)?);
        self.inner.move_item(&from, key, &to).await
    }

    async fn move_item_with_flags(
        &mut self,
        from: &CollectionName,
        key: &ItemKey,
        to: &CollectionName,
        flags: &Flags,
    ) -> Result<ItemKey> {
        let (from, to) = (self.own(from)?, self.own(to)?);
        self.inner
            .move_item_with_flags(&from, key, &to, flags)
            .await
    }

    async fn delete(&mut self, collection: &CollectionName, key: &ItemKey) -> Result<()> {
        let own = self.own(collection)?;
        self.inner.delete(&own, key).await
    }

    async fn flush(&mut self) -> Result<()> {
        self.inner.flush().await
    }

    async fn close(&mut self) {
        self.inner.close().await
    }
}

fn copy(error: &Error) -> Error {
    Error::new(error.kind(), error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pimlink_core::Content;

    /// A storage that overrides every method with a default body and notes each call.
    #[derive(Default)]
    struct Noting(Vec<&'static str>);

    impl MailStore for Noting {
        fn describe(&self) -> String {
            "noting".to_owned()
        }
        async fn list_collections(&mut self) -> Result<Vec<CollectionInfo>> {
            Ok(Vec::new())
        }
        async fn create_collection(&mut self, _: &CollectionName) -> Result<()> {
            Ok(())
        }
        async fn list_items(&mut self, _: &CollectionName, _: Known<'_>) -> Result<Listing> {
            Ok(Listing::complete(Vec::new()))
        }
        fn reserve_key(&mut self) -> Option<ItemKey> {
            None
        }
        async fn read(&mut self, _: &CollectionName, _: &ItemKey) -> Result<ItemData> {
            self.0.push("read");
            Ok(ItemData {
                content: Content::Bytes(Vec::new()),
                internal_date: None,
            })
        }
        async fn read_many(
            &mut self,
            _: &CollectionName,
            keys: &[ItemKey],
        ) -> Vec<Result<ItemData>> {
            self.0.push("read_many");
            keys.iter()
                .map(|_| Err(Error::new(ErrorKind::NotFound, "none")))
                .collect()
        }
        async fn fingerprints(
            &mut self,
            _: &CollectionName,
            keys: &[ItemKey],
        ) -> Vec<Result<Option<Fingerprint>>> {
            self.0.push("fingerprints");
            keys.iter().map(|_| Ok(None)).collect()
        }
        async fn dates(
            &mut self,
            _: &CollectionName,
            keys: &[ItemKey],
        ) -> Vec<Result<Option<std::time::SystemTime>>> {
            self.0.push("dates");
            keys.iter().map(|_| Ok(None)).collect()
        }
        async fn sizes(
            &mut self,
            _: &CollectionName,
            keys: &[ItemKey],
        ) -> Vec<Result<Option<u64>>> {
            self.0.push("sizes");
            keys.iter().map(|_| Ok(None)).collect()
        }
        async fn read_ahead(&mut self, _: &CollectionName, _: &[(ItemKey, Option<u64>)]) {
            self.0.push("read_ahead");
        }
        async fn settle(&mut self, _: &CollectionName) -> Result<()> {
            self.0.push("settle");
            Ok(())
        }
        async fn deliver(&mut self, _: &CollectionName, _: NewItem<'_>) -> Result<ItemKey> {
            Ok(ItemKey::new("k"))
        }
        async fn set_flags(&mut self, _: &CollectionName, _: &ItemKey, _: &Flags) -> Result<()> {
            Ok(())
        }
        async fn delete(&mut self, _: &CollectionName, _: &ItemKey) -> Result<()> {
            Ok(())
        }
        async fn flush(&mut self) -> Result<()> {
            Ok(())
        }
    }

    /// Without the forwards, the trait's defaults would read every message's body to learn
    /// its date or size (issue 12: `max_messages` fetched every body on the first run).
    #[test]
    fn methods_with_default_bodies_reach_the_storage_inside() {
        let mut renamed = Renamed::new(Noting::default(), Side::A, NameTranslation::default());
        let inbox = CollectionName::new("INBOX").unwrap();
        let keys = [ItemKey::new("1")];
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(async {
                renamed.read_many(&inbox, &keys).await;
                renamed.fingerprints(&inbox, &keys).await;
                renamed.dates(&inbox, &keys).await;
                renamed.sizes(&inbox, &keys).await;
                renamed.read_ahead(&inbox, &[(keys[0].clone(), None)]).await;
                renamed.settle(&inbox).await.unwrap();
            });
        assert_eq!(
            renamed.inner.0,
            [
                "read_many",
                "fingerprints",
                "dates",
                "sizes",
                "read_ahead",
                "settle"
            ]
        );
    }
}
