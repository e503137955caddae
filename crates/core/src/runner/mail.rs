//! The mail wing as the runner drives it: [`MailWing`] over `mail::exec::Pair` and the mail
//! planner.

use super::{PairListing, Selection, Wing};
use crate::error::Result;
use crate::mail::Mail;
use crate::mail::exec::Pair;
use crate::mail::plan::plan_collections;
use crate::mail::report::PairReport;
use crate::mail::store::MailStore;
use crate::name::CollectionName;
use crate::policy::SyncPolicy;
use crate::run::{Observer, RunOptions};
use crate::side::PerSide;
use crate::status::StatusStore;

/// Both sides of a mail pair and its policy.
pub struct MailWing<S> {
    /// Sides A and B.
    pub sides: PerSide<S>,
    /// What the pair may change, as configured.
    pub policy: SyncPolicy,
}

impl<S: MailStore> Wing for MailWing<S> {
    type Family = Mail;

    fn policy_mut(&mut self) -> &mut SyncPolicy {
        &mut self.policy
    }

    async fn list(
        &mut self,
        known: Option<&StatusStore>,
        patterns: &dyn Fn(&str) -> bool,
    ) -> Result<PairListing> {
        let on_a = self.sides.a.list_collections().await?;
        let on_b = self.sides.b.list_collections().await?;
        let known = match known {
            Some(status) => status.collections()?,
            None => Vec::new(),
        };
        let selected = |name: &CollectionName| patterns(name.as_str());
        let plans = plan_collections(&on_a, &on_b, &known, selected, &self.policy);
        // Every selectable name was asked about while planning, so asking again notes nothing
        // new for the patterns' warnings.
        let excluded = on_a
            .iter()
            .chain(&on_b)
            .filter(|info| info.selectable && !patterns(info.name.as_str()))
            .map(|info| info.name.to_string());
        let describe = PerSide {
            a: self.sides.a.describe(),
            b: self.sides.b.describe(),
        };
        Ok(PairListing::new(describe, &plans, excluded))
    }

    async fn sync(
        &mut self,
        status: &mut StatusStore,
        selection: Selection<'_>,
        options: RunOptions,
        observer: &mut dyn Observer<Mail>,
    ) -> Result<PairReport> {
        let selected = |name: &CollectionName| {
            (selection.patterns)(name.as_str()) && selection.only(name.as_str())
        };
        Pair {
            a: &mut self.sides.a,
            b: &mut self.sides.b,
            status,
            policy: self.policy.clone(),
        }
        .sync(selected, options, observer)
        .await
    }
}
