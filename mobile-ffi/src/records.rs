//! Runs, shoes and the profile as the apps see them. Times are Unix milliseconds (runs also
//! carry the UTC offset the runner was in), days `YYYY-MM-DD`, distances metres, durations
//! seconds; integers are signed (Kotlin `Int`/`Long`, Swift `Int32`/`Int64`).

use std::collections::HashMap;

use strideguard_core::import::Format;
use strideguard_core::model as core;
use uuid::Uuid;

use crate::error::StrideguardError;
use crate::mirror_enum;

mirror_enum!(
    /// What kind of session a run was.
    RunKind = core::RunKind { Easy, Long, Tempo, Interval, Hills, Race, Unknown }
);

mirror_enum!(
    /// Where a run came from.
    RunSource = core::RunSource { Manual, Fit, Gpx, Tcx, Live }
);

mirror_enum!(
    /// How distances are shown (storage is always metres).
    Units = core::Units { Km, Mi }
);

mirror_enum!(
    /// A shoe's state by its distance against its own marks.
    ShoeWear = core::ShoeWear { Ok, CheckWear, Replace, Retired }
);

mirror_enum!(
    /// Activity file formats, for import hints and export.
    ActivityFormat = Format { Fit, Gpx, Tcx }
);

mirror_enum!(
    /// What runs can be exported as: the activity formats, and CSV of the samples.
    ExportFormat = strideguard_core::export::ExportFormat { Fit, Gpx, Tcx, Csv }
);

/// A run as stored.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Run {
    pub id: String,
    pub start_unix_ms: i64,
    /// The UTC offset the runner was in at the start.
    pub utc_offset_seconds: i32,
    pub duration_seconds: f64,
    pub moving_time_seconds: Option<f64>,
    pub distance_meters: f64,
    pub elevation_gain_meters: Option<f64>,
    pub elevation_loss_meters: Option<f64>,
    pub avg_heart_rate_bpm: Option<f64>,
    pub max_heart_rate_bpm: Option<f64>,
    /// Steps per minute, both feet.
    pub avg_cadence_spm: Option<f64>,
    /// Running dynamics and power, averaged over the run (from a FIT file that has them).
    pub avg_power_watts: Option<f64>,
    pub avg_stance_time_seconds: Option<f64>,
    /// The left foot's share of the stance time, in percent.
    pub avg_stance_balance_left_percent: Option<f64>,
    pub avg_vertical_oscillation_meters: Option<f64>,
    pub avg_vertical_ratio_percent: Option<f64>,
    pub avg_step_length_meters: Option<f64>,
    pub kind: RunKind,
    pub rpe: Option<i32>,
    pub shoe_id: Option<String>,
    pub notes: Option<String>,
    pub source: RunSource,
    /// How many samples its stream has (0: no stream).
    pub sample_count: i64,
}

impl Run {
    pub(crate) fn new(r: &core::Run, sample_count: u64) -> Run {
        Run {
            id: r.id.to_string(),
            start_unix_ms: r.start.timestamp_millis(),
            utc_offset_seconds: r.start.offset().local_minus_utc(),
            duration_seconds: r.duration_s,
            moving_time_seconds: r.moving_time_s,
            distance_meters: r.distance_m,
            elevation_gain_meters: r.elevation_gain_m,
            elevation_loss_meters: r.elevation_loss_m,
            avg_heart_rate_bpm: r.avg_hr_bpm,
            max_heart_rate_bpm: r.max_hr_bpm,
            avg_cadence_spm: r.avg_cadence_spm,
            avg_power_watts: r.avg_power_w,
            avg_stance_time_seconds: r.avg_stance_time_s,
            avg_stance_balance_left_percent: r.avg_stance_balance_left_pct,
            avg_vertical_oscillation_meters: r.avg_vertical_oscillation_m,
            avg_vertical_ratio_percent: r.avg_vertical_ratio_pct,
            avg_step_length_meters: r.avg_step_length_m,
            kind: r.kind.into(),
            rpe: r.rpe.map(i32::from),
            shoe_id: r.shoe_id.map(|s| s.to_string()),
            notes: r.notes.clone(),
            source: r.source.into(),
            sample_count: sample_count as i64,
        }
    }

    pub(crate) fn list(runs: &[core::Run], counts: &HashMap<Uuid, u64>) -> Vec<Run> {
        runs.iter()
            .map(|r| Run::new(r, counts.get(&r.id).copied().unwrap_or(0)))
            .collect()
    }
}

/// A run entered by hand. Without a shoe it goes on the default shoe.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct NewRun {
    pub start_unix_ms: i64,
    /// The runner's UTC offset at the start; `None`: their profile's time zone then.
    #[uniffi(default = None)]
    pub utc_offset_seconds: Option<i32>,
    pub distance_meters: f64,
    pub duration_seconds: f64,
    #[uniffi(default = None)]
    pub kind: Option<RunKind>,
    #[uniffi(default = None)]
    pub rpe: Option<i32>,
    /// A shoe's id, id prefix or name; `None`: the default shoe.
    #[uniffi(default = None)]
    pub shoe: Option<String>,
    #[uniffi(default = None)]
    pub notes: Option<String>,
    #[uniffi(default = None)]
    pub avg_heart_rate_bpm: Option<f64>,
    #[uniffi(default = None)]
    pub avg_cadence_spm: Option<f64>,
    #[uniffi(default = None)]
    pub elevation_gain_meters: Option<f64>,
}

/// A page of runs, newest first, and how many there are in all.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct RunsPage {
    pub runs: Vec<Run>,
    pub total: i64,
}

/// A run's sample stream, one list per channel (every list as long as `elapsed_seconds`), ready
/// for a chart.
#[derive(Debug, Clone, PartialEq, Default, uniffi::Record)]
pub struct Samples {
    pub elapsed_seconds: Vec<f64>,
    pub latitude_degrees: Vec<Option<f64>>,
    pub longitude_degrees: Vec<Option<f64>>,
    pub altitude_meters: Vec<Option<f64>>,
    pub distance_meters: Vec<Option<f64>>,
    pub speed_mps: Vec<Option<f64>>,
    pub heart_rate_bpm: Vec<Option<i32>>,
    pub cadence_spm: Vec<Option<f64>>,
    pub stride_meters: Vec<Option<f64>>,
    pub stance_time_seconds: Vec<Option<f64>>,
    pub stance_balance_left_percent: Vec<Option<f64>>,
    pub vertical_oscillation_meters: Vec<Option<f64>>,
    pub vertical_ratio_percent: Vec<Option<f64>>,
    pub power_watts: Vec<Option<f64>>,
}

impl From<&[core::Sample]> for Samples {
    fn from(s: &[core::Sample]) -> Self {
        Samples {
            elapsed_seconds: s.iter().map(|x| x.t_s).collect(),
            latitude_degrees: s.iter().map(|x| x.lat_deg).collect(),
            longitude_degrees: s.iter().map(|x| x.lon_deg).collect(),
            altitude_meters: s.iter().map(|x| x.altitude_m).collect(),
            distance_meters: s.iter().map(|x| x.distance_m).collect(),
            speed_mps: s.iter().map(|x| x.speed_mps).collect(),
            heart_rate_bpm: s.iter().map(|x| x.hr_bpm.map(i32::from)).collect(),
            cadence_spm: s.iter().map(|x| x.cadence_spm).collect(),
            stride_meters: s.iter().map(|x| x.stride_m).collect(),
            stance_time_seconds: s.iter().map(|x| x.stance_time_s).collect(),
            stance_balance_left_percent: s.iter().map(|x| x.stance_balance_left_pct).collect(),
            vertical_oscillation_meters: s.iter().map(|x| x.vertical_oscillation_m).collect(),
            vertical_ratio_percent: s.iter().map(|x| x.vertical_ratio_pct).collect(),
            power_watts: s.iter().map(|x| x.power_w).collect(),
        }
    }
}

/// One run with its samples.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct RunDetail {
    pub run: Run,
    pub samples: Samples,
}

/// A pair of shoes with its distance (start distance plus its runs) and wear state.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Shoe {
    pub id: String,
    pub name: String,
    pub brand: Option<String>,
    pub model: Option<String>,
    pub start_distance_meters: f64,
    pub wear_at_meters: f64,
    pub replace_at_meters: f64,
    pub retired: bool,
    pub is_default: bool,
    pub distance_meters: f64,
    pub run_count: i32,
    pub wear: ShoeWear,
}

impl From<&core::ShoeUsage> for Shoe {
    fn from(u: &core::ShoeUsage) -> Self {
        Shoe {
            id: u.shoe.id.to_string(),
            name: u.shoe.name.clone(),
            brand: u.shoe.brand.clone(),
            model: u.shoe.model.clone(),
            start_distance_meters: u.shoe.start_distance_m,
            wear_at_meters: u.shoe.wear_at_m,
            replace_at_meters: u.shoe.replace_at_m,
            retired: u.shoe.retired,
            is_default: u.shoe.is_default,
            distance_meters: u.distance_m,
            run_count: i32::try_from(u.run_count).unwrap_or(i32::MAX),
            wear: u.wear().into(),
        }
    }
}

/// A new pair of shoes (the first one becomes the default whatever `make_default` says).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct NewShoe {
    pub name: String,
    #[uniffi(default = None)]
    pub brand: Option<String>,
    #[uniffi(default = None)]
    pub model: Option<String>,
    /// Distance already on it (bought used, or tracked elsewhere).
    #[uniffi(default = 0.0)]
    pub start_distance_meters: f64,
    /// When to check the midsole; `None`: 300 miles.
    #[uniffi(default = None)]
    pub wear_at_meters: Option<f64>,
    /// When to replace it; `None`: 500 miles.
    #[uniffi(default = None)]
    pub replace_at_meters: Option<f64>,
    #[uniffi(default = false)]
    pub make_default: bool,
}

/// What to change on a shoe; `None` leaves a field, an empty brand or model removes it.
#[derive(Debug, Clone, PartialEq, Default, uniffi::Record)]
pub struct ShoeChanges {
    #[uniffi(default = None)]
    pub name: Option<String>,
    #[uniffi(default = None)]
    pub brand: Option<String>,
    #[uniffi(default = None)]
    pub model: Option<String>,
    #[uniffi(default = None)]
    pub start_distance_meters: Option<f64>,
    #[uniffi(default = None)]
    pub wear_at_meters: Option<f64>,
    #[uniffi(default = None)]
    pub replace_at_meters: Option<f64>,
}

/// The runner's settings (the rules' thresholds are separate: `thresholds()`).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Profile {
    pub units: Units,
    /// IANA name, e.g. `Europe/Berlin`: weeks and days are counted in it.
    pub time_zone: String,
    /// A fixed cadence target; `None` means automatic (baseline plus `cadence_increase_pct`).
    pub fixed_cadence_spm: Option<f64>,
    pub cadence_increase_pct: f64,
    pub resting_heart_rate_bpm: Option<i32>,
    pub max_heart_rate_bpm: Option<i32>,
    pub height_meters: Option<f64>,
}

impl From<&core::Profile> for Profile {
    fn from(p: &core::Profile) -> Self {
        let (fixed, pct) = match p.cadence_target {
            core::CadenceTarget::Fixed { spm } => {
                (Some(spm), core::Profile::DEFAULT_CADENCE_INCREASE_PCT)
            }
            core::CadenceTarget::Auto { increase_pct } => (None, increase_pct),
        };
        Profile {
            units: p.units.into(),
            time_zone: p.time_zone.clone(),
            fixed_cadence_spm: fixed,
            cadence_increase_pct: pct,
            resting_heart_rate_bpm: p.resting_hr_bpm.map(i32::from),
            max_heart_rate_bpm: p.max_hr_bpm.map(i32::from),
            height_meters: p.height_m,
        }
    }
}

/// One of the analysis rules' numbers, by its stable name (`weekly_increase_pct`, ...).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Threshold {
    pub name: String,
    pub value: f64,
    /// domain.md's default.
    pub default_value: f64,
}

/// Every threshold with its default, in name order.
pub(crate) fn thresholds(t: &core::Thresholds) -> Vec<Threshold> {
    let now = serde_json::to_value(t).unwrap_or_default();
    let defaults = serde_json::to_value(core::Thresholds::default()).unwrap_or_default();
    let mut out: Vec<Threshold> = now
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| {
            Some(Threshold {
                name: k.clone(),
                value: v.as_f64()?,
                default_value: defaults.get(k)?.as_f64()?,
            })
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// An app's integer checked against one of core's ranges of small numbers (RPE, heart rate,
/// severity), with core's message when it is outside.
pub(crate) fn in_range(
    range: strideguard_core::ranges::Accepted<u8>,
    field: &str,
    v: i32,
) -> Result<u8, StrideguardError> {
    let outside = || {
        StrideguardError::invalid(
            field,
            format!(
                "{}: {v}{} is outside {}-{}{}",
                range.what, range.unit, range.min, range.max, range.unit
            ),
        )
    };
    let b = u8::try_from(v).map_err(|_| outside())?;
    range.check(b).map_err(|_| outside())
}
