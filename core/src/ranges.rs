//! Every range of values Strideguard accepts, named once. The CLI's value parsers, the
//! bindings' checks and the store's validation all read these, so a phone and the command line
//! can never disagree on what "a valid RPE" or "a valid target cadence" is.

use std::fmt;

/// An inclusive range of accepted values for one named input, with its unit for messages.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Accepted<T> {
    /// The input's name in messages (`RPE`, `target cadence`, ...).
    pub what: &'static str,
    pub min: T,
    pub max: T,
    /// Appended to the numbers in messages (` steps/min`, `%`, ...).
    pub unit: &'static str,
}

/// A value outside its accepted range; the message names the input, the value and the range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{what}: {value}{unit} is outside {min}-{max}{unit}")]
pub struct OutOfRange {
    pub what: &'static str,
    pub value: String,
    pub min: String,
    pub max: String,
    pub unit: &'static str,
}

impl<T: PartialOrd + Copy + fmt::Display> Accepted<T> {
    pub fn contains(&self, v: T) -> bool {
        v >= self.min && v <= self.max
    }

    /// `v` when it is in the range, else an error naming the input and the range.
    pub fn check(&self, v: T) -> Result<T, OutOfRange> {
        if self.contains(v) {
            Ok(v)
        } else {
            Err(OutOfRange {
                what: self.what,
                value: v.to_string(),
                min: self.min.to_string(),
                max: self.max.to_string(),
                unit: self.unit,
            })
        }
    }
}

/// Weeks a report covers (a phone shows 8; ten years is the longest history worth charting).
pub const REPORT_WEEKS: Accepted<u16> = Accepted {
    what: "weeks",
    min: 1,
    max: 520,
    unit: "",
};

/// The weeks a report covers when none are asked for.
pub const DEFAULT_REPORT_WEEKS: u16 = 8;

/// A cadence target, steps per minute of both feet (a fixed profile target or a live session's).
pub const TARGET_CADENCE_SPM: Accepted<f64> = Accepted {
    what: "target cadence",
    min: 100.0,
    max: 240.0,
    unit: " steps/min",
};

/// The live coach's target when the runner has neither a fixed target nor a baseline yet.
pub const FALLBACK_TARGET_SPM: f64 = 170.0;

/// The increase over the runner's own baseline for the automatic target (domain.md: 5-10% is
/// the researched range; up to 20% is allowed).
pub const CADENCE_INCREASE_PCT: Accepted<f64> = Accepted {
    what: "cadence increase",
    min: 0.0,
    max: 20.0,
    unit: "%",
};

/// Session rating of perceived exertion (Foster's CR-10).
pub const RPE: Accepted<u8> = Accepted {
    what: "RPE",
    min: 0,
    max: 10,
    unit: "",
};

/// Pain severity, 0 (none) to 10 (worst imaginable).
pub const PAIN_SEVERITY: Accepted<u8> = Accepted {
    what: "severity",
    min: 0,
    max: 10,
    unit: "",
};

pub const RESTING_HR_BPM: Accepted<u8> = Accepted {
    what: "resting heart rate",
    min: 25,
    max: 120,
    unit: " bpm",
};

pub const MAX_HR_BPM: Accepted<u8> = Accepted {
    what: "max heart rate",
    min: 100,
    max: 240,
    unit: " bpm",
};

/// A run's average heart rate typed by hand.
pub const RUN_HR_BPM: Accepted<u8> = Accepted {
    what: "average heart rate",
    min: 30,
    max: 250,
    unit: " bpm",
};

/// A run's average cadence typed by hand, steps per minute of both feet.
pub const RUN_CADENCE_SPM: Accepted<u16> = Accepted {
    what: "cadence",
    min: 60,
    max: 260,
    unit: " steps/min",
};

/// A cadence a sensor may report during a live session (0 is standing still; sprinters reach
/// about 280).
pub const SENSOR_CADENCE_SPM: Accepted<f64> = Accepted {
    what: "sensor cadence",
    min: 0.0,
    max: 300.0,
    unit: " steps/min",
};

/// A speed a sensor may report during a live session (the fastest sprint is about 12.4 m/s).
pub const SENSOR_SPEED_MPS: Accepted<f64> = Accepted {
    what: "sensor speed",
    min: 0.0,
    max: 15.0,
    unit: " m/s",
};

/// The time of a reading in a live session, seconds since its start (a week covers any race).
pub const SESSION_SECONDS: Accepted<f64> = Accepted {
    what: "session time",
    min: 0.0,
    max: 604_800.0,
    unit: " s",
};

pub const HEIGHT_M: Accepted<f64> = Accepted {
    what: "height",
    min: 0.5,
    max: 2.8,
    unit: " m",
};

/// Runs on one page of a paged list (an app's infinite scroll asks for one page at a time).
pub const PAGE_RUNS: Accepted<u64> = Accepted {
    what: "page size",
    min: 1,
    max: 10_000,
    unit: " runs",
};

/// PBKDF2 iterations a device may choose (the server sets its own minimum on top).
pub const KDF_ITERATIONS: Accepted<u32> = Accepted {
    what: "KDF iterations",
    min: 1_000,
    max: strideguard_proto::account::MAX_ITERATIONS,
    unit: "",
};

/// The longest name (a shoe, its brand or model), in characters: a phone shows it on one line.
pub const NAME_MAX_CHARS: usize = 100;

/// The longest note on a run, in characters (a few pages). Every record must fit the sync
/// server's record limit (256 KiB by default) once encrypted, or it could never reach the
/// runner's other devices.
pub const NOTES_MAX_CHARS: usize = 10_000;

/// The shortest passphrase, in characters ("a few words is best").
pub const MIN_PASSPHRASE_CHARS: usize = 8;

/// How long a Bluetooth scan listens, seconds.
pub const SCAN_SECONDS: Accepted<u64> = Accepted {
    what: "scan time",
    min: 1,
    max: 60,
    unit: " s",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_outside_says_what_and_the_range() {
        assert_eq!(RPE.check(7), Ok(7));
        assert_eq!(
            RPE.check(11).unwrap_err().to_string(),
            "RPE: 11 is outside 0-10"
        );
        assert_eq!(
            TARGET_CADENCE_SPM.check(90.0).unwrap_err().to_string(),
            "target cadence: 90 steps/min is outside 100-240 steps/min"
        );
        assert!(REPORT_WEEKS.contains(DEFAULT_REPORT_WEEKS));
        assert!(TARGET_CADENCE_SPM.contains(FALLBACK_TARGET_SPM));
    }
}
