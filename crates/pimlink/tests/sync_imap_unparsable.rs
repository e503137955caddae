//! One line of the server's folder list that pimlink cannot parse must cost that folder only
//! (issue 12): the rest of the account syncs, the line is named in a warning with its bytes
//! escaped, and the folder, if it was synced before, is neither removed locally nor created
//! again on the server. The server is Dovecot behind a proxy that rewrites its answers line
//! by line: the name of one folder becomes a literal with a NUL in it, which RFC 3501 forbids.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on failure by design.

mod common;

use common::World;
use common::imap::{message, user_tree, write_imap_maildir_config_via};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use pimlink_testkit::Dovecot;

/// A loopback proxy to `target` that passes each line the server sends through `rewrite`
/// while `on` is set.
struct RewritingProxy {
    port: u16,
    on: Arc<AtomicBool>,
}

impl RewritingProxy {
    fn start(target: u16, rewrite: fn(&[u8]) -> Vec<u8>) -> RewritingProxy {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let on = Arc::new(AtomicBool::new(false));
        let switch = Arc::clone(&on);
        thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let server = TcpStream::connect((Ipv4Addr::LOCALHOST, target)).unwrap();
                let switch = Arc::clone(&switch);
                forward_raw(client.try_clone().unwrap(), server.try_clone().unwrap());
                thread::spawn(move || forward_lines(server, client, &switch, rewrite));
            }
        });
        RewritingProxy { port, on }
    }

    fn rewrite(&self, on: bool) {
        self.on.store(on, Ordering::SeqCst);
    }
}

/// Client to server, untouched.
fn forward_raw(mut from: TcpStream, mut to: TcpStream) {
    thread::spawn(move || {
        let _ = std::io::copy(&mut from, &mut to);
        let _ = to.shutdown(Shutdown::Write);
    });
}

/// Server to client, a complete line at a time (IMAP responses end with CRLF, literals
/// included, so nothing waits).
fn forward_lines(
    mut from: TcpStream,
    mut to: TcpStream,
    on: &AtomicBool,
    rewrite: fn(&[u8]) -> Vec<u8>,
) {
    let mut pending = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        pending.extend_from_slice(&buf[..n]);
        while let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            let out = if on.load(Ordering::SeqCst) {
                rewrite(&line)
            } else {
                line
            };
            if to.write_all(&out).is_err() {
                return;
            }
        }
    }
    let _ = to.write_all(&pending);
    let _ = to.shutdown(Shutdown::Write);
}

/// The folder `Weird` gets a name with a NUL in it, and the STATUS line of `Good` an item no
/// IMAP parser accepts.
fn break_lines(line: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(line);
    if text.starts_with("* LIST ") && text.ends_with(" Weird\r\n") {
        let head = &text[..text.len() - "Weird\r\n".len()];
        let mut out = format!("{head}{{6}}\r\n").into_bytes();
        out.extend_from_slice(b"We\0ird\r\n");
        return out;
    }
    if text.starts_with("* STATUS Good ") {
        return b"* STATUS Good (MESSAGES \x01)\r\n".to_vec();
    }
    line.to_vec()
}

/// Side `a` is the test Dovecot's user behind `proxy`, side `b` a verbatim Maildir; the pair
/// removes folders on `b` that were deleted on `a`.
fn world_behind(server: &Dovecot, proxy: &RewritingProxy) -> World {
    let world = World::new("");
    let keys = ("", "", "remove = [\"b\"]");
    write_imap_maildir_config_via(&world, server, proxy.port, keys);
    world
}

fn ids(tree: &common::Tree, folder: &str) -> Vec<String> {
    tree.get(folder)
        .map(|messages| messages.keys().cloned().collect())
        .unwrap_or_default()
}

#[test]
fn an_unparsable_folder_line_skips_that_folder_and_the_rest_syncs() {
    let server = Dovecot::start().unwrap();
    for (folder, id) in [("INBOX", "i1"), ("Good", "g1"), ("Weird", "w1")] {
        server.deliver(server.user(), folder, &message(id)).unwrap();
    }
    let proxy = RewritingProxy::start(server.port(), break_lines);
    let world = world_behind(&server, &proxy);
    world.sync_ok();
    assert_eq!(ids(&world.messages("b"), "Weird"), ["w1"]);

    // New mail everywhere; from now on the server's lines for Weird and Good are broken.
    for (folder, id) in [("INBOX", "i2"), ("Good", "g2"), ("Weird", "w2")] {
        server.deliver(server.user(), folder, &message(id)).unwrap();
    }
    proxy.rewrite(true);
    let run = world.run(&["sync"]);
    eprintln!("{run}");
    assert_eq!(run.code(), 0, "a skipped folder is a warning:\n{run}");
    let stderr = run.stderr();
    let warning = stderr
        .lines()
        .find(|line| line.contains("LIST response that cannot be parsed"))
        .unwrap_or_else(|| panic!("warns about the LIST line:\n{run}"));
    assert!(warning.contains("We\\x00ird"), "bytes escaped: {warning}");
    assert!(!stderr.contains('\0'), "no raw NUL on the terminal");
    let local = world.messages("b");
    assert_eq!(ids(&local, "INBOX"), ["i1", "i2"], "the rest syncs");
    assert_eq!(
        ids(&local, "Good"),
        ["g1", "g2"],
        "a folder whose STATUS line is broken is listed without its counters"
    );
    assert_eq!(
        ids(&local, "Weird"),
        ["w1"],
        "the folder the server did not list readably is kept locally, not removed"
    );
    let on_server = user_tree(&server, server.user(), server.password());
    assert_eq!(
        ids(&on_server, "Weird"),
        ["w1", "w2"],
        "and left alone there"
    );

    // A first sync of the account reads everything else too.
    let fresh = world_behind(&server, &proxy);
    let run = fresh.run(&["sync"]);
    assert_eq!(run.code(), 0, "{run}");
    let local = fresh.messages("b");
    assert_eq!(ids(&local, "INBOX"), ["i1", "i2"], "{run}");
    assert_eq!(ids(&local, "Good"), ["g1", "g2"], "{run}");
    assert!(!local.contains_key("Weird"), "{run}");

    // Once the server answers properly again, the folder syncs as before.
    proxy.rewrite(false);
    world.sync_ok();
    assert_eq!(ids(&world.messages("b"), "Weird"), ["w1", "w2"]);
}
