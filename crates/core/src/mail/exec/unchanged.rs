//! The executor's side of `plan::unchanged`: asking both sides for their stamps before a
//! collection is listed, and recording them once the run leaves the collection settled.

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
        if plan.step != CollectionStep::Sync {
            return Check::Listed(None);
        }
        let policy = self.policy.in_collection(&plan.name_a, &plan.name_b);
        let taken_at = SystemTime::now();
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

    /// After a listed collection was planned and carried out: records its stamps if the run
    /// left it settled, and otherwise drops any earlier record, so that only a settled run's
    /// stamps can ever let a later run skip it.
    pub(super) fn settle(
        &mut self,
        (id, taken, held): (Option<CollectionId>, Option<Taken>, PerSide<usize>),
        report: &mut CollectionReport,
    ) {
        let Some(id) = id else {
            return;
        };
        let mut outcome = Outcome {
            failed: !report.errors.is_empty() || report.refused.is_some(),
            done: report.done,
            held,
            late_copies: report.details.late_copies.len(),
            open_rows: false,
        };
        let result = match taken {
            Some(taken) => {
                // The open rows are asked for only when all else allows recording: a query.
                let mut record = unchanged::may_record(&outcome, &taken.stamps);
                if record {
                    match self.status.has_open_rows(id) {
                        Ok(open) => outcome.open_rows = open,
                        Err(error) => {
                            report.errors.push(error);
                            return;
                        }
                    }
                    record = unchanged::may_record(&outcome, &taken.stamps);
                }
                if !record {
                    tracing::debug!(
                        "collection {}: not recorded as settled: {outcome:?}, stamps {:?}",
                        report.plan.name_a,
                        taken.stamps
                    );
                }
                match (record, taken.stamps.a, taken.stamps.b) {
                    (true, Some(a), Some(b)) => self.status.record_settled(
                        id,
                        &Settled {
                            stamps: PerSide { a, b },
                            taken_at: taken.taken_at,
                            fingerprint: taken.fingerprint,
                        },
                    ),
                    _ => self.status.forget_settled(id),
                }
            }
            None => self.status.forget_settled(id),
        };
        if let Err(error) = result {
            report.errors.push(error);
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
