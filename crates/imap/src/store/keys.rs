//! Item keys of the IMAP storage: `UIDVALIDITY:UID`.
//!
//! The UIDVALIDITY is part of every key, not only of the collection's listing state, because the
//! engine stores that state only after a run without errors: a status whose last runs all had an
//! error would otherwise hold bare UIDs of an unknown UIDVALIDITY, and after a server renumbered
//! the folder they would name other messages. With the UIDVALIDITY inside, a stale key can never
//! address a message: every write checks it against the selected folder first.

use pimlink_core::{Error, ErrorKind, ItemKey};

/// A message's identity on the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct MessageKey {
    /// The folder's UIDVALIDITY when the key was made.
    pub uid_validity: u32,
    /// The message's UID.
    pub uid: u32,
}

impl MessageKey {
    /// A key for `uid` under `uid_validity`.
    pub fn new(uid_validity: u32, uid: u32) -> Self {
        Self { uid_validity, uid }
    }

    /// Reads a key made by [`MessageKey::item_key`]; `None` for anything else.
    pub fn parse(key: &ItemKey) -> Option<Self> {
        let (validity, uid) = key.as_str().split_once(':')?;
        let parse = |text: &str| {
            if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            text.parse::<u32>().ok().filter(|n| *n > 0)
        };
        Some(Self::new(parse(validity)?, parse(uid)?))
    }

    /// Like [`MessageKey::parse`], with an error naming the key.
    pub fn parse_or_err(key: &ItemKey) -> Result<Self, Error> {
        Self::parse(key).ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidName,
                format!("{key} is not an IMAP item key (UIDVALIDITY:UID)"),
            )
        })
    }

    /// The engine's form.
    pub fn item_key(self) -> ItemKey {
        ItemKey::new(format!("{}:{}", self.uid_validity, self.uid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_junk_is_refused() {
        let key = MessageKey::new(1_700_000_000, 42);
        assert_eq!(key.item_key().as_str(), "1700000000:42");
        assert_eq!(MessageKey::parse(&key.item_key()), Some(key));
        for bad in [
            "42",
            "1:",
            ":1",
            "1:0",
            "0:1",
            "a:1",
            "1:+2",
            "1:2:3",
            "1:99999999999",
        ] {
            assert_eq!(MessageKey::parse(&ItemKey::new(bad)), None, "{bad}");
        }
        let err = MessageKey::parse_or_err(&ItemKey::new("x")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidName);
    }
}
