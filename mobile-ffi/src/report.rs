//! The training report as records and enums: everything `strideguard report --json` prints.

use std::collections::HashMap;

use strideguard_core::analysis::{self, acwr, cadence, warnings};

use crate::mirror_enum;
use crate::records::{Shoe, Threshold, Units, thresholds};

/// Distance, time, runs and load over a span.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Totals {
    pub distance_meters: f64,
    pub duration_seconds: f64,
    pub runs: i32,
    pub load: f64,
    /// Minutes of speed work (tempo, intervals, races).
    pub intensity_minutes: f64,
    /// Minutes of hill work.
    pub hill_minutes: f64,
    pub elevation_gain_meters: f64,
}

impl From<&analysis::Totals> for Totals {
    fn from(t: &analysis::Totals) -> Self {
        Totals {
            distance_meters: t.distance_m,
            duration_seconds: t.duration_s,
            runs: i32::try_from(t.runs).unwrap_or(i32::MAX),
            load: t.load,
            intensity_minutes: t.intensity_minutes,
            hill_minutes: t.hill_minutes,
            elevation_gain_meters: t.elevation_gain_m,
        }
    }
}

/// One ISO week.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct WeekTotal {
    /// e.g. `2026-W47`.
    pub week: String,
    /// Its Monday, `YYYY-MM-DD`.
    pub monday: String,
    pub totals: Totals,
}

impl From<&analysis::WeekTotal> for WeekTotal {
    fn from(w: &analysis::WeekTotal) -> Self {
        WeekTotal {
            week: w.week.clone(),
            monday: w.monday.to_string(),
            totals: (&w.totals).into(),
        }
    }
}

mirror_enum!(
    /// Where an acute:chronic ratio falls (zones from team sports, and debated).
    AcwrZone = acwr::AcwrZone { BuildingBaseline, UnderLoaded, SweetSpot, Caution, Danger }
);

#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct AcwrDay {
    pub date: String,
    pub load: f64,
    pub acute: f64,
    pub chronic: f64,
    pub ratio: Option<f64>,
    pub zone: AcwrZone,
}

impl From<&acwr::AcwrDay> for AcwrDay {
    fn from(d: &acwr::AcwrDay) -> Self {
        AcwrDay {
            date: d.date.to_string(),
            load: d.load,
            acute: d.acute,
            chronic: d.chronic,
            ratio: d.ratio,
            zone: d.zone.into(),
        }
    }
}

mirror_enum!(
    /// A warning's stable kind.
    WarningKind = warnings::WarningKind {
        WeeklyIncrease,
        TwoWeekSpike,
        SingleRunSpike,
        AcwrHigh,
        AcwrDanger,
        IntensityWithoutBase,
        HillsWithoutBase,
        ShoeWearCheck,
        ShoeReplace,
        LowCadence
    }
);

mirror_enum!(Severity = warnings::Severity { Caution, High });

/// A training warning: what, how serious, why, and the numbers behind it.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Warning {
    pub kind: WarningKind,
    pub severity: Severity,
    /// What it is about: a week, a run id, a shoe id.
    pub subject: String,
    pub title: String,
    pub explanation: String,
    pub numbers: HashMap<String, f64>,
}

impl From<&warnings::Warning> for Warning {
    fn from(w: &warnings::Warning) -> Self {
        Warning {
            kind: w.kind.into(),
            severity: w.severity.into(),
            subject: w.subject.clone(),
            title: w.title.clone(),
            explanation: w.explanation.clone(),
            numbers: w.numbers.iter().map(|(k, v)| (k.clone(), *v)).collect(),
        }
    }
}

mirror_enum!(
    /// How a session's load was measured.
    LoadMethod = analysis::LoadMethod { Rpe, HrTrimp, Minutes }
);

#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct LoadMethodCount {
    pub method: LoadMethod,
    pub runs: i32,
}

mirror_enum!(
    /// How the cadence target is chosen.
    CadenceTargetMode = cadence::TargetMode { Auto, Fixed }
);

/// The runner's cadence at one speed band, from their easy and long runs.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct CadenceBand {
    pub min_speed_mps: f64,
    pub max_speed_mps: f64,
    pub cadence_spm: f64,
    pub target_spm: f64,
    pub runs: i32,
}

/// One run's cadence against its speed-matched baseline.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct RunCadence {
    pub run_id: String,
    pub date: String,
    pub avg_cadence_spm: f64,
    pub avg_speed_mps: f64,
    pub step_length_meters: f64,
    pub baseline_spm: Option<f64>,
    pub target_spm: Option<f64>,
    /// How far below the baseline (negative: above).
    pub below_baseline_pct: Option<f64>,
    /// Within the recent window checked for low cadence.
    pub recent: bool,
}

/// Time spent in one cadence bin in the recent sample streams.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct CadenceBin {
    pub from_spm: f64,
    pub to_spm: f64,
    pub seconds: f64,
}

#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct CadenceReport {
    pub target_mode: CadenceTargetMode,
    /// For `Auto`, the percentage above the baseline.
    pub increase_pct: Option<f64>,
    /// The cadence to aim for at easy pace, when it can be told.
    pub target_spm: Option<f64>,
    pub baseline: Vec<CadenceBand>,
    pub runs: Vec<RunCadence>,
    pub distribution: Vec<CadenceBin>,
}

impl From<&cadence::CadenceReport> for CadenceReport {
    fn from(c: &cadence::CadenceReport) -> Self {
        CadenceReport {
            target_mode: c.target_mode.into(),
            increase_pct: c.increase_pct,
            target_spm: c.target_spm,
            baseline: c
                .baseline
                .iter()
                .map(|b| CadenceBand {
                    min_speed_mps: b.min_speed_mps,
                    max_speed_mps: b.max_speed_mps,
                    cadence_spm: b.cadence_spm,
                    target_spm: b.target_spm,
                    runs: i32::try_from(b.runs).unwrap_or(i32::MAX),
                })
                .collect(),
            runs: c
                .runs
                .iter()
                .map(|r| RunCadence {
                    run_id: r.run_id.to_string(),
                    date: r.date.to_string(),
                    avg_cadence_spm: r.avg_cadence_spm,
                    avg_speed_mps: r.avg_speed_mps,
                    step_length_meters: r.step_length_m,
                    baseline_spm: r.baseline_spm,
                    target_spm: r.target_spm,
                    below_baseline_pct: r.below_baseline_pct,
                    recent: r.recent,
                })
                .collect(),
            distribution: c
                .distribution
                .iter()
                .map(|b| CadenceBin {
                    from_spm: b.from_spm,
                    to_spm: b.to_spm,
                    seconds: b.seconds,
                })
                .collect(),
        }
    }
}

/// The training report as of one day.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Report {
    pub as_of: String,
    pub time_zone: String,
    pub units: Units,
    pub this_week: WeekTotal,
    pub last_week: WeekTotal,
    pub rolling_7_days: Totals,
    /// Oldest first, ending with this week.
    pub weeks: Vec<WeekTotal>,
    pub acwr: Option<AcwrDay>,
    /// Every day of the report's weeks.
    pub acwr_series: Vec<AcwrDay>,
    pub load_methods: Vec<LoadMethodCount>,
    /// Most serious first.
    pub warnings: Vec<Warning>,
    /// Every shoe with its wear state.
    pub shoes: Vec<Shoe>,
    pub cadence: CadenceReport,
    /// The numbers the rules used.
    pub thresholds: Vec<Threshold>,
}

impl From<&analysis::Report> for Report {
    fn from(r: &analysis::Report) -> Self {
        Report {
            as_of: r.as_of.to_string(),
            time_zone: r.time_zone.clone(),
            units: r.units.into(),
            this_week: (&r.this_week).into(),
            last_week: (&r.last_week).into(),
            rolling_7_days: (&r.rolling_7_days).into(),
            weeks: r.weeks.iter().map(Into::into).collect(),
            acwr: r.acwr.as_ref().map(Into::into),
            acwr_series: r.acwr_series.iter().map(Into::into).collect(),
            load_methods: r
                .load_methods
                .iter()
                .map(|(m, n)| LoadMethodCount {
                    method: (*m).into(),
                    runs: i32::try_from(*n).unwrap_or(i32::MAX),
                })
                .collect(),
            warnings: r.warnings.iter().map(Into::into).collect(),
            shoes: r.shoes.iter().map(|s| (&s.usage).into()).collect(),
            cadence: (&r.cadence).into(),
            thresholds: thresholds(&r.thresholds),
        }
    }
}
