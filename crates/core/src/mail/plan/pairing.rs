//! Recognising items by content where keys cannot be trusted: pure decisions over
//! fingerprints that the executor gathered.

use std::collections::HashMap;

use crate::mail::fingerprint::Fingerprint;
use crate::mail::flags::Flags;
use crate::mail::item::ItemKey;
use crate::mail::plan::matching::pair_up;
use crate::mail::status::{CollectionId, StatusChange, StatusItem};
use crate::side::Side;

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
             messages could be recognised there by content (headers and size); refusing to \
             guess. If the folder really holds other mail now, run `pimlink sync --force \
             PAIR/COLLECTION` to drop the old pairing and match the mail of both sides by \
             content",
            self.side, self.matched, self.looked_for
        )
    }
}

/// Candidates in key order: the order in which identical copies pair, so that it does not
/// depend on how a side happened to list them.
fn by_key(items: &[Candidate]) -> Vec<&Candidate> {
    let mut sorted: Vec<&Candidate> = items.iter().collect();
    sorted.sort_by(|x, y| x.key.cmp(&y.key));
    sorted
}

/// 0 for flags that agree, 1 otherwise: copies with the same flags pair first, so that
/// pairing identical copies changes no flags where it can help it.
fn flags_rank(x: &Flags, y: &Flags) -> u8 {
    u8::from(x != y)
}

/// After `side` reset its keys (a new UIDVALIDITY), finds each row's item again on that side by
/// the fingerprint of its counterpart on the other side.
///
/// `counterparts` are the other side's items of `rows` (keyed by their key there); `now` is every
/// item on `side`. Identical copies are matched by multiplicity: N rows whose counterparts
/// share a fingerprint and M items with it on `side` give min(N, M) rows their new key (rows
/// whose flags match an item's first). Rows that are recognised get their new key; the others
/// are dropped, so that their items count as new on the other side and are copied again:
/// re-copying can duplicate nothing that exists, and deleting would lose what a restored server
/// lacks. When fewer than half of the rows are recognised, the reset side probably holds other
/// mail altogether, and the re-pairing is refused.
pub fn rekey_after_reset(
    collection: CollectionId,
    rows: &[StatusItem],
    side: Side,
    counterparts: &[Candidate],
    now: &[Candidate],
    force: bool,
) -> Result<Vec<StatusChange>, ResetRefusal> {
    let by_key_there: HashMap<&ItemKey, &Candidate> =
        counterparts.iter().map(|c| (&c.key, c)).collect();
    // Expired on the reset side: there is nothing there to find, and the row must stay so
    // that the item is not downloaded again.
    let wanted: Vec<(&StatusItem, Option<&Fingerprint>)> = rows
        .iter()
        .filter(|row| !(row.expired == Some(side) && row.key(side).is_none()))
        .map(|row| {
            // A pending row is dropped: its copy is made again or confirmed by content.
            let fingerprint = row
                .key(side.other())
                .filter(|_| row.pending.is_none())
                .and_then(|key| by_key_there.get(key))
                .and_then(|c| c.fingerprint.as_ref());
            (row, fingerprint)
        })
        .collect();
    let on_side = by_key(now);
    let found: HashMap<usize, &Candidate> = pair_up(
        &wanted,
        &on_side,
        |(_, fingerprint)| *fingerprint,
        |item| item.fingerprint.as_ref(),
        |(row, _), item| Some(flags_rank(&row.flags, &item.flags)),
    )
    .into_iter()
    .map(|(row, item)| (row, on_side[item]))
    .collect();
    let looked_for = wanted
        .iter()
        .filter(|(row, _)| row.key(side.other()).is_some())
        .count();
    let matched = found.len();
    if !force && !now.is_empty() && looked_for > 0 && matched * 2 < looked_for {
        return Err(ResetRefusal {
            side,
            matched,
            looked_for,
        });
    }
    let mut changes = vec![StatusChange::ClearKeys { collection, side }];
    for (index, (row, _)) in wanted.iter().enumerate() {
        changes.push(match found.get(&index) {
            Some(item) => StatusChange::SetKey {
                id: row.id,
                side,
                key: item.key.clone(),
            },
            None => StatusChange::Remove { id: row.id },
        });
    }
    Ok(changes)
}

/// An item offered to [`pair_unknown`]: unknown to the status, or the source of a pending copy
/// whose destination key was never learnt (`pending` is then its row).
struct Unpaired<'a> {
    candidate: &'a Candidate,
    pending: Option<&'a StatusItem>,
}

/// `items` on `side` in key order, each with the row of the pending copy it is the source of.
fn unpaired<'a>(rows: &'a [StatusItem], side: Side, items: &'a [Candidate]) -> Vec<Unpaired<'a>> {
    let pending: HashMap<&ItemKey, &StatusItem> = rows
        .iter()
        .filter(|row| row.pending == Some(side.other()) && row.key(side.other()).is_none())
        .filter_map(|row| row.key(side).map(|key| (key, row)))
        .collect();
    by_key(items)
        .into_iter()
        .map(|candidate| Unpaired {
            candidate,
            pending: pending.get(&candidate.key).copied(),
        })
        .collect()
}

/// Pairs items that the status does not know on either side but that are the same message:
/// mail both sides already had before the first sync, or a copy that landed before an
/// interrupted run could record its key.
///
/// Identical copies pair by multiplicity: N copies of a message on A and M on B give min(N, M)
/// pairs, and the surplus is left to be copied. A pending copy is confirmed when the
/// destination holds an unknown item with its source's fingerprint (more copies of the message
/// than the status pairs there); confirming our own copies goes before pairing anything else,
/// and copies whose flags agree pair first.
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
    let (on_a, on_b) = (unpaired(rows, Side::A, a), unpaired(rows, Side::B, b));
    let pairs = pair_up(
        &on_a,
        &on_b,
        |x| x.candidate.fingerprint.as_ref(),
        |y| y.candidate.fingerprint.as_ref(),
        |x, y| match (x.pending, y.pending) {
            // Two copies in flight confirm nothing about each other.
            (Some(_), Some(_)) => None,
            (Some(row), None) => Some(flags_rank(&row.flags, &y.candidate.flags)),
            (None, Some(row)) => Some(flags_rank(&row.flags, &x.candidate.flags)),
            (None, None) => Some(2 + flags_rank(&x.candidate.flags, &y.candidate.flags)),
        },
    );
    pairs
        .into_iter()
        .map(|(x, y)| {
            let (item_a, item_b) = (&on_a[x], &on_b[y]);
            match (item_a.pending, item_b.pending) {
                (Some(row), _) => StatusChange::FinishCopy {
                    id: row.id,
                    to: Side::B,
                    key: item_b.candidate.key.clone(),
                },
                (None, Some(row)) => StatusChange::FinishCopy {
                    id: row.id,
                    to: Side::A,
                    key: item_a.candidate.key.clone(),
                },
                (None, None) => StatusChange::Pair {
                    collection,
                    key_a: item_a.candidate.key.clone(),
                    key_b: item_b.candidate.key.clone(),
                    flags: Flags::intersection(&item_a.candidate.flags, &item_b.candidate.flags),
                },
            }
        })
        .collect()
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
    fn unknown_items_pair_by_fingerprint_and_multiplicity() {
        let a = [
            cand("a1", Some("same"), "S"),
            cand("a2", Some("dup"), ""),
            cand("a3", Some("dup"), "S"),
            cand("a4", None, ""),
            cand("a5", Some("only-a"), ""),
        ];
        let b = [
            cand("b1", Some("same"), "FS"),
            cand("b2", Some("dup"), "S"),
            cand("b4", None, ""),
        ];
        let changes = pair_unknown(3, &[], &a, &b);
        assert_eq!(
            changes,
            vec![
                StatusChange::Pair {
                    collection: 3,
                    key_a: ItemKey::new("a1"),
                    key_b: ItemKey::new("b1"),
                    flags: Flags::from_status_text("S"),
                },
                // Of two identical copies on A and one on B, the one with the same flags pairs;
                // the other is left to be copied.
                StatusChange::Pair {
                    collection: 3,
                    key_a: ItemKey::new("a3"),
                    key_b: ItemKey::new("b2"),
                    flags: Flags::from_status_text("S"),
                },
            ]
        );
    }

    /// `n` identical candidates named `prefix0`, `prefix1`, ...
    fn copies(prefix: &str, n: usize, id: &str) -> Vec<Candidate> {
        (0..n)
            .map(|i| cand(&format!("{prefix}{i}"), Some(id), ""))
            .collect()
    }

    #[test]
    fn n_copies_against_m_pair_min_of_them_in_key_order() {
        for (n, m) in [(1, 1), (2, 1), (1, 2), (2, 2), (3, 2), (3, 5), (4, 4)] {
            let changes = pair_unknown(1, &[], &copies("a", n, "x"), &copies("b", m, "x"));
            let expected: Vec<StatusChange> = (0..n.min(m))
                .map(|i| StatusChange::Pair {
                    collection: 1,
                    key_a: ItemKey::new(format!("a{i}")),
                    key_b: ItemKey::new(format!("b{i}")),
                    flags: Flags::new(),
                })
                .collect();
            assert_eq!(changes, expected, "{n} copies on A, {m} on B");
        }
    }

    /// A row whose copy of `source` on B to A is pending without a known key.
    fn pending_to_a(id: i64, source: &str, flags: &str) -> StatusItem {
        StatusItem {
            id,
            key_a: None,
            key_b: Some(ItemKey::new(source)),
            flags: Flags::from_status_text(flags),
            pending: Some(Side::A),
            expired: None,
        }
    }

    #[test]
    fn pending_copies_are_confirmed_by_multiplicity_before_anything_pairs() {
        // B holds three identical copies: two are being copied to A (rows 5 and 6), one is
        // new to the status. A holds two identical unknown copies: the two that landed.
        let rows = [pending_to_a(5, "b0", ""), pending_to_a(6, "b1", "S")];
        let a = [cand("a0", Some("x"), ""), cand("a1", Some("x"), "S")];
        let b = copies("b", 3, "x");
        let changes = pair_unknown(1, &rows, &a, &b);
        assert_eq!(
            changes,
            vec![
                StatusChange::FinishCopy {
                    id: 5,
                    to: Side::A,
                    key: ItemKey::new("a0"),
                },
                StatusChange::FinishCopy {
                    id: 6,
                    to: Side::A,
                    key: ItemKey::new("a1"),
                },
            ]
        );
        // Only one landed: it confirms one pending copy; the other is made again by the
        // planner, and the third copy on B is copied as new.
        let changes = pair_unknown(1, &rows, &a[..1], &b);
        assert_eq!(
            changes,
            vec![StatusChange::FinishCopy {
                id: 5,
                to: Side::A,
                key: ItemKey::new("a0"),
            }]
        );
        // As many landed as pending, and one more the user put there: it pairs with the copy
        // the status does not know.
        let more = [a[0].clone(), a[1].clone(), cand("a2", Some("x"), "")];
        let changes = pair_unknown(1, &rows, &more, &b);
        assert_eq!(changes.len(), 3);
        assert!(changes.contains(&StatusChange::Pair {
            collection: 1,
            key_a: ItemKey::new("a2"),
            key_b: ItemKey::new("b2"),
            flags: Flags::new(),
        }));
    }

    #[test]
    fn two_copies_in_flight_never_confirm_each_other() {
        let to_b = StatusItem {
            id: 1,
            key_a: Some(ItemKey::new("a0")),
            key_b: None,
            flags: Flags::new(),
            pending: Some(Side::B),
            expired: None,
        };
        let rows = [to_b, pending_to_a(2, "b0", "")];
        let changes = pair_unknown(1, &rows, &copies("a", 1, "x"), &copies("b", 1, "x"));
        assert!(changes.is_empty(), "{changes:?}");
    }

    #[test]
    fn a_reset_side_with_identical_copies_is_rekeyed_by_multiplicity() {
        // Three identical copies (one flagged) and one other message, renumbered.
        let mut flagged = row(3, "3", "m3");
        flagged.flags = Flags::from_status_text("F");
        let rows = [
            row(1, "1", "m1"),
            row(2, "2", "m2"),
            flagged,
            row(4, "4", "m4"),
        ];
        let counterparts = [
            cand("m1", Some("dup"), ""),
            cand("m2", Some("dup"), ""),
            cand("m3", Some("dup"), "F"),
            cand("m4", Some("once"), ""),
        ];
        let now = [
            cand("21", Some("dup"), "F"),
            cand("22", Some("once"), ""),
            cand("23", Some("dup"), ""),
            cand("24", Some("dup"), ""),
        ];
        let changes = rekey_after_reset(9, &rows, Side::A, &counterparts, &now, false).unwrap();
        let set = |id, key: &str| StatusChange::SetKey {
            id,
            side: Side::A,
            key: ItemKey::new(key),
        };
        assert_eq!(
            changes[1..],
            [set(1, "23"), set(2, "24"), set(3, "21"), set(4, "22")]
        );
        // One copy is gone from the server: two rows find theirs, the third row is dropped
        // (its message is copied again), and that is no reason to refuse.
        let changes =
            rekey_after_reset(9, &rows, Side::A, &counterparts, &now[..3], false).unwrap();
        assert_eq!(
            changes[1..],
            [
                set(1, "23"),
                StatusChange::Remove { id: 2 },
                set(3, "21"),
                set(4, "22")
            ]
        );
    }

    proptest::proptest! {
        /// However many identical copies each side holds, with or without rows of pending
        /// copies: min(N, M) pairs per message, so that copying the surplus leaves max(N, M)
        /// on each side; no copy in two pairs; pending copies confirmed first.
        #[test]
        fn pairing_then_copying_the_surplus_gives_equal_counts(
            on_a in proptest::collection::vec(0u8..3, 0..10),
            on_b in proptest::collection::vec(0u8..3, 0..10),
            pending in proptest::collection::vec(proptest::bool::ANY, 10),
        ) {
            let a: Vec<Candidate> = on_a
                .iter()
                .enumerate()
                .map(|(i, id)| cand(&format!("a{i}"), Some(&id.to_string()), ""))
                .collect();
            let b: Vec<Candidate> = on_b
                .iter()
                .enumerate()
                .map(|(i, id)| cand(&format!("b{i}"), Some(&id.to_string()), ""))
                .collect();
            // Some of B's items are sources of copies to A whose keys were not learnt.
            let rows: Vec<StatusItem> = (0..b.len())
                .filter(|&i| pending[i])
                .map(|i| pending_to_a(i as i64 + 100, &format!("b{i}"), ""))
                .collect();
            let changes = pair_unknown(1, &rows, &a, &b);
            let mut used_a = std::collections::HashSet::new();
            let mut used_b = std::collections::HashSet::new();
            let mut confirmed = std::collections::HashSet::new();
            for change in &changes {
                match change {
                    StatusChange::Pair { key_a, key_b, .. } => {
                        proptest::prop_assert!(used_a.insert(key_a.clone()));
                        proptest::prop_assert!(used_b.insert(key_b.clone()));
                        let b_index: usize = key_b.as_str()[1..].parse().unwrap();
                        proptest::prop_assert!(!pending[b_index], "a pending source pairs anew");
                    }
                    StatusChange::FinishCopy { id, to: Side::A, key } => {
                        proptest::prop_assert!(used_a.insert(key.clone()));
                        proptest::prop_assert!(confirmed.insert(*id));
                    }
                    other => proptest::prop_assert!(false, "unexpected {:?}", other),
                }
            }
            let of_message = |key: &ItemKey| on_a[key.as_str()[1..].parse::<usize>().unwrap()];
            for id in 0u8..3 {
                let n = on_a.iter().filter(|x| **x == id).count();
                let m = on_b.iter().filter(|x| **x == id).count();
                let in_flight = (0..on_b.len()).filter(|&i| on_b[i] == id && pending[i]).count();
                let (mut pairs, mut finished) = (0, 0);
                for change in &changes {
                    match change {
                        StatusChange::Pair { key_a, .. } if of_message(key_a) == id => pairs += 1,
                        StatusChange::FinishCopy { key, .. } if of_message(key) == id => {
                            finished += 1
                        }
                        _ => {}
                    }
                }
                proptest::prop_assert_eq!(pairs + finished, n.min(m));
                proptest::prop_assert_eq!(finished, in_flight.min(n));
            }
        }
    }
}
