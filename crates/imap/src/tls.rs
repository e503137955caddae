//! TLS configuration: system roots plus an optional extra CA, or a pinned certificate.
//!
//! System roots come from `rustls-native-certs` (the OS store, i.e. Debian's ca-certificates),
//! not a compiled-in list, so that an administrator's trust decisions apply and roots are
//! updated with the system.

use std::sync::Arc;

use pimlink_core::{Error, ErrorKind};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use sha2::{Digest, Sha256};

use crate::options::ClientOptions;

/// Builds the rustls configuration for `options`.
pub fn client_config(options: &ClientOptions) -> Result<Arc<ClientConfig>, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::new(ErrorKind::Config, "TLS setup failed").with_source(e))?;
    let config = if let Some(fingerprint) = &options.cert_fingerprint {
        let expected = parse_fingerprint(fingerprint)?;
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(PinnedVerifier { expected, provider }))
            .with_no_client_auth()
    } else {
        let mut roots = RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        for cert in native.certs {
            // A broken system certificate should not stop the others from working.
            let _ = roots.add(cert);
        }
        if let Some(path) = &options.ca_file {
            let certs = CertificateDer::pem_file_iter(path).map_err(|e| {
                Error::new(
                    ErrorKind::Config,
                    format!("cannot read CA file {}", path.display()),
                )
                .with_source(e)
            })?;
            let mut count = 0;
            for cert in certs {
                let cert = cert.map_err(|e| {
                    Error::new(
                        ErrorKind::Config,
                        format!("bad certificate in {}", path.display()),
                    )
                    .with_source(e)
                })?;
                roots.add(cert).map_err(|e| {
                    Error::new(
                        ErrorKind::Config,
                        format!("unusable CA in {}", path.display()),
                    )
                    .with_source(e)
                })?;
                count += 1;
            }
            if count == 0 {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!("CA file {} holds no certificate", path.display()),
                ));
            }
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    Ok(Arc::new(config))
}

/// The server name to verify, from the host.
pub fn server_name(host: &str) -> Result<ServerName<'static>, Error> {
    ServerName::try_from(host.to_owned()).map_err(|e| {
        Error::new(
            ErrorKind::Config,
            format!("{host:?} is not a valid TLS server name"),
        )
        .with_source(e)
    })
}

fn parse_fingerprint(text: &str) -> Result<[u8; 32], Error> {
    let hex: String = text
        .chars()
        .filter(|c| *c != ':')
        .collect::<String>()
        .to_ascii_lowercase();
    let hex = hex.strip_prefix("sha256/").unwrap_or(&hex).to_owned();
    let bad = || {
        Error::new(
            ErrorKind::Config,
            format!("certificate fingerprint {text:?} is not 64 hex digits (SHA-256)"),
        )
    };
    if hex.len() != 64 {
        return Err(bad());
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(out)
}

/// The SHA-256 fingerprint of a DER certificate, as lowercase hex.
pub fn fingerprint_hex(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Accepts exactly the pinned certificate; signatures are still checked so that the peer must
/// hold its private key.
#[derive(Debug)]
struct PinnedVerifier {
    expected: [u8; 32],
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let actual: [u8; 32] = Sha256::digest(end_entity.as_ref()).into();
        if actual == self.expected {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(format!(
                "server certificate fingerprint {} does not match the pinned one",
                fingerprint_hex(end_entity.as_ref())
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_parse_with_or_without_colons() {
        let hex = "AB".repeat(32);
        let colons = vec!["ab"; 32].join(":");
        assert_eq!(parse_fingerprint(&hex).unwrap(), [0xab; 32]);
        assert_eq!(parse_fingerprint(&colons).unwrap(), [0xab; 32]);
        assert_eq!(
            parse_fingerprint("abc").unwrap_err().kind(),
            ErrorKind::Config
        );
        assert!(parse_fingerprint(&"zz".repeat(32)).is_err());
    }
}
