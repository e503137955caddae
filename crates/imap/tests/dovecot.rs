//! The client against a real Dovecot 2.3 started by pimlink-testkit: the shared suite in
//! `suite/`, plus what only Dovecot's harness can set up.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests may unwrap.

mod suite;

use suite::Flavor;

suite::suite_cases!(Flavor::Dovecot);
suite::suite_cases!(Flavor::Dovecot; mailbox_commands_with_dot_delimiter);
