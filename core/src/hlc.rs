//! Hybrid logical clock (Kulkarni et al. 2014): stamps that follow wall time when clocks behave,
//! yet never go backwards and always order a change after every change it has seen, even when a
//! phone's clock is minutes off. Sync merges fields by these stamps (last writer wins).

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

/// One point in hybrid-logical time. Ordered by wall time, then counter, then node, so two
/// devices can never produce equal stamps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Stamp {
    /// Milliseconds since the Unix epoch (the largest wall time seen).
    pub wall_ms: u64,
    /// Orders events within the same millisecond.
    pub counter: u32,
    /// The device that made the stamp; breaks ties.
    pub node: Uuid,
}

impl Stamp {
    pub const ZERO: Stamp = Stamp {
        wall_ms: 0,
        counter: 0,
        node: Uuid::nil(),
    };
}

/// The text form is fixed-width hex so that sorting the strings sorts the stamps
/// (`0000019a1b2c3d4e-00000000-<uuid>`).
impl fmt::Display for Stamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:016x}-{:08x}-{}",
            self.wall_ms,
            self.counter,
            self.node.as_hyphenated()
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a hybrid-logical-clock stamp")]
pub struct BadStamp(pub String);

impl FromStr for Stamp {
    type Err = BadStamp;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadStamp(s.to_string());
        let (wall, rest) = s.split_once('-').ok_or_else(bad)?;
        let (counter, node) = rest.split_once('-').ok_or_else(bad)?;
        if wall.len() != 16 || counter.len() != 8 {
            return Err(bad());
        }
        Ok(Stamp {
            wall_ms: u64::from_str_radix(wall, 16).map_err(|_| bad())?,
            counter: u32::from_str_radix(counter, 16).map_err(|_| bad())?,
            node: Uuid::parse_str(node).map_err(|_| bad())?,
        })
    }
}

/// The clock state of one device: the last stamp it issued or observed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hlc {
    last: Stamp,
}

impl Hlc {
    /// Resumes from the last stamp this device persisted (or [`Stamp::ZERO`] for a new one).
    pub fn new(node: Uuid, last: Stamp) -> Hlc {
        Hlc {
            last: Stamp { node, ..last },
        }
    }

    pub fn last(&self) -> Stamp {
        self.last
    }

    /// A stamp for a local change at wall time `now_ms`: strictly after every earlier stamp.
    pub fn tick(&mut self, now_ms: i64) -> Stamp {
        let now = now_ms.max(0) as u64;
        if now > self.last.wall_ms {
            self.last.wall_ms = now;
            self.last.counter = 0;
        } else {
            self.bump_counter();
        }
        self.last
    }

    /// Folds in a stamp received from another device, so the next local stamp orders after it.
    pub fn observe(&mut self, remote: Stamp, now_ms: i64) -> Stamp {
        let now = now_ms.max(0) as u64;
        let wall = now.max(self.last.wall_ms).max(remote.wall_ms);
        let counter = if wall == self.last.wall_ms && wall == remote.wall_ms {
            self.last.counter.max(remote.counter).checked_add(1)
        } else if wall == self.last.wall_ms {
            self.last.counter.checked_add(1)
        } else if wall == remote.wall_ms {
            remote.counter.checked_add(1)
        } else {
            Some(0)
        };
        match counter {
            Some(c) => {
                self.last.wall_ms = wall;
                self.last.counter = c;
            }
            None => self.borrow_next_ms(wall),
        }
        self.last
    }

    fn bump_counter(&mut self) {
        match self.last.counter.checked_add(1) {
            Some(c) => self.last.counter = c,
            // 4 billion events in one millisecond: borrow the next millisecond.
            None => self.borrow_next_ms(self.last.wall_ms),
        }
    }

    /// The counter ran out at `wall`: the next millisecond, counter 0. At the last millisecond
    /// a u64 holds (only a bogus remote stamp gets there) the clock stays at the last stamp
    /// there is instead of wrapping back to 1970, which would make every later write lose.
    fn borrow_next_ms(&mut self, wall: u64) {
        match wall.checked_add(1) {
            Some(next) => {
                self.last.wall_ms = next;
                self.last.counter = 0;
            }
            None => {
                self.last.wall_ms = u64::MAX;
                self.last.counter = u32::MAX;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(n: u8) -> Uuid {
        Uuid::from_bytes([n; 16])
    }

    #[test]
    fn follows_wall_time_and_never_goes_backwards() {
        let mut h = Hlc::new(node(1), Stamp::ZERO);
        let a = h.tick(1_000);
        assert_eq!((a.wall_ms, a.counter), (1_000, 0));
        let b = h.tick(1_000);
        assert_eq!((b.wall_ms, b.counter), (1_000, 1));
        // The clock jumps back (NTP correction): stamps still increase.
        let c = h.tick(500);
        assert!(c > b);
        assert_eq!((c.wall_ms, c.counter), (1_000, 2));
        let d = h.tick(2_000);
        assert_eq!((d.wall_ms, d.counter), (2_000, 0));
    }

    #[test]
    fn orders_after_a_remote_stamp_from_a_clock_that_runs_ahead() {
        let mut phone = Hlc::new(node(1), Stamp::ZERO);
        let mut watch = Hlc::new(node(2), Stamp::ZERO);
        let remote = watch.tick(10_000); // the watch is 9 s ahead
        phone.observe(remote, 1_000);
        let local = phone.tick(1_001);
        assert!(local > remote);
        assert_eq!(local.node, node(1));
    }

    #[test]
    fn text_form_round_trips_and_sorts_like_the_stamps() {
        let mut h = Hlc::new(node(7), Stamp::ZERO);
        let a = h.tick(1_700_000_000_000);
        let b = h.tick(1_700_000_000_000);
        let (sa, sb) = (a.to_string(), b.to_string());
        assert_eq!(sa.parse::<Stamp>().unwrap(), a);
        assert!(sa < sb);
        assert!("nonsense".parse::<Stamp>().is_err());
        assert!("1-2-3".parse::<Stamp>().is_err());
    }

    /// Found by the `sync_record` fuzz target: a downloaded tombstone stamped at the last
    /// millisecond and counter there are made `observe` overflow (a panic in debug builds, a
    /// clock wrapped back to 1970 in release ones). The exact stamp of the minimised input.
    #[test]
    fn fuzz_observing_the_last_stamp_there_is_does_not_wrap() {
        let remote: Stamp = "ffffffffffffffff-ffffffff-0722ffff-ffff-ffff-0700-000000000000"
            .parse()
            .unwrap();
        let mut h = Hlc::new(node(1), Stamp::ZERO);
        let s = h.observe(remote, 0);
        assert_eq!((s.wall_ms, s.counter), (u64::MAX, u32::MAX));
        let t = h.tick(0);
        assert_eq!(
            (t.wall_ms, t.counter),
            (u64::MAX, u32::MAX),
            "never backwards"
        );
    }

    #[test]
    fn counter_overflow_borrows_the_next_millisecond() {
        let mut h = Hlc::new(
            node(1),
            Stamp {
                wall_ms: 5,
                counter: u32::MAX,
                node: node(1),
            },
        );
        let s = h.tick(5);
        assert_eq!((s.wall_ms, s.counter), (6, 0));
    }
}
