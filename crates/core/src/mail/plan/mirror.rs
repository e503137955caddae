//! What a mirror's plan undoes ([`crate::policy::Direction::Mirror`], `pimlink replicate`):
//! the replica changes it finds, named for the report. The decisions themselves are made
//! where every pair's are (`items`, `sides`); this only reads them back.

use std::collections::HashMap;

use crate::mail::flags::Flags;
use crate::mail::item::{ItemEntry, ItemKey};
use crate::mail::status::StatusItem;
use crate::name::CollectionName;
use crate::side::Side;

use super::action::ItemAction;

/// One change found on the replica (side B) and undone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Undone {
    /// The message's key on the replica.
    pub key: ItemKey,
    /// What was undone.
    pub change: UndoneChange,
}

/// The kinds of replica change a mirror undoes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UndoneChange {
    /// The message was only on the replica: removed, or moved into this folder.
    OnlyOnReplica {
        /// The replica-only folder it goes to, if any.
        moved_to: Option<CollectionName>,
    },
    /// Its flags or keywords were changed on the replica: reset to the master's.
    Flags {
        /// What the replica had.
        replica: Flags,
        /// What the master has, and the replica gets.
        master: Flags,
    },
    /// It was deleted on the replica: copied again.
    DeletedOnReplica,
}

impl std::fmt::Display for Undone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let key = &self.key;
        match &self.change {
            UndoneChange::OnlyOnReplica { moved_to: None } => {
                write!(f, "undone: {key} was only on the replica: deleted")
            }
            UndoneChange::OnlyOnReplica {
                moved_to: Some(folder),
            } => write!(
                f,
                "undone: {key} was only on the replica: moved into {folder}"
            ),
            UndoneChange::Flags { replica, master } => write!(
                f,
                "undone: flags of {key} changed on the replica: [{replica}] -> [{master}]"
            ),
            UndoneChange::DeletedOnReplica => {
                write!(f, "undone: {key} was deleted on the replica: copied again")
            }
        }
    }
}

/// The replica changes `actions` undo: messages discarded from B, flags set on B although B
/// changed them since the status recorded them, and copies that replace a row whose B copy
/// is gone (not an interrupted copy: those rows are pending).
pub(super) fn undone(
    status: &[StatusItem],
    b: &HashMap<&ItemKey, &ItemEntry>,
    actions: &[ItemAction],
) -> Vec<Undone> {
    let rows: HashMap<i64, &StatusItem> = status.iter().map(|row| (row.id, row)).collect();
    let mut undone = Vec::new();
    for action in actions {
        match action {
            ItemAction::Discard {
                side: Side::B,
                key,
                trash,
            } => undone.push(Undone {
                key: key.clone(),
                change: UndoneChange::OnlyOnReplica {
                    moved_to: trash.clone(),
                },
            }),
            ItemAction::Flags {
                id,
                set_b: Some((key, master)),
                ..
            } => {
                let changed_here = rows
                    .get(id)
                    .zip(b.get(key))
                    .filter(|(row, now)| row.pending.is_none() && now.flags != row.flags);
                if let Some((_, now)) = changed_here {
                    undone.push(Undone {
                        key: key.clone(),
                        change: UndoneChange::Flags {
                            replica: now.flags.clone(),
                            master: master.clone(),
                        },
                    });
                }
            }
            ItemAction::Copy {
                from: Side::A,
                replaces: Some(id),
                ..
            } => {
                if let Some(row) = rows.get(id).filter(|row| row.pending.is_none())
                    && let Some(key) = &row.key_b
                {
                    undone.push(Undone {
                        key: key.clone(),
                        change: UndoneChange::DeletedOnReplica,
                    });
                }
            }
            _ => {}
        }
    }
    undone
}
