//! What a mirror's plan undoes ([`crate::policy::Direction::Mirror`], `pimlink replicate`):
//! the replica changes it finds, named for the report. The decisions themselves are made
//! where every pair's are (`items`, `sides`); this only reads them back.

use std::collections::HashMap;

use crate::mail::item::{ItemEntry, ItemKey};
use crate::mail::status::StatusItem;
use crate::side::Side;

use super::action::{ItemAction, Undone, UndoneChange};

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
