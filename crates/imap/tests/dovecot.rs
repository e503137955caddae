//! The client against a real Dovecot started by pimlink-testkit.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests may unwrap.

use std::time::{Duration, SystemTime};

use pimlink_core::{Content, ErrorKind, Flag, Flags};
use pimlink_imap::{
    AppendItem, AuthMechanism, Client, ClientOptions, FetchRequest, QresyncParams, Secret,
    SelectOptions, StoreMode, TlsMode, UidRanges,
};
use pimlink_testkit::{Dovecot, DovecotBuilder};

fn options(server: &Dovecot) -> ClientOptions {
    let mut o = ClientOptions::new(server.host(), server.user(), Secret::new(server.password()));
    o.port = Some(server.port());
    o.tls = TlsMode::None;
    o.read_timeout = Duration::from_secs(20);
    o
}

fn message(subject: &str, body_len: usize) -> Vec<u8> {
    let mut m =
        format!("From: a@example.org\r\nSubject: {subject}\r\nMessage-ID: <{subject}@x>\r\n\r\n")
            .into_bytes();
    while m.len() < body_len {
        m.extend_from_slice(
            b"0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstu\r\n",
        );
    }
    m
}

fn item(subject: &str, flags: Flags) -> AppendItem {
    AppendItem {
        content: Content::Bytes(message(subject, 100)),
        flags,
        internal_date: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_600_000_000)),
    }
}

fn bytes(content: Content) -> Vec<u8> {
    match content {
        Content::Bytes(b) => b,
        Content::File(mut f) => {
            let mut out = Vec::new();
            std::io::Read::read_to_end(&mut f, &mut out).unwrap();
            out
        }
    }
}

#[tokio::test]
async fn mailbox_commands_and_unicode_names() {
    let server = DovecotBuilder::new().layout(false).start().unwrap();
    let mut client = Client::connect(options(&server)).await.unwrap();
    assert!(
        client.has("IMAP4rev1") && client.has("UIDPLUS"),
        "{:?}",
        client.capabilities()
    );
    let id = client.id(&[("name", "pimlink")]).await.unwrap();
    assert!(
        id.iter()
            .any(|(k, v)| k == "name" && v.as_deref() == Some("Dovecot")),
        "{id:?}"
    );
    let [personal, _, _] = client.namespace().await.unwrap();
    assert_eq!(personal[0].delimiter, Some('/'));

    client.create("Entwürfe/日本語 & co").await.unwrap();
    client.create("Temp").await.unwrap();
    client.rename("Temp", "Renamed").await.unwrap();
    client.subscribe("Renamed").await.unwrap();
    let list = client.list("", "*").await.unwrap();
    let names: Vec<&str> = list.iter().map(|e| e.name.as_str()).collect();
    assert!(
        names.contains(&"Entwürfe/日本語 & co")
            && names.contains(&"Renamed")
            && !names.contains(&"Temp"),
        "{names:?}"
    );
    let parent = list.iter().find(|e| e.name == "Entwürfe").unwrap();
    assert_eq!(parent.delimiter, Some('/'));
    let lsub = client.lsub("", "*").await.unwrap();
    assert_eq!(
        lsub.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(),
        vec!["Renamed"]
    );
    client.unsubscribe("Renamed").await.unwrap();
    assert!(client.lsub("", "*").await.unwrap().is_empty());

    let status = client.status("Entwürfe/日本語 & co").await.unwrap();
    assert_eq!(status.messages, Some(0));
    assert!(
        status.uid_validity.is_some() && status.highest_modseq.is_some(),
        "{status:?}"
    );
    let with_status = client.list_status("*").await.unwrap();
    assert!(
        with_status
            .iter()
            .filter(|(e, _)| e.selectable())
            .all(|(_, s)| s.is_some())
    );
    assert!(
        with_status
            .iter()
            .any(|(e, s)| e.name == "Renamed" && s.as_ref().and_then(|s| s.messages) == Some(0)),
        "{with_status:?}"
    );

    client.delete("Renamed").await.unwrap();
    let err = client
        .select("Renamed", SelectOptions::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("Renamed"), "{err}");
    // The failed SELECT did not break the connection.
    client.noop().await.unwrap();
    client.logout().await.unwrap();
}

#[tokio::test]
async fn append_fetch_store_expunge_copy_move() {
    let server = DovecotBuilder::new().start().unwrap();
    let mut client = Client::connect(options(&server)).await.unwrap();
    client.create("Other").await.unwrap();
    let seen = Flags::new().with(Flag::Seen);
    let results = client
        .append_many(
            "INBOX",
            vec![
                item("one", seen.clone()),
                item("two", Flags::new()),
                item("three", Flags::new().with(Flag::Flagged)),
            ],
        )
        .await
        .unwrap();
    let uids: Vec<u32> = results.into_iter().map(|r| r.unwrap().unwrap().1).collect();
    assert_eq!(uids, vec![1, 2, 3]);
    // A message larger than the inline cap goes through a spool file.
    let big = message("big", 600 << 10);
    let (_, big_uid) = client
        .append(
            "INBOX",
            AppendItem {
                content: Content::Bytes(big.clone()),
                flags: Flags::new(),
                internal_date: None,
            },
        )
        .await
        .unwrap()
        .unwrap();

    let selected = client
        .select(
            "INBOX",
            SelectOptions {
                condstore: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(selected.exists, 4);
    assert!(selected.highest_modseq.is_some());
    let request = FetchRequest {
        flags: true,
        internal_date: true,
        size: true,
        body: true,
        header_fields: vec!["SUBJECT".into()],
        ..Default::default()
    };
    let mut got = Vec::new();
    let summary = client
        .fetch(&UidRanges::all(), &request, |m| {
            got.push(m);
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(summary.fetched, 4);
    assert_eq!(got[0].flags.as_ref(), Some(&seen));
    assert_eq!(
        got[0].internal_date,
        Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_600_000_000))
    );
    assert_eq!(got[0].header.as_deref(), Some(&b"Subject: one\r\n\r\n"[..]));
    assert_eq!(got[1].size, Some(message("two", 100).len() as u32));
    let big_msg = got.pop().unwrap();
    assert_eq!(big_msg.uid, big_uid);
    assert!(matches!(big_msg.body, Some(Content::File(_))));
    assert_eq!(bytes(big_msg.body.unwrap()), big);
    assert_eq!(bytes(got.remove(1).body.unwrap()), message("two", 100));

    // Conditional store: one UID unchanged since an old modseq fails the test.
    let modseq_of_2 = got[1].modseq.unwrap();
    let out = client
        .store(
            &UidRanges::single(2),
            StoreMode::Add,
            &Flags::new().with(Flag::Replied),
            Some(modseq_of_2),
        )
        .await
        .unwrap();
    assert!(out.modified.is_empty());
    assert_eq!(out.updated.len(), 1);
    let out = client
        .store(
            &UidRanges::single(2),
            StoreMode::Add,
            &Flags::new().with(Flag::Seen),
            Some(modseq_of_2),
        )
        .await
        .unwrap();
    assert_eq!(out.modified.iter().collect::<Vec<_>>(), vec![2]);

    // Expunge exactly one message, then ask for it: reported missing, not silently dropped.
    client
        .store(
            &UidRanges::single(1),
            StoreMode::Add,
            &Flags::new().with(Flag::Trashed),
            None,
        )
        .await
        .unwrap();
    client.uid_expunge(&UidRanges::single(1)).await.unwrap();
    let summary = client
        .fetch(
            &UidRanges::from_uids([1, 2]),
            &FetchRequest {
                flags: true,
                ..Default::default()
            },
            |_| Ok(()),
        )
        .await
        .unwrap();
    assert_eq!(summary.fetched, 1);
    assert_eq!(summary.missing.iter().collect::<Vec<_>>(), vec![1]);

    let copied = client
        .uid_copy(&UidRanges::single(2), "Other")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(copied.pairs, vec![(2, 1)]);
    let moved = client
        .uid_move(&UidRanges::single(3), "Other")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(moved.pairs, vec![(3, 2)]);
    assert_eq!(client.status("Other").await.unwrap().messages, Some(2));
    let mut left = Vec::new();
    client
        .fetch(&UidRanges::all(), &FetchRequest::default(), |m| {
            left.push(m.uid);
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(left, vec![2, big_uid]);
    client.unselect().await.unwrap();
    client.logout().await.unwrap();
}

#[tokio::test]
async fn qresync_sees_flag_changes_expunges_and_new_mail() {
    let server = DovecotBuilder::new().start().unwrap();
    for s in ["a", "b", "c"] {
        server
            .deliver(server.user(), "INBOX", &message(s, 50))
            .unwrap();
    }
    let mut a = Client::connect(options(&server)).await.unwrap();
    let first = a
        .select(
            "INBOX",
            SelectOptions {
                condstore: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let (validity, modseq) = (first.uid_validity.unwrap(), first.highest_modseq.unwrap());
    a.unselect().await.unwrap();

    // Unchanged mailbox: QRESYNC reports nothing.
    let q = QresyncParams {
        uid_validity: validity,
        modseq,
        known_uids: Some(UidRanges::from_uids([1, 2, 3])),
    };
    let same = a
        .select(
            "INBOX",
            SelectOptions {
                qresync: Some(q.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(
        same.qresync_used && same.vanished.is_empty() && same.changed.is_empty(),
        "{same:?}"
    );
    a.unselect().await.unwrap();

    // Another session changes a flag and expunges; new mail arrives.
    let mut b = Client::connect(options(&server)).await.unwrap();
    b.select("INBOX", SelectOptions::default()).await.unwrap();
    b.store(
        &UidRanges::single(1),
        StoreMode::Add,
        &Flags::new().with(Flag::Flagged),
        None,
    )
    .await
    .unwrap();
    b.store(
        &UidRanges::single(2),
        StoreMode::Add,
        &Flags::new().with(Flag::Trashed),
        None,
    )
    .await
    .unwrap();
    b.uid_expunge(&UidRanges::single(2)).await.unwrap();
    b.logout().await.unwrap();
    server
        .deliver(server.user(), "INBOX", &message("d", 50))
        .unwrap();

    let changed = a
        .select(
            "INBOX",
            SelectOptions {
                qresync: Some(q),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(changed.vanished.iter().collect::<Vec<_>>(), vec![2]);
    // Known UIDs were 1:3, so the new message shows up through UIDNEXT/EXISTS, not a FETCH.
    let uids: Vec<u32> = changed.changed.iter().map(|m| m.uid).collect();
    assert_eq!(uids, vec![1]);
    assert_eq!((changed.exists, changed.uid_next), (3, Some(5)));
    let flagged = changed.changed.iter().find(|m| m.uid == 1).unwrap();
    assert!(flagged.flags.as_ref().unwrap().contains(Flag::Flagged));
    assert!(changed.highest_modseq.unwrap() > modseq);

    // The same through CHANGEDSINCE + VANISHED on a selected mailbox.
    let mut seen = Vec::new();
    let summary = a
        .fetch(
            &UidRanges::all(),
            &FetchRequest {
                flags: true,
                changed_since: Some(modseq),
                vanished: true,
                ..Default::default()
            },
            |m| {
                seen.push(m.uid);
                Ok(())
            },
        )
        .await
        .unwrap();
    seen.sort();
    assert_eq!(seen, vec![1, 4]);
    assert_eq!(summary.vanished.iter().collect::<Vec<_>>(), vec![2]);
    a.logout().await.unwrap();
}

#[tokio::test]
async fn idle_wakes_up_on_new_mail() {
    let server = DovecotBuilder::new().start().unwrap();
    let mut client = Client::connect(options(&server)).await.unwrap();
    client
        .select("INBOX", SelectOptions::default())
        .await
        .unwrap();
    let quiet = client.idle(Duration::from_millis(300)).await.unwrap();
    assert!(quiet.timed_out);
    let user = server.user().to_owned();
    let deliver = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        server.deliver(&user, "INBOX", &message("new", 50)).unwrap();
    };
    let (outcome, ()) = tokio::join!(client.idle(Duration::from_secs(15)), deliver);
    let outcome = outcome.unwrap();
    assert!(!outcome.timed_out);
    assert_eq!(outcome.exists, Some(1));
    client.noop().await.unwrap();
    client.logout().await.unwrap();
}

#[tokio::test]
async fn compression_carries_large_messages() {
    let server = DovecotBuilder::new().compress(true).start().unwrap();
    let big = message("zip", 2 << 20);
    server.deliver(server.user(), "INBOX", &big).unwrap();
    let mut client = Client::connect(options(&server)).await.unwrap();
    assert!(client.is_compressed());
    client
        .select("INBOX", SelectOptions::default())
        .await
        .unwrap();
    let mut bodies = Vec::new();
    client
        .fetch(
            &UidRanges::all(),
            &FetchRequest {
                body: true,
                ..Default::default()
            },
            |m| {
                bodies.push(m.body.unwrap());
                Ok(())
            },
        )
        .await
        .unwrap();
    assert_eq!(bytes(bodies.pop().unwrap()), big);
    client.logout().await.unwrap();

    let mut off = options(&server);
    off.compress = false;
    let client = Client::connect(off).await.unwrap();
    assert!(!client.is_compressed());
}

#[tokio::test]
async fn tls_implicit_starttls_pinning_and_refusal() {
    let server = DovecotBuilder::new().tls(true).start().unwrap();
    let ca = server.ca_cert_pem().unwrap().to_path_buf();

    let mut implicit = options(&server);
    implicit.tls = TlsMode::Implicit;
    implicit.port = server.tls_port();
    implicit.ca_file = Some(ca.clone());
    let client = Client::connect(implicit.clone()).await.unwrap();
    assert!(client.is_tls());
    client.logout().await.unwrap();

    let mut starttls = options(&server);
    starttls.tls = TlsMode::StartTls;
    starttls.ca_file = Some(ca.clone());
    let client = Client::connect(starttls).await.unwrap();
    assert!(client.is_tls());
    assert!(
        !client.has("STARTTLS"),
        "capabilities must be re-read after STARTTLS"
    );
    client.logout().await.unwrap();

    let mut untrusted = implicit.clone();
    untrusted.ca_file = None;
    let err = Client::connect(untrusted).await.err().unwrap();
    assert!(err.to_string().contains("TLS handshake"), "{err}");

    let pem = std::fs::read(ca.with_file_name("server.pem")).unwrap();
    use rustls_pki_types::pem::PemObject;
    let der = rustls_pki_types::CertificateDer::from_pem_slice(&pem).unwrap();
    let mut pinned = implicit.clone();
    pinned.ca_file = None;
    pinned.cert_fingerprint = Some(pimlink_imap::fingerprint_hex(der.as_ref()));
    Client::connect(pinned.clone())
        .await
        .unwrap()
        .logout()
        .await
        .unwrap();
    pinned.cert_fingerprint = Some("00".repeat(32));
    assert!(Client::connect(pinned).await.is_err());
}

#[tokio::test]
async fn authentication_mechanisms() {
    let server = DovecotBuilder::new().start().unwrap();
    for mechanism in [
        AuthMechanism::Login,
        AuthMechanism::Plain,
        AuthMechanism::CramMd5,
    ] {
        let mut o = options(&server);
        o.auth_mechanism = Some(mechanism);
        let mut client = Client::connect(o)
            .await
            .unwrap_or_else(|e| panic!("{mechanism:?}: {e}\n{}", server.log()));
        client.noop().await.unwrap();
        client.logout().await.unwrap();
    }
    let mut wrong = options(&server);
    wrong.password = Secret::new("wrong");
    let err = Client::connect(wrong).await.err().unwrap();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(!err.to_string().contains("wrong"), "{err}");
}

#[tokio::test]
async fn tunnel_command_with_preauth() {
    let server = DovecotBuilder::new().start().unwrap();
    server
        .deliver(server.user(), "INBOX", &message("t", 50))
        .unwrap();
    let mut o = options(&server);
    o.tunnel = Some(format!(
        "doveadm -c {} exec imap -u {}",
        server.config_path().display(),
        server.user()
    ));
    o.password = Secret::new("unused");
    let mut client = Client::connect(o)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", server.log()));
    let selected = client
        .select("INBOX", SelectOptions::default())
        .await
        .unwrap();
    assert_eq!(selected.exists, 1);
    client.logout().await.unwrap();
}

#[tokio::test]
async fn disabled_extensions_are_not_used() {
    let server = DovecotBuilder::new().start().unwrap();
    let mut o = options(&server);
    o.disabled_extensions = vec!["QRESYNC".into(), "CONDSTORE".into()];
    let mut client = Client::connect(o).await.unwrap();
    let selected = client
        .select(
            "INBOX",
            SelectOptions {
                condstore: true,
                qresync: Some(QresyncParams {
                    uid_validity: 1,
                    modseq: 1,
                    known_uids: None,
                }),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(!selected.qresync_used);
    assert!(selected.highest_modseq.is_none());
    let err = client
        .fetch(
            &UidRanges::all(),
            &FetchRequest {
                changed_since: Some(1),
                ..Default::default()
            },
            |_| Ok(()),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
}
