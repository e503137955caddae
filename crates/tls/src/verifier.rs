//! The pinning verifier: a server is trusted when its certificate is exactly the pinned one.

use rustls::DigitallySignedStruct;
use rustls::SignatureScheme;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{WebPkiSupportedAlgorithms, verify_tls12_signature, verify_tls13_signature};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use crate::CertFingerprint;

/// Accepts exactly the certificate whose SHA-256 is `expected`: its issuer, validity dates,
/// names and CA flag are not looked at, since the user vouched for this very certificate.
/// Handshake signatures are still checked, so the peer must hold the certificate's key.
#[derive(Debug)]
pub(crate) struct PinnedVerifier {
    pub(crate) expected: CertFingerprint,
    pub(crate) algorithms: WebPkiSupportedAlgorithms,
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
        let actual = CertFingerprint::of(end_entity.as_ref());
        if actual == self.expected {
            Ok(ServerCertVerified::assertion())
        } else {
            // Both in the configuration's form: the user can compare them, and copy the new
            // one once they have checked it.
            Err(rustls::Error::General(format!(
                "server certificate {actual} does not match the pinned {}",
                self.expected
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verifier(pinned: &[u8]) -> PinnedVerifier {
        PinnedVerifier {
            expected: CertFingerprint::of(pinned),
            algorithms: rustls::crypto::ring::default_provider().signature_verification_algorithms,
        }
    }

    fn verify(verifier: &PinnedVerifier, cert: &[u8]) -> Result<ServerCertVerified, rustls::Error> {
        let name = ServerName::try_from("mail.example.org").unwrap();
        verifier.verify_server_cert(
            &CertificateDer::from(cert.to_vec()),
            &[],
            &name,
            &[],
            UnixTime::now(),
        )
    }

    #[test]
    fn the_pinned_certificate_is_accepted_and_any_other_refused() {
        let verifier = verifier(b"the pinned certificate");
        assert!(verify(&verifier, b"the pinned certificate").is_ok());
        let err = verify(&verifier, b"another certificate").unwrap_err();
        let message = err.to_string();
        assert!(message.contains("pinned"), "{message}");
        assert!(
            message.contains(&CertFingerprint::of(b"another certificate").to_string()),
            "{message}"
        );
        assert!(
            message.contains(&CertFingerprint::of(b"the pinned certificate").to_string()),
            "{message}"
        );
    }
}
