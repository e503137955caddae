//! One difference between master and replica, as the verifier reports it: a plain line, or a
//! JSON object for `--json`.

use std::fmt;

use pimlink_core::Flags;
use serde_json::{Value, json};

use super::snapshot::{Identity, Level};
use crate::replicate::sieve::Step;

/// A difference found in one user's mail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Difference {
    /// The folder, if the difference is in one (subscriptions name theirs too).
    pub folder: String,
    /// The message, if the difference is about one.
    pub message: Option<Identity>,
    /// What differs.
    pub what: What,
}

/// What differs. "Missing" is on the replica (the master has it), "extra" is on the replica
/// only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum What {
    /// The master has the folder, the replica not.
    MissingFolder,
    /// The replica has a folder the master has not.
    ExtraFolder,
    /// The folder holds messages on one side and is only a parent (`\Noselect`) on the other.
    Selectable {
        /// On the master.
        master: bool,
        /// On the replica.
        replica: bool,
    },
    /// Subscribed on the master, not on the replica.
    MissingSubscription,
    /// Subscribed on the replica, not on the master.
    ExtraSubscription,
    /// Special-use attributes differ (`\Sent`).
    SpecialUse {
        /// On the master.
        master: Option<String>,
        /// On the replica.
        replica: Option<String>,
    },
    /// Message counts differ (level 2).
    Count {
        /// On the master.
        master: u32,
        /// On the replica.
        replica: u32,
    },
    /// The replica has fewer copies of the message than the master.
    MissingMessage {
        /// How many copies are missing.
        copies: usize,
    },
    /// The replica has more copies of the message than the master.
    ExtraMessage {
        /// How many copies are extra.
        copies: usize,
    },
    /// Flags or keywords differ.
    Flags {
        /// On the master.
        master: Flags,
        /// On the replica.
        replica: Flags,
    },
    /// Sizes differ.
    Size {
        /// On the master.
        master: Option<u64>,
        /// On the replica.
        replica: Option<u64>,
    },
    /// Internal dates differ (seconds since the epoch).
    InternalDate {
        /// On the master.
        master: Option<i64>,
        /// On the replica.
        replica: Option<i64>,
    },
    /// The bytes differ (SHA-256 with CRLF line ends).
    Content {
        /// On the master.
        master: Option<String>,
        /// On the replica.
        replica: Option<String>,
    },
    /// With `sieve = true`, the user's Sieve scripts differ (level 1): what replicating them
    /// would change. Not in a folder.
    Sieve(Step),
}

impl What {
    /// The lowest level that finds this difference.
    pub fn level(&self) -> Level {
        match self {
            What::MissingFolder
            | What::ExtraFolder
            | What::Selectable { .. }
            | What::MissingSubscription
            | What::ExtraSubscription
            | What::SpecialUse { .. }
            | What::Sieve(_) => Level::Folders,
            What::Count { .. } => Level::Counts,
            What::MissingMessage { .. } | What::ExtraMessage { .. } | What::Flags { .. } => {
                Level::Flags
            }
            What::Size { .. } | What::InternalDate { .. } => Level::SizesDates,
            What::Content { .. } => Level::Content,
        }
    }

    /// A short name for `--json` and tests.
    pub fn kind(&self) -> &'static str {
        match self {
            What::MissingFolder => "missing-folder",
            What::ExtraFolder => "extra-folder",
            What::Selectable { .. } => "selectable",
            What::MissingSubscription => "missing-subscription",
            What::ExtraSubscription => "extra-subscription",
            What::SpecialUse { .. } => "special-use",
            What::Count { .. } => "count",
            What::MissingMessage { .. } => "missing-message",
            What::ExtraMessage { .. } => "extra-message",
            What::Flags { .. } => "flags",
            What::Size { .. } => "size",
            What::InternalDate { .. } => "internal-date",
            What::Content { .. } => "content",
            What::Sieve(_) => "sieve",
        }
    }
}

impl fmt::Display for What {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = |v: &Option<String>| v.clone().unwrap_or_else(|| "none".to_owned());
        let number = |v: &Option<i64>| v.map_or("unknown".to_owned(), |v| v.to_string());
        match self {
            What::MissingFolder => write!(f, "missing on the replica"),
            What::ExtraFolder => write!(f, "only on the replica"),
            What::Selectable { master, replica } => write!(
                f,
                "holds messages on the {} only (a parent without messages on the other)",
                if *master && !replica {
                    "master"
                } else {
                    "replica"
                }
            ),
            What::MissingSubscription => write!(f, "subscribed on the master only"),
            What::ExtraSubscription => write!(f, "subscribed on the replica only"),
            What::SpecialUse { master, replica } => write!(
                f,
                "special-use {} on the master, {} on the replica",
                shown(master),
                shown(replica)
            ),
            What::Count { master, replica } => write!(
                f,
                "{master} messages on the master, {replica} on the replica"
            ),
            What::MissingMessage { copies } => {
                write!(f, "missing on the replica ({copies} copies)")
            }
            What::ExtraMessage { copies } => write!(f, "only on the replica ({copies} copies)"),
            What::Flags { master, replica } => write!(
                f,
                "flags ({}) on the master, ({}) on the replica",
                flag_text(master),
                flag_text(replica)
            ),
            What::Size { master, replica } => write!(
                f,
                "size {} on the master, {} on the replica",
                number(&master.map(|v| v as i64)),
                number(&replica.map(|v| v as i64))
            ),
            What::InternalDate { master, replica } => write!(
                f,
                "internal date {} on the master, {} on the replica",
                number(master),
                number(replica)
            ),
            What::Content { master, replica } => write!(
                f,
                "content differs (SHA-256 {} on the master, {} on the replica)",
                shown(master),
                shown(replica)
            ),
            What::Sieve(step) => match step {
                Step::Put { name, new: true } => {
                    write!(f, "Sieve script {name:?} missing on the replica")
                }
                Step::Put { name, new: false } => {
                    write!(f, "Sieve script {name:?} differs on the replica")
                }
                Step::Activate(name) => write!(
                    f,
                    "Sieve script {name:?} is active on the master, not on the replica"
                ),
                Step::Deactivate => write!(f, "a Sieve script is active on the replica only"),
                Step::Delete(name) => write!(f, "Sieve script {name:?} only on the replica"),
            },
        }
    }
}

/// Flags as IMAP names them, keywords after (`\Seen \Flagged $Junk`).
fn flag_text(flags: &Flags) -> String {
    flags
        .system_flags()
        .map(|flag| flag.imap_name())
        .chain(flags.keywords())
        .collect::<Vec<_>>()
        .join(" ")
}

impl Difference {
    /// A difference in the user's Sieve scripts.
    pub fn sieve(step: Step) -> Difference {
        Difference {
            folder: String::new(),
            message: None,
            what: What::Sieve(step),
        }
    }

    /// The difference as one line, for user `user`.
    pub fn line(&self, user: &str) -> String {
        if matches!(self.what, What::Sieve(_)) {
            return format!("{user}: {}", self.what);
        }
        match &self.message {
            Some(message) => format!(
                "{user}: folder {:?}: message {message}: {}",
                self.folder, self.what
            ),
            None => format!("{user}: folder {:?}: {}", self.folder, self.what),
        }
    }

    /// The difference as a JSON object, for user `user`.
    pub fn json(&self, user: &str) -> Value {
        let mut value = json!({
            "user": user,
            "folder": self.folder,
            "level": self.what.level().number(),
            "kind": self.what.kind(),
            "detail": self.what.to_string(),
        });
        if matches!(self.what, What::Sieve(_)) {
            value["folder"] = Value::Null;
        }
        if let Some(message) = &self.message {
            value["message_id"] = json!(message.message_id);
            value["fingerprint"] = json!(message.fingerprint);
        }
        value
    }
}
