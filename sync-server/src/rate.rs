//! Rate limits: per-minute quotas on named keys such as `login-ip:203.0.113.7`, in bounded
//! memory with O(1) checks however many keys arrive.
//!
//! The counts live in a count-min sketch: `DEPTH` rows of `WIDTH` counters, a key counting in
//! one counter of each row (picked by a keyed hash, so nobody can aim collisions at a victim)
//! and reading as the smallest of them. A sketch never under-counts, so no key gets more than
//! its quota; two keys sharing all their counters can over-count, which with a million
//! counters and conservative updates takes far more keys than a minute brings. Windows are
//! the clock's minutes: at a new one the counters start again from zero.
//!
//! The clock is a parameter, so tests move time instead of sleeping.

use std::hash::BuildHasher;
use std::sync::Mutex;

/// The window every limit counts in: a minute of the clock.
pub const WINDOW_MS: i64 = 60_000;
const DEPTH: usize = 4;
/// Counters per row (a power of two); 4 rows of 2^20 u32s are 16 MiB however many keys come.
const WIDTH: usize = 1 << 20;

pub struct RateLimiter {
    hasher: std::collections::hash_map::RandomState,
    state: Mutex<Window>,
}

struct Window {
    /// The minute (since the epoch) the counts are for.
    minute: i64,
    counts: Vec<u32>,
}

impl Default for RateLimiter {
    fn default() -> Self {
        RateLimiter {
            hasher: std::collections::hash_map::RandomState::new(),
            state: Mutex::new(Window {
                minute: i64::MIN,
                counts: vec![0; DEPTH * WIDTH],
            }),
        }
    }
}

impl RateLimiter {
    /// The counter of `key` in each row.
    fn slots(&self, key: &str) -> [usize; DEPTH] {
        let a = self.hasher.hash_one(key);
        let b = a.rotate_left(32) | 1;
        std::array::from_fn(|row| {
            row * WIDTH + (a.wrapping_add((row as u64).wrapping_mul(b)) as usize & (WIDTH - 1))
        })
    }

    fn window(&self, now_ms: i64) -> std::sync::MutexGuard<'_, Window> {
        let mut w = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let minute = now_ms.div_euclid(WINDOW_MS);
        if minute != w.minute {
            w.minute = minute;
            w.counts.fill(0);
        }
        w
    }

    /// Seconds until the window that `now_ms` is in ends (at least 1).
    pub fn wait_s(now_ms: i64) -> u64 {
        let left = WINDOW_MS - now_ms.rem_euclid(WINDOW_MS);
        ((left + 999) / 1000).max(1) as u64
    }

    /// Counts one attempt on `key`; `Err(seconds to wait)` once `per_minute` are used up.
    pub fn check(&self, key: &str, per_minute: u32, now_ms: i64) -> Result<(), u64> {
        let slots = self.slots(key);
        let mut w = self.window(now_ms);
        let count = slots.iter().map(|&i| w.counts[i]).min().unwrap_or(0);
        if count >= per_minute {
            return Err(Self::wait_s(now_ms));
        }
        // Conservative update: only the counters at the minimum rise, which keeps the
        // over-count of keys that share some counters as small as it can be.
        for &i in &slots {
            if w.counts[i] == count {
                w.counts[i] = count + 1;
            }
        }
        Ok(())
    }

    /// Whether `key` has used up `per_minute` already, without counting an attempt (for
    /// limits that count failures only).
    pub fn exhausted(&self, key: &str, per_minute: u32, now_ms: i64) -> Result<(), u64> {
        let slots = self.slots(key);
        let w = self.window(now_ms);
        let count = slots.iter().map(|&i| w.counts[i]).min().unwrap_or(0);
        if count >= per_minute {
            Err(Self::wait_s(now_ms))
        } else {
            Ok(())
        }
    }

    /// Counts one failure on `key` (see [`RateLimiter::exhausted`]).
    pub fn count(&self, key: &str, now_ms: i64) {
        let _ = self.check(key, u32::MAX, now_ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_gets_its_quota_per_minute_and_others_are_separate() {
        let r = RateLimiter::default();
        for _ in 0..3 {
            r.check("a", 3, 1_000).unwrap();
        }
        assert_eq!(r.check("a", 3, 30_000), Err(30));
        r.check("b", 3, 30_000).unwrap();
        r.check("a", 3, 61_000).unwrap();
    }

    #[test]
    fn failures_count_only_when_told() {
        let r = RateLimiter::default();
        for _ in 0..5 {
            r.exhausted("u", 2, 0).unwrap();
        }
        r.count("u", 0);
        r.count("u", 0);
        assert_eq!(r.exhausted("u", 2, 0), Err(60));
        r.exhausted("u", 2, 60_000).unwrap();
    }

    #[test]
    fn a_flood_of_keys_neither_grows_the_memory_nor_starves_an_honest_key() {
        let r = RateLimiter::default();
        // 300,000 one-off keys in a minute (an attacker rotating addresses)...
        for i in 0..300_000 {
            r.check(&format!("ip:{i}"), 30, 5_000).unwrap();
        }
        assert_eq!(
            r.state.lock().unwrap().counts.len(),
            DEPTH * WIDTH,
            "memory is fixed"
        );
        // ...and an honest key still gets (about) its whole quota, and never more.
        let granted = (0..40)
            .filter(|_| r.check("ip:honest", 30, 6_000).is_ok())
            .count();
        assert!((29..=30).contains(&granted), "{granted}");
    }
}
