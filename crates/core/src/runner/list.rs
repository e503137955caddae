//! `pimlink list`'s question to a pair: its collections on both sides and how they are
//! matched, planned as a sync would plan them, changing nothing.

use std::path::Path;

use super::{AnyPair, Wing};
use crate::dav::store::ItemStore;
use crate::error::Result;
use crate::mail::store::MailStore;
use crate::side::PerSide;
use crate::status::StatusStore;

/// A pair's collections as a sync would plan them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PairListing {
    /// Each side's storage, for messages.
    pub describe: PerSide<String>,
    /// Each collection's plan, printed.
    pub plans: Vec<String>,
    /// Collections on either side that the pair's selection leaves out, in name order.
    pub excluded: Vec<String>,
}

impl PairListing {
    /// The listing of a pair whose sides are `describe`d, planned as `plans`, with the
    /// `excluded` collections (in any order, possibly repeated).
    pub(super) fn new<P: std::fmt::Display>(
        describe: PerSide<String>,
        plans: &[P],
        excluded: impl IntoIterator<Item = String>,
    ) -> Self {
        let excluded: std::collections::BTreeSet<String> = excluded.into_iter().collect();
        Self {
            describe,
            plans: plans.iter().map(ToString::to_string).collect(),
            excluded: excluded.into_iter().collect(),
        }
    }
}

/// Plans the collections of `pair` (status `pair_name` in `state_dir`, read only if it exists:
/// a pair that never synced has none yet) with `patterns` as the pair's `collections`.
pub async fn list<M: MailStore, I: ItemStore>(
    state_dir: &Path,
    pair_name: &str,
    pair: AnyPair<'_, M, I>,
    patterns: &dyn Fn(&str) -> bool,
) -> Result<PairListing> {
    let status = if state_dir.join(format!("{pair_name}.sqlite")).exists() {
        Some(StatusStore::open(state_dir, pair_name)?)
    } else {
        None
    };
    match pair {
        AnyPair::Mail(mut wing) => wing.list(status.as_ref(), patterns).await,
        AnyPair::Dav(mut wing) => wing.list(status.as_ref(), patterns).await,
    }
}
