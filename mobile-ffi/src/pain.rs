//! The pain log, triage and exercise plans: the answers as enums with the stable names of the
//! CLI and the README, the triage as records, and the plan with today's ticks.

use chrono::{DateTime, FixedOffset};
use strideguard_core::plan;
use strideguard_core::ranges::PAIN_SEVERITY;
use strideguard_core::store::{self, LogTriage};
use strideguard_core::triage as core;

use crate::app::{Strideguard, day};
use crate::error::StrideguardError;
use crate::mirror_enum;
use crate::records::in_range;

mirror_enum!(
    /// Where it hurts.
    PainLocation = core::Location {
        KneeFront, KneeOuter, KneeInner, KneeBack, Achilles, Heel, ShinInner, ShinOuter, Ankle,
        Foot, Hip, Other
    }
);
mirror_enum!(PainSide = core::Side { Left, Right, Both });
mirror_enum!(
    PainCharacter = core::Character {
        DullAche,
        Sharp,
        Burning,
        Stiffness,
        Throbbing
    }
);
mirror_enum!(
    PainTiming = core::Timing {
        Morning,
        StartOfRunEases,
        ConsistentPointInRun,
        AfterRun,
        Lingering,
        AtRest
    }
);
mirror_enum!(
    PainAggravator = core::Aggravator {
        Stairs,
        Squatting,
        ProlongedSitting,
        Downhill,
        Uphill,
        Hopping
    }
);
mirror_enum!(
    /// The questions whose "yes" means: see a professional now.
    RedFlag = core::RedFlag { CannotBearWeight, Deformity, NumbnessOrShootingPain, SevereUnrelenting }
);
mirror_enum!(
    Urgency = core::Urgency {
        SelfCare,
        BookPhysio,
        SeeProfessionalNow
    }
);
mirror_enum!(
    /// The likely conditions triage knows (never a diagnosis).
    PainPattern = core::PatternId {
        PatellofemoralPain, ItBandSyndrome, AchillesTendinopathy, MedialTibialStressSyndrome
    }
);
mirror_enum!(
    /// What a note about the runner's own training is about.
    DataTopic = core::DataTopic { LoadSpike, MileageJump, Downhill, SpeedOrHills, Shoes, LowCadence }
);
mirror_enum!(
    /// Which plan: for a likely condition, or general prevention.
    PlanKind = plan::PlanFor {
        PatellofemoralPain, ItBandSyndrome, AchillesTendinopathy, MedialTibialStressSyndrome,
        Prevention
    }
);

/// One set of answers about a pain.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct PainAnswers {
    pub location: PainLocation,
    pub side: PainSide,
    /// 0 (none) to 10 (worst imaginable).
    pub severity: i32,
    #[uniffi(default = [])]
    pub character: Vec<PainCharacter>,
    #[uniffi(default = [])]
    pub timing: Vec<PainTiming>,
    #[uniffi(default = [])]
    pub aggravators: Vec<PainAggravator>,
    #[uniffi(default = false)]
    pub swelling: bool,
    /// The red flags that apply.
    #[uniffi(default = [])]
    pub red_flags: Vec<RedFlag>,
    /// When it started, Unix milliseconds.
    pub onset_unix_ms: i64,
    /// The runner's UTC offset at the onset; `None`: their profile's time zone then.
    #[uniffi(default = None)]
    pub onset_utc_offset_seconds: Option<i32>,
    /// Getting better since it started; `None`: not known.
    #[uniffi(default = None)]
    pub improving: Option<bool>,
}

impl PainAnswers {
    pub(crate) fn to_core(&self, zone: chrono_tz::Tz) -> Result<core::Answers, StrideguardError> {
        let utc = DateTime::from_timestamp_millis(self.onset_unix_ms).ok_or_else(|| {
            StrideguardError::invalid("onset_unix_ms", "onset_unix_ms is out of range")
        })?;
        let onset: DateTime<FixedOffset> = match self.onset_utc_offset_seconds {
            Some(o) => utc.with_timezone(&FixedOffset::east_opt(o).ok_or_else(|| {
                StrideguardError::invalid(
                    "onset_utc_offset_seconds",
                    "the UTC offset is out of range",
                )
            })?),
            None => utc.with_timezone(&zone).fixed_offset(),
        };
        let mut red_flags = core::RedFlags::default();
        for f in &self.red_flags {
            red_flags.set((*f).into());
        }
        let answers = core::Answers {
            location: self.location.into(),
            side: self.side.into(),
            severity: in_range(PAIN_SEVERITY, "severity", self.severity)?,
            character: self.character.iter().map(|c| (*c).into()).collect(),
            timing: self.timing.iter().map(|t| (*t).into()).collect(),
            aggravators: self.aggravators.iter().map(|a| (*a).into()).collect(),
            swelling: self.swelling,
            red_flags,
            onset,
            improving: self.improving,
        };
        answers
            .validate()
            .map_err(|e| StrideguardError::invalid("severity", e.to_string()))?;
        Ok(answers)
    }
}

impl From<&core::Answers> for PainAnswers {
    fn from(a: &core::Answers) -> Self {
        PainAnswers {
            location: a.location.into(),
            side: a.side.into(),
            severity: i32::from(a.severity),
            character: a.character.iter().map(|c| (*c).into()).collect(),
            timing: a.timing.iter().map(|t| (*t).into()).collect(),
            aggravators: a.aggravators.iter().map(|x| (*x).into()).collect(),
            swelling: a.swelling,
            red_flags: a.red_flags.raised().into_iter().map(Into::into).collect(),
            onset_unix_ms: a.onset.timestamp_millis(),
            onset_utc_offset_seconds: Some(a.onset.offset().local_minus_utc()),
            improving: a.improving,
        }
    }
}

/// A logged pain.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct PainEntry {
    pub id: String,
    pub logged_at_unix_ms: i64,
    pub answers: PainAnswers,
}

impl From<&store::PainEntry> for PainEntry {
    fn from(e: &store::PainEntry) -> Self {
        PainEntry {
            id: e.id.to_string(),
            logged_at_unix_ms: e.logged_at.timestamp_millis(),
            answers: (&e.answers).into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct PatternMatch {
    pub pattern: PainPattern,
    pub name: String,
    /// 3 for the place, +1 for each finding that fits, -1 for each against.
    pub score: i32,
    pub fits: Vec<String>,
    pub against: Vec<String>,
}

/// What the runner's own training showed before the onset.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct DataNote {
    pub topic: DataTopic,
    pub text: String,
}

/// What a pain most likely is, how urgent, what to do now. Not a diagnosis.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct TriageResult {
    pub urgency: Urgency,
    pub reason: String,
    pub red_flags: Vec<RedFlag>,
    /// Best fit first; empty after a red flag.
    pub patterns: Vec<PatternMatch>,
    pub likely: Option<PainPattern>,
    pub hours_since_onset: f64,
    pub immediate_care: Vec<String>,
    pub your_data: Vec<DataNote>,
    pub disclaimer: String,
    /// The answers judged (for the log: the episode's last entry, `improving` filled in).
    pub answers: PainAnswers,
    /// How many log entries the episode has (1 for answers checked on their own).
    pub episode_entries: i32,
    /// The plan that fits (for the log: now the active one); none after a red flag.
    pub plan: Option<PlanKind>,
}

fn triage_result(
    t: &core::Triage,
    answers: &core::Answers,
    entries: usize,
    plan: Option<plan::PlanFor>,
) -> TriageResult {
    TriageResult {
        urgency: t.urgency.into(),
        reason: t.reason.clone(),
        red_flags: t.red_flags.iter().map(|f| (*f).into()).collect(),
        patterns: t
            .patterns
            .iter()
            .map(|p| PatternMatch {
                pattern: p.id.into(),
                name: p.name.to_string(),
                score: p.score,
                fits: p.fits.clone(),
                against: p.against.clone(),
            })
            .collect(),
        likely: t.likely.map(Into::into),
        hours_since_onset: t.hours_since_onset,
        immediate_care: t.immediate_care.clone(),
        your_data: t
            .your_data
            .iter()
            .map(|n| DataNote {
                topic: n.topic.into(),
                text: n.text.clone(),
            })
            .collect(),
        disclaimer: t.disclaimer.to_string(),
        answers: answers.into(),
        episode_entries: i32::try_from(entries).unwrap_or(i32::MAX),
        plan: plan.map(Into::into),
    }
}

impl From<&LogTriage> for TriageResult {
    fn from(t: &LogTriage) -> Self {
        triage_result(&t.triage, &t.answers, t.episode_entries, t.plan)
    }
}

/// One exercise of the plan, with today's tick.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Exercise {
    /// Stable id, for `tick_exercise`.
    pub id: String,
    pub name: String,
    pub sets: i32,
    /// Repetitions per set (per side where it is one-sided), or none for holds.
    pub reps: Option<i32>,
    /// Seconds per hold.
    pub hold_seconds: Option<i32>,
    pub days_per_week: i32,
    /// The muscle it targets.
    pub target: String,
    /// How to do it, in one line.
    pub cue: String,
    pub done_today: bool,
    pub done_last_7_days: i32,
}

/// The current strength and mobility plan as of today.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Plan {
    pub id: String,
    pub plan_for: PlanKind,
    pub started_unix_ms: i64,
    /// `YYYY-MM-DD`, in the runner's time zone.
    pub today: String,
    pub exercises: Vec<Exercise>,
    /// The pain-monitoring rule for going back to running.
    pub return_to_run: String,
    pub disclaimer: String,
}

impl From<&store::PlanToday> for Plan {
    fn from(p: &store::PlanToday) -> Self {
        Plan {
            id: p.id.to_string(),
            plan_for: p.plan_for.into(),
            started_unix_ms: p.started.timestamp_millis(),
            today: p.today.to_string(),
            exercises: p
                .exercises
                .iter()
                .map(|x| {
                    let e = x.exercise;
                    Exercise {
                        id: e.id.to_string(),
                        name: e.name.to_string(),
                        sets: i32::from(e.sets),
                        reps: e.reps.map(i32::from),
                        hold_seconds: e.hold_s.map(i32::from),
                        days_per_week: i32::from(e.days_per_week),
                        target: e.target.to_string(),
                        cue: e.cue.to_string(),
                        done_today: x.done_today,
                        done_last_7_days: i32::try_from(x.done_last_7_days).unwrap_or(i32::MAX),
                    }
                })
                .collect(),
            return_to_run: p.return_to_run.to_string(),
            disclaimer: p.disclaimer.to_string(),
        }
    }
}

fn instant(
    store: &strideguard_core::Store,
    ms: Option<i64>,
) -> Result<DateTime<FixedOffset>, StrideguardError> {
    match ms {
        None => Ok(store.now_local()?),
        Some(ms) => {
            let zone = store.profile()?.zone();
            DateTime::from_timestamp_millis(ms)
                .map(|t| t.with_timezone(&zone).fixed_offset())
                .ok_or_else(|| {
                    StrideguardError::invalid("now_unix_ms", "now_unix_ms is out of range")
                })
        }
    }
}

#[uniffi::export]
impl Strideguard {
    /// Logs a pain now; returns the entry.
    pub fn log_pain(&self, answers: PainAnswers) -> Result<PainEntry, StrideguardError> {
        self.write(|s| {
            let a = answers.to_core(s.profile()?.zone())?;
            Ok((&s.log_pain(a)?).into())
        })
    }

    /// The pain log, oldest first.
    pub fn pain_entries(&self) -> Result<Vec<PainEntry>, StrideguardError> {
        self.read(|s| Ok(s.pain_entries()?.iter().map(Into::into).collect()))
    }

    /// Triages the latest episode of the log as of `now_unix_ms` (default now) and makes the
    /// fitting plan the active one. `None` when nothing is logged.
    #[uniffi::method(default(now_unix_ms = None))]
    pub fn triage(
        &self,
        now_unix_ms: Option<i64>,
    ) -> Result<Option<TriageResult>, StrideguardError> {
        self.write(|s| {
            let now = instant(s, now_unix_ms)?;
            Ok(s.triage_log(now)?.as_ref().map(Into::into))
        })
    }

    /// Triages these answers against the runner's history without logging or storing anything.
    #[uniffi::method(default(now_unix_ms = None))]
    pub fn triage_answers(
        &self,
        answers: PainAnswers,
        now_unix_ms: Option<i64>,
    ) -> Result<TriageResult, StrideguardError> {
        self.read(|s| {
            let a = answers.to_core(s.profile()?.zone())?;
            let now = instant(s, now_unix_ms)?;
            let t = s.triage_answers(&a, now)?;
            let plan = t.plan();
            Ok(triage_result(&t, &a, 1, plan))
        })
    }

    /// The current plan with today's ticks: the last triage's, or general prevention.
    pub fn plan(&self) -> Result<Plan, StrideguardError> {
        self.write(|s| Ok((&s.plan_today()?).into()))
    }

    /// Ticks an exercise of the current plan off on `day` (`YYYY-MM-DD`, default today);
    /// false when it already was. An exercise of another plan is refused.
    #[uniffi::method(default(day = None))]
    pub fn tick_exercise(
        &self,
        exercise_id: String,
        day: Option<String>,
    ) -> Result<bool, StrideguardError> {
        let day = day.map(|d| self::day("day", &d)).transpose()?;
        self.write(|s| Ok(s.tick_plan_exercise(&exercise_id, day)?.newly_done))
    }
}
