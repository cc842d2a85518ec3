//! The simulation's one source of randomness: SplitMix64 (Steele, Lea and Flood 2014), small
//! enough to read and the same on every platform, so a seed replays the same run anywhere.

use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5DEE_CE66_D1CE_4E5B)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// An independent stream (for the network, so that faults do not shift the edits).
    pub fn fork(&mut self) -> Rng {
        Rng(self.next_u64())
    }

    /// 0..n (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "below(0)");
        // Multiply-shift: unbiased enough for a test and free of modulo's low-bit patterns.
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// lo..=hi.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        assert!(lo <= hi);
        lo + self.below((hi - lo) as u64 + 1) as i64
    }

    /// In [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> Option<&'a T> {
        if xs.is_empty() {
            None
        } else {
            Some(&xs[self.below(xs.len() as u64) as usize])
        }
    }

    /// One of `choices` by weight.
    pub fn weighted<T: Copy>(&mut self, choices: &[(T, u32)]) -> T {
        let total: u32 = choices.iter().map(|(_, w)| w).sum();
        let mut at = self.below(u64::from(total)) as u32;
        for (c, w) in choices {
            if at < *w {
                return *c;
            }
            at -= w;
        }
        unreachable!("the weights add up")
    }

    /// A version-4 UUID from the stream (the store's own ids would not replay).
    pub fn uuid(&mut self) -> Uuid {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.next_u64().to_le_bytes());
        b[8..].copy_from_slice(&self.next_u64().to_le_bytes());
        uuid::Builder::from_random_bytes(b).into_uuid()
    }

    /// A real number in [lo, hi): half the time with two decimals, as a runner types it
    /// (106.92), half the time with every bit of the mantissa used.
    pub fn real(&mut self, lo: f64, hi: f64) -> f64 {
        let x = lo + self.unit() * (hi - lo);
        if self.chance(0.5) {
            ((x * 100.0).round() / 100.0).clamp(lo, hi)
        } else {
            x
        }
    }
}
