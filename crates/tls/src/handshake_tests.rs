//! Whole handshakes between a [`client_config`] and a rustls server, in memory: which server
//! certificates each kind of [`Trust`] accepts, and the client certificate it presents. The
//! certificates are fresh ones from the testkit's CA (made with `openssl`).

use std::path::Path;
use std::sync::Arc;

use pimlink_core::ErrorKind;
use pimlink_testkit::tls::TlsFiles;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::time_provider::TimeProvider;
use rustls::{ClientConnection, RootCertStore, ServerConfig, ServerConnection};

use crate::client_config::client_config_at;
use crate::{CertFingerprint, ClientCert, Trust, client_config, server_name};

/// Which end gave up, and why.
#[derive(Debug)]
enum Failed {
    Client(rustls::Error),
    Server(rustls::Error),
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certs(path: &Path) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_file_iter(path)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn key(path: &Path) -> PrivateKeyDer<'static> {
    PrivateKeyDer::from_pem_file(path).unwrap()
}

/// Presents `cert` signed with `key` without checking that they belong together, as a server
/// that stole a certificate would.
#[derive(Debug)]
struct Presents(Arc<CertifiedKey>);

impl ResolvesServerCert for Presents {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(&self.0))
    }
}

/// A server presenting the certificate in `cert` with the key in `key`; when `client_ca` is
/// set, it demands a client certificate signed by that CA.
fn server(cert: &Path, key_file: &Path, client_ca: Option<&Path>) -> ServerConfig {
    let provider = provider();
    let signing = provider
        .key_provider
        .load_private_key(key(key_file))
        .unwrap();
    let presents = Arc::new(Presents(Arc::new(CertifiedKey::new(certs(cert), signing))));
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .unwrap();
    match client_ca {
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            roots.add_parsable_certificates(certs(ca));
            let verifier = WebPkiClientVerifier::builder_with_provider(roots.into(), provider)
                .build()
                .unwrap();
            builder
                .with_client_cert_verifier(verifier)
                .with_cert_resolver(presents)
        }
        None => builder.with_no_client_auth().with_cert_resolver(presents),
    }
}

/// Runs the handshake between `client` (connecting to `localhost`) and `server` to its end.
fn handshake(client: rustls::ClientConfig, server: ServerConfig) -> Result<(), Failed> {
    let name = server_name("localhost").unwrap();
    let mut client = ClientConnection::new(Arc::new(client), name).unwrap();
    let mut server = ServerConnection::new(Arc::new(server)).unwrap();
    // A TLS 1.3 handshake with client authentication takes two flights each way; the bound
    // only stops a broken exchange from looping.
    for _ in 0..10 {
        let mut bytes = Vec::new();
        while client.wants_write() {
            client.write_tls(&mut bytes).unwrap();
        }
        server.read_tls(&mut bytes.as_slice()).unwrap();
        server.process_new_packets().map_err(Failed::Server)?;
        let mut bytes = Vec::new();
        while server.wants_write() {
            server.write_tls(&mut bytes).unwrap();
        }
        client.read_tls(&mut bytes.as_slice()).unwrap();
        client.process_new_packets().map_err(Failed::Client)?;
        if !client.is_handshaking() && !server.is_handshaking() {
            return Ok(());
        }
    }
    panic!("the handshake did not finish");
}

fn generate(dir: &Path) -> TlsFiles {
    pimlink_testkit::tls::generate(dir).unwrap()
}

fn pin(cert: &Path) -> Option<CertFingerprint> {
    Some(CertFingerprint::of(certs(cert)[0].as_ref()))
}

fn trusting_ca(files: &TlsFiles) -> Trust {
    Trust {
        ca_file: Some(files.ca_cert.clone()),
        ..Trust::default()
    }
}

fn pinning(cert: &Path) -> Trust {
    Trust {
        cert_fingerprint: pin(cert),
        ..Trust::default()
    }
}

fn refused_by_client(result: Result<(), Failed>, why: &str) {
    match result {
        Err(Failed::Client(e)) => assert!(format!("{e} {e:?}").contains(why), "{e}"),
        other => panic!("expected the client to refuse ({why}), got {other:?}"),
    }
}

/// Checks certificates as if it were `days` days from now.
#[derive(Debug)]
struct Later(u64);

impl TimeProvider for Later {
    fn current_time(&self) -> Option<UnixTime> {
        let now = UnixTime::now().as_secs();
        Some(UnixTime::since_unix_epoch(std::time::Duration::from_secs(
            now + self.0 * 86_400,
        )))
    }
}

#[test]
fn an_extra_ca_file_is_trusted_besides_the_system_roots() {
    let dir = tempfile::tempdir().unwrap();
    let files = generate(dir.path());
    let serve = || server(&files.server_cert, &files.server_key, None);
    let system_only = client_config(&Trust::default()).unwrap();
    refused_by_client(handshake(system_only, serve()), "UnknownIssuer");
    handshake(client_config(&trusting_ca(&files)).unwrap(), serve()).unwrap();
}

#[test]
fn a_pinned_certificate_is_accepted_whoever_signed_it_and_no_other() {
    let dir = tempfile::tempdir().unwrap();
    let files = generate(dir.path());
    let serve = || server(&files.server_cert, &files.server_key, None);
    handshake(
        client_config(&pinning(&files.server_cert)).unwrap(),
        serve(),
    )
    .unwrap();
    // The pin replaces the CA check: trusting the CA does not let another certificate in.
    let other = Trust {
        ca_file: Some(files.ca_cert.clone()),
        ..pinning(&files.ca_cert)
    };
    refused_by_client(handshake(client_config(&other).unwrap(), serve()), "pinned");
}

#[test]
fn a_pinned_certificate_still_needs_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let files = generate(dir.path());
    // The pinned certificate, but handshake signatures made with another key (the CA's).
    let impostor = server(&files.server_cert, &dir.path().join("ca.key"), None);
    let result = handshake(
        client_config(&pinning(&files.server_cert)).unwrap(),
        impostor,
    );
    refused_by_client(result, "BadSignature");
}

#[test]
fn expiry_is_checked_against_the_roots_but_not_for_a_pin() {
    let dir = tempfile::tempdir().unwrap();
    let files = generate(dir.path());
    // The testkit's certificates are valid for 3 days.
    let later = || -> Arc<dyn TimeProvider> { Arc::new(Later(30)) };
    let serve = || server(&files.server_cert, &files.server_key, None);
    let by_ca = client_config_at(&trusting_ca(&files), later()).unwrap();
    refused_by_client(handshake(by_ca, serve()), "expired");
    let by_pin = client_config_at(&pinning(&files.server_cert), later()).unwrap();
    handshake(by_pin, serve()).unwrap();
}

#[test]
fn a_ca_certificate_used_as_the_servers_own_is_refused_unless_pinned() {
    let dir = tempfile::tempdir().unwrap();
    let files = generate(dir.path());
    let ca_key = dir.path().join("ca.key");
    let serve = || server(&files.ca_cert, &ca_key, None);
    let by_ca = client_config(&trusting_ca(&files)).unwrap();
    refused_by_client(handshake(by_ca, serve()), "CaUsedAsEndEntity");
    handshake(client_config(&pinning(&files.ca_cert)).unwrap(), serve()).unwrap();
}

#[test]
fn a_client_certificate_is_presented_when_configured() {
    let dir = tempfile::tempdir().unwrap();
    let files = generate(dir.path());
    let client = pimlink_testkit::https::client_cert(dir.path(), &files).unwrap();
    let serve = || server(&files.server_cert, &files.server_key, Some(&files.ca_cert));
    let with = |cert: &Path, key: &Path| Trust {
        client_cert: Some(ClientCert {
            cert: cert.to_owned(),
            key: key.to_owned(),
        }),
        ..trusting_ca(&files)
    };
    match handshake(client_config(&trusting_ca(&files)).unwrap(), serve()) {
        Err(Failed::Server(e)) => assert!(e.to_string().contains("certificate"), "{e}"),
        other => panic!("the server should refuse a client without a certificate: {other:?}"),
    }
    let separate = with(&client.cert, &client.key);
    handshake(client_config(&separate).unwrap(), serve()).unwrap();
    let combined = with(&client.combined, &client.combined);
    handshake(client_config(&combined).unwrap(), serve()).unwrap();
    // A pin and a client certificate go together.
    let pinned = Trust {
        cert_fingerprint: pin(&files.server_cert),
        ..separate
    };
    handshake(client_config(&pinned).unwrap(), serve()).unwrap();
}

#[test]
fn unusable_files_are_configuration_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let files = generate(dir.path());
    let client = pimlink_testkit::https::client_cert(dir.path(), &files).unwrap();
    let missing = dir.path().join("missing.pem");
    let not_pem = dir.path().join("notes.txt");
    std::fs::write(&not_pem, "no certificate here\n").unwrap();
    let cases = [
        (
            Trust {
                ca_file: Some(missing.clone()),
                ..Trust::default()
            },
            "missing.pem",
        ),
        (
            Trust {
                ca_file: Some(not_pem.clone()),
                ..Trust::default()
            },
            "notes.txt holds no PEM certificate",
        ),
        (
            Trust {
                client_cert: Some(ClientCert {
                    cert: not_pem.clone(),
                    key: client.key.clone(),
                }),
                ..Trust::default()
            },
            "notes.txt holds no PEM certificate",
        ),
        (
            // The certificate file named as the key too, but it holds no key.
            Trust {
                client_cert: Some(ClientCert {
                    cert: client.cert.clone(),
                    key: client.cert.clone(),
                }),
                ..Trust::default()
            },
            "private key",
        ),
        (
            // A key that does not go with the certificate.
            Trust {
                client_cert: Some(ClientCert {
                    cert: client.cert.clone(),
                    key: files.server_key.clone(),
                }),
                ..Trust::default()
            },
            "server.key",
        ),
    ];
    for (trust, expected) in cases {
        let err = client_config(&trust).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config, "{err}");
        assert!(err.to_string().contains(expected), "{expected:?} in {err}");
    }
    let err = server_name("not a host").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
}
