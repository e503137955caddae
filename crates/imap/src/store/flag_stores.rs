//! The UID STOREs of one folder's queued changes, and whether they may share a round trip.
//!
//! A flush used to wait for each STORE's answer before sending the next: a folder with flags
//! added on some messages, removed on others and deletions paid a round trip for each, which is
//! what a user of a distant server feels. Stores whose UID sets are disjoint touch different
//! messages, so the order the server carries them out in cannot change the result, and they are
//! pipelined; a message in two of them (its flags replaced, then changed again in the same run)
//! keeps them one after another, in the queue's order.

use std::collections::HashSet;

use pimlink_core::{Flag, Flags};

use super::{FlagOp, PendingFolder};
use crate::client::StoreMode;
use crate::uidset::UidRanges;

/// One UID STORE: the messages, how, which flags.
pub(super) type Store = (UidRanges, StoreMode, Flags);

/// The folder's stores in the order they must be applied: flag changes (replace, add, remove),
/// then `\Deleted` on the messages to delete.
pub(super) fn stores_of(folder: &PendingFolder) -> Vec<Store> {
    let mut stores: Vec<Store> = folder
        .flag_changes
        .iter()
        .map(|((op, _), (flags, uids))| {
            let mode = match op {
                FlagOp::Replace => StoreMode::Replace,
                FlagOp::Add => StoreMode::Add,
                FlagOp::Remove => StoreMode::Remove,
            };
            (
                UidRanges::from_uids(uids.iter().copied()),
                mode,
                flags.clone(),
            )
        })
        .collect();
    if !folder.deletions.is_empty() {
        let deleted = Flags::new().with(Flag::Trashed);
        stores.push((
            UidRanges::from_uids(folder.deletions.iter().copied()),
            StoreMode::Add,
            deleted,
        ));
    }
    stores
}

/// True if no message is in two of the stores `uids` lists, so they may be pipelined.
pub(super) fn disjoint<'a>(uids: impl IntoIterator<Item = &'a [u32]>) -> bool {
    let mut seen = HashSet::new();
    uids.into_iter().flatten().all(|uid| seen.insert(*uid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_on_different_messages_are_disjoint() {
        assert!(disjoint([&[1, 2, 3][..], &[4][..], &[7, 9][..]]));
        assert!(disjoint([&[][..], &[5][..]]));
    }

    #[test]
    fn a_message_in_two_stores_keeps_them_in_order() {
        assert!(!disjoint([&[1, 2][..], &[3][..], &[2][..]]));
    }

    #[test]
    fn stores_come_in_the_queues_order_with_deletions_last() {
        let mut folder = PendingFolder {
            deletions: vec![9, 8],
            ..PendingFolder::default()
        };
        let flagged = Flags::new().with(Flag::Flagged);
        let seen = Flags::new().with(Flag::Seen);
        folder
            .flag_changes
            .insert((FlagOp::Remove, "S".into()), (seen.clone(), vec![4]));
        folder
            .flag_changes
            .insert((FlagOp::Add, "F".into()), (flagged.clone(), vec![2, 3]));
        let stores = stores_of(&folder);
        let modes: Vec<StoreMode> = stores.iter().map(|s| s.1).collect();
        assert_eq!(modes, [StoreMode::Add, StoreMode::Remove, StoreMode::Add]);
        assert_eq!(stores[0].2, flagged);
        assert_eq!(stores[1].2, seen);
        assert_eq!(stores[2].2, Flags::new().with(Flag::Trashed));
        assert_eq!(stores[2].0, UidRanges::from_uids([8, 9]));
    }
}
