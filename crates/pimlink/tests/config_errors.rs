//! The configuration errors a user sees: the binary must stop with exit status 2 and one line
//! naming the file, the line and the key, before touching any storage.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on failure by design.

use std::path::Path;
use std::process::Command;

/// Runs `pimlink ARGS` with a private HOME and XDG directories under `home`, so that no real
/// configuration or state is read.
fn pimlink(home: &Path, args: &[&str]) -> (Option<i32>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_pimlink"))
        .args(args)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_STATE_HOME", home.join("state"))
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Writes `text` as a config file, runs `pimlink -c FILE list`, and checks the exit status and
/// that stderr holds `FILE:LINE:` and each of `parts`.
fn check(text: &str, line: usize, parts: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.toml");
    std::fs::write(&file, text).unwrap();
    let (code, stderr) = pimlink(dir.path(), &["-c", file.to_str().unwrap(), "list"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:{line}:", file.display())),
        "line {line}: {stderr}"
    );
    for part in parts {
        assert!(stderr.contains(part), "{part:?} missing from: {stderr}");
    }
}

const STORAGES: &str = "[storage.a]\ntype = \"maildir\"\npath = \"a\"\n\n\
                        [storage.b]\ntype = \"maildir\"\npath = \"b\"\n";

#[test]
fn unknown_key() {
    check(
        "[storage.local]\ntype = \"maildir\"\npth = \"~/Mail\"\n",
        3,
        &[
            "storage \"local\": unknown key \"pth\" (expected one of: type, path, layout, read_only, trash, poll_interval)",
        ],
    );
}

#[test]
fn missing_storage() {
    check(
        &format!("{STORAGES}\n[pair.p]\na = \"a\"\nb = \"c\"\n"),
        11,
        &[
            "pair \"p\"",
            "\"b\" names storage \"c\", which is not defined",
        ],
    );
}

#[test]
fn bad_type() {
    check(
        "[storage.x]\ntype = \"mbox\"\npath = \"m\"\n",
        2,
        &["storage \"x\"", "\"type\"", "\"mbox\"", "imap, maildir"],
    );
}

#[test]
fn default_path_is_under_xdg_config_home() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir
        .path()
        .join("config")
        .join("pimlink")
        .join("config.toml");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, "[pair.p]\nbogus = 1\n").unwrap();
    let (code, stderr) = pimlink(dir.path(), &["list"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:2:1:", file.display())),
        "{stderr}"
    );
    assert!(stderr.contains("unknown key \"bogus\""), "{stderr}");
}
