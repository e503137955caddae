//! `--shard K/N`: which accounts this run takes, so that one accounts file can be split over N
//! machines (a Kubernetes Indexed Job, a batch scheduler's array job) without coordination.
//!
//! An account belongs to shard `FNV-1a-64(source user's UTF-8 bytes) mod N`. FNV-1a is
//! specified (no key, no seed, no dependence on the platform or the program's version), so
//! every machine and every later release puts an account in the same shard; it needs no
//! cryptographic strength, only spread.

use std::fmt;
use std::str::FromStr;

/// `K/N` with `K < N`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// This shard, 0-based.
    pub index: u64,
    /// How many shards there are.
    pub count: u64,
}

impl Shard {
    /// True if the account of `source_user` belongs to this shard.
    pub fn takes(&self, source_user: &str) -> bool {
        fnv1a64(source_user.as_bytes()) % self.count == self.index
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || {
            format!(
                "{text:?} is not a shard: write K/N with 0 <= K < N, e.g. 0/4 \
                 (Kubernetes: $JOB_COMPLETION_INDEX/N)"
            )
        };
        let (index, count) = text.split_once('/').ok_or_else(bad)?;
        let index: u64 = index.trim().parse().map_err(|_| bad())?;
        let count: u64 = count.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// FNV-1a, 64 bits (the offset basis and prime of the FNV specification).
fn fnv1a64(bytes: &[u8]) -> u64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes.iter().fold(OFFSET_BASIS, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(PRIME)
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn fnv_matches_the_specifications_test_vectors() {
        // From the FNV reference test suite (draft-eastlake-fnv).
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn parses_k_of_n_and_refuses_the_rest() {
        assert_eq!("2/3".parse(), Ok(Shard { index: 2, count: 3 }));
        for bad in ["3/3", "0/0", "1", "-1/3", "a/b", "1/3/4", ""] {
            assert!(bad.parse::<Shard>().is_err(), "{bad:?}");
        }
    }

    proptest! {
        /// Over N shards every account is taken by exactly one: no overlap, no gap.
        #[test]
        fn shards_split_a_list_without_overlap_or_gap(
            users in proptest::collection::btree_set("[a-z0-9._@-]{1,24}", 20),
            count in 1u64..8,
        ) {
            let shards: Vec<Shard> = (0..count).map(|index| Shard { index, count }).collect();
            for user in &users {
                let takers = shards.iter().filter(|s| s.takes(user)).count();
                prop_assert_eq!(takers, 1, "{} taken by {} shards", user, takers);
            }
        }
    }

    #[test]
    fn twenty_accounts_over_three_shards() {
        let users: Vec<String> = (0..20).map(|i| format!("user{i:02}@example.org")).collect();
        let mut taken: Vec<&String> = Vec::new();
        for index in 0..3 {
            let shard = Shard { index, count: 3 };
            let mine: Vec<&String> = users.iter().filter(|u| shard.takes(u)).collect();
            // A split that left a shard empty would work, but would mean the hash spreads badly.
            assert!(!mine.is_empty(), "shard {shard} is empty");
            taken.extend(mine);
        }
        taken.sort();
        assert_eq!(taken, users.iter().collect::<Vec<_>>());
    }
}
