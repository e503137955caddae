//! A small seeded random number generator (SplitMix64), so that tests that cut or kill at
//! random points are reproducible from the seed they print, without a dependency.

/// SplitMix64: fast, statistically fine for choosing test offsets, not for cryptography.
#[derive(Clone, Debug)]
pub struct TestRng {
    state: u64,
}

impl TestRng {
    /// A generator that yields the same sequence for the same seed.
    pub fn new(seed: u64) -> TestRng {
        TestRng { state: seed }
    }

    /// The seed from the environment variable `name` if it is set (to replay a failure), else
    /// `default`; printed either way, so that a failing run's seed is in its output.
    pub fn seed_from_env(name: &str, default: u64) -> u64 {
        let seed = std::env::var(name)
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(default);
        eprintln!("random seed: {seed} (replay with {name}={seed})");
        seed
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `low..high` (`low` if the range is empty).
    pub fn range(&mut self, low: u64, high: u64) -> u64 {
        if high <= low {
            return low;
        }
        low + self.next_u64() % (high - low)
    }

    /// A number in `low..high` spread evenly over the orders of magnitude, so that small
    /// values (the first bytes of a connection) are drawn as often as large ones.
    pub fn log_range(&mut self, low: u64, high: u64) -> u64 {
        let low = low.max(1);
        if high <= low {
            return low;
        }
        let (a, b) = ((low as f64).ln(), (high as f64).ln());
        let x = a + (b - a) * (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        (x.exp() as u64).clamp(low, high - 1)
    }

    /// True with probability `numerator / denominator`.
    pub fn chance(&mut self, numerator: u64, denominator: u64) -> bool {
        self.range(0, denominator) < numerator
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_numbers_and_ranges_hold() {
        let mut a = TestRng::new(7);
        let mut b = TestRng::new(7);
        for _ in 0..1000 {
            let x = a.range(10, 20);
            assert_eq!(x, b.range(10, 20));
            assert!((10..20).contains(&x));
            let y = a.log_range(1, 100_000);
            assert_eq!(y, b.log_range(1, 100_000));
            assert!((1..100_000).contains(&y));
        }
        assert_eq!(TestRng::new(1).range(5, 5), 5);
    }
}
