//! An HTTP proxy on loopback that stands for a provider's DAV front end (issue 18): it takes
//! `Authorization: Bearer TOKEN`, asks the [`crate::oauth2::OAuth2Server`] whether the token
//! is good, and passes the request to the server behind it with `X-Remote-User` (Radicale's
//! `http_x_remote_user`); a missing or refused token gets 401 with `WWW-Authenticate: Bearer`.
//!
//! One request per connection (every answer says `Connection: close`), one thread per
//! connection; bodies by `Content-Length` only, which is what the clients under test send.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::loopback::LoopbackServer;
use crate::net::HOST;

/// Tells the user a token belongs to, if the token is good.
pub type Check = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// The running proxy; stops accepting when dropped.
#[derive(Debug)]
pub struct BearerProxy {
    server: LoopbackServer,
    refused: Arc<AtomicUsize>,
}

impl BearerProxy {
    /// Listens on a free loopback port and forwards good requests to `127.0.0.1:upstream`.
    pub fn start(upstream: u16, check: Check) -> io::Result<Self> {
        let refused = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&refused);
        let server = LoopbackServer::start("bearer-proxy", move |stream| {
            let _ = relay(stream, upstream, &check, &counter);
        })?;
        Ok(Self { server, refused })
    }

    /// `http://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("http://{HOST}:{}/", self.server.port())
    }

    /// How many requests were answered 401.
    pub fn refused(&self) -> usize {
        self.refused.load(Ordering::SeqCst)
    }
}

fn relay(client: TcpStream, upstream: u16, check: &Check, refused: &AtomicUsize) -> io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut reader = BufReader::new(&client);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut headers = Vec::new();
    let mut length = 0;
    let mut token = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let (name, value) = (name.trim(), value.trim());
        match name.to_ascii_lowercase().as_str() {
            "authorization" => token = value.strip_prefix("Bearer ").map(str::to_owned),
            // Set by the proxy alone, as a real front end does.
            "x-remote-user" | "connection" | "keep-alive" => {}
            "content-length" => {
                length = value.parse().unwrap_or(0);
                headers.push(format!("{name}: {value}"));
            }
            _ => headers.push(format!("{name}: {value}")),
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let mut client = client;
    let Some(user) = token.as_deref().and_then(|t| check(t)) else {
        refused.fetch_add(1, Ordering::SeqCst);
        return client.write_all(
            b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer\r\nContent-Length: 0\r\n\
              Connection: close\r\n\r\n",
        );
    };
    let mut server = TcpStream::connect((HOST, upstream))?;
    server.set_read_timeout(Some(Duration::from_secs(120)))?;
    let mut head = request_line;
    for header in headers {
        head.push_str(&header);
        head.push_str("\r\n");
    }
    head.push_str(&format!(
        "X-Remote-User: {user}\r\nConnection: close\r\n\r\n"
    ));
    server.write_all(head.as_bytes())?;
    server.write_all(&body)?;
    let mut answer = Vec::new();
    server.read_to_end(&mut answer)?;
    // The client must not reuse the connection: say so even if the server did not.
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(answer.len());
    let head = String::from_utf8_lossy(&answer[..split]);
    let mut out = String::new();
    for line in head.split("\r\n") {
        if !line.to_ascii_lowercase().starts_with("connection:") {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str("Connection: close\r\n");
    client.write_all(out.as_bytes())?;
    client.write_all(answer.get(split + 2..).unwrap_or_default())
}
