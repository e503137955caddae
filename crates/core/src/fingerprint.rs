//! Content fingerprints: how the same message is recognised on two sides without a status.
//!
//! Used where keys cannot be trusted or are not known: after a server's UIDVALIDITY changed,
//! for a copy that landed on a server that did not say its UID (no UIDPLUS) before the run was
//! interrupted, and when both sides already hold the same mail before the first sync (moving
//! from another tool). The fingerprint is the normalised values of a few header fields that no
//! server or delivery agent rewrites: Message-ID, Date, From, Subject. Sizes are deliberately
//! left out: IMAP counts CRLF line ends where Maildir files usually have LF.

use std::io::{BufRead, BufReader, Read};

/// The header fields a fingerprint is made of, lower case.
pub const FIELDS: [&str; 4] = ["message-id", "date", "from", "subject"];

/// Headers longer than this are not read further: a fingerprint never needs a whole message.
const MAX_HEADER_BYTES: u64 = 256 * 1024;

/// The normalised identifying headers of one message.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(String);

impl Fingerprint {
    /// The fingerprint of a message (or of just its header, e.g. what IMAP returns for
    /// `BODY.PEEK[HEADER.FIELDS (...)]`). `None` if the message has none of the fields, so that
    /// two messages without identity are never taken for each other.
    pub fn of_message(message: impl Read) -> std::io::Result<Option<Fingerprint>> {
        let mut reader = BufReader::new(message.take(MAX_HEADER_BYTES));
        let mut values: [Option<String>; FIELDS.len()] = Default::default();
        let mut current: Option<usize> = None;
        let mut line = Vec::new();
        loop {
            line.clear();
            if reader.read_until(b'\n', &mut line)? == 0 {
                break;
            }
            let text = String::from_utf8_lossy(&line);
            let text = text.trim_end_matches(['\r', '\n']);
            if text.is_empty() {
                break; // End of the header.
            }
            if text.starts_with([' ', '\t']) {
                if let Some(value) = current.and_then(|i| values[i].as_mut()) {
                    value.push(' ');
                    value.push_str(text.trim());
                }
                continue;
            }
            current = None;
            let Some((name, value)) = text.split_once(':') else {
                continue;
            };
            let name = name.trim().to_ascii_lowercase();
            if let Some(index) = FIELDS.iter().position(|f| *f == name) {
                // The first occurrence counts, as for a mail reader.
                if values[index].is_none() {
                    values[index] = Some(value.trim().to_owned());
                    current = Some(index);
                }
            }
        }
        if values.iter().all(Option::is_none) {
            return Ok(None);
        }
        let mut out = String::new();
        for (field, value) in FIELDS.iter().zip(values) {
            out.push_str(field);
            out.push(':');
            // Whitespace inside values is folded so that re-wrapped headers still match.
            let value = value.unwrap_or_default();
            out.push_str(&value.split_whitespace().collect::<Vec<_>>().join(" "));
            out.push('\n');
        }
        Ok(Some(Fingerprint(out)))
    }

    /// The normalised text, for diagnostics.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fp(message: &str) -> Option<Fingerprint> {
        Fingerprint::of_message(message.as_bytes()).unwrap()
    }

    #[test]
    fn same_message_with_crlf_or_lf_and_refolding_matches() {
        let lf = "Message-ID: <a@b>\nDate: Mon, 1 Jan 2024 10:00:00 +0000\nFrom: x@y\nSubject: a long\n subject\nX-Other: 1\n\nbody\n";
        let crlf = "x-other: 2\r\nSUBJECT: a long subject\r\nfrom: x@y\r\nmessage-id:<a@b>\r\ndate: Mon, 1 Jan 2024 10:00:00 +0000\r\n\r\nother body\r\n";
        assert_eq!(fp(lf), fp(crlf));
        assert!(fp(lf).is_some());
    }

    #[test]
    fn different_messages_differ_and_headerless_ones_have_none() {
        assert_ne!(fp("Message-ID: <a@b>\n\n"), fp("Message-ID: <c@d>\n\n"));
        assert_eq!(fp("X-Only: this\n\nbody"), None);
        assert_eq!(fp(""), None);
        // A body line that looks like a header does not count.
        assert_eq!(fp("X: 1\n\nMessage-ID: <a@b>\n"), None);
    }

    #[test]
    fn header_fields_form_matches_the_full_message() {
        // What an IMAP server returns for BODY.PEEK[HEADER.FIELDS (MESSAGE-ID DATE FROM SUBJECT)].
        let full = "Received: x\r\nFrom: a@b\r\nSubject: hi\r\nMessage-ID: <1@b>\r\nDate: today\r\n\r\nbody";
        let fields = "From: a@b\r\nSubject: hi\r\nMessage-ID: <1@b>\r\nDate: today\r\n\r\n";
        assert_eq!(fp(full), fp(fields));
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
            let _ = Fingerprint::of_message(&bytes[..]).unwrap();
        }
    }
}
