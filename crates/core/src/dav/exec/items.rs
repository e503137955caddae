//! Carrying out a collection's item actions: copies, updates and deletions (conditional on
//! the etag seen), conflicts through a resolver, and the flush that makes them durable before
//! they are recorded.
//!
//! A dry run goes through the same code and records the same rows in its copy of the status,
//! but writes nothing to the sides and reads no content for writes it does not make (wire
//! traffic stays that of the planning). Where a real run records what a side returned, the
//! dry run records [`NOT_WRITTEN`] in its place.

use crate::dav::store::{Etag, Href, ItemStore};
use crate::dav::vobject::content_hash;
use crate::error::{Error, ErrorKind, Result};
use crate::side::{PerSide, Side};

use super::super::collections::CollectionPlan;
use super::super::model::{ItemVersion, RowChange};
use super::super::plan::ItemAction;
use super::join::join_all;
use super::listing::SideView;
use super::{CollectionReport, ConflictResolver, Dav, ItemPair, Observer};

/// What a dry run records for the href and etag a side would return for a write it does not
/// make (a new item's href and etag, an updated item's etag): the side chooses them, so they
/// cannot be known. The rows land in a copy of the status that is thrown away at the end of
/// the run; within the run they are read again only to digest a side's listing state, which
/// goes to the copy too. An empty etag also matches no listed item, so even a row that outlived
/// the run would make the next run fetch the item and match it by content, never trust it.
const NOT_WRITTEN: &str = "";

/// One collection's execution.
pub(super) struct Run<'r, 's, A, B> {
    pub(super) pair: &'r mut ItemPair<'s, A, B>,
    pub(super) id: i64,
    /// Write nothing to the sides (the status is a dry run's copy).
    pub(super) dry_run: bool,
    pub(super) plan: &'r CollectionPlan,
    pub(super) views: &'r mut PerSide<SideView>,
    pub(super) report: &'r mut CollectionReport,
    pub(super) observer: &'r mut dyn Observer<Dav>,
    pub(super) resolver: Option<&'r mut dyn ConflictResolver>,
    /// Writes made but not yet flushed and recorded.
    pub(super) pending: Vec<(ItemAction, RowChange)>,
}

impl<A: ItemStore, B: ItemStore> Run<'_, '_, A, B> {
    /// Carries out a batch: the writes concurrently (a DAV client keeps several requests in
    /// flight), conflicts one by one (a resolver may ask the user).
    pub(super) async fn execute(&mut self, batch: &[ItemAction]) {
        let (conflicts, writes): (Vec<&ItemAction>, Vec<&ItemAction>) = batch
            .iter()
            .partition(|a| matches!(a, ItemAction::Conflict { .. }));
        let results = {
            let this = &*self;
            join_all(writes.iter().map(|action| this.write(action)).collect()).await
        };
        for (action, result) in writes.into_iter().zip(results) {
            self.finish(action, result);
        }
        for action in conflicts {
            if self.dry_run && self.resolver.is_some() {
                // A dry run runs no resolver (it may be the user's command): the conflict is
                // shown as planned, and nothing is recorded, as a real run records nothing
                // before resolving it. Without a resolver the real run's error follows below.
                self.report.done.record(action);
                continue;
            }
            let result = self.conflict(action.uid()).await;
            self.finish(action, result);
        }
    }

    /// Carries out one action other than a conflict; returns what to record.
    async fn write(&self, action: &ItemAction) -> Result<RowChange> {
        let uid = action.uid().to_owned();
        match action {
            ItemAction::Record { .. } => self.versions(&uid).map(|(a, b)| RowChange::Record {
                uid: uid.clone(),
                a,
                b,
            }),
            ItemAction::Forget { .. } => Ok(RowChange::Remove { uid: uid.clone() }),
            ItemAction::Copy { from, .. } => self.copy(&uid, *from).await,
            ItemAction::Update { from, .. } => self.update(&uid, *from).await,
            ItemAction::Delete { side, .. } => self.delete(&uid, *side).await,
            ItemAction::Conflict { .. } => Err(unresolved()),
        }
    }

    fn finish(&mut self, action: &ItemAction, result: Result<RowChange>) {
        match result {
            Ok(change) => self.pending.push((action.clone(), change)),
            Err(error) => {
                let name = &self.plan.name;
                self.report
                    .errors
                    .push(error.context(format!("collection {name}: {action}")));
            }
        }
    }

    /// The current version of `uid` on `side`.
    fn version(&self, uid: &str, side: Side) -> Result<ItemVersion> {
        self.views.get(side).now.get(uid).cloned().ok_or_else(|| {
            Error::new(
                ErrorKind::State,
                format!("item {uid} is not on side {side}"),
            )
        })
    }

    /// Both sides' current versions of `uid`.
    fn versions(&self, uid: &str) -> Result<(ItemVersion, ItemVersion)> {
        Ok((self.version(uid, Side::A)?, self.version(uid, Side::B)?))
    }

    /// The content of `uid` on `side`, fetched now if the listing did not need it.
    async fn content(&self, uid: &str, side: Side) -> Result<String> {
        if let Some(data) = self.views.get(side).content.get(uid) {
            return Ok(data.clone());
        }
        let version = self.version(uid, side)?;
        let collection = self.plan.id(side);
        let hrefs = [version.href.clone()];
        let mut fetched = on!(self.pair, side, s => s.get_many(collection, &hrefs).await)?;
        if let Some((_, why)) = fetched.failed.pop() {
            return Err(Error::new(
                ErrorKind::Peer,
                format!("reading {} on {side}: {why}", version.href),
            ));
        }
        let item = fetched.items.pop().ok_or_else(|| {
            Error::new(
                ErrorKind::NotFound,
                format!("{} on {side} is gone", version.href),
            )
        })?;
        if item.etag != version.etag {
            return Err(Error::new(
                ErrorKind::Refused,
                format!(
                    "{} on {side} changed while syncing; run again",
                    version.href
                ),
            ));
        }
        Ok(item.data)
    }

    async fn copy(&self, uid: &str, from: Side) -> Result<RowChange> {
        let (href, etag) = if self.dry_run {
            (Href::new(NOT_WRITTEN), Etag::new(NOT_WRITTEN))
        } else {
            let data = self.content(uid, from).await?;
            let to = from.other();
            let collection = self.plan.id(to);
            let created = on!(self.pair, to, s => s.create_item(collection, &data).await)?;
            (created.href, created.etag)
        };
        let source = self.version(uid, from)?;
        let copy = ItemVersion {
            href,
            etag,
            hash: source.hash.clone(),
        };
        Ok(row(uid, from, source, copy))
    }

    async fn update(&self, uid: &str, from: Side) -> Result<RowChange> {
        let (a, b) = self.versions(uid)?;
        let (source, target) = match from {
            Side::A => (a, b),
            Side::B => (b, a),
        };
        let etag = if self.dry_run {
            Etag::new(NOT_WRITTEN)
        } else {
            let data = self.content(uid, from).await?;
            let to = from.other();
            let collection = self.plan.id(to);
            on!(self.pair, to, s => s.update_item(collection, &target.href, &target.etag, &data).await)?
        };
        let written = ItemVersion {
            href: target.href,
            etag,
            hash: source.hash.clone(),
        };
        Ok(row(uid, from, source, written))
    }

    async fn delete(&self, uid: &str, side: Side) -> Result<RowChange> {
        let version = self.version(uid, side)?;
        if !self.dry_run {
            let collection = self.plan.id(side);
            match on!(self.pair, side, s => s.delete_item(collection, &version.href, &version.etag).await)
            {
                Ok(()) => {}
                // Already gone: the goal is reached.
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(RowChange::Remove {
            uid: uid.to_owned(),
        })
    }

    async fn conflict(&mut self, uid: &str) -> Result<RowChange> {
        if self.resolver.is_none() {
            return Err(unresolved());
        }
        let a = self.content(uid, Side::A).await?;
        let b = self.content(uid, Side::B).await?;
        let merged = match self.resolver.as_deref_mut() {
            Some(resolver) => resolver.resolve(&self.plan.name, uid, &a, &b)?,
            None => return Err(unresolved()),
        };
        let hash = content_hash(&merged);
        let (mut va, mut vb) = self.versions(uid)?;
        for (side, version) in [(Side::A, &mut va), (Side::B, &mut vb)] {
            if version.hash != hash {
                let collection = self.plan.id(side);
                version.etag = on!(self.pair, side, s => s.update_item(collection, &version.href, &version.etag, &merged).await)?;
                version.hash = hash.clone();
            }
        }
        Ok(RowChange::Record {
            uid: uid.to_owned(),
            a: va,
            b: vb,
        })
    }

    /// Makes both sides durable, then records every pending write in one transaction.
    pub(super) async fn flush_and_record(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        if !self.dry_run {
            self.pair.a.flush().await?;
            self.pair.b.flush().await?;
        }
        let changes: Vec<RowChange> = self.pending.iter().map(|(_, c)| c.clone()).collect();
        self.pair.status.apply_items(self.id, &changes)?;
        for (action, _) in std::mem::take(&mut self.pending) {
            self.report.done.record(&action);
            // Nothing was carried out in a dry run: its observer was shown the plan
            // (`items_planned`) and would otherwise show every action twice.
            if !self.dry_run {
                self.observer.action_done(self.plan, &action);
            }
        }
        Ok(())
    }
}

fn unresolved() -> Error {
    Error::new(
        ErrorKind::Refused,
        "changed differently on both sides; set conflict_resolution (\"keep a\", \"keep b\" \
         or a command for `pimlink resolve-conflicts`), or edit one side",
    )
}

/// The row recording `source` on `from` and `copy` on the other side.
fn row(uid: &str, from: Side, source: ItemVersion, copy: ItemVersion) -> RowChange {
    let (a, b) = match from {
        Side::A => (source, copy),
        Side::B => (copy, source),
    };
    RowChange::Record {
        uid: uid.to_owned(),
        a,
        b,
    }
}
