//! End-to-end: a server folder deleted and created again under its old name with the old
//! UIDVALIDITY (Cyrus takes UIDVALIDITY from the clock, so it happens within one second) is
//! told apart by its MAILBOXID (RFC 8474 OBJECTID) and treated as after a UIDVALIDITY change.
//! Cyrus is made to reuse the UIDVALIDITY deterministically by a proxy that rewrites the new
//! folder's UIDVALIDITY to the old one's in every response.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on failure by design.

mod common;

use std::sync::{Arc, Mutex, PoisonError};

use common::World;
use common::imap::message;
use pimlink_imap::{Client, ClientOptions, Secret, TlsMode};
use pimlink_testkit::{Cyrus, CyrusBuilder, ImapScript, ImapScriptProxy};

/// Rewrites UIDVALIDITY `real` to `shown` once told to.
#[derive(Default)]
struct ReusedValidity {
    rewrite: Mutex<Option<(String, String)>>,
}

impl ImapScript for ReusedValidity {
    fn response(&self, _: usize, line: &str) -> Vec<String> {
        // The proxy works on lines, which compression would hide.
        if line.contains("CAPABILITY") {
            return vec![line.replace(" COMPRESS=DEFLATE", "")];
        }
        let rewrite = self.rewrite.lock().unwrap_or_else(PoisonError::into_inner);
        match rewrite.as_ref() {
            Some((real, shown))
                if ["UIDVALIDITY ", "APPENDUID ", "COPYUID "]
                    .iter()
                    .any(|item| line.contains(item)) =>
            {
                vec![line.replace(real.as_str(), shown)]
            }
            _ => vec![line.to_owned()],
        }
    }
}

fn options(cyrus: &Cyrus) -> ClientOptions {
    let mut options = ClientOptions::new(cyrus.host(), cyrus.user(), Secret::new(cyrus.password()));
    options.port = Some(cyrus.port());
    options.tls = TlsMode::None;
    options.read_timeout = std::time::Duration::from_secs(20);
    options
}

/// `folder`'s UIDVALIDITY, straight from the server.
fn uid_validity(cyrus: &Cyrus, folder: &str) -> u32 {
    common::block_on(async {
        let mut client = Client::connect(options(cyrus)).await.unwrap();
        let selected = client.select(folder, Default::default()).await.unwrap();
        client.logout().await.unwrap();
        selected.uid_validity.unwrap()
    })
}

fn delete(cyrus: &Cyrus, folder: &str) {
    common::block_on(async {
        let mut client = Client::connect(options(cyrus)).await.unwrap();
        client.delete(folder).await.unwrap();
        client.logout().await.unwrap();
    });
}

/// Side a is `cyrus` through the proxy on `port`, side b a Maildir.
fn world(cyrus: &Cyrus, port: u16) -> World {
    let world = World::new("");
    let config = format!(
        "[general]\nstate_dir = \"{state}\"\n\n\
         [storage.a]\ntype = \"imap\"\nhost = \"{host}\"\nport = {port}\ntls = \"none\"\n\
         user = \"{user}\"\npassword = \"{password}\"\n\n\
         [storage.b]\ntype = \"maildir\"\npath = \"{b}\"\nlayout = \"verbatim\"\n\n\
         [pair.p]\na = \"a\"\nb = \"b\"\n",
        state = world.state_dir().display(),
        host = cyrus.host(),
        user = cyrus.user(),
        password = cyrus.password(),
        b = world.root("b").display(),
    );
    std::fs::write(world.config(), config).unwrap();
    world
}

/// Message-ID -> number of copies in `folder` of side b.
fn local(world: &World, folder: &str) -> Vec<(String, usize)> {
    world
        .messages("b")
        .get(folder)
        .map(|m| {
            m.iter()
                .map(|(id, copies)| (id.clone(), copies.len()))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_folder_recreated_with_the_old_uidvalidity_is_re_paired_by_its_new_mailbox_id() {
    let cyrus = CyrusBuilder::new()
        .start()
        .expect("Cyrus (under /opt/pimlink-testkit)");
    let user = cyrus.user().to_owned();
    cyrus.deliver(&user, "INBOX", &message("i1")).unwrap();
    cyrus.deliver(&user, "Old", &message("o1")).unwrap();
    let script = Arc::new(ReusedValidity::default());
    let proxy = ImapScriptProxy::start(cyrus.port(), Arc::clone(&script)).unwrap();
    let world = world(&cyrus, proxy.port());
    world.sync_ok();
    assert_eq!(local(&world, "Old"), [("o1".to_owned(), 1)]);

    // The new Old holds another message at UID 1, the one the status pairs with o1, and o1
    // again at UID 2; to the client it shows the old UIDVALIDITY.
    let old = uid_validity(&cyrus, "Old");
    delete(&cyrus, "Old");
    cyrus.deliver(&user, "Old", &message("n1")).unwrap();
    cyrus.deliver(&user, "Old", &message("o1")).unwrap();
    let new = uid_validity(&cyrus, "Old");
    *script.rewrite.lock().unwrap() = Some((new.to_string(), old.to_string()));

    let run = world.sync_ok();
    assert!(run.stderr().contains("MAILBOXID"), "{run}");
    assert_eq!(
        local(&world, "Old"),
        [("n1".to_owned(), 1), ("o1".to_owned(), 1)],
        "{run}"
    );
    assert_eq!(local(&world, "INBOX"), [("i1".to_owned(), 1)]);

    // Deleted here, o1 goes on the server too, and n1 (UID 1, which the status once paired
    // with o1) stays.
    std::fs::remove_file(common::find_file(&world.root("b").join("Old"), "o1")).unwrap();
    let run = world.sync_ok();
    assert_eq!(local(&world, "Old"), [("n1".to_owned(), 1)], "{run}");
    let server = common::imap::server_tree(options(&cyrus));
    let ids = |folder: &str| -> Vec<String> {
        server
            .get(folder)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    };
    assert_eq!(ids("Old"), ["n1"], "{run}");
    assert_eq!(ids("INBOX"), ["i1"], "{run}");
}
