//! RFC 6764 discovery through DNS SRV/TXT records, answered by the testkit's DNS server on
//! loopback and leading to a real Radicale on loopback.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{Ipv4Addr, UdpSocket};

use pimlink_core::ErrorKind;
use pimlink_core::dav::store::{CollectionId, CollectionKind, ItemStore};
use pimlink_dav::{ClientOptions, DavStore, Dns, Secret};
use pimlink_testkit::Radicale;
use pimlink_testkit::dns::{DnsRecord, DnsServer};

fn srv(name: &str, port: u16, target: &str) -> DnsRecord {
    DnsRecord::Srv {
        name: name.to_owned(),
        priority: 10,
        weight: 0,
        port,
        target: target.to_owned(),
    }
}

fn a(name: &str) -> DnsRecord {
    DnsRecord::A {
        name: name.to_owned(),
        addr: Ipv4Addr::LOCALHOST,
    }
}

fn options(url: &str, server: &Radicale, dns: &DnsServer) -> ClientOptions {
    let mut options =
        ClientOptions::new(url).credentials(server.user(), Secret::new(server.password()));
    options.dns = Dns::Server(dns.addr());
    options
}

#[tokio::test]
async fn srv_and_txt_records_lead_to_the_server_when_the_host_has_none() {
    let server = Radicale::start().unwrap();
    let port = server.port();
    let dns = DnsServer::start(vec![
        // example.test itself has no address: the configured URL cannot answer.
        srv("_caldav._tcp.example.test", port, "dav.example.test"),
        DnsRecord::Txt {
            name: "_caldav._tcp.example.test".into(),
            strings: vec!["path=/test/".into()],
        },
        // No TXT record for contacts: the target's well-known path is used.
        srv("_carddav._tcp.example.test", port, "dav.example.test"),
        a("dav.example.test"),
    ])
    .unwrap();
    let options = options("http://example.test/", &server, &dns);

    let cals = DavStore::discover(&options, CollectionKind::Calendar)
        .await
        .unwrap_or_else(|e| panic!("{e}\nDNS asked: {:?}", dns.asked()));
    assert_eq!(cals.home(), "/test/");
    // The TXT record's path was used, not the well-known one.
    assert!(!server.log().contains("well-known"), "{}", server.log());
    // The store talks to the server DNS named: creating a calendar reaches Radicale.
    let id = CollectionId::new("found-by-srv").unwrap();
    cals.create_collection(&id).await.unwrap();
    assert!(
        server
            .storage_dir()
            .join("collection-root/test/found-by-srv")
            .is_dir()
    );
    let listed = cals.list_collections().await.unwrap();
    assert!(
        listed[0].location.starts_with("http://dav.example.test:"),
        "{listed:?}"
    );

    let books = DavStore::discover(&options, CollectionKind::AddressBook)
        .await
        .unwrap();
    assert_eq!(books.home(), "/test/");
    assert!(server.log().contains("well-known"), "{}", server.log());

    let asked = dns.asked();
    for question in [
        "_caldavs._tcp.example.test 33",
        "_caldav._tcp.example.test 33",
        "_caldav._tcp.example.test 16",
        "dav.example.test 1",
    ] {
        assert!(asked.iter().any(|q| q == question), "{question}: {asked:?}");
    }
}

#[tokio::test]
async fn a_domain_alone_asks_only_for_the_tls_service_first() {
    let server = Radicale::start().unwrap();
    let dns = DnsServer::start(vec![
        // Only a plain-HTTP service: a storage given as a domain must not use it.
        srv(
            "_caldav._tcp.example.test",
            server.port(),
            "dav.example.test",
        ),
        a("dav.example.test"),
    ])
    .unwrap();
    let mut options = ClientOptions::for_domain("example.test")
        .credentials(server.user(), Secret::new(server.password()));
    options.dns = Dns::Server(dns.addr());
    let err = DavStore::discover(&options, CollectionKind::Calendar)
        .await
        .unwrap_err();
    let asked = dns.asked();
    assert_eq!(asked[0], "_caldavs._tcp.example.test 33", "{asked:?}");
    assert!(
        !asked.iter().any(|q| q.starts_with("_caldav._tcp")),
        "{asked:?}"
    );
    // Then the domain's own well-known path, which has no address here; the error says all
    // that was asked.
    assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
    let text = err.to_string();
    assert!(text.contains("_caldavs._tcp.example.test"), "{err}");
    assert!(
        text.contains("https://example.test/.well-known/caldav"),
        "{err}"
    );
}

#[tokio::test]
async fn ip_addresses_are_not_looked_up_and_a_silent_resolver_fails_cleanly() {
    let server = Radicale::start().unwrap();
    let dns = DnsServer::start(vec![a("example.test")]).unwrap();
    // An IP address has no SRV records: discovery works without a single DNS question.
    DavStore::discover(
        &options(&server.url(), &server, &dns),
        CollectionKind::Calendar,
    )
    .await
    .unwrap();
    let unknown = format!("{}nothing/", server.url());
    let mut anonymous = ClientOptions::new(unknown);
    anonymous.dns = Dns::Server(dns.addr());
    let err = DavStore::discover(&anonymous, CollectionKind::Calendar)
        .await
        .unwrap_err();
    // Radicale asks for a login (401) where no credentials were given.
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert!(dns.asked().is_empty(), "{:?}", dns.asked());

    // A port where nothing answers: every lookup times out, and the error names the host.
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut options = ClientOptions::new("http://example.test/");
    options.dns = Dns::Server(silent.local_addr().unwrap());
    let err = DavStore::discover(&options, CollectionKind::Calendar)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
    assert!(err.to_string().contains("example.test"), "{err}");
}
