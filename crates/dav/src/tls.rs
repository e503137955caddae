//! The rustls configuration: the system's roots plus an optional extra CA file, or a pinned
//! server certificate; optionally a client certificate.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use pimlink_core::item_store::vobject::sha256_hex;
use pimlink_core::{Error, ErrorKind, Result};
use rustls::DigitallySignedStruct;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

/// TLS settings of a DAV storage. Verification is always on; pinning replaces the CA check
/// with an exact match of the server's certificate.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// A PEM file of extra CA certificates trusted besides the system's.
    pub extra_ca_file: Option<PathBuf>,
    /// SHA-256 of the server's end-entity certificate (DER), hex with or without `:`. When set,
    /// only that certificate is accepted (self-signed servers).
    pub pin_sha256: Option<String>,
    /// A client certificate chain and its private key (PEM files).
    pub client_cert: Option<(PathBuf, PathBuf)>,
}

fn config_error(what: String) -> Error {
    Error::new(ErrorKind::Config, what)
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<std::result::Result<Vec<_>, _>>())
        .map_err(|e| config_error(format!("reading certificates from {}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(config_error(format!(
            "{} holds no PEM certificate",
            path.display()
        )));
    }
    Ok(certs)
}

/// Builds the rustls client configuration for `options`.
pub(crate) fn client_config(options: &TlsOptions) -> Result<rustls::ClientConfig> {
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| config_error(format!("TLS setup: {e}")))?;
    let builder = match &options.pin_sha256 {
        Some(pin) => {
            let pin: String = pin
                .chars()
                .filter(|c| *c != ':')
                .collect::<String>()
                .to_ascii_lowercase();
            if pin.len() != 64 || !pin.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(config_error(format!(
                    "certificate pin {pin:?} is not a SHA-256 in hex (64 digits)"
                )));
            }
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(PinnedCert {
                    sha256: pin,
                    algorithms: provider().signature_verification_algorithms,
                }))
        }
        None => {
            let mut roots = rustls::RootCertStore::empty();
            let native = rustls_native_certs::load_native_certs();
            for cert in native.certs {
                // A broken system certificate must not stop all of TLS.
                let _ = roots.add(cert);
            }
            if let Some(path) = &options.extra_ca_file {
                for cert in read_certs(path)? {
                    roots.add(cert).map_err(|e| {
                        config_error(format!("CA certificate in {}: {e}", path.display()))
                    })?;
                }
            }
            builder.with_root_certificates(roots)
        }
    };
    let mut config = match &options.client_cert {
        Some((cert_path, key_path)) => {
            let key = PrivateKeyDer::from_pem_file(key_path).map_err(|e| {
                config_error(format!("reading private key {}: {e}", key_path.display()))
            })?;
            builder
                .with_client_auth_cert(read_certs(cert_path)?, key)
                .map_err(|e| config_error(format!("client certificate: {e}")))?
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Accepts exactly one server certificate, by its SHA-256; signatures are still verified so
/// that the peer must hold the certificate's key.
#[derive(Debug)]
struct PinnedCert {
    sha256: String,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for PinnedCert {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        let got = sha256_hex(end_entity.as_ref());
        if got == self.sha256 {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(format!(
                "server certificate SHA-256 {got} does not match the pinned {}",
                self.sha256
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_pins_and_missing_files_are_config_errors() {
        let err = client_config(&TlsOptions {
            pin_sha256: Some("abc".into()),
            ..TlsOptions::default()
        })
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        let err = client_config(&TlsOptions {
            extra_ca_file: Some("/nonexistent/ca.pem".into()),
            ..TlsOptions::default()
        })
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
        let pin = "AB:".repeat(31) + "AB";
        assert!(
            client_config(&TlsOptions {
                pin_sha256: Some(pin),
                ..TlsOptions::default()
            })
            .is_ok()
        );
    }
}
