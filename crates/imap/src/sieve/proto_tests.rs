use super::*;
use proptest::prelude::*;

// Dovecot 2.3's greeting, as captured from the testkit's server.
const DOVECOT_GREETING: &[u8] = b"\"IMPLEMENTATION\" \"Dovecot Pigeonhole\"\r\n\
\"SIEVE\" \"fileinto reject envelope encoded-character vacation subaddress\"\r\n\
\"NOTIFY\" \"mailto\"\r\n\
\"SASL\" \"PLAIN LOGIN\"\r\n\
\"STARTTLS\"\r\n\
\"VERSION\" \"1.0\"\r\n\
OK \"Dovecot ready.\"\r\n";

// RFC 5804 section 2.7 (LISTSCRIPTS) and 2.9 (GETSCRIPT), server side.
const LISTSCRIPTS: &[u8] = b"\"summer_script\"\r\n\"vac\xc3\xa0tion\" ACTIVE\r\n\
{13}\r\nlab\"el\r\nnames\r\nOK\r\n";
const GETSCRIPT: &[u8] =
    b"{54}\r\n#this is my wonderful script\r\nreject \"I reject all\";\r\n\r\nOK\r\n";

fn one(bytes: &[u8]) -> Response {
    let mut reader = Reader::default();
    reader.feed(bytes);
    match reader.next(false).unwrap() {
        Some(Reply::Done(r)) => r,
        other => panic!("{other:?}"),
    }
}

/// Feeds `bytes` in pieces of `step` and collects every reply.
fn in_pieces(bytes: &[u8], step: usize) -> Vec<Reply> {
    let mut reader = Reader::default();
    let mut replies = Vec::new();
    for piece in bytes.chunks(step) {
        reader.feed(piece);
        while let Some(reply) = reader.next(false).unwrap() {
            replies.push(reply);
        }
    }
    replies
}

#[test]
fn dovecot_greeting_gives_capabilities() {
    let response = one(DOVECOT_GREETING);
    assert_eq!(response.status.kind, StatusKind::Ok);
    assert_eq!(response.status.text.as_deref(), Some("Dovecot ready."));
    let caps = Capabilities::from_response(&response).unwrap();
    assert!(caps.has("starttls"));
    assert_eq!(caps.sasl(), ["PLAIN", "LOGIN"]);
    assert!(!caps.has("OWNER"));
}

#[test]
fn listscripts_with_active_script_and_a_literal_name() {
    let list = scripts(&one(LISTSCRIPTS)).unwrap();
    let names: Vec<(&str, bool)> = list.iter().map(|s| (s.name.as_str(), s.active)).collect();
    assert_eq!(
        names,
        [
            ("summer_script", false),
            ("vac\u{e0}tion", true),
            ("lab\"el\r\nnames", false)
        ]
    );
}

#[test]
fn getscript_returns_the_literal_bytes() {
    let body = script(&one(GETSCRIPT)).unwrap();
    assert_eq!(
        body,
        b"#this is my wonderful script\r\nreject \"I reject all\";\r\n"
    );
}

#[test]
fn every_split_of_a_transcript_gives_the_same_replies() {
    let mut transcript = DOVECOT_GREETING.to_vec();
    transcript.extend_from_slice(LISTSCRIPTS);
    transcript.extend_from_slice(GETSCRIPT);
    let whole = in_pieces(&transcript, transcript.len());
    assert_eq!(whole.len(), 3);
    for step in 1..transcript.len() {
        assert_eq!(in_pieces(&transcript, step), whole, "pieces of {step}");
    }
}

#[test]
fn status_codes_and_texts() {
    let r = one(b"NO (NONEXISTENT) \"There is no script by that name\"\r\n");
    assert_eq!(r.status.kind, StatusKind::No);
    assert_eq!(r.status.code_name().as_deref(), Some("NONEXISTENT"));
    assert_eq!(
        r.status.text.as_deref(),
        Some("There is no script by that name")
    );
    let r = one(b"OK (SASL \"cnNwYXV0aD1lYTQwZjYwMzM1YzQyN2I1NTI3Yjg0ZGJhYmNkZmZmZA==\")\r\n");
    assert_eq!(r.status.code_name().as_deref(), Some("SASL"));
    assert_eq!(r.status.code.len(), 2);
    let r = one(b"NO (QUOTA/MAXSIZE) {10}\r\nToo big!!!\r\n");
    assert_eq!(r.status.code_name().as_deref(), Some("QUOTA/MAXSIZE"));
    assert_eq!(r.status.text.as_deref(), Some("Too big!!!"));
    let r = one(b"BYE (TRYLATER (nested x)) bare words\r\n");
    assert_eq!(r.status.kind, StatusKind::Bye);
    assert_eq!(r.status.code.len(), 5);
    assert_eq!(r.status.text.as_deref(), Some("bare words"));
}

#[test]
fn a_challenge_is_only_seen_during_authenticate() {
    let mut reader = Reader::default();
    reader.feed(b"\"\"\r\n");
    assert_eq!(
        reader.next(true).unwrap(),
        Some(Reply::Challenge(Vec::new()))
    );
    reader.feed(b"\"x\"\r\n");
    assert_eq!(
        reader.next(false).unwrap(),
        None,
        "a data line, waiting for OK"
    );
}

#[test]
fn starttls_discards_what_came_before_the_handshake() {
    let mut reader = Reader::default();
    reader.feed(b"OK\r\n\"SIEVE\" \"injected\"\r\n");
    assert!(matches!(reader.next(false).unwrap(), Some(Reply::Done(_))));
    assert_eq!(reader.take_buffered(), b"\"SIEVE\" \"injected\"\r\n");
    assert_eq!(reader.next(false).unwrap(), None);
}

#[test]
fn hostile_responses_are_errors_not_allocations() {
    let limits = Limits {
        max_line: 100,
        max_literal: 1000,
        max_lines: 3,
    };
    for bad in [
        &b"{99999999999}\r\n"[..],
        b"{1001}\r\n",
        b"{12x}\r\n",
        b"{5}xx",
        b"\"a\rb\"\r\n",
        b"OK (unclosed\r\n",
        b"\"1\"\r\n\"2\"\r\n\"3\"\r\n\"4\"\r\nOK\r\n",
    ] {
        let mut reader = Reader::new(limits);
        reader.feed(bad);
        assert!(
            reader.next(false).is_err(),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
    let mut reader = Reader::new(limits);
    reader.feed(&[b'a'; 2000]);
    assert!(
        reader.next(false).is_err(),
        "a line without end over the cap"
    );
    let malformed = one(b"\"SASL\" \"PLAIN\" \"extra\"\r\nOK\r\n");
    assert!(Capabilities::from_response(&malformed).is_err());
    assert!(scripts(&one(b"\"a\" PASSIVE\r\nOK\r\n")).is_err());
    assert!(script(&one(b"OK\r\n")).is_err());
}

#[test]
fn commands_encode_as_rfc_5804_shows() {
    let enc = |c: Command<'_>| String::from_utf8(c.encode().unwrap()).unwrap();
    assert_eq!(enc(Command::ListScripts), "LISTSCRIPTS\r\n");
    assert_eq!(enc(Command::SetActive("")), "SETACTIVE \"\"\r\n");
    assert_eq!(
        enc(Command::GetScript("my \"x\\")),
        "GETSCRIPT \"my \\\"x\\\\\"\r\n"
    );
    assert_eq!(
        enc(Command::PutScript("a", b"keep;\r\n")),
        "PUTSCRIPT \"a\" {7+}\r\nkeep;\r\n\r\n"
    );
    assert_eq!(
        enc(Command::Authenticate {
            mechanism: "PLAIN",
            initial: Some("AGEAYg==")
        }),
        "AUTHENTICATE \"PLAIN\" \"AGEAYg==\"\r\n"
    );
    let long = "n".repeat(MAX_QUOTED + 1);
    assert!(enc(Command::DeleteScript(&long)).starts_with("DELETESCRIPT {1025+}\r\nnnn"));
    let err = Command::DeleteScript("a\r\nLOGOUT").encode().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidName);
}

proptest! {
    // Whatever the server sends, the reader returns an error or a reply, never panics, and
    // what it frames is what the quoting rules produce.
    #[test]
    fn reader_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let mut reader = Reader::default();
        reader.feed(&bytes);
        while let Ok(Some(_)) = reader.next(false) {}
    }

    #[test]
    fn names_and_scripts_round_trip(name in "[^\\p{Cc}]{0,40}", body in proptest::collection::vec(any::<u8>(), 0..200)) {
        // The client's encoding of a name, sent back by a server as LISTSCRIPTS data, parses
        // to the same name; a script sent as a literal comes back byte for byte.
        let mut wire = Command::DeleteScript(&name).encode().unwrap();
        wire.drain(..b"DELETESCRIPT ".len());
        let mut server = wire.clone();
        server.splice(server.len() - 2.., b" ACTIVE\r\n".iter().copied());
        // A client literal carries `+`, which the reader accepts too.
        server.extend_from_slice(b"OK\r\n");
        let list = scripts(&one(&server)).unwrap();
        prop_assert_eq!(list, vec![ScriptEntry { name: name.clone(), active: true }]);
        let mut put = Command::PutScript("x", &body).encode().unwrap();
        put.drain(..b"PUTSCRIPT \"x\" ".len());
        put.extend_from_slice(b"OK\r\n");
        prop_assert_eq!(script(&one(&put)).unwrap(), body);
    }
}
