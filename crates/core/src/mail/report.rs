//! Mail's vocabulary for the floor's run types (`crate::run`): the [`Mail`] family, what only
//! a mail run reports about a collection ([`MailDetails`]), and the report types spelled for
//! mail.
//!
//! Not here: the executor that fills them (`exec`).

use std::convert::Infallible;

use crate::mail::item::ItemKey;
use crate::mail::plan::{CollectionPlan, ItemAction, ItemPlan, PlanCounts};
use crate::run::{Family, collection_outcome};
use crate::side::Side;
use crate::status::CollectionEntry;

/// The mail family (IMAP, Maildir): see [`Family`].
#[derive(Debug)]
pub struct Mail;

impl Family for Mail {
    type CollectionPlan = CollectionPlan;
    type ItemPlan = ItemPlan;
    type Action = ItemAction;
    type Key = ItemKey;
    /// Mail folders carry no synced metadata.
    type MetaProperty = Infallible;
    type MetaAction = Infallible;
    type Counts = PlanCounts;
    type Details = MailDetails;

    fn journal(collection: &CollectionReport) -> CollectionEntry {
        CollectionEntry {
            name: collection.plan.name_a.as_str().to_owned(),
            outcome: collection_outcome(collection).to_owned(),
            changes: collection.done.to_string(),
            errors: collection.errors.iter().map(|e| format!("{e:#}")).collect(),
            refused: collection.refused.as_ref().map(ToString::to_string),
            held_back: collection.done.held_back,
            conflicts: 0,
        }
    }
}

/// What happened in one mail collection.
pub type CollectionReport = crate::run::CollectionReport<Mail>;

/// What happened in one mail pair.
pub type PairReport = crate::run::PairReport<Mail>;

/// What only a mail run reports about a collection.
#[derive(Debug, Default)]
pub struct MailDetails {
    /// Late copies of interrupted uploads found (see `plan::late_copies`): none of them is
    /// copied to the other side.
    pub late_copies: Vec<LateCopyOutcome>,
    /// Left alone without listing it: unchanged on both sides since its last settled run
    /// (see `plan::unchanged`).
    pub unchanged: bool,
}

/// What became of a late copy of an interrupted upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LateCopyOutcome {
    /// The side it is on.
    pub side: Side,
    /// Its key there.
    pub key: ItemKey,
    /// Removed (false in a dry run, or when the side cannot delete it: it is then left
    /// there, its record kept so that it is never taken for new mail).
    pub removed: bool,
}
