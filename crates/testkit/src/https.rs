//! A one-file HTTPS server on loopback (rustls, one thread per connection) that can demand a
//! TLS client certificate, and a client certificate signed by the [`crate::tls`] CA: for tests
//! of `ca_file`, `cert_fingerprint` and `client_cert` without a full web server.

use std::io::{self, BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;

use crate::tls::{TlsFiles, openssl};

/// A client certificate and its key, written by [`client_cert`].
#[derive(Debug, Clone)]
pub struct ClientFiles {
    /// The certificate, signed by the test CA.
    pub cert: PathBuf,
    /// Its private key (unencrypted).
    pub key: PathBuf,
    /// Certificate and key in one PEM file.
    pub combined: PathBuf,
}

const CLIENT_EXTENSIONS: &str = "\
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
";

/// Writes a client certificate signed by the CA of `files` (made by [`crate::tls::generate`]
/// in `dir`).
pub fn client_cert(dir: &Path, files: &TlsFiles) -> io::Result<ClientFiles> {
    let out = ClientFiles {
        cert: dir.join("client.pem"),
        key: dir.join("client.key"),
        combined: dir.join("client-combined.pem"),
    };
    let csr = dir.join("client.csr");
    let ext = dir.join("client.ext");
    std::fs::write(&ext, CLIENT_EXTENSIONS)?;
    openssl(
        Command::new("openssl")
            .args(["req", "-subj", "/CN=pimlink test client", "-newkey", "ec"])
            .args(["-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"])
            .arg("-keyout")
            .arg(&out.key)
            .arg("-out")
            .arg(&csr),
    )?;
    openssl(
        Command::new("openssl")
            .args(["x509", "-req", "-days", "3", "-set_serial", "2"])
            .arg("-in")
            .arg(&csr)
            .arg("-CA")
            .arg(&files.ca_cert)
            .arg("-CAkey")
            .arg(dir.join("ca.key"))
            .arg("-extfile")
            .arg(&ext)
            .arg("-out")
            .arg(&out.cert),
    )?;
    let mut combined = std::fs::read(&out.cert)?;
    combined.extend(std::fs::read(&out.key)?);
    std::fs::write(&out.combined, combined)?;
    Ok(out)
}

/// A running HTTPS server; it serves until the test process ends.
#[derive(Debug)]
pub struct HttpsServer {
    port: u16,
    served: Arc<AtomicUsize>,
}

impl HttpsServer {
    /// Serves `body` with `content_type` to every request, over TLS with the server
    /// certificate of `files`; when `require_client_cert`, only to clients presenting a
    /// certificate signed by the test CA.
    pub fn start(
        files: &TlsFiles,
        content_type: &'static str,
        body: String,
        require_client_cert: bool,
    ) -> io::Result<Self> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.server_cert)
            .and_then(|certs| certs.collect::<Result<_, _>>())
            .map_err(io::Error::other)?;
        let key = PrivateKeyDer::from_pem_file(&files.server_key).map_err(io::Error::other)?;
        let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(io::Error::other)?;
        let builder = if require_client_cert {
            let mut roots = rustls::RootCertStore::empty();
            for ca in CertificateDer::pem_file_iter(&files.ca_cert).map_err(io::Error::other)? {
                roots
                    .add(ca.map_err(io::Error::other)?)
                    .map_err(io::Error::other)?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(io::Error::other)?;
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let config = Arc::new(
            builder
                .with_single_cert(chain, key)
                .map_err(io::Error::other)?,
        );
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let served = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&served);
        let body = Arc::new(body);
        thread::spawn(move || {
            for tcp in listener.incoming() {
                let Ok(tcp) = tcp else { return };
                let (config, body, count) =
                    (Arc::clone(&config), Arc::clone(&body), Arc::clone(&count));
                thread::spawn(move || serve_one(config, tcp, content_type, &body, &count));
            }
        });
        Ok(Self { port, served })
    }

    /// The server's port on 127.0.0.1 (its certificate also names `localhost`).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// How many responses were sent (a refused handshake sends none).
    pub fn served(&self) -> usize {
        self.served.load(Ordering::SeqCst)
    }
}

fn serve_one(
    config: Arc<rustls::ServerConfig>,
    tcp: std::net::TcpStream,
    content_type: &str,
    body: &str,
    served: &AtomicUsize,
) {
    let Ok(conn) = rustls::ServerConnection::new(config) else {
        return;
    };
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let mut reader = BufReader::new(&mut tls);
    let mut line = String::new();
    let mut complete = false;
    // A client that rejects the certificate, or has none when one is demanded, ends here.
    while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
        if line == "\r\n" {
            complete = true;
            break;
        }
        line.clear();
    }
    if !complete {
        return;
    }
    served.fetch_add(1, Ordering::SeqCst);
    let _ = write!(
        tls,
        "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    tls.conn.send_close_notify();
    let _ = tls.flush();
}
