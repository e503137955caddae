//! The cases. Each takes the flavor, starts the server it needs and checks one area.
//!
//! One file of about 50 lines per case: `suite_cases!` in mod.rs calls each as `cases::NAME` once
//! per server, and the list there is the table of contents.

use std::time::{Duration, SystemTime};

use pimlink_core::{Content, ErrorKind, Flag, Flags};
use pimlink_imap::{
    AppendItem, AuthMechanism, Client, FetchRequest, MultiAppend, QresyncParams, Secret,
    SelectOptions, StoreMode, TlsMode, UidRanges,
};

use super::{Flavor, Server, Setup, bytes, item, message, skipped};

fn start(flavor: Flavor, setup: Setup) -> Option<Server> {
    Server::start(flavor, setup)
}

pub async fn mailbox_commands_and_unicode_names(flavor: Flavor) {
    let Some(server) = start(flavor, Setup::default()) else {
        return;
    };
    mailbox_commands(&server, '/').await;
}

/// The same as [`mailbox_commands_and_unicode_names`] on a server whose delimiter is `.`
/// (Dovecot's Maildir++ layout; like Cyrus without `unixhierarchysep`).
pub async fn mailbox_commands_with_dot_delimiter(flavor: Flavor) {
    let Some(server) = start(
        flavor,
        Setup {
            dot_delimiter: true,
            ..Setup::default()
        },
    ) else {
        return;
    };
    mailbox_commands(&server, '.').await;
}

async fn mailbox_commands(server: &Server, d: char) {
    let mut client = Client::connect(server.options()).await.unwrap();
    assert!(
        client.has("IMAP4rev1") && client.has("UIDPLUS"),
        "{:?}",
        client.capabilities()
    );
    let id = client.id(&[("name", "pimlink")]).await.unwrap();
    let server_name = match server.flavor() {
        Flavor::Dovecot => "Dovecot",
        Flavor::Cyrus => "Cyrus IMAPD",
    };
    assert!(
        id.iter()
            .any(|(k, v)| k == "name" && v.as_deref() == Some(server_name)),
        "{id:?}"
    );
    let [personal, _, _] = client.namespace().await.unwrap();
    assert_eq!(personal[0].delimiter, Some(d));

    let nested = format!("Entwürfe{d}日本語 & co");
    client.create(&nested).await.unwrap();
    client.create("Temp").await.unwrap();
    client.rename("Temp", "Renamed").await.unwrap();
    client.subscribe("Renamed").await.unwrap();
    let list = client.list("", "*").await.unwrap();
    let names: Vec<&str> = list.iter().map(|e| e.name.as_str()).collect();
    assert!(
        names.contains(&nested.as_str()) && names.contains(&"Renamed") && !names.contains(&"Temp"),
        "{names:?}"
    );
    let parent = list.iter().find(|e| e.name == "Entwürfe").unwrap();
    assert_eq!(parent.delimiter, Some(d));
    let lsub = client.lsub("", "*").await.unwrap();
    assert_eq!(
        lsub.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(),
        vec!["Renamed"]
    );
    client.unsubscribe("Renamed").await.unwrap();
    assert!(client.lsub("", "*").await.unwrap().is_empty());

    let status = client.status(&nested).await.unwrap();
    assert_eq!(status.messages, Some(0));
    assert!(
        status.uid_validity.is_some() && status.highest_modseq.is_some(),
        "{status:?}"
    );
    let statuses = client
        .status_many(&["INBOX", &nested, "Renamed", "Missing"])
        .await
        .unwrap();
    assert_eq!(statuses.len(), 4);
    for (status, name) in statuses[..3].iter().zip(["INBOX", &nested, "Renamed"]) {
        let status = status.as_ref().unwrap();
        assert_eq!((status.name.as_str(), status.messages), (name, Some(0)));
    }
    assert_eq!(
        statuses[3].as_ref().unwrap_err().kind(),
        ErrorKind::NotFound,
        "{:?}",
        statuses[3]
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
    // The engine tells "gone" from other failures by the kind, whatever the server's wording.
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    let err = client
        .append("Renamed", item("nowhere", Flags::new()))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    let err = client.status("Renamed").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    let err = client.delete("Renamed").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    // The failed commands did not break the connection.
    client.noop().await.unwrap();
    client.logout().await.unwrap();
}

pub async fn append_fetch_store_expunge_copy_move(flavor: Flavor) {
    let Some(server) = start(flavor, Setup::default()) else {
        return;
    };
    let mut client = Client::connect(server.options()).await.unwrap();
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
    assert_eq!(client.exists(), 4);
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
    assert_eq!(client.exists(), 3);
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

pub async fn qresync_sees_flag_changes_expunges_and_new_mail(flavor: Flavor) {
    let Some(server) = start(flavor, Setup::default()) else {
        return;
    };
    for s in ["a", "b", "c"] {
        server.deliver("INBOX", &message(s, 50));
    }
    let mut a = Client::connect(server.options()).await.unwrap();
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
    let mut b = Client::connect(server.options()).await.unwrap();
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
    server.deliver("INBOX", &message("d", 50));

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

pub async fn idle_wakes_up_on_new_mail(flavor: Flavor) {
    let Some(server) = start(flavor, Setup::default()) else {
        return;
    };
    let mut client = Client::connect(server.options()).await.unwrap();
    client
        .select("INBOX", SelectOptions::default())
        .await
        .unwrap();
    let quiet = client.idle(Duration::from_millis(300)).await.unwrap();
    assert!(quiet.timed_out);
    let deliver = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        server.deliver("INBOX", &message("new", 50));
    };
    let (outcome, ()) = tokio::join!(client.idle(server.idle_latency()), deliver);
    let outcome = outcome.unwrap();
    assert!(!outcome.timed_out);
    assert_eq!(outcome.exists, Some(1));
    client.noop().await.unwrap();
    client.logout().await.unwrap();
}

/// Several clients of one account at once (the engine opens one per worker): a change made
/// through one connection reaches the other by IDLE and by NOOP, and the two run on separate
/// tasks (`Client` is `Send`).
pub async fn two_connections_to_one_mailbox(flavor: Flavor) {
    let Some(server) = start(flavor, Setup::default()) else {
        return;
    };
    let mut watcher = Client::connect(server.options()).await.unwrap();
    let mut writer = Client::connect(server.options()).await.unwrap();
    watcher
        .select("INBOX", SelectOptions::default())
        .await
        .unwrap();
    let latency = server.idle_latency();
    let watching = tokio::spawn(async move {
        let outcome = watcher.idle(latency).await.unwrap();
        (watcher, outcome)
    });
    let writing = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let uid = writer
            .append("INBOX", item("first", Flags::new()))
            .await
            .unwrap();
        (writer, uid)
    });
    let (mut watcher, outcome) = watching.await.unwrap();
    let (mut writer, appended) = writing.await.unwrap();
    assert!(
        !outcome.timed_out,
        "IDLE did not see the other connection's APPEND"
    );
    assert_eq!(outcome.exists, Some(1));
    assert_eq!(appended.map(|(_, uid)| uid), Some(1));

    // Without IDLE: the writer appends and flags, the watcher's NOOP reports both.
    writer
        .append("INBOX", item("second", Flags::new()))
        .await
        .unwrap();
    writer
        .select("INBOX", SelectOptions::default())
        .await
        .unwrap();
    writer
        .store(
            &UidRanges::single(1),
            StoreMode::Add,
            &Flags::new().with(Flag::Flagged),
            None,
        )
        .await
        .unwrap();
    watcher.noop().await.unwrap();
    assert_eq!(watcher.exists(), 2);
    let mut flags = Vec::new();
    watcher
        .fetch(
            &UidRanges::all(),
            &FetchRequest {
                flags: true,
                ..Default::default()
            },
            |m| {
                flags.push((m.uid, m.flags.unwrap().contains(Flag::Flagged)));
                Ok(())
            },
        )
        .await
        .unwrap();
    assert_eq!(flags, vec![(1, true), (2, false)]);
    writer.logout().await.unwrap();
    watcher.logout().await.unwrap();
}

pub async fn compression_carries_large_messages(flavor: Flavor) {
    let Some(server) = start(
        flavor,
        Setup {
            compress: true,
            ..Setup::default()
        },
    ) else {
        return;
    };
    let big = message("zip", 2 << 20);
    server.deliver("INBOX", &big);
    let mut client = Client::connect(server.options()).await.unwrap();
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

    let mut off = server.options();
    off.compress = false;
    let client = Client::connect(off).await.unwrap();
    assert!(!client.is_compressed());
}

pub async fn tls_implicit_starttls_pinning_and_refusal(flavor: Flavor) {
    let Some(server) = start(
        flavor,
        Setup {
            tls: true,
            ..Setup::default()
        },
    ) else {
        return;
    };
    let ca = server.ca_cert_pem().unwrap().to_path_buf();

    let mut implicit = server.options();
    implicit.tls = TlsMode::Implicit;
    implicit.port = server.tls_port();
    implicit.trust.ca_file = Some(ca.clone());
    let client = Client::connect(implicit.clone())
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", server.log()));
    assert!(client.is_tls());
    client.logout().await.unwrap();

    let mut starttls = server.options();
    starttls.tls = TlsMode::StartTls;
    starttls.trust.ca_file = Some(ca.clone());
    let client = Client::connect(starttls).await.unwrap();
    assert!(client.is_tls());
    assert!(
        !client.has("STARTTLS"),
        "capabilities must be re-read after STARTTLS"
    );
    client.logout().await.unwrap();

    let mut untrusted = implicit.clone();
    untrusted.trust.ca_file = None;
    let err = Client::connect(untrusted).await.err().unwrap();
    assert!(err.to_string().contains("TLS handshake"), "{err}");

    let pem = std::fs::read(ca.with_file_name("server.pem")).unwrap();
    use rustls_pki_types::pem::PemObject;
    let der = rustls_pki_types::CertificateDer::from_pem_slice(&pem).unwrap();
    let mut pinned = implicit.clone();
    pinned.trust.ca_file = None;
    pinned.trust.cert_fingerprint = Some(pimlink_imap::CertFingerprint::of(der.as_ref()));
    Client::connect(pinned.clone())
        .await
        .unwrap()
        .logout()
        .await
        .unwrap();
    pinned.trust.cert_fingerprint = Some(pimlink_imap::CertFingerprint([0; 32]));
    assert!(Client::connect(pinned).await.is_err());
}

pub async fn authentication_mechanisms(flavor: Flavor) {
    let Some(server) = start(flavor, Setup::default()) else {
        return;
    };
    let mechanisms: &[AuthMechanism] = match flavor {
        Flavor::Dovecot => &[
            AuthMechanism::Login,
            AuthMechanism::Plain,
            AuthMechanism::CramMd5,
        ],
        // The Cyrus harness sets `sasl_mech_list: PLAIN LOGIN`: no CRAM-MD5 to test.
        Flavor::Cyrus => {
            skipped(flavor, "CRAM-MD5: the harness offers only PLAIN and LOGIN");
            &[AuthMechanism::Login, AuthMechanism::Plain]
        }
    };
    for &mechanism in mechanisms {
        let mut o = server.options();
        o.auth_mechanism = Some(mechanism);
        let mut client = Client::connect(o)
            .await
            .unwrap_or_else(|e| panic!("{mechanism:?}: {e}\n{}", server.log()));
        client.noop().await.unwrap();
        client.logout().await.unwrap();
    }
    let mut wrong = server.options();
    wrong.password = Secret::new("wrong");
    let err = Client::connect(wrong).await.err().unwrap();
    assert_eq!(err.kind(), ErrorKind::Auth);
    assert!(!err.to_string().contains("wrong"), "{err}");
}

pub async fn tunnel_command_with_preauth(flavor: Flavor) {
    let Some(server) = start(flavor, Setup::default()) else {
        return;
    };
    let Server::Dovecot(dovecot) = &server else {
        // Cyrus's imapd only runs under its `master` (it accepts on a socket master passes
        // it) and has no PREAUTH mode for a stdin/stdout session (see suite_cases!).
        panic!("{flavor:?}: no PREAUTH stdin/stdout imapd to tunnel to");
    };
    server.deliver("INBOX", &message("t", 50));
    let mut o = server.options();
    o.tunnel = Some(format!(
        "doveadm -c {} exec imap -u {}",
        dovecot.config_path().display(),
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

/// A tunnel to a server that greets with OK (not PREAUTH): the client logs in through it.
/// The command relays the server's TCP port with bash's /dev/tcp, as `ssh host nc ...` would.
pub async fn tunnel_command_with_login(flavor: Flavor) {
    let Some(server) = start(flavor, Setup::default()) else {
        return;
    };
    server.deliver("INBOX", &message("t", 50));
    let mut o = server.options();
    o.tunnel = Some(format!(
        "exec bash -c 'exec 3<>/dev/tcp/{}/{}; cat <&3 & exec cat >&3'",
        server.host(),
        server.port()
    ));
    // The tunnel's far end is the real server's plain port; an address that cannot be
    // reached proves the client did not connect there itself.
    o.port = Some(1);
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

pub async fn disabled_extensions_are_not_used(flavor: Flavor) {
    let Some(server) = start(flavor, Setup::default()) else {
        return;
    };
    let mut o = server.options();
    o.disabled_extensions = vec!["QRESYNC".into(), "CONDSTORE".into(), "LITERAL+".into()];
    let mut client = Client::connect(o).await.unwrap();
    // Without LITERAL+ each APPEND waits for the server's "+" before its message.
    let appended = client
        .append_many(
            "INBOX",
            vec![item("sync-1", Flags::new()), item("sync-2", Flags::new())],
        )
        .await
        .unwrap();
    let uids: Vec<u32> = appended
        .into_iter()
        .map(|r| r.unwrap().unwrap().1)
        .collect();
    assert_eq!(uids, vec![1, 2]);
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
    assert_eq!(selected.exists, 2);
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

    // EXAMINE: read-only, so a flag change changes nothing (Cyrus refuses it with NO,
    // Dovecot answers OK and ignores it).
    let examined = client
        .select(
            "INBOX",
            SelectOptions {
                read_only: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(examined.read_only && examined.exists == 2, "{examined:?}");
    let outcome = client
        .store(
            &UidRanges::single(1),
            StoreMode::Add,
            &Flags::new().with(Flag::Flagged),
            None,
        )
        .await;
    match server.flavor() {
        Flavor::Cyrus => assert!(outcome.is_err(), "{outcome:?}"),
        Flavor::Dovecot => assert!(outcome.unwrap().updated.is_empty()),
    }
    let mut flagged = Vec::new();
    client
        .fetch(
            &UidRanges::all(),
            &FetchRequest {
                flags: true,
                ..Default::default()
            },
            |m| {
                flagged.push(m.flags.unwrap().contains(Flag::Flagged));
                Ok(())
            },
        )
        .await
        .unwrap();
    assert_eq!(flagged, vec![false, false]);
    client.logout().await.unwrap();
}

/// One MULTIAPPEND of three messages: the server stores all of them, and its APPENDUID names one
/// UID per message, each the UID of that very message, with its flags.
pub async fn multiappend_gives_each_message_its_own_uid(flavor: Flavor) {
    let Some(server) = start(flavor, Setup::default()) else {
        return;
    };
    let mut client = Client::connect(server.options()).await.unwrap();
    assert!(
        client.has("MULTIAPPEND"),
        "{flavor:?} offers MULTIAPPEND: {:?}",
        client.capabilities()
    );
    client.create("Batch").await.unwrap();
    let sent = [
        ("m-one", Flags::new().with(Flag::Seen)),
        ("m-two", Flags::new()),
        ("m-three", Flags::new().with(Flag::Flagged)),
    ];
    let items = sent
        .iter()
        .map(|(subject, flags)| item(subject, flags.clone()))
        .collect();
    let outcome = client.multiappend("Batch", items).await.unwrap();
    let MultiAppend::Stored(Some((_, uids))) = outcome else {
        panic!("MULTIAPPEND not stored with an APPENDUID: {outcome:?}");
    };
    let uids: Vec<u32> = uids.iter().collect();
    assert_eq!(uids.len(), 3, "{uids:?}");

    client
        .select("Batch", SelectOptions::default())
        .await
        .unwrap();
    let request = FetchRequest {
        flags: true,
        header_fields: vec!["SUBJECT".into()],
        ..Default::default()
    };
    let mut got = Vec::new();
    client
        .fetch(&UidRanges::all(), &request, |m| {
            got.push(m);
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(got.len(), 3);
    for ((subject, flags), uid) in sent.iter().zip(&uids) {
        let stored = got.iter().find(|m| m.uid == *uid).unwrap();
        let header = format!("Subject: {subject}\r\n\r\n");
        assert_eq!(
            stored.header.as_deref(),
            Some(header.as_bytes()),
            "UID {uid}"
        );
        assert_eq!(stored.flags.as_ref(), Some(flags), "UID {uid}");
    }
}
