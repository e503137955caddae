//! A collection's metadata (display name, colour, description): read on both sides, merged
//! three-way with what the status recorded, set where it changed.

use crate::dav::store::ItemStore;
use crate::error::{Error, ErrorKind, Result};
use crate::side::{PerSide, Side};

use super::super::collections::{CollectionPlan, CollectionStep};
use super::super::meta::{MetaAction, plan_meta};
use super::{CollectionReport, Dav, ItemPair, Observer, RunOptions};

impl<A: ItemStore, B: ItemStore> ItemPair<'_, A, B> {
    /// Syncs the configured metadata properties of a collection. `not_created` are the sides
    /// where a dry run did not create the collection a real run creates.
    pub(super) async fn sync_meta(
        &mut self,
        plan: &CollectionPlan,
        id: i64,
        not_created: &[Side],
        options: RunOptions,
        report: &mut CollectionReport,
        observer: &mut dyn Observer<Dav>,
    ) -> Result<()> {
        for property in self.metadata.clone() {
            let mut values: PerSide<Option<String>> = PerSide::default();
            for side in [Side::A, Side::B] {
                let collection = plan.id(side);
                *values.get_mut(side) = match on!(self, side, s => s.get_meta(collection, property).await)
                {
                    Ok(value) => value,
                    // A collection that a real run would create has nothing yet.
                    Err(e) if not_created.contains(&side) && e.kind() == ErrorKind::NotFound => {
                        None
                    }
                    Err(e) => {
                        report.errors.push(e.context(format!(
                            "collection {}: reading {} on {side}",
                            plan.name,
                            property.name()
                        )));
                        return Ok(());
                    }
                };
            }
            let mut recorded = self.status.dav_meta(id, property)?;
            // A collection created by this run has only the defaults its server gave it (a
            // display name made from its path, say): the source's values win.
            if let (None, CollectionStep::Create(created)) = (&recorded, &plan.step) {
                recorded = Some(values.get(*created).clone());
            }
            let action = plan_meta(
                recorded.as_ref().map(|v| v.as_deref()),
                values.a.as_deref(),
                values.b.as_deref(),
                &self.policy,
            );
            if action != MetaAction::Nothing {
                observer.meta_planned(plan, property, &action);
            }
            match action {
                MetaAction::Nothing => {}
                MetaAction::Record(value) => {
                    self.status.set_dav_meta(id, property, value.as_deref())?
                }
                MetaAction::Set { on, value } => {
                    let collection = plan.id(on);
                    let set = if options.dry_run {
                        Ok(())
                    } else {
                        on!(self, on, s => s.set_meta(collection, property, value.as_deref()).await)
                    };
                    match set {
                        Ok(()) => {
                            self.status.set_dav_meta(id, property, value.as_deref())?;
                            report.details.meta_changed += 1;
                        }
                        Err(e) => report.errors.push(e.context(format!(
                            "collection {}: setting {} on {on}",
                            plan.name,
                            property.name()
                        ))),
                    }
                }
                MetaAction::Conflict => report.errors.push(Error::new(
                    ErrorKind::Refused,
                    format!(
                        "collection {}: {} changed on both sides ({:?} on a, {:?} on b); set \
                         conflict_resolution to \"keep a\" or \"keep b\", or change one side",
                        plan.name,
                        property.name(),
                        values.a.as_deref().unwrap_or(""),
                        values.b.as_deref().unwrap_or("")
                    ),
                )),
            }
        }
        Ok(())
    }
}
