//! [`Trust`]: what a client trusts and presents, as the configuration states it.

use std::path::PathBuf;

use crate::CertFingerprint;

/// Which server certificates a client accepts, and the certificate it presents.
///
/// Verification is always on. By default a server must present a chain to one of the system's
/// roots or to a CA in [`Trust::ca_file`]; a [`Trust::cert_fingerprint`] replaces that check
/// with an exact match of the server's certificate.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trust {
    /// `ca_file`: a PEM file of CA certificates trusted besides the system's.
    pub ca_file: Option<PathBuf>,
    /// `cert_fingerprint`: accept exactly the certificate with this fingerprint, whoever
    /// signed it (self-signed servers).
    pub cert_fingerprint: Option<CertFingerprint>,
    /// `client_cert` / `client_key`: a certificate to present to servers that ask for one.
    pub client_cert: Option<ClientCert>,
}

/// A TLS client certificate (`client_cert`, `client_key`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientCert {
    /// A PEM file with the certificate chain, leaf first.
    pub cert: PathBuf,
    /// A PEM file with the private key; the certificate file itself when `client_key` is
    /// not set (one PEM holding both).
    pub key: PathBuf,
}
