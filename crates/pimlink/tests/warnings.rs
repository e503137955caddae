//! Warnings on stderr: collection patterns that match nothing, and colour only for a terminal
//! (issue 12).

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on failure by design.

mod common;

use std::io::Read;
use std::process::Stdio;

use common::World;

/// A pair whose patterns include an mbsync-style quoted exclusion and a typo, with a folder
/// "Deleted Items" on side a.
fn world_with_useless_patterns() -> World {
    let world = World::new("collections = [\"*\", \"!\\\"Deleted Items\\\"\", \"Arcive*\"]\n");
    world.deliver("a", "INBOX", "m1", "");
    world.deliver("a", "Deleted Items", "d1", "");
    world
}

#[test]
fn patterns_that_match_nothing_are_warned_about_once_each() {
    let world = world_with_useless_patterns();
    let run = world.sync_ok();
    let stderr = run.stderr();
    let quoted = "pair p: collection pattern \"!\\\"Deleted Items\\\"\" matches no collection on \
                  either side; each pattern is a string of its own, so quotes are part of the \
                  name (mbsync's Patterns need them around names with spaces, pimlink's do not): \
                  write \"!Deleted Items\"";
    assert_eq!(stderr.matches(quoted).count(), 1, "{run}");
    let typo = "pair p: collection pattern \"Arcive*\" matches no collection on either side\n";
    assert_eq!(stderr.matches(typo).count(), 1, "{run}");
    assert!(!stderr.contains("pattern \"*\""), "{run}");
    // Which is why it matters: the folder meant to be left out was synced.
    assert!(world.messages("b").contains_key("Deleted Items"), "{run}");
    // `list` says so too.
    let list = world.run(&["list"]);
    assert_eq!(list.code(), 0, "{list}");
    assert!(
        list.stderr().contains("\"Arcive*\" matches no collection"),
        "{list}"
    );
}

#[test]
fn warnings_written_to_a_file_or_pipe_carry_no_colour_codes() {
    let world = world_with_useless_patterns();
    let log = world.dir.path().join("stderr.log");
    let status = world
        .pimlink(&["sync"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .status()
        .unwrap();
    assert!(status.success());
    let to_file = std::fs::read_to_string(&log).unwrap();
    let to_pipe = world.run(&["sync"]).stderr();
    for stderr in [to_file, to_pipe] {
        assert!(stderr.contains("WARN"), "{stderr}");
        assert!(!stderr.contains('\u{1b}'), "escape codes in: {stderr:?}");
    }
}

/// On a terminal the WARN lines are coloured, unless NO_COLOR is set to anything non-empty.
#[test]
fn a_terminal_gets_colour_unless_no_color_is_set() {
    let world = world_with_useless_patterns();
    for (no_color, coloured) in [(None, true), (Some(""), true), (Some("1"), false)] {
        let stderr = stderr_on_a_terminal(&world, no_color);
        assert!(stderr.contains("WARN"), "{stderr:?}");
        assert_eq!(
            stderr.contains("\u{1b}["),
            coloured,
            "NO_COLOR={no_color:?}: {stderr:?}"
        );
    }
}

/// Runs `pimlink sync` with its stderr on a new pseudo-terminal and returns what it wrote there.
fn stderr_on_a_terminal(world: &World, no_color: Option<&str>) -> String {
    use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).unwrap();
    grantpt(&master).unwrap();
    unlockpt(&master).unwrap();
    let name = ptsname(&master, Vec::new()).unwrap();
    let terminal = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(name.to_str().unwrap())
        .unwrap();
    let mut command = world.pimlink(&["sync"]);
    command
        .stdout(Stdio::null())
        .stderr(Stdio::from(terminal))
        .env_remove("NO_COLOR");
    if let Some(value) = no_color {
        command.env("NO_COLOR", value);
    }
    let mut child = command.spawn().unwrap();
    // The parent's copy of the terminal went with the Command: once the child exits, reading
    // the master ends (EIO) after everything it wrote.
    drop(command);
    let mut master = std::fs::File::from(master);
    let mut out = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        match master.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buffer[..n]),
            Err(error) if error.raw_os_error() == Some(rustix::io::Errno::IO.raw_os_error()) => {
                break;
            }
            Err(error) => panic!("reading the terminal: {error}"),
        }
    }
    assert!(child.wait().unwrap().success());
    String::from_utf8_lossy(&out).into_owned()
}
