//! The harness's one random number generator: SplitMix64, seeded from a run's seed, so that
//! every choice a simulation or a fuzzing run makes (fault times, torn writes, which messages
//! are read, which mutation comes next) replays exactly from the seed. Turmoil draws its own
//! (latency, loss) from the same seed.

/// A small, fast, seedable generator (SplitMix64; not for cryptography).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator whose whole state is `seed`: equal seeds give equal sequences.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// An independent generator for one purpose, so adding draws in one place does not shift
    /// the numbers drawn in another.
    pub fn fork(&self, label: &str) -> Self {
        let mut hash = self.0 ^ 0xcbf2_9ce4_8422_2325;
        for b in label.bytes() {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        Self(hash)
    }

    /// The next 64 uniformly distributed bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        // The modulo bias is below 2^-40 for the small ranges a scenario uses.
        self.next_u64() % n
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_numbers_and_forks_differ() {
        let (mut a, mut b) = (Rng::new(1), Rng::new(1));
        assert_eq!(a.next_u64(), b.next_u64());
        let (mut x, mut y) = (a.fork("faults"), a.fork("disk"));
        assert_ne!(x.next_u64(), y.next_u64());
        assert!(!Rng::new(3).chance(0.0));
        assert!(Rng::new(3).chance(1.0));
    }
}
