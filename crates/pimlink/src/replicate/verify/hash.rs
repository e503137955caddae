//! The SHA-256 a level-5 verification compares: of a message's bytes with CRLF line ends, so
//! that a Maildir file (LF) and its copy on an IMAP server (CRLF) hash alike, as they do when
//! pimlink copies one to the other. Read in pieces, never the whole message at once.

use std::io::{self, Read};

use sha2::{Digest, Sha256};

/// SHA-256 of `message` with every bare LF read as CRLF, as lower-case hex.
pub fn crlf_sha256(mut message: impl Read) -> io::Result<String> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0; 64 * 1024];
    // Whether the byte before the current piece was a CR, for a CRLF split between reads.
    let mut after_cr = false;
    loop {
        let n = match message.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let mut piece = &buf[..n];
        while let Some(at) = piece.iter().position(|&b| b == b'\n') {
            let before_cr = if at == 0 {
                after_cr
            } else {
                piece[at - 1] == b'\r'
            };
            hasher.update(&piece[..at]);
            hasher.update(if before_cr { &b"\n"[..] } else { &b"\r\n"[..] });
            piece = &piece[at + 1..];
            after_cr = false;
        }
        hasher.update(piece);
        // An empty rest means the piece ended with the LF just handled.
        after_cr = piece.last() == Some(&b'\r');
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out at most `step` bytes per read, to split CRLF pairs.
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.1.min(buf.len()).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn lf_and_crlf_copies_hash_alike_in_any_pieces() {
        let crlf = b"Subject: a\r\n\r\nline\r\n\r\nend\r\n";
        let lf = b"Subject: a\n\nline\n\nend\n";
        let expected = pimlink_core::digest::sha256_hex(crlf);
        for step in 1..8 {
            assert_eq!(
                crlf_sha256(Trickle(crlf, step)).unwrap(),
                expected,
                "{step}"
            );
            assert_eq!(crlf_sha256(Trickle(lf, step)).unwrap(), expected, "{step}");
        }
        let changed = b"Subject: b\n\nline\n\nend\n";
        assert_ne!(crlf_sha256(&changed[..]).unwrap(), expected);
    }
}
