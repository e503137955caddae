//! The byte pipe under a connection: TCP, TLS, a tunnel command, optionally compressed.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use pimlink_core::{Error, ErrorKind};
use pimlink_tls::TlsMode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::options::ClientOptions;

enum Inner {
    Tcp(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    Tunnel(Box<Tunnel>),
    Closed,
}

struct Tunnel {
    // Kept so that the child is killed when the transport is dropped.
    _child: Child,
    stdin: ChildStdin,
    stdout: ChildStdout,
}

struct Deflate {
    compress: Compress,
    decompress: Decompress,
}

/// A connection's byte pipe. Writes are buffered until [`Transport::flush`], which is what lets
/// the client pipeline several commands into one packet.
pub struct Transport {
    inner: Inner,
    deflate: Option<Deflate>,
    write_buf: Vec<u8>,
    read_buf: Vec<u8>,
    read_timeout: Duration,
    description: String,
}

fn conn_err(what: impl Into<String>, err: std::io::Error) -> Error {
    Error::new(ErrorKind::Connection, what).with_source(err)
}

impl Transport {
    /// Opens TCP (and TLS for implicit mode) or starts the tunnel command, within the connect
    /// timeout.
    pub async fn open(options: &ClientOptions) -> Result<Self, Error> {
        let description;
        let inner = if let Some(cmd) = &options.tunnel {
            description = format!("tunnel {cmd:?}");
            let mut child = Command::new("sh")
                .arg("-c")
                .arg(cmd)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .map_err(|e| conn_err(format!("cannot start tunnel command {cmd:?}"), e))?;
            let stdin = child.stdin.take();
            let stdout = child.stdout.take();
            match (stdin, stdout) {
                (Some(stdin), Some(stdout)) => Inner::Tunnel(Box::new(Tunnel {
                    _child: child,
                    stdin,
                    stdout,
                })),
                _ => {
                    return Err(Error::new(
                        ErrorKind::Connection,
                        format!("tunnel command {cmd:?} has no stdin/stdout"),
                    ));
                }
            }
        } else {
            let port = options.effective_port();
            description = format!("{}:{}", options.host, port);
            let connect = TcpStream::connect((options.host.as_str(), port));
            let tcp = tokio::time::timeout(options.connect_timeout, connect)
                .await
                .map_err(|_| {
                    Error::new(
                        ErrorKind::Connection,
                        format!("connecting to {description} timed out"),
                    )
                })?
                .map_err(|e| conn_err(format!("cannot connect to {description}"), e))?;
            // Commands are small and latency-bound; Nagle would delay pipelined batches.
            let _ = tcp.set_nodelay(true);
            Inner::Tcp(tcp)
        };
        let mut transport = Self {
            inner,
            deflate: None,
            write_buf: Vec::new(),
            read_buf: vec![0; 64 << 10],
            read_timeout: options.read_timeout,
            description,
        };
        if options.tunnel.is_none() && options.tls == TlsMode::Implicit {
            tokio::time::timeout(options.connect_timeout, transport.start_tls(options))
                .await
                .map_err(|_| {
                    Error::new(
                        ErrorKind::Connection,
                        format!("TLS handshake with {} timed out", transport.description),
                    )
                })??;
        }
        Ok(transport)
    }

    /// What this transport talks to, for messages.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// True once TLS is active.
    pub fn is_tls(&self) -> bool {
        matches!(self.inner, Inner::Tls(_))
    }

    /// Runs the TLS handshake over the current TCP stream (implicit TLS or after STARTTLS).
    pub async fn start_tls(&mut self, options: &ClientOptions) -> Result<(), Error> {
        let Inner::Tcp(tcp) = std::mem::replace(&mut self.inner, Inner::Closed) else {
            return Err(Error::new(
                ErrorKind::Config,
                "TLS can only be started on a plain TCP connection",
            ));
        };
        let config = Arc::new(pimlink_tls::client_config(&options.trust)?);
        let name = pimlink_tls::server_name(&options.host)?;
        let stream = TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(|e| {
                let kind = if e.kind() == std::io::ErrorKind::InvalidData {
                    ErrorKind::Refused
                } else {
                    ErrorKind::Connection
                };
                Error::new(
                    kind,
                    format!("TLS handshake with {} failed", self.description),
                )
                .with_source(e)
            })?;
        self.inner = Inner::Tls(Box::new(stream));
        Ok(())
    }

    /// Compresses everything from now on (after the server's OK to COMPRESS DEFLATE).
    pub fn start_deflate(&mut self) {
        self.deflate = Some(Deflate {
            compress: Compress::new(Compression::default(), false),
            decompress: Decompress::new(false),
        });
    }

    /// Decompresses bytes that were read (raw) before compression was switched on.
    pub fn decompress_pending(&mut self, pending: &[u8]) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        if let Some(deflate) = &mut self.deflate {
            decompress_all(&mut deflate.decompress, pending, &mut out)?;
        }
        Ok(out)
    }

    /// True once COMPRESS is active.
    pub fn is_compressed(&self) -> bool {
        self.deflate.is_some()
    }

    /// Queues bytes to send.
    pub fn queue(&mut self, bytes: &[u8]) {
        self.write_buf.extend_from_slice(bytes);
    }

    /// Bytes queued but not yet sent.
    pub fn queued(&self) -> usize {
        self.write_buf.len()
    }

    /// Sends everything queued.
    pub async fn flush(&mut self) -> Result<(), Error> {
        if self.write_buf.is_empty() {
            return Ok(());
        }
        let plain = std::mem::take(&mut self.write_buf);
        let bytes = match &mut self.deflate {
            None => plain,
            Some(deflate) => compress_all(&mut deflate.compress, &plain)?,
        };
        let what = &self.description;
        let write = async {
            match &mut self.inner {
                Inner::Tcp(s) => {
                    s.write_all(&bytes).await?;
                    s.flush().await
                }
                Inner::Tls(s) => {
                    s.write_all(&bytes).await?;
                    s.flush().await
                }
                Inner::Tunnel(t) => {
                    t.stdin.write_all(&bytes).await?;
                    t.stdin.flush().await
                }
                Inner::Closed => Err(std::io::Error::from(std::io::ErrorKind::NotConnected)),
            }
        };
        tokio::time::timeout(self.read_timeout, write)
            .await
            .map_err(|_| {
                Error::new(
                    ErrorKind::Connection,
                    format!("writing to {what} timed out"),
                )
            })?
            .map_err(|e| conn_err(format!("writing to {what} failed"), e))
    }

    /// Reads some bytes (decompressed) and appends them to `out`; returns how many, 0 at the
    /// end of the stream. Fails after the read timeout.
    pub async fn read(&mut self, out: &mut Vec<u8>) -> Result<usize, Error> {
        loop {
            let n = {
                let buf = &mut self.read_buf;
                let read = async {
                    match &mut self.inner {
                        Inner::Tcp(s) => s.read(buf).await,
                        Inner::Tls(s) => s.read(buf).await,
                        Inner::Tunnel(t) => t.stdout.read(buf).await,
                        Inner::Closed => Ok(0),
                    }
                };
                tokio::time::timeout(self.read_timeout, read)
                    .await
                    .map_err(|_| {
                        Error::new(
                            ErrorKind::Connection,
                            format!(
                                "{} sent nothing for {} s",
                                self.description,
                                self.read_timeout.as_secs()
                            ),
                        )
                    })?
                    .map_err(|e| conn_err(format!("reading from {} failed", self.description), e))?
            };
            if n == 0 {
                return Ok(0);
            }
            let before = out.len();
            match &mut self.deflate {
                None => out.extend_from_slice(&self.read_buf[..n]),
                Some(deflate) => decompress_all(&mut deflate.decompress, &self.read_buf[..n], out)?,
            }
            // A compressed read may yield no plain bytes yet; read on rather than report EOF.
            if out.len() > before {
                return Ok(out.len() - before);
            }
        }
    }

    /// Waits for server output for at most `limit` instead of the read timeout (IDLE).
    pub async fn read_with_limit(
        &mut self,
        out: &mut Vec<u8>,
        limit: Duration,
    ) -> Result<Option<usize>, Error> {
        let saved = self.read_timeout;
        self.read_timeout = limit;
        let result = self.read(out).await;
        self.read_timeout = saved;
        match result {
            Ok(n) => Ok(Some(n)),
            Err(e)
                if e.kind() == ErrorKind::Connection && e.to_string().contains("sent nothing") =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }
}

fn compress_all(compress: &mut Compress, input: &[u8]) -> Result<Vec<u8>, Error> {
    let mut out = Vec::with_capacity(input.len() / 2 + 64);
    let mut consumed = 0;
    loop {
        if out.capacity() - out.len() < 64 {
            out.reserve(out.capacity().max(1024));
        }
        let before_in = compress.total_in();
        compress
            .compress_vec(&input[consumed..], &mut out, FlushCompress::Sync)
            .map_err(|e| Error::new(ErrorKind::Io, "compressing output failed").with_source(e))?;
        consumed += (compress.total_in() - before_in) as usize;
        // Done when all input is in and the sync flush left spare room in the output.
        if consumed == input.len() && out.len() < out.capacity() {
            return Ok(out);
        }
    }
}

fn decompress_all(
    decompress: &mut Decompress,
    input: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let mut consumed = 0;
    loop {
        if out.capacity() - out.len() < 4096 {
            out.reserve(64 << 10);
        }
        let before_in = decompress.total_in();
        let before_out = decompress.total_out();
        let status = decompress
            .decompress_vec(&input[consumed..], out, FlushDecompress::None)
            .map_err(|e| {
                Error::new(ErrorKind::Peer, "server sent invalid compressed data").with_source(e)
            })?;
        consumed += (decompress.total_in() - before_in) as usize;
        let produced = decompress.total_out() - before_out;
        if matches!(status, Status::StreamEnd) {
            // The server finished its deflate stream (it does so when closing after BYE);
            // whatever follows is not compressed data and is ignored, the next read sees EOF.
            return Ok(());
        }
        if consumed == input.len() && out.len() < out.capacity() {
            return Ok(());
        }
        if produced == 0 && decompress.total_in() == before_in {
            // No progress with room to spare: the rest is a partial block awaiting more input.
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deflate_round_trips_in_pieces() {
        let mut c = Compress::new(Compression::default(), false);
        let mut d = Decompress::new(false);
        let mut received = Vec::new();
        let mut sent = Vec::new();
        for i in 0..50 {
            let msg = format!("p{i} UID FETCH 1:* (FLAGS) {}\r\n", "x".repeat(i * 97));
            sent.extend_from_slice(msg.as_bytes());
            let wire = compress_all(&mut c, msg.as_bytes()).unwrap();
            for piece in wire.chunks(7) {
                decompress_all(&mut d, piece, &mut received).unwrap();
            }
            // Sync flush: everything sent so far is readable now.
            assert_eq!(received, sent);
        }
    }

    #[test]
    fn garbage_is_a_peer_error() {
        let mut d = Decompress::new(false);
        let mut out = Vec::new();
        let err = decompress_all(&mut d, &[0xff; 64], &mut out).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Peer);
    }
}
