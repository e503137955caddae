//! Pairing by content with multiplicity: the same message can be in a folder several times
//! (mailing-list copies, a message filed twice), and its copies are as alike as fingerprints
//! can tell. N copies on one side and M on the other pair as min(N, M) pairs; the surplus is
//! left unpaired, to be copied. (Matching only fingerprints that occur once would leave every
//! identical copy unpaired, and copy it both ways each time mail is recognised by content:
//! 3 messages -> 5 -> 9 -> 17 over three lost states.)
//!
//! Which copy pairs with which cannot matter to the content, but it matters to flags, so the
//! caller ranks the possible pairs (e.g. copies with the same flags first), and the order is
//! deterministic: the caller's order of the lists within each rank.

use std::collections::HashMap;

use crate::mail::fingerprint::Fingerprint;

/// Pairs items of `left` with items of `right` that have the same fingerprint, each item at
/// most once, as many per fingerprint as both lists allow. `rank(l, r)` is `None` for a pair
/// that must not be made, else lower ranks are paired first; within a rank, items pair in the
/// order of the lists. Items without a fingerprint pair with nothing.
///
/// Returns `(index into left, index into right)` pairs, sorted.
pub(crate) fn pair_up<'f, L, R>(
    left: &[L],
    right: &[R],
    fingerprint_l: impl Fn(&L) -> Option<&'f Fingerprint>,
    fingerprint_r: impl Fn(&R) -> Option<&'f Fingerprint>,
    rank: impl Fn(&L, &R) -> Option<u8>,
) -> Vec<(usize, usize)> {
    let mut groups: HashMap<&Fingerprint, (Vec<usize>, Vec<usize>)> = HashMap::new();
    for (index, item) in left.iter().enumerate() {
        if let Some(fp) = fingerprint_l(item) {
            groups.entry(fp).or_default().0.push(index);
        }
    }
    for (index, item) in right.iter().enumerate() {
        if let Some(group) = fingerprint_r(item).and_then(|fp| groups.get_mut(fp)) {
            group.1.push(index);
        }
    }
    let mut pairs = Vec::new();
    for (lefts, rights) in groups.values() {
        pair_group(lefts, rights, |l, r| rank(&left[l], &right[r]), &mut pairs);
    }
    pairs.sort_unstable();
    pairs
}

/// Pairs within one group of equal fingerprints, one rank after the other (greedy: for ranks
/// that say "equal flags", taking the first equal partner in order pairs as many as possible).
fn pair_group(
    lefts: &[usize],
    rights: &[usize],
    rank: impl Fn(usize, usize) -> Option<u8>,
    pairs: &mut Vec<(usize, usize)>,
) {
    let mut left_free = vec![true; lefts.len()];
    let mut right_free = vec![true; rights.len()];
    let mut current = Some(0u8);
    while let Some(pass) = current {
        // The lowest rank above this pass among the pairs still possible: the next pass.
        let mut next: Option<u8> = None;
        for (i, &l) in lefts.iter().enumerate() {
            if !left_free[i] {
                continue;
            }
            for (j, &r) in rights.iter().enumerate() {
                if !right_free[j] {
                    continue;
                }
                match rank(l, r) {
                    Some(k) if k == pass => {
                        left_free[i] = false;
                        right_free[j] = false;
                        pairs.push((l, r));
                        break;
                    }
                    Some(k) if k > pass => next = Some(next.map_or(k, |n| n.min(k))),
                    _ => {}
                }
            }
        }
        current = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fp(id: &str) -> Fingerprint {
        Fingerprint::of_message(format!("Message-ID: <{id}>\n\n").as_bytes())
            .unwrap()
            .unwrap()
    }

    type Item = (Option<Fingerprint>, String);

    /// (fingerprint, flags) items.
    fn items(spec: &[(&str, &str)]) -> Vec<Item> {
        spec.iter()
            .map(|(id, flags)| ((!id.is_empty()).then(|| fp(id)), (*flags).to_owned()))
            .collect()
    }

    /// Pairs `left` and `right`, ranking equal flags first, and optionally with another rank.
    fn pair_items(
        left: &[Item],
        right: &[Item],
        rank: impl Fn(&Item, &Item) -> Option<u8>,
    ) -> Vec<(usize, usize)> {
        let left: Vec<&Item> = left.iter().collect();
        let right: Vec<&Item> = right.iter().collect();
        pair_up(
            &left,
            &right,
            |l| l.0.as_ref(),
            |r| r.0.as_ref(),
            |l, r| rank(l, r),
        )
    }

    fn equal_flags_first(l: &Item, r: &Item) -> Option<u8> {
        Some(u8::from(l.1 != r.1))
    }

    fn pair(left: &[(&str, &str)], right: &[(&str, &str)]) -> Vec<(usize, usize)> {
        pair_items(&items(left), &items(right), equal_flags_first)
    }

    #[test]
    fn n_copies_against_m_pair_min_of_them() {
        // A table: copies on the left, copies on the right, pairs made.
        for (n, m) in [
            (0, 0),
            (1, 0),
            (0, 2),
            (1, 1),
            (2, 1),
            (1, 3),
            (3, 3),
            (4, 2),
        ] {
            let left = vec![("x", ""); n];
            let right = vec![("x", ""); m];
            let pairs = pair(&left, &right);
            assert_eq!(pairs.len(), n.min(m), "{n} against {m}");
            let expected: Vec<(usize, usize)> = (0..n.min(m)).map(|i| (i, i)).collect();
            assert_eq!(pairs, expected, "in order: {n} against {m}");
        }
    }

    #[test]
    fn copies_with_the_same_flags_pair_first() {
        // Left: x unseen, x seen; right: x seen, x flagged. The seen copies pair, then the
        // rest in order.
        let pairs = pair(&[("x", ""), ("x", "S")], &[("x", "S"), ("x", "F")]);
        assert_eq!(pairs, [(0, 1), (1, 0)]);
    }

    #[test]
    fn different_fingerprints_and_missing_ones_never_pair() {
        let pairs = pair(
            &[("x", ""), ("", ""), ("y", "")],
            &[("y", ""), ("", ""), ("z", "")],
        );
        assert_eq!(pairs, [(2, 0)]);
    }

    #[test]
    fn forbidden_pairs_are_not_made_and_lower_ranks_go_first() {
        let left = items(&[("x", "a"), ("x", "b")]);
        let right = items(&[("x", "a"), ("x", "b")]);
        // "a" may not pair with "a"; "b" with "a" is preferred over anything else.
        let rank = |l: &Item, r: &Item| match (l.1.as_str(), r.1.as_str()) {
            ("a", "a") => None,
            ("b", "a") => Some(0),
            _ => Some(5),
        };
        let pairs = pair_items(&left, &right, rank);
        assert_eq!(pairs, [(0, 1), (1, 0)]);
    }

    proptest! {
        /// For any lists, every fingerprint pairs min(N, M) times, no item twice, only equal
        /// fingerprints, and as many equal-flag pairs as the flags allow.
        #[test]
        fn pairs_are_as_many_as_the_smaller_count(
            left in proptest::collection::vec((0u8..4, 0u8..3), 0..12),
            right in proptest::collection::vec((0u8..4, 0u8..3), 0..12),
        ) {
            let to_items = |v: &[(u8, u8)]| -> Vec<Item> {
                v.iter()
                    .map(|(id, flags)| (Some(fp(&id.to_string())), flags.to_string()))
                    .collect()
            };
            let (l, r) = (to_items(&left), to_items(&right));
            let pairs = pair_items(&l, &r, equal_flags_first);
            let mut used_l = std::collections::HashSet::new();
            let mut used_r = std::collections::HashSet::new();
            for &(i, j) in &pairs {
                prop_assert!(used_l.insert(i) && used_r.insert(j));
                prop_assert_eq!(&l[i].0, &r[j].0);
            }
            for id in 0u8..4 {
                let n = left.iter().filter(|x| x.0 == id).count();
                let m = right.iter().filter(|x| x.0 == id).count();
                let made = pairs.iter().filter(|&&(i, _)| left[i].0 == id).count();
                prop_assert_eq!(made, n.min(m));
                let mut same = 0;
                for flags in 0u8..3 {
                    let a = left.iter().filter(|x| **x == (id, flags)).count();
                    let b = right.iter().filter(|x| **x == (id, flags)).count();
                    same += a.min(b);
                }
                let made_same = pairs
                    .iter()
                    .filter(|&&(i, j)| left[i].0 == id && left[i].1 == right[j].1)
                    .count();
                prop_assert_eq!(made_same, same);
            }
        }
    }
}
