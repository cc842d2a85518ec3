//! Fixed-window rate limits (per minute) on named keys such as `login-user:anna`. The clock
//! is a parameter, so tests move time instead of sleeping.

use std::collections::HashMap;
use std::sync::Mutex;

const WINDOW_MS: i64 = 60_000;

#[derive(Default)]
pub struct RateLimiter {
    windows: Mutex<HashMap<String, (i64, u32)>>,
}

impl RateLimiter {
    /// Counts one attempt on `key`; `Err(seconds to wait)` once `per_minute` are used up.
    pub fn check(&self, key: &str, per_minute: u32, now_ms: i64) -> Result<(), u64> {
        let mut w = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if w.len() > 100_000 {
            w.retain(|_, (start, _)| now_ms - *start < WINDOW_MS);
        }
        let entry = w.entry(key.to_string()).or_insert((now_ms, 0));
        if now_ms - entry.0 >= WINDOW_MS || now_ms < entry.0 {
            *entry = (now_ms, 0);
        }
        if entry.1 >= per_minute {
            let wait = (entry.0 + WINDOW_MS - now_ms).max(1000) / 1000;
            return Err(wait as u64);
        }
        entry.1 += 1;
        Ok(())
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
        assert_eq!(r.check("a", 3, 30_000), Err(31));
        r.check("b", 3, 30_000).unwrap();
        r.check("a", 3, 61_000).unwrap();
    }
}
