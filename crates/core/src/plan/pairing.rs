//! Recognising items by content where keys cannot be trusted: pure decisions over
//! fingerprints that the executor gathered.

use std::collections::HashMap;

use crate::fingerprint::Fingerprint;
use crate::flags::Flags;
use crate::item::ItemKey;
use crate::side::Side;
use crate::status::{CollectionId, StatusChange, StatusItem};

/// An item whose identity is to be matched: its key and its fingerprint (if it has one).
#[derive(Clone, Debug)]
pub struct Candidate {
    /// The item's key on its side.
    pub key: ItemKey,
    /// Its fingerprint; `None` never matches anything.
    pub fingerprint: Option<Fingerprint>,
    /// Its flags now.
    pub flags: Flags,
}

/// Why re-pairing after a key reset was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResetRefusal {
    /// The side whose keys were reset.
    pub side: Side,
    /// Rows whose item could be recognised on that side.
    pub matched: usize,
    /// Rows that were looked for.
    pub looked_for: usize,
}

impl std::fmt::Display for ResetRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "side {} renumbered its items (IMAP UIDVALIDITY changed) and only {} of {} known \
             messages could be recognised there by their headers; refusing to guess. If the \
             folder really holds other mail now, run `pimlink sync --force PAIR/COLLECTION` to \
             drop the old pairing and match the mail of both sides by content",
            self.side, self.matched, self.looked_for
        )
    }
}

/// The values whose fingerprint occurs exactly once among `items`: an ambiguous fingerprint
/// matches nothing, so that two identical messages are never taken for one another.
pub(crate) fn unique_by_fingerprint<'a, T>(
    items: impl Iterator<Item = (&'a Fingerprint, T)>,
) -> HashMap<&'a Fingerprint, T> {
    let mut seen: HashMap<&Fingerprint, Option<T>> = HashMap::new();
    for (fp, value) in items {
        seen.entry(fp)
            .and_modify(|slot| *slot = None)
            .or_insert(Some(value));
    }
    seen.into_iter()
        .filter_map(|(fp, value)| value.map(|value| (fp, value)))
        .collect()
}

/// Candidates by fingerprint, for those whose fingerprint is unique among `items`.
fn unique_index(items: &[Candidate]) -> HashMap<&Fingerprint, &Candidate> {
    unique_by_fingerprint(
        items
            .iter()
            .filter_map(|item| item.fingerprint.as_ref().map(|fp| (fp, item))),
    )
}

/// After `side` reset its keys (a new UIDVALIDITY), finds each row's item again on that side by
/// the fingerprint of its counterpart on the other side.
///
/// `counterparts` are the other side's items of `rows` (keyed by their key there); `now` is every
/// item on `side`. Rows that are recognised get their new key; the others are dropped, so that
/// their items count as new on the other side and are copied again: re-copying can duplicate
/// nothing that exists, and deleting would lose what a restored server lacks. When fewer than
/// half of the rows are recognised, the reset side probably holds other mail altogether, and the
/// re-pairing is refused.
pub fn rekey_after_reset(
    collection: CollectionId,
    rows: &[StatusItem],
    side: Side,
    counterparts: &[Candidate],
    now: &[Candidate],
    force: bool,
) -> Result<Vec<StatusChange>, ResetRefusal> {
    let by_key: HashMap<&ItemKey, &Candidate> = counterparts.iter().map(|c| (&c.key, c)).collect();
    let on_side = unique_index(now);
    let mut changes = vec![StatusChange::ClearKeys { collection, side }];
    let mut matched = 0;
    let mut looked_for = 0;
    for row in rows {
        // Expired on the reset side: there is nothing there to find, and the row must stay so
        // that the item is not downloaded again.
        if row.expired == Some(side) && row.key(side).is_none() {
            continue;
        }
        let counterpart = row
            .key(side.other())
            .and_then(|key| by_key.get(key))
            .and_then(|c| c.fingerprint.as_ref());
        let found = counterpart.and_then(|fp| on_side.get(fp));
        if row.key(side.other()).is_some() {
            looked_for += 1;
        }
        match found {
            Some(item) if row.pending.is_none() => {
                matched += 1;
                changes.push(StatusChange::SetKey {
                    id: row.id,
                    side,
                    key: item.key.clone(),
                });
            }
            _ => changes.push(StatusChange::Remove { id: row.id }),
        }
    }
    if !force && !now.is_empty() && looked_for > 0 && matched * 2 < looked_for {
        return Err(ResetRefusal {
            side,
            matched,
            looked_for,
        });
    }
    Ok(changes)
}

/// Pairs items that the status does not know on either side but that are the same message:
/// mail both sides already had before the first sync, or a copy that landed before an
/// interrupted run could record its key.
///
/// Returns new rows; their recorded flags are what both sides share, so the planner's merge
/// then sets on each side any flag the other one has.
///
/// `rows` are the collection's status rows: a candidate that is the source of a pending copy
/// whose destination key is unknown confirms that copy instead of making a new row.
pub fn pair_unknown(
    collection: CollectionId,
    rows: &[StatusItem],
    a: &[Candidate],
    b: &[Candidate],
) -> Vec<StatusChange> {
    let on_b = unique_index(b);
    let on_a = unique_index(a);
    let pending_from = |side: Side, key: &ItemKey| {
        rows.iter().find(|row| {
            row.pending == Some(side.other())
                && row.key(side.other()).is_none()
                && row.key(side) == Some(key)
        })
    };
    let mut changes = Vec::new();
    for (fp, item_a) in &on_a {
        let Some(item_b) = on_b.get(fp) else {
            continue;
        };
        let change = if let Some(row) = pending_from(Side::A, &item_a.key) {
            StatusChange::FinishCopy {
                id: row.id,
                to: Side::B,
                key: item_b.key.clone(),
            }
        } else if let Some(row) = pending_from(Side::B, &item_b.key) {
            StatusChange::FinishCopy {
                id: row.id,
                to: Side::A,
                key: item_a.key.clone(),
            }
        } else {
            StatusChange::Pair {
                collection,
                key_a: item_a.key.clone(),
                key_b: item_b.key.clone(),
                flags: Flags::intersection(&item_a.flags, &item_b.flags),
            }
        };
        changes.push(change);
    }
    // Deterministic order, for tests and dry-run output.
    changes.sort_by(|x, y| format!("{x:?}").cmp(&format!("{y:?}")));
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(key: &str, id: Option<&str>, flags: &str) -> Candidate {
        Candidate {
            key: ItemKey::new(key),
            fingerprint: id.and_then(|id| {
                Fingerprint::of_message(format!("Message-ID: <{id}>\n\n").as_bytes()).unwrap()
            }),
            flags: Flags::from_status_text(flags),
        }
    }

    fn row(id: i64, a: &str, b: &str) -> StatusItem {
        StatusItem {
            id,
            key_a: Some(ItemKey::new(a)),
            key_b: Some(ItemKey::new(b)),
            flags: Flags::new(),
            pending: None,
            expired: None,
        }
    }

    #[test]
    fn reset_rekeys_recognised_rows_and_drops_the_rest() {
        let rows = [row(1, "1", "m1"), row(2, "2", "m2"), row(3, "3", "m3")];
        let counterparts = [
            cand("m1", Some("x1"), ""),
            cand("m2", Some("x2"), ""),
            cand("m3", Some("x3"), ""),
        ];
        // The server renumbered: x1 is now UID 11, x2 is 12, x3 is gone.
        let now = [cand("11", Some("x1"), ""), cand("12", Some("x2"), "")];
        let changes = rekey_after_reset(9, &rows, Side::A, &counterparts, &now, false).unwrap();
        assert_eq!(
            changes,
            vec![
                StatusChange::ClearKeys {
                    collection: 9,
                    side: Side::A
                },
                StatusChange::SetKey {
                    id: 1,
                    side: Side::A,
                    key: ItemKey::new("11")
                },
                StatusChange::SetKey {
                    id: 2,
                    side: Side::A,
                    key: ItemKey::new("12")
                },
                StatusChange::Remove { id: 3 },
            ]
        );
    }

    #[test]
    fn reset_with_mostly_unknown_mail_is_refused() {
        let rows = [row(1, "1", "m1"), row(2, "2", "m2"), row(3, "3", "m3")];
        let counterparts = [
            cand("m1", Some("x1"), ""),
            cand("m2", Some("x2"), ""),
            cand("m3", Some("x3"), ""),
        ];
        let now = [cand("1", Some("other"), ""), cand("2", Some("x2"), "")];
        let refusal = rekey_after_reset(9, &rows, Side::A, &counterparts, &now, false).unwrap_err();
        assert!(rekey_after_reset(9, &rows, Side::A, &counterparts, &now, true).is_ok());
        assert_eq!((refusal.matched, refusal.looked_for), (1, 3));
        assert!(refusal.to_string().contains("UIDVALIDITY"));
    }

    #[test]
    fn reset_keeps_rows_expired_on_that_side_and_does_not_count_them() {
        let mut expired = row(2, "2", "m2");
        expired.key_a = None;
        expired.expired = Some(Side::A);
        let rows = [row(1, "1", "m1"), expired];
        let counterparts = [cand("m1", Some("x1"), ""), cand("m2", Some("x2"), "")];
        let now = [cand("11", Some("x1"), "")];
        let changes = rekey_after_reset(9, &rows, Side::A, &counterparts, &now, false).unwrap();
        assert_eq!(
            changes[1..],
            [StatusChange::SetKey {
                id: 1,
                side: Side::A,
                key: ItemKey::new("11")
            }]
        );
    }

    #[test]
    fn reset_of_an_emptied_side_drops_rows_for_the_empty_side_guard() {
        let rows = [row(1, "1", "m1")];
        let counterparts = [cand("m1", Some("x1"), "")];
        let changes = rekey_after_reset(9, &rows, Side::A, &counterparts, &[], false).unwrap();
        assert_eq!(changes.last(), Some(&StatusChange::Remove { id: 1 }));
    }

    #[test]
    fn a_copy_that_landed_without_a_known_key_is_confirmed() {
        let pending = StatusItem {
            id: 5,
            key_a: Some(ItemKey::new("a1")),
            key_b: None,
            flags: Flags::new(),
            pending: Some(Side::B),
            expired: None,
        };
        let a = [cand("a1", Some("m"), "")];
        let b = [cand("77", Some("m"), "")];
        assert_eq!(
            pair_unknown(3, &[pending], &a, &b),
            vec![StatusChange::FinishCopy {
                id: 5,
                to: Side::B,
                key: ItemKey::new("77")
            }]
        );
    }

    #[test]
    fn unknown_items_pair_by_unique_fingerprint_only() {
        let a = [
            cand("a1", Some("same"), "S"),
            cand("a2", Some("dup"), ""),
            cand("a3", Some("dup"), ""),
            cand("a4", None, ""),
            cand("a5", Some("only-a"), ""),
        ];
        let b = [
            cand("b1", Some("same"), "FS"),
            cand("b2", Some("dup"), ""),
            cand("b4", None, ""),
        ];
        let changes = pair_unknown(3, &[], &a, &b);
        assert_eq!(
            changes,
            vec![StatusChange::Pair {
                collection: 3,
                key_a: ItemKey::new("a1"),
                key_b: ItemKey::new("b1"),
                flags: Flags::from_status_text("S"),
            }]
        );
    }
}
