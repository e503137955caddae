//! The accounts file of `pimlink migrate --accounts FILE`: imapsync's mass-migration format,
//! one account per line, `source_user;source_password;destination_user;destination_password`,
//! with `#` comments and blank lines ignored. A password field may name where the password is
//! instead of holding it: `cmd:COMMAND` (the first line a `sh -c` command prints), `file:PATH`
//! (the file's first line) or `env:VAR`.
//!
//! Parsing is pure and never resolves a password; [`Password::resolve`] does, once the account's
//! turn comes. No error message quotes a password field.

use std::fmt;
use std::path::PathBuf;

use crate::config::{PasswordSource, Secret};

/// One line of the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// The line it is on (1-based), for messages.
    pub line: usize,
    /// The login on the source server; it also names the account's state and report row.
    pub source_user: String,
    /// Where the source password comes from.
    pub source_password: Password,
    /// The login on the destination server.
    pub destination_user: String,
    /// Where the destination password comes from.
    pub destination_password: Password,
}

/// Where one password comes from; `Debug` never shows a literal one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Password {
    /// Written in the file.
    Literal(Secret),
    /// `cmd:COMMAND`.
    Command(String),
    /// `file:PATH`.
    File(PathBuf),
    /// `env:VAR`.
    Env(String),
}

/// A line that is not an account; says which and why, never what its password fields hold.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {why}")]
pub struct LineError {
    /// 1-based.
    pub line: usize,
    /// What is wrong.
    pub why: String,
}

/// Parses the whole file; the first bad line is the error (a migration with a mistyped line
/// should not start half of the accounts).
pub fn parse(text: &str) -> Result<Vec<Account>, LineError> {
    let mut accounts = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if raw.trim().is_empty() || raw.trim_start().starts_with('#') {
            continue;
        }
        let error = |why: &str| LineError {
            line,
            why: why.to_owned(),
        };
        let mut fields: Vec<&str> = raw.split(';').collect();
        // imapsync's lists often end each line with a separator.
        if fields.len() == 5 && fields[4].trim().is_empty() {
            fields.pop();
        }
        let [
            source_user,
            source_password,
            destination_user,
            destination_password,
        ] = fields.as_slice()
        else {
            return Err(error(&format!(
                "expected 4 fields separated by \";\" (source_user;source_password;\
                 destination_user;destination_password), found {}; a password containing \
                 \";\" must come from cmd:, file: or env:",
                fields.len()
            )));
        };
        let user = |text: &str, what: &str| {
            let text = text.trim();
            if text.is_empty() {
                Err(error(&format!("the {what} is empty")))
            } else {
                Ok(text.to_owned())
            }
        };
        let password = |text: &str, what: &str| {
            Password::parse(text).ok_or_else(|| error(&format!("the {what} is empty")))
        };
        accounts.push(Account {
            line,
            source_user: user(source_user, "source user")?,
            source_password: password(source_password, "source password")?,
            destination_user: user(destination_user, "destination user")?,
            destination_password: password(destination_password, "destination password")?,
        });
    }
    let mut seen = std::collections::HashMap::new();
    for account in &accounts {
        if let Some(first) = seen.insert(account.source_user.as_str(), account.line) {
            return Err(LineError {
                line: account.line,
                why: format!(
                    "source user {:?} is on line {first} already (each account keeps its state \
                     under its source user)",
                    account.source_user
                ),
            });
        }
    }
    Ok(accounts)
}

impl Password {
    /// A password field; `None` if it is empty.
    fn parse(field: &str) -> Option<Password> {
        fn named(rest: &str) -> Option<&str> {
            Some(rest.trim()).filter(|r| !r.is_empty())
        }
        if let Some(command) = field.strip_prefix("cmd:") {
            return named(command).map(|c| Password::Command(c.to_owned()));
        }
        if let Some(path) = field.strip_prefix("file:") {
            return named(path).map(|p| Password::File(PathBuf::from(p)));
        }
        if let Some(var) = field.strip_prefix("env:") {
            return named(var).map(|v| Password::Env(v.to_owned()));
        }
        // A literal password keeps its spaces: they may be part of it.
        (!field.is_empty()).then(|| Password::Literal(Secret::new(field)))
    }

    /// The password itself. Errors name the command, file or variable, never a password.
    pub fn resolve(&self) -> Result<Secret, ResolveError> {
        match self {
            Password::Literal(secret) => Ok(secret.clone()),
            Password::Command(command) => PasswordSource::Command(command.clone())
                .resolve()
                .map_err(|e| ResolveError(e.to_string())),
            Password::File(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| ResolveError(format!("cannot read {}: {e}", path.display())))?;
                let first = text.lines().next().unwrap_or("");
                let first = first.strip_suffix('\r').unwrap_or(first);
                if first.is_empty() {
                    return Err(ResolveError(format!(
                        "{}: its first line is empty",
                        path.display()
                    )));
                }
                Ok(Secret::new(first))
            }
            Password::Env(var) => match std::env::var(var) {
                Ok(value) if !value.is_empty() => Ok(Secret::new(value)),
                _ => Err(ResolveError(format!(
                    "environment variable {var} is not set or empty"
                ))),
            },
        }
    }
}

/// A password that could not be had.
#[derive(Debug)]
pub struct ResolveError(String);

impl fmt::Display for ResolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ResolveError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_accounts_comments_and_password_sources() {
        let text = "# source;password;destination;password\n\
                    \n\
                    alice;s3cret;alice@new;n3w\n\
                    \x20 bob ;cmd:pass show bob;bob@new;file:/run/pw/bob;\r\n\
                    carol;env:CAROL_PW;carol;pass with spaces \n";
        let accounts = parse(text).unwrap();
        assert_eq!(accounts.len(), 3);
        assert_eq!(accounts[0].line, 3);
        assert_eq!(accounts[0].source_user, "alice");
        assert_eq!(
            accounts[0].source_password,
            Password::Literal(Secret::new("s3cret"))
        );
        assert_eq!(accounts[0].destination_user, "alice@new");
        assert_eq!(accounts[1].source_user, "bob");
        assert_eq!(
            accounts[1].source_password,
            Password::Command("pass show bob".into())
        );
        assert_eq!(
            accounts[1].destination_password,
            Password::File("/run/pw/bob".into())
        );
        assert_eq!(
            accounts[2].source_password,
            Password::Env("CAROL_PW".into())
        );
        assert_eq!(
            accounts[2].destination_password,
            Password::Literal(Secret::new("pass with spaces "))
        );
    }

    #[test]
    fn bad_lines_are_named_and_passwords_never_shown() {
        let cases = [
            ("a;hunter2;b\n", 1, "expected 4 fields"),
            ("# ok\na;hunter2;b;hunter2;x;y\n", 2, "found 6"),
            ("a;hunter2;;hunter2\n", 1, "destination user is empty"),
            ("a;;b;hunter2\n", 1, "source password is empty"),
            ("a;hunter2;b;cmd:  \n", 1, "destination password is empty"),
            (
                "a;hunter2;b;hunter2\n\na;hunter2;c;hunter2\n",
                3,
                "line 1 already",
            ),
        ];
        for (text, line, says) in cases {
            let error = parse(text).unwrap_err();
            assert_eq!(error.line, line, "{text:?}: {error}");
            let message = error.to_string();
            assert!(message.starts_with(&format!("line {line}: ")), "{message}");
            assert!(message.contains(says), "{text:?}: {message}");
            assert!(!message.contains("hunter2"), "{message}");
            assert!(!format!("{error:?}").contains("hunter2"));
        }
        let accounts = parse("a;hunter2;b;hunter2\n").unwrap();
        assert!(!format!("{accounts:?}").contains("hunter2"));
    }

    #[test]
    fn passwords_resolve_from_each_source() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "from-file\r\nsecond line\n").unwrap();
        assert_eq!(
            Password::File(file).resolve().unwrap().expose(),
            "from-file"
        );
        assert_eq!(
            Password::Command("printf 'from-cmd\\nmore'".into())
                .resolve()
                .unwrap()
                .expose(),
            "from-cmd"
        );
        // PATH is set wherever tests run; its value is beside the point.
        let path = std::env::var("PATH").unwrap();
        assert_eq!(
            Password::Env("PATH".into()).resolve().unwrap().expose(),
            path
        );
        let missing = Password::Env("PIMLINK_TEST_NO_SUCH_VARIABLE".into())
            .resolve()
            .unwrap_err();
        assert!(
            missing
                .to_string()
                .contains("PIMLINK_TEST_NO_SUCH_VARIABLE")
        );
        let gone = Password::File(dir.path().join("none"))
            .resolve()
            .unwrap_err();
        assert!(gone.to_string().contains("cannot read"), "{gone}");
    }
}
