//! [`ImapSpelling`]: how this storage spells item keys and listing states, for an adoption
//! (`pimlink_core::mail::adopt`) that writes another tool's knowledge into a pair's status.

use pimlink_core::ItemKey;
use pimlink_core::mail::adopt::ServerSpelling;

use super::keys::MessageKey;
use super::state::ListState;

/// The IMAP storage's spelling of keys (`UIDVALIDITY:UID`) and listing states.
#[derive(Clone, Copy, Debug, Default)]
pub struct ImapSpelling;

impl ServerSpelling for ImapSpelling {
    fn item_key(&self, uid_validity: u32, uid: u32) -> ItemKey {
        MessageKey::new(uid_validity, uid).item_key()
    }

    fn listing_state(&self, uid_validity: u32) -> String {
        // No UIDNEXT or HIGHESTMODSEQ: the first listing after an adoption fetches every
        // message's flags (no body), as the other tool's next run would have.
        ListState {
            uid_validity,
            ..ListState::default()
        }
        .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_states_read_back_as_this_storage_writes_them() {
        let key = ImapSpelling.item_key(7, 42);
        assert_eq!(MessageKey::parse(&key), Some(MessageKey::new(7, 42)));
        let state = ImapSpelling.listing_state(7);
        assert_eq!(
            ListState::parse(&state),
            Some(ListState {
                uid_validity: 7,
                ..ListState::default()
            })
        );
    }
}
