//! Just enough of an IMAP client to administer a test server that has no admin tool we can
//! use (Cyrus): log in, run a command, append a message. Blocking std sockets, no TLS.

use std::io::{self, BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::net::HOST;

/// One logged-in IMAP session.
pub(crate) struct Session {
    reader: BufReader<TcpStream>,
    next_tag: u32,
}

impl Session {
    /// Connects, reads the greeting and logs in.
    pub(crate) fn login(port: u16, user: &str, password: &str) -> io::Result<Session> {
        let stream = TcpStream::connect((HOST, port))?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        let mut session = Session {
            reader: BufReader::new(stream),
            next_tag: 1,
        };
        let greeting = session.read_line()?;
        if !greeting.starts_with("* OK") {
            return Err(io::Error::other(format!(
                "unexpected greeting {greeting:?}"
            )));
        }
        session.command(&format!("LOGIN {} {}", quote(user), quote(password)))?;
        Ok(session)
    }

    /// Runs a command (without literals); returns the untagged lines, or an error with the
    /// server's NO/BAD answer.
    pub(crate) fn command(&mut self, command: &str) -> io::Result<Vec<String>> {
        let tag = self.tag();
        write!(self.reader.get_mut(), "{tag} {command}\r\n")?;
        self.finish(&tag, command)
    }

    /// Appends `message` to `mailbox` with a non-synchronizing literal (LITERAL+, which both
    /// Dovecot and Cyrus offer).
    pub(crate) fn append(&mut self, mailbox: &str, message: &[u8]) -> io::Result<()> {
        let tag = self.tag();
        let head = format!("{tag} APPEND {} {{{}+}}\r\n", quote(mailbox), message.len());
        let stream = self.reader.get_mut();
        stream.write_all(head.as_bytes())?;
        stream.write_all(message)?;
        stream.write_all(b"\r\n")?;
        self.finish(&tag, "APPEND").map(drop)
    }

    fn tag(&mut self) -> String {
        let tag = format!("k{}", self.next_tag);
        self.next_tag += 1;
        tag
    }

    fn finish(&mut self, tag: &str, what: &str) -> io::Result<Vec<String>> {
        let mut untagged = Vec::new();
        loop {
            let line = self.read_line()?;
            if let Some(status) = line.strip_prefix(tag).and_then(|l| l.strip_prefix(' ')) {
                return if status.starts_with("OK") {
                    Ok(untagged)
                } else {
                    let verb = what.split(' ').next().unwrap_or(what);
                    Err(io::Error::other(format!("IMAP {verb} failed: {status}")))
                };
            }
            untagged.push(line);
        }
    }

    fn read_line(&mut self) -> io::Result<String> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "IMAP server closed the connection",
            ));
        }
        Ok(line.trim_end().to_string())
    }
}

/// An IMAP quoted string (test names and passwords never contain CR/LF; they are validated
/// before a server starts).
pub(crate) fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}
