//! Builds the rustls [`ClientConfig`] for a [`Trust`]: the system's roots plus an extra CA file,
//! or a pinned certificate; and a client certificate when one is configured.

use std::path::Path;
use std::sync::Arc;

use pimlink_core::{Error, ErrorKind, Result};
use rustls::client::WantsClientCert;
use rustls::time_provider::{DefaultTimeProvider, TimeProvider};
use rustls::{ClientConfig, ConfigBuilder, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use crate::verifier::PinnedVerifier;
use crate::{ClientCert, Trust};

/// The rustls configuration for connections that trust `trust`. Every problem with the files
/// it names is an [`ErrorKind::Config`] error naming the file.
///
/// Callers add what their protocol needs (ALPN for HTTP) and wrap it in an `Arc`.
pub fn client_config(trust: &Trust) -> Result<ClientConfig> {
    client_config_at(trust, Arc::new(DefaultTimeProvider))
}

/// [`client_config`] with certificates checked against `time` (tests move the clock).
pub(crate) fn client_config_at(trust: &Trust, time: Arc<dyn TimeProvider>) -> Result<ClientConfig> {
    // ring: aws-lc-rs, rustls's default, needs cmake and builds slowly.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_details(Arc::clone(&provider), time)
        .with_safe_default_protocol_versions()
        .map_err(|e| config_error("TLS setup failed".into()).with_source(e))?;
    let builder = match trust.cert_fingerprint {
        Some(expected) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(PinnedVerifier {
                expected,
                algorithms: provider.signature_verification_algorithms,
            })),
        None => builder.with_root_certificates(roots(trust.ca_file.as_deref())?),
    };
    with_client_cert(builder, trust.client_cert.as_ref())
}

/// The system's roots plus those in `ca_file`.
fn roots(ca_file: Option<&Path>) -> Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    // From the OS store (Debian's ca-certificates), not a compiled-in list, so that the
    // administrator's trust decisions apply and roots are updated with the system.
    for cert in rustls_native_certs::load_native_certs().certs {
        // A broken system certificate must not stop the others from working.
        let _ = roots.add(cert);
    }
    if let Some(path) = ca_file {
        for cert in read_certs(path, "CA file")? {
            roots.add(cert).map_err(|e| {
                config_error(format!("unusable CA certificate in {}", path.display()))
                    .with_source(e)
            })?;
        }
    }
    Ok(roots)
}

fn with_client_cert(
    builder: ConfigBuilder<ClientConfig, WantsClientCert>,
    client_cert: Option<&ClientCert>,
) -> Result<ClientConfig> {
    let Some(ClientCert { cert, key }) = client_cert else {
        return Ok(builder.with_no_client_auth());
    };
    let chain = read_certs(cert, "client certificate")?;
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| {
        config_error(format!("reading private key {}", key.display())).with_source(e)
    })?;
    builder.with_client_auth_cert(chain, key_der).map_err(|e| {
        config_error(format!(
            "client certificate {} with key {}",
            cert.display(),
            key.display()
        ))
        .with_source(e)
    })
}

/// Every certificate in the PEM file at `path` (at least one); `what` names the file's role
/// in messages.
fn read_certs(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<std::result::Result<Vec<_>, _>>())
        .map_err(|e| config_error(format!("reading {what} {}", path.display())).with_source(e))?;
    if certs.is_empty() {
        return Err(config_error(format!(
            "{what} {} holds no PEM certificate",
            path.display()
        )));
    }
    Ok(certs)
}

/// The name a server's certificate must carry: `host`, a DNS name or an IP address.
pub fn server_name(host: &str) -> Result<ServerName<'static>> {
    ServerName::try_from(host.to_owned()).map_err(|e| {
        config_error(format!("{host:?} is not a valid TLS server name")).with_source(e)
    })
}

fn config_error(message: String) -> Error {
    Error::new(ErrorKind::Config, message)
}
