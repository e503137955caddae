//! The ManageSieve client against Dovecot's managesieve (Pigeonhole) started by the testkit.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests may unwrap.

use pimlink_core::ErrorKind;
use pimlink_imap::sieve::{SieveClient, SieveOptions};
use pimlink_imap::{ClientOptions, Secret, TlsMode};
use pimlink_testkit::{Dovecot, DovecotBuilder};

const SCRIPT: &[u8] = b"require \"fileinto\";\r\nif header :contains \"subject\" \"x\" {\r\n  fileinto \"X\";\r\n}\r\n";

fn server() -> Dovecot {
    DovecotBuilder::new()
        .tls(true)
        .users(&[("alice", "a-pw"), ("bob", "b-pw")])
        .managesieve(true)
        .master_user("admin", "admin-pw")
        .start()
        .unwrap()
}

fn options(server: &Dovecot, user: &str, password: &str, authzid: Option<&str>) -> SieveOptions {
    let mut connection = ClientOptions::new(server.host(), user, Secret::new(password));
    connection.port = server.sieve_port();
    connection.tls = TlsMode::StartTls;
    connection.trust.ca_file = Some(server.ca_cert_pem().unwrap().to_path_buf());
    connection.authzid = authzid.map(str::to_string);
    SieveOptions { connection }
}

async fn names(client: &mut SieveClient) -> Vec<(String, bool)> {
    let mut list: Vec<_> = client
        .list_scripts()
        .await
        .unwrap()
        .into_iter()
        .map(|s| (s.name, s.active))
        .collect();
    list.sort();
    list
}

#[tokio::test]
async fn scripts_are_stored_listed_activated_and_deleted_over_starttls() {
    let server = server();
    let mut alice = SieveClient::connect(&options(&server, "alice", "a-pw", None))
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", server.log()));
    assert!(
        !alice.capabilities().has("STARTTLS"),
        "capabilities are re-read after the handshake"
    );
    assert!(names(&mut alice).await.is_empty());
    alice.put_script("main", SCRIPT).await.unwrap();
    alice
        .put_script("with \"quote\" and ü", b"keep;\r\n")
        .await
        .unwrap();
    alice.set_active(Some("main")).await.unwrap();
    assert_eq!(
        names(&mut alice).await,
        [
            ("main".into(), true),
            ("with \"quote\" and ü".into(), false)
        ]
    );
    assert_eq!(alice.get_script("main").await.unwrap(), SCRIPT);

    let err = alice.delete_script("main").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
    assert!(err.to_string().contains("DELETESCRIPT"), "{err}");
    let err = alice.get_script("missing").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    let err = alice
        .put_script("broken", b"no such command;\r\n")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");

    alice.set_active(None).await.unwrap();
    alice.delete_script("main").await.unwrap();
    assert_eq!(
        names(&mut alice).await,
        [("with \"quote\" and ü".into(), false)]
    );
    alice.logout().await.unwrap();
}

#[tokio::test]
async fn a_master_user_acts_as_a_user_by_authzid() {
    let server = server();
    let mut admin_as_bob =
        SieveClient::connect(&options(&server, "admin", "admin-pw", Some("bob")))
            .await
            .unwrap_or_else(|e| panic!("{e}\n{}", server.log()));
    admin_as_bob.put_script("bobs", b"keep;\r\n").await.unwrap();
    admin_as_bob.logout().await.unwrap();

    let mut bob = SieveClient::connect(&options(&server, "bob", "b-pw", None))
        .await
        .unwrap();
    assert_eq!(names(&mut bob).await, [("bobs".into(), false)]);
    let mut alice = SieveClient::connect(&options(&server, "alice", "a-pw", None))
        .await
        .unwrap();
    assert!(
        names(&mut alice).await.is_empty(),
        "bob's script went to bob"
    );

    let wrong = options(&server, "admin", "wrong", Some("bob"));
    let err = SieveClient::connect(&wrong).await.err().unwrap();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert!(err.to_string().contains("admin acting as bob"), "{err}");
}

#[tokio::test]
async fn an_untrusted_certificate_is_refused_and_plain_text_is_only_on_request() {
    let server = server();
    let mut untrusted = options(&server, "alice", "a-pw", None);
    untrusted.connection.trust.ca_file = None;
    let err = SieveClient::connect(&untrusted).await.err().unwrap();
    assert!(err.to_string().contains("TLS handshake"), "{err}");

    let mut plain = options(&server, "alice", "a-pw", None);
    plain.connection.tls = TlsMode::None;
    let client = SieveClient::connect(&plain).await.unwrap();
    assert!(client.capabilities().has("STARTTLS"), "never upgraded");
    client.logout().await.unwrap();
}
