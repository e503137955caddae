//! The client against a real Cyrus IMAP 3.6 started by pimlink-testkit: the same suite as
//! `dovecot.rs`. Cases the Cyrus harness cannot set up print `SKIPPED` with the reason (see
//! `suite/cases.rs` and crates/imap/DESIGN.md).

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests may unwrap.

mod suite;

use suite::Flavor;

suite::suite_cases!(Flavor::Cyrus);
suite::suite_cases!(Flavor::Cyrus; mailbox_commands_with_dot_delimiter);
