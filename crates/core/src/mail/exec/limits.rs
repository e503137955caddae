//! The executor's side of the pair's limits (`plan::limits`): gathering what they rank by, and
//! the sizes `max_size` needs, from the status's caches (`status::dates`) and the sides,
//! asking the sides only for what the decision needs.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::Pair;
use crate::error::Result;
use crate::mail::item::ItemKey;
use crate::mail::keywords::KeywordScope;
use crate::mail::plan::limits::{Arrivals, apply_limits};
use crate::mail::plan::{CollectionPlan, ItemAction, ItemPlan, plan_items_scoped};
use crate::mail::status::{CollectionId, StatusItem};
use crate::mail::store::{Listing, MailStore};
use crate::policy::SyncPolicy;
use crate::side::{PerSide, Side};

impl<A: MailStore, B: MailStore> Pair<'_, A, B> {
    /// Plans a collection's items and applies the pair's limits to the plan.
    ///
    /// `max_size` needs the size of an item only if the limits would otherwise copy it to the
    /// near side. An incremental listing gives no sizes for the items the status knows; those
    /// of held-back and expired items are cached in the status (asking for them every run
    /// would cost a command per folder). Any size still unknown is taken as fitting, the sizes
    /// of the copies the plan then makes are asked for, and the plan is made again with them,
    /// until no copy of unknown size is left that was not asked about. An item of unknown size
    /// that the limits do not keep anyway needs none: leaving it out of the order moves only
    /// items behind it up, and those are beyond the limits too.
    pub(super) async fn plan_with_limits(
        &mut self,
        (id, plan): (CollectionId, &CollectionPlan),
        rows: &[StatusItem],
        listings: &mut PerSide<Listing>,
        (policy, scope): (&SyncPolicy, &KeywordScope),
    ) -> Result<ItemPlan> {
        let replan = |listings: &PerSide<Listing>| {
            plan_items_scoped(rows, &listings.a.items, &listings.b.items, policy, scope)
        };
        let mut items = replan(listings);
        let limits = self.policy.limits;
        if limits.near.is_none() && rows.iter().all(|row| row.expired.is_none()) {
            return Ok(items);
        }
        let arrivals = self.arrivals(id, plan, rows, listings).await?;
        let sized = match (limits.near, limits.max_size) {
            (Some(near), Some(_)) => Some(near.other()),
            _ => None,
        };
        if let Some(far) = sized {
            let cached = self.status.item_sizes(id, far)?;
            for entry in &mut listings.get_mut(far).items {
                if entry.size.is_none() {
                    entry.size = cached.get(&entry.key).copied();
                }
            }
        }
        let now = SystemTime::now();
        let mut asked: HashSet<ItemKey> = HashSet::new();
        loop {
            apply_limits(
                &mut items,
                rows,
                &listings.a.items,
                &listings.b.items,
                &arrivals,
                policy,
                now,
            );
            let Some(far) = sized else {
                return Ok(items);
            };
            let unknown: Vec<ItemKey> = items
                .actions
                .iter()
                .filter_map(|action| match action {
                    ItemAction::Copy {
                        from,
                        key,
                        size: None,
                        ..
                    } if *from == far && !asked.contains(key) => Some(key.clone()),
                    _ => None,
                })
                .collect();
            if unknown.is_empty() {
                self.cache_sizes(id, far, rows, &listings.get(far).items, &items)?;
                return Ok(items);
            }
            let sizes = match far {
                Side::A => self.a.sizes(&plan.name_a, &unknown).await,
                Side::B => self.b.sizes(&plan.name_b, &unknown).await,
            };
            // A size that cannot be read stays unknown, and such an item is copied.
            let found: HashMap<&ItemKey, u64> = unknown
                .iter()
                .zip(sizes)
                .filter_map(|(key, size)| size.ok().flatten().map(|size| (key, size)))
                .collect();
            for entry in &mut listings.get_mut(far).items {
                if let Some(size) = found.get(&entry.key) {
                    entry.size = Some(*size);
                }
            }
            asked.extend(unknown);
            items = replan(listings);
        }
    }

    /// Keeps the sizes of the far side's items that the near side does not hold because of the
    /// limits (held back now or before, or expired), as far as they are known: later runs
    /// judge them against `max_size` without asking the far side.
    fn cache_sizes(
        &mut self,
        id: CollectionId,
        far: Side,
        rows: &[StatusItem],
        far_items: &[crate::mail::item::ItemEntry],
        items: &ItemPlan,
    ) -> Result<()> {
        let near = far.other();
        let kept_off: HashSet<&ItemKey> = rows
            .iter()
            .filter(|row| row.expired == Some(near) && row.key(near).is_none())
            .filter_map(|row| row.key(far))
            .chain(items.held_back.iter().map(|held| &held.key))
            .collect();
        let cached = self.status.item_sizes(id, far)?;
        let present: HashSet<&ItemKey> = far_items
            .iter()
            .map(|e| &e.key)
            .filter(|key| kept_off.contains(key))
            .collect();
        let new: Vec<(ItemKey, u64)> = far_items
            .iter()
            .filter(|e| present.contains(&e.key) && !cached.contains_key(&e.key))
            .filter_map(|e| e.size.map(|size| (e.key.clone(), size)))
            .collect();
        self.status.update_item_sizes(id, far, &new, &present)
    }

    /// What the limits rank by, when they order by date (`max_messages`, `max_age`): the far
    /// side's arrival dates, from the status's cache or (once per item) from the side, and
    /// when the pair first found the near side's own items there (recorded now for those seen
    /// for the first time). An item whose date cannot be read gets none, which keeps it (it
    /// counts as newest).
    async fn arrivals(
        &mut self,
        id: CollectionId,
        plan: &CollectionPlan,
        rows: &[StatusItem],
        listings: &PerSide<Listing>,
    ) -> Result<Arrivals> {
        let limits = self.policy.limits;
        let Some(near) = limits.near.filter(|_| limits.needs_dates()) else {
            return Ok(Arrivals::default());
        };
        let far = near.other();
        let cached = |side| self.status.item_dates(id, side);
        let mut arrivals = Arrivals {
            far: cached(far)?,
            near: cached(near)?,
            first_ranked: HashSet::new(),
        };
        let missing: Vec<ItemKey> = listings
            .get(far)
            .items
            .iter()
            .filter(|e| !arrivals.far.contains_key(&e.key))
            .map(|e| e.key.clone())
            .collect();
        let fetched = if missing.is_empty() {
            Vec::new()
        } else {
            match far {
                Side::A => self.a.dates(&plan.name_a, &missing).await,
                Side::B => self.b.dates(&plan.name_b, &missing).await,
            }
        };
        // Whole seconds, as the cache keeps them, so that a date read fresh and the same date
        // read from the cache order alike.
        let new_far: Vec<(ItemKey, SystemTime)> = missing
            .iter()
            .zip(fetched)
            .filter_map(|(key, date)| {
                date.ok()
                    .flatten()
                    .map(|date| (key.clone(), whole_seconds(date)))
            })
            .collect();
        arrivals.first_ranked = missing.into_iter().collect();

        // The near side's items the status does not know arrived there, as far as the pair can
        // tell, now.
        let known: HashSet<&ItemKey> = rows.iter().filter_map(|row| row.key(near)).collect();
        let found = whole_seconds(SystemTime::now());
        let new_near: Vec<(ItemKey, SystemTime)> = listings
            .get(near)
            .items
            .iter()
            .filter(|e| !known.contains(&e.key) && !arrivals.near.contains_key(&e.key))
            .map(|e| (e.key.clone(), found))
            .collect();

        for (side, new) in [(far, &new_far), (near, &new_near)] {
            let present = listings.get(side).items.iter().map(|e| &e.key).collect();
            self.status.update_item_dates(id, side, new, &present)?;
        }
        arrivals.far.extend(new_far);
        arrivals.near.extend(new_near);
        Ok(arrivals)
    }
}

/// `date` without its fraction of a second.
fn whole_seconds(date: SystemTime) -> SystemTime {
    let since = date.duration_since(UNIX_EPOCH).unwrap_or_default();
    UNIX_EPOCH + Duration::from_secs(since.as_secs())
}
