//! The calendar/contact wing as the runner drives it: [`DavWing`] over `dav::ItemPair` and
//! the calendar/contact planner.

use super::{PairListing, Selection, Wing};
use crate::dav::adopt::Adopter;
use crate::dav::store::{CollectionId, ItemStore, MetaProperty};
use crate::dav::{
    ConflictResolver, Dav, ExplicitCollection, ItemPair, ItemPolicy, PairReport, plan_collections,
};
use crate::error::Result;
use crate::policy::SyncPolicy;
use crate::run::{Observer, RunOptions};
use crate::side::PerSide;
use crate::status::StatusStore;

/// Both sides of a calendar/contact pair, its policy and how it picks collections.
pub struct DavWing<'r, S> {
    /// Sides A and B.
    pub sides: PerSide<S>,
    /// What the pair may change, as configured.
    pub policy: ItemPolicy,
    /// Which metadata properties are synced (`metadata`).
    pub metadata: Vec<MetaProperty>,
    /// `"from a"`, `"from b"`: every collection of that side.
    pub from: PerSide<bool>,
    /// Collections paired by name, possibly with different ids (`[name, id on a, id on b]`).
    pub explicit: Vec<ExplicitCollection>,
    /// Merges items in conflict (`pimlink resolve-conflicts`); `None`: conflicts are handled
    /// as the policy says.
    pub resolver: Option<&'r mut dyn ConflictResolver>,
    /// Takes over another tool's state on the pair's first sync (`dav::adopt`); `None`: a
    /// pair without state matches items by UID.
    pub adopter: Option<Box<dyn Adopter>>,
}

impl<S> DavWing<'_, S> {
    /// The engine's selection: the pair's own, with `patterns` on collection ids.
    fn selection<'p>(
        &self,
        patterns: &'p dyn Fn(&CollectionId) -> bool,
    ) -> crate::dav::Selection<'p> {
        crate::dav::Selection {
            from_a: self.from.a,
            from_b: self.from.b,
            explicit: self.explicit.clone(),
            matches: patterns,
        }
    }
}

impl<S: ItemStore> Wing for DavWing<'_, S> {
    type Family = Dav;

    fn policy_mut(&mut self) -> &mut SyncPolicy {
        &mut self.policy.sync
    }

    async fn list(
        &mut self,
        known: Option<&StatusStore>,
        patterns: &dyn Fn(&str) -> bool,
    ) -> Result<PairListing> {
        let ids = |list: Vec<crate::dav::store::Collection>| {
            list.into_iter().map(|c| c.id).collect::<Vec<_>>()
        };
        let on_a = ids(self.sides.a.list_collections().await?);
        let on_b = ids(self.sides.b.list_collections().await?);
        let known = match known {
            Some(status) => status.dav_collections()?,
            None => Vec::new(),
        };
        let matches = |id: &CollectionId| patterns(id.as_str());
        let plans = plan_collections(
            &on_a,
            &on_b,
            &known,
            &self.selection(&matches),
            &self.policy,
        );
        let excluded = on_a
            .iter()
            .chain(&on_b)
            .filter(|id| !plans.iter().any(|p| p.a == **id || p.b == **id))
            .map(ToString::to_string);
        let describe = PerSide {
            a: self.sides.a.describe(),
            b: self.sides.b.describe(),
        };
        Ok(PairListing::new(describe, &plans, excluded))
    }

    async fn sync(
        &mut self,
        status: &mut StatusStore,
        selection: Selection<'_>,
        options: RunOptions,
        observer: &mut dyn Observer<Dav>,
    ) -> Result<PairReport> {
        let matches = |id: &CollectionId| (selection.patterns)(id.as_str());
        let only = |name: &str| selection.only(name);
        let engine_selection = self.selection(&matches);
        let resolver = self
            .resolver
            .as_mut()
            .map(|r| &mut **r as &mut dyn ConflictResolver);
        ItemPair {
            a: &self.sides.a,
            b: &self.sides.b,
            status,
            policy: self.policy.clone(),
            metadata: self.metadata.clone(),
            adopter: self.adopter.as_deref_mut().map(|a| a as &mut dyn Adopter),
        }
        .sync(&engine_selection, &only, options, observer, resolver)
        .await
    }
}
