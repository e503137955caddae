//! Collection names as the engine sees them.

use std::fmt;

use crate::error::{Error, ErrorKind};

/// The separator between levels of a collection name inside the engine.
///
/// Every storage translates its own hierarchy delimiter (`.` on many IMAP servers, a directory
/// level on Maildir) to and from this one, so that names compare equal across the two sides of a
/// pair.
pub const HIERARCHY_SEPARATOR: char = '/';

/// A validated collection name such as `INBOX` or `Lists/rust-users`.
///
/// Invariants (checked by [`CollectionName::new`]): not empty, no NUL or other control
/// characters, no empty level (so no leading, trailing or doubled `/`), and no level that is `.`
/// or `..`. These rules are what keep a name from escaping a storage root when it becomes a path;
/// storages add their own restrictions on top (see each storage's docs).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CollectionName(String);

impl CollectionName {
    /// The name of the inbox, which IMAP treats case-insensitively.
    pub const INBOX: &'static str = "INBOX";

    /// Checks `name` and wraps it. `INBOX` in any case is normalised to `INBOX`.
    pub fn new(name: impl Into<String>) -> Result<Self, Error> {
        let name = name.into();
        if name.is_empty() {
            return Err(invalid(&name, "the name is empty"));
        }
        if let Some(c) = name.chars().find(|c| c.is_control()) {
            return Err(invalid(
                &name,
                &format!("it contains the control character U+{:04X}", c as u32),
            ));
        }
        for level in name.split(HIERARCHY_SEPARATOR) {
            match level {
                "" => {
                    return Err(invalid(
                        &name,
                        "it has an empty level (a leading, trailing or doubled '/')",
                    ));
                }
                "." | ".." => return Err(invalid(&name, "it has a '.' or '..' level")),
                _ => {}
            }
        }
        if name.eq_ignore_ascii_case(Self::INBOX) {
            return Ok(Self(Self::INBOX.to_owned()));
        }
        Ok(Self(name))
    }

    /// The name as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The levels of the name, outermost first.
    pub fn levels(&self) -> impl Iterator<Item = &str> {
        self.0.split(HIERARCHY_SEPARATOR)
    }

    /// True for the inbox.
    pub fn is_inbox(&self) -> bool {
        self.0 == Self::INBOX
    }
}

fn invalid(name: &str, why: &str) -> Error {
    Error::new(
        ErrorKind::InvalidName,
        format!("invalid collection name {name:?}: {why}"),
    )
}

impl fmt::Display for CollectionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for CollectionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl AsRef<str> for CollectionName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_and_unicode_names() {
        for ok in [
            "INBOX",
            "Lists/rust",
            "Entwürfe",
            "日本語/メール",
            "a b",
            "[Gmail]/All Mail",
            ".hidden",
        ] {
            assert_eq!(
                CollectionName::new(ok).map(|n| n.0),
                Ok(ok.to_owned()),
                "{ok}"
            );
        }
    }

    #[test]
    fn inbox_is_case_insensitive() {
        assert_eq!(
            CollectionName::new("inbox").map(|n| n.0),
            Ok("INBOX".to_owned())
        );
        assert_eq!(
            CollectionName::new("Inbox/sub").map(|n| n.0),
            Ok("Inbox/sub".to_owned())
        );
    }

    #[test]
    fn refuses_names_that_could_escape() {
        for bad in [
            "", "/etc", "a/", "a//b", "..", "a/../b", ".", "a\0b", "a\nb",
        ] {
            let err = CollectionName::new(bad).expect_err(bad);
            assert_eq!(err.kind(), ErrorKind::InvalidName, "{bad}");
            assert!(err.to_string().contains("invalid collection name"), "{err}");
        }
    }
}
