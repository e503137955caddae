//! TLS: verification against an extra CA file, certificate pinning, and refusal of an unknown
//! certificate, against a one-thread rustls server on loopback serving a webcal feed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::thread;

use pimlink_core::ErrorKind;
use pimlink_core::dav::store::{CollectionId, ItemStore};
use pimlink_dav::{CertFingerprint, ClientCert, ClientOptions, Trust, WebcalStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

const FEED: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:tls-1\r\n\
                    SUMMARY:over TLS\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

/// Serves FEED over TLS with `files`' server certificate; returns the URL and the fingerprint
/// of the server certificate.
fn serve(files: &pimlink_testkit::tls::TlsFiles) -> (String, CertFingerprint) {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.server_cert)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let fingerprint = CertFingerprint::of(chain[0].as_ref());
    let key = PrivateKeyDer::from_pem_file(&files.server_key).unwrap();
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "https://localhost:{}/feed.ics",
        listener.local_addr().unwrap().port()
    );
    thread::spawn(move || {
        for tcp in listener.incoming() {
            let Ok(tcp) = tcp else { return };
            let config = Arc::clone(&config);
            thread::spawn(move || {
                let conn = rustls::ServerConnection::new(config).unwrap();
                let mut tls = rustls::StreamOwned::new(conn, tcp);
                let mut reader = BufReader::new(&mut tls);
                let mut line = String::new();
                // A client that rejects the certificate ends the handshake here.
                while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
                    if line == "\r\n" {
                        break;
                    }
                    line.clear();
                }
                let _ = write!(
                    tls,
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{FEED}",
                    FEED.len()
                );
                tls.conn.send_close_notify();
                let _ = tls.flush();
            });
        }
    });
    (url, fingerprint)
}

async fn fetch(url: &str, trust: Trust) -> pimlink_core::Result<usize> {
    let mut options = ClientOptions::new(url);
    options.trust = trust;
    let id = CollectionId::new("feed").unwrap();
    let store = WebcalStore::new(&options, id.clone())?;
    Ok(store.list_items(&id).await?.len())
}

#[tokio::test]
async fn verifies_with_an_extra_ca_or_a_pin_and_refuses_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let files = pimlink_testkit::tls::generate(dir.path()).unwrap();
    let (url, fingerprint) = serve(&files);

    let err = fetch(&url, Trust::default()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );

    let with_ca = Trust {
        ca_file: Some(files.ca_cert.clone()),
        ..Trust::default()
    };
    assert_eq!(fetch(&url, with_ca).await.unwrap(), 1);

    let pinned = Trust {
        cert_fingerprint: Some(fingerprint),
        ..Trust::default()
    };
    assert_eq!(fetch(&url, pinned).await.unwrap(), 1);

    let wrong_pin = Trust {
        cert_fingerprint: Some(CertFingerprint([0; 32])),
        ..Trust::default()
    };
    let err = fetch(&url, wrong_pin).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
    assert!(err.to_string().contains("pinned"), "{err}");
}

#[tokio::test]
async fn a_client_certificate_is_presented_when_the_server_demands_one() {
    let dir = tempfile::tempdir().unwrap();
    let files = pimlink_testkit::tls::generate(dir.path()).unwrap();
    let client = pimlink_testkit::https::client_cert(dir.path(), &files).unwrap();
    let server =
        pimlink_testkit::https::HttpsServer::start(&files, "text/calendar", FEED.into(), true)
            .unwrap();
    let url = format!("https://localhost:{}/feed.ics", server.port());
    let trusted = |client_cert: Option<(&Path, &Path)>| Trust {
        ca_file: Some(files.ca_cert.clone()),
        client_cert: client_cert.map(|(cert, key)| ClientCert {
            cert: cert.to_owned(),
            key: key.to_owned(),
        }),
        ..Trust::default()
    };

    let err = fetch(&url, trusted(None)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
    assert_eq!(server.served(), 0);

    let separate = Some((client.cert.as_path(), client.key.as_path()));
    assert_eq!(fetch(&url, trusted(separate)).await.unwrap(), 1);
    let combined = Some((client.combined.as_path(), client.combined.as_path()));
    assert_eq!(fetch(&url, trusted(combined)).await.unwrap(), 1);
    assert_eq!(server.served(), 2);

    // A key file without a key is a configuration error naming the file.
    let keyless = Some((client.cert.as_path(), client.cert.as_path()));
    let err = fetch(&url, trusted(keyless)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    assert!(err.to_string().contains("client.pem"), "{err}");
}
