//! A live session: the cadence coach, the tally of what it said and of the time spent on
//! target, and the recorded samples, turned into a run at the end. The command line (sensors
//! over BLE, a replay, a simulated runner) and the apps (their own sensors) drive this same
//! session; the store saves it ([`crate::Store::save_live_session`]). Pure: time is the caller's.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset};
use serde::Serialize;
use uuid::Uuid;

use crate::coach::{CadenceCoach, CoachConfig, Cue, Reading};
use crate::model::{Run, RunKind, RunSource, Sample};

/// One session in progress.
#[derive(Debug, Clone)]
pub struct LiveSession {
    coach: CadenceCoach,
    cues: BTreeMap<&'static str, u32>,
    /// Readings while running, and of those the ones within the tolerance band.
    running: u32,
    in_band: u32,
    last_t: f64,
}

/// What a session amounted to (the CLI's `summary` line and the apps' end screen).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LiveSummary {
    /// The run it was saved as, once saved.
    pub run_id: Option<Uuid>,
    pub duration_s: f64,
    pub distance_m: f64,
    pub avg_cadence_spm: Option<f64>,
    pub avg_hr_bpm: Option<f64>,
    pub max_hr_bpm: Option<f64>,
    pub target_spm: f64,
    /// Share of the running readings whose smoothed cadence was within the tolerance band.
    pub in_band_pct: Option<f64>,
    /// Cues given, by kind (`quicken`, `on_target`, ...).
    pub cues: BTreeMap<&'static str, u32>,
    /// Sensor readings dropped in whole or in part as not believable (a glitching sensor).
    pub rejected_readings: u32,
}

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

impl LiveSession {
    pub fn new(config: CoachConfig) -> LiveSession {
        LiveSession {
            coach: CadenceCoach::new(config),
            cues: BTreeMap::new(),
            running: 0,
            in_band: 0,
            last_t: 0.0,
        }
    }

    /// The coach, for its smoothed cadence, metronome and configuration.
    pub fn coach(&self) -> &CadenceCoach {
        &self.coach
    }

    fn count(&mut self, cues: &[Cue]) {
        for c in cues {
            *self.cues.entry(c.kind.as_str()).or_insert(0) += 1;
        }
    }

    /// Takes one reading: the cues it triggers.
    pub fn feed(&mut self, r: Reading) -> Vec<Cue> {
        let Some((r, cues)) = self.coach.feed_checked(r) else {
            return Vec::new();
        };
        self.last_t = self.last_t.max(r.t_s);
        if r.cadence_spm.is_some()
            && self.coach.running()
            && let Some(s) = self.coach.smoothed_spm()
        {
            self.running += 1;
            let cfg = self.coach.config();
            if (s - cfg.target_spm).abs() <= cfg.tolerance_spm {
                self.in_band += 1;
            }
        }
        self.count(&cues);
        cues
    }

    /// Time passes without a reading (a dropout is told once it lasts).
    pub fn tick(&mut self, t_s: f64) -> Vec<Cue> {
        let cues = self.coach.tick(t_s);
        self.count(&cues);
        cues
    }

    /// The recorded samples so far.
    pub fn samples(&self) -> &[Sample] {
        self.coach.samples()
    }

    /// How long the session has lasted: the time of its last reading.
    pub fn duration_s(&self) -> f64 {
        self.last_t
    }

    pub fn summary(&self) -> LiveSummary {
        let samples = self.coach.samples();
        let cadences: Vec<f64> = samples
            .iter()
            .filter_map(|s| s.cadence_spm)
            .filter(|c| *c > 0.0)
            .collect();
        let hrs: Vec<f64> = samples
            .iter()
            .filter_map(|s| s.hr_bpm.map(f64::from))
            .collect();
        LiveSummary {
            run_id: None,
            duration_s: self.last_t,
            distance_m: self.coach.distance_m(),
            avg_cadence_spm: mean(&cadences),
            avg_hr_bpm: mean(&hrs),
            max_hr_bpm: hrs.iter().copied().reduce(f64::max),
            target_spm: self.coach.config().target_spm,
            in_band_pct: (self.running > 0)
                .then(|| f64::from(self.in_band) / f64::from(self.running) * 100.0),
            cues: self.cues.clone(),
            rejected_readings: self.coach.rejected_readings(),
        }
    }

    /// The session as a run (source `live`, kind unknown, the averages, the cues in the notes)
    /// with its samples; `None` when nothing was recorded.
    pub fn to_run(&self, id: Uuid, start: DateTime<FixedOffset>) -> Option<(Run, Vec<Sample>)> {
        let samples = self.coach.samples();
        if samples.is_empty() || self.last_t <= 0.0 {
            return None;
        }
        let s = self.summary();
        let mut run = Run::new(id, start, s.distance_m, s.duration_s);
        run.source = RunSource::Live;
        run.kind = RunKind::Unknown;
        run.avg_cadence_spm = s.avg_cadence_spm;
        run.avg_hr_bpm = s.avg_hr_bpm;
        run.max_hr_bpm = s.max_hr_bpm;
        run.notes = Some(format!(
            "live session; cues: {}",
            if s.cues.is_empty() {
                "none".to_string()
            } else {
                s.cues
                    .iter()
                    .map(|(k, n)| format!("{k} {n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ));
        Some((run, samples.to_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_counts_cues_and_time_on_target_and_becomes_a_run() {
        let mut cfg = CoachConfig::new(170.0);
        cfg.warmup_s = 0.0;
        let mut s = LiveSession::new(cfg);
        for t in 0..100 {
            let cadence = if t < 50 { 170.0 } else { 160.0 };
            s.feed(Reading {
                t_s: f64::from(t),
                cadence_spm: Some(cadence),
                speed_mps: Some(3.0),
                hr_bpm: Some(140 + (t % 10) as u8),
            });
        }
        let sum = s.summary();
        assert_eq!(sum.duration_s, 99.0);
        assert_eq!(sum.cues.get("quicken"), Some(&2), "{:?}", sum.cues);
        let pct = sum.in_band_pct.unwrap();
        assert!(pct > 45.0 && pct < 60.0, "{pct}");
        assert_eq!(sum.max_hr_bpm, Some(149.0));
        assert!((sum.distance_m - 297.0).abs() < 1e-9);
        let start = DateTime::parse_from_rfc3339("2026-05-04T07:00:00+02:00").unwrap();
        let (run, samples) = s.to_run(Uuid::nil(), start).unwrap();
        assert_eq!(run.source, RunSource::Live);
        assert_eq!(run.duration_s, 99.0);
        assert_eq!(samples.len(), 100);
        assert_eq!(run.notes.as_deref(), Some("live session; cues: quicken 2"));
        assert!(
            LiveSession::new(CoachConfig::new(170.0))
                .to_run(Uuid::nil(), start)
                .is_none()
        );
    }
}
