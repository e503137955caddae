//! Several collections at once: each *lane* is a handle on each side
//! ([`MailStore::another_handle`]) plus a connection to the status, and works on one collection
//! at a time. The round trips of one collection's listing and copies then overlap with those of
//! others (the runtime is single-threaded: lanes interleave at their awaits, nothing runs in
//! parallel).
//!
//! - Lanes take collections from one queue in name order as they become free, so that a big
//!   collection does not hold up the small ones behind it.
//! - A collection is carried out on the lane that listed it: a storage's handle remembers what
//!   its listing showed (an IMAP handle: the flags it sends changes relative to, where an APPEND
//!   without UIDPLUS lands), and only that handle has it.
//! - Every collection is planned before any is carried out, as with one lane, so that the
//!   search for moved messages (on the first lane, between the two phases) sees every plan.
//! - Each lane keeps the executor's order (intent, change, flush, record) for its collections;
//!   a failure stays with its collection, and the lane goes on with the next.

use std::cell::RefCell;
use std::collections::VecDeque;

use super::settling::Settling;
use super::{CollectionReport, FullSides, Observer, Pair, Prepared, RunOptions};
use crate::error::{Error, ErrorKind};
use crate::mail::fingerprint::Fingerprint;
use crate::mail::item::ItemKey;
use crate::mail::plan::{CollectionPlan, CollectionStep, ItemAction, ItemPlan};
use crate::mail::report::Mail;
use crate::mail::status::StatusStore;
use crate::mail::store::MailStore;
use crate::side::{PerSide, Side};

/// The handles of one lane beyond the first (the first lane is the pair's own).
pub(super) struct Lane<A, B> {
    a: A,
    b: B,
    status: StatusStore,
}

/// How many lanes to run: the smaller of the sides' limits (a side without one, a local
/// storage, imposes none; with none on either side, one lane), never more than there are
/// collections to work on.
pub(super) fn lane_count(a: Option<usize>, b: Option<usize>, work: usize) -> usize {
    let limit = match (a, b) {
        (Some(a), Some(b)) => a.min(b),
        (Some(n), None) | (None, Some(n)) => n,
        (None, None) => 1,
    };
    limit.min(work).max(1)
}

/// Collections with what was prepared for each, in the pair's order.
type Collections = Vec<(CollectionReport, Option<Prepared>)>;

impl<A: MailStore, B: MailStore> Pair<'_, A, B> {
    /// The lanes beyond the first for working on `plans`: as many as [`lane_count`] allows,
    /// fewer if a side or the status cannot give another handle (the run then goes on with
    /// those it has).
    pub(super) fn open_lanes(&self, plans: &[CollectionPlan]) -> Vec<Lane<A, B>> {
        let work = plans
            .iter()
            .filter(|plan| !matches!(plan.step, CollectionStep::Skip(_)))
            .count();
        let count = lane_count(self.a.concurrency(), self.b.concurrency(), work);
        let mut lanes = Vec::new();
        while lanes.len() + 1 < count {
            let lane = (|| -> crate::Result<Lane<A, B>> {
                Ok(Lane {
                    a: self.a.another_handle()?,
                    b: self.b.another_handle()?,
                    status: self.status.share()?,
                })
            })();
            match lane {
                Ok(lane) => lanes.push(lane),
                Err(error) => {
                    tracing::warn!(
                        "syncing {} collections at once instead of {count}: {error}",
                        lanes.len() + 1
                    );
                    break;
                }
            }
        }
        lanes
    }

    /// Lists and plans every collection of `plans`, spread over the pair's own handles (lane 0)
    /// and `lanes`; returns them in the order of `plans`, with the lane that prepared each.
    pub(super) async fn prepare_on_lanes(
        &mut self,
        lanes: &mut [Lane<A, B>],
        plans: Vec<CollectionPlan>,
        options: RunOptions,
        observer: &mut dyn Observer<Mail>,
    ) -> (Collections, Vec<usize>) {
        let queue: RefCell<VecDeque<(usize, CollectionPlan)>> =
            RefCell::new(plans.into_iter().enumerate().collect());
        let observer = RefCell::new(observer);
        let mut pairs = self.lane_pairs(lanes);
        let work = pairs.iter_mut().enumerate().map(|(lane, pair)| {
            let (queue, observer) = (&queue, &observer);
            async move {
                let mut observer = Shared(observer);
                let mut done = Vec::new();
                // The first lane's handles have already reached both sides.
                let mut connected = lane == 0;
                loop {
                    if observer.stop_requested() {
                        // The collections not yet planned are left for the next run.
                        break;
                    }
                    // Taken out before the await: the queue is never borrowed across one.
                    let next = queue.borrow_mut().pop_front();
                    let Some((index, plan)) = next else {
                        break;
                    };
                    let prepared = if connected {
                        pair.prepare_one(plan.clone(), options, &mut observer).await
                    } else {
                        let mut first = UntilConnected {
                            inner: &mut observer,
                            held: None,
                        };
                        let prepared = pair.prepare_one(plan.clone(), options, &mut first).await;
                        if !failed_to_connect(&prepared.0) {
                            first.release();
                        }
                        prepared
                    };
                    if !connected && failed_to_connect(&prepared.0) {
                        // The server may allow fewer connections than configured: the
                        // collection goes back to the lanes that have one.
                        tracing::warn!(
                            "an extra connection failed ({}); going on with fewer",
                            prepared.0.errors[0]
                        );
                        queue.borrow_mut().push_front((index, plan));
                        break;
                    }
                    connected = true;
                    let to_carry_out = prepared.1.is_some();
                    done.push((index, lane, prepared));
                    if to_carry_out {
                        yield_to_other_lanes().await;
                    }
                }
                done
            }
        });
        let mut all: Vec<_> = futures_util::future::join_all(work)
            .await
            .into_iter()
            .flatten()
            .collect();
        // Given back by a lane that gave up after the others had finished.
        let left: Vec<(usize, CollectionPlan)> = queue.borrow_mut().drain(..).collect();
        for (index, plan) in left {
            let prepared = pairs[0]
                .prepare_one(plan, options, &mut Shared(&observer))
                .await;
            all.push((index, 0, prepared));
        }
        all.sort_by_key(|(index, _, _)| *index);
        all.into_iter()
            .map(|(_, lane, prepared)| (prepared, lane))
            .unzip()
    }

    /// Carries out every prepared collection on the lane that prepared it (`lane_of`, in the
    /// order of `collections`); the reports are in that order too.
    pub(super) async fn execute_on_lanes(
        &mut self,
        lanes: &mut [Lane<A, B>],
        (collections, lane_of): (Collections, &[usize]),
        full: &FullSides,
        observer: &mut dyn Observer<Mail>,
    ) -> Vec<CollectionReport> {
        let mut per_lane: Vec<Vec<(usize, CollectionReport, Option<Prepared>)>> =
            (0..=lanes.len()).map(|_| Vec::new()).collect();
        for (index, ((report, prepared), lane)) in collections.into_iter().zip(lane_of).enumerate()
        {
            per_lane[(*lane).min(lanes.len())].push((index, report, prepared));
        }
        let observer = RefCell::new(observer);
        let mut pairs = self.lane_pairs(lanes);
        let work = pairs.iter_mut().zip(per_lane).map(|(pair, collections)| {
            let observer = &observer;
            async move {
                let mut observer = Shared(observer);
                let mut done = Vec::new();
                for (index, report, prepared) in collections {
                    let (report, settling) = pair
                        .execute_one(report, prepared, full, &mut observer)
                        .await;
                    done.push((index, report, settling));
                }
                done
            }
        });
        let mut all: Vec<(usize, CollectionReport, Option<Settling>)> =
            futures_util::future::join_all(work)
                .await
                .into_iter()
                .flatten()
                .collect();
        drop(pairs);
        all.sort_by_key(|(index, _, _)| *index);
        let mut settlings = Vec::new();
        let mut reports = Vec::new();
        for (index, report, settling) in all {
            settlings.extend(settling.map(|settling| (index, settling)));
            reports.push(report);
        }
        self.record_settlings(settlings, &mut reports);
        reports
    }

    /// Ends the sessions of this pair's own handles and of every lane's, all at once, so that
    /// the LOGOUTs cost one round trip, not one per connection.
    pub(super) async fn close_handles(&mut self, lanes: &mut [Lane<A, B>]) {
        let (mut on_a, mut on_b): (Vec<&mut A>, Vec<&mut B>) = lanes
            .iter_mut()
            .map(|lane| (&mut lane.a, &mut lane.b))
            .unzip();
        on_a.push(&mut self.a);
        on_b.push(&mut self.b);
        futures_util::future::join(
            futures_util::future::join_all(on_a.into_iter().map(|store| store.close())),
            futures_util::future::join_all(on_b.into_iter().map(|store| store.close())),
        )
        .await;
    }

    /// One pair per lane, the first on this pair's own handles.
    fn lane_pairs<'l>(&'l mut self, lanes: &'l mut [Lane<A, B>]) -> Vec<Pair<'l, A, B>> {
        let mut pairs = vec![Pair {
            a: &mut *self.a,
            b: &mut *self.b,
            status: &mut *self.status,
            policy: self.policy.clone(),
        }];
        for lane in lanes {
            pairs.push(Pair {
                a: &mut lane.a,
                b: &mut lane.b,
                status: &mut lane.status,
                policy: self.policy.clone(),
            });
        }
        pairs
    }
}

impl<A: MailStore, B: MailStore> Pair<'_, A, B> {
    /// Fingerprints of `keys` in the collection `plan` on `side`, read through the handles of
    /// `lane` (0 is this pair's own): the lane that listed the collection. Its handle still
    /// holds what the listing learnt (an IMAP handle keeps the fingerprints of the new
    /// messages it fetched), where another handle would select the folder again to read them.
    pub(super) async fn fingerprints_on_lane(
        &mut self,
        lanes: &mut [Lane<A, B>],
        lane: usize,
        plan: &CollectionPlan,
        side: Side,
        keys: &[ItemKey],
    ) -> Vec<crate::Result<Option<Fingerprint>>> {
        let (a, b) = match lane.checked_sub(1).and_then(|extra| lanes.get_mut(extra)) {
            Some(lane) => (&mut lane.a, &mut lane.b),
            None => (&mut *self.a, &mut *self.b),
        };
        match side {
            Side::A => a.fingerprints(&plan.name_a, keys).await,
            Side::B => b.fingerprints(&plan.name_b, keys).await,
        }
    }
}

/// Lets the other lanes take the next collections. A lane whose collections need no round trip
/// to be listed (folders unchanged on the server, only local changes: an upload) never
/// waits, so without this it would take every collection before the others first ran, and
/// carry all of them out alone, over one connection. Unchanged collections, which are not
/// carried out, are left to whichever lane is running.
async fn yield_to_other_lanes() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            return std::task::Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    })
    .await;
}

/// True if preparing a collection failed because a side could not be reached.
fn failed_to_connect(report: &CollectionReport) -> bool {
    report
        .errors
        .iter()
        .any(|error| error.kind() == ErrorKind::Connection)
}

/// The run's observer, lent to each lane in turn: borrowed only inside each call, never across
/// an await.
struct Shared<'o, 'x>(&'o RefCell<&'x mut dyn Observer<Mail>>);

impl Observer<Mail> for Shared<'_, '_> {
    fn move_planned(
        &mut self,
        from: &CollectionPlan,
        to: &CollectionPlan,
        side: Side,
        key: &ItemKey,
    ) {
        self.0.borrow_mut().move_planned(from, to, side, key);
    }
    fn collection_planned(&mut self, plan: &CollectionPlan) {
        self.0.borrow_mut().collection_planned(plan);
    }
    fn held_back(&mut self, collection: &CollectionPlan, held: PerSide<usize>) {
        self.0.borrow_mut().held_back(collection, held);
    }
    fn items_planned(&mut self, collection: &CollectionPlan, plan: &ItemPlan) {
        self.0.borrow_mut().items_planned(collection, plan);
    }
    fn matching_by_content(&mut self, collection: &CollectionPlan, items: PerSide<usize>) {
        self.0.borrow_mut().matching_by_content(collection, items);
    }
    fn action_done(&mut self, collection: &CollectionPlan, action: &ItemAction) {
        self.0.borrow_mut().action_done(collection, action);
    }
    fn action_failed(&mut self, collection: &CollectionPlan, action: &ItemAction, error: &Error) {
        self.0.borrow_mut().action_failed(collection, action, error);
    }
    fn stop_requested(&self) -> bool {
        self.0.borrow().stop_requested()
    }
}

/// The observer of a lane's first collection, before the lane has reached the servers: the
/// collection's plan is announced only once its listing got through, so that a collection
/// handed back because the connection failed is not announced twice (a dry run would print
/// its line again when another lane plans it).
struct UntilConnected<'l, 'o, 'x> {
    inner: &'l mut Shared<'o, 'x>,
    held: Option<CollectionPlan>,
}

impl UntilConnected<'_, '_, '_> {
    fn release(&mut self) {
        if let Some(plan) = self.held.take() {
            self.inner.collection_planned(&plan);
        }
    }
}

impl Observer<Mail> for UntilConnected<'_, '_, '_> {
    fn move_planned(
        &mut self,
        from: &CollectionPlan,
        to: &CollectionPlan,
        side: Side,
        key: &ItemKey,
    ) {
        self.release();
        self.inner.move_planned(from, to, side, key);
    }
    fn collection_planned(&mut self, plan: &CollectionPlan) {
        self.held = Some(plan.clone());
    }
    fn held_back(&mut self, collection: &CollectionPlan, held: PerSide<usize>) {
        self.release();
        self.inner.held_back(collection, held);
    }
    fn items_planned(&mut self, collection: &CollectionPlan, plan: &ItemPlan) {
        self.release();
        self.inner.items_planned(collection, plan);
    }
    fn matching_by_content(&mut self, collection: &CollectionPlan, items: PerSide<usize>) {
        self.release();
        self.inner.matching_by_content(collection, items);
    }
    fn action_done(&mut self, collection: &CollectionPlan, action: &ItemAction) {
        self.release();
        self.inner.action_done(collection, action);
    }
    fn action_failed(&mut self, collection: &CollectionPlan, action: &ItemAction, error: &Error) {
        self.release();
        self.inner.action_failed(collection, action, error);
    }
    fn stop_requested(&self) -> bool {
        self.inner.stop_requested()
    }
}

#[cfg(test)]
mod tests {
    use super::lane_count;

    #[test]
    fn lanes_are_the_smaller_limit_and_never_more_than_the_work() {
        let table = [
            // (limit a, limit b, collections to work on) -> lanes
            ((Some(4), None, 10), 4),
            ((None, Some(3), 10), 3),
            ((Some(4), Some(2), 10), 2),
            ((Some(2), Some(8), 10), 2),
            ((None, None, 10), 1),
            ((Some(4), None, 2), 2),
            ((Some(4), None, 1), 1),
            ((Some(4), None, 0), 1),
            ((Some(1), None, 10), 1),
            ((Some(0), None, 10), 1),
        ];
        for ((a, b, work), lanes) in table {
            assert_eq!(lane_count(a, b, work), lanes, "{a:?} {b:?} {work}");
        }
    }
}
