//! Reading and writing a pair's status database directly, to set up what an interrupted run
//! leaves behind and to check what a run recorded.

use super::World;

/// Runs `query` on the pair `p`'s status database with the sqlite3 tool; returns its output.
pub fn status_sql(world: &World, query: &str) -> String {
    let out = std::process::Command::new("sqlite3")
        .arg(world.state_dir().join("p.sqlite"))
        .arg(query)
        .output()
        .expect("sqlite3 (Debian package sqlite3) is installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}
