//! The change log's format (pure): which users and mailboxes changed, not what changed, as
//! Cyrus's `sync/log` says it to `sync_client`. One line per change:
//!
//! ```text
//! USER alice                  # anything of alice may have changed
//! MAILBOX alice "Sent Items"  # one mailbox (or several: MAILBOX alice INBOX Archive/2024)
//! APPEND alice INBOX          # the same as MAILBOX
//! alice                       # a name alone is a user
//! ```
//!
//! Names are atoms, or quoted (`"..."`, with `\"` and `\\` inside) when they hold spaces,
//! quotes or `#`. A mailbox is named as the engine names it: levels joined by `/` whatever
//! the server's delimiter, `INBOX` in any case. Keywords are case-insensitive; blank lines
//! and `#` comments are ignored; the last line may lack its newline. Repeated names merge,
//! and a user named whole absorbs that user's mailboxes.
//!
//! A line with an unknown keyword still names a user (its second word): that user is
//! replicated whole, which costs time but never misses a change. Only a line that names no
//! one (an unterminated quote, a keyword without a user, bytes that are not UTF-8) is
//! skipped, and reported.
//!
//! Not here: reading, renaming and removing the file (`logfile.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// What to replicate for one user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Every mailbox, the folder list and the subscriptions.
    Whole,
    /// These mailboxes only.
    Mailboxes(BTreeSet<String>),
}

/// The users and mailboxes that changed, merged: each user once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Work {
    users: BTreeMap<String, Scope>,
}

impl Work {
    /// Adds `user`, whole.
    pub fn user(&mut self, user: &str) {
        self.users.insert(user.to_owned(), Scope::Whole);
    }

    /// Adds one mailbox of `user` (nothing new if the user is already whole).
    pub fn mailbox(&mut self, user: &str, mailbox: &str) {
        let mailbox = canonical(mailbox);
        match self.users.get_mut(user) {
            Some(Scope::Whole) => {}
            Some(Scope::Mailboxes(mailboxes)) => {
                mailboxes.insert(mailbox);
            }
            None => {
                self.users
                    .insert(user.to_owned(), Scope::Mailboxes(BTreeSet::from([mailbox])));
            }
        }
    }

    /// Adds everything of `other`.
    pub fn merge(&mut self, other: Work) {
        for (user, scope) in other.users {
            match scope {
                Scope::Whole => self.user(&user),
                Scope::Mailboxes(mailboxes) => {
                    for mailbox in mailboxes {
                        self.mailbox(&user, &mailbox);
                    }
                }
            }
        }
    }

    /// True when nothing changed.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// Each user once, in name order, with what to replicate.
    pub fn users(&self) -> impl Iterator<Item = (&str, &Scope)> {
        self.users
            .iter()
            .map(|(user, scope)| (user.as_str(), scope))
    }

    /// Keeps only the users `keep` accepts (the replication's users).
    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        self.users.retain(|user, _| keep(user));
    }
}

/// `INBOX` is case-insensitive (RFC 3501); every other name is kept as written.
fn canonical(mailbox: &str) -> String {
    if mailbox.eq_ignore_ascii_case("INBOX") {
        "INBOX".to_owned()
    } else {
        mailbox.to_owned()
    }
}

/// A line that named no one, skipped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// 1 for the first line.
    pub line: usize,
    /// Why it names no one.
    pub reason: &'static str,
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// A line read: whose change it names, and a note when it was not fully understood.
#[derive(Debug, PartialEq, Eq)]
enum Line {
    Nothing,
    User(String),
    Mailboxes(String, Vec<String>),
    /// An unknown keyword: its user is replicated whole.
    Unknown(String),
}

/// Reads a whole log. Returns what it names and the lines it had to skip.
pub fn parse(bytes: &[u8]) -> (Work, Vec<Skipped>) {
    let mut work = Work::default();
    let mut skipped = Vec::new();
    for (index, line) in bytes.split(|&b| b == b'\n').enumerate() {
        let number = index + 1;
        let parsed = std::str::from_utf8(line)
            .map_err(|_| "not UTF-8")
            .and_then(parse_line);
        match parsed {
            Ok(Line::Nothing) => {}
            Ok(Line::User(user)) => work.user(&user),
            Ok(Line::Mailboxes(user, mailboxes)) => {
                for mailbox in mailboxes {
                    work.mailbox(&user, &mailbox);
                }
            }
            Ok(Line::Unknown(user)) => {
                tracing::warn!(
                    "change log line {number}: unknown keyword; replicating {user:?} whole"
                );
                work.user(&user);
            }
            Err(reason) => skipped.push(Skipped {
                line: number,
                reason,
            }),
        }
    }
    (work, skipped)
}

fn parse_line(line: &str) -> Result<Line, &'static str> {
    let words = words(line)?;
    let mut words = words.into_iter();
    let Some(first) = words.next() else {
        return Ok(Line::Nothing);
    };
    let rest: Vec<String> = words.map(|word| word.text).collect();
    let Some((user, mailboxes)) = rest.split_first() else {
        return non_empty(first.text).map(Line::User);
    };
    if first.quoted {
        return Err("a quoted name must be alone on its line (or follow a keyword)");
    }
    let user = non_empty(user.clone())?;
    match first.text.to_ascii_uppercase().as_str() {
        "USER" if mailboxes.is_empty() => Ok(Line::User(user)),
        "USER" => Err("USER takes one name"),
        "MAILBOX" | "APPEND" if mailboxes.is_empty() => Err("MAILBOX needs a user and a mailbox"),
        "MAILBOX" | "APPEND" => {
            let mailboxes = mailboxes
                .iter()
                .map(|mailbox| non_empty(mailbox.clone()))
                .collect::<Result<_, _>>()?;
            Ok(Line::Mailboxes(user, mailboxes))
        }
        _ => Ok(Line::Unknown(user)),
    }
}

fn non_empty(name: String) -> Result<String, &'static str> {
    if name.is_empty() {
        Err("an empty name")
    } else {
        Ok(name)
    }
}

struct Word {
    text: String,
    quoted: bool,
}

/// Splits a line into words: atoms and quoted strings, up to a `#` comment.
fn words(line: &str) -> Result<Vec<Word>, &'static str> {
    let mut words = Vec::new();
    let mut chars = line.trim_end_matches('\r').chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        match chars.peek() {
            None | Some('#') => return Ok(words),
            Some('"') => {
                chars.next();
                let mut text = String::new();
                loop {
                    match chars.next() {
                        None => return Err("a quote is not closed"),
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\')) => text.push(c),
                            _ => return Err("only \\\" and \\\\ may follow a backslash"),
                        },
                        Some(c) => text.push(c),
                    }
                }
                if chars.peek().is_some_and(|c| !c.is_whitespace()) {
                    return Err("a closing quote must be followed by a space");
                }
                words.push(Word { text, quoted: true });
            }
            Some(_) => {
                let mut text = String::new();
                while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                    if c == '"' {
                        return Err("a quote inside a name (quote the whole name)");
                    }
                    text.push(c);
                }
                words.push(Word {
                    text,
                    quoted: false,
                });
            }
        }
    }
}

/// Writes `name` so that [`parse`] reads it back: as an atom when it can be one.
pub fn quote(name: &str) -> String {
    let atom = !name.is_empty()
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c == '"' || c == '\\' || c == '#');
    if atom {
        return name.to_owned();
    }
    let mut quoted = String::with_capacity(name.len() + 2);
    quoted.push('"');
    for c in name.chars() {
        if c == '"' || c == '\\' {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
#[path = "changelog_tests.rs"]
mod tests;
