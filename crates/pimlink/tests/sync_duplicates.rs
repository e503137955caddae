//! Identical copies of a message (issue 12): a folder that holds one message several times
//! (mailing-list copies, a message filed twice), and near-identical messages (the same
//! Message-ID, Date, From and Subject, different bodies). Whenever pimlink has to recognise
//! mail by content (a lost state file, another tool's tree, a renumbered server folder, a copy
//! that landed before its key was recorded), each side must end with exactly as many copies of
//! each message as the other, never doubling them.
//!
//! Messages are told apart here by Message-ID and size with CRLF line ends (what the server
//! reports as RFC822.SIZE); the Maildir holds LF files, whose size is converted.
//!
//! One file in two parts: the scenario tests and the model-based test below the rule share the
//! census helpers and `Setup`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on failure by design.

mod common;

use common::imap::{dovecot_options, server_messages, write_imap_maildir_config};
use common::status::status_sql;
use common::{World, block_on, maildir_files};
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use pimlink_core::{Content, Flag, Flags};
use pimlink_imap::{AppendItem, Client, ClientOptions, FetchRequest, UidRanges};
use pimlink_testkit::{Dovecot, DovecotBuilder};

/// folder -> (Message-ID, size with CRLF line ends) -> Maildir flag letters of each copy, sorted.
type Census = BTreeMap<String, BTreeMap<(String, u64), Vec<String>>>;

/// folder -> message -> copies.
type Counts = BTreeMap<String, BTreeMap<(String, u64), usize>>;

/// Message `id` in `variant`: every variant has the same Message-ID, Date, From and Subject,
/// and a body of its own length.
fn text(id: &str, variant: usize) -> Vec<u8> {
    let mut text = format!(
        "From: list@example.org\r\nSubject: about {id}\r\nMessage-ID: <{id}@test>\r\n\
         Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n\r\nbody of {id}\r\n"
    );
    for _ in 0..variant {
        text.push_str("a footer line that this copy has\r\n");
    }
    text.into_bytes()
}

/// The census key of `id` in `variant`.
fn key(id: &str, variant: usize) -> (String, u64) {
    (id.to_owned(), text(id, variant).len() as u64)
}

/// The `id` of a `Message-ID: <id@...>` header in `text`.
fn message_id(text: &[u8]) -> String {
    let text = String::from_utf8_lossy(text);
    text.lines()
        .find_map(|line| line.strip_prefix("Message-ID: <"))
        .and_then(|rest| rest.split_once('@'))
        .map(|(id, _)| id.to_owned())
        .unwrap_or_else(|| panic!("no Message-ID in {text:?}"))
}

/// Size of `bytes` with every bare LF counted as CRLF.
fn crlf_size(bytes: &[u8]) -> u64 {
    let bare = bytes
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b == b'\n' && (i == 0 || bytes[i - 1] != b'\r'))
        .count();
    (bytes.len() + bare) as u64
}

/// Every message on the server, by folder.
fn server_census(options: ClientOptions) -> Census {
    let request = FetchRequest {
        size: true,
        ..FetchRequest::default()
    };
    let mut census = Census::new();
    for (folder, fetched) in server_messages(options, request) {
        let messages = census.entry(folder).or_default();
        for m in fetched {
            let key = (message_id(&m.header.unwrap()), u64::from(m.size.unwrap()));
            messages
                .entry(key)
                .or_default()
                .push(m.flags.unwrap().maildir_letters());
        }
    }
    sorted(census)
}

/// Every message in the Maildir tree under `root` (verbatim layout), by folder.
fn local_census(root: &Path) -> Census {
    let mut census = Census::new();
    for (folder, files) in maildir_files(root) {
        let messages = census.entry(folder).or_default();
        for (letters, path) in files {
            let bytes = fs::read(path).unwrap();
            let key = (message_id(&bytes), crlf_size(&bytes));
            messages.entry(key).or_default().push(letters);
        }
    }
    sorted(census)
}

/// Empty folders left out, the flags of each message's copies sorted.
fn sorted(census: Census) -> Census {
    census
        .into_iter()
        .filter(|(_, messages)| !messages.is_empty())
        .map(|(folder, mut messages)| {
            messages.values_mut().for_each(|copies| copies.sort());
            (folder, messages)
        })
        .collect()
}

/// How many copies of each message a census holds: folder -> key -> count.
fn counts(census: &Census) -> Counts {
    census
        .iter()
        .map(|(folder, messages)| {
            let counts = messages
                .iter()
                .map(|(key, copies)| (key.clone(), copies.len()))
                .collect();
            (folder.clone(), counts)
        })
        .collect()
}

/// A Dovecot, and a world whose side a is its user and side b a verbatim Maildir.
struct Setup {
    server: Dovecot,
    world: World,
}

impl Setup {
    fn new() -> Setup {
        let server = DovecotBuilder::new().start().unwrap();
        let world = World::new("");
        write_imap_maildir_config(&world, &server, "", "", "");
        Setup { server, world }
    }

    fn options(&self) -> ClientOptions {
        dovecot_options(&self.server, self.server.user(), self.server.password())
    }

    /// APPENDs `copies` copies of each `(id, variant)` to the server folder, with `letters`.
    fn append(&self, folder: &str, messages: &[(&str, usize, usize)], letters: &str) {
        block_on(async {
            let mut client = Client::connect(self.options()).await.unwrap();
            if !folder.eq_ignore_ascii_case("INBOX") {
                let _ = client.create(folder).await;
            }
            for &(id, variant, copies) in messages {
                for _ in 0..copies {
                    let item = AppendItem {
                        content: Content::Bytes(text(id, variant)),
                        flags: flags_of(letters),
                        internal_date: None,
                    };
                    client.append(folder, item).await.unwrap();
                }
            }
            client.logout().await.unwrap();
        })
    }

    /// Writes `copies` copies of each `(id, variant)` into the local folder, as a delivery
    /// agent would (LF line ends).
    fn deliver_local(&self, folder: &str, messages: &[(&str, usize, usize)]) {
        let dir = self.world.root("b").join(folder);
        for sub in ["cur", "new", "tmp"] {
            fs::create_dir_all(dir.join(sub)).unwrap();
        }
        for &(id, variant, copies) in messages {
            for copy in 0..copies {
                let name = format!("local-{id}-{variant}-{copy}-{}", unique());
                let lf = String::from_utf8(text(id, variant))
                    .unwrap()
                    .replace("\r\n", "\n");
                fs::write(dir.join("new").join(name), lf).unwrap();
            }
        }
    }

    /// Records the intent to upload every message of the local INBOX that the status does not
    /// know, as a run killed during those uploads leaves it (a pending row without the server's
    /// UID); returns how many.
    fn pretend_interrupted_uploads(&self) -> usize {
        let known = status_sql(&self.world, "SELECT key_b FROM mail_items");
        let inbox = self.world.root("b").join("INBOX").join("new");
        let mut pending = 0;
        for entry in fs::read_dir(&inbox).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            if known.lines().any(|k| k == name) {
                continue;
            }
            status_sql(
                &self.world,
                &format!(
                    "INSERT INTO mail_items (collection, key_a, key_b, flags, pending) \
                     SELECT id, NULL, '{name}', '', 'a' FROM collections WHERE name_a = 'INBOX'"
                ),
            );
            pending += 1;
        }
        pending
    }

    /// Deletes the pair's status, as a user who lost or removed the state directory would.
    fn lose_state(&self) {
        for entry in fs::read_dir(self.world.state_dir()).unwrap() {
            let path = entry.unwrap().path();
            if path
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("p.")
            {
                fs::remove_file(path).unwrap();
            }
        }
    }

    fn server_census(&self) -> Census {
        server_census(self.options())
    }

    fn local_census(&self) -> Census {
        local_census(&self.world.root("b"))
    }

    /// Syncs, and checks that both sides then hold the same messages; returns the run and the
    /// counts.
    fn sync_agreeing(&self, what: &str) -> (common::Run, Counts) {
        let run = self.world.sync_ok();
        let counts = self.assert_sides_agree(&format!("{what}:\n{run}"));
        (run, counts)
    }

    /// A further run changes nothing.
    fn assert_settled(&self) {
        let again = self.world.sync_ok();
        assert!(again.stdout().contains("changed: nothing"), "{again}");
    }

    /// Both sides hold the same messages (with the same flags per copy); returns the counts.
    fn assert_sides_agree(&self, context: &str) -> Counts {
        let server = self.server_census();
        let local = self.local_census();
        assert_eq!(
            server, local,
            "{context}: the server and the Maildir differ"
        );
        counts(&server)
    }
}

/// Ages the records of given-up copies by two hours, as if the next run came that much later:
/// past the time in which their late copies could still land.
fn let_an_hour_pass(world: &World) {
    status_sql(
        world,
        "UPDATE mail_abandoned_copies SET abandoned_at = abandoned_at - 7200",
    );
}

/// A name no other local file has.
fn unique() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
}

/// Flags from Maildir letters.
fn flags_of(letters: &str) -> Flags {
    let mut flags = Flags::new();
    for letter in letters.chars() {
        if let Some(flag) = Flag::from_maildir_letter(letter) {
            flags.set(flag, true);
        }
    }
    flags
}

/// The total number of messages in `folder` of a count map.
fn total(counts: &Counts, folder: &str) -> usize {
    counts.get(folder).map_or(0, |m| m.values().sum())
}

#[test]
fn a_lost_state_does_not_double_identical_copies() {
    // One message once and another twice: 3 messages. Each lost state used to double the
    // copies that content pairing could not tell apart: 3 -> 5 -> 9 -> 17 on each side.
    let setup = Setup::new();
    setup.append("INBOX", &[("once", 0, 1), ("twice", 0, 2)], "");
    setup.world.sync_ok();
    let mut totals = vec![total(&setup.assert_sides_agree("first sync"), "INBOX")];
    for round in 0..3 {
        setup.lose_state();
        let (_, counts) = setup.sync_agreeing(&format!("lost state {round}"));
        totals.push(total(&counts, "INBOX"));
    }
    assert_eq!(
        totals,
        [3, 3, 3, 3],
        "messages per side after each lost state"
    );
}

/// Empties the server folder and fills it again with the same messages and flags, in another
/// order and under a new UIDVALIDITY, as a restored or migrated server would.
fn renumber(server: &Dovecot, options: ClientOptions, folder: &str, seed: u64) {
    let (validity, mut messages) = block_on(async {
        let mut client = Client::connect(options.clone()).await.unwrap();
        client.select(folder, Default::default()).await.unwrap();
        let request = FetchRequest {
            flags: true,
            internal_date: true,
            body: true,
            ..FetchRequest::default()
        };
        let mut messages = Vec::new();
        client
            .fetch(&UidRanges::all(), &request, |m| {
                let body = match m.body.unwrap() {
                    Content::Bytes(bytes) => bytes,
                    Content::File(mut file) => {
                        let mut bytes = Vec::new();
                        std::io::Read::read_to_end(&mut file, &mut bytes).unwrap();
                        bytes
                    }
                };
                messages.push((body, m.flags.unwrap(), m.internal_date));
                Ok(())
            })
            .await
            .unwrap();
        let validity = client.status(folder).await.unwrap().uid_validity.unwrap();
        if !messages.is_empty() {
            let all = UidRanges::all();
            let deleted = Flags::new().with(Flag::Trashed);
            client
                .store(&all, pimlink_imap::StoreMode::Add, &deleted, None)
                .await
                .unwrap();
            client.uid_expunge(&all).await.unwrap();
        }
        client.logout().await.unwrap();
        (validity, messages)
    });
    let mut rng = pimlink_testkit::TestRng::new(seed);
    for i in (1..messages.len()).rev() {
        messages.swap(i, rng.range(0, i as u64 + 1) as usize);
    }
    let user = server.user().to_owned();
    let new_validity = (validity + 1000).to_string();
    server
        .doveadm(&[
            "mailbox",
            "update",
            "-u",
            &user,
            "--uid-validity",
            &new_validity,
            folder,
        ])
        .unwrap();
    block_on(async {
        let mut client = Client::connect(options).await.unwrap();
        for (body, flags, internal_date) in messages {
            let item = AppendItem {
                content: Content::Bytes(body),
                flags,
                internal_date,
            };
            client.append(folder, item).await.unwrap();
        }
        let now = client.status(folder).await.unwrap().uid_validity.unwrap();
        assert_ne!(now, validity, "the folder got a new UIDVALIDITY");
        client.logout().await.unwrap();
    });
}

#[test]
fn adopting_trees_pairs_identical_copies_by_count_and_near_identical_ones_by_size() {
    // Both sides hold mail before the first sync, as when moving from another tool.
    let setup = Setup::new();
    setup.append(
        "INBOX",
        &[("once", 0, 1), ("twice", 0, 2), ("list", 1, 1)],
        "S",
    );
    setup.deliver_local("INBOX", &[("once", 0, 1), ("twice", 0, 3), ("list", 2, 1)]);
    let (run, counts) = setup.sync_agreeing("after adopting");
    let want: BTreeMap<(String, u64), usize> = [
        (key("once", 0), 1),
        (key("twice", 0), 3),
        (key("list", 1), 1),
        (key("list", 2), 1),
    ]
    .into_iter()
    .collect();
    assert_eq!(counts["INBOX"], want, "{run}");
    setup.assert_settled();
}

#[test]
fn a_renumbered_folder_with_identical_copies_is_recognised_without_force() {
    let setup = Setup::new();
    setup.append("Box", &[("thrice", 0, 3), ("once", 0, 1)], "");
    setup.append(
        "Box",
        &[("thrice", 0, 1), ("near", 1, 1), ("near", 2, 1)],
        "F",
    );
    setup.world.sync_ok();
    let before = setup.assert_sides_agree("first sync");
    renumber(&setup.server, setup.options(), "Box", 7);
    // Used to be refused ("only 1 of 7 known messages could be recognised"), and to
    // duplicate every identical copy with the --force it suggested.
    let (run, after) = setup.sync_agreeing("after the renumbering");
    assert_eq!(after, before, "{run}");
    setup.assert_settled();
}

#[test]
fn uploads_of_identical_copies_that_landed_unrecorded_are_confirmed_not_repeated() {
    let setup = Setup::new();
    setup.deliver_local("INBOX", &[("m", 0, 1)]);
    setup.world.sync_ok();
    // Two more copies arrive locally; a run recorded its intent to upload both and was killed
    // after the server stored them but before it learnt their UIDs.
    setup.deliver_local("INBOX", &[("m", 0, 2)]);
    assert_eq!(setup.pretend_interrupted_uploads(), 2);
    setup.append("INBOX", &[("m", 0, 2)], "");

    let (run, counts) = setup.sync_agreeing("after resuming");
    assert!(!run.stdout().contains("copied b->a"), "{run}");
    assert_eq!(counts["INBOX"][&key("m", 0)], 3, "{run}");
    setup.assert_settled();
}

#[test]
fn an_identical_copy_made_after_a_given_up_upload_settled_is_not_taken_for_a_late_one() {
    let setup = Setup::new();
    setup.deliver_local("INBOX", &[("m1", 0, 1)]);
    setup.world.sync_ok();
    // As if a run had recorded its intent to upload m2 and was killed before the APPEND
    // reached the server: the next run gives that copy up (recording it, in case it lands
    // late) and uploads m2 again.
    setup.deliver_local("INBOX", &[("m2", 0, 1)]);
    assert_eq!(setup.pretend_interrupted_uploads(), 1);
    let resumed = setup.world.sync_ok();
    assert!(resumed.stdout().contains("1 copied b->a"), "{resumed}");
    let records = "SELECT count(*) FROM mail_abandoned_copies";
    assert_eq!(status_sql(&setup.world, records), "1");
    // The next run waits for the server to finish what earlier runs sent and finds no late
    // copy; within the hour a late copy may still land, so the record stays.
    setup.assert_settled();
    assert_eq!(status_sql(&setup.world, records), "1");
    // An hour later nothing can land any more: the next run forgets the record.
    let_an_hour_pass(&setup.world);
    let settled = setup.world.sync_ok();
    assert!(settled.stdout().contains("changed: nothing"), "{settled}");
    assert_eq!(status_sql(&setup.world, records), "0", "{settled}");
    // Now the user files m2 a second time on the server: new mail, not a late copy.
    setup.append("INBOX", &[("m2", 0, 1)], "");
    let (run, counts) = setup.sync_agreeing("after the second copy");
    assert!(!run.stdout().contains("late duplicate"), "{run}");
    assert_eq!(counts["INBOX"][&key("m2", 0)], 2, "{run}");
}

#[test]
fn identical_copies_moved_to_another_folder_are_moved_on_the_server() {
    let setup = Setup::new();
    setup.deliver_local("INBOX", &[("m", 0, 3), ("other", 0, 1)]);
    setup.world.sync_ok();
    // A mail reader moves two of the three copies to Archive.
    let inbox = setup.world.root("b").join("INBOX");
    let archive = setup.world.root("b").join("Archive");
    for sub in ["cur", "new", "tmp"] {
        fs::create_dir_all(archive.join(sub)).unwrap();
    }
    let mut moved = 0;
    for sub in ["cur", "new"] {
        for entry in fs::read_dir(inbox.join(sub)).unwrap() {
            let path = entry.unwrap().path();
            if moved < 2 && message_id(&fs::read(&path).unwrap()) == "m" {
                fs::rename(&path, archive.join(sub).join(path.file_name().unwrap())).unwrap();
                moved += 1;
            }
        }
    }
    let (run, counts) = setup.sync_agreeing("after the move");
    assert!(run.stdout().contains("2 moved"), "{run}");
    assert_eq!(counts["INBOX"][&key("m", 0)], 1, "{run}");
    assert_eq!(counts["Archive"][&key("m", 0)], 2, "{run}");
}

// ---------------------------------------------------------------------------------------------
// The model-based test: random operations on folders with repeated identical and near-identical
// messages, runs killed or cut on observed progress, lost state, renumbered server folders.

const FOLDERS: [&str; 2] = ["INBOX", "Lists"];
const IDS: [&str; 4] = ["m0", "m1", "m2", "m3"];
const VARIANTS: usize = 3;
const LETTERS: [&str; 5] = ["", "S", "FS", "RS", "F"];

/// What happens to a round's state before its runs.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Upset {
    None,
    /// The state file is deleted after the round's changes.
    LostState,
    /// A server folder is emptied and filled again with the same messages under a new
    /// UIDVALIDITY before the changes.
    Renumbered(&'static str),
}

impl Upset {
    /// True if mail in `folder` is recognised by content in this round's runs.
    fn by_content(self, folder: &str) -> bool {
        match self {
            Upset::None => false,
            Upset::LostState => true,
            Upset::Renumbered(renumbered) => renumbered == folder,
        }
    }
}

/// A Dovecot behind a proxy that stalls or cuts the connection of a run at a chosen byte, and
/// a Maildir; pimlink uses one connection, so that the chosen byte is that run's.
struct Bench {
    server: Dovecot,
    proxy: pimlink_testkit::CutProxy,
    world: World,
    rng: pimlink_testkit::TestRng,
    /// Local files made this round (their names before `:2,`): not deleted in the round, so
    /// that a deletion is always of a copy both sides had.
    fresh: std::collections::HashSet<String>,
    /// Each server folder's UIDNEXT at the start of the round: likewise.
    floors: BTreeMap<String, u32>,
}

impl Bench {
    fn new(seed: u64) -> Bench {
        let server = DovecotBuilder::new().start().unwrap();
        let proxy = pimlink_testkit::CutProxy::start(server.port()).unwrap();
        let world = World::new("");
        let config = format!(
            "[general]\nstate_dir = \"{state}\"\n\n\
             [storage.a]\ntype = \"imap\"\nhost = \"{host}\"\nport = {port}\ntls = \"none\"\n\
             user = \"{user}\"\npassword = \"{password}\"\ntimeout = 20\nconnections = 1\n\n\
             [storage.b]\ntype = \"maildir\"\npath = \"{b}\"\nlayout = \"verbatim\"\n\n\
             [pair.p]\na = \"a\"\nb = \"b\"\n",
            state = world.state_dir().display(),
            host = proxy.host(),
            port = proxy.port(),
            user = server.user(),
            password = server.password(),
            b = world.root("b").display(),
        );
        fs::write(world.config(), config).unwrap();
        Bench {
            server,
            proxy,
            world,
            rng: pimlink_testkit::TestRng::new(seed),
            fresh: Default::default(),
            floors: BTreeMap::new(),
        }
    }

    /// Notes which copies exist before the round's changes.
    fn start_round(&mut self) {
        self.fresh.clear();
        self.floors = block_on(async {
            let mut client = Client::connect(self.options()).await.unwrap();
            let mut floors = BTreeMap::new();
            for folder in FOLDERS {
                let next = client.status(folder).await.ok().and_then(|s| s.uid_next);
                floors.insert(folder.to_owned(), next.unwrap_or(0));
            }
            client.logout().await.unwrap();
            floors
        });
    }

    fn options(&self) -> ClientOptions {
        dovecot_options(&self.server, self.server.user(), self.server.password())
    }

    fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.rng.range(0, items.len() as u64) as usize].clone()
    }

    fn letters(&mut self) -> &'static str {
        self.pick(&LETTERS)
    }

    /// Adds `copies` copies of `(id, variant)` to `folder` on the server, each with random flags.
    fn add_on_server(&mut self, folder: &str, id: &str, variant: usize, copies: usize) {
        let letters: Vec<&str> = (0..copies).map(|_| self.letters()).collect();
        block_on(async {
            let mut client = Client::connect(self.options()).await.unwrap();
            if !folder.eq_ignore_ascii_case("INBOX") {
                let _ = client.create(folder).await;
            }
            for letters in letters {
                let item = AppendItem {
                    content: Content::Bytes(text(id, variant)),
                    flags: flags_of(letters),
                    internal_date: None,
                };
                client.append(folder, item).await.unwrap();
            }
            client.logout().await.unwrap();
        })
    }

    /// Adds `copies` copies of `(id, variant)` to the local `folder`, each with random flags.
    fn add_locally(&mut self, folder: &str, id: &str, variant: usize, copies: usize) {
        let dir = self.world.root("b").join(folder);
        for sub in ["cur", "new", "tmp"] {
            fs::create_dir_all(dir.join(sub)).unwrap();
        }
        let lf = String::from_utf8(text(id, variant))
            .unwrap()
            .replace("\r\n", "\n");
        for _ in 0..copies {
            let letters = self.letters();
            let base = format!("model-{}", unique());
            self.fresh.insert(base.clone());
            let path = if letters.is_empty() {
                dir.join("new").join(base)
            } else {
                dir.join("cur").join(format!("{base}:2,{letters}"))
            };
            fs::write(path, &lf).unwrap();
        }
    }

    /// The UIDs of the copies of `key` in the server `folder`, with `client` having selected it.
    async fn server_copies(client: &mut Client, key: &(String, u64)) -> Vec<u32> {
        let request = FetchRequest {
            size: true,
            header_fields: vec!["MESSAGE-ID".to_owned()],
            ..FetchRequest::default()
        };
        let mut uids = Vec::new();
        if client.exists() == 0 {
            return uids;
        }
        client
            .fetch(&UidRanges::all(), &request, |m| {
                let found = (message_id(&m.header.unwrap()), u64::from(m.size.unwrap()));
                if &found == key {
                    uids.push(m.uid);
                }
                Ok(())
            })
            .await
            .unwrap();
        uids
    }

    /// Deletes one copy of `key` that was there before the round from the server `folder`
    /// (`delete`), or gives any copy new flags.
    fn change_on_server(&mut self, folder: &str, key: &(String, u64), delete: bool) {
        let pick = self.rng.next_u64();
        let letters = self.letters();
        let floor = self.floors.get(folder).copied().unwrap_or(0);
        block_on(async {
            let mut client = Client::connect(self.options()).await.unwrap();
            client.select(folder, Default::default()).await.unwrap();
            let mut uids = Self::server_copies(&mut client, key).await;
            if delete {
                uids.retain(|uid| *uid < floor);
            }
            let set = UidRanges::single(uids[pick as usize % uids.len()]);
            if delete {
                let deleted = Flags::new().with(Flag::Trashed);
                client
                    .store(&set, pimlink_imap::StoreMode::Add, &deleted, None)
                    .await
                    .unwrap();
                client.uid_expunge(&set).await.unwrap();
            } else {
                client
                    .store(
                        &set,
                        pimlink_imap::StoreMode::Replace,
                        &flags_of(letters),
                        None,
                    )
                    .await
                    .unwrap();
            }
            client.logout().await.unwrap();
        })
    }

    /// Deletes one local copy of `key` that was there before the round from `folder`
    /// (`delete`), or gives any copy new flags as a mail reader does (renamed into cur/).
    fn change_locally(&mut self, folder: &str, key: &(String, u64), delete: bool) {
        let dir = self.world.root("b").join(folder);
        let mut files = Vec::new();
        for sub in ["cur", "new"] {
            for entry in fs::read_dir(dir.join(sub)).unwrap() {
                let path = entry.unwrap().path();
                let bytes = fs::read(&path).unwrap();
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                let base = name.split_once(":2,").map_or(name.as_str(), |(b, _)| b);
                let fresh = delete && self.fresh.contains(base);
                if (message_id(&bytes), crlf_size(&bytes)) == *key && !fresh {
                    files.push(path);
                }
            }
        }
        files.sort();
        let file = self.pick(&files);
        if delete {
            fs::remove_file(file).unwrap();
            return;
        }
        let letters = self.letters();
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let base = name.split_once(":2,").map_or(name.as_str(), |(b, _)| b);
        fs::rename(&file, dir.join("cur").join(format!("{base}:2,{letters}"))).unwrap();
    }

    /// Runs `sync` with the connection stalled at a random byte (then pimlink is killed with
    /// SIGKILL, as soon as the proxy has seen that byte) or cut there (pimlink carries on as it
    /// can). No clock decides where a run stops: the byte does. `idle` is what a run with
    /// nothing to do sends and receives, `work` about what this run's changes add: most stops
    /// fall within their sum, some in the first bytes (greeting, login, SELECT). A `sure` stop
    /// kills the run within the first half of what even an idle run sends, so that it surely
    /// stops it. Returns whether it was killed or how it ended, and a line for the log.
    fn interrupted_run(&mut self, idle: Traffic, work: Traffic, sure: bool) -> (Stop, String) {
        use pimlink_testkit::{Cut, Direction};
        let first = self.proxy.connections().len();
        let scale = idle.plus(work.to_server, work.to_client);
        let (direction, scale) = if sure || self.rng.chance(1, 2) {
            (Direction::ToServer, scale.to_server)
        } else {
            (Direction::ToClient, scale.to_client)
        };
        let bytes = if sure {
            self.rng.range(1, idle.to_server / 2)
        } else if self.rng.chance(1, 3) {
            self.rng.log_range(1, scale)
        } else {
            self.rng.range(scale / 10, scale)
        };
        let kill = sure || self.rng.chance(2, 3);
        if kill {
            // Later connections (a reconnection) stall at once: the run stops at this byte.
            self.proxy.set_plan(move |index| Cut::StallAfter {
                bytes: if index == first { bytes } else { 0 },
                direction: if index == first {
                    direction
                } else {
                    Direction::ToClient
                },
            });
        } else {
            self.proxy.set_plan(move |index| {
                if index == first {
                    Cut::After { bytes, direction }
                } else {
                    Cut::Never
                }
            });
        }
        // What the run printed before it stopped, for the log of a failure.
        let output = self.world.dir.path().join("interrupted-run.out");
        let mut child = self
            .world
            .pimlink(&["sync"])
            .stdout(fs::File::create(&output).unwrap())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // A generous bound on a run that is neither stopped nor finishing: a hang.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
        let stop = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Stop::Exited(status.code());
            }
            let stalled = self.proxy.connections()[first..].iter().any(|r| r.was_cut);
            if kill && stalled {
                child.kill().unwrap();
                child.wait().unwrap();
                break Stop::Killed;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "a sync neither stopped nor ended"
            );
            std::thread::sleep(std::time::Duration::from_millis(2));
        };
        self.proxy.pass_all();
        let how = if kill { "stall+kill" } else { "cut" };
        let printed = fs::read_to_string(output).unwrap_or_default();
        let line = format!(
            "{how} at {bytes} {direction:?}: {stop:?}; printed: {}",
            printed.trim().replace('\n', " | ")
        );
        (stop, line)
    }
}

fn side_name(on_server: bool) -> &'static str {
    if on_server {
        "the server"
    } else {
        "the Maildir"
    }
}

/// How an interrupted run ended.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Stop {
    /// Killed at the byte it stalled at.
    Killed,
    /// Ended on its own, with this exit status.
    Exited(Option<i32>),
}

/// Bytes through the proxy, each way.
#[derive(Clone, Copy, Debug, Default)]
struct Traffic {
    to_server: u64,
    to_client: u64,
}

impl Traffic {
    /// What the connections since the `first` carried.
    fn since(proxy: &pimlink_testkit::CutProxy, first: usize) -> Traffic {
        let records = proxy.connections();
        Traffic {
            to_server: records[first..].iter().map(|r| r.to_server).sum(),
            to_client: records[first..].iter().map(|r| r.to_client).sum(),
        }
    }

    /// This traffic with `up` and `down` bytes more.
    fn plus(self, up: u64, down: u64) -> Traffic {
        Traffic {
            to_server: self.to_server + up,
            to_client: self.to_client + down,
        }
    }
}

/// max(server, local) per message: what pairing by content leaves on both sides.
fn most_of(server: &Counts, local: &Counts) -> Counts {
    let mut out = server.clone();
    for (folder, messages) in local {
        let entry = out.entry(folder.clone()).or_default();
        for (key, &n) in messages {
            let slot = entry.entry(key.clone()).or_default();
            *slot = (*slot).max(n);
        }
    }
    without_zeros(out)
}

fn without_zeros(counts: Counts) -> Counts {
    counts
        .into_iter()
        .map(|(folder, messages)| {
            let messages: BTreeMap<(String, u64), usize> =
                messages.into_iter().filter(|(_, n)| *n > 0).collect();
            (folder, messages)
        })
        .filter(|(_, messages)| !messages.is_empty())
        .collect()
}

fn count_of(counts: &Counts, folder: &str, key: &(String, u64)) -> usize {
    counts
        .get(folder)
        .and_then(|m| m.get(key))
        .copied()
        .unwrap_or(0)
}

fn bump(counts: &mut Counts, folder: &str, key: &(String, u64), by: isize) {
    let slot = counts
        .entry(folder.to_owned())
        .or_default()
        .entry(key.clone())
        .or_default();
    *slot = slot.checked_add_signed(by).unwrap();
}

#[test]
fn a_model_of_identical_copies_holds_through_kills_cuts_lost_state_and_renumbering() {
    let seed = pimlink_testkit::TestRng::seed_from_env("PIMLINK_TEST_SEED", 0xd0_b1e5);
    let mut bench = Bench::new(seed);

    // Adoption: both sides hold mail before the first sync, with copies repeated on each side.
    let (mut server, mut local) = (Counts::new(), Counts::new());
    for folder in FOLDERS {
        for id in IDS {
            for variant in 0..VARIANTS {
                let key = key(id, variant);
                let on_server = bench.rng.range(0, 3) as usize;
                let on_local = bench.rng.range(0, 3) as usize;
                if on_server > 0 {
                    bench.add_on_server(folder, id, variant, on_server);
                    bump(&mut server, folder, &key, on_server as isize);
                }
                if on_local > 0 {
                    bench.add_locally(folder, id, variant, on_local);
                    bump(&mut local, folder, &key, on_local as isize);
                }
            }
        }
    }
    let mut expected = most_of(&server, &local);
    let mut upset = Upset::None;
    // What a run that finds nothing to do exchanges with the server (measured each round),
    // and the round's work on top of it: where the stops are drawn.
    let mut idle = Traffic {
        to_server: 1_000,
        to_client: 3_000,
    };
    let mut work = Traffic::default();
    let rounds = 24;
    for round in 0..=rounds {
        if round > 0 {
            upset = match bench.rng.range(0, 6) {
                0 => Upset::LostState,
                1 => Upset::Renumbered(bench.pick(&FOLDERS)),
                _ => Upset::None,
            };
            if let Upset::Renumbered(folder) = upset {
                let seed = bench.rng.next_u64();
                renumber(&bench.server, bench.options(), folder, seed);
                eprintln!("round {round}: {folder} renumbered on the server");
            }
            bench.start_round();
            // Changes on both sides. Copies added on both sides of one message pair with each
            // other (content cannot tell them from mail both sides received); deleting copies
            // of one message on both sides could delete the same pair twice over, so a message
            // loses copies on one side per round.
            let (mut server, mut local) = (expected.clone(), expected.clone());
            // Copies there before the round and not deleted yet, per side.
            let mut old = (expected.clone(), expected.clone());
            let mut added = (Counts::new(), Counts::new());
            let mut deleted_on: BTreeMap<(String, (String, u64)), bool> = BTreeMap::new();
            // Deletions per folder and side: a few, never the many that the deletion-share
            // guard (`max_delete`) holds back.
            let mut deletions: BTreeMap<(&str, bool), usize> = BTreeMap::new();
            for _ in 0..bench.rng.range(3, 9) {
                let folder = bench.pick(&FOLDERS);
                let on_server = bench.rng.chance(1, 2);
                let in_folder = |counts: &Counts| -> Vec<(String, u64)> {
                    counts
                        .get(folder)
                        .map(|m| {
                            m.iter()
                                .filter(|(_, n)| **n > 0)
                                .map(|(k, _)| k.clone())
                                .collect()
                        })
                        .unwrap_or_default()
                };
                let present = in_folder(if on_server { &server } else { &local });
                let deletable = in_folder(if on_server { &old.0 } else { &old.1 });
                match bench.rng.range(0, 10) {
                    0..=3 => {
                        let id = bench.pick(&IDS);
                        let variant = bench.rng.range(0, VARIANTS as u64) as usize;
                        let copies = bench.rng.range(1, 3) as usize;
                        let key = key(id, variant);
                        eprintln!(
                            "round {round}: {copies} x {key:?} new in {folder} on {}",
                            side_name(on_server)
                        );
                        let bytes = copies as u64 * (key.1 + 100);
                        work = if on_server {
                            work.plus(0, bytes)
                        } else {
                            work.plus(bytes, 0)
                        };
                        if on_server {
                            bench.add_on_server(folder, id, variant, copies);
                            bump(&mut server, folder, &key, copies as isize);
                            bump(&mut added.0, folder, &key, copies as isize);
                        } else {
                            bench.add_locally(folder, id, variant, copies);
                            bump(&mut local, folder, &key, copies as isize);
                            bump(&mut added.1, folder, &key, copies as isize);
                        }
                    }
                    4..=6 if !deletable.is_empty() => {
                        let key = bench.pick(&deletable);
                        let slot = (folder.to_owned(), key.clone());
                        // Deleting on a renumbered server could make most of its mail look
                        // unknown, and the re-pairing be refused (which has its own tests).
                        let renumbered = upset.by_content(folder) && on_server;
                        let many = deletions.get(&(folder, on_server)).copied().unwrap_or(0) >= 3;
                        if renumbered
                            || many
                            || deleted_on.get(&slot).is_some_and(|s| *s != on_server)
                        {
                            continue;
                        }
                        deleted_on.insert(slot, on_server);
                        *deletions.entry((folder, on_server)).or_default() += 1;
                        eprintln!(
                            "round {round}: {key:?} deleted once in {folder} on {}",
                            side_name(on_server)
                        );
                        if on_server {
                            bench.change_on_server(folder, &key, true);
                            bump(&mut server, folder, &key, -1);
                            bump(&mut old.0, folder, &key, -1);
                        } else {
                            bench.change_locally(folder, &key, true);
                            bump(&mut local, folder, &key, -1);
                            bump(&mut old.1, folder, &key, -1);
                        }
                    }
                    _ if !present.is_empty() => {
                        let key = bench.pick(&present);
                        eprintln!(
                            "round {round}: {key:?} flagged anew in {folder} on {}",
                            side_name(on_server)
                        );
                        if on_server {
                            bench.change_on_server(folder, &key, false);
                        } else {
                            bench.change_locally(folder, &key, false);
                        }
                    }
                    _ => {}
                }
            }
            // Without a state (or with the server's keys gone) both sides keep what either
            // holds: max(server, local) per message. Otherwise deletions go across, and copies
            // new on both sides pair, the surplus copied.
            let recognised = most_of(&server, &local);
            expected = {
                let mut next = Counts::new();
                for folder in FOLDERS {
                    if upset.by_content(folder) {
                        if let Some(messages) = recognised.get(folder) {
                            next.insert(folder.to_owned(), messages.clone());
                        }
                        continue;
                    }
                    let keys: std::collections::BTreeSet<(String, u64)> =
                        [&expected, &server, &local]
                            .iter()
                            .filter_map(|c| c.get(folder))
                            .flat_map(|m| m.keys().cloned())
                            .collect();
                    for key in keys {
                        let base = count_of(&expected, folder, &key) as isize;
                        let (add_s, add_l) = (
                            count_of(&added.0, folder, &key) as isize,
                            count_of(&added.1, folder, &key) as isize,
                        );
                        let del_s = base + add_s - count_of(&server, folder, &key) as isize;
                        let del_l = base + add_l - count_of(&local, folder, &key) as isize;
                        let n = base - del_s - del_l + add_s.max(add_l);
                        bump(&mut next, folder, &key, n);
                    }
                }
                without_zeros(next)
            };
            if upset == Upset::LostState {
                for entry in fs::read_dir(bench.world.state_dir()).unwrap() {
                    let path = entry.unwrap().path();
                    if path
                        .file_name()
                        .unwrap()
                        .to_string_lossy()
                        .starts_with("p.")
                    {
                        fs::remove_file(path).unwrap();
                    }
                }
                eprintln!("round {round}: state lost");
            }
        }
        let attempts = bench.rng.range(0, 5);
        for attempt in 0..attempts {
            let (stop, what) = bench.interrupted_run(idle, work, attempt == 0);
            eprintln!("round {round} ({upset:?}) run {attempt}: {what}");
            assert!(
                attempt > 0 || stop == Stop::Killed,
                "a sure stop did not stop"
            );
            if stop == Stop::Exited(Some(0)) {
                // A run that got through leaves the right counts itself, not the run after.
                let server = counts(&server_census(bench.options()));
                assert_eq!(server, expected, "round {round} run {attempt}, seed {seed}");
                break;
            }
        }
        bench.proxy.pass_all();
        let run = bench.world.sync_ok();
        let context = format!("round {round} ({upset:?}), seed {seed}:\n{run}");
        let server_now = server_census(bench.options());
        let local_now = local_census(&bench.world.root("b"));
        assert_eq!(counts(&server_now), expected, "server, {context}");
        assert_eq!(counts(&local_now), expected, "Maildir, {context}");
        assert_eq!(server_now, local_now, "flags differ, {context}");
        // Time passes before the user's next changes: a copy given up in this round can no
        // longer land late, and the next run forgets its record (else an identical copy the
        // user files on the server would be taken for that late copy).
        let_an_hour_pass(&bench.world);
        let first = bench.proxy.connections().len();
        let again = bench.world.sync_ok();
        assert!(
            again.stdout().contains("changed: nothing"),
            "{context}\nthen:\n{again}"
        );
        idle = Traffic::since(&bench.proxy, first);
        work = Traffic::default();
    }
}

#[test]
fn uploads_of_identical_copies_killed_or_cut_at_any_byte_leave_each_copy_once() {
    // The uploads of a folder full of repeated messages, stopped again and again: a copy that
    // landed unrecorded is confirmed by multiplicity, one that did not is made again, a late
    // one is removed. After each clean run each message is there as often as it was locally.
    let seed = pimlink_testkit::TestRng::seed_from_env("PIMLINK_TEST_SEED", 0x0c0_b1e5);
    let mut bench = Bench::new(seed);
    let mut expected = Counts::new();
    let first = bench.proxy.connections().len();
    bench.world.sync_ok();
    let mut idle = Traffic::since(&bench.proxy, first);
    for round in 0..6 {
        // What the uploads send, about: the messages and their APPEND commands.
        let mut upload = 0;
        for i in 0..12 {
            let id = format!("u{round}-{i}");
            let variant = bench.rng.range(0, 2) as usize;
            let copies = bench.rng.range(1, 4) as usize;
            bench.add_locally("INBOX", &id, variant, copies);
            bump(&mut expected, "INBOX", &key(&id, variant), copies as isize);
            upload += copies as u64 * (key(&id, variant).1 + 80);
        }
        // Runs stopped at random bytes until one gets through on its own; the first surely.
        let work = Traffic {
            to_server: upload,
            to_client: upload / 20,
        };
        for attempt in 0..10 {
            let (stop, what) = bench.interrupted_run(idle, work, attempt == 0);
            eprintln!("round {round} run {attempt}: {what}");
            assert!(
                attempt > 0 || stop == Stop::Killed,
                "a sure stop did not stop"
            );
            if stop == Stop::Exited(Some(0)) {
                // A run that got through leaves the right counts itself, not the run after.
                let server = counts(&server_census(bench.options()));
                assert_eq!(server, expected, "round {round} run {attempt}, seed {seed}");
                break;
            }
        }
        let run = bench.world.sync_ok();
        let context = format!("round {round}, seed {seed}:\n{run}");
        let server = server_census(bench.options());
        assert_eq!(counts(&server), expected, "server, {context}");
        assert_eq!(server, local_census(&bench.world.root("b")), "{context}");
        let first = bench.proxy.connections().len();
        let again = bench.world.sync_ok();
        assert!(
            again.stdout().contains("changed: nothing"),
            "{context}\n{again}"
        );
        idle = Traffic::since(&bench.proxy, first);
    }
}
