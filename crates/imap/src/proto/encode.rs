//! Command text: quoting, literals and credentials. Commands are written by us, so this is a
//! small encoder of our own rather than `imap-codec`'s: it leaves the kind of each literal
//! (LITERAL+ or synchronising) to the [`Exchange`](super::exchange::Exchange), streams APPEND
//! bodies from files, and marks credentials so that the wire log can mask them.

use std::time::SystemTime;

use crate::uidset::UidRanges;
use crate::utf7;

/// Where a literal's bytes come from.
#[derive(Debug)]
pub enum LiteralData {
    /// Bytes in memory.
    Bytes(Vec<u8>),
    /// An open file of this length, read from its current position.
    File(std::fs::File, u64),
}

impl LiteralData {
    /// The length announced in `{N}`.
    pub fn len(&self) -> u64 {
        match self {
            LiteralData::Bytes(b) => b.len() as u64,
            LiteralData::File(_, n) => *n,
        }
    }

    /// True for an empty literal.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A piece of a command on the wire.
#[derive(Debug)]
pub enum Part {
    /// Plain command text.
    Text(Vec<u8>),
    /// Text that must not be logged (a password, a SASL response).
    SecretText(Vec<u8>),
    /// A literal: `{N}` (or `{N+}`) then CRLF then the data.
    Literal {
        /// The data.
        data: LiteralData,
        /// Whether it is a credential.
        secret: bool,
    },
}

/// A command without its tag, as parts.
#[derive(Debug, Default)]
pub struct CommandText {
    parts: Vec<Part>,
    /// The command name, for error messages ("SELECT", "UID FETCH").
    pub name: String,
}

impl CommandText {
    /// Starts a command with its name, e.g. `"UID FETCH"`.
    pub fn new(name: &str) -> Self {
        Self {
            parts: vec![Part::Text(name.as_bytes().to_vec())],
            name: name.to_owned(),
        }
    }

    /// Appends ` text` (a space, then raw text that needs no quoting).
    pub fn atom(mut self, text: impl AsRef<str>) -> Self {
        self.push_text(b" ");
        self.push_text(text.as_ref().as_bytes());
        self
    }

    /// Appends ` text` where the text is a credential (masked in logs), e.g. a SASL response.
    pub fn secret_atom(mut self, text: &str) -> Self {
        self.push_text(b" ");
        self.parts.push(Part::SecretText(text.as_bytes().to_vec()));
        self
    }

    /// Appends a string argument: an atom if it is one, else quoted, else a literal.
    pub fn string(mut self, value: &[u8]) -> Self {
        self.push_text(b" ");
        self.push_string(value, false);
        self
    }

    /// Appends a credential string argument (masked in logs).
    pub fn secret_string(mut self, value: &[u8]) -> Self {
        self.push_text(b" ");
        self.push_string(value, true);
        self
    }

    /// Appends a mailbox name, encoding it as modified UTF-7 unless `utf8` is true (UTF8=ACCEPT
    /// enabled). `INBOX` in any case is sent as `INBOX`.
    pub fn mailbox(mut self, name: &str, utf8: bool) -> Self {
        let wire = mailbox_wire_name(name, utf8);
        self.push_text(b" ");
        // RFC 6855 section 3: once UTF8=ACCEPT is enabled, quoted strings may carry UTF-8,
        // which saves the round trip a synchronising literal costs.
        self.push_string_with(&wire, false, utf8);
        self
    }

    /// Appends a literal argument, e.g. an APPEND message.
    pub fn literal(mut self, data: LiteralData) -> Self {
        self.push_text(b" ");
        self.parts.push(Part::Literal {
            data,
            secret: false,
        });
        self
    }

    /// The parts, for the writer.
    pub fn into_parts(self) -> Vec<Part> {
        self.parts
    }

    fn push_text(&mut self, text: &[u8]) {
        if let Some(Part::Text(last)) = self.parts.last_mut() {
            last.extend_from_slice(text);
        } else {
            self.parts.push(Part::Text(text.to_vec()));
        }
    }

    fn push_string(&mut self, value: &[u8], secret: bool) {
        self.push_string_with(value, secret, false);
    }

    fn push_string_with(&mut self, value: &[u8], secret: bool, utf8: bool) {
        let quotable = value
            .iter()
            .all(|&b| b != 0 && b != b'\r' && b != b'\n' && (b.is_ascii() || utf8))
            && value.len() < 1000
            && (!utf8 || std::str::from_utf8(value).is_ok());
        if quotable {
            let mut quoted = Vec::with_capacity(value.len() + 2);
            quoted.push(b'"');
            for &b in value {
                if b == b'"' || b == b'\\' {
                    quoted.push(b'\\');
                }
                quoted.push(b);
            }
            quoted.push(b'"');
            if secret {
                self.parts.push(Part::SecretText(quoted));
            } else {
                self.push_text(&quoted);
            }
        } else {
            self.parts.push(Part::Literal {
                data: LiteralData::Bytes(value.to_vec()),
                secret,
            });
        }
    }
}

/// A message of an APPEND command.
#[derive(Debug)]
pub struct AppendMessage {
    /// Its flags (`()` when empty: the list is always sent).
    pub flags: pimlink_core::Flags,
    /// Its internal date, if it is to be set.
    pub internal_date: Option<SystemTime>,
    /// The message (CRLF line ends).
    pub data: LiteralData,
}

/// `APPEND mailbox (flags) "date" {n}...`, one flag list, date and literal per message: with
/// more than one message this is a MULTIAPPEND (RFC 3502).
pub fn append(mailbox: &str, utf8: bool, messages: Vec<AppendMessage>) -> CommandText {
    let mut cmd = CommandText::new("APPEND").mailbox(mailbox, utf8);
    for message in messages {
        cmd = cmd.atom(flag_list(&message.flags));
        if let Some(date) = message.internal_date {
            cmd = cmd.atom(internal_date(date));
        }
        cmd = cmd.literal(message.data);
    }
    cmd
}

/// The bytes a mailbox name is sent as.
pub fn mailbox_wire_name(name: &str, utf8: bool) -> Vec<u8> {
    if name.eq_ignore_ascii_case("INBOX") {
        b"INBOX".to_vec()
    } else if utf8 {
        name.as_bytes().to_vec()
    } else {
        utf7::encode(name).into_bytes()
    }
}

/// A parenthesised flag list, e.g. `(\Seen $Forwarded)`.
pub fn flag_list(flags: &pimlink_core::Flags) -> String {
    let mut names: Vec<&str> = flags.system_flags().map(|f| f.imap_name()).collect();
    names.extend(flags.keywords().filter(|k| is_atom(k)));
    format!("({})", names.join(" "))
}

fn is_atom(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"(){%*\"\\]".contains(&b))
}

/// `UID n:m,...` text for a set of UIDs.
pub fn uid_set(uids: &UidRanges) -> String {
    uids.to_string()
}

/// INTERNALDATE text, `"dd-Mon-yyyy hh:mm:ss +0000"`, in UTC.
pub fn internal_date(time: SystemTime) -> String {
    let secs = match time.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    };
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "\"{:02}-{}-{:04} {:02}:{:02}:{:02} +0000\"",
        day,
        MONTHS[(month - 1) as usize],
        year,
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Howard Hinnant's days-to-civil algorithm: (year, month 1-12, day 1-31).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pimlink_core::{Flag, Flags};
    use std::time::Duration;

    fn text(cmd: CommandText) -> String {
        cmd.into_parts()
            .into_iter()
            .map(|p| match p {
                Part::Text(t) | Part::SecretText(t) => String::from_utf8(t).unwrap(),
                Part::Literal { data, .. } => format!("{{{}}}", data.len()),
            })
            .collect()
    }

    #[test]
    fn strings_are_quoted_or_sent_as_literals() {
        assert_eq!(
            text(CommandText::new("LOGIN").string(b"a\"b").string(b"x\\y")),
            "LOGIN \"a\\\"b\" \"x\\\\y\""
        );
        assert_eq!(
            text(CommandText::new("LOGIN").string(b"line\r\nbreak")),
            "LOGIN {11}"
        );
        assert_eq!(
            text(CommandText::new("SELECT").mailbox("Entwürfe", false)),
            "SELECT \"Entw&APw-rfe\""
        );
        assert_eq!(
            text(CommandText::new("SELECT").mailbox("Entwürfe", true)),
            "SELECT \"Entwürfe\""
        );
        // With UTF8=ACCEPT '&' is an ordinary character; CR/LF still need a literal.
        assert_eq!(
            text(CommandText::new("SELECT").mailbox("R&D", true)),
            "SELECT \"R&D\""
        );
        assert_eq!(
            text(CommandText::new("SELECT").mailbox("a\r\nü", true)),
            "SELECT {5}"
        );
        // Without it, 8-bit text never goes out quoted, even through string().
        assert_eq!(text(CommandText::new("X").string("ü".as_bytes())), "X {2}");
        assert_eq!(
            text(CommandText::new("SELECT").mailbox("inbox", false)),
            "SELECT \"INBOX\""
        );
    }

    #[test]
    fn secrets_are_separate_parts() {
        let parts = CommandText::new("LOGIN")
            .string(b"me")
            .secret_string(b"pw")
            .into_parts();
        assert!(matches!(parts.last(), Some(Part::SecretText(t)) if t == b"\"pw\""));
    }

    #[test]
    fn an_append_of_several_messages_is_one_command_with_a_literal_each() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let message = |flags: Flags, internal_date, text: &str| AppendMessage {
            flags,
            internal_date,
            data: LiteralData::Bytes(text.as_bytes().to_vec()),
        };
        let cmd = append(
            "Entwürfe",
            false,
            vec![
                message(Flags::new().with(Flag::Seen), Some(t), "one\r\n"),
                message(Flags::new(), None, "second\r\n"),
                message(Flags::new().with(Flag::Flagged), Some(t), "3\r\n"),
            ],
        );
        assert_eq!(cmd.name, "APPEND");
        assert_eq!(
            text(cmd),
            "APPEND \"Entw&APw-rfe\" (\\Seen) \"14-Nov-2023 22:13:20 +0000\" {5} () {8} \
             (\\Flagged) \"14-Nov-2023 22:13:20 +0000\" {3}"
        );
        let single = append("INBOX", true, vec![message(Flags::new(), None, "x")]);
        assert_eq!(text(single), "APPEND \"INBOX\" () {1}");
    }

    #[test]
    fn flags_and_dates() {
        let flags = Flags::new().with(Flag::Seen).with(Flag::Passed);
        assert_eq!(flag_list(&flags), "($Forwarded \\Seen)");
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(internal_date(t), "\"14-Nov-2023 22:13:20 +0000\"");
        assert_eq!(
            internal_date(SystemTime::UNIX_EPOCH),
            "\"01-Jan-1970 00:00:00 +0000\""
        );
    }
}
