//! The small-empty exception to the empty-side guard ([`guard::small_empty_lifts`]), applied
//! once every collection of the pair was listed and planned, before any is carried out. A
//! refused mail plan keeps its actions, so lifting a refusal clears it, and the collection is
//! carried out as if it had never been refused.

use super::{CollectionReport, Pair, Prepared, moves};
use crate::guard::{self, Refusal};
use crate::mail::store::MailStore;
use crate::side::{PerSide, Side};

impl<A: MailStore, B: MailStore> Pair<'_, A, B> {
    /// Lifts the empty-side refusals of `collections` that the exception lets through.
    pub(super) fn lift_small_empty(
        &self,
        collections: &mut [(CollectionReport, Option<Prepared>)],
    ) {
        // Moves found across the collections come first: what they explain is no deletion.
        for prepared in collections.iter_mut().filter_map(|(_, p)| p.as_mut()) {
            moves::lift_refusal_explained_by_moves(&mut prepared.items);
        }
        let empty_side = |p: &Option<Prepared>| {
            p.as_ref()
                .is_some_and(|p| matches!(p.items.refused, Some(Refusal::EmptySide { .. })))
        };
        if !collections.iter().any(|(_, p)| empty_side(p)) {
            return;
        }
        let mut shows_items = PerSide::<bool>::default();
        for prepared in collections.iter().filter_map(|(_, p)| p.as_ref()) {
            shows_items.a |= prepared.shows_items.a;
            shows_items.b |= prepared.shows_items.b;
        }
        for (report, _) in collections.iter().filter(|(r, _)| r.details.unchanged) {
            if shows_items.a && shows_items.b {
                break;
            }
            let known = self.known_on_each_side(report);
            shows_items.a |= known.a;
            shows_items.b |= known.b;
        }
        let refusals: Vec<Option<&Refusal>> = collections
            .iter()
            .map(|(report, p)| match p {
                Some(prepared) => prepared.items.refused.as_ref(),
                None => report.refused.as_ref(),
            })
            .collect();
        let lifts = guard::small_empty_lifts(&refusals, shows_items);
        for ((_, prepared), lift) in collections.iter_mut().zip(lifts) {
            if let (Some(prepared), true) = (prepared, lift) {
                prepared.items.refused = None;
            }
        }
    }

    /// Whether the status knows items on each side of a collection found unchanged since its
    /// last settled run: that side still holds them (a wiped tree changes its stamps). A
    /// status that cannot be read says no.
    fn known_on_each_side(&self, report: &CollectionReport) -> PerSide<bool> {
        let plan = &report.plan;
        let rows = match self.status.find_collection(&plan.name_a, &plan.name_b) {
            Ok(Some(id)) => self.status.items(id).unwrap_or_default(),
            _ => Vec::new(),
        };
        let known = |side: Side| {
            rows.iter()
                .any(|row| row.pending != Some(side) && row.key(side).is_some())
        };
        PerSide {
            a: known(Side::A),
            b: known(Side::B),
        }
    }
}
