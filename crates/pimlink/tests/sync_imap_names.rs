//! End-to-end, through the `pimlink` binary against a private Dovecot: keywords (Dovecot's
//! `dovecot-keywords` letters on Maildir, a Maildir Dovecot itself wrote read back),
//! `subscribed_only`, and folder name translation (`prefix_a`, `folder_map`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on failure by design.

mod common;

use common::imap::{dovecot_options, folder_messages, message, write_imap_maildir_config};
use common::{World, block_on, uid_of};
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use pimlink_core::{Flag, Flags};
use pimlink_imap::{Client, ClientOptions, StoreMode, UidRanges};
use pimlink_testkit::{Dovecot, DovecotBuilder};

fn options(server: &Dovecot) -> ClientOptions {
    dovecot_options(server, server.user(), server.password())
}

/// A world whose side a is the server's user (with `storage_extra` keys) and side b a
/// verbatim Maildir.
fn world(server: &Dovecot, storage_extra: &str, pair_extra: &str) -> World {
    let world = World::new("");
    write_imap_maildir_config(&world, server, storage_extra, "", pair_extra);
    world
}

/// Message-ID -> flags as status text (`"S $Junk work"`) of every message in a server folder.
fn server_flags(server: &Dovecot, folder: &str) -> BTreeMap<String, String> {
    user_flags(options(server), folder)
}

fn user_flags(options: ClientOptions, folder: &str) -> BTreeMap<String, String> {
    block_on(async {
        let mut client = Client::connect(options).await.unwrap();
        client.select(folder, Default::default()).await.unwrap();
        let messages = folder_messages(&mut client).await;
        client.logout().await.unwrap();
        messages
            .into_iter()
            .map(|(id, copies)| (id, copies[0].1.to_status_text()))
            .collect()
    })
}

/// Changes flags on the server as another mail client would.
fn store(server: &Dovecot, folder: &str, id: &str, mode: StoreMode, flags: &str) {
    user_store(options(server), folder, id, mode, flags);
}

fn user_store(options: ClientOptions, folder: &str, id: &str, mode: StoreMode, flags: &str) {
    block_on(async {
        let mut client = Client::connect(options).await.unwrap();
        client.select(folder, Default::default()).await.unwrap();
        let uid = uid_of(&mut client, id).await;
        client
            .store(
                &UidRanges::single(uid),
                mode,
                &Flags::from_status_text(flags),
                None,
            )
            .await
            .unwrap();
        client.logout().await.unwrap();
    })
}

/// Message-ID -> flags as status text of a Maildir folder, reading keyword letters through the
/// folder's `dovecot-keywords` file (written independently of pimlink's own parser).
fn maildir_flags(dir: &Path) -> BTreeMap<String, String> {
    let mapping: BTreeMap<char, String> = fs::read_to_string(dir.join("dovecot-keywords"))
        .unwrap_or_default()
        .lines()
        .map(|line| {
            let (index, word) = line.split_once(' ').unwrap();
            let index: u8 = index.parse().unwrap();
            (char::from(b'a' + index), word.to_owned())
        })
        .collect();
    let mut out = BTreeMap::new();
    for sub in ["cur", "new"] {
        for file in fs::read_dir(dir.join(sub)).unwrap() {
            let file = file.unwrap();
            let name = file.file_name().to_string_lossy().into_owned();
            let letters = name.split_once(":2,").map_or("", |(_, l)| l).to_owned();
            let text = fs::read_to_string(file.path()).unwrap();
            let id = text
                .split_once("Message-ID: <")
                .unwrap()
                .1
                .split_once('@')
                .unwrap()
                .0;
            let mut flags = Flags::new();
            for letter in letters.chars() {
                match (Flag::from_maildir_letter(letter), mapping.get(&letter)) {
                    (Some(flag), _) => flags.set(flag, true),
                    (None, Some(word)) if word == "$Forwarded" => flags.set(Flag::Passed, true),
                    (None, Some(word)) => flags.set_keyword(word, true),
                    (None, None) => panic!("{name}: letter {letter} is not mapped"),
                }
            }
            out.insert(id.to_owned(), flags.to_status_text());
        }
    }
    out
}

/// Renames the file of `id` so that its info part is `letters`.
fn set_letters(dir: &Path, id: &str, letters: &str) {
    for sub in ["cur", "new"] {
        for file in fs::read_dir(dir.join(sub)).unwrap() {
            let path = file.unwrap().path();
            if fs::read_to_string(&path)
                .unwrap()
                .contains(&format!("<{id}@"))
            {
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                let base = name.split_once(":2,").map_or(name.as_str(), |(b, _)| b);
                fs::rename(&path, dir.join("cur").join(format!("{base}:2,{letters}"))).unwrap();
                return;
            }
        }
    }
    panic!("{id} not in {}", dir.display());
}

fn map(entries: &[(&str, &str)]) -> BTreeMap<String, String> {
    entries
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

#[test]
fn keywords_sync_both_ways_through_dovecot_keyword_letters() {
    let server = DovecotBuilder::new().start().unwrap();
    let user = server.user().to_owned();
    for id in ["s1", "s2", "s3"] {
        server.deliver(&user, "INBOX", &message(id)).unwrap();
    }
    store(&server, "INBOX", "s1", StoreMode::Add, "S $Junk work");
    store(&server, "INBOX", "s2", StoreMode::Add, "P");
    let world = world(&server, "", "");
    let first = world.sync_ok();
    let inbox = world.root("b").join("INBOX");
    assert_eq!(
        maildir_flags(&inbox),
        map(&[("s1", "S $Junk work"), ("s2", "P"), ("s3", "")]),
        "{first}"
    );
    // Letters are given in order, starting at 'a'; $Forwarded is P, never a letter.
    assert_eq!(
        fs::read_to_string(inbox.join("dovecot-keywords")).unwrap(),
        "0 $Junk\n1 work\n"
    );

    // Both sides change: locally s1 loses "work", s2 gets $Junk and a new tag written the
    // way Dovecot or a mail reader would; on the server s1 gets another keyword.
    fs::write(
        inbox.join("dovecot-keywords"),
        "0 $Junk\n1 work\n2 local-tag\n",
    )
    .unwrap();
    set_letters(&inbox, "s1", "Sa");
    set_letters(&inbox, "s2", "Pac");
    store(&server, "INBOX", "s1", StoreMode::Add, " server-tag");
    store(&server, "INBOX", "s3", StoreMode::Add, "F $Junk");
    world.sync_ok();
    let expected = map(&[
        ("s1", "S $Junk server-tag"),
        ("s2", "P $Junk local-tag"),
        ("s3", "F $Junk"),
    ]);
    assert_eq!(server_flags(&server, "INBOX"), expected);
    assert_eq!(maildir_flags(&inbox), expected);
    assert_eq!(
        fs::read_to_string(inbox.join("dovecot-keywords")).unwrap(),
        "0 $Junk\n1 work\n2 local-tag\n3 server-tag\n"
    );

    // Idempotent.
    let again = world.sync_ok();
    assert!(again.stdout().contains("changed: nothing"), "{again}");
    assert_eq!(server_flags(&server, "INBOX"), expected);
    assert_eq!(maildir_flags(&inbox), expected);

    // The Maildir Dovecot itself wrote (its own letters: $Forwarded is a keyword letter there)
    // read as a Maildir side: the keywords arrive, under the copy's own letters.
    // The test Dovecot uses Maildir++: INBOX is the root itself.
    let dovecot_inbox = server.mail_dir(&user);
    assert!(
        fs::read_to_string(dovecot_inbox.join("dovecot-keywords"))
            .unwrap()
            .contains("$Forwarded"),
        "Dovecot keeps $Forwarded as a keyword letter"
    );
    let copy = World::new("");
    let config = format!(
        "[general]\nstate_dir = \"{state}\"\n\n\
         [storage.dovecot]\ntype = \"maildir\"\npath = \"{dovecot}\"\nlayout = \"maildir++\"\n\n\
         [storage.copy]\ntype = \"maildir\"\npath = \"{copy}\"\n\n\
         [pair.p]\na = \"dovecot\"\nb = \"copy\"\ndirection = \"a-to-b\"\ncreate = [\"b\"]\n\
         collections = [\"INBOX\"]\n",
        state = copy.state_dir().display(),
        dovecot = server.mail_dir(&user).display(),
        copy = copy.root("b").display(),
    );
    fs::write(copy.config(), config).unwrap();
    let run = copy.sync_ok();
    assert_eq!(
        maildir_flags(&copy.root("b").join("INBOX")),
        expected,
        "{run}"
    );
}

#[test]
fn keywords_can_be_turned_off_per_pair() {
    let server = DovecotBuilder::new().start().unwrap();
    let user = server.user().to_owned();
    server.deliver(&user, "INBOX", &message("s1")).unwrap();
    store(&server, "INBOX", "s1", StoreMode::Add, "S $Junk");
    let world = world(&server, "", "keywords = false");
    world.sync_ok();
    let inbox = world.root("b").join("INBOX");
    assert_eq!(maildir_flags(&inbox), map(&[("s1", "S")]));
    assert!(!inbox.join("dovecot-keywords").exists());
    // The server keeps its keyword, and a local flag change does not touch it.
    set_letters(&inbox, "s1", "FS");
    world.sync_ok();
    assert_eq!(server_flags(&server, "INBOX"), map(&[("s1", "FS $Junk")]));
    let again = world.sync_ok();
    assert!(again.stdout().contains("changed: nothing"), "{again}");
}

#[test]
fn subscribed_only_lists_subscribed_folders_and_subscribes_created_ones() {
    let server = DovecotBuilder::new().start().unwrap();
    let user = server.user().to_owned();
    server.deliver(&user, "INBOX", &message("i1")).unwrap();
    server.deliver(&user, "Wanted", &message("w1")).unwrap();
    server.deliver(&user, "Hidden", &message("h1")).unwrap();
    block_on(async {
        let mut client = Client::connect(options(&server)).await.unwrap();
        client.subscribe("Wanted").await.unwrap();
        client.logout().await.unwrap();
    });
    let world = world(&server, "subscribed_only = true", "");
    common::deliver(&world.root("b").join("Local"), "l1", "S");
    let run = world.sync_ok();
    let local = world.messages("b");
    let folders: Vec<&str> = local.keys().map(String::as_str).collect();
    assert_eq!(folders, ["INBOX", "Local", "Wanted"], "{run}");
    assert_eq!(server_flags(&server, "Local"), map(&[("l1", "S")]));
    let subscribed: Vec<String> = block_on(async {
        let mut client = Client::connect(options(&server)).await.unwrap();
        let names = client.lsub("", "*").await.unwrap();
        client.logout().await.unwrap();
        names.into_iter().map(|e| e.name).collect()
    });
    assert!(subscribed.contains(&"Local".to_owned()), "{subscribed:?}");
    assert!(!subscribed.contains(&"Hidden".to_owned()), "{subscribed:?}");
    let again = world.sync_ok();
    assert!(again.stdout().contains("changed: nothing"), "{again}");
    assert!(!world.root("b").join("Hidden").exists());
}

#[test]
fn folder_names_translate_both_ways_and_collisions_are_refused() {
    let server = DovecotBuilder::new().start().unwrap();
    let user = server.user().to_owned();
    server.deliver(&user, "INBOX", &message("i1")).unwrap();
    server.deliver(&user, "Lists.rust", &message("r1")).unwrap();
    server.deliver(&user, "Lists.go", &message("g1")).unwrap();
    server.deliver(&user, "Archive", &message("a1")).unwrap();
    server.deliver(&user, "Elsewhere", &message("e1")).unwrap();
    let world = world(
        &server,
        "",
        "prefix_a = \"Lists/\"\nfolder_map = [[\"Archive\", \"old/archive\"]]",
    );
    let run = world.sync_ok();
    let local = world.messages("b");
    let folders: Vec<&str> = local.keys().map(String::as_str).collect();
    assert_eq!(folders, ["INBOX", "go", "old/archive", "rust"], "{run}");
    assert!(local["rust"].contains_key("r1") && local["old/archive"].contains_key("a1"));

    // New mail and a new folder locally go to the translated server names.
    common::deliver(&world.root("b").join("rust"), "r2", "S");
    common::deliver(&world.root("b").join("old/archive"), "a2", "");
    common::deliver(&world.root("b").join("newlocal"), "n1", "");
    world.sync_ok();
    assert_eq!(
        server_flags(&server, "Lists.rust"),
        map(&[("r1", ""), ("r2", "S")])
    );
    assert_eq!(
        server_flags(&server, "Archive"),
        map(&[("a1", ""), ("a2", "")])
    );
    assert_eq!(server_flags(&server, "Lists.newlocal"), map(&[("n1", "")]));
    assert!(!world.root("b").join("Elsewhere").exists());
    let again = world.sync_ok();
    assert!(again.stdout().contains("changed: nothing"), "{again}");

    // `pimlink list` shows the pair's names.
    let list = world.run(&["list"]);
    assert_eq!(list.code(), 0, "{list}");
    assert!(
        list.stdout().contains("old/archive")
            && list.stdout().contains("newlocal")
            && !list.stdout().contains("Lists/")
            && !list.stdout().contains("Elsewhere"),
        "{list}"
    );

    // A map that would join two folders is refused before anything runs, naming the line.
    let config = fs::read_to_string(world.config()).unwrap().replace(
        "folder_map = [[\"Archive\", \"old/archive\"]]",
        "folder_map = [\n  [\"Archive\", \"old/archive\"],\n  [\"Elsewhere\", \"old/archive\"],\n]",
    );
    fs::write(world.config(), &config).unwrap();
    let refused = world.run(&["sync"]);
    assert_eq!(refused.code(), 2, "{refused}");
    let line = config
        .lines()
        .position(|l| l.contains("[\"Elsewhere\""))
        .unwrap()
        + 1;
    assert!(
        refused.stderr().contains(&format!(":{line}:"))
            && refused.stderr().contains("would both be synced as"),
        "{refused}"
    );
}

#[test]
fn keywords_beyond_26_letters_are_reported_and_kept_on_the_server() {
    let server = DovecotBuilder::new().start().unwrap();
    let user = server.user().to_owned();
    server.deliver(&user, "INBOX", &message("s1")).unwrap();
    let words: Vec<String> = (0..30).map(|i| format!("k{i:02}")).collect();
    store(
        &server,
        "INBOX",
        "s1",
        StoreMode::Add,
        &format!("S {}", words.join(" ")),
    );
    let all = format!("S {}", words.join(" "));
    let world = world(&server, "", "");
    let first = world.sync_ok();
    let output = format!("{}{}", first.stdout(), first.stderr());
    assert!(
        output.contains("k26, k27, k28, k29") && output.contains("26 Maildir keyword letters"),
        "{first}"
    );
    let inbox = world.root("b").join("INBOX");
    let fitted = format!("S {}", words[..26].join(" "));
    assert_eq!(maildir_flags(&inbox), map(&[("s1", fitted.as_str())]));
    assert_eq!(server_flags(&server, "INBOX"), map(&[("s1", all.as_str())]));

    // A local flag change reaches the server without touching the keywords that did not fit.
    let name = fs::read_dir(inbox.join("cur"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .file_name()
        .to_string_lossy()
        .into_owned();
    let letters = name.split_once(":2,").unwrap().1.replace('S', "FS");
    set_letters(&inbox, "s1", &letters);
    world.sync_ok();
    assert_eq!(
        server_flags(&server, "INBOX"),
        map(&[("s1", format!("F{all}").as_str())])
    );
    let again = world.sync_ok();
    assert!(again.stdout().contains("changed: nothing"), "{again}");
    assert_eq!(
        maildir_flags(&inbox),
        map(&[("s1", format!("FS {}", words[..26].join(" ")).as_str())])
    );
}

#[test]
fn keywords_sync_between_two_imap_accounts() {
    let server = DovecotBuilder::new()
        .users(&[("test", "secret"), ("bob", "secret-bob")])
        .start()
        .unwrap();
    server.deliver("test", "INBOX", &message("s1")).unwrap();
    server.deliver("bob", "INBOX", &message("b1")).unwrap();
    let test = || dovecot_options(&server, "test", "secret");
    let bob = || dovecot_options(&server, "bob", "secret-bob");
    user_store(test(), "INBOX", "s1", StoreMode::Add, "S $Junk work");
    user_store(bob(), "INBOX", "b1", StoreMode::Add, " todo");
    let world = World::new("");
    let storage = |name: &str, user: &str, password: &str| {
        format!(
            "[storage.{name}]\ntype = \"imap\"\nhost = \"{}\"\nport = {}\ntls = \"none\"\n\
             user = \"{user}\"\npassword = \"{password}\"\n\n",
            server.host(),
            server.port()
        )
    };
    let config = format!(
        "[general]\nstate_dir = \"{}\"\n\n{}{}[pair.p]\na = \"a\"\nb = \"b\"\n",
        world.state_dir().display(),
        storage("a", "test", "secret"),
        storage("b", "bob", "secret-bob"),
    );
    fs::write(world.config(), config).unwrap();
    world.sync_ok();
    let expected = map(&[("b1", " todo"), ("s1", "S $Junk work")]);
    assert_eq!(user_flags(test(), "INBOX"), expected);
    assert_eq!(user_flags(bob(), "INBOX"), expected);

    user_store(bob(), "INBOX", "s1", StoreMode::Remove, " work");
    user_store(test(), "INBOX", "s1", StoreMode::Add, " later");
    user_store(test(), "INBOX", "b1", StoreMode::Remove, " todo");
    world.sync_ok();
    let expected = map(&[("b1", ""), ("s1", "S $Junk later")]);
    assert_eq!(user_flags(test(), "INBOX"), expected);
    assert_eq!(user_flags(bob(), "INBOX"), expected);
    let again = world.sync_ok();
    assert!(again.stdout().contains("changed: nothing"), "{again}");
}
