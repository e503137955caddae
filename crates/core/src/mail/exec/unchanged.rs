//! The executor's side of `plan::unchanged`: asking both sides for their stamps before a
//! collection is listed, and recording them once the run leaves the collection settled (for a
//! side the run changed, the stamp the side gives after its changes, if it can).

use std::time::SystemTime;

use super::{CollectionReport, Pair};
use crate::error::Error;
use crate::mail::plan::unchanged::{self, Outcome, Settled};
use crate::mail::plan::{CollectionPlan, CollectionStep};
use crate::mail::status::CollectionId;
use crate::mail::store::{ChangeStamp, MailStore};
use crate::side::{PerSide, Side};

/// The stamps of both sides, taken before a collection was listed.
#[derive(Debug)]
pub(super) struct Taken {
    stamps: PerSide<Option<ChangeStamp>>,
    taken_at: SystemTime,
    fingerprint: String,
}

/// What [`Pair::unchanged_check`] found.
pub(super) enum Check {
    /// Unchanged since its last settled run: leave it alone.
    Unchanged,
    /// List it; the stamps (for a plain sync) are to be recorded if the run settles it.
    Listed(Option<Taken>),
}

impl<A: MailStore, B: MailStore> Pair<'_, A, B> {
    /// Asks both sides for their stamps and decides whether the collection is unchanged since
    /// its last settled run. Reads one status row, never the collection's items. Anything that
    /// fails here only means the collection is listed.
    pub(super) async fn unchanged_check(&mut self, plan: &CollectionPlan) -> Check {
        // A collection the run creates may be settled by it too: the created side then gives
        // its stamp after the run (it has none before).
        if !matches!(plan.step, CollectionStep::Sync | CollectionStep::Create(_)) {
            return Check::Listed(None);
        }
        let policy = self.policy.in_collection(&plan.name_a, &plan.name_b);
        let taken_at = crate::clock::coarse_now();
        let stamps = PerSide {
            a: stamp_or_none(self.a.change_stamp(&plan.name_a).await, plan, Side::A),
            b: stamp_or_none(self.b.change_stamp(&plan.name_b).await, plan, Side::B),
        };
        let taken = Taken {
            stamps,
            taken_at,
            fingerprint: unchanged::plan_fingerprint(&policy),
        };
        let recorded = match self.status.find_collection(&plan.name_a, &plan.name_b) {
            Ok(Some(id)) => self.status.settled(id),
            Ok(None) => Ok(None),
            Err(error) => Err(error),
        };
        let recorded = match recorded {
            Ok(recorded) => recorded,
            Err(error) => {
                tracing::debug!("collection {}: {error}; listing it", plan.name_a);
                return Check::Listed(Some(taken));
            }
        };
        match unchanged::decide(
            &plan.step,
            &policy,
            &taken.fingerprint,
            recorded.as_ref(),
            &taken.stamps,
        ) {
            Ok(()) => {
                tracing::debug!(
                    "collection {}: unchanged since the last settled run; not listed",
                    plan.name_a
                );
                Check::Unchanged
            }
            Err(why) => {
                tracing::debug!("collection {}: listed: {why}", plan.name_a);
                Check::Listed(Some(taken))
            }
        }
    }

    /// After a listed collection was planned and carried out: the stamps to record (at the
    /// end of the run, `settling.rs`) if the run left it settled; otherwise drops any earlier
    /// record now, so that only a settled run's stamps can ever let a later run skip it.
    pub(super) async fn settle(
        &mut self,
        (id, taken, held): (Option<CollectionId>, Option<Taken>, PerSide<usize>),
        report: &mut CollectionReport,
    ) -> Option<Settled> {
        let id = id?;
        let mut outcome = Outcome {
            failed: !report.errors.is_empty() || report.refused.is_some(),
            done: report.done,
            held,
            late_copies: report.details.late_copies.len(),
            open_rows: false,
        };
        let record = match taken {
            Some(taken) => {
                // The open rows are asked for only when all else allows recording: a query.
                let mut record = unchanged::may_record(&outcome);
                if record {
                    match self.status.has_open_rows(id) {
                        Ok(open) => outcome.open_rows = open,
                        Err(error) => {
                            report.errors.push(error);
                            return None;
                        }
                    }
                    record = unchanged::may_record(&outcome);
                }
                let stamps = if record {
                    let after = unchanged::needs_stamps_after(&outcome);
                    self.stamps_to_record(&report.plan, &taken, after).await
                } else {
                    None
                };
                if stamps.is_none() {
                    tracing::debug!(
                        "collection {}: not recorded as settled: {outcome:?}, stamps {:?}",
                        report.plan.name_a,
                        taken.stamps
                    );
                }
                stamps.map(|sides| Settled {
                    taken_at: unchanged::recorded_taken_at(taken.taken_at, &sides),
                    stamps: PerSide {
                        a: sides.a.0,
                        b: sides.b.0,
                    },
                    fingerprint: taken.fingerprint,
                })
            }
            None => None,
        };
        if record.is_none()
            && let Err(error) = self.status.forget_settled(id)
        {
            report.errors.push(error);
        }
        record
    }

    /// The stamp to record of each side, with the moment from which it shows any change:
    /// taken after the run's changes where `after` (the run changed something) or the side had
    /// none before, and the side can give one; else the stamp from before the listing (which
    /// the run's own changes made unequal if it changed that side: recording it is safe, and
    /// of use only if the run did not change the side). `None` if a side has neither.
    async fn stamps_to_record(
        &mut self,
        plan: &CollectionPlan,
        taken: &Taken,
        after: bool,
    ) -> Option<PerSide<(ChangeStamp, SystemTime)>> {
        let mut sides = PerSide {
            a: taken.stamps.a.clone().map(|stamp| (stamp, taken.taken_at)),
            b: taken.stamps.b.clone().map(|stamp| (stamp, taken.taken_at)),
        };
        for side in [Side::A, Side::B] {
            if !after && sides.get(side).is_some() {
                continue;
            }
            let stamp = match side {
                Side::A => self.a.stamp_after_own_changes(&plan.name_a).await,
                Side::B => self.b.stamp_after_own_changes(&plan.name_b).await,
            };
            match stamp {
                Ok(Some(stamp)) => *sides.get_mut(side) = Some(stamp),
                Ok(None) => {}
                Err(error) => tracing::debug!(
                    "collection {}: no stamp of side {side} after the run: {error}",
                    plan.name_a
                ),
            }
        }
        match (sides.a, sides.b) {
            (Some(a), Some(b)) => Some(PerSide { a, b }),
            _ => None,
        }
    }
}

fn stamp_or_none(
    stamp: crate::error::Result<Option<ChangeStamp>>,
    plan: &CollectionPlan,
    side: Side,
) -> Option<ChangeStamp> {
    stamp.unwrap_or_else(|error: Error| {
        tracing::debug!(
            "collection {}: no stamp of side {side}: {error}",
            plan.name_a
        );
        None
    })
}
