//! `pimlink replicate` (issue 15).

pub mod verify;
