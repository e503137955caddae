//! The mail planner: a pure function of the status and both sides' listings that returns a
//! plan ([`ItemPlan`] per collection, [`CollectionPlan`] per pairing of collections).
//!
//! Layout: `action.rs` is the vocabulary (actions, a collection's plan, what the limits hold
//! back) that every deciding module speaks and that imports none of them; `items.rs` decides
//! per item and asks `sides.rs` (per-side options), `limits.rs` (the near side's limits) and
//! `max_delete.rs` (the share rule, through [`crate::guard`]); `collections.rs`, `pairing.rs`,
//! `matching.rs`, `moves.rs`, `late_copies.rs` and `unchanged.rs` decide the rest.
//!
//! Nothing here reads or writes anything. The executor carries a plan out; `--dry-run` prints it.
//! Keeping the decisions pure is what lets them be tested as tables and properties, and is why
//! a dry run shows exactly what a real run would do.
//!
//! Not here: the calendar/contact planner (`crate::dav`), the status tables (`super::status`),
//! the executor (`super::exec`).

mod action;
mod collections;
mod items;
pub mod late_copies;
pub mod limits;
mod matching;
pub(crate) mod max_delete;
pub mod moves;
pub mod pairing;
mod render;
mod sides;
pub mod unchanged;

pub(crate) use action::removals_on;
pub use action::{ItemAction, ItemPlan, PlanCounts};
pub use collections::{
    CollectionPlan, CollectionStep, create_or_skip, hold_unlisted, plan_collections,
};
// Both wings' refusals are one floor type; re-exported where mail users found it before.
pub use crate::guard::Refusal;
pub use items::{held_for_read_only, plan_items, plan_items_scoped};
pub use sides::plan_removal;

#[cfg(test)]
mod limits_tests;
#[cfg(test)]
mod mirror_tests;
#[cfg(test)]
mod sides_tests;
#[cfg(test)]
mod tests;
