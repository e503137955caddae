//! The integration suite, written once and instantiated per server by [`suite_cases!`]
//! (`tests/dovecot.rs`, `tests/cyrus.rs`). Each case starts its own server (Cyrus and Dovecot
//! both start in well under a second), so cases run in parallel and share no state.
//!
//! A case that cannot run on a server names that server and the reason in the list below: it
//! is generated there as an ignored test, which the test run lists with its reason, rather
//! than as one that passes without checking anything. The reasons are collected in
//! crates/imap/DESIGN.md. A missing server fails the tests (Cyrus: unless `PIMLINK_SKIP_CYRUS`
//! is set, see `pimlink_testkit::Cyrus::skip_requested`).

#![allow(dead_code)] // Each test binary uses the whole suite; helpers differ per binary.

pub mod cases;
mod server;

use std::time::{Duration, SystemTime};

use pimlink_core::{Content, Flags};
use pimlink_imap::AppendItem;

pub use server::{Flavor, Server, Setup};

/// Generates one `#[tokio::test]` per case for the [`Flavor`] variant `$flavor` (`Dovecot` or
/// `Cyrus`); a case marked `[Flavor: "reason"]` is generated for that flavor as
/// `#[ignore = "reason"]`.
macro_rules! suite_cases {
    ($flavor:ident) => {
        $crate::suite::suite_cases!(@cases $flavor;
            mailbox_commands_and_unicode_names,
            mailbox_commands_with_dot_delimiter [Cyrus: "the Cyrus harness always sets \
                altnamespace and unixhierarchysep ('/'); Cyrus's own '.' is covered by a replayed \
                transcript (proto/transcripts.rs)"],
            append_fetch_store_expunge_copy_move,
            qresync_sees_flag_changes_expunges_and_new_mail,
            idle_wakes_up_on_new_mail,
            two_connections_to_one_mailbox,
            compression_carries_large_messages,
            tls_implicit_starttls_pinning_and_refusal,
            authentication_mechanisms,
            tunnel_command_with_preauth [Cyrus: "Cyrus's imapd runs only under its master and \
                has no PREAUTH stdin/stdout mode to tunnel to; tunnel_command_with_login covers \
                the tunnel on Cyrus"],
            tunnel_command_with_login,
            disabled_extensions_are_not_used,
            multiappend_gives_each_message_its_own_uid,
        );
    };
    (@cases $flavor:ident; $($case:ident $([$ignored:ident: $reason:literal])?),* $(,)?) => {
        $( $crate::suite::suite_cases!(@case $flavor $case $($ignored $reason)?); )*
    };
    (@case Dovecot $case:ident Dovecot $reason:literal) => {
        $crate::suite::suite_cases!(@ignored Dovecot $case $reason);
    };
    (@case Cyrus $case:ident Cyrus $reason:literal) => {
        $crate::suite::suite_cases!(@ignored Cyrus $case $reason);
    };
    (@case $flavor:ident $case:ident $($other:ident $reason:literal)?) => {
        #[tokio::test]
        async fn $case() {
            crate::suite::cases::$case(crate::suite::Flavor::$flavor).await
        }
    };
    (@ignored $flavor:ident $case:ident $reason:literal) => {
        #[tokio::test]
        #[ignore = $reason]
        async fn $case() {
            crate::suite::cases::$case(crate::suite::Flavor::$flavor).await
        }
    };
}

pub(crate) use suite_cases;

/// Prints what part of a case does not run on this server.
pub fn skipped(flavor: Flavor, reason: &str) {
    eprintln!("SKIPPED on {flavor:?}: {reason}");
}

pub fn message(subject: &str, body_len: usize) -> Vec<u8> {
    let mut m =
        format!("From: a@example.org\r\nSubject: {subject}\r\nMessage-ID: <{subject}@x>\r\n\r\n")
            .into_bytes();
    while m.len() < body_len {
        m.extend_from_slice(
            b"0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstu\r\n",
        );
    }
    m
}

pub fn item(subject: &str, flags: Flags) -> AppendItem {
    AppendItem {
        content: Content::Bytes(message(subject, 100)),
        flags,
        internal_date: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_600_000_000)),
    }
}

pub fn bytes(content: Content) -> Vec<u8> {
    match content {
        Content::Bytes(b) => b,
        Content::File(mut f) => {
            let mut out = Vec::new();
            std::io::Read::read_to_end(&mut f, &mut out).unwrap();
            out
        }
    }
}
