//! The servers of `scripts/demo`: a private Dovecot (IMAP over implicit TLS, with a throwaway CA)
//! and a private Radicale (CalDAV), both on loopback ports in temp dirs, seeded with a little
//! mail and one calendar.
//!
//! Prints `KEY=VALUE` lines the script reads (ports, user, password, CA file), then `ready`, and
//! keeps the servers running until its stdin is closed; then it stops them and deletes their
//! directories. The demo's script holds the pipe, so the servers end with the script however it
//! ends. While running, it reads commands on stdin, one per line, to change the servers' side as
//! another mail client would, and answers each with `done` (or `error: ...`):
//! - `deliver FOLDER SUBJECT...`: a new message in FOLDER;
//! - `event SUMMARY...`: a new event in the calendar `work`.

use std::io::{self, BufRead, Write};

use pimlink_testkit::{DovecotBuilder, RadicaleBuilder};

fn main() -> io::Result<()> {
    let imap = DovecotBuilder::new().tls(true).start()?;
    let user = imap.user().to_string();
    for (i, subject) in [
        "welcome to the demo",
        "the meeting notes",
        "lunch on friday?",
    ]
    .iter()
    .enumerate()
    {
        imap.deliver(&user, "INBOX", &message(i, subject, "server"))?;
    }
    imap.deliver(&user, "Lists.rust", &message(3, "a list mail", "server"))?;

    let dav = RadicaleBuilder::new().start()?;
    let calendar = dav.create_calendar("work")?;
    for (i, summary) in ["team meeting", "dentist"].iter().enumerate() {
        dav.put(
            &format!("{calendar}event{i}.ics"),
            "text/calendar",
            event(i, summary).as_bytes(),
        )?;
    }

    let tls_port = imap
        .tls_port()
        .ok_or_else(|| io::Error::other("Dovecot started without its TLS port"))?;
    let ca_file = imap
        .ca_cert_pem()
        .ok_or_else(|| io::Error::other("Dovecot started without its CA certificate"))?;
    let mut out = io::stdout().lock();
    writeln!(out, "IMAP_HOST={}", imap.host())?;
    writeln!(out, "IMAP_PORT={tls_port}")?;
    writeln!(out, "IMAP_USER={user}")?;
    writeln!(out, "IMAP_PASSWORD={}", imap.password())?;
    writeln!(out, "IMAP_CA_FILE={}", ca_file.display())?;
    writeln!(out, "DAV_URL={}", dav.url())?;
    writeln!(out, "DAV_USER={}", dav.user())?;
    writeln!(out, "DAV_PASSWORD={}", dav.password())?;
    writeln!(out, "ready")?;
    out.flush()?;

    // Runs until the script closes the pipe (or exits); the servers stop on drop.
    let mut serial = 10;
    for line in io::stdin().lock().lines() {
        let line = line?;
        serial += 1;
        let result = match line.split_once(' ') {
            Some(("deliver", rest)) => match rest.split_once(' ') {
                Some((folder, subject)) => {
                    imap.deliver(&user, folder, &message(serial, subject, "another-client"))
                }
                None => Err(io::Error::other("usage: deliver FOLDER SUBJECT")),
            },
            Some(("event", summary)) => dav
                .put(
                    &format!("{calendar}event{serial}.ics"),
                    "text/calendar",
                    event(serial, summary).as_bytes(),
                )
                .map(drop),
            _ => Err(io::Error::other(format!("unknown command {line:?}"))),
        };
        match result {
            Ok(()) => writeln!(out, "done")?,
            Err(e) => writeln!(out, "error: {e}")?,
        }
        out.flush()?;
    }
    drop(dav);
    drop(imap);
    Ok(())
}

fn message(i: usize, subject: &str, from: &str) -> Vec<u8> {
    format!(
        "From: {from}@example.org\r\nTo: you@example.org\r\nSubject: {subject}\r\n\
         Date: Mon, 7 Dec 2026 09:{i:02}:00 +0000\r\nMessage-ID: <{from}{i}@demo.example.org>\r\n\
         \r\nHello from the pimlink demo ({subject}).\r\n"
    )
    .into_bytes()
}

fn event(i: usize, summary: &str) -> String {
    let day = 8 + i % 20;
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//pimlink//demo//EN\r\nBEGIN:VEVENT\r\n\
         UID:demo-event-{i}@example.org\r\nDTSTAMP:20261207T090000Z\r\n\
         DTSTART:202612{day:02}T100000Z\r\nDTEND:202612{day:02}T110000Z\r\nSUMMARY:{summary}\r\n\
         END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}
