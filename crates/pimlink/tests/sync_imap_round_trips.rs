//! What an IMAP run costs in round trips, the unit a user of a distant server pays in (bench
//! `--latency`): commands that may share one are sent together, counted in the wire log.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on failure by design.

mod common;

use common::imap::{message, sync_logging_wire, user_tree, write_imap_maildir_config};
use common::{World, set_local_flags};
use pimlink_testkit::DovecotBuilder;

/// The wire log's lines from the first `verb` command the client sent to the last, each as
/// `C: ...` or `S: ...`.
fn wire_between_first_and_last(run: &common::Run, verb: &str) -> Vec<String> {
    let wire: Vec<String> = run
        .stderr()
        .lines()
        .filter_map(|line| {
            ["C: ", "S: "].iter().find_map(|mark| {
                line.split_once(mark)
                    .map(|(_, text)| format!("{mark}{text}"))
            })
        })
        .collect();
    let is_verb = |line: &String| {
        line.starts_with("C: ") && line.to_ascii_uppercase().contains(&format!(" {verb} "))
    };
    let (Some(first), Some(last)) = (
        wire.iter().position(is_verb),
        wire.iter().rposition(is_verb),
    ) else {
        return Vec::new();
    };
    wire[first..=last].to_vec()
}

/// A folder whose messages get flags added, removed and replaced locally sends its UID STOREs
/// (one per kind of change) together, before reading the first answer: one round trip instead
/// of one each. They touch different messages, so the order the server applies them in cannot
/// matter.
#[test]
fn flag_changes_of_a_folder_share_one_round_trip() {
    let server = DovecotBuilder::new().start().unwrap();
    let user = server.user().to_owned();
    for i in 0..3 {
        server
            .deliver(&user, "INBOX", &message(&format!("m{i}")))
            .unwrap();
    }
    let world = World::new("");
    write_imap_maildir_config(&world, &server, "connections = 1", "", "");
    let inbox = world.root("b").join("INBOX");
    world.sync_ok();
    set_local_flags(&inbox, "m1", "S");
    world.sync_ok();
    world.sync_ok();

    set_local_flags(&inbox, "m0", "F"); // \Flagged added
    set_local_flags(&inbox, "m1", ""); // \Seen removed
    set_local_flags(&inbox, "m2", "FS"); // \Flagged and \Seen added
    let run = sync_logging_wire(&world);

    let stores = wire_between_first_and_last(&run, "STORE");
    let sent = stores.iter().filter(|line| line.starts_with("C: ")).count();
    assert_eq!(
        sent, 3,
        "three UID STOREs, all sent before any answer: {stores:#?}"
    );
    assert_eq!(stores.len(), 3, "no answer read between them: {stores:#?}");

    let on_server = user_tree(&server, &user, server.password());
    assert_eq!(on_server["INBOX"]["m0"], ["F"]);
    assert_eq!(on_server["INBOX"]["m1"], [""]);
    assert_eq!(on_server["INBOX"]["m2"], ["FS"]);
    assert_eq!(on_server, world.messages("b"));
    assert!(world.sync_ok().stdout().contains("changed: nothing"));
}
