//! What the runner's own history shows in the weeks before a pain began: the triage puts it next
//! to the pattern it may explain (downhill running before outer-knee pain, added speed or hills
//! before Achilles pain, a mileage jump before shin pain; load spikes, worn shoes and low cadence
//! before any of them).

use std::collections::HashMap;

use chrono::{Days, NaiveDate};
use serde::Serialize;

use super::PatternId;
use crate::analysis::load::{is_hill_work, is_speed_work};
use crate::analysis::weekly::local_date;
use crate::analysis::{ReportInput, WarningKind, build_report};
use crate::model::{Profile, Run, RunKind, ShoeUsage};
use crate::units::format_distance;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DataTopic {
    LoadSpike,
    MileageJump,
    Downhill,
    SpeedOrHills,
    Shoes,
    LowCadence,
}

impl DataTopic {
    /// Whether this note belongs next to `likely` (all of them when no pattern is likely).
    pub fn relevant_to(self, likely: Option<PatternId>) -> bool {
        use DataTopic::*;
        matches!(
            (likely, self),
            (None, _)
                | (_, LoadSpike | Shoes | LowCadence)
                | (Some(PatternId::ItBandSyndrome), Downhill)
                | (Some(PatternId::AchillesTendinopathy), SpeedOrHills)
                | (Some(PatternId::MedialTibialStressSyndrome), MileageJump)
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DataNote {
    pub topic: DataTopic,
    pub text: String,
}

/// Descent per km from which a run counts as downhill running.
const DOWNHILL_M_PER_KM: f64 = 15.0;
/// How far back "the weeks before" reaches for runs.
const LOOKBACK_DAYS: u64 = 14;

/// Metres run downhill: the recorded descent, or for runs entered by hand with only the climb,
/// the climb (a loop or an out-and-back descends what it climbs).
fn descent(r: &Run) -> Option<f64> {
    r.elevation_loss_m.or(r.elevation_gain_m)
}

/// Notes on the history up to the day the pain began.
pub fn data_notes(
    runs: &[Run],
    shoes: &[ShoeUsage],
    profile: &Profile,
    onset: NaiveDate,
) -> Vec<DataNote> {
    let t = profile.thresholds.clone();
    let tz = profile.zone();
    let units = profile.units;
    let report = build_report(&ReportInput {
        runs,
        samples: &HashMap::new(),
        shoes,
        profile,
        as_of: onset,
        weeks: 4,
        thresholds: &t,
    });
    let mut notes = Vec::new();
    for w in &report.warnings {
        let topic = match w.kind {
            WarningKind::TwoWeekSpike | WarningKind::WeeklyIncrease => DataTopic::MileageJump,
            WarningKind::SingleRunSpike | WarningKind::AcwrHigh | WarningKind::AcwrDanger => {
                DataTopic::LoadSpike
            }
            WarningKind::ShoeReplace | WarningKind::ShoeWearCheck => DataTopic::Shoes,
            WarningKind::LowCadence => DataTopic::LowCadence,
            WarningKind::IntensityWithoutBase | WarningKind::HillsWithoutBase => {
                DataTopic::SpeedOrHills
            }
        };
        notes.push(DataNote {
            topic,
            text: format!("Before it began: {}.", w.title),
        });
        // A mileage jump is a load spike too.
        if topic == DataTopic::MileageJump {
            notes.push(DataNote {
                topic: DataTopic::LoadSpike,
                text: format!("Before it began: {}.", w.title),
            });
        }
    }
    let from = onset - Days::new(LOOKBACK_DAYS);
    let before: Vec<&Run> = runs
        .iter()
        .filter(|r| {
            let d = local_date(r, tz);
            d >= from && d <= onset
        })
        .collect();
    let downhill: Vec<String> = before
        .iter()
        .filter(|r| {
            r.kind == RunKind::Hills
                || (r.distance_m > 0.0
                    && descent(r).is_some_and(|l| l / (r.distance_m / 1000.0) >= DOWNHILL_M_PER_KM))
        })
        .map(|r| {
            format!(
                "{} ({} m down over {})",
                local_date(r, tz),
                descent(r).unwrap_or(0.0).round(),
                format_distance(r.distance_m, units)
            )
        })
        .collect();
    if !downhill.is_empty() {
        notes.push(DataNote {
            topic: DataTopic::Downhill,
            text: format!(
                "{} run{} with long descents in the two weeks before: {}. Downhill running is a known trigger of outer-knee (IT band) pain.",
                downhill.len(),
                if downhill.len() == 1 { "" } else { "s" },
                downhill.join(", ")
            ),
        });
    }
    let speed: f64 = before
        .iter()
        .filter(|r| is_speed_work(r))
        .map(|r| r.duration_s / 60.0)
        .sum();
    let hills: f64 = before
        .iter()
        .filter(|r| is_hill_work(r, t.hill_m_per_km))
        .map(|r| r.duration_s / 60.0)
        .sum();
    if speed > 0.0 || hills > 0.0 {
        notes.push(DataNote {
            topic: DataTopic::SpeedOrHills,
            text: format!(
                "In the two weeks before: {speed:.0} minutes of speed work and {hills:.0} minutes of hill work, both of which load the Achilles tendon."
            ),
        });
    }
    notes
}
