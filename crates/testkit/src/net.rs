//! Free loopback ports and waiting until a freshly started server answers.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use crate::process::ServerProcess;

/// The only address test servers listen on.
pub const HOST: &str = "127.0.0.1";

/// How long a server may take to become ready. Generous, because CI machines are slow and
/// shared; a healthy Dovecot is ready in well under a second. 30 s was seen to be too short
/// for Radicale (a Python start) on two cores busy with six compilers; waiting longer costs
/// nothing unless a server is broken.
pub(crate) const READY_TIMEOUT: Duration = Duration::from_secs(120);
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// A port that was free on 127.0.0.1 a moment ago.
///
/// The listener is dropped before the server binds, so another process may take the port in
/// between; callers retry with a new port when the server reports "Address already in use".
pub fn free_port() -> io::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

/// Two distinct ports that were free a moment ago (both listeners are held while the second is
/// chosen, so the kernel cannot hand out the same port twice).
pub(crate) fn free_port_pair() -> io::Result<(u16, u16)> {
    let first = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    let second = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok((first.local_addr()?.port(), second.local_addr()?.port()))
}

/// Why a server did not become ready.
#[derive(Debug)]
pub(crate) enum NotReady {
    /// The server could not bind its port (someone else took it): worth retrying.
    PortTaken(io::Error),
    /// Anything else: give up.
    Failed(io::Error),
}

impl From<NotReady> for io::Error {
    fn from(e: NotReady) -> Self {
        match e {
            NotReady::PortTaken(e) | NotReady::Failed(e) => e,
        }
    }
}

/// Polls `probe` until it returns `Ok(true)`, failing early when the server exits and with a
/// timeout error otherwise; every error carries the tail of the server's logs.
pub(crate) fn wait_ready(
    server: &ServerProcess,
    what: &str,
    mut probe: impl FnMut() -> io::Result<bool>,
) -> Result<(), NotReady> {
    let deadline = Instant::now() + READY_TIMEOUT;
    let mut last_error = None;
    loop {
        match probe() {
            Ok(true) => return Ok(()),
            Ok(false) => {}
            Err(e) => last_error = Some(e),
        }
        let exited = server.has_exited();
        if exited || Instant::now() >= deadline {
            let tail = server.log_tail(30);
            let state = if exited {
                "exited before it was ready".to_string()
            } else {
                format!("was not ready after {READY_TIMEOUT:?}")
            };
            let last = last_error.map(|e| format!(" (last probe error: {e})"));
            let message = format!(
                "{} {state} while waiting for {what}{}\n{tail}",
                server.name(),
                last.unwrap_or_default()
            );
            let error = io::Error::new(io::ErrorKind::TimedOut, message);
            return Err(if tail.contains("Address already in use") {
                NotReady::PortTaken(error)
            } else {
                NotReady::Failed(error)
            });
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// A line reader on `port`, or `None` while nothing listens there yet.
fn connect_reader(port: u16) -> io::Result<Option<BufReader<TcpStream>>> {
    let stream = match TcpStream::connect((HOST, port)) {
        Ok(s) => s,
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => return Ok(None),
        Err(e) => return Err(e),
    };
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    Ok(Some(BufReader::new(stream)))
}

/// Connects to `port` and reads lines until an IMAP greeting that means "ready".
///
/// Dovecot's login process may first send `* OK Waiting for authentication process to
/// respond..` while its auth service starts; that line does not count.
pub(crate) fn imap_greeting(port: u16) -> io::Result<bool> {
    let Some(mut reader) = connect_reader(port)? else {
        return Ok(false);
    };
    for _ in 0..3 {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(false);
        }
        if line.starts_with("* OK") && !line.contains("Waiting for authentication") {
            return Ok(true);
        }
        if line.starts_with("* BYE") {
            return Ok(false);
        }
    }
    Ok(false)
}

/// Connects to `port` and reads a ManageSieve greeting (capability lines, then `OK`).
pub(crate) fn managesieve_greeting(port: u16) -> io::Result<bool> {
    let Some(mut reader) = connect_reader(port)? else {
        return Ok(false);
    };
    // Dovecot sends about ten capability lines; a greeting longer than this is not one.
    for _ in 0..64 {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(false);
        }
        if line.starts_with("OK") {
            return Ok(true);
        }
        if line.starts_with("NO") || line.starts_with("BYE") {
            return Ok(false);
        }
    }
    Ok(false)
}

/// Sends a bare HTTP request and returns whether any HTTP status line came back.
pub(crate) fn http_answers(port: u16) -> io::Result<bool> {
    let mut stream = match TcpStream::connect((HOST, port)) {
        Ok(s) => s,
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => return Ok(false),
        Err(e) => return Err(e),
    };
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.write_all(b"OPTIONS / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line)?;
    Ok(line.starts_with("HTTP/1."))
}
