//! The live cadence coach for apps: readings in, cues out to a listener the app implements
//! (speech, a haptic tap on the watch). Cues arrive in order, on the thread that fed the
//! reading; the coach itself is core's pure state machine behind a lock, so feeding it from a
//! sensor callback thread is safe.

use std::sync::{Arc, Mutex};

use strideguard_core::coach::{self, CoachConfig};

use crate::StrideguardError;
use crate::records::{Cue, Reading};

/// Implemented by the app: receives each cue as the coach gives it.
#[uniffi::export(with_foreign)]
pub trait CueListener: Send + Sync {
    fn on_cue(&self, cue: Cue);
}

#[derive(uniffi::Object)]
pub struct CadenceCoach {
    coach: Mutex<coach::CadenceCoach>,
    listener: Arc<dyn CueListener>,
}

impl CadenceCoach {
    fn deliver(&self, cues: Vec<coach::Cue>) -> u32 {
        let n = cues.len() as u32;
        for c in cues {
            self.listener.on_cue(c.into());
        }
        n
    }
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
        if !(100.0..=250.0).contains(&target_spm) {
            return Err(StrideguardError::invalid(format!(
                "target_spm {target_spm} is outside 100-250 steps per minute"
            )));
        }
        Ok(Arc::new(CadenceCoach {
            coach: Mutex::new(coach::CadenceCoach::new(CoachConfig::new(target_spm))),
            listener,
        }))
    }

    /// Feeds one reading; returns how many cues it produced (each also went to the listener).
    pub fn feed(&self, reading: Reading) -> u32 {
        let cues = self
            .coach
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .feed(reading.into());
        self.deliver(cues)
    }

    /// Moves time on without a reading (the sensor is silent), so a dropout is told.
    pub fn tick(&self, t_s: f64) -> u32 {
        let cues = self
            .coach
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .tick(t_s);
        self.deliver(cues)
    }

    /// The smoothed cadence, once there is one.
    pub fn smoothed_spm(&self) -> Option<f64> {
        self.coach
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .smoothed_spm()
    }

    /// The metronome tempo (beats per minute) to play, when running.
    pub fn metronome_bpm(&self) -> Option<f64> {
        self.coach
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .metronome_bpm()
    }
}
