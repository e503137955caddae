//! Where an account's migration state lives: `<state_dir>/migration/NAME/<source user>/`, with
//! the pair status (`migration.sqlite`) and the daily byte count (`daily`).
//!
//! The user name is escaped so that no name, however hostile (`../x`, `a/b`, `.`), reaches
//! outside its migration's directory: every byte outside `A-Z a-z 0-9 _ - @ +` and a `.` that
//! is not the first character becomes `%XX`.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::throttle::DailyCap;

/// The directory of one account's state.
pub fn account_dir(state_dir: &Path, migration: &str, source_user: &str) -> PathBuf {
    state_dir
        .join("migration")
        .join(migration)
        .join(escape(source_user))
}

/// `source_user` as one safe file name.
pub fn escape(source_user: &str) -> String {
    if source_user.is_empty() {
        // Not a name the accounts file lets through; still one file name of its own.
        return "%".to_owned();
    }
    let mut out = String::with_capacity(source_user.len());
    for (i, byte) in source_user.bytes().enumerate() {
        let plain = byte.is_ascii_alphanumeric()
            || matches!(byte, b'_' | b'-' | b'@' | b'+')
            || (byte == b'.' && i > 0);
        if plain {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The daily count an earlier run left: `(UTC day, bytes)`. A missing or unreadable file counts
/// as nothing copied (the worst case is one day's cap copied twice).
pub fn read_daily(dir: &Path) -> Option<(u64, u64)> {
    let text = std::fs::read_to_string(dir.join("daily")).ok()?;
    let (day, used) = text.trim().split_once(' ')?;
    Some((day.parse().ok()?, used.parse().ok()?))
}

/// Keeps the daily count for the next run of the same day: written to a temporary file and
/// renamed over the old one, so a crash leaves either count whole.
pub fn write_daily(dir: &Path, cap: &DailyCap) -> std::io::Result<()> {
    let tmp = dir.join("daily.tmp");
    let mut file = std::fs::File::create(&tmp)?;
    writeln!(file, "{} {}", cap.day, cap.used)?;
    file.sync_all()?;
    std::fs::rename(&tmp, dir.join("daily"))
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
}
