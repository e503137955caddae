//! The client against a real Cyrus IMAP 3.6 started by pimlink-testkit: the same suite as
//! `dovecot.rs`. Cases the Cyrus harness cannot set up are ignored tests with the reason (see
//! `suite/mod.rs` and crates/imap/DESIGN.md). Without Cyrus unpacked the tests fail, unless
//! `PIMLINK_SKIP_CYRUS` is set.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests may unwrap.

mod suite;

suite::suite_cases!(Cyrus);
