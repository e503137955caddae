//! A loopback IMAP proxy that makes a real server (the testkit Dovecot) misbehave the way a
//! provider does: it can answer a client's command itself instead of forwarding it (Outlook's
//! `NO [THROTTLED]`) and rewrite or add the server's response lines (iCloud's wrong
//! `VANISHED`). Everything else passes unchanged, so the rest of the session is Dovecot's.
//!
//! It works on lines: literals (`{N}`, `{N+}`, `~{N}`) are copied as bytes, never shown to the
//! script. Compression and TLS would hide the lines, so the server behind it must offer neither
//! (the testkit Dovecot's defaults).

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;

use crate::net::HOST;

/// What the proxy does with a session; each method gets the connection's index (0 for the
/// first one accepted).
pub trait ImapScript: Send + Sync + 'static {
    /// A command from the client (its first line, without CRLF; `tag` is its first word).
    /// `None` forwards it; `Some(rest)` answers `tag rest` instead, and the server never sees
    /// the command. A command with a literal is always forwarded.
    fn command(&self, connection: usize, tag: &str, line: &str) -> Option<String> {
        let _ = (connection, tag, line);
        None
    }

    /// A line from the server (without CRLF): the lines to send the client instead.
    fn response(&self, connection: usize, line: &str) -> Vec<String> {
        let _ = connection;
        vec![line.to_owned()]
    }
}

/// A script the test keeps a handle on, to ask it afterwards what it did.
impl<T: ImapScript> ImapScript for Arc<T> {
    fn command(&self, connection: usize, tag: &str, line: &str) -> Option<String> {
        (**self).command(connection, tag, line)
    }

    fn response(&self, connection: usize, line: &str) -> Vec<String> {
        (**self).response(connection, line)
    }
}

/// The proxy, on a free port of 127.0.0.1 in front of `127.0.0.1:target`. It serves until
/// the test process ends (each test has its own server behind it).
pub struct ImapScriptProxy {
    port: u16,
}

impl ImapScriptProxy {
    /// Starts the proxy to `127.0.0.1:target`, run by `script`.
    pub fn start(target: u16, script: impl ImapScript) -> io::Result<ImapScriptProxy> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let port = listener.local_addr()?.port();
        let script: Arc<dyn ImapScript> = Arc::new(script);
        let count = AtomicUsize::new(0);
        thread::Builder::new()
            .name(format!("imap-script-{port}"))
            .spawn(move || {
                for client in listener.incoming() {
                    let Ok(client) = client else { break };
                    let index = count.fetch_add(1, Ordering::SeqCst);
                    let script = Arc::clone(&script);
                    let _ = thread::Builder::new()
                        .name(format!("imap-script-{port}-{index}"))
                        .spawn(move || {
                            let _ = session(client, target, index, script);
                        });
                }
            })?;
        Ok(ImapScriptProxy { port })
    }

    /// The address to connect to instead of the server.
    pub fn host(&self) -> &'static str {
        HOST
    }

    /// The proxy's port.
    pub fn port(&self) -> u16 {
        self.port
    }
}

/// One client's session: commands go up in this thread, responses come down in another; both
/// write to the client through one lock, so an answer of the proxy's never splits a line.
fn session(
    client: TcpStream,
    target: u16,
    index: usize,
    script: Arc<dyn ImapScript>,
) -> io::Result<()> {
    let server = TcpStream::connect((HOST, target))?;
    let to_client = Arc::new(Mutex::new(client.try_clone()?));
    let down = {
        let (server, to_client) = (server.try_clone()?, Arc::clone(&to_client));
        let script = Arc::clone(&script);
        thread::spawn(move || {
            let _ = responses(server, &to_client, index, &*script);
            let client = to_client.lock().unwrap_or_else(PoisonError::into_inner);
            let _ = client.shutdown(Shutdown::Both);
        })
    };
    let result = commands(client, server.try_clone()?, &to_client, index, &*script);
    let _ = server.shutdown(Shutdown::Both);
    let _ = down.join();
    result
}

fn commands(
    client: TcpStream,
    mut server: TcpStream,
    to_client: &Mutex<TcpStream>,
    index: usize,
    script: &dyn ImapScript,
) -> io::Result<()> {
    let mut lines = Lines::new(client);
    while let Some(line) = lines.next_line()? {
        if line.whole {
            let tag = line.text.split(' ').next().unwrap_or_default();
            if let Some(answer) = script.command(index, tag, &line.text) {
                let mut client = to_client.lock().unwrap_or_else(PoisonError::into_inner);
                client.write_all(format!("{tag} {answer}\r\n").as_bytes())?;
                continue;
            }
        }
        server.write_all(&line.bytes)?;
        lines.copy_literal(&mut server)?;
    }
    Ok(())
}

fn responses(
    server: TcpStream,
    to_client: &Mutex<TcpStream>,
    index: usize,
    script: &dyn ImapScript,
) -> io::Result<()> {
    let mut lines = Lines::new(server);
    while let Some(line) = lines.next_line()? {
        let mut client = to_client.lock().unwrap_or_else(PoisonError::into_inner);
        if line.whole {
            for out in script.response(index, &line.text) {
                client.write_all(format!("{out}\r\n").as_bytes())?;
            }
        } else {
            client.write_all(&line.bytes)?;
        }
        lines.copy_literal(&mut *client)?;
    }
    Ok(())
}

/// The lines of one direction of a session, with the literals between them.
struct Lines {
    reader: BufReader<TcpStream>,
    /// The literal the last line announced, not yet copied.
    literal: Option<u64>,
    /// True while the lines read continue a command or response after a literal.
    continued: bool,
}

/// One line as read.
struct Line {
    /// With its CRLF, as it came.
    bytes: Vec<u8>,
    /// Without its CRLF.
    text: String,
    /// True for a whole command or response: neither announcing a literal nor continuing
    /// after one. Only these are shown to the script.
    whole: bool,
}

impl Lines {
    fn new(stream: TcpStream) -> Self {
        Lines {
            reader: BufReader::new(stream),
            literal: None,
            continued: false,
        }
    }

    /// The next line, or `None` at the end of the stream.
    fn next_line(&mut self) -> io::Result<Option<Line>> {
        let mut bytes = Vec::new();
        if self.reader.read_until(b'\n', &mut bytes)? == 0 {
            return Ok(None);
        }
        let text = String::from_utf8_lossy(&bytes)
            .trim_end_matches(['\r', '\n'])
            .to_owned();
        self.literal = literal_length(&text);
        let whole = !self.continued && self.literal.is_none();
        self.continued = self.literal.is_some();
        Ok(Some(Line { bytes, text, whole }))
    }

    /// Copies the literal the last line announced, if any, to `to`.
    fn copy_literal(&mut self, to: &mut impl Write) -> io::Result<()> {
        match self.literal.take() {
            Some(length) => copy_exactly(&mut self.reader, to, length),
            None => Ok(()),
        }
    }
}

/// The length of the literal `line` ends with (`{12}`, `{12+}`, `~{12}`), if any.
fn literal_length(line: &str) -> Option<u64> {
    let inner = line.strip_suffix('}')?;
    let (_, digits) = inner.rsplit_once('{')?;
    digits.trim_end_matches('+').parse().ok()
}

fn copy_exactly(from: &mut impl Read, to: &mut impl Write, length: u64) -> io::Result<()> {
    let copied = io::copy(&mut from.take(length), to)?;
    if copied < length {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the stream ended inside a literal",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::literal_length;

    #[test]
    fn literals_are_found_at_the_end_of_a_line_only() {
        assert_eq!(literal_length("* 1 FETCH (UID 1 BODY[] {12}"), Some(12));
        assert_eq!(literal_length("a1 APPEND INBOX {340+}"), Some(340));
        assert_eq!(literal_length("* 1 FETCH (BINARY[] ~{7}"), Some(7));
        assert_eq!(literal_length("a2 SELECT {weird}"), None);
        assert_eq!(literal_length("a3 NOOP"), None);
    }
}
