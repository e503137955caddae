//! `pimlink daemon` on a CalDAV pair (Radicale and a vdir, issue 14): the server is polled at
//! its `poll_interval`, so an event edited there reaches the vdir, and an edit in the vdir
//! reaches the server, while the daemon runs. Waits end when the change is seen.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on failure by design.

mod common;

use std::fs;

use common::daemon::{Daemon, wait_until};
use common::dav::{DavWorld as World, put, remote};
use pimlink_testkit::Radicale;

fn summary(items: &std::collections::BTreeMap<String, String>, uid: &str) -> Option<String> {
    items.get(uid).cloned()
}

#[test]
fn events_edited_on_either_side_reach_the_other_while_the_daemon_runs() {
    let server = Radicale::start().unwrap();
    server.create_calendar("work").unwrap();
    put(&server, "work", "w1", "standup");
    let world = World::radicale(&server, "");
    let config = world.dir.path().join("config.toml");
    let text = fs::read_to_string(&config).unwrap();
    // Both storages polled every second; the tables' keys follow their headers.
    let text = text
        .replace(
            "[storage.remote]\n",
            "[storage.remote]\npoll_interval = \"1s\"\n",
        )
        .replace(
            "[storage.local]\n",
            "[storage.local]\npoll_interval = \"1s\"\n",
        );
    fs::write(&config, format!("{text}\n[daemon]\ndebounce = \"100ms\"\n")).unwrap();

    let daemon = Daemon::ready(&config, &[]);
    wait_until("the first sync", || {
        summary(&world.local("work"), "w1").as_deref() == Some("standup")
    });

    put(&server, "work", "w1", "standup moved");
    wait_until("the server's edit in the vdir", || {
        summary(&world.local("work"), "w1").as_deref() == Some("standup moved")
    });

    world.write_local("work", "w1", "standup cancelled");
    wait_until("the vdir's edit on the server", || {
        summary(&remote(&server, "work"), "w1").as_deref() == Some("standup cancelled")
    });
    daemon.stop();
}
