//! Helpers for end-to-end tests against an IMAP server: test messages, and reading what the
//! server holds directly (not through pimlink) to compare with what a sync produced.

use super::{Run, Tree, World, block_on};
use pimlink_core::Flags;
use pimlink_imap::{Client, ClientOptions, FetchRequest, Secret, TlsMode, UidRanges};
use pimlink_testkit::Dovecot;
use std::collections::BTreeMap;
use std::time::Duration;

/// A small message whose Message-ID is `<id@test>`.
pub fn message(id: &str) -> Vec<u8> {
    sized_message(id, 0)
}

/// A message whose Message-ID is `<id@test>`, padded with lines of text to at least `size`
/// bytes (short lines, as real mail has).
pub fn sized_message(id: &str, size: usize) -> Vec<u8> {
    let mut text = format!(
        "From: test@example.org\r\nSubject: message {id}\r\nMessage-ID: <{id}@test>\r\n\
         Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n\r\nbody of {id}\r\n"
    );
    while text.len() < size {
        text.push_str("a line of text to give the message some size, as mail has\r\n");
    }
    text.into_bytes()
}

/// How to reach `user` on the test Dovecot: plain text on loopback, patient reads.
pub fn dovecot_options(server: &Dovecot, user: &str, password: &str) -> ClientOptions {
    let mut options = ClientOptions::new(server.host(), user, Secret::new(password));
    options.port = Some(server.port());
    options.tls = TlsMode::None;
    options.read_timeout = Duration::from_secs(20);
    options
}

/// The `id` of a `Message-ID: <id@...>` header.
pub fn message_id_of(header: &[u8]) -> String {
    let header = String::from_utf8_lossy(header);
    header
        .split_once('<')
        .and_then(|(_, rest)| rest.split_once('@'))
        .map(|(id, _)| id.to_owned())
        .unwrap_or_else(|| panic!("no Message-ID in {header:?}"))
}

/// Message-ID -> (UID, flags) of every copy in the folder `client` has selected.
pub async fn folder_messages(client: &mut Client) -> BTreeMap<String, Vec<(u32, Flags)>> {
    let mut out: BTreeMap<String, Vec<(u32, Flags)>> = BTreeMap::new();
    if client.exists() == 0 {
        return out;
    }
    let request = FetchRequest {
        flags: true,
        header_fields: vec!["MESSAGE-ID".to_owned()],
        ..FetchRequest::default()
    };
    client
        .fetch(&UidRanges::all(), &request, |m| {
            let id = message_id_of(&m.header.unwrap());
            out.entry(id).or_default().push((m.uid, m.flags.unwrap()));
            Ok(())
        })
        .await
        .unwrap();
    out
}

/// Every message on the server: folder (with '/') -> Message-ID -> Maildir flag letters per
/// copy. Every selectable folder is listed, empty ones too.
pub fn server_tree(options: ClientOptions) -> Tree {
    block_on(async {
        let mut client = Client::connect(options).await.unwrap();
        let mut tree = Tree::new();
        for entry in client.list("", "*").await.unwrap() {
            if !entry.selectable() {
                continue;
            }
            let folder = match entry.delimiter {
                Some(d) => entry.name.replace(d, "/"),
                None => entry.name.clone(),
            };
            client
                .select(&entry.name, Default::default())
                .await
                .unwrap();
            let messages = tree.entry(folder).or_default();
            for (id, copies) in folder_messages(&mut client).await {
                for (_, flags) in copies {
                    messages
                        .entry(id.clone())
                        .or_default()
                        .push(flags.maildir_letters());
                }
            }
        }
        client.logout().await.unwrap();
        tree
    })
}

/// [`server_tree`] of `user` on the test Dovecot.
pub fn user_tree(server: &Dovecot, user: &str, password: &str) -> Tree {
    server_tree(dovecot_options(server, user, password))
}

/// Writes `world`'s config: side a the test Dovecot's user (with `a_keys`), side b the
/// verbatim Maildir `b` (with `b_keys`), paired as `p` with `pair_keys`.
pub fn write_imap_maildir_config(
    world: &super::World,
    server: &Dovecot,
    a_keys: &str,
    b_keys: &str,
    pair_keys: &str,
) {
    let sides = (a_keys, b_keys, pair_keys);
    write_imap_maildir_config_via(world, server, server.port(), sides);
}

/// [`write_imap_maildir_config`] with side a reaching the server through `port` on loopback
/// (a proxy in front of it); `keys` are those of side a, side b and the pair.
pub fn write_imap_maildir_config_via(
    world: &super::World,
    server: &Dovecot,
    port: u16,
    keys: (&str, &str, &str),
) {
    let (a_keys, b_keys, pair_keys) = keys;
    let config = format!(
        "[general]\nstate_dir = \"{state}\"\n\n\
         [storage.a]\ntype = \"imap\"\nhost = \"{host}\"\nport = {port}\ntls = \"none\"\n\
         user = \"{user}\"\npassword = \"{password}\"\n{a_keys}\n\n\
         [storage.b]\ntype = \"maildir\"\npath = \"{b}\"\nlayout = \"verbatim\"\n{b_keys}\n\n\
         [pair.p]\na = \"a\"\nb = \"b\"\n{pair_keys}\n",
        state = world.state_dir().display(),
        host = server.host(),
        user = server.user(),
        password = server.password(),
        b = world.root("b").display(),
    );
    std::fs::write(world.config(), config).unwrap();
}

/// Runs `sync` with the IMAP wire log on stderr and insists that it succeeds.
pub fn sync_logging_wire(world: &World) -> Run {
    let run = Run(world
        .pimlink(&["sync"])
        .env("RUST_LOG", "warn,pimlink_imap::wire=trace")
        .output()
        .unwrap());
    assert_eq!(run.code(), 0, "{run}");
    run
}

/// The verbs of the commands pimlink sent, upper case and in order, from the wire log of a
/// run made by [`sync_logging_wire`].
pub fn client_verbs(run: &Run) -> Vec<String> {
    run.stderr()
        .lines()
        .filter_map(|line| line.split_once("C: ").map(|(_, command)| command))
        .filter_map(|command| command.split_whitespace().nth(1).map(str::to_uppercase))
        .collect()
}

/// What one FETCH response carried, from the wire log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fetched {
    /// The folder selected on the connection when it came (needs `connections = 1`).
    pub folder: String,
    /// The message's UID.
    pub uid: u32,
    /// Bytes of `BODY[]` (a whole message), if it carried one.
    pub body: Option<u64>,
    /// Bytes of `BODY[HEADER.FIELDS (...)]`, if it carried header fields.
    pub header: Option<u64>,
}

/// Every FETCH response of a run made by [`sync_logging_wire`] with one connection, with the
/// folder that connection had selected.
pub fn fetched(run: &Run) -> Vec<Fetched> {
    let mut folder = String::new();
    let mut out = Vec::new();
    for line in run.stderr().lines() {
        if let Some((_, command)) = line.split_once("C: ") {
            let mut words = command.split_whitespace();
            let verb = words.nth(1).map(str::to_uppercase);
            if matches!(verb.as_deref(), Some("SELECT" | "EXAMINE")) {
                folder = words
                    .next()
                    .unwrap_or_default()
                    .trim_matches('"')
                    .to_owned();
            }
            continue;
        }
        let Some((_, response)) = line.split_once("S: * ") else {
            continue;
        };
        let Some((_, items)) = response.split_once(" FETCH (") else {
            continue;
        };
        let Some(uid) = number_after(items, "UID ") else {
            continue;
        };
        out.push(Fetched {
            folder: folder.clone(),
            uid: uid as u32,
            body: literal_after(items, "BODY[] "),
            header: literal_after(items, "BODY[HEADER.FIELDS"),
        });
    }
    out
}

/// The digits right after the first `marker` in `text`.
fn number_after(text: &str, marker: &str) -> Option<u64> {
    let (_, rest) = text.split_once(marker)?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The length of the literal `{n}` that follows the first `marker` in `text`.
fn literal_after(text: &str, marker: &str) -> Option<u64> {
    let (_, rest) = text.split_once(marker)?;
    number_after(rest, "{")
}
