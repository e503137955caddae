//! Passwords and tokens stay out of everything pimlink prints, even at `-vvv` (every log
//! level of every crate, with the IMAP wire trace): one test per way of logging in. Each
//! test looks for the secret itself and for every base64 form it can take inside a longer
//! string (a SASL PLAIN `\0user\0password` or an HTTP Basic `user:password` is base64 of a
//! string that contains the password), and checks that the trace shows the login happened,
//! so that a trace without the exchange cannot pass for a clean one.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on failure by design.

mod common;

use std::fs;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::imap::message;
use common::{Run, World};
use pimlink_testkit::{DovecotBuilder, RadicaleBuilder};

/// A password that appears nowhere else, long enough that its base64 forms are distinctive.
const PASSWORD: &str = "Zq7pVw3xK9mTf2Lr8HcN4jYs";

/// The forms in which `secret` could show in output: itself, and for each of the three
/// positions a string containing it can give it relative to base64's 3-byte groups, the run of
/// base64 characters that depends on the secret's bytes alone.
fn forms(secret: &str) -> Vec<String> {
    let mut forms = vec![secret.to_owned()];
    for offset in 0..3 {
        let mut bytes = vec![0u8; offset];
        bytes.extend_from_slice(secret.as_bytes());
        let encoded = STANDARD.encode(&bytes);
        // Characters mixing prefix bits come first (one per byte of prefix, rounded up to a
        // group boundary), and the last group may mix in what follows the secret.
        let start = offset.div_ceil(3) * 4;
        let end = bytes.len() / 3 * 4;
        forms.push(encoded[start..end].to_owned());
    }
    forms
}

/// Fails if any form of `secret` is in `run`'s output.
fn assert_kept_out(run: &Run, secret: &str) {
    let output = format!("{}{}", run.stdout(), run.stderr());
    for form in forms(secret) {
        assert!(
            !output.contains(&form),
            "{form:?} (a form of the secret) is in the output:\n{run}"
        );
    }
}

/// Runs `pimlink -vvv` with `args` and insists that it succeeds.
fn run_traced(world: &World, args: &[&str]) -> Run {
    let mut all = vec!["-vvv"];
    all.extend_from_slice(args);
    let run = world.run(&all);
    assert_eq!(run.code(), 0, "{run}");
    run
}

/// The `password` line of a storage, or a `password_cmd` reading it from a file in the world
/// (so that the command line itself does not hold the password).
fn password_line(world: &World, password: &str, from_command: bool) -> String {
    if !from_command {
        return format!("password = \"{password}\"");
    }
    let file = world.dir.path().join("secret.txt");
    fs::write(&file, format!("{password}\n")).unwrap();
    format!("password_cmd = \"cat {}\"", file.display())
}

/// Syncs an IMAP account with a Maildir at `-vvv`, logging in with `auth` (over several
/// connections), and `check`s it; returns both runs' output.
fn imap_runs(auth: &str, password: &str, from_command: bool) -> Vec<Run> {
    let server = DovecotBuilder::new()
        .users(&[("someone", password)])
        .start()
        .unwrap();
    for folder in ["INBOX", "Archive", "Lists"] {
        for i in 0..3 {
            let id = format!("{folder}-{i}");
            server.deliver("someone", folder, &message(&id)).unwrap();
        }
    }
    let world = World::new("");
    let config = format!(
        "[general]\nstate_dir = \"{state}\"\n\n\
         [storage.a]\ntype = \"imap\"\nhost = \"{host}\"\nport = {port}\ntls = \"none\"\n\
         user = \"someone\"\n{password}\nauth = \"{auth}\"\n\n\
         [storage.b]\ntype = \"maildir\"\npath = \"{b}\"\nlayout = \"verbatim\"\n\n\
         [pair.p]\na = \"a\"\nb = \"b\"\n",
        state = world.state_dir().display(),
        host = server.host(),
        port = server.port(),
        password = password_line(&world, password, from_command),
        b = world.root("b").display(),
    );
    fs::write(world.config(), config).unwrap();
    let sync = run_traced(&world, &["sync"]);
    assert_eq!(world.messages("b")["Lists"].len(), 3, "{sync}");
    vec![sync, run_traced(&world, &["check"])]
}

/// Checks an IMAP login with `auth`: the wire trace shows `shown` (the command that logged
/// in) and `<redacted>` in place of what carried the secret, and no form of `secret` is
/// anywhere.
fn assert_imap_login_hidden(auth: &str, shown: &str, password: &str, from_command: bool) {
    for run in imap_runs(auth, password, from_command) {
        let stderr = run.stderr();
        assert!(stderr.contains(shown), "no {shown:?} in the trace:\n{run}");
        assert!(stderr.contains("<redacted>"), "{run}");
        assert_kept_out(&run, password);
    }
}

#[test]
fn imap_login_keeps_the_password_out_of_the_trace() {
    assert_imap_login_hidden("login", "LOGIN \"someone\"", PASSWORD, false);
}

#[test]
fn imap_login_keeps_a_password_sent_as_a_literal_out_of_the_trace() {
    // Not ASCII: the password goes as a literal rather than as a quoted string.
    let password = format!("{PASSWORD}-Grüße");
    assert_imap_login_hidden("login", "LOGIN \"someone\" {", &password, false);
}

#[test]
fn imap_authenticate_plain_keeps_the_password_out_of_the_trace() {
    assert_imap_login_hidden("plain", "AUTHENTICATE PLAIN", PASSWORD, false);
}

#[test]
fn imap_authenticate_cram_md5_keeps_the_password_out_of_the_trace() {
    assert_imap_login_hidden("cram-md5", "AUTHENTICATE CRAM-MD5", PASSWORD, false);
}

#[test]
fn imap_authenticate_xoauth2_keeps_the_token_out_of_the_trace() {
    // The test Dovecot checks a token against the user's password.
    assert_imap_login_hidden("xoauth2", "AUTHENTICATE XOAUTH2", PASSWORD, false);
}

#[test]
fn imap_authenticate_oauthbearer_keeps_the_token_out_of_the_trace() {
    assert_imap_login_hidden("oauthbearer", "AUTHENTICATE OAUTHBEARER", PASSWORD, false);
}

#[test]
fn imap_password_cmd_keeps_the_password_out_of_the_trace() {
    assert_imap_login_hidden("plain", "AUTHENTICATE PLAIN", PASSWORD, true);
}

/// Syncs a Radicale calendar with a vdir at `-vvv` (HTTP Basic), and `check`s it.
fn dav_runs(from_command: bool) -> Vec<Run> {
    let server = RadicaleBuilder::new()
        .user("someone", PASSWORD)
        .start()
        .unwrap();
    let calendar = server.create_calendar("work").unwrap();
    server
        .put(
            &format!("{calendar}e1.ics"),
            "text/calendar",
            common::dav::event("e1", "standup").as_bytes(),
        )
        .unwrap();
    let world = World::new("");
    let vdir = world.dir.path().join("vdir");
    fs::create_dir_all(&vdir).unwrap();
    let config = format!(
        "[general]\nstate_dir = \"{state}\"\n\n\
         [storage.remote]\ntype = \"caldav\"\nurl = \"{url}\"\nuser = \"someone\"\n{password}\n\n\
         [storage.local]\ntype = \"vdir\"\npath = \"{vdir}\"\nfileext = \".ics\"\n\n\
         [pair.p]\na = \"remote\"\nb = \"local\"\n",
        state = world.state_dir().display(),
        url = server.url(),
        password = password_line(&world, PASSWORD, from_command),
        vdir = vdir.display(),
    );
    fs::write(world.config(), config).unwrap();
    let sync = run_traced(&world, &["sync"]);
    assert!(vdir_holds(&vdir.join("work"), "UID:e1"), "{sync}");
    vec![sync, run_traced(&world, &["check"])]
}

/// True if a file in `dir` contains `text`.
fn vdir_holds(dir: &Path, text: &str) -> bool {
    fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| fs::read_to_string(e.path()).is_ok_and(|t| t.contains(text)))
    })
}

/// Checks a DAV run: the trace shows the HTTP client at work (connections, and discovery,
/// which needs the credentials), and no form of the password (an `Authorization: Basic`
/// header is base64 of `someone:password`).
fn assert_dav_login_hidden(from_command: bool) {
    for run in dav_runs(from_command) {
        let stderr = run.stderr();
        for shown in ["TRACE", "connected to 127.0.0.1", "home set found"] {
            assert!(stderr.contains(shown), "no {shown:?} in the trace:\n{run}");
        }
        assert_kept_out(&run, PASSWORD);
    }
}

#[test]
fn dav_basic_auth_keeps_the_password_out_of_the_trace() {
    assert_dav_login_hidden(false);
}

#[test]
fn dav_password_cmd_keeps_the_password_out_of_the_trace() {
    assert_dav_login_hidden(true);
}

#[test]
fn the_secret_forms_catch_the_encodings_logins_use() {
    let forms = forms(PASSWORD);
    let found = |text: &str| forms.iter().any(|f| text.contains(f.as_str()));
    for prefix in [
        "",
        "\0someone\0",
        "someone:",
        "user=someone\x01auth=Bearer ",
        "n,a=x,",
    ] {
        let encoded = STANDARD.encode(format!("{prefix}{PASSWORD}\x01\x01"));
        assert!(found(&encoded), "{prefix:?}: {encoded}");
    }
    assert!(found(&format!("pass {PASSWORD} word")));
    assert!(!found(&STANDARD.encode("someone:another password")));
}
