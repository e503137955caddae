//! Where an account's migration state lives: `<state_dir>/migration/NAME/<source user>/`, with
//! the pair status (`migration.sqlite`), the daily byte count (`daily`) and the folder plan of
//! the first run (`folders.json`).
//!
//! The user name is escaped so that no name, however hostile (`../x`, `a/b`, `.`), reaches
//! outside its migration's directory: every byte outside `A-Z a-z 0-9 _ - @ +` and a `.` that
//! is not the first character becomes `%XX`.

use std::path::{Path, PathBuf};

use super::folders::FolderPlan;
use super::throttle::DailyCap;

/// The directory of one account's state.
pub fn account_dir(state_dir: &Path, migration: &str, source_user: &str) -> PathBuf {
    state_dir
        .join("migration")
        .join(migration)
        .join(escape(source_user))
}

/// `source_user` as one safe file name: escaped as a replication's user names are
/// ([`crate::replicate::users::escape_file_name`]); an empty name gets one of its own.
pub fn escape(source_user: &str) -> String {
    if source_user.is_empty() {
        // Not a name the accounts file lets through; still one file name of its own.
        return "%".to_owned();
    }
    crate::replicate::users::escape_file_name(source_user)
}

/// The daily count an earlier run left: `(UTC day, bytes)`. A missing or unreadable file counts
/// as nothing copied (the worst case is one day's cap copied twice).
pub fn read_daily(dir: &Path) -> Option<(u64, u64)> {
    let text = std::fs::read_to_string(dir.join("daily")).ok()?;
    let (day, used) = text.trim().split_once(' ')?;
    Some((day.parse().ok()?, used.parse().ok()?))
}

/// Keeps the daily count for the next run of the same day.
pub fn write_daily(dir: &Path, cap: &DailyCap) -> std::io::Result<()> {
    replace(
        dir,
        "daily",
        format!("{} {}\n", cap.day, cap.used).as_bytes(),
    )
}

/// The folder plan an earlier run kept; `None` if there is none (or it cannot be read, which
/// makes the run plan again).
pub fn read_folder_plan(dir: &Path) -> Option<FolderPlan> {
    let text = std::fs::read(dir.join("folders.json")).ok()?;
    serde_json::from_slice(&text).ok()
}

/// Keeps the folder plan for every later run, before anything is copied under it.
pub fn write_folder_plan(dir: &Path, plan: &FolderPlan) -> std::io::Result<()> {
    let text = serde_json::to_vec_pretty(plan).map_err(std::io::Error::other)?;
    replace(dir, "folders.json", &text)
}

/// Writes `name` in `dir` through a temporary file renamed over it, fsynced and private
/// (0600), so that a crash leaves the old or the new content whole.
fn replace(dir: &Path, name: &str, content: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    crate::atomic_file::replace(&dir.join(name), content)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_user_names_stay_inside_the_migrations_directory() {
        let root = Path::new("/state");
        for user in ["../../etc", "a/b", ".", "..", "/abs", "x\0y", "ü", ""] {
            let dir = account_dir(root, "m", user);
            let name = dir.strip_prefix("/state/migration/m").unwrap();
            let parts: Vec<_> = name.components().collect();
            assert!(
                parts.len() == 1 && matches!(parts[0], std::path::Component::Normal(_)),
                "{user:?} -> {}",
                dir.display()
            );
        }
        assert_eq!(escape("alice@example.org"), "alice@example.org");
        assert_eq!(escape("../x"), "%2E.%2Fx");
        // Distinct names stay distinct.
        assert_ne!(escape("a/b"), escape("a%2Fb"));
    }

    #[test]
    fn the_daily_count_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_daily(dir.path()), None);
        let cap = DailyCap {
            limit: 10,
            day: 20_429,
            used: 12_345,
        };
        write_daily(dir.path(), &cap).unwrap();
        assert_eq!(read_daily(dir.path()), Some((20_429, 12_345)));
    }

    #[test]
    fn the_folder_plan_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_folder_plan(dir.path()), None);
        let plan = FolderPlan {
            renames: vec![("Sent Items".into(), "Sent".into())],
            skipped: vec!["[Gmail]/All Mail".into()],
        };
        write_folder_plan(dir.path(), &plan).unwrap();
        assert_eq!(read_folder_plan(dir.path()), Some(plan));
    }
}
