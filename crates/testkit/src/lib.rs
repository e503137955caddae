//! Test harness for pimlink (being written).
