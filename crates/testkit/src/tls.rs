//! A throwaway certificate authority and server certificate, made with the `openssl` command.
//!
//! Two certificates rather than one self-signed: rustls (and webpki) refuse a CA certificate
//! used as the server's end-entity certificate, so a test that trusts [`TlsFiles::ca_cert`] gets
//! the same chain shape as a real deployment. The server certificate names `localhost`,
//! `127.0.0.1` and `::1`.

use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Paths of the PEM files written by [`generate`].
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The CA certificate: give this to a client as its extra trust anchor.
    pub ca_cert: PathBuf,
    /// The server certificate, signed by the CA.
    pub server_cert: PathBuf,
    /// The server's private key (unencrypted).
    pub server_key: PathBuf,
}

const SERVER_EXTENSIONS: &str = "\
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
";

/// Writes a new CA and a server certificate signed by it into `dir` (P-256 keys: generated
/// in milliseconds, and supported by rustls and OpenSSL alike).
pub fn generate(dir: &Path) -> io::Result<TlsFiles> {
    let ca_key = dir.join("ca.key");
    let csr = dir.join("server.csr");
    let ext = dir.join("server.ext");
    let files = TlsFiles {
        ca_cert: dir.join("ca.pem"),
        server_cert: dir.join("server.pem"),
        server_key: dir.join("server.key"),
    };
    std::fs::write(&ext, SERVER_EXTENSIONS)?;
    let new_key = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    openssl(
        Command::new("openssl")
            .args(["req", "-x509", "-days", "3", "-subj", "/CN=pimlink test CA"])
            .args(new_key)
            .arg("-keyout")
            .arg(&ca_key)
            .arg("-out")
            .arg(&files.ca_cert),
    )?;
    openssl(
        Command::new("openssl")
            .args(["req", "-subj", "/CN=localhost"])
            .args(new_key)
            .arg("-keyout")
            .arg(&files.server_key)
            .arg("-out")
            .arg(&csr),
    )?;
    openssl(
        Command::new("openssl")
            .args(["x509", "-req", "-days", "3", "-set_serial", "1"])
            .arg("-in")
            .arg(&csr)
            .arg("-CA")
            .arg(&files.ca_cert)
            .arg("-CAkey")
            .arg(&ca_key)
            .arg("-extfile")
            .arg(&ext)
            .arg("-out")
            .arg(&files.server_cert),
    )?;
    Ok(files)
}

pub(crate) fn openssl(command: &mut Command) -> io::Result<()> {
    let output = command.output().map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot run openssl (Debian package openssl): {e}"),
        )
    })?;
    if output.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "openssl failed ({}): {:?}\n{}",
            output.status,
            command.get_args().collect::<Vec<_>>(),
            String::from_utf8_lossy(&output.stderr)
        )))
    }
}
