//! A minimal line-based IMAP and HTTP client over std sockets, just enough to check the
//! servers the testkit starts (no literals, no TLS).

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

pub struct Imap {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    next_tag: u32,
    pub greeting: String,
}

impl Imap {
    pub fn connect(host: &str, port: u16) -> Imap {
        let stream = TcpStream::connect((host, port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let writer = stream.try_clone().unwrap();
        let mut reader = BufReader::new(stream);
        let mut greeting = String::new();
        reader.read_line(&mut greeting).unwrap();
        Imap {
            reader,
            writer,
            next_tag: 1,
            greeting,
        }
    }

    /// Sends one command; returns (untagged lines, tagged status line).
    pub fn command(&mut self, command: &str) -> (Vec<String>, String) {
        let tag = format!("t{}", self.next_tag);
        self.next_tag += 1;
        write!(self.writer, "{tag} {command}\r\n").unwrap();
        let mut untagged = Vec::new();
        loop {
            let mut line = String::new();
            let n = self.reader.read_line(&mut line).unwrap();
            assert!(n > 0, "server closed the connection during {command:?}");
            let line = line.trim_end().to_string();
            if let Some(rest) = line.strip_prefix(&format!("{tag} ")) {
                return (untagged, rest.to_string());
            }
            untagged.push(line);
        }
    }

    /// Sends a command that must succeed; returns its untagged lines and the OK line.
    pub fn ok(&mut self, command: &str) -> (Vec<String>, String) {
        let (untagged, status) = self.command(command);
        assert!(
            status.starts_with("OK"),
            "{command:?} failed: {status} {untagged:?}"
        );
        (untagged, status)
    }
}

/// Sends a raw HTTP/1.0 request and returns (status code, whole response).
pub fn http(port: u16, request: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let code = response
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {response:?}"));
    (code, response)
}

/// Base64 of `user:password`, for HTTP basic auth.
pub fn basic_auth(user: &str, password: &str) -> String {
    base64(format!("{user}:{password}").as_bytes())
}

/// Base64 (tiny encoder to avoid a dependency).
pub fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Whether any live process has `needle` in its command line.
pub fn process_running_with(needle: &str) -> bool {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .any(|cmdline| String::from_utf8_lossy(&cmdline).contains(needle))
}
