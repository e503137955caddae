//! `pimlink replicate` (issue 15): keeping a replica identical to a master.
//!
//! - [`sieve`]: users' Sieve scripts and the active one, over ManageSieve.

pub mod sieve;
