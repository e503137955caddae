//! The integration suite, written once and instantiated per server by [`suite_cases!`]
//! (`tests/dovecot.rs`, `tests/cyrus.rs`). Each case starts its own server (Cyrus and Dovecot
//! both start in well under a second), so cases run in parallel and share no state.
//!
//! A case that cannot run on a server says so in a comment and prints `SKIPPED: <reason>`; the
//! reasons are collected in crates/imap/DESIGN.md for the issue note.

#![allow(dead_code)] // Each test binary uses the whole suite; helpers differ per binary.

pub mod cases;
mod server;

use std::time::{Duration, SystemTime};

use pimlink_core::{Content, Flags};
use pimlink_imap::AppendItem;

pub use server::{Flavor, Server, Setup};

/// Generates one `#[tokio::test]` per case for `$flavor`.
macro_rules! suite_cases {
    ($flavor:expr) => {
        $crate::suite::suite_cases!($flavor;
            mailbox_commands_and_unicode_names,
            append_fetch_store_expunge_copy_move,
            qresync_sees_flag_changes_expunges_and_new_mail,
            idle_wakes_up_on_new_mail,
            two_connections_to_one_mailbox,
            compression_carries_large_messages,
            tls_implicit_starttls_pinning_and_refusal,
            authentication_mechanisms,
            tunnel_command_with_preauth,
            tunnel_command_with_login,
            disabled_extensions_are_not_used,
            multiappend_gives_each_message_its_own_uid,
        );
    };
    ($flavor:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                crate::suite::cases::$case($flavor).await
            }
        )*
    };
}

pub(crate) use suite_cases;

/// Prints why a case does not run on this server (the test then passes without checks).
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
