//! The runner's data: runs and their sample streams, shoes, and the profile.
//!
//! Everything is stored in SI units (metres, seconds, metres per second, steps per minute of
//! both feet, beats per minute); conversion to km or miles happens only for display, so no
//! rounding ever accumulates in the stored history.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One mile in metres (international mile).
pub const METRES_PER_MILE: f64 = 1609.344;

/// What kind of session a run was; drives the intensity rules of the analysis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RunKind {
    Easy,
    Long,
    Tempo,
    Interval,
    Hills,
    Race,
    #[default]
    Unknown,
}

impl RunKind {
    pub const ALL: [RunKind; 7] = [
        RunKind::Easy,
        RunKind::Long,
        RunKind::Tempo,
        RunKind::Interval,
        RunKind::Hills,
        RunKind::Race,
        RunKind::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunKind::Easy => "easy",
            RunKind::Long => "long",
            RunKind::Tempo => "tempo",
            RunKind::Interval => "interval",
            RunKind::Hills => "hills",
            RunKind::Race => "race",
            RunKind::Unknown => "unknown",
        }
    }
}

/// Where a run came from; imports use it together with the fingerprint to skip duplicates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RunSource {
    #[default]
    Manual,
    Fit,
    Gpx,
    Tcx,
    Live,
}

impl RunSource {
    pub const ALL: [RunSource; 5] = [
        RunSource::Manual,
        RunSource::Fit,
        RunSource::Gpx,
        RunSource::Tcx,
        RunSource::Live,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunSource::Manual => "manual",
            RunSource::Fit => "fit",
            RunSource::Gpx => "gpx",
            RunSource::Tcx => "tcx",
            RunSource::Live => "live",
        }
    }
}

/// A name that is not one of an enum's spellings; the message lists the accepted ones.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} '{given}': expected one of {expected}")]
pub struct UnknownName {
    pub what: &'static str,
    pub given: String,
    pub expected: String,
}

macro_rules! name_enum_parse {
    ($ty:ty, $what:literal) => {
        impl FromStr for $ty {
            type Err = UnknownName;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let lower = s.trim().to_ascii_lowercase();
                <$ty>::ALL
                    .into_iter()
                    .find(|v| v.as_str() == lower)
                    .ok_or_else(|| UnknownName {
                        what: $what,
                        given: s.to_string(),
                        expected: <$ty>::ALL.map(|v| v.as_str()).join(", "),
                    })
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
name_enum_parse!(RunKind, "run kind");
name_enum_parse!(RunSource, "run source");
name_enum_parse!(Units, "unit system");

/// A run: the summary of one session. Immutable after import except for the metadata a runner
/// edits (kind, RPE, shoe, notes), which is what sync merges field by field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub id: Uuid,
    /// Start time with the UTC offset the runner was in, so "Tuesday morning" stays Tuesday
    /// morning wherever the history is later viewed.
    pub start: DateTime<FixedOffset>,
    pub duration_s: f64,
    pub moving_time_s: Option<f64>,
    pub distance_m: f64,
    pub elevation_gain_m: Option<f64>,
    pub elevation_loss_m: Option<f64>,
    pub avg_hr_bpm: Option<f64>,
    pub max_hr_bpm: Option<f64>,
    /// Steps per minute, both feet: see [`crate::import::average_cadence`] for the one definition.
    pub avg_cadence_spm: Option<f64>,
    /// Averages of the running dynamics and power over the samples that have them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avg_power_w: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avg_stance_time_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avg_stance_balance_left_pct: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avg_vertical_oscillation_m: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avg_vertical_ratio_pct: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avg_step_length_m: Option<f64>,
    pub kind: RunKind,
    /// Session rating of perceived exertion, 0-10 (Foster).
    pub rpe: Option<u8>,
    pub shoe_id: Option<Uuid>,
    pub notes: Option<String>,
    pub source: RunSource,
    /// A stable digest of the source file or activity, so importing it again is recognised.
    pub source_fingerprint: Option<String>,
}

impl Run {
    /// A manual run with just the essentials; every optional field empty.
    pub fn new(id: Uuid, start: DateTime<FixedOffset>, distance_m: f64, duration_s: f64) -> Run {
        Run {
            id,
            start,
            duration_s,
            moving_time_s: None,
            distance_m,
            elevation_gain_m: None,
            elevation_loss_m: None,
            avg_hr_bpm: None,
            max_hr_bpm: None,
            avg_cadence_spm: None,
            avg_power_w: None,
            avg_stance_time_s: None,
            avg_stance_balance_left_pct: None,
            avg_vertical_oscillation_m: None,
            avg_vertical_ratio_pct: None,
            avg_step_length_m: None,
            kind: RunKind::Unknown,
            rpe: None,
            shoe_id: None,
            notes: None,
            source: RunSource::Manual,
            source_fingerprint: None,
        }
    }

    /// Average speed over the elapsed (or moving, when known) time, in m/s.
    pub fn avg_speed_mps(&self) -> Option<f64> {
        let t = self.moving_time_s.unwrap_or(self.duration_s);
        (t > 0.0).then(|| self.distance_m / t)
    }
}

/// One point of a run's sample stream. Every channel but the time is optional because devices
/// record different things (a treadmill run has no position, a GPX file often no heart rate).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Sample {
    /// Seconds since the start of the run.
    pub t_s: f64,
    pub lat_deg: Option<f64>,
    pub lon_deg: Option<f64>,
    pub altitude_m: Option<f64>,
    /// Cumulative distance from the start.
    pub distance_m: Option<f64>,
    pub speed_mps: Option<f64>,
    pub hr_bpm: Option<u8>,
    /// Steps per minute, both feet.
    pub cadence_spm: Option<f64>,
    /// Distance covered by one step (the step length), in metres.
    pub stride_m: Option<f64>,
    /// Running dynamics, from a chest strap, a footpod or the watch itself. Stance time is the
    /// ground contact time of one step, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stance_time_s: Option<f64>,
    /// The left foot's share of the stance time, in percent (50 is even).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stance_balance_left_pct: Option<f64>,
    /// How far the torso rises and falls with each step, in metres.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vertical_oscillation_m: Option<f64>,
    /// Vertical oscillation over step length, in percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vertical_ratio_pct: Option<f64>,
    /// Running power, in watts (the watch's own or a Stryd's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_w: Option<f64>,
}

/// A pair of shoes. Its distance is never stored: it is derived from the runs assigned to it plus
/// the start distance, so two devices syncing cannot double-count it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shoe {
    pub id: Uuid,
    pub name: String,
    pub brand: Option<String>,
    pub model: Option<String>,
    /// Distance already on the shoe when it was added (bought used, or tracked elsewhere).
    pub start_distance_m: f64,
    /// When to check the midsole for wear (default 300 mi).
    pub wear_at_m: f64,
    /// When to replace the shoe (default 500 mi).
    pub replace_at_m: f64,
    pub retired: bool,
    #[serde(rename = "default")]
    pub is_default: bool,
}

impl Shoe {
    /// Check for wear at 300 miles (domain.md, from the seed's 300-500 mile range).
    pub const DEFAULT_WEAR_AT_M: f64 = 300.0 * METRES_PER_MILE;
    /// Replace at 500 miles.
    pub const DEFAULT_REPLACE_AT_M: f64 = 500.0 * METRES_PER_MILE;

    pub fn new(id: Uuid, name: impl Into<String>) -> Shoe {
        Shoe {
            id,
            name: name.into(),
            brand: None,
            model: None,
            start_distance_m: 0.0,
            wear_at_m: Self::DEFAULT_WEAR_AT_M,
            replace_at_m: Self::DEFAULT_REPLACE_AT_M,
            retired: false,
            is_default: false,
        }
    }
}

/// A shoe together with what its runs add up to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShoeUsage {
    #[serde(flatten)]
    pub shoe: Shoe,
    /// Start distance plus the distance of every run assigned to the shoe.
    pub distance_m: f64,
    pub run_count: u32,
}

impl ShoeUsage {
    /// What the shoe's distance means now: the one place its wear marks are read.
    pub fn wear(&self) -> ShoeWear {
        if self.shoe.retired {
            ShoeWear::Retired
        } else if self.distance_m >= self.shoe.replace_at_m {
            ShoeWear::Replace
        } else if self.distance_m >= self.shoe.wear_at_m {
            ShoeWear::CheckWear
        } else {
            ShoeWear::Ok
        }
    }
}

/// A shoe's state by its distance against its own marks (domain.md: check at 300 miles,
/// replace at 500, per shoe).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShoeWear {
    Ok,
    /// Past its wear-check mark: look at the midsole.
    CheckWear,
    /// Past its replacement mark.
    Replace,
    /// Retired: keeps its history, takes no new runs.
    Retired,
}

impl ShoeWear {
    pub const ALL: [ShoeWear; 4] = [
        ShoeWear::Ok,
        ShoeWear::CheckWear,
        ShoeWear::Replace,
        ShoeWear::Retired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ShoeWear::Ok => "ok",
            ShoeWear::CheckWear => "check_wear",
            ShoeWear::Replace => "replace",
            ShoeWear::Retired => "retired",
        }
    }
}

/// How distances are shown to the runner. Storage is always metres.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Units {
    #[default]
    Km,
    Mi,
}

impl Units {
    pub const ALL: [Units; 2] = [Units::Km, Units::Mi];

    pub fn as_str(self) -> &'static str {
        match self {
            Units::Km => "km",
            Units::Mi => "mi",
        }
    }

    /// Metres in one display unit.
    pub fn metres(self) -> f64 {
        match self {
            Units::Km => 1000.0,
            Units::Mi => METRES_PER_MILE,
        }
    }
}

/// How the cadence target is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "mode")]
pub enum CadenceTarget {
    /// The runner's own speed-matched baseline plus a percentage (domain.md: +5% by default,
    /// +5-10% per Heiderscheit et al. 2011).
    Auto { increase_pct: f64 },
    /// A number the runner pinned.
    Fixed { spm: f64 },
}

impl Default for CadenceTarget {
    fn default() -> Self {
        CadenceTarget::Auto {
            increase_pct: Profile::DEFAULT_CADENCE_INCREASE_PCT,
        }
    }
}

/// The numbers behind every rule of the analysis. Each is a default from domain.md that a runner
/// may change in their profile (`profile set --threshold NAME=VALUE`).
/// Unknown names are ignored when reading, so thresholds written by a newer version (through
/// sync) do not break this one; `set` refuses names it does not know.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Thresholds {
    /// Week-over-week growth above this is a caution (the "10% rule", a guide rather than a law).
    pub weekly_increase_pct: f64,
    /// The last two weeks above the two before by this much is high risk (Nielsen et al. 2014).
    pub two_week_increase_pct: f64,
    /// Below this weekly distance, growth is judged in absolute steps, not percentages.
    pub small_base_m: f64,
    /// The absolute weekly step allowed on a small base.
    pub small_base_step_m: f64,
    /// A run climbing this many metres per km counts as hill work.
    pub hill_m_per_km: f64,
    /// Consecutive weeks of running that make a base for speed or hill work.
    pub base_weeks: u32,
    /// A run this much longer than the longest of the previous 30 days is a spike.
    pub single_run_spike_pct: f64,
    /// Days of history before the ACWR means anything.
    pub acwr_baseline_days: i64,
    /// A run this far below the speed-matched cadence baseline counts as low cadence.
    pub low_cadence_pct: f64,
    /// Recent runs checked for low cadence: the last this many days.
    pub recent_days: i64,
    /// The cadence baseline comes from easy and long runs in this many weeks before that.
    pub baseline_weeks: i64,
    /// An ACWR below this is under-loaded (Gabbett 2016; zones from team sports, debated).
    pub acwr_sweet_spot_low: f64,
    /// An ACWR above this (up to `acwr_danger_above`) is a caution.
    pub acwr_sweet_spot_high: f64,
    /// An ACWR above this is the danger zone.
    pub acwr_danger_above: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            weekly_increase_pct: 10.0,
            two_week_increase_pct: 30.0,
            small_base_m: 10_000.0,
            small_base_step_m: 2_000.0,
            hill_m_per_km: 20.0,
            base_weeks: 4,
            single_run_spike_pct: 10.0,
            acwr_baseline_days: 21,
            low_cadence_pct: 5.0,
            recent_days: 14,
            baseline_weeks: 12,
            acwr_sweet_spot_low: 0.8,
            acwr_sweet_spot_high: 1.3,
            acwr_danger_above: 1.5,
        }
    }
}

impl Thresholds {
    /// The names `profile set --threshold` accepts.
    pub fn names() -> Vec<String> {
        match serde_json::to_value(Thresholds::default()) {
            Ok(serde_json::Value::Object(m)) => m.keys().cloned().collect(),
            _ => Vec::new(),
        }
    }

    /// Changes one threshold by name; the value must be a number of the field's kind, 0 or more.
    pub fn set(&mut self, name: &str, value: f64) -> Result<(), ThresholdError> {
        let mut v = serde_json::to_value(&*self).expect("thresholds serialise");
        let Some(slot) = v.get_mut(name) else {
            return Err(ThresholdError::Unknown {
                name: name.to_string(),
                expected: Thresholds::names().join(", "),
            });
        };
        let bad = |reason: String| ThresholdError::Value {
            name: name.to_string(),
            reason,
        };
        if !value.is_finite() || value < 0.0 {
            return Err(bad(format!("{value} must be a number, 0 or more")));
        }
        *slot = if slot.is_u64() || slot.is_i64() {
            if value.fract() != 0.0 {
                return Err(bad(format!("{value} must be a whole number")));
            }
            serde_json::json!(value as u64)
        } else {
            serde_json::json!(value)
        };
        *self = serde_json::from_value(v).map_err(|e| bad(e.to_string()))?;
        Ok(())
    }
}

/// A threshold that could not be set: its name, or its value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ThresholdError {
    #[error("unknown threshold '{name}': expected one of {expected}")]
    Unknown { name: String, expected: String },
    #[error("{name}: {reason}")]
    Value { name: String, reason: String },
}

/// The runner's settings that analysis and display depend on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    pub units: Units,
    /// IANA time zone name; weeks are ISO weeks in this zone.
    pub time_zone: String,
    pub cadence_target: CadenceTarget,
    pub resting_hr_bpm: Option<u8>,
    pub max_hr_bpm: Option<u8>,
    pub height_m: Option<f64>,
    /// The analysis rules' numbers, domain.md's defaults unless the runner changed them.
    pub thresholds: Thresholds,
}

impl Profile {
    pub const DEFAULT_CADENCE_INCREASE_PCT: f64 = 5.0;

    /// The profile's time zone. The store validates the name on every write, so UTC is only
    /// the answer for a profile built by hand with a bad name.
    pub fn zone(&self) -> chrono_tz::Tz {
        self.time_zone.parse().unwrap_or(chrono_tz::UTC)
    }
}

impl Default for Profile {
    fn default() -> Self {
        Profile {
            units: Units::Km,
            time_zone: "UTC".to_string(),
            cadence_target: CadenceTarget::default(),
            resting_hr_bpm: None,
            max_hr_bpm: None,
            height_m: None,
            thresholds: Thresholds::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_names_parse_case_insensitively_and_reject_unknown_with_the_choices() {
        assert_eq!("Tempo".parse::<RunKind>().unwrap(), RunKind::Tempo);
        assert_eq!("mi".parse::<Units>().unwrap(), Units::Mi);
        let err = "jog".parse::<RunKind>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown run kind 'jog': expected one of easy, long, tempo, interval, hills, race, unknown"
        );
    }

    #[test]
    fn thresholds_are_set_by_name_with_their_kind() {
        let mut t = Thresholds::default();
        t.set("weekly_increase_pct", 8.0).unwrap();
        t.set("base_weeks", 6.0).unwrap();
        assert_eq!((t.weekly_increase_pct, t.base_weeks), (8.0, 6));
        assert!(
            t.set("base_weeks", 2.5)
                .unwrap_err()
                .to_string()
                .contains("whole number")
        );
        let e = t.set("weekly_increase_pct", -1.0).unwrap_err();
        assert!(matches!(e, ThresholdError::Value { .. }) && e.to_string().contains("0 or more"));
        let e = t.set("ten_percent", -10.0).unwrap_err();
        assert!(
            matches!(e, ThresholdError::Unknown { .. }),
            "the name first"
        );
        let e = e.to_string();
        assert!(
            e.starts_with("unknown threshold 'ten_percent': expected one of ")
                && e.contains("small_base_m"),
            "{e}"
        );
        // Stored JSON may hold only the changed ones.
        let partial: Thresholds = serde_json::from_str(r#"{"hill_m_per_km": 25.0}"#).unwrap();
        assert_eq!(partial.hill_m_per_km, 25.0);
        assert_eq!(partial.weekly_increase_pct, 10.0);
    }

    #[test]
    fn default_shoe_thresholds_are_300_and_500_miles() {
        let s = Shoe::new(Uuid::nil(), "x");
        assert!((s.wear_at_m - 482_803.2).abs() < 1e-6);
        assert!((s.replace_at_m - 804_672.0).abs() < 1e-6);
    }
}
