//! IMAP wants CRLF line ends; Maildir files usually have bare LF. Messages are converted on the
//! way to the server, bounded in memory: a file is scanned first and sent as it is when it has
//! no bare LF (the common case for mail that came from a server), otherwise streamed through the
//! conversion into an unlinked spool file.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

use pimlink_core::Content;

const CHUNK: usize = 64 * 1024;

/// True if `bytes` has a LF not preceded by CR. `previous` is the byte before `bytes`.
fn has_bare_lf(bytes: &[u8], previous: Option<u8>) -> bool {
    let mut prev = previous;
    for &b in bytes {
        if b == b'\n' && prev != Some(b'\r') {
            return true;
        }
        prev = Some(b);
    }
    false
}

/// Appends `bytes` to `out` with every bare LF made CRLF; returns the last input byte.
fn convert_into(bytes: &[u8], previous: Option<u8>, out: &mut Vec<u8>) -> Option<u8> {
    let mut prev = previous;
    for &b in bytes {
        if b == b'\n' && prev != Some(b'\r') {
            out.push(b'\r');
        }
        out.push(b);
        prev = Some(b);
    }
    prev
}

/// `bytes` with CRLF line ends.
pub(crate) fn to_crlf(bytes: Vec<u8>) -> Vec<u8> {
    if !has_bare_lf(&bytes, None) {
        return bytes;
    }
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 32);
    convert_into(&bytes, None, &mut out);
    out
}

/// A file's content with CRLF line ends: the file itself (rewound) if it has none to fix, else
/// an unlinked spool file in `spool_dir` (or the temp directory) holding the converted copy.
pub(crate) fn file_to_crlf(mut file: File, spool_dir: Option<&Path>) -> io::Result<File> {
    let start = file.stream_position()?;
    let mut needs = false;
    {
        let mut reader = BufReader::with_capacity(CHUNK, &mut file);
        let mut buf = vec![0u8; CHUNK];
        let mut prev = None;
        loop {
            let n = reader.read(&mut buf)?;
            if n == 0 {
                break;
            }
            if has_bare_lf(&buf[..n], prev) {
                needs = true;
                break;
            }
            prev = Some(buf[n - 1]);
        }
    }
    file.seek(SeekFrom::Start(start))?;
    if !needs {
        return Ok(file);
    }
    let spool = match spool_dir {
        Some(dir) => tempfile::tempfile_in(dir)?,
        None => tempfile::tempfile()?,
    };
    let mut writer = BufWriter::with_capacity(CHUNK, spool);
    let mut buf = vec![0u8; CHUNK];
    let mut out = Vec::with_capacity(CHUNK * 2);
    let mut prev = None;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        out.clear();
        prev = convert_into(&buf[..n], prev, &mut out);
        writer.write_all(&out)?;
    }
    let mut spool = writer.into_inner().map_err(|e| e.into_error())?;
    spool.seek(SeekFrom::Start(0))?;
    Ok(spool)
}

/// `content` with CRLF line ends.
pub(crate) fn content_to_crlf(content: Content, spool_dir: Option<&Path>) -> io::Result<Content> {
    Ok(match content {
        Content::Bytes(bytes) => Content::Bytes(to_crlf(bytes)),
        Content::File(file) => Content::File(file_to_crlf(file, spool_dir)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn reference(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, &b) in bytes.iter().enumerate() {
            if b == b'\n' && (i == 0 || bytes[i - 1] != b'\r') {
                out.push(b'\r');
            }
            out.push(b);
        }
        out
    }

    #[test]
    fn bare_lf_becomes_crlf_and_crlf_stays() {
        assert_eq!(to_crlf(b"a\nb\r\nc\n\n".to_vec()), b"a\r\nb\r\nc\r\n\r\n");
        assert_eq!(to_crlf(b"\n".to_vec()), b"\r\n");
        assert_eq!(to_crlf(b"x\r\r\n".to_vec()), b"x\r\r\n");
    }

    #[test]
    fn a_file_without_bare_lf_is_passed_through() {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(b"a\r\nb\r\n").unwrap();
        file.seek(SeekFrom::Start(0)).unwrap();
        let mut out = file_to_crlf(file, None).unwrap();
        let mut text = Vec::new();
        out.read_to_end(&mut text).unwrap();
        assert_eq!(text, b"a\r\nb\r\n");
    }

    proptest! {
        #[test]
        fn file_conversion_matches_the_reference_across_chunk_boundaries(
            parts in proptest::collection::vec(prop_oneof![
                Just(b"\r".to_vec()), Just(b"\n".to_vec()), Just(b"\r\n".to_vec()),
                proptest::collection::vec(any::<u8>(), 0..40),
            ], 0..40),
            pad in 0usize..3,
        ) {
            // A long run of filler puts CR/LF pairs across the 64 KiB chunk boundary.
            let mut input = vec![b'x'; CHUNK - pad];
            for part in parts { input.extend(part); }
            let mut file = tempfile::tempfile().unwrap();
            file.write_all(&input).unwrap();
            file.seek(SeekFrom::Start(0)).unwrap();
            let mut out = file_to_crlf(file, None).unwrap();
            let mut got = Vec::new();
            out.read_to_end(&mut got).unwrap();
            prop_assert_eq!(&got, &reference(&input));
            prop_assert_eq!(to_crlf(input.clone()), reference(&input));
        }
    }
}
