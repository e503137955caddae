//! What the verifier knows of one side of a replication: a snapshot of one user's folders and
//! messages, holding only what the verification level needs (see [`Level`]). Pure data; the
//! reader (`read.rs`) fills it, the comparer (`compare.rs`) compares two of them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use pimlink_core::Flags;
use pimlink_core::mail::fingerprint::Fingerprint;

/// How deep a verification looks; each level includes the ones below it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// 1: folders (empty ones too, and `\Noselect` parents), subscriptions, special-use.
    Folders = 1,
    /// 2: + the number of messages per folder (STATUS MESSAGES), whatever the UIDs.
    Counts = 2,
    /// 3: + each message, recognised by content, with its flags and keywords.
    Flags = 3,
    /// 4: + each message's size and internal date.
    SizesDates = 4,
    /// 5: + a SHA-256 of each message's bytes.
    Content = 5,
}

impl Level {
    /// The level numbered `n` (1 to 5).
    pub fn from_number(n: u8) -> Option<Level> {
        Some(match n {
            1 => Level::Folders,
            2 => Level::Counts,
            3 => Level::Flags,
            4 => Level::SizesDates,
            5 => Level::Content,
            _ => return None,
        })
    }

    /// Its number, 1 to 5.
    pub fn number(self) -> u8 {
        self as u8
    }

    /// True if messages are looked at one by one (from level 3): then a folder's message
    /// count is not compared, since each missing or extra message is named instead.
    pub fn lists_messages(self) -> bool {
        self >= Level::Flags
    }
}

/// One side's folders and what it says about them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Every folder by its name (levels separated by `/`, `INBOX` upper case).
    pub folders: BTreeMap<String, Folder>,
    /// The subscribed folder names, or `None` if the side has no subscriptions (a Maildir
    /// tree): then they are not compared.
    pub subscriptions: Option<BTreeSet<String>>,
    /// The special-use attribute of each folder that has one (`\Sent`), or `None` if the side
    /// cannot tell (a Maildir tree): then they are not compared.
    pub special_use: Option<BTreeMap<String, String>>,
    /// Whether a client can set this side's special-use attributes (IMAP METADATA). On a
    /// replica that cannot, they are the server's own configuration, which replication cannot
    /// change: they are not compared there, so verify does not fail for ever.
    pub takes_special_use: bool,
}

/// One folder.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Folder {
    /// False for a level that exists only as a parent (IMAP `\Noselect`).
    pub selectable: bool,
    /// Its message count (level 2 only).
    pub count: Option<u32>,
    /// Its messages (from level 3), in any order.
    pub messages: Vec<Message>,
}

/// One message, with the attributes the level asked for (the others `None`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// What recognises it on both sides.
    pub identity: Identity,
    /// Flags and keywords.
    pub flags: Flags,
    /// Size with CRLF line ends (level 4).
    pub size: Option<u64>,
    /// Internal date in seconds since the epoch (level 4): IMAP keeps whole seconds.
    pub internal_date: Option<i64>,
    /// SHA-256 of the bytes with CRLF line ends, lower-case hex (level 5).
    pub sha256: Option<String>,
}

/// How a message is recognised whatever its UID: the engine's content fingerprint (Message-ID,
/// Date, From, Subject and the size with CRLF line ends), shown by its Message-ID and a short
/// digest.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Identity {
    /// The first 16 hex digits of the SHA-256 of the fingerprint.
    pub fingerprint: String,
    /// The Message-ID, if the message has one.
    pub message_id: Option<String>,
}

impl Identity {
    /// The identity of a message with `fingerprint`. Messages with none of the identifying
    /// header fields (`None`) share one identity per folder, so they are compared as one
    /// multiset by their other attributes.
    pub fn new(fingerprint: Option<&Fingerprint>) -> Identity {
        let Some(fingerprint) = fingerprint else {
            return Identity {
                fingerprint: "-".to_owned(),
                message_id: None,
            };
        };
        let text = format!("{}size:{}", fingerprint.headers(), fingerprint.size());
        let digest = pimlink_core::digest::sha256_hex(text.as_bytes());
        let message_id = fingerprint
            .headers()
            .lines()
            .find_map(|line| line.strip_prefix("message-id:"))
            .filter(|id| !id.is_empty())
            .map(str::to_owned);
        Identity {
            fingerprint: digest[..16].to_owned(),
            message_id,
        }
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.message_id {
            Some(id) => write!(f, "{id} [{}]", self.fingerprint),
            None => write!(f, "(no Message-ID) [{}]", self.fingerprint),
        }
    }
}
