//! `pimlink daemon`.

pub mod schedule;
