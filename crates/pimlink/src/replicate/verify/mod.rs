//! `pimlink replicate NAME --verify [--level N]`: compares a master and its replica over IMAP
//! (or Maildir) in levels and reports every difference (issue 15).
//!
//! - `snapshot.rs`: what one side looks like at a level ([`Level`], [`Snapshot`]);
//! - `compare.rs`: the pure comparer, two snapshots in, [`Difference`]s out;
//! - `difference.rs`: a difference, as a line or a JSON object.

#![allow(dead_code)] // Wired to the CLI once the replicate command lands.

mod compare;
mod difference;
mod snapshot;

pub use compare::compare;
pub use difference::{Difference, What};
pub use snapshot::{Folder, Identity, Level, Message, Snapshot};
