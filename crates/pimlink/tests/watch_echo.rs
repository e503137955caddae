//! The echoes of pimlink's own writes (issue 14): the daemon's sync uploads to the server, the
//! IMAP watcher (`pimlink_imap::watch`, as `pimlink daemon` runs it) reports the change like
//! anyone else's, the daemon syncs again, and that sync must write nothing, so that nothing
//! more is reported: one check run, then quiet, never a loop. A private Dovecot <-> a Maildir.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on failure by design.

mod common;

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use common::imap::{
    client_verbs, dovecot_options, message, sync_logging_wire, write_imap_maildir_config,
};
use common::{World, block_on};
use pimlink_imap::watch::{Event, WatchOptions, watch};
use pimlink_testkit::DovecotBuilder;

/// How long any awaited event may take.
const DEADLINE: Duration = Duration::from_secs(60);
/// How long without an event counts as quiet. A late echo would only make the test pass
/// wrongly on a very slow machine, never fail it wrongly.
const QUIET: Duration = Duration::from_secs(3);

/// Runs the watcher on a thread of its own; its events arrive on the returned channel.
fn start_watcher(options: WatchOptions) -> Receiver<Event> {
    let (events_tx, events) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        block_on(async move {
            let (tx, mut rx) = tokio::sync::mpsc::channel(256);
            tokio::spawn(watch(options, tx));
            while let Some(event) = rx.recv().await {
                if events_tx.send(event).is_err() {
                    break;
                }
            }
        });
    });
    events
}

fn expect(events: &Receiver<Event>, what: &str, want: impl Fn(&Event) -> bool) {
    let end = Instant::now() + DEADLINE;
    let mut seen = Vec::new();
    loop {
        match events.recv_timeout(end.saturating_duration_since(Instant::now())) {
            Ok(event) if want(&event) => return,
            Ok(event) => seen.push(event),
            Err(_) => panic!("no event for {what}; saw {seen:?}"),
        }
    }
}

/// Every event until none came for [`QUIET`].
fn until_quiet(events: &Receiver<Event>) -> Vec<Event> {
    let mut seen = Vec::new();
    loop {
        match events.recv_timeout(QUIET) {
            Ok(event) => seen.push(event),
            Err(RecvTimeoutError::Timeout) => return seen,
            Err(RecvTimeoutError::Disconnected) => panic!("the watcher stopped"),
        }
    }
}

const WRITES: [&str; 7] = [
    "APPEND", "STORE", "EXPUNGE", "MOVE", "COPY", "CREATE", "DELETE",
];

#[test]
fn the_echo_of_a_sync_leads_to_one_run_that_writes_nothing_then_quiet() {
    let server = DovecotBuilder::new().start().unwrap();
    let (user, password) = (server.user().to_owned(), server.password().to_owned());
    server
        .deliver(&user, "INBOX", &message("server-0"))
        .unwrap();
    let world = World::new("");
    write_imap_maildir_config(&world, &server, "", "", "");
    world.sync_ok();

    for notify in [true, false] {
        let mut options = WatchOptions::new(dovecot_options(&server, &user, &password));
        options.notify = notify;
        options.poll_interval = Duration::from_millis(500);
        let events = start_watcher(options);
        expect(&events, "the session start", |e| *e == Event::Everything);
        until_quiet(&events);

        // The daemon's sync uploads new local mail: the watcher sees it, as it must.
        for i in 0..3 {
            world.deliver("b", "INBOX", &format!("local-{notify}-{i}"), "S");
        }
        let run = sync_logging_wire(&world);
        assert!(client_verbs(&run).contains(&"APPEND".to_owned()), "{run}");
        expect(
            &events,
            "the echo of the upload",
            |e| matches!(e, Event::Folder { name, .. } if name == "INBOX"),
        );
        until_quiet(&events);

        // The sync the echo causes finds everything paired: it writes nothing to the server...
        let run = sync_logging_wire(&world);
        let verbs = client_verbs(&run);
        let writes: Vec<_> = verbs
            .iter()
            .filter(|v| WRITES.contains(&v.as_str()))
            .collect();
        assert!(writes.is_empty(), "the check run wrote {writes:?}:\n{run}");
        // ...so the watcher has nothing to report: the daemon goes quiet.
        let after = until_quiet(&events);
        assert!(
            after.is_empty(),
            "the check run caused {after:?} (notify {notify})"
        );
    }
}
