//! Late copies: removing messages that an interrupted run's APPEND stored after a later run had
//! given that copy up and made it again (`plan::late_copies`), and forgetting the records of
//! given-up copies that can no longer land.

use super::{CollectionReport, Pair};
use crate::error::{ErrorKind, Result};
use crate::mail::item::ItemKey;
use crate::mail::plan::CollectionPlan;
use crate::mail::plan::late_copies;
use crate::mail::plan::pairing::Candidate;
use crate::mail::report::LateCopyOutcome;
use crate::mail::status::{AbandonedCopy, StatusItem};
use crate::mail::store::{Listing, MailStore};
use crate::side::{PerSide, Side};

impl<A: MailStore, B: MailStore> Pair<'_, A, B> {
    /// Removes messages that an interrupted run's APPEND stored after a later run had given
    /// that copy up and made it again (`plan::late_copies`), and takes them out of `listings`
    /// so that they are not copied back as new mail; forgets the records that found nothing on
    /// a side that settled before it was listed. Costs nothing unless a copy was given up.
    pub(super) async fn remove_late_copies(
        &mut self,
        plan: &CollectionPlan,
        (abandoned, settled): (&[AbandonedCopy], PerSide<bool>),
        rows: &[StatusItem],
        listings: &mut PerSide<Listing>,
        report: &mut CollectionReport,
    ) -> Result<()> {
        let mut unknown = PerSide::<Vec<Candidate>>::default();
        let mut sources = PerSide::<Vec<Candidate>>::default();
        for side in [Side::A, Side::B] {
            let source_side = side.other();
            let listed: std::collections::HashSet<&ItemKey> = listings
                .get(source_side)
                .items
                .iter()
                .map(|e| &e.key)
                .collect();
            let source_keys: Vec<ItemKey> = abandoned
                .iter()
                .filter(|record| record.side == side && listed.contains(&record.source_key))
                .map(|record| record.source_key.clone())
                .collect();
            if source_keys.is_empty() {
                continue;
            }
            let known: std::collections::HashSet<&ItemKey> =
                rows.iter().filter_map(|row| row.key(side)).collect();
            let unknown_keys: Vec<ItemKey> = listings
                .get(side)
                .items
                .iter()
                .map(|e| &e.key)
                .filter(|key| !known.contains(key))
                .cloned()
                .collect();
            *sources.get_mut(source_side) = self
                .candidates(
                    plan,
                    source_side,
                    &source_keys,
                    &listings.get(source_side).items,
                )
                .await?;
            if !unknown_keys.is_empty() {
                *unknown.get_mut(side) = self
                    .candidates(plan, side, &unknown_keys, &listings.get(side).items)
                    .await?;
            }
        }
        let now = std::time::SystemTime::now();
        let found = late_copies::find(abandoned, rows, &unknown, &sources, now);
        let (mut removed, mut kept) = (Vec::new(), Vec::new());
        for copy in &found.late {
            // Whatever happens, a late copy is not offered to the planner as new mail.
            listings
                .get_mut(copy.side)
                .items
                .retain(|entry| entry.key != copy.key);
            let mut outcome = LateCopyOutcome {
                side: copy.side,
                key: copy.key.clone(),
                removed: false,
            };
            // A dry run leaves it there (and so records nothing about it).
            if !self.dry_run() {
                let result = match copy.side {
                    Side::A => self.a.delete(&plan.name_a, &copy.key).await,
                    Side::B => self.b.delete(&plan.name_b, &copy.key).await,
                };
                match result {
                    Ok(()) => {
                        outcome.removed = true;
                        removed.push(copy.abandoned);
                    }
                    // Left in place and reported; its record must outlive it.
                    Err(error) if error.kind() == ErrorKind::Unsupported => {
                        kept.push(copy.abandoned)
                    }
                    Err(error) => report.errors.push(error.context(format!(
                        "removing {}, a late duplicate of an interrupted upload, on {}",
                        copy.key, copy.side
                    ))),
                }
            }
            report.details.late_copies.push(outcome);
        }
        // Records past their landing window that found nothing on a side that finished storing
        // what earlier runs sent: no late copy is coming for them.
        let stale: Vec<i64> = found
            .stale
            .iter()
            .copied()
            .filter(|id| {
                abandoned
                    .iter()
                    .any(|record| record.id == *id && *settled.get(record.side))
            })
            .collect();
        if !stale.is_empty() {
            self.status.forget_abandoned_copies(&stale)?;
        }
        if !removed.is_empty() || !kept.is_empty() {
            // Durable before the records that would find them again are dropped.
            self.a.flush().await?;
            self.b.flush().await?;
            self.status.keep_abandoned_copies(&kept)?;
            self.status.forget_abandoned_copies(&removed)?;
        }
        Ok(())
    }
}
