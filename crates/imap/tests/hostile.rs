//! A scripted server on 127.0.0.1 that misbehaves on purpose: every case must give a clear
//! error and no panic.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests may unwrap.

use std::time::Duration;

use pimlink_core::ErrorKind;
use pimlink_imap::{
    AuthMechanism, Client, ClientOptions, FetchRequest, Secret, SelectOptions, TlsMode, UidRanges,
};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

const GREETING: &str = "* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN AUTH=XOAUTH2 AUTH=OAUTHBEARER LITERAL+ UIDPLUS] hi\r\n";

/// Starts a server that greets, then for each command line calls `script(tag, line)` and writes
/// what it returns; `None` closes the connection. Returns the options to reach it.
async fn serve(script: impl Fn(&str, &str) -> Option<Vec<u8>> + Send + 'static) -> ClientOptions {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        let (read, mut write) = socket.into_split();
        let mut lines = BufReader::new(read).lines();
        write.write_all(GREETING.as_bytes()).await.unwrap();
        while let Ok(Some(line)) = lines.next_line().await {
            let tag = line.split(' ').next().unwrap_or("").to_owned();
            match script(&tag, &line) {
                Some(reply) => {
                    if write.write_all(&reply).await.is_err() {
                        return;
                    }
                }
                None => return,
            }
        }
    });
    let mut o = ClientOptions::new("127.0.0.1", "me", Secret::new("s3cret"));
    o.port = Some(port);
    o.tls = TlsMode::None;
    o.read_timeout = Duration::from_secs(5);
    o
}

/// Logs in, selects, and answers FETCH with `fetch_reply`.
fn mailbox_script(
    fetch_reply: &'static str,
) -> impl Fn(&str, &str) -> Option<Vec<u8>> + Send + 'static {
    move |tag, line| {
        let upper = line.to_ascii_uppercase();
        let reply = if upper.contains("AUTHENTICATE") {
            format!("{tag} OK [CAPABILITY IMAP4rev1 LITERAL+ UIDPLUS] in\r\n")
        } else if upper.contains("SELECT") {
            format!("* 3 EXISTS\r\n* OK [UIDVALIDITY 9] x\r\n{tag} OK [READ-WRITE] ok\r\n")
        } else if upper.contains("FETCH") {
            if fetch_reply.is_empty() {
                return None;
            }
            fetch_reply.replace("TAG", tag)
        } else if upper.contains("LOGOUT") {
            format!("* BYE bye\r\n{tag} OK out\r\n")
        } else {
            format!("{tag} OK fine\r\n")
        };
        Some(reply.into_bytes())
    }
}

async fn fetch_against(
    reply: &'static str,
    uids: UidRanges,
) -> (
    Result<pimlink_imap::FetchSummary, pimlink_core::Error>,
    Client,
) {
    let mut client = Client::connect(serve(mailbox_script(reply)).await)
        .await
        .unwrap();
    client
        .select("INBOX", SelectOptions::default())
        .await
        .unwrap();
    let request = FetchRequest {
        flags: true,
        body: true,
        ..Default::default()
    };
    let result = client.fetch(&uids, &request, |_| Ok(())).await;
    (result, client)
}

#[tokio::test]
async fn garbage_line_is_a_peer_error_and_sticks() {
    let (result, mut client) =
        fetch_against("this is not IMAP\r\nTAG OK done\r\n", UidRanges::all()).await;
    let err = result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Peer);
    assert!(err.to_string().contains("this is not IMAP"), "{err}");
    // The connection is unusable afterwards, with the same error.
    let again = client.noop().await.unwrap_err();
    assert_eq!(again.to_string(), err.to_string());
}

#[tokio::test]
async fn literal_longer_than_announced_is_an_error() {
    // 5 bytes announced, 12 sent: the rest of the line no longer parses.
    let (result, _) = fetch_against(
        "* 1 FETCH (UID 1 BODY[] {5}\r\nHello, world)\r\nTAG OK done\r\n",
        UidRanges::all(),
    )
    .await;
    let err = result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Peer, "{err}");
}

#[tokio::test]
async fn connection_cut_mid_literal_is_reported_as_such() {
    let (result, _) = fetch_against(
        "* 1 FETCH (UID 1 BODY[] {500}\r\nonly a little",
        UidRanges::all(),
    )
    .await;
    // The server keeps the socket open but sends nothing more: the read timeout fires.
    let err = result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connection);
    assert!(err.to_string().contains("sent nothing"), "{err}");

    // Now a server that closes the socket in the middle of a (spooled) literal.

    let options = serve(|tag, line| {
        if line.to_ascii_uppercase().contains("FETCH") {
            None
        } else if line.to_ascii_uppercase().contains("CAPABILITY") {
            Some(format!("* CAPABILITY IMAP4rev1\r\n{tag} OK caps\r\n").into_bytes())
        } else if line.to_ascii_uppercase().contains("SELECT") {
            Some(
                format!(
                    "* 1 EXISTS\r\n{tag} OK ok\r\n* 1 FETCH (UID 1 BODY[] {{400000}}\r\npartial"
                )
                .into_bytes(),
            )
        } else {
            Some(format!("{tag} OK fine\r\n").into_bytes())
        }
    })
    .await;
    let mut client = Client::connect(options).await.unwrap();
    client
        .select("INBOX", SelectOptions::default())
        .await
        .unwrap();
    let err = client
        .fetch(
            &UidRanges::all(),
            &FetchRequest {
                body: true,
                ..Default::default()
            },
            |_| Ok(()),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connection);
    assert!(
        err.to_string().contains("in the middle of a response"),
        "{err}"
    );
}

#[tokio::test]
async fn fetch_missing_uids_is_detected() {
    let (result, _) = fetch_against(
        "* 1 FETCH (UID 1 FLAGS ())\r\n* 3 FETCH (UID 3 FLAGS (\\Seen))\r\nTAG OK done\r\n",
        UidRanges::from_uids([1, 2, 3]),
    )
    .await;
    let summary = result.unwrap();
    assert_eq!(summary.fetched, 2);
    assert_eq!(summary.missing.iter().collect::<Vec<_>>(), vec![2]);
}

#[tokio::test]
async fn fetch_body_without_uid_is_an_error() {
    let (result, _) = fetch_against(
        "* 1 FETCH (BODY[] {2}\r\nhi)\r\nTAG OK done\r\n",
        UidRanges::all(),
    )
    .await;
    let err = result.unwrap_err();
    assert!(err.to_string().contains("without its UID"), "{err}");
}

#[tokio::test]
async fn oversized_line_and_bad_literal_are_refused() {
    let long: &'static str =
        Box::leak(format!("* OK {}\r\nTAG OK done\r\n", "x".repeat(2 << 20)).into_boxed_str());
    let (result, _) = fetch_against(long, UidRanges::all()).await;
    assert!(result.unwrap_err().to_string().contains("longer than"));
    let (result, _) = fetch_against(
        "* 1 FETCH (UID 1 BODY[] {99999999999}\r\n",
        UidRanges::all(),
    )
    .await;
    assert!(result.unwrap_err().to_string().contains("invalid literal"));
}

#[tokio::test]
async fn unknown_tag_and_stray_continuation_are_errors() {
    let (result, _) = fetch_against("zz9 OK what\r\n", UidRanges::all()).await;
    assert!(result.unwrap_err().to_string().contains("never sent"));
    let (result, _) = fetch_against("+ go on\r\n", UidRanges::all()).await;
    assert!(result.unwrap_err().to_string().contains("continuation"));
}

#[tokio::test]
async fn oauth_mechanisms_send_the_token_and_handle_failure() {
    let options = serve(|tag, line| {
        // XOAUTH2 with SASL-IR: the token is in the command line.
        use base64::Engine;
        let payload = line.split(' ').nth(3).unwrap_or("");
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(payload)
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&decoded).into_owned();
        if text.contains("auth=Bearer good") {
            Some(format!("{tag} OK [CAPABILITY IMAP4rev1] in\r\n").into_bytes())
        } else if line.is_empty() || line == "AQ==" {
            Some(b"p1 NO [AUTHENTICATIONFAILED] bad token\r\n".to_vec())
        } else {
            Some(b"+ eyJzdGF0dXMiOiI0MDEifQ==\r\n".to_vec())
        }
    })
    .await;
    let mut o = options.clone();
    o.auth_mechanism = Some(AuthMechanism::XOAuth2);
    o.password = Secret::new("good");
    Client::connect(o).await.unwrap();

    for mechanism in [AuthMechanism::XOAuth2, AuthMechanism::OAuthBearer] {
        let options = serve(|tag, line| {
            if line.is_empty() || line == "AQ==" {
                Some(b"p1 NO [AUTHENTICATIONFAILED] bad token\r\n".to_vec())
            } else if line.contains("AUTHENTICATE") {
                Some(b"+ eyJzdGF0dXMiOiI0MDEifQ==\r\n".to_vec())
            } else {
                Some(format!("{tag} OK fine\r\n").into_bytes())
            }
        })
        .await;
        let mut o = options;
        o.auth_mechanism = Some(mechanism);
        o.password = Secret::new("expired");
        let err = Client::connect(o).await.err().unwrap();
        assert_eq!(err.kind(), ErrorKind::Auth, "{mechanism:?}: {err}");
        // The mechanism as sent and the server's code and words as written.
        assert!(
            err.to_string().ends_with(&format!(
                "login as \"me\" with {mechanism} was refused: [AUTHENTICATIONFAILED] bad token"
            )),
            "{err}"
        );
    }
}

#[tokio::test]
async fn login_disabled_is_respected() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        socket
            .write_all(b"* OK [CAPABILITY IMAP4rev1 LOGINDISABLED] hi\r\n")
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_secs(5)).await;
    });
    let mut o = ClientOptions::new("127.0.0.1", "me", Secret::new("pw"));
    o.port = Some(port);
    o.tls = TlsMode::None;
    let err = Client::connect(o.clone()).await.err().unwrap();
    assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
}

/// Issue 12: one folder line the client cannot parse (a NUL in a folder name's literal, a
/// STATUS line with an unknown item) costs that folder, not the command or the connection.
#[tokio::test]
async fn an_unparsable_folder_line_leaves_out_that_folder_only() {
    let options = serve(|tag, line| {
        let upper = line.to_ascii_uppercase();
        let reply = if upper.contains("AUTHENTICATE") {
            format!("{tag} OK [CAPABILITY IMAP4rev1 LIST-STATUS CONDSTORE] in\r\n")
        } else if upper.contains("RETURN (STATUS") {
            format!(
                "* LIST () \".\" INBOX\r\n* STATUS INBOX (MESSAGES 2 UIDNEXT 3 UIDVALIDITY 1)\r\n\
                 * LIST () \".\" {{5}}\r\nab\0cd\r\n\
                 * LIST () \".\" Other\r\n* STATUS Other (MESSAGES \0)\r\n{tag} OK done\r\n"
            )
        } else if upper.starts_with(&format!("{} LIST", tag.to_ascii_uppercase())) {
            format!(
                "* LIST () \".\" INBOX\r\n* LIST () \".\" {{5}}\r\nab\0cd\r\n\
                 * LIST () \".\" Other\r\n{tag} OK done\r\n"
            )
        } else if upper.contains("STATUS") {
            format!("* STATUS Other (MESSAGES \0)\r\n{tag} OK done\r\n")
        } else {
            format!("{tag} OK fine\r\n")
        };
        Some(reply.into_bytes())
    })
    .await;
    let mut client = Client::connect(options).await.unwrap();

    let names: Vec<String> = client
        .list("", "*")
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names, ["INBOX", "Other"]);
    assert_eq!(client.take_unreadable_folders(), 1);
    assert_eq!(client.take_unreadable_folders(), 0, "counted once");

    let listed = client.list_status("*").await.unwrap();
    let summary: Vec<(String, Option<u32>)> = listed
        .iter()
        .map(|(e, s)| (e.name.clone(), s.as_ref().and_then(|s| s.messages)))
        .collect();
    assert_eq!(
        summary,
        [("INBOX".to_owned(), Some(2)), ("Other".to_owned(), None)],
        "Other is listed without its counters"
    );
    assert_eq!(
        client.take_unreadable_folders(),
        1,
        "the STATUS line does not count"
    );

    let err = client.status("Other").await.unwrap_err();
    assert!(err.to_string().contains("without data"), "{err}");
    // The connection is still in step.
    client.noop().await.unwrap();
}

#[tokio::test]
async fn a_write_that_fails_halfway_breaks_the_connection() {
    // The server hangs up on reading the APPEND line; with LITERAL+ the client is still
    // writing the message, so the stream is out of step whatever happens next.
    let options = serve(|tag, line| {
        if line.contains("APPEND") {
            None
        } else {
            Some(format!("{tag} OK [CAPABILITY IMAP4rev1 LITERAL+ UIDPLUS] fine\r\n").into_bytes())
        }
    })
    .await;
    let mut client = Client::connect(options).await.unwrap();
    let item = pimlink_imap::AppendItem {
        content: pimlink_core::Content::Bytes(vec![b'x'; 32 << 20]),
        flags: pimlink_core::Flags::new(),
        internal_date: None,
    };
    let err = client.append("INBOX", item).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
    assert!(client.is_broken());
}
