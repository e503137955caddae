//! `sync --json`: every line on stdout is one JSON event of schema 1, and the events say what
//! the run did: collections, each action, the per-collection counts and the summary. Mail
//! (two Maildir trees) and calendars (two vdir trees), real runs and dry runs.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on failure by design.

mod common;

use common::World;
use common::dav::DavWorld;
use serde_json::Value;

/// Every stdout line as JSON; fails on a line that is not, or that lacks the common fields.
fn events(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|line| {
            let event: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}\nall:\n{stdout}"));
            assert_eq!(event["schema"], 1, "{line}");
            assert_eq!(event["pair"], "p", "{line}");
            assert!(event["ts"].as_f64().unwrap() > 1.6e9, "{line}");
            assert!(event["event"].is_string(), "{line}");
            event
        })
        .collect()
}

fn of_kind<'e>(events: &'e [Value], kind: &str) -> Vec<&'e Value> {
    events.iter().filter(|e| e["event"] == kind).collect()
}

#[test]
fn a_mail_run_is_a_stream_of_events_ending_in_its_summary() {
    let world = World::new("");
    world.deliver("a", "INBOX", "one", "S");
    world.deliver("a", "INBOX", "two", "");
    world.deliver("b", "INBOX", "three", "F");

    let dry = world.run(&["sync", "--json", "--dry-run"]);
    assert_eq!(dry.code(), 0, "{dry}");
    let dry = events(&dry.stdout());
    assert_eq!(of_kind(&dry, "planned").len(), 3, "{dry:?}");
    assert!(of_kind(&dry, "action").is_empty(), "a dry run does nothing");
    let summary = of_kind(&dry, "summary");
    assert_eq!(summary.len(), 1);
    assert_eq!(summary[0]["dry_run"], true);
    assert_eq!(
        world.messages("b").values().map(|f| f.len()).sum::<usize>(),
        1
    );

    let run = world.run(&["sync", "--json"]);
    assert_eq!(run.code(), 0, "{run}");
    let all = events(&run.stdout());
    assert_eq!(
        all.last().unwrap()["event"],
        "summary",
        "the summary comes last"
    );
    let collections = of_kind(&all, "collection");
    assert_eq!(collections.len(), 1);
    assert_eq!(collections[0]["collection"], "INBOX");
    assert_eq!(collections[0]["step"], "sync");
    let copies: Vec<_> = of_kind(&all, "action")
        .into_iter()
        .filter(|e| e["action"] == "copy")
        .collect();
    assert_eq!(copies.len(), 3, "{all:?}");
    let finished = of_kind(&all, "collection_finished");
    assert_eq!(finished[0]["counts"]["copied_a_to_b"], 2);
    assert_eq!(finished[0]["counts"]["copied_b_to_a"], 1);
    assert_eq!(finished[0]["errors"], serde_json::json!([]));
    assert_eq!(finished[0]["refused"], Value::Null);
    let summary = all.last().unwrap();
    assert_eq!(summary["outcome"], "clean");
    assert_eq!(summary["dry_run"], false);
    assert_eq!(summary["collections"], 1);
    assert_eq!(summary["counts"]["copied_a_to_b"], 2);
    assert!(
        run.stdout().lines().all(|l| l.starts_with('{')),
        "text leaked into stdout"
    );

    // Nothing left: a collection event, a finished event with zero counts, the summary.
    let again = world.run(&["sync", "--json"]);
    let again = events(&again.stdout());
    assert!(of_kind(&again, "action").is_empty(), "{again:?}");
    assert_eq!(again.last().unwrap()["counts"]["copied_a_to_b"], 0);
}

#[test]
fn a_refused_collection_says_why_and_the_summary_is_refused() {
    let world = World::new("");
    for i in 0..12 {
        world.deliver("a", "INBOX", &format!("m{i}"), "S");
    }
    world.sync_ok();
    std::fs::remove_dir_all(world.root("b").join("INBOX")).unwrap();
    let run = world.run(&["sync", "--json"]);
    assert_eq!(run.code(), 5, "{run}");
    let all = events(&run.stdout());
    let finished = of_kind(&all, "collection_finished");
    assert!(finished[0]["refused"].is_string(), "{all:?}");
    assert_eq!(all.last().unwrap()["outcome"], "refused");
}

#[test]
fn a_calendar_run_reports_its_items() {
    let world = DavWorld::new(
        &format!(
            "type = \"vdir\"\npath = \"{}\"\nfileext = \".ics\"",
            "REMOTE"
        ),
        "collections = [\"from a\"]",
    );
    // The remote side is a second vdir in the world's directory.
    let remote = world.dir.path().join("remote");
    let config = world.dir.path().join("config.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace("REMOTE", &remote.display().to_string()),
    )
    .unwrap();
    std::fs::create_dir_all(remote.join("cal")).unwrap();
    std::fs::write(
        remote.join("cal").join("e1.ics"),
        common::dav::event("e1", "first"),
    )
    .unwrap();

    let run = world.run(&["sync", "--json"]);
    assert_eq!(run.code(), 0, "{run}");
    let all = events(&run.stdout());
    let collection = of_kind(&all, "collection");
    assert_eq!(collection[0]["collection"], "cal");
    assert_eq!(collection[0]["step"], "create");
    assert_eq!(collection[0]["side"], "b");
    let copies: Vec<_> = of_kind(&all, "action")
        .into_iter()
        .filter(|e| e["action"] == "copy")
        .collect();
    assert_eq!(copies.len(), 1, "{all:?}");
    let summary = all.last().unwrap();
    assert_eq!(summary["event"], "summary");
    assert_eq!(summary["counts"]["created_on_b"], 1);
    assert_eq!(summary["outcome"], "clean");
}
