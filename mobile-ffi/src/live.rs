//! Live coaching for phone and watch apps: readings in, cues out to a [`CueListener`] the app
//! implements (speech, a haptic tap). A [`LiveSession`] also records the session and saves it
//! as a run; a [`CadenceCoach`] only coaches. Cues arrive in order, on the thread that fed the
//! reading. A listener that throws is counted (`listener_errors`) and coaching goes on.

use std::sync::{Arc, Mutex};

use chrono::DateTime;
use strideguard_core::coach::{self, CoachConfig};
use strideguard_core::live;
use strideguard_core::ranges::TARGET_CADENCE_SPM;
use strideguard_core::store::TargetSource as CoreSource;

use crate::app::Strideguard;
use crate::error::StrideguardError;
use crate::listeners::{Failures, ListenerError};
use crate::mirror_enum;
use crate::records::Run;

/// One moment of sensor data. `cadence_spm` is what is coached (no cadence, no cues);
/// `speed_mps` tells running from walking (silent) and gives the distance, and without it the
/// cadence alone decides whether the runner is running; `heart_rate_bpm` is only recorded.
#[derive(Debug, Clone, Copy, PartialEq, uniffi::Record)]
pub struct Reading {
    /// Seconds since the session started.
    pub elapsed_seconds: f64,
    /// Steps per minute of both feet.
    #[uniffi(default = None)]
    pub cadence_spm: Option<f64>,
    #[uniffi(default = None)]
    pub speed_mps: Option<f64>,
    #[uniffi(default = None)]
    pub heart_rate_bpm: Option<i32>,
}

impl From<Reading> for coach::Reading {
    fn from(r: Reading) -> Self {
        coach::Reading {
            t_s: r.elapsed_seconds,
            cadence_spm: r.cadence_spm,
            speed_mps: r.speed_mps,
            hr_bpm: r.heart_rate_bpm.and_then(|h| u8::try_from(h).ok()),
        }
    }
}

impl From<coach::Reading> for Reading {
    fn from(r: coach::Reading) -> Self {
        Reading {
            elapsed_seconds: r.t_s,
            cadence_spm: r.cadence_spm,
            speed_mps: r.speed_mps,
            heart_rate_bpm: r.hr_bpm.map(i32::from),
        }
    }
}

mirror_enum!(
    CueKind = coach::CueKind {
        Quicken,
        OnTarget,
        EaseOff,
        SensorLost,
        SensorBack
    }
);

/// A cue to speak, show or buzz.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Cue {
    pub elapsed_seconds: f64,
    pub kind: CueKind,
    /// What to say: "Quicken your steps", ...
    pub text: String,
    pub current_spm: Option<f64>,
    pub target_spm: f64,
}

impl From<coach::Cue> for Cue {
    fn from(c: coach::Cue) -> Self {
        Cue {
            elapsed_seconds: c.t_s,
            kind: c.kind.into(),
            text: c.kind.text().to_string(),
            current_spm: c.current_spm,
            target_spm: c.target_spm,
        }
    }
}

/// Implemented by the app: receives each cue as the coach gives it.
#[uniffi::export(with_foreign)]
pub trait CueListener: Send + Sync {
    fn on_cue(&self, cue: Cue) -> Result<(), ListenerError>;
}

fn deliver(
    listener: Option<&Arc<dyn CueListener>>,
    failures: &Failures,
    cues: Vec<coach::Cue>,
) -> i32 {
    let n = cues.len() as i32;
    if let Some(l) = listener {
        for c in cues {
            failures.note(l.on_cue(c.into()));
        }
    }
    n
}

fn config(target_spm: f64) -> Result<CoachConfig, StrideguardError> {
    TARGET_CADENCE_SPM
        .check(target_spm)
        .map_err(|e| StrideguardError::invalid("target_spm", e.to_string()))?;
    Ok(CoachConfig::new(target_spm))
}

/// The live cadence coach alone: cues, no recording.
#[derive(uniffi::Object)]
pub struct CadenceCoach {
    coach: Mutex<coach::CadenceCoach>,
    listener: Arc<dyn CueListener>,
    failures: Failures,
}

#[uniffi::export]
impl CadenceCoach {
    /// A coach for `target_spm` with domain.md's defaults (10 s window, +/-3 spm band, 30 s
    /// between cues, 2 minutes of warm-up silence).
    #[uniffi::constructor]
    pub fn new(
        target_spm: f64,
        listener: Arc<dyn CueListener>,
    ) -> Result<Arc<Self>, StrideguardError> {
        Ok(Arc::new(CadenceCoach {
            coach: Mutex::new(coach::CadenceCoach::new(config(target_spm)?)),
            listener,
            failures: Failures::default(),
        }))
    }

    /// Feeds one reading; returns how many cues it gave (each also went to the listener).
    pub fn feed(&self, reading: Reading) -> i32 {
        let cues = self
            .coach
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .feed(reading.into());
        deliver(Some(&self.listener), &self.failures, cues)
    }

    /// Moves time on without a reading (the sensor is silent), so a dropout is told.
    pub fn tick(&self, elapsed_seconds: f64) -> i32 {
        let cues = self
            .coach
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .tick(elapsed_seconds);
        deliver(Some(&self.listener), &self.failures, cues)
    }

    /// The smoothed cadence, once there is one.
    pub fn smoothed_spm(&self) -> Option<f64> {
        self.coach
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .smoothed_spm()
    }

    /// The metronome tempo (beats per minute) to play, while running.
    pub fn metronome_bpm(&self) -> Option<f64> {
        self.coach
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .metronome_bpm()
    }

    /// How many times the listener threw.
    pub fn listener_errors(&self) -> i64 {
        self.failures.count()
    }

    /// The last thing the listener threw.
    pub fn last_listener_error(&self) -> Option<String> {
        self.failures.last()
    }
}

mirror_enum!(
    /// Where a session's target came from.
    TargetSource = CoreSource { Requested, Fixed, Baseline, Fallback }
);

/// The cadence a session coaches towards, and why.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct CoachTarget {
    pub spm: f64,
    pub source: TargetSource,
    /// Why, in words.
    pub reason: String,
}

/// Cues given, of one kind.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct CueCount {
    pub kind: CueKind,
    pub count: i32,
}

/// What a session amounted to.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct LiveSummary {
    /// The run it was saved as, once saved.
    pub run_id: Option<String>,
    pub duration_seconds: f64,
    pub distance_meters: f64,
    pub avg_cadence_spm: Option<f64>,
    pub avg_heart_rate_bpm: Option<f64>,
    pub max_heart_rate_bpm: Option<f64>,
    pub target_spm: f64,
    /// Share of the running time within the band around the target.
    pub in_band_pct: Option<f64>,
    pub cues: Vec<CueCount>,
    /// Sensor readings dropped in whole or in part as not believable (a time that is not a
    /// number or goes back, a cadence or speed no runner reaches): a glitching sensor.
    pub rejected_readings: i32,
}

fn summary(s: &live::LiveSummary) -> LiveSummary {
    LiveSummary {
        run_id: s.run_id.map(|id| id.to_string()),
        duration_seconds: s.duration_s,
        distance_meters: s.distance_m,
        avg_cadence_spm: s.avg_cadence_spm,
        avg_heart_rate_bpm: s.avg_hr_bpm,
        max_heart_rate_bpm: s.max_hr_bpm,
        target_spm: s.target_spm,
        in_band_pct: s.in_band_pct,
        cues: s
            .cues
            .iter()
            .filter_map(|(k, n)| {
                let kind = coach::CueKind::ALL.into_iter().find(|c| c.as_str() == *k)?;
                Some(CueCount {
                    kind: kind.into(),
                    count: i32::try_from(*n).unwrap_or(i32::MAX),
                })
            })
            .collect(),
        rejected_readings: i32::try_from(s.rejected_readings).unwrap_or(i32::MAX),
    }
}

/// A live session: coaches, records every reading, and is saved as a run (source live, on the
/// default shoe) at the end. Start one with `Strideguard.start_live_session`.
#[derive(uniffi::Object)]
pub struct LiveSession {
    app: Arc<Strideguard>,
    session: Mutex<live::LiveSession>,
    listener: Option<Arc<dyn CueListener>>,
    failures: Failures,
    saved: Mutex<Option<String>>,
}

#[uniffi::export]
impl LiveSession {
    /// Feeds one reading; returns how many cues it gave (each also went to the listener).
    pub fn feed(&self, reading: Reading) -> i32 {
        let cues = self
            .session
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .feed(reading.into());
        deliver(self.listener.as_ref(), &self.failures, cues)
    }

    /// Moves time on without a reading, so a dropout is told.
    pub fn tick(&self, elapsed_seconds: f64) -> i32 {
        let cues = self
            .session
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .tick(elapsed_seconds);
        deliver(self.listener.as_ref(), &self.failures, cues)
    }

    pub fn smoothed_spm(&self) -> Option<f64> {
        self.session
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .coach()
            .smoothed_spm()
    }

    pub fn metronome_bpm(&self) -> Option<f64> {
        self.session
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .coach()
            .metronome_bpm()
    }

    /// The distance so far, from the speed readings.
    pub fn distance_meters(&self) -> f64 {
        self.session
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .coach()
            .distance_m()
    }

    /// The session so far (with its run once saved).
    pub fn summary(&self) -> LiveSummary {
        let mut s = self
            .session
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .summary();
        s.run_id = self
            .saved
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_deref()
            .and_then(|id| id.parse().ok());
        summary(&s)
    }

    /// Saves the session as a run with its samples; it started at `start_unix_ms` (default:
    /// its duration before now). `None` when it recorded nothing. Saving twice saves once.
    #[uniffi::method(default(start_unix_ms = None))]
    pub fn save(&self, start_unix_ms: Option<i64>) -> Result<Option<Run>, StrideguardError> {
        let mut saved = self.saved.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(id) = saved.as_ref() {
            let id = id.clone();
            return self.app.read(|s| {
                let run = s.find_run(&id)?;
                let n = s.samples(run.id)?.len() as u64;
                Ok(Some(Run::new(&run, n)))
            });
        }
        let session = self
            .session
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let run = self.app.write(|s| {
            let start = start_unix_ms
                .map(|ms| {
                    let zone = s.profile()?.zone();
                    DateTime::from_timestamp_millis(ms)
                        .map(|t| t.with_timezone(&zone).fixed_offset())
                        .ok_or_else(|| {
                            StrideguardError::invalid(
                                "start_unix_ms",
                                "start_unix_ms is out of range",
                            )
                        })
                })
                .transpose()?;
            let run = s.save_live_session(&session, None, start)?;
            Ok(run.map(|r| Run::new(&r, session.samples().len() as u64)))
        })?;
        *saved = run.as_ref().map(|r| r.id.clone());
        Ok(run)
    }

    /// How many times the listener threw.
    pub fn listener_errors(&self) -> i64 {
        self.failures.count()
    }

    pub fn last_listener_error(&self) -> Option<String> {
        self.failures.last()
    }
}

#[uniffi::export]
impl Strideguard {
    /// The target a live session would coach towards: `requested` (checked), else the
    /// profile's fixed target, else the runner's baseline plus the increase, else 170.
    #[uniffi::method(default(requested = None))]
    pub fn coach_target(&self, requested: Option<f64>) -> Result<CoachTarget, StrideguardError> {
        self.read(|s| {
            let t = s.coach_target(requested)?;
            Ok(CoachTarget {
                spm: t.spm,
                source: t.source.into(),
                reason: t.source.describe().to_string(),
            })
        })
    }

    /// Starts a live session towards `target_spm` (default: `coach_target()`); cues go to
    /// `listener`.
    #[uniffi::method(default(target_spm = None, listener = None))]
    pub fn start_live_session(
        self: Arc<Self>,
        target_spm: Option<f64>,
        listener: Option<Arc<dyn CueListener>>,
    ) -> Result<Arc<LiveSession>, StrideguardError> {
        let target = self.read(|s| Ok(s.coach_target(target_spm)?))?;
        Ok(Arc::new(LiveSession {
            session: Mutex::new(live::LiveSession::new(config(target.spm)?)),
            app: self,
            listener,
            failures: Failures::default(),
            saved: Mutex::new(None),
        }))
    }
}
