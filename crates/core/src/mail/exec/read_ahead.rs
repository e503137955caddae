//! Telling each side, right after a collection is planned, which of its items the copies will
//! read ([`MailStore::read_ahead`]): only messages that will really be copied, so a message
//! the limits hold back, or one the status already knows (an upload of the last run), is
//! never read.

use super::{CollectionReport, Pair, Prepared};
use crate::mail::item::ItemKey;
use crate::mail::plan::ItemAction;
use crate::mail::store::MailStore;
use crate::side::Side;

impl<A: MailStore, B: MailStore> Pair<'_, A, B> {
    /// Announces the planned copies of a prepared collection to the sides they are read from.
    /// A withheld plan, or a dry run, reads nothing.
    pub(super) async fn read_ahead(&mut self, report: &CollectionReport, prepared: &Prepared) {
        if self.dry_run() || prepared.items.refused.is_some() || prepared.id.is_none() {
            return;
        }
        for side in [Side::A, Side::B] {
            let items: Vec<(ItemKey, Option<u64>)> = prepared
                .items
                .actions
                .iter()
                .filter_map(|action| match action {
                    ItemAction::Copy {
                        from, key, size, ..
                    } if *from == side => Some((key.clone(), *size)),
                    _ => None,
                })
                .collect();
            if items.is_empty() {
                continue;
            }
            match side {
                Side::A => self.a.read_ahead(&report.plan.name_a, &items).await,
                Side::B => self.b.read_ahead(&report.plan.name_b, &items).await,
            }
        }
    }
}
