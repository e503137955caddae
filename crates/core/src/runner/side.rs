//! `pimlink check`'s question to one storage of either family: does it answer, what is it, and
//! how many collections does it offer. A storage may serve several pairs, so it is asked once,
//! on its own, rather than as a side of each pair.

use crate::dav::store::ItemStore;
use crate::error::Result;
use crate::mail::store::MailStore;

/// One storage of either family, opened: `M` is the binary's mail storage type, `I` its
/// calendar/contact storage type (as in [`super::AnyPair`]).
pub enum AnySide<M, I> {
    /// IMAP or Maildir.
    Mail(M),
    /// CalDAV, CardDAV, webcal or vdir.
    Dav(I),
}

/// What [`check_side`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SideCheck {
    /// What the storage is, for messages ("IMAP user@host", "Maildir /path", a URL).
    pub describe: String,
    /// How many collections it offers: folders that can hold mail (not mere parents),
    /// calendars, address books.
    pub collections: usize,
}

/// Lists the collections of `side` (connecting, logging in and discovering as needed).
pub async fn check_side<M: MailStore, I: ItemStore>(side: &mut AnySide<M, I>) -> Result<SideCheck> {
    Ok(match side {
        AnySide::Mail(store) => {
            let listed = store.list_collections().await?;
            SideCheck {
                describe: store.describe(),
                collections: listed.iter().filter(|c| c.selectable).count(),
            }
        }
        AnySide::Dav(store) => SideCheck {
            collections: store.list_collections().await?.len(),
            describe: store.describe(),
        },
    })
}
