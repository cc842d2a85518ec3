//! Live sessions and the store: the target to coach towards, and the finished session saved as
//! a run on the default shoe.

use chrono::{DateTime, FixedOffset};
use serde::Serialize;
use uuid::Uuid;

use super::{ShoeChoice, Store, StoreError};
use crate::live::LiveSession;
use crate::model::{CadenceTarget, Run};
use crate::ranges::{DEFAULT_REPORT_WEEKS, FALLBACK_TARGET_SPM, TARGET_CADENCE_SPM};

/// Where a session's target came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetSource {
    /// Asked for for this session.
    Requested,
    /// The profile's fixed target.
    Fixed,
    /// The runner's easy-pace baseline plus the profile's increase.
    Baseline,
    /// No baseline yet (no runs with cadence): a default.
    Fallback,
}

impl TargetSource {
    /// Why this target, in words.
    pub fn describe(self) -> &'static str {
        match self {
            TargetSource::Requested => "the target asked for",
            TargetSource::Fixed => "your fixed target",
            TargetSource::Baseline => "your easy-pace baseline + the profile's increase",
            TargetSource::Fallback => {
                "a default of 170 (no baseline yet: import runs with cadence)"
            }
        }
    }
}

/// The cadence a session coaches towards, and why.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CoachTarget {
    pub spm: f64,
    pub source: TargetSource,
}

impl Store {
    /// The target for a live session: `requested` (checked against the accepted range), else
    /// the profile's fixed target, else the runner's baseline plus the increase as of today,
    /// else 170.
    pub fn coach_target(&self, requested: Option<f64>) -> Result<CoachTarget, StoreError> {
        if let Some(spm) = requested {
            return Ok(CoachTarget {
                spm: TARGET_CADENCE_SPM.check(spm)?,
                source: TargetSource::Requested,
            });
        }
        let profile = self.profile()?;
        if let CadenceTarget::Fixed { spm } = profile.cadence_target {
            return Ok(CoachTarget {
                spm,
                source: TargetSource::Fixed,
            });
        }
        let report = self.report(
            self.today()?,
            usize::from(DEFAULT_REPORT_WEEKS),
            &profile.thresholds,
        )?;
        Ok(match report.cadence.target_spm {
            Some(t) => CoachTarget {
                spm: t.round(),
                source: TargetSource::Baseline,
            },
            None => CoachTarget {
                spm: FALLBACK_TARGET_SPM,
                source: TargetSource::Fallback,
            },
        })
    }

    /// Saves a finished session as a run with its samples, on the default shoe. It started at
    /// `start`, or (by default) its duration before now by the store's clock, in the runner's
    /// time zone. `None` when the session recorded nothing.
    pub fn save_live_session(
        &mut self,
        session: &LiveSession,
        id: Option<Uuid>,
        start: Option<DateTime<FixedOffset>>,
    ) -> Result<Option<Run>, StoreError> {
        let start = match start {
            Some(s) => s,
            None => {
                let ms = (session.duration_s() * 1000.0).round() as i64;
                self.now_local()? - chrono::Duration::milliseconds(ms)
            }
        };
        let Some((run, samples)) = session.to_run(id.unwrap_or_else(Uuid::new_v4), start) else {
            return Ok(None);
        };
        self.add_run_on(&run, &samples, ShoeChoice::Default)
            .map(Some)
    }
}
