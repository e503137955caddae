//! Sets of UIDs as IMAP writes them (`1:5,9,12:14`).

use std::fmt;

/// An ordered list of inclusive UID ranges, as a server reported them or as the client will send
/// them. Order is kept (COPYUID pairs source and destination by position).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct UidRanges(Vec<(u32, u32)>);

impl UidRanges {
    /// A set of one UID.
    pub fn single(uid: u32) -> Self {
        Self(vec![(uid, uid)])
    }

    /// Every UID (`1:*`).
    pub fn all() -> Self {
        Self(vec![(1, u32::MAX)])
    }

    /// The smallest set of ranges covering `uids` (sorted and merged).
    pub fn from_uids(uids: impl IntoIterator<Item = u32>) -> Self {
        let mut sorted: Vec<u32> = uids.into_iter().collect();
        sorted.sort_unstable();
        sorted.dedup();
        let mut ranges: Vec<(u32, u32)> = Vec::new();
        for uid in sorted {
            match ranges.last_mut() {
                Some((_, end)) if end.checked_add(1) == Some(uid) => *end = uid,
                _ => ranges.push((uid, uid)),
            }
        }
        Self(ranges)
    }

    /// Appends the range `a:b` (either order, as written on the wire).
    pub fn push_range(&mut self, a: u32, b: u32) {
        self.0.push((a, b));
    }

    /// The ranges as (first, last) pairs, as given.
    pub fn ranges(&self) -> &[(u32, u32)] {
        &self.0
    }

    /// True if no UID is in the set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every UID, in the order written (a descending range counts down).
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.0.iter().flat_map(|&(a, b)| {
            let up = a <= b;
            let (lo, hi) = if up { (a, b) } else { (b, a) };
            let range = lo..=hi;
            let items: Box<dyn Iterator<Item = u32>> = if up {
                Box::new(range)
            } else {
                Box::new(range.rev())
            };
            items
        })
    }

    /// Number of UIDs.
    pub fn len(&self) -> u64 {
        self.0
            .iter()
            .map(|&(a, b)| u64::from(a.abs_diff(b)) + 1)
            .sum()
    }

    /// True if `uid` is in the set.
    pub fn contains(&self, uid: u32) -> bool {
        self.0
            .iter()
            .any(|&(a, b)| (a.min(b)..=a.max(b)).contains(&uid))
    }
}

impl fmt::Display for UidRanges {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, &(a, b)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            // u32::MAX stands for "*" (the largest UID in use), which is what the server expects.
            let show = |n: u32| {
                if n == u32::MAX {
                    "*".to_owned()
                } else {
                    n.to_string()
                }
            };
            if a == b {
                write!(f, "{}", show(a))?;
            } else {
                write!(f, "{}:{}", show(a), show(b))?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for UidRanges {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UidRanges({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn compresses_and_prints() {
        let set = UidRanges::from_uids([5, 1, 2, 3, 9, 10, 3]);
        assert_eq!(set.to_string(), "1:3,5,9:10");
        assert_eq!(set.len(), 6);
        assert!(set.contains(10) && !set.contains(4));
    }

    proptest! {
        #[test]
        fn from_uids_keeps_every_uid(uids in proptest::collection::btree_set(1u32..200, 0..50)) {
            let set = UidRanges::from_uids(uids.iter().copied());
            prop_assert_eq!(set.iter().collect::<Vec<_>>(), uids.iter().copied().collect::<Vec<_>>());
        }
    }
}
