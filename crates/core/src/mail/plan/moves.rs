//! Messages moved between collections on one side: found by content across the plans of all
//! collections, so that the other side moves its copy instead of deleting it and receiving it
//! again.

use crate::mail::fingerprint::Fingerprint;
use crate::mail::plan::matching::pair_up;
use crate::side::Side;

/// A message the plan would delete on `on` in collection `collection` (its action `action`)
/// because the other side lost it there.
#[derive(Clone, Debug)]
pub struct Vanished {
    /// Index of the collection in the caller's list.
    pub collection: usize,
    /// Index of the `Delete` action in that collection's plan.
    pub action: usize,
    /// The side that still holds the message (where the delete would happen).
    pub on: Side,
    /// Its fingerprint, read on `on`.
    pub fingerprint: Option<Fingerprint>,
}

/// A message the plan would copy from `from` in collection `collection` (its action `action`)
/// because it appeared there.
#[derive(Clone, Debug)]
pub struct Appeared {
    /// Index of the collection in the caller's list.
    pub collection: usize,
    /// Index of the `Copy` action in that collection's plan.
    pub action: usize,
    /// The side the message appeared on.
    pub from: Side,
    /// Its fingerprint, read on `from`.
    pub fingerprint: Option<Fingerprint>,
}

/// Pairs each vanished message with one that appeared in the *same* collection on the side
/// that lost it: a program renamed its file there (OfflineIMAP gives every message it uploads
/// or fetches a name of its own; mbsync adds `,U=` to names), so the pairing only takes the new
/// key, and nothing is deleted or copied. Returns (index into `vanished`, index into
/// `appeared`), identical messages paired by multiplicity.
///
/// Renames are looked for before moves: of a message that vanished from X and appeared both in
/// X and in Y, the copy in X is the renamed one (the conservative reading: it changes no side).
pub fn find_renames(vanished: &[Vanished], appeared: &[Appeared]) -> Vec<(usize, usize)> {
    pair_on_side_that_lost(vanished, appeared, |v, a| v.collection == a.collection)
}

/// Pairs each vanished message with one that appeared in another collection on the side
/// that lost it: that side moved it. Returns (index into `vanished`, index into `appeared`).
///
/// Identical messages pair by multiplicity (two of three identical copies moved: two moves);
/// within a fingerprint, in the order of the lists. A move may be missed where a message
/// vanished from several collections at once, which the ordinary delete and copy then do,
/// losing nothing.
pub fn find_moves(vanished: &[Vanished], appeared: &[Appeared]) -> Vec<(usize, usize)> {
    pair_on_side_that_lost(vanished, appeared, |v, a| v.collection != a.collection)
}

/// Pairs vanished with appeared messages on the side that lost them, where `allowed` says so.
fn pair_on_side_that_lost(
    vanished: &[Vanished],
    appeared: &[Appeared],
    allowed: impl Fn(&Vanished, &Appeared) -> bool,
) -> Vec<(usize, usize)> {
    let mut moves = Vec::new();
    for side in [Side::A, Side::B] {
        let gone: Vec<usize> = (0..vanished.len())
            .filter(|&i| vanished[i].on == side)
            .collect();
        let new: Vec<usize> = (0..appeared.len())
            .filter(|&i| appeared[i].from == side.other())
            .collect();
        let pairs = pair_up(
            &gone,
            &new,
            |&v| vanished[v].fingerprint.as_ref(),
            |&a| appeared[a].fingerprint.as_ref(),
            |&v, &a| allowed(&vanished[v], &appeared[a]).then_some(0),
        );
        moves.extend(pairs.into_iter().map(|(v, a)| (gone[v], new[a])));
    }
    moves.sort_unstable();
    moves
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(id: &str) -> Option<Fingerprint> {
        Fingerprint::of_message(format!("Message-ID: <{id}>\n\n").as_bytes()).unwrap()
    }

    fn gone(collection: usize, on: Side, id: &str) -> Vanished {
        Vanished {
            collection,
            action: 0,
            on,
            fingerprint: fp(id),
        }
    }

    fn new(collection: usize, from: Side, id: &str) -> Appeared {
        Appeared {
            collection,
            action: 0,
            from,
            fingerprint: fp(id),
        }
    }

    #[test]
    fn a_message_moved_on_b_is_moved_on_a() {
        // B moved m1 from collection 0 to 1: A still has it in 0, B has it new in 1.
        let vanished = [gone(0, Side::A, "m1"), gone(0, Side::A, "m2")];
        let appeared = [new(1, Side::B, "m1"), new(1, Side::B, "m3")];
        assert_eq!(find_moves(&vanished, &appeared), [(0, 0)]);
    }

    #[test]
    fn same_collection_and_wrong_direction_are_not_moves() {
        // Deleted and re-added in the same collection: not a move.
        assert!(find_moves(&[gone(0, Side::A, "m")], &[new(0, Side::B, "m")]).is_empty());
        // The copy comes from the side that still has the message: not a move.
        assert!(find_moves(&[gone(0, Side::A, "m")], &[new(1, Side::A, "m")]).is_empty());
        // Two identical messages vanished and one appeared: one move, the other is deleted.
        let vanished = [gone(0, Side::A, "m"), gone(2, Side::A, "m")];
        assert_eq!(find_moves(&vanished, &[new(1, Side::B, "m")]), [(0, 0)]);
        // No fingerprint: never matched.
        let mut v = gone(0, Side::A, "m");
        v.fingerprint = None;
        let mut a = new(1, Side::B, "m");
        a.fingerprint = None;
        assert!(find_moves(&[v], &[a]).is_empty());
    }

    #[test]
    fn a_file_renamed_in_its_collection_is_a_rename_not_a_move() {
        // B renamed m1's file in collection 0 (OfflineIMAP's or mbsync's new name): A still has
        // it there and would delete it, B would copy the "new" file.
        let vanished = [gone(0, Side::A, "m1"), gone(0, Side::A, "m2")];
        let appeared = [new(1, Side::B, "m2"), new(0, Side::B, "m1")];
        assert_eq!(find_renames(&vanished, &appeared), [(0, 1)]);
        // Another collection is a move, not a rename; the wrong direction is neither.
        assert!(find_renames(&vanished[1..], &appeared[..1]).is_empty());
        assert!(find_renames(&[gone(0, Side::A, "m")], &[new(0, Side::A, "m")]).is_empty());
        // Two identical messages renamed, one more appeared: two renames, one copy.
        let vanished = [gone(0, Side::B, "m"), gone(0, Side::B, "m")];
        let appeared = [
            new(0, Side::A, "m"),
            new(0, Side::A, "m"),
            new(0, Side::A, "m"),
        ];
        assert_eq!(find_renames(&vanished, &appeared), [(0, 0), (1, 1)]);
    }

    #[test]
    fn moves_on_both_sides_are_found() {
        let vanished = [gone(0, Side::A, "x"), gone(3, Side::B, "y")];
        let appeared = [new(1, Side::A, "y"), new(2, Side::B, "x")];
        assert_eq!(find_moves(&vanished, &appeared), [(0, 1), (1, 0)]);
    }

    #[test]
    fn identical_copies_move_by_multiplicity() {
        // B moved two of three identical copies from collection 0 to 1, and one to 2.
        let vanished = [
            gone(0, Side::A, "m"),
            gone(0, Side::A, "m"),
            gone(0, Side::A, "m"),
        ];
        let appeared = [
            new(1, Side::B, "m"),
            new(2, Side::B, "m"),
            new(1, Side::B, "m"),
        ];
        assert_eq!(find_moves(&vanished, &appeared), [(0, 0), (1, 1), (2, 2)]);
        // A copy made in the collection it vanished from is no move; the others are.
        let appeared = [new(0, Side::B, "m"), new(1, Side::B, "m")];
        assert_eq!(find_moves(&vanished[..2], &appeared), [(0, 1)]);
    }
}
