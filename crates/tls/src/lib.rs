//! TLS and trust for pimlink's clients: one place that decides which server certificates
//! pimlink-imap and pimlink-dav accept and which certificate they present.
//!
//! Key types:
//! - [`Trust`]: the system's roots plus an extra CA file ([`Trust::ca_file`]), or a pinned
//!   certificate ([`Trust::cert_fingerprint`]); and a [`ClientCert`] to present. The
//!   configuration parses into it, and the clients take it as it is.
//! - [`CertFingerprint`]: a SHA-256 parsed once from `sha256:AB:CD:...` text; compared as bytes.
//! - [`TlsMode`]: implicit TLS, STARTTLS or none, for IMAP.
//! - [`client_config`]: the rustls configuration for a [`Trust`] (ring provider, the same one
//!   everywhere); the pinning verifier behind it is private.
//!
//! Not here: sockets and handshakes (pimlink-imap's transport, reqwest in pimlink-dav), the
//! configuration file (the `pimlink` binary), and which port or URL scheme means TLS.
//!
//! ```
//! use pimlink_tls::{CertFingerprint, Trust, client_config};
//!
//! let pin = "sha256:".to_owned() + &["AB"; 32].join(":");
//! let trust = Trust {
//!     cert_fingerprint: Some(CertFingerprint::parse(&pin).unwrap()),
//!     ..Trust::default()
//! };
//! let config = client_config(&trust).unwrap();
//! assert!(config.alpn_protocols.is_empty());
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod client_config;
mod fingerprint;
#[cfg(test)]
mod handshake_tests;
mod mode;
mod trust;
mod verifier;

pub use client_config::{client_config, server_name};
pub use fingerprint::{CertFingerprint, FingerprintError};
pub use mode::TlsMode;
pub use trust::{ClientCert, Trust};
