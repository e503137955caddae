//! The client against a real Dovecot 2.3 started by pimlink-testkit: the shared suite in
//! `suite/`, plus what only Dovecot's harness can set up.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests may unwrap.

mod suite;

suite::suite_cases!(Dovecot);
