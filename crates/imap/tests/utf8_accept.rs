//! UTF8=ACCEPT (RFC 6855) against a scripted server on 127.0.0.1: neither Dovecot 2.3 nor
//! Cyrus 3.6 implements it, so the suite's real servers cannot show it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests may unwrap.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use pimlink_imap::{Client, ClientOptions, Secret, TlsMode};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// A server offering `caps`; it records every command line and answers LIST with `listed`
/// (sent as is, so it must already be in the wire encoding the test expects).
async fn serve(
    caps: &'static str,
    listed: &'static str,
) -> (ClientOptions, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        let (read, mut write) = socket.into_split();
        let mut lines = BufReader::new(read).lines();
        let greeting = format!("* OK [CAPABILITY {caps}] scripted\r\n");
        write.write_all(greeting.as_bytes()).await.unwrap();
        while let Ok(Some(line)) = lines.next_line().await {
            record.lock().unwrap().push(line.clone());
            let (tag, rest) = line.split_once(' ').unwrap_or((&line, ""));
            let verb = rest.split(' ').next().unwrap_or("").to_ascii_uppercase();
            let reply = match verb.as_str() {
                "ENABLE" if rest.contains("UTF8=ACCEPT") => {
                    format!("* ENABLED UTF8=ACCEPT\r\n{tag} OK enabled\r\n")
                }
                "CAPABILITY" => format!("* CAPABILITY {caps}\r\n{tag} OK caps\r\n"),
                "LIST" => format!("* LIST () \"/\" \"{listed}\"\r\n{tag} OK listed\r\n"),
                "LOGOUT" => format!("* BYE bye\r\n{tag} OK out\r\n"),
                _ => format!("{tag} OK done\r\n"),
            };
            if write.write_all(reply.as_bytes()).await.is_err() {
                return;
            }
        }
    });
    let mut o = ClientOptions::new("127.0.0.1", "me", Secret::new("pw"));
    o.port = Some(port);
    o.tls = TlsMode::None;
    o.read_timeout = Duration::from_secs(5);
    (o, seen)
}

fn commands(seen: &Mutex<Vec<String>>, verb: &str) -> Vec<String> {
    seen.lock()
        .unwrap()
        .iter()
        .filter_map(|l| l.split_once(' ').map(|(_, rest)| rest.to_owned()))
        .filter(|rest| rest.starts_with(verb))
        .collect()
}

#[tokio::test]
async fn enabled_when_offered_and_names_travel_as_utf8() {
    let (options, seen) = serve("IMAP4rev1 ENABLE UTF8=ACCEPT", "Entwürfe/R&-D").await;
    let mut client = Client::connect(options).await.unwrap();
    assert!(client.is_enabled("UTF8=ACCEPT"));
    client.create("Entwürfe/R&-D").await.unwrap();
    let list = client.list("", "*").await.unwrap();
    // '&' is an ordinary character in UTF-8 mode: "R&-D" must not turn into "R&D".
    assert_eq!(list[0].name, "Entwürfe/R&-D");
    client.logout().await.unwrap();
    assert_eq!(commands(&seen, "ENABLE"), ["ENABLE UTF8=ACCEPT"]);
    // Quoted UTF-8, not modified UTF-7 and not a literal.
    assert_eq!(commands(&seen, "CREATE"), ["CREATE \"Entwürfe/R&-D\""]);
}

#[tokio::test]
async fn modified_utf7_without_it() {
    let (options, seen) = serve("IMAP4rev1 ENABLE", "Entw&APw-rfe/R&--D").await;
    let mut client = Client::connect(options).await.unwrap();
    assert!(!client.is_enabled("UTF8=ACCEPT"));
    client.create("Entwürfe/R&-D").await.unwrap();
    let list = client.list("", "*").await.unwrap();
    assert_eq!(list[0].name, "Entwürfe/R&-D");
    client.logout().await.unwrap();
    assert!(commands(&seen, "ENABLE").is_empty());
    assert_eq!(commands(&seen, "CREATE"), ["CREATE \"Entw&APw-rfe/R&--D\""]);
}

#[tokio::test]
async fn not_enabled_when_disabled_in_the_options() {
    let (mut options, seen) = serve("IMAP4rev1 ENABLE UTF8=ACCEPT", "Caf&AOk-").await;
    options.disabled_extensions = vec!["utf8=accept".into()];
    let mut client = Client::connect(options).await.unwrap();
    assert!(!client.is_enabled("UTF8=ACCEPT"));
    assert_eq!(client.list("", "*").await.unwrap()[0].name, "Café");
    client.logout().await.unwrap();
    assert!(commands(&seen, "ENABLE").is_empty());
}
