//! Server bytes shown to the user: printable ASCII as it is, everything else escaped, so that
//! a hostile or broken server cannot put control sequences on the user's terminal or log.

use std::fmt::Write as _;

/// `bytes`, at most `max` of them, with `\r`, `\n`, `\t`, `\\` and every other byte outside
/// printable ASCII written as escapes (`\x00`); a cut is marked with the full length.
pub fn escape_bytes(bytes: &[u8], max: usize) -> String {
    let shown = &bytes[..bytes.len().min(max)];
    let mut out = String::with_capacity(shown.len() + 16);
    for &byte in shown {
        match byte {
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            b'\\' => out.push_str("\\\\"),
            b' '..=b'~' => out.push(char::from(byte)),
            _ => {
                let _ = write!(out, "\\x{byte:02x}");
            }
        }
    }
    if shown.len() < bytes.len() {
        let _ = write!(out, "... ({} bytes)", bytes.len());
    }
    out
}

/// `text` with control characters (ESC, NUL, ...) written as escapes (`\x1b`), everything else
/// as it is: for a server's human text, which may be in any language and is only read.
pub fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            c if c.is_control() => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_printable_ascii_is_shown_as_it_is() {
        assert_eq!(
            escape_bytes(b"* LIST () \".\" {3}\r\na\0b\r\n", 100),
            "* LIST () \".\" {3}\\r\\na\\x00b\\r\\n"
        );
        assert_eq!(escape_bytes(b"\x1b[31mred\\", 100), "\\x1b[31mred\\\\");
        assert_eq!(escape_bytes("é".as_bytes(), 100), "\\xc3\\xa9");
        assert_eq!(escape_bytes(b"abcdef", 3), "abc... (6 bytes)");
    }

    #[test]
    fn human_text_keeps_its_letters_and_loses_its_control_characters() {
        assert_eq!(
            escape_text("Échec \u{1b}[2J\0 a\\b"),
            "Échec \\x1b[2J\\x00 a\\b"
        );
    }
}
