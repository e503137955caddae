//! Line ends on the way into a Maildir: CRLF becomes LF.
//!
//! IMAP sends messages with CRLF line ends; Maildir files on Unix hold LF, which is what mail
//! readers, notmuch and mbsync expect and write (so a tree pimlink fills looks like the one
//! mbsync fills). A lone CR, which is not a line end, is kept. The conversion streams: a CR at
//! the end of one write is held back until the next byte shows what it was.

use std::io::{self, Write};

/// A writer that turns every CRLF into LF and passes everything else through.
pub(crate) struct CrlfToLf<W: Write> {
    inner: W,
    /// A CR seen at the end of the last write, not yet written.
    held_cr: bool,
}

impl<W: Write> CrlfToLf<W> {
    pub(crate) fn new(inner: W) -> Self {
        Self {
            inner,
            held_cr: false,
        }
    }

    /// Writes a CR still held back (a message that ends in a lone CR) and returns the writer.
    pub(crate) fn finish(mut self) -> io::Result<W> {
        if self.held_cr {
            self.inner.write_all(b"\r")?;
        }
        Ok(self.inner)
    }
}

impl<W: Write> Write for CrlfToLf<W> {
    /// Copies the runs between CRs as slices, found with `memchr` (a byte-at-a-time loop was the
    /// largest share of an initial download's CPU time).
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let Some(&first) = buf.first() else {
            return Ok(0);
        };
        if self.held_cr {
            self.held_cr = false;
            if first != b'\n' {
                self.inner.write_all(b"\r")?;
            }
        }
        let mut rest = buf;
        while let Some(at) = memchr::memchr(b'\r', rest) {
            self.inner.write_all(&rest[..at])?;
            match rest.get(at + 1) {
                Some(b'\n') => {} // Dropped: the LF follows.
                Some(_) => self.inner.write_all(b"\r")?,
                None => self.held_cr = true,
            }
            rest = &rest[at + 1..];
        }
        self.inner.write_all(rest)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn convert(chunks: &[&[u8]]) -> Vec<u8> {
        let mut writer = CrlfToLf::new(Vec::new());
        for chunk in chunks {
            writer.write_all(chunk).unwrap();
        }
        writer.finish().unwrap()
    }

    #[test]
    fn crlf_becomes_lf_and_lone_cr_stays() {
        assert_eq!(convert(&[b"a\r\nb\r\n"]), b"a\nb\n");
        assert_eq!(convert(&[b"a\rb\n\r"]), b"a\rb\n\r");
        assert_eq!(convert(&[b"a\r", b"\nb"]), b"a\nb");
        assert_eq!(convert(&[b"a\r", b"", b"\nb"]), b"a\nb");
        assert_eq!(convert(&[b"a\r", b"x"]), b"a\rx");
        assert_eq!(convert(&[b"\r\r\n"]), b"\r\n");
    }

    proptest! {
        #[test]
        fn any_split_gives_the_same_result(data in proptest::collection::vec(prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'x')], 0..200), cut in 0usize..200) {
            let cut = cut.min(data.len());
            let whole = convert(&[&data]);
            let split = convert(&[&data[..cut], &data[cut..]]);
            prop_assert_eq!(&whole, &split);
            let expected = String::from_utf8(data.clone()).unwrap().replace("\r\n", "\n");
            prop_assert_eq!(whole, expected.into_bytes());
        }
    }
}
