//! Content fingerprints: how the same message is recognised on two sides without a status.
//!
//! Used where keys cannot be trusted or are not known: after a server's UIDVALIDITY changed,
//! for a copy that landed on a server that did not say its UID (no UIDPLUS) before the run was
//! interrupted, and when both sides already hold the same mail before the first sync (moving
//! from another tool). A fingerprint is made of:
//! - the normalised values of a few header fields that no server or delivery agent rewrites:
//!   Message-ID, Date, From, Subject;
//! - the message's size *with CRLF line ends*, so that two messages whose headers agree but
//!   whose bodies differ (a mailing list's copy with its footer and the copy sent to you
//!   directly) are told apart. That is the size an IMAP server reports as RFC822.SIZE, which
//!   costs nothing extra beside the header fields (a body's own size, BODY[TEXT], would need
//!   the body or BODYSTRUCTURE); a Maildir file usually has LF line ends, so its size is
//!   counted with every bare LF as two bytes, which is exactly the size pimlink's upload (LF to
//!   CRLF) gives it on a server. A server whose RFC822.SIZE is not the size of the message it
//!   sends (RFC 9051 says it SHOULD be; some Exchange versions report an estimate) has its mail
//!   recognised by content no more: such mail is copied, never lost.
//!
//! The same message can be in a folder several times: a fingerprint names a message, not an
//! item, and the planner pairs identical copies by how many each side holds
//! (`plan::matching`).

use std::io::{self, BufRead, BufReader, Read};

/// The header fields a fingerprint is made of, lower case.
pub const FIELDS: [&str; 4] = ["message-id", "date", "from", "subject"];

/// The header field mbsync adds to every message it downloads (`X-TUID: <12 characters>`,
/// issue 16): its bytes are left out of the size, or no message mbsync downloaded would match
/// the server's copy, and a tree moved from mbsync would be copied both ways whole.
pub const IGNORED_FIELD: &str = "x-tuid";

/// The fields to ask a server for (IMAP `BODY.PEEK[HEADER.FIELDS (...)]`): [`FIELDS`] and
/// [`IGNORED_FIELD`], whose size is subtracted from RFC822.SIZE when a copy there has it.
pub const FETCH_FIELDS: [&str; 5] = ["message-id", "date", "from", "subject", IGNORED_FIELD];

/// Headers longer than this are not read further: a fingerprint never needs a whole header.
const MAX_HEADER_BYTES: u64 = 256 * 1024;

/// The normalised identifying headers of one message and its size with CRLF line ends.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint {
    headers: String,
    size: u64,
}

impl Fingerprint {
    /// The fingerprint of a whole message, read to its end (its size counts). `None` if the
    /// message has none of the fields, so that two messages without identity are never taken
    /// for each other.
    pub fn of_message(message: impl Read) -> io::Result<Option<Fingerprint>> {
        let mut counted = CrlfSize::new(message);
        let headers = {
            let mut reader = BufReader::new(&mut counted);
            let headers = header_values((&mut reader).take(MAX_HEADER_BYTES))?;
            io::copy(&mut reader, &mut io::sink())?;
            headers
        };
        let (headers, ignored) = headers;
        Ok(headers.map(|headers| Fingerprint {
            headers,
            size: counted.size.saturating_sub(ignored),
        }))
    }

    /// The fingerprint of a message known by its header (or just the fields, as IMAP returns
    /// them for `BODY.PEEK[HEADER.FIELDS (...)]`) and its size with CRLF line ends (IMAP
    /// RFC822.SIZE).
    pub fn of_header(header: impl Read, size: u64) -> io::Result<Option<Fingerprint>> {
        let (headers, ignored) = header_values(BufReader::new(header.take(MAX_HEADER_BYTES)))?;
        Ok(headers.map(|headers| Fingerprint {
            headers,
            size: size.saturating_sub(ignored),
        }))
    }

    /// The normalised header fields, for diagnostics.
    pub fn headers(&self) -> &str {
        &self.headers
    }

    /// The message's size with CRLF line ends.
    pub fn size(&self) -> u64 {
        self.size
    }
}

/// The identifying fields of a header, normalised, or `None` if it has none of them; and the
/// size with CRLF line ends of its [`IGNORED_FIELD`] lines.
fn header_values(mut reader: impl BufRead) -> io::Result<(Option<String>, u64)> {
    let mut values: [Option<String>; FIELDS.len()] = Default::default();
    let mut current: Option<usize> = None;
    let mut ignored = 0;
    let mut in_ignored = false;
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
            if in_ignored {
                ignored += text.len() as u64 + 2;
            }
            if let Some(value) = current.and_then(|i| values[i].as_mut()) {
                value.push(' ');
                value.push_str(text.trim());
            }
            continue;
        }
        current = None;
        let Some((name, value)) = text.split_once(':') else {
            in_ignored = false;
            continue;
        };
        let name = name.trim().to_ascii_lowercase();
        in_ignored = name == IGNORED_FIELD;
        if in_ignored {
            ignored += text.len() as u64 + 2;
        }
        if let Some(index) = FIELDS.iter().position(|f| *f == name) {
            // The first occurrence counts, as for a mail reader.
            if values[index].is_none() {
                values[index] = Some(value.trim().to_owned());
                current = Some(index);
            }
        }
    }
    if values.iter().all(Option::is_none) {
        return Ok((None, ignored));
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
    Ok((Some(out), ignored))
}

/// A reader that counts what passes through it as the size with CRLF line ends: each LF not
/// preceded by CR counts twice.
struct CrlfSize<R> {
    inner: R,
    size: u64,
    last: Option<u8>,
}

impl<R> CrlfSize<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            size: 0,
            last: None,
        }
    }
}

impl<R: Read> Read for CrlfSize<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let read = &buf[..n];
        self.size += n as u64;
        for at in memchr::memchr_iter(b'\n', read) {
            let before = at.checked_sub(1).map_or(self.last, |i| Some(read[i]));
            if before != Some(b'\r') {
                self.size += 1;
            }
        }
        if let Some(&last) = read.last() {
            self.last = Some(last);
        }
        Ok(n)
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
    fn same_message_with_crlf_or_lf_matches_and_has_the_crlf_size() {
        let crlf = "Message-ID: <a@b>\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\nFrom: x@y\r\n\
                    Subject: a long\r\n subject\r\nX-Other: 1\r\n\r\nbody\r\n";
        let lf = crlf.replace("\r\n", "\n");
        assert_eq!(fp(&lf), fp(crlf));
        assert_eq!(fp(crlf).unwrap().size(), crlf.len() as u64);
        // Field names in any case and order; folded values read as one line.
        let reordered = "x-other: 2\r\nSUBJECT: a long\r\n subject\r\nfrom: x@y\r\n\
                         message-id: <a@b>\r\ndate: Mon, 1 Jan 2024 10:00:00 +0000\r\n\r\nbody\r\n";
        assert_eq!(fp(reordered), fp(crlf));
        assert_eq!(
            fp(crlf).unwrap().headers(),
            "message-id:<a@b>\ndate:Mon, 1 Jan 2024 10:00:00 +0000\nfrom:x@y\nsubject:a long subject\n"
        );
    }

    /// Issue 16: mbsync adds `X-TUID:` to every message it downloads; its copy is still the
    /// server's message, whether the server's copy has the field or not.
    #[test]
    fn mbsyncs_x_tuid_header_is_not_counted() {
        let server = "From: a@b\r\nSubject: s\r\nMessage-ID: <m@t>\r\n\r\nbody\r\n";
        let mbsync = "From: a@b\nSubject: s\nMessage-ID: <m@t>\nX-TUID: AbCdEfGhIjKl\n\nbody\n";
        assert_eq!(fp(server), fp(mbsync));
        // As IMAP reports it: the fields asked for and RFC822.SIZE, with and without X-TUID.
        let fields = "Subject: s\r\nFrom: a@b\r\nMessage-ID: <m@t>\r\n\r\n";
        let plain = Fingerprint::of_header(fields.as_bytes(), server.len() as u64).unwrap();
        assert_eq!(plain, fp(mbsync));
        let with_tuid =
            "Subject: s\r\nFrom: a@b\r\nMessage-ID: <m@t>\r\nX-TUID: AbCdEfGhIjKl\r\n\r\n";
        let uploaded = Fingerprint::of_header(with_tuid.as_bytes(), server.len() as u64 + 22);
        assert_eq!(uploaded.unwrap(), fp(mbsync));
        // Only that field: another one still counts.
        assert_ne!(fp(server), fp(&mbsync.replace("X-TUID", "X-Other")));
    }

    #[test]
    fn near_identical_messages_differ_by_size() {
        // The same four headers: the copy a mailing list sent, with its footer, and the copy
        // sent directly.
        let header = "Message-ID: <a@b>\r\nDate: today\r\nFrom: x@y\r\nSubject: s\r\n\r\n";
        let direct = format!("{header}text\r\n");
        let listed = format!("{header}text\r\n--\r\nthe list's footer\r\n");
        assert_ne!(fp(&direct), fp(&listed));
        assert_eq!(
            fp(&direct).unwrap().headers(),
            fp(&listed).unwrap().headers()
        );
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
    fn header_fields_and_size_match_the_full_message() {
        // What an IMAP server returns for BODY.PEEK[HEADER.FIELDS (MESSAGE-ID DATE FROM
        // SUBJECT)], and RFC822.SIZE.
        let full = "Received: x\r\nFrom: a@b\r\nSubject: hi\r\nMessage-ID: <1@b>\r\nDate: today\r\n\r\nbody";
        let fields = "From: a@b\r\nSubject: hi\r\nMessage-ID: <1@b>\r\nDate: today\r\n\r\n";
        let size = full.len() as u64;
        assert_eq!(
            Fingerprint::of_header(fields.as_bytes(), size).unwrap(),
            fp(full)
        );
        assert_ne!(
            Fingerprint::of_header(fields.as_bytes(), size + 1).unwrap(),
            fp(full)
        );
    }

    #[test]
    fn a_header_longer_than_the_limit_still_counts_the_whole_size() {
        let mut message = String::from("Message-ID: <a@b>\n");
        while message.len() < 2 * MAX_HEADER_BYTES as usize {
            message.push_str("X-Filler: some text to make the header long\n");
        }
        message.push_str("\nbody\n");
        let lines = message.matches('\n').count() as u64;
        assert_eq!(fp(&message).unwrap().size(), message.len() as u64 + lines);
    }

    /// A reader that hands out its bytes in chunks of the given sizes, in turn.
    struct Chunked<'a> {
        bytes: &'a [u8],
        sizes: Vec<usize>,
        turn: usize,
    }

    impl Read for Chunked<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let size = self.sizes[self.turn % self.sizes.len()].max(1);
            self.turn += 1;
            let n = size.min(buf.len()).min(self.bytes.len());
            buf[..n].copy_from_slice(&self.bytes[..n]);
            self.bytes = &self.bytes[n..];
            Ok(n)
        }
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
            let _ = Fingerprint::of_message(&bytes[..]).unwrap();
        }

        /// However a message is cut into reads, and whether its line ends are CRLF or LF, its
        /// fingerprint is the one of its CRLF form, whose size is its length.
        #[test]
        fn crlf_and_lf_forms_agree_in_any_chunks(
            // A lone CR inside a line now and then; never before a line end, where it would
            // make a CRLF of the LF form.
            lines in proptest::collection::vec("([ -~]|\r[ -~]){0,40}", 0..30),
            subject in "[ -~]{0,20}",
            sizes in proptest::collection::vec(1usize..70, 1..5),
        ) {
            let crlf = format!("Subject: {subject}\r\n\r\n{}", lines.join("\r\n"));
            let lf = crlf.replace("\r\n", "\n");
            let expected = Fingerprint::of_message(crlf.as_bytes()).unwrap().unwrap();
            prop_assert_eq!(expected.size(), crlf.len() as u64);
            for form in [&crlf, &lf] {
                let reader = Chunked { bytes: form.as_bytes(), sizes: sizes.clone(), turn: 0 };
                let found = Fingerprint::of_message(reader).unwrap();
                prop_assert_eq!(found.as_ref(), Some(&expected));
            }
        }
    }
}
