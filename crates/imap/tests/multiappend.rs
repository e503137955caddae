//! MULTIAPPEND (RFC 3502) against a scripted server on 127.0.0.1 that records every byte the
//! client sends: the command's exact encoding with LITERAL+ and with synchronising literals,
//! the APPENDUID uid-set handed back as written, and the refusals that store nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests may unwrap.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use pimlink_core::{Content, ErrorKind, Flag, Flags};
use pimlink_imap::{AppendItem, Client, ClientOptions, MultiAppend, Secret, TlsMode};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// How the scripted server answers an APPEND.
#[derive(Clone)]
struct Script {
    /// The capabilities it announces.
    caps: &'static str,
    /// Answer the APPEND's literal number n (from 0) with `NO` instead of `+` (synchronising
    /// literals only).
    refuse_literal: Option<usize>,
    /// The completion of an APPEND, after the tag.
    append_reply: &'static str,
}

/// What the client sent (each command in full, literals included) and the `+` the server sent.
#[derive(Default)]
struct Seen {
    commands: Vec<Vec<u8>>,
    continuations: usize,
}

async fn serve(script: Script) -> (ClientOptions, Arc<Mutex<Seen>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let record = Arc::clone(&seen);
    tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        let (read, mut write) = socket.into_split();
        let mut read = BufReader::new(read);
        let greeting = format!("* OK [CAPABILITY {}] hi\r\n", script.caps);
        write.write_all(greeting.as_bytes()).await.unwrap();
        loop {
            // One command: lines, each but the last ending in a literal announcement.
            let mut command = Vec::new();
            let mut literals = 0;
            let refused = loop {
                let mut line = Vec::new();
                if read.read_until(b'\n', &mut line).await.unwrap_or(0) == 0 {
                    return;
                }
                command.extend_from_slice(&line);
                let Some((len, sync)) = literal_at_end(&line) else {
                    break false;
                };
                if sync {
                    if script.refuse_literal == Some(literals) {
                        break true;
                    }
                    record.lock().unwrap().continuations += 1;
                    write.write_all(b"+ go ahead\r\n").await.unwrap();
                }
                let mut data = vec![0; len];
                read.read_exact(&mut data).await.unwrap();
                command.extend_from_slice(&data);
                literals += 1;
            };
            let text = String::from_utf8_lossy(&command).into_owned();
            let tag = text.split(' ').next().unwrap_or("").to_owned();
            let verb = text.split(' ').nth(1).unwrap_or("").to_ascii_uppercase();
            record.lock().unwrap().commands.push(command);
            let reply = match verb.trim_end() {
                "APPEND" if refused => format!("{tag} NO [TOOBIG] Message too large\r\n"),
                "APPEND" => format!("{tag} {}\r\n", script.append_reply),
                "AUTHENTICATE" | "LOGIN" => {
                    format!("{tag} OK [CAPABILITY {}] in\r\n", script.caps)
                }
                "LOGOUT" => format!("* BYE bye\r\n{tag} OK out\r\n"),
                _ => format!("{tag} OK fine\r\n"),
            };
            if write.write_all(reply.as_bytes()).await.is_err() {
                return;
            }
        }
    });
    let mut options = ClientOptions::new("127.0.0.1", "me", Secret::new("s3cret"));
    options.port = Some(port);
    options.tls = TlsMode::None;
    options.read_timeout = Duration::from_secs(5);
    (options, seen)
}

/// `{N}` or `{N+}` ending a line: (N, synchronising).
fn literal_at_end(line: &[u8]) -> Option<(usize, bool)> {
    let line = std::str::from_utf8(line).ok()?.strip_suffix("\r\n")?;
    let open = line.rfind('{')?;
    let inner = line[open + 1..].strip_suffix('}')?;
    let (digits, sync) = match inner.strip_suffix('+') {
        Some(digits) => (digits, false),
        None => (inner, true),
    };
    Some((digits.parse().ok()?, sync))
}

const WITH_LITERAL_PLUS: &str = "IMAP4rev1 SASL-IR AUTH=PLAIN LITERAL+ UIDPLUS MULTIAPPEND";
const WITHOUT_LITERAL_PLUS: &str = "IMAP4rev1 SASL-IR AUTH=PLAIN UIDPLUS MULTIAPPEND";

fn items() -> Vec<AppendItem> {
    let date = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    vec![
        AppendItem {
            content: Content::Bytes(b"Subject: one\r\n\r\nx\r\n".to_vec()),
            flags: Flags::new().with(Flag::Seen),
            internal_date: Some(date),
        },
        AppendItem {
            content: Content::Bytes(b"Subject: two\r\n\r\n".to_vec()),
            flags: Flags::new(),
            internal_date: None,
        },
        AppendItem {
            content: Content::Bytes(b"Subject: three\r\n\r\nzz\r\n".to_vec()),
            flags: Flags::new().with(Flag::Flagged).with(Flag::Seen),
            internal_date: Some(date),
        },
    ]
}

/// The APPEND the server received.
fn the_append(seen: &Mutex<Seen>) -> String {
    let seen = seen.lock().unwrap();
    let appends: Vec<String> = seen
        .commands
        .iter()
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .filter(|c| c.split(' ').nth(1) == Some("APPEND"))
        .collect();
    assert_eq!(appends.len(), 1, "{appends:?}");
    appends[0].split_once(' ').unwrap().1.to_owned()
}

#[tokio::test]
async fn with_literal_plus_the_messages_go_in_one_command_without_waiting() {
    let (options, seen) = serve(Script {
        caps: WITH_LITERAL_PLUS,
        refuse_literal: None,
        append_reply: "OK [APPENDUID 38505 101:102,104] Append completed",
    })
    .await;
    let mut client = Client::connect(options).await.unwrap();
    let outcome = client.multiappend("Drafts", items()).await.unwrap();
    assert_eq!(
        the_append(&seen),
        "APPEND \"Drafts\" (\\Seen) \"14-Nov-2023 22:13:20 +0000\" {19+}\r\n\
         Subject: one\r\n\r\nx\r\n () {16+}\r\nSubject: two\r\n\r\n \
         (\\Flagged \\Seen) \"14-Nov-2023 22:13:20 +0000\" {22+}\r\n\
         Subject: three\r\n\r\nzz\r\n\r\n"
    );
    assert_eq!(seen.lock().unwrap().continuations, 0);
    match outcome {
        MultiAppend::Stored(Some((validity, uids))) => {
            assert_eq!(validity, 38505);
            assert_eq!(uids.iter().collect::<Vec<_>>(), [101, 102, 104]);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn without_literal_plus_each_message_waits_for_the_servers_go_ahead() {
    let (options, seen) = serve(Script {
        caps: WITHOUT_LITERAL_PLUS,
        refuse_literal: None,
        append_reply: "OK [APPENDUID 7 3:5] Append completed",
    })
    .await;
    let mut client = Client::connect(options).await.unwrap();
    let outcome = client.multiappend("INBOX", items()).await.unwrap();
    assert_eq!(
        the_append(&seen),
        "APPEND \"INBOX\" (\\Seen) \"14-Nov-2023 22:13:20 +0000\" {19}\r\n\
         Subject: one\r\n\r\nx\r\n () {16}\r\nSubject: two\r\n\r\n \
         (\\Flagged \\Seen) \"14-Nov-2023 22:13:20 +0000\" {22}\r\n\
         Subject: three\r\n\r\nzz\r\n\r\n"
    );
    assert_eq!(seen.lock().unwrap().continuations, 3, "one + per literal");
    assert!(
        matches!(outcome, MultiAppend::Stored(Some((7, ref uids))) if uids.iter().collect::<Vec<_>>() == [3, 4, 5]),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_refusal_before_a_literal_stores_nothing_and_the_connection_goes_on() {
    let (options, seen) = serve(Script {
        caps: WITHOUT_LITERAL_PLUS,
        refuse_literal: Some(1),
        append_reply: "OK [APPENDUID 7 3:5] Append completed",
    })
    .await;
    let mut client = Client::connect(options).await.unwrap();
    let outcome = client.multiappend("INBOX", items()).await.unwrap();
    match outcome {
        MultiAppend::Refused(error) => {
            assert_eq!(error.kind(), ErrorKind::Peer);
            assert!(error.to_string().contains("Message too large"), "{error}");
        }
        other => panic!("{other:?}"),
    }
    // Nothing of the command after the refused literal was sent; the stream is in step.
    assert!(
        the_append(&seen).ends_with("() {16}\r\n"),
        "{}",
        the_append(&seen)
    );
    assert!(!client.is_broken());
    client.noop().await.unwrap();
}

#[tokio::test]
async fn a_refusal_of_the_whole_command_stores_nothing() {
    let (options, _) = serve(Script {
        caps: WITH_LITERAL_PLUS,
        refuse_literal: None,
        append_reply: "NO [OVERQUOTA] Quota exceeded",
    })
    .await;
    let mut client = Client::connect(options).await.unwrap();
    let outcome = client.multiappend("INBOX", items()).await.unwrap();
    assert!(
        matches!(&outcome, MultiAppend::Refused(e) if e.to_string().contains("Quota exceeded")),
        "{outcome:?}"
    );
    client.noop().await.unwrap();
}

#[tokio::test]
async fn a_server_without_multiappend_is_not_sent_one() {
    let (options, seen) = serve(Script {
        caps: "IMAP4rev1 SASL-IR AUTH=PLAIN LITERAL+ UIDPLUS",
        refuse_literal: None,
        append_reply: "OK done",
    })
    .await;
    let mut client = Client::connect(options).await.unwrap();
    let error = client.multiappend("INBOX", items()).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unsupported);
    client.noop().await.unwrap();
    assert!(
        seen.lock()
            .unwrap()
            .commands
            .iter()
            .all(|c| !String::from_utf8_lossy(c).contains("APPEND"))
    );
}
