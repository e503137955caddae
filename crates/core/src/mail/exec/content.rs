//! Recognising messages by content where keys say nothing: a side whose keys were reset (an
//! IMAP UIDVALIDITY change) is re-paired, and messages the status knows on neither side are
//! paired with their twins (`plan::pairing`). Fingerprints cost a read per message, so they are
//! only gathered when there is something to match.

use super::Pair;
use crate::error::Result;
use crate::mail::flags::Flags;
use crate::mail::item::{ItemEntry, ItemKey};
use crate::mail::plan::CollectionPlan;
use crate::mail::plan::pairing::{self, Candidate, ResetRefusal};
use crate::mail::status::{CollectionId, StatusChange, StatusItem};
use crate::mail::store::{Listing, MailStore};
use crate::side::{PerSide, Side};

impl<A: MailStore, B: MailStore> Pair<'_, A, B> {
    /// Decides, from content fingerprints, the status changes that re-pair a side whose keys
    /// were reset and that pair items unknown on both sides. Fingerprints are gathered only when
    /// there is something to match, since they cost a read per item.
    pub(super) async fn identify_by_content(
        &mut self,
        id: CollectionId,
        plan: &CollectionPlan,
        rows: &[StatusItem],
        listings: &PerSide<Listing>,
        force: bool,
    ) -> Result<Result<Vec<StatusChange>, ResetRefusal>> {
        let mut changes = Vec::new();
        let mut rows = rows.to_vec();
        for side in [Side::A, Side::B] {
            if !listings.get(side).keys_reset || rows.is_empty() {
                continue;
            }
            let other = side.other();
            let present: std::collections::HashSet<&ItemKey> =
                listings.get(other).items.iter().map(|e| &e.key).collect();
            let counterpart_keys: Vec<ItemKey> = rows
                .iter()
                .filter_map(|row| row.key(other))
                .filter(|key| present.contains(key))
                .cloned()
                .collect();
            let counterparts = self
                .candidates(plan, other, &counterpart_keys, &listings.get(other).items)
                .await?;
            let all: Vec<ItemKey> = listings
                .get(side)
                .items
                .iter()
                .map(|e| e.key.clone())
                .collect();
            let now = self
                .candidates(plan, side, &all, &listings.get(side).items)
                .await?;
            // A replica renumbered (its folder deleted and made again) holds nothing to
            // guess about: what it does not match is copied again or discarded.
            let force = force || (side == Side::B && self.policy.mirrors());
            match pairing::rekey_after_reset(id, &rows, side, &counterparts, &now, force) {
                Ok(rekeyed) => {
                    // The other side is re-paired, and unknown items found, against the rows as
                    // they will be: asked of the status (nothing recorded yet, so that a refusal
                    // of the other side leaves the status as it was).
                    changes.extend(rekeyed);
                    rows = self.status.items_after(id, &changes)?;
                }
                Err(refusal) => return Ok(Err(refusal)),
            }
        }
        // Items the status does not know on each side, plus sources of copies whose
        // destination key was never learnt.
        let mut unknown = PerSide::<Vec<ItemKey>>::default();
        for side in [Side::A, Side::B] {
            let known: std::collections::HashSet<&ItemKey> =
                rows.iter().filter_map(|row| row.key(side)).collect();
            let unresolved: std::collections::HashSet<&ItemKey> = rows
                .iter()
                .filter(|row| row.pending == Some(side.other()) && row.key(side.other()).is_none())
                .filter_map(|row| row.key(side))
                .collect();
            *unknown.get_mut(side) = listings
                .get(side)
                .items
                .iter()
                .map(|e| &e.key)
                .filter(|key| !known.contains(key) || unresolved.contains(key))
                .cloned()
                .collect();
        }
        if !unknown.a.is_empty() && !unknown.b.is_empty() {
            let a = self
                .candidates(plan, Side::A, &unknown.a, &listings.a.items)
                .await?;
            let b = self
                .candidates(plan, Side::B, &unknown.b, &listings.b.items)
                .await?;
            changes.extend(pairing::pair_unknown(id, &rows, &a, &b));
        }
        Ok(Ok(changes))
    }

    /// Fingerprints of `keys` on `side`, with their flags from `listing`. An item that cannot
    /// be read gets no fingerprint and so matches nothing.
    pub(super) async fn candidates(
        &mut self,
        plan: &CollectionPlan,
        side: Side,
        keys: &[ItemKey],
        listing: &[ItemEntry],
    ) -> Result<Vec<Candidate>> {
        let fingerprints = match side {
            Side::A => self.a.fingerprints(&plan.name_a, keys).await,
            Side::B => self.b.fingerprints(&plan.name_b, keys).await,
        };
        let flags: std::collections::HashMap<&ItemKey, &Flags> =
            listing.iter().map(|e| (&e.key, &e.flags)).collect();
        Ok(keys
            .iter()
            .zip(fingerprints)
            .map(|(key, fingerprint)| Candidate {
                key: key.clone(),
                fingerprint: fingerprint.ok().flatten(),
                flags: flags.get(key).map(|f| (*f).clone()).unwrap_or_default(),
            })
            .collect())
    }
}
