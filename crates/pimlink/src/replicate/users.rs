//! Who is replicated: the names on the command line (`-u`), or every configured user (`-A`:
//! `users`, `users_file`, `users_command`, joined in that order, each name once).

use std::fmt;

use anyhow::{Context, Result};

use crate::cli::ReplicateArgs;
use crate::config::{ReplicationConfig, UserLogin, check_user_name};
use crate::failure::UsageError;

/// One replicated user, as the servers know them (`alice`, `bob@example.org`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct User(String);

impl User {
    /// `name`, if it can be a user name (not empty, no control characters).
    pub fn new(name: &str) -> Result<Self> {
        check_user_name(name).map_err(UsageError)?;
        Ok(Self(name.to_owned()))
    }

    /// The name as the servers know it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name as one file name component: bytes other than ASCII letters, digits, `-`,
    /// `_`, `@`, `+` and a `.` that does not start it are written `%XX`. A user name comes
    /// from a file or a command, so it must never name another directory (`..`, `a/b`) or
    /// a hidden file; distinct names stay distinct, as `%` itself is escaped.
    pub fn file_name(&self) -> String {
        escape_file_name(&self.0)
    }
}

/// `name` as one file name component: bytes other than ASCII letters, digits, `-`, `_`, `@`,
/// `+` and a `.` that does not start it are written `%XX`, so that no name reaches another
/// directory or makes a hidden file, and distinct names stay distinct (`%` is escaped too).
/// Migration's per-account state uses it as well.
pub fn escape_file_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for (i, byte) in name.bytes().enumerate() {
        let plain = byte.is_ascii_alphanumeric()
            || matches!(byte, b'-' | b'_' | b'@' | b'+')
            || (byte == b'.' && i > 0);
        if plain {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

impl fmt::Display for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The users a run works on: `-u USER...`, every configured user with `-A`, or the one
/// account of a replication whose sides log in as themselves (named by the master's user).
pub fn resolve(repl: &ReplicationConfig, args: &ReplicateArgs) -> Result<Vec<User>> {
    if !args.users.is_empty() {
        return dedup(args.users.iter().map(String::as_str));
    }
    if repl.users.is_empty() {
        return Ok(vec![self_user(repl)]);
    }
    if !args.all_users {
        return Err(UsageError(format!(
            "replication {} has several users: name them with -u USER, or replicate all with -A",
            repl.name
        ))
        .into());
    }
    configured(repl)
}

/// Every configured user: `users`, then `users_file`, then `users_command`.
pub fn configured(repl: &ReplicationConfig) -> Result<Vec<User>> {
    let mut names: Vec<String> = repl.users.list.clone();
    if let Some(path) = &repl.users.file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading users_file {}", path.display()))?;
        names.extend(lines(&text));
    }
    if let Some(command) = &repl.users.command {
        names.extend(lines(&run_command(command)?));
    }
    dedup(names.iter().map(String::as_str))
}

/// The one user of a replication without users: a name for the state file and messages.
fn self_user(repl: &ReplicationConfig) -> User {
    // Both logins are "self" (or the sides are plain Maildir trees), checked when parsed.
    debug_assert!(
        repl.master_login == UserLogin::SelfOnly && repl.replica_login == UserLogin::SelfOnly
    );
    User(repl.master.clone())
}

/// The user names of a file or a command's output: one a line, `#` comments and blank lines
/// ignored, surrounding blanks trimmed.
fn lines(text: &str) -> impl Iterator<Item = String> + '_ {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(str::to_owned)
}

fn run_command(command: &str) -> Result<String> {
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .output()
        .with_context(|| format!("running users_command {command:?}"))?;
    if !out.status.success() {
        anyhow::bail!("users_command {command:?} failed ({})", out.status);
    }
    String::from_utf8(out.stdout)
        .with_context(|| format!("users_command {command:?} printed text that is not UTF-8"))
}

/// Checked users, each once, in first-seen order.
fn dedup<'a>(names: impl Iterator<Item = &'a str>) -> Result<Vec<User>> {
    let mut seen = std::collections::BTreeSet::new();
    let mut users = Vec::new();
    for name in names {
        let user = User::new(name)?;
        if seen.insert(user.clone()) {
            users.push(user);
        }
    }
    Ok(users)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_stay_in_their_directory() {
        for (name, file) in [
            ("alice", "alice"),
            ("bob@example.org", "bob@example.org"),
            ("..", "%2E."),
            ("../../etc/passwd", "%2E.%2F..%2Fetc%2Fpasswd"),
            (".hidden", "%2Ehidden"),
            ("a/b", "a%2Fb"),
            ("50%", "50%25"),
            ("jörg", "j%C3%B6rg"),
        ] {
            let got = User::new(name).unwrap().file_name();
            assert_eq!(got, file, "{name:?}");
            assert!(!got.contains('/') && !got.starts_with('.'), "{name:?}");
        }
    }

    #[test]
    fn lines_skip_comments_and_blanks() {
        let got: Vec<String> = lines("alice\n  # who\n\n bob \n#carol\n").collect();
        assert_eq!(got, ["alice", "bob"]);
    }

    #[test]
    fn names_are_checked_and_kept_once() {
        let users = dedup(["a", "b", "a"].into_iter()).unwrap();
        assert_eq!(users, [User("a".into()), User("b".into())]);
        assert!(dedup(["a\nb"].into_iter()).is_err());
        assert!(dedup([" "].into_iter()).is_err());
    }
}
