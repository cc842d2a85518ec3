//! The data the apps see: uniffi records and enums mirroring core's types. Times are Unix
//! milliseconds (plus the UTC offset where local time matters) or ISO dates; distances metres.

use std::collections::HashMap;

use strideguard_core::analysis::{self, acwr, warnings};
use strideguard_core::model as core;
use strideguard_core::{coach, plan, store, sync, triage};

#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum RunKind {
    Easy,
    Long,
    Tempo,
    Interval,
    Hills,
    Race,
    Unknown,
}

impl From<core::RunKind> for RunKind {
    fn from(k: core::RunKind) -> Self {
        match k {
            core::RunKind::Easy => RunKind::Easy,
            core::RunKind::Long => RunKind::Long,
            core::RunKind::Tempo => RunKind::Tempo,
            core::RunKind::Interval => RunKind::Interval,
            core::RunKind::Hills => RunKind::Hills,
            core::RunKind::Race => RunKind::Race,
            core::RunKind::Unknown => RunKind::Unknown,
        }
    }
}

impl From<RunKind> for core::RunKind {
    fn from(k: RunKind) -> Self {
        match k {
            RunKind::Easy => core::RunKind::Easy,
            RunKind::Long => core::RunKind::Long,
            RunKind::Tempo => core::RunKind::Tempo,
            RunKind::Interval => core::RunKind::Interval,
            RunKind::Hills => core::RunKind::Hills,
            RunKind::Race => core::RunKind::Race,
            RunKind::Unknown => core::RunKind::Unknown,
        }
    }
}

/// A run as stored.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct RunInfo {
    pub id: String,
    pub start_unix_ms: i64,
    /// The UTC offset the runner was in, seconds.
    pub utc_offset_s: i32,
    pub duration_s: f64,
    pub distance_m: f64,
    pub elevation_gain_m: Option<f64>,
    pub avg_hr_bpm: Option<f64>,
    pub avg_cadence_spm: Option<f64>,
    pub kind: RunKind,
    pub rpe: Option<u8>,
    pub shoe_id: Option<String>,
    pub notes: Option<String>,
    /// `manual`, `fit`, `gpx`, `tcx` or `live`.
    pub source: String,
}

impl From<&core::Run> for RunInfo {
    fn from(r: &core::Run) -> Self {
        RunInfo {
            id: r.id.to_string(),
            start_unix_ms: r.start.timestamp_millis(),
            utc_offset_s: r.start.offset().local_minus_utc(),
            duration_s: r.duration_s,
            distance_m: r.distance_m,
            elevation_gain_m: r.elevation_gain_m,
            avg_hr_bpm: r.avg_hr_bpm,
            avg_cadence_spm: r.avg_cadence_spm,
            kind: r.kind.into(),
            rpe: r.rpe,
            shoe_id: r.shoe_id.map(|s| s.to_string()),
            notes: r.notes.clone(),
            source: r.source.as_str().to_string(),
        }
    }
}

/// A run entered by hand.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct NewRun {
    pub start_unix_ms: i64,
    pub utc_offset_s: i32,
    pub distance_m: f64,
    pub duration_s: f64,
    pub kind: RunKind,
    pub rpe: Option<u8>,
    /// Without one, the run goes on the default shoe.
    pub shoe_id: Option<String>,
    pub notes: Option<String>,
}

/// A shoe with its distance (derived from its runs).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ShoeInfo {
    pub id: String,
    pub name: String,
    pub brand: Option<String>,
    pub model: Option<String>,
    pub distance_m: f64,
    pub run_count: u32,
    pub wear_at_m: f64,
    pub replace_at_m: f64,
    pub retired: bool,
    pub is_default: bool,
}

impl From<&core::ShoeUsage> for ShoeInfo {
    fn from(u: &core::ShoeUsage) -> Self {
        ShoeInfo {
            id: u.shoe.id.to_string(),
            name: u.shoe.name.clone(),
            brand: u.shoe.brand.clone(),
            model: u.shoe.model.clone(),
            distance_m: u.distance_m,
            run_count: u.run_count,
            wear_at_m: u.shoe.wear_at_m,
            replace_at_m: u.shoe.replace_at_m,
            retired: u.shoe.retired,
            is_default: u.shoe.is_default,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Units {
    Km,
    Mi,
}

/// The runner's settings.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ProfileInfo {
    pub units: Units,
    /// IANA name, e.g. `Europe/Berlin`.
    pub time_zone: String,
    /// A fixed cadence target; `None` means automatic (baseline plus `cadence_increase_pct`).
    pub fixed_cadence_spm: Option<f64>,
    pub cadence_increase_pct: f64,
    pub resting_hr_bpm: Option<u8>,
    pub max_hr_bpm: Option<u8>,
    pub height_m: Option<f64>,
}

impl From<&core::Profile> for ProfileInfo {
    fn from(p: &core::Profile) -> Self {
        let (fixed, pct) = match p.cadence_target {
            core::CadenceTarget::Fixed { spm } => (Some(spm), 5.0),
            core::CadenceTarget::Auto { increase_pct } => (None, increase_pct),
        };
        ProfileInfo {
            units: match p.units {
                core::Units::Km => Units::Km,
                core::Units::Mi => Units::Mi,
            },
            time_zone: p.time_zone.clone(),
            fixed_cadence_spm: fixed,
            cadence_increase_pct: pct,
            resting_hr_bpm: p.resting_hr_bpm,
            max_hr_bpm: p.max_hr_bpm,
            height_m: p.height_m,
        }
    }
}

/// What importing one file did.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ImportOutcome {
    /// The run added, or `None` when the file was a duplicate or held no run.
    pub imported: Option<RunInfo>,
    /// The run already stored that this file repeats.
    pub duplicate_of: Option<String>,
    /// Why nothing was added, in words.
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct WeekTotal {
    /// ISO week, e.g. `2026-W47`.
    pub week: String,
    /// Its Monday, `YYYY-MM-DD`.
    pub monday: String,
    pub distance_m: f64,
    pub duration_s: f64,
    pub runs: u32,
    pub load: f64,
    pub intensity_minutes: f64,
    pub hill_minutes: f64,
}

impl From<&analysis::weekly::WeekTotal> for WeekTotal {
    fn from(w: &analysis::weekly::WeekTotal) -> Self {
        WeekTotal {
            week: w.week.clone(),
            monday: w.monday.to_string(),
            distance_m: w.totals.distance_m,
            duration_s: w.totals.duration_s,
            runs: w.totals.runs,
            load: w.totals.load,
            intensity_minutes: w.totals.intensity_minutes,
            hill_minutes: w.totals.hill_minutes,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum AcwrZone {
    BuildingBaseline,
    UnderLoaded,
    SweetSpot,
    Caution,
    Danger,
}

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
            zone: match d.zone {
                acwr::AcwrZone::BuildingBaseline => AcwrZone::BuildingBaseline,
                acwr::AcwrZone::UnderLoaded => AcwrZone::UnderLoaded,
                acwr::AcwrZone::SweetSpot => AcwrZone::SweetSpot,
                acwr::AcwrZone::Caution => AcwrZone::Caution,
                acwr::AcwrZone::Danger => AcwrZone::Danger,
            },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum WarningKind {
    WeeklyIncrease,
    TwoWeekSpike,
    SingleRunSpike,
    AcwrHigh,
    AcwrDanger,
    IntensityWithoutBase,
    HillsWithoutBase,
    ShoeWearCheck,
    ShoeReplace,
    LowCadence,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Severity {
    Caution,
    High,
}

/// A training warning: what, how serious, why, and the numbers behind it.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Warning {
    pub kind: WarningKind,
    pub severity: Severity,
    pub subject: String,
    pub title: String,
    pub explanation: String,
    pub numbers: HashMap<String, f64>,
}

impl From<&warnings::Warning> for Warning {
    fn from(w: &warnings::Warning) -> Self {
        use warnings::WarningKind as K;
        Warning {
            kind: match w.kind {
                K::WeeklyIncrease => WarningKind::WeeklyIncrease,
                K::TwoWeekSpike => WarningKind::TwoWeekSpike,
                K::SingleRunSpike => WarningKind::SingleRunSpike,
                K::AcwrHigh => WarningKind::AcwrHigh,
                K::AcwrDanger => WarningKind::AcwrDanger,
                K::IntensityWithoutBase => WarningKind::IntensityWithoutBase,
                K::HillsWithoutBase => WarningKind::HillsWithoutBase,
                K::ShoeWearCheck => WarningKind::ShoeWearCheck,
                K::ShoeReplace => WarningKind::ShoeReplace,
                K::LowCadence => WarningKind::LowCadence,
            },
            severity: match w.severity {
                warnings::Severity::Caution => Severity::Caution,
                warnings::Severity::High => Severity::High,
            },
            subject: w.subject.clone(),
            title: w.title.clone(),
            explanation: w.explanation.clone(),
            numbers: w.numbers.iter().map(|(k, v)| (k.clone(), *v)).collect(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ShoeState {
    Ok,
    CheckWear,
    Replace,
    Retired,
}

#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ShoeStatus {
    pub shoe: ShoeInfo,
    pub state: ShoeState,
}

/// The training report as of one day.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Report {
    pub as_of: String,
    pub this_week: WeekTotal,
    pub last_week: WeekTotal,
    /// Oldest first, ending with this week.
    pub weeks: Vec<WeekTotal>,
    pub acwr: Option<AcwrDay>,
    pub warnings: Vec<Warning>,
    pub shoes: Vec<ShoeStatus>,
    /// The cadence to aim for at easy pace, when it can be told.
    pub cadence_target_spm: Option<f64>,
}

impl From<&analysis::report::Report> for Report {
    fn from(r: &analysis::report::Report) -> Self {
        Report {
            as_of: r.as_of.to_string(),
            this_week: (&r.this_week).into(),
            last_week: (&r.last_week).into(),
            weeks: r.weeks.iter().map(Into::into).collect(),
            acwr: r.acwr.as_ref().map(Into::into),
            warnings: r.warnings.iter().map(Into::into).collect(),
            shoes: r
                .shoes
                .iter()
                .map(|s| ShoeStatus {
                    shoe: (&s.usage).into(),
                    state: match s.status {
                        "check_wear" => ShoeState::CheckWear,
                        "replace" => ShoeState::Replace,
                        "retired" => ShoeState::Retired,
                        _ => ShoeState::Ok,
                    },
                })
                .collect(),
            cadence_target_spm: r.cadence.target_spm,
        }
    }
}

/// One pain log entry's answers, with the stable names of the CLI and the README
/// (`location`: `knee_front`, `achilles`, ...; `character`: `stiffness`, ...).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct PainAnswers {
    pub location: String,
    pub side: String,
    /// 0 (none) to 10.
    pub severity: u8,
    pub character: Vec<String>,
    pub timing: Vec<String>,
    pub aggravators: Vec<String>,
    pub swelling: bool,
    /// The red flags that apply: `cannot_bear_weight`, `deformity`,
    /// `numbness_or_shooting_pain`, `severe_unrelenting`.
    pub red_flags: Vec<String>,
    /// When it started, RFC 3339 (`2026-05-06T07:00:00+01:00`).
    pub onset: String,
    pub improving: Option<bool>,
}

impl PainAnswers {
    /// Through core's parser, so an unknown name is refused with the field and the choices.
    pub(crate) fn to_core(&self) -> Result<triage::Answers, crate::StrideguardError> {
        let flags: serde_json::Map<String, serde_json::Value> = self
            .red_flags
            .iter()
            .map(|f| (f.clone(), serde_json::Value::Bool(true)))
            .collect();
        let json = serde_json::json!({
            "location": self.location, "side": self.side, "severity": self.severity,
            "character": self.character, "timing": self.timing,
            "aggravators": self.aggravators, "swelling": self.swelling,
            "red_flags": flags, "onset": self.onset, "improving": self.improving,
        });
        triage::Answers::from_json(&json.to_string())
            .map_err(|e| crate::StrideguardError::invalid(e.to_string()))
    }
}

#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct PainEntryInfo {
    pub id: String,
    pub logged_at_ms: i64,
    pub location: String,
    pub side: String,
    pub severity: u8,
}

impl From<&store::PainEntry> for PainEntryInfo {
    fn from(e: &store::PainEntry) -> Self {
        PainEntryInfo {
            id: e.id.to_string(),
            logged_at_ms: e.logged_at.timestamp_millis(),
            location: e.answers.location.as_str().to_string(),
            side: e.answers.side.as_str().to_string(),
            severity: e.answers.severity,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Urgency {
    SelfCare,
    BookPhysio,
    SeeProfessionalNow,
}

#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct PatternMatch {
    /// `patellofemoral_pain`, `it_band_syndrome`, `achilles_tendinopathy`,
    /// `medial_tibial_stress_syndrome`.
    pub id: String,
    pub name: String,
    pub score: i32,
    pub fits: Vec<String>,
    pub against: Vec<String>,
}

/// What the latest pain most likely is, how urgent, what to do now.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct TriageResult {
    pub urgency: Urgency,
    pub reason: String,
    pub red_flags: Vec<String>,
    pub patterns: Vec<PatternMatch>,
    pub likely: Option<String>,
    pub hours_since_onset: f64,
    pub immediate_care: Vec<String>,
    /// What the runner's own training showed before the onset.
    pub your_data: Vec<String>,
    pub disclaimer: String,
    /// The plan that is now active, if one fits.
    pub plan: Option<String>,
    pub episode_entries: u32,
}

impl From<&store::LogTriage> for TriageResult {
    fn from(t: &store::LogTriage) -> Self {
        let r = &t.triage;
        TriageResult {
            urgency: match r.urgency {
                triage::Urgency::SelfCare => Urgency::SelfCare,
                triage::Urgency::BookPhysio => Urgency::BookPhysio,
                triage::Urgency::SeeProfessionalNow => Urgency::SeeProfessionalNow,
            },
            reason: r.reason.clone(),
            red_flags: r.red_flags.iter().map(|f| f.as_str().to_string()).collect(),
            patterns: r
                .patterns
                .iter()
                .map(|p| PatternMatch {
                    id: p.id.as_str().to_string(),
                    name: p.name.to_string(),
                    score: p.score,
                    fits: p.fits.clone(),
                    against: p.against.clone(),
                })
                .collect(),
            likely: r.likely.map(|p| p.as_str().to_string()),
            hours_since_onset: r.hours_since_onset,
            immediate_care: r.immediate_care.clone(),
            your_data: r.your_data.iter().map(|n| n.text.clone()).collect(),
            disclaimer: r.disclaimer.to_string(),
            plan: t.plan.map(|p| p.as_str().to_string()),
            episode_entries: t.episode_entries as u32,
        }
    }
}

#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ExerciseInfo {
    pub id: String,
    pub name: String,
    pub sets: u8,
    pub reps: Option<u8>,
    pub hold_s: Option<u16>,
    pub days_per_week: u8,
    pub done_today: bool,
}

/// The active strength and mobility plan.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct PlanInfo {
    pub id: String,
    pub plan_for: String,
    pub created_at_ms: i64,
    pub exercises: Vec<ExerciseInfo>,
    pub return_to_run: String,
}

pub(crate) fn plan_info(p: &store::StoredPlan, ticks_today: &[String]) -> PlanInfo {
    PlanInfo {
        id: p.id.to_string(),
        plan_for: p.plan_for.as_str().to_string(),
        created_at_ms: p.created_at.timestamp_millis(),
        exercises: plan::exercises_for(p.plan_for)
            .into_iter()
            .map(|e| ExerciseInfo {
                id: e.id.to_string(),
                name: e.name.to_string(),
                sets: e.sets,
                reps: e.reps,
                hold_s: e.hold_s,
                days_per_week: e.days_per_week,
                done_today: ticks_today.iter().any(|t| t == e.id),
            })
            .collect(),
        return_to_run: plan::RETURN_TO_RUN.to_string(),
    }
}

/// The account this database syncs with.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct AccountInfo {
    pub server: String,
    pub username: String,
    pub device_id: String,
}

impl From<&store::SyncAccount> for AccountInfo {
    fn from(a: &store::SyncAccount) -> Self {
        AccountInfo {
            server: a.server.clone(),
            username: a.username.clone(),
            device_id: a.device_id.clone(),
        }
    }
}

/// A device of the account.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct DeviceInfo {
    pub id: String,
    pub name: String,
    pub created_at_ms: i64,
    pub last_seen_ms: Option<i64>,
    pub revoked: bool,
    /// This database's device.
    pub current: bool,
}

impl From<&sync::wire::Device> for DeviceInfo {
    fn from(d: &sync::wire::Device) -> Self {
        DeviceInfo {
            id: d.id.clone(),
            name: d.name.clone(),
            created_at_ms: d.created_at_ms,
            last_seen_ms: d.last_seen_ms,
            revoked: d.revoked,
            current: d.current,
        }
    }
}

/// What one sync did.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct SyncSummary {
    pub uploaded: u64,
    pub downloaded: u64,
    pub merged: u64,
    pub conflicts_resolved: u64,
    /// Records refused because they did not open (altered, or moved from elsewhere).
    pub rejected: Vec<String>,
    pub pending: u64,
    pub full_resync: bool,
}

impl From<sync::SyncSummary> for SyncSummary {
    fn from(s: sync::SyncSummary) -> Self {
        SyncSummary {
            uploaded: s.uploaded as u64,
            downloaded: s.downloaded as u64,
            merged: s.merged as u64,
            conflicts_resolved: s.conflicts_resolved as u64,
            rejected: s.rejected,
            pending: s.pending as u64,
            full_resync: s.full_resync,
        }
    }
}

/// One moment of sensor data for the coach.
#[derive(Debug, Clone, Copy, PartialEq, uniffi::Record)]
pub struct Reading {
    /// Seconds since the session started.
    pub t_s: f64,
    pub cadence_spm: Option<f64>,
    pub speed_mps: Option<f64>,
    pub hr_bpm: Option<u8>,
}

impl From<Reading> for coach::Reading {
    fn from(r: Reading) -> Self {
        coach::Reading {
            t_s: r.t_s,
            cadence_spm: r.cadence_spm,
            speed_mps: r.speed_mps,
            hr_bpm: r.hr_bpm,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum CueKind {
    Quicken,
    OnTarget,
    EaseOff,
    SensorLost,
    SensorBack,
}

/// A cue to speak, show or buzz.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Cue {
    pub t_s: f64,
    pub kind: CueKind,
    /// What to say: "Quicken your steps", ...
    pub text: String,
    pub current_spm: Option<f64>,
    pub target_spm: f64,
}

impl From<coach::Cue> for Cue {
    fn from(c: coach::Cue) -> Self {
        Cue {
            t_s: c.t_s,
            kind: match c.kind {
                coach::CueKind::Quicken => CueKind::Quicken,
                coach::CueKind::OnTarget => CueKind::OnTarget,
                coach::CueKind::EaseOff => CueKind::EaseOff,
                coach::CueKind::SensorLost => CueKind::SensorLost,
                coach::CueKind::SensorBack => CueKind::SensorBack,
            },
            text: c.kind.text().to_string(),
            current_spm: c.current_spm,
            target_spm: c.target_spm,
        }
    }
}
