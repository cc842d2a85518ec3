//! The live cadence coach: a pure state machine. Feed it readings with their time; it answers
//! with cues (quicken, on target, ease off, sensor lost, sensor back) and keeps the session's
//! samples. The phone, the watch (through the FFI) and the sensor bridge all drive this same
//! machine, and tests drive it with scripted times: it never reads a clock or sleeps.
//!
//! Behaviour (domain.md): cadence smoothed over a window (10 s); a tolerance band around the
//! target (+/-3 steps/min) with hysteresis so a cadence hovering at the edge does not flip cues;
//! a cooldown between spoken cues (30 s); silence while warming up (first 2 minutes), while
//! stopped or walking (under 1.5 m/s, or no steps); "sensor lost" once when readings stop, and
//! "sensor back" when they return.
//!
//! Sensors glitch (a corrupt notification, an app's unit mix-up): a reading's time that is not
//! a number or outside the session drops the reading, and a cadence or speed outside what a
//! runner can do drops that value, so one bad packet can neither trigger a cue nor spoil the
//! samples the session is saved with.

use std::collections::VecDeque;

use serde::Serialize;

use crate::model::Sample;
use crate::ranges::{SENSOR_CADENCE_SPM, SENSOR_SPEED_MPS, SESSION_SECONDS};

/// How far behind the latest reading another may arrive (two sensors' notifications
/// interleave) and still be taken, at the latest reading's time; older ones are dropped.
pub const LATE_READING_S: f64 = 1.0;

/// Every parameter of the coach, with domain.md's defaults.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CoachConfig {
    /// Steps per minute (both feet) to coach towards.
    pub target_spm: f64,
    /// Cadence is averaged over this many seconds.
    pub window_s: f64,
    /// Within target +/- this is on target.
    pub tolerance_spm: f64,
    /// A cadence must pass the band edge by this much to change state (and come back inside by
    /// as much), so that hovering at the edge does not flip cues.
    pub hysteresis_spm: f64,
    /// At least this long between spoken cues.
    pub cooldown_s: f64,
    /// No cues for this long after the start.
    pub warmup_s: f64,
    /// Below this speed the runner is stopped or walking: no cues.
    pub min_running_speed_mps: f64,
    /// Without a speed reading (a cadence-only sensor, such as a watch's accelerometer), below
    /// this cadence the runner is walking: no cues. Walking is about 100-130 steps/min, running
    /// 150 and up.
    pub min_running_cadence_spm: f64,
    /// No cadence reading for this long means the sensor dropped out.
    pub dropout_s: f64,
}

impl CoachConfig {
    pub fn new(target_spm: f64) -> CoachConfig {
        CoachConfig {
            target_spm,
            window_s: 10.0,
            tolerance_spm: 3.0,
            hysteresis_spm: 1.0,
            cooldown_s: 30.0,
            warmup_s: 120.0,
            min_running_speed_mps: 1.5,
            min_running_cadence_spm: 140.0,
            dropout_s: 5.0,
        }
    }
}

/// One reading from the sensors: any of them may be missing (an HR strap sends no cadence).
///
/// What each input is for: `cadence_spm` is what is coached (without it there are no cues);
/// `speed_mps` tells running from walking or standing (silent) and gives the distance; without
/// speed, the cadence alone decides whether the runner is running; `hr_bpm` is only recorded.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Reading {
    /// Seconds since the session started.
    pub t_s: f64,
    /// Steps per minute, both feet.
    pub cadence_spm: Option<f64>,
    pub speed_mps: Option<f64>,
    pub hr_bpm: Option<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CueKind {
    Quicken,
    OnTarget,
    EaseOff,
    SensorLost,
    SensorBack,
}

impl CueKind {
    pub const ALL: [CueKind; 5] = [
        CueKind::Quicken,
        CueKind::OnTarget,
        CueKind::EaseOff,
        CueKind::SensorLost,
        CueKind::SensorBack,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CueKind::Quicken => "quicken",
            CueKind::OnTarget => "on_target",
            CueKind::EaseOff => "ease_off",
            CueKind::SensorLost => "sensor_lost",
            CueKind::SensorBack => "sensor_back",
        }
    }

    /// What to say or show.
    pub fn text(self) -> &'static str {
        match self {
            CueKind::Quicken => "Quicken your steps",
            CueKind::OnTarget => "On target",
            CueKind::EaseOff => "Ease off the cadence",
            CueKind::SensorLost => "Sensor lost",
            CueKind::SensorBack => "Sensor back",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Cue {
    pub t_s: f64,
    pub kind: CueKind,
    /// The smoothed cadence when the cue was given.
    pub current_spm: Option<f64>,
    pub target_spm: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Zone {
    Low,
    On,
    High,
}

/// The coach for one session.
#[derive(Debug, Clone)]
pub struct CadenceCoach {
    cfg: CoachConfig,
    window: VecDeque<(f64, f64)>,
    zone: Option<Zone>,
    on_target_pending: bool,
    last_spoken: Option<f64>,
    last_cadence_at: Option<f64>,
    lost: bool,
    last_speed: Option<f64>,
    samples: Vec<Sample>,
    distance_m: f64,
    /// Time of the last speed reading.
    last_t: Option<f64>,
    /// Time of the latest reading of any kind.
    now_t: Option<f64>,
    /// Readings dropped in whole or in part (see [`CadenceCoach::accept`]).
    rejected: u32,
}

impl CadenceCoach {
    pub fn new(cfg: CoachConfig) -> CadenceCoach {
        CadenceCoach {
            cfg,
            window: VecDeque::new(),
            zone: None,
            on_target_pending: false,
            last_spoken: None,
            last_cadence_at: None,
            lost: false,
            last_speed: None,
            samples: Vec::new(),
            distance_m: 0.0,
            last_t: None,
            now_t: None,
            rejected: 0,
        }
    }

    /// The reading as the coach takes it: `None` when its time is not a number, outside
    /// [`SESSION_SECONDS`] or more than [`LATE_READING_S`] before the latest reading (a little
    /// late is taken at the latest time); a cadence or speed that is not a number or outside
    /// [`SENSOR_CADENCE_SPM`] / [`SENSOR_SPEED_MPS`] is dropped from it.
    pub fn accept(&self, r: Reading) -> Option<Reading> {
        if !r.t_s.is_finite() || !SESSION_SECONDS.contains(r.t_s) {
            return None;
        }
        let t_s = match self.now_t {
            Some(now) if r.t_s < now - LATE_READING_S => return None,
            Some(now) => r.t_s.max(now),
            None => r.t_s,
        };
        Some(Reading {
            t_s,
            cadence_spm: r.cadence_spm.filter(|c| SENSOR_CADENCE_SPM.contains(*c)),
            speed_mps: r.speed_mps.filter(|v| SENSOR_SPEED_MPS.contains(*v)),
            hr_bpm: r.hr_bpm,
        })
    }

    /// How many readings were dropped, in whole or in part, as not believable.
    pub fn rejected_readings(&self) -> u32 {
        self.rejected
    }

    pub fn config(&self) -> &CoachConfig {
        &self.cfg
    }

    /// Cadence averaged over the window, if there are readings in it.
    pub fn smoothed_spm(&self) -> Option<f64> {
        (!self.window.is_empty())
            .then(|| self.window.iter().map(|(_, c)| c).sum::<f64>() / self.window.len() as f64)
    }

    /// The metronome tempo in beats per minute: the target while running, none while silent.
    pub fn metronome_bpm(&self) -> Option<f64> {
        (!self.lost && self.running()).then_some(self.cfg.target_spm)
    }

    /// Distance so far, integrated from speed.
    pub fn distance_m(&self) -> f64 {
        self.distance_m
    }

    /// The session's samples so far.
    pub fn samples(&self) -> &[Sample] {
        &self.samples
    }

    pub fn into_samples(self) -> Vec<Sample> {
        self.samples
    }

    /// Running, as far as the sensors tell: by speed while speed readings arrive, else (a
    /// cadence-only sensor) by the cadence alone.
    pub fn running(&self) -> bool {
        let Some(cadence) = self.smoothed_spm().filter(|c| *c > 0.0) else {
            return false;
        };
        match (self.last_speed, self.last_t, self.now_t) {
            (Some(v), Some(at), Some(now)) if now - at <= self.cfg.dropout_s => {
                v >= self.cfg.min_running_speed_mps
            }
            _ => cadence >= self.cfg.min_running_cadence_spm,
        }
    }

    /// Time passes without a reading: reports a dropout once it has lasted `dropout_s`.
    pub fn tick(&mut self, t_s: f64) -> Vec<Cue> {
        let mut cues = Vec::new();
        if !t_s.is_finite() {
            return cues;
        }
        if !self.lost
            && let Some(last) = self.last_cadence_at
            && t_s - last > self.cfg.dropout_s
        {
            self.lost = true;
            self.window.clear();
            self.zone = None;
            cues.push(Cue {
                t_s,
                kind: CueKind::SensorLost,
                current_spm: None,
                target_spm: self.cfg.target_spm,
            });
        }
        cues
    }

    /// Takes one reading and returns the cues it triggers (most readings trigger none).
    pub fn feed(&mut self, r: Reading) -> Vec<Cue> {
        self.feed_checked(r)
            .map(|(_, cues)| cues)
            .unwrap_or_default()
    }

    /// Like [`CadenceCoach::feed`], with the reading as taken ([`CadenceCoach::accept`]);
    /// `None` when it was dropped whole.
    pub fn feed_checked(&mut self, r: Reading) -> Option<(Reading, Vec<Cue>)> {
        let Some(checked) = self.accept(r) else {
            self.rejected += 1;
            return None;
        };
        if checked.cadence_spm != r.cadence_spm || checked.speed_mps != r.speed_mps {
            self.rejected += 1;
        }
        Some((checked, self.take(checked)))
    }

    /// Coaches an accepted reading.
    fn take(&mut self, r: Reading) -> Vec<Cue> {
        let mut cues = self.tick(r.t_s);
        self.now_t = Some(self.now_t.map_or(r.t_s, |t| t.max(r.t_s)));
        // Distance from speed over the time since the last speed reading; across a dropout
        // nothing is added (the gap is missing, not invented).
        if let Some(v) = r.speed_mps {
            if let Some(prev) = self.last_t {
                let dt = r.t_s - prev;
                if dt > 0.0 && dt <= self.cfg.dropout_s {
                    self.distance_m += v * dt;
                }
            }
            self.last_t = Some(r.t_s);
            self.last_speed = Some(v);
        }
        self.samples.push(Sample {
            t_s: r.t_s,
            distance_m: r.speed_mps.map(|_| self.distance_m),
            speed_mps: r.speed_mps,
            hr_bpm: r.hr_bpm,
            cadence_spm: r.cadence_spm,
            ..Sample::default()
        });
        let Some(c) = r.cadence_spm else {
            return cues;
        };
        if self.lost {
            self.lost = false;
            cues.push(Cue {
                t_s: r.t_s,
                kind: CueKind::SensorBack,
                current_spm: Some(c),
                target_spm: self.cfg.target_spm,
            });
        }
        self.last_cadence_at = Some(r.t_s);
        self.window.push_back((r.t_s, c));
        while self
            .window
            .front()
            .is_some_and(|(t, _)| r.t_s - t >= self.cfg.window_s)
        {
            self.window.pop_front();
        }
        if r.t_s < self.cfg.warmup_s || !self.running() {
            // Silent, and the zone starts afresh when coaching resumes.
            self.zone = None;
            return cues;
        }
        let s = self.smoothed_spm().unwrap_or(c);
        let (target, tol, hyst) = (
            self.cfg.target_spm,
            self.cfg.tolerance_spm,
            self.cfg.hysteresis_spm,
        );
        let zone = match self.zone {
            // Entering from silence: the plain band decides.
            None if s < target - tol => Zone::Low,
            None if s > target + tol => Zone::High,
            None => Zone::On,
            Some(Zone::On) if s < target - tol - hyst => Zone::Low,
            Some(Zone::On) if s > target + tol + hyst => Zone::High,
            Some(Zone::Low) if s >= target - tol + hyst => {
                if s > target + tol + hyst {
                    Zone::High
                } else {
                    Zone::On
                }
            }
            Some(Zone::High) if s <= target + tol - hyst => {
                if s < target - tol - hyst {
                    Zone::Low
                } else {
                    Zone::On
                }
            }
            Some(z) => z,
        };
        let changed = self.zone != Some(zone);
        let was_coached = self.zone.is_some();
        self.zone = Some(zone);
        if changed {
            // "On target" is news only when coming back to it from outside the band; it waits
            // for the cooldown if a cue was just spoken.
            self.on_target_pending = zone == Zone::On && was_coached;
        }
        let cooled = self
            .last_spoken
            .is_none_or(|t| r.t_s - t >= self.cfg.cooldown_s);
        let kind = match zone {
            // Out of the band: said on entering it, then again every cooldown while it lasts.
            Zone::Low => Some(CueKind::Quicken),
            Zone::High => Some(CueKind::EaseOff),
            Zone::On => self.on_target_pending.then_some(CueKind::OnTarget),
        };
        if let Some(kind) = kind
            && cooled
        {
            self.on_target_pending = false;
            self.last_spoken = Some(r.t_s);
            cues.push(Cue {
                t_s: r.t_s,
                kind,
                current_spm: Some(s),
                target_spm: target,
            });
        }
        cues
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(coach: &mut CadenceCoach, from: f64, to: f64, spm: f64, speed: f64) -> Vec<Cue> {
        let mut cues = Vec::new();
        let mut t = from;
        while t < to {
            cues.extend(coach.feed(Reading {
                t_s: t,
                cadence_spm: Some(spm),
                speed_mps: Some(speed),
                hr_bpm: Some(150),
            }));
            t += 1.0;
        }
        cues
    }

    fn kinds(c: &[Cue]) -> Vec<(f64, CueKind)> {
        c.iter().map(|c| (c.t_s, c.kind)).collect()
    }

    #[test]
    fn silent_while_warming_up_then_quicken_with_cooldown() {
        let mut coach = CadenceCoach::new(CoachConfig::new(170.0));
        assert!(
            run(&mut coach, 0.0, 120.0, 160.0, 3.0).is_empty(),
            "warm-up is silent"
        );
        let cues = run(&mut coach, 120.0, 185.0, 160.0, 3.0);
        // Quicken at 120 s, and again each 30 s while it stays low.
        assert_eq!(
            kinds(&cues),
            [
                (120.0, CueKind::Quicken),
                (150.0, CueKind::Quicken),
                (180.0, CueKind::Quicken)
            ]
        );
        assert_eq!(cues[0].current_spm, Some(160.0));
        assert_eq!(cues[0].target_spm, 170.0);
        assert_eq!(coach.metronome_bpm(), Some(170.0));
    }

    #[test]
    fn the_band_has_hysteresis_and_on_target_is_said_once() {
        let mut cfg = CoachConfig::new(170.0);
        cfg.warmup_s = 0.0;
        cfg.window_s = 1.0; // no smoothing: test the band itself
        cfg.cooldown_s = 0.0;
        let mut coach = CadenceCoach::new(cfg);
        // Start inside: nothing to say.
        assert!(run(&mut coach, 0.0, 5.0, 170.0, 3.0).is_empty());
        // 166.5 is outside 167-173 but within the hysteresis: still on target.
        assert!(run(&mut coach, 5.0, 10.0, 166.5, 3.0).is_empty());
        // 165.5 passes the edge by more than 1: quicken (repeated, cooldown 0).
        let c = run(&mut coach, 10.0, 12.0, 165.5, 3.0);
        assert_eq!(
            kinds(&c),
            [(10.0, CueKind::Quicken), (11.0, CueKind::Quicken)]
        );
        // Back to 167.5: inside the band but not by the hysteresis: still low.
        let c = run(&mut coach, 12.0, 13.0, 167.5, 3.0);
        assert_eq!(kinds(&c), [(12.0, CueKind::Quicken)]);
        // 168.5: on target, said once.
        let c = run(&mut coach, 13.0, 16.0, 168.5, 3.0);
        assert_eq!(kinds(&c), [(13.0, CueKind::OnTarget)]);
        // Straight up to 176: ease off.
        let c = run(&mut coach, 16.0, 17.0, 176.0, 3.0);
        assert_eq!(kinds(&c), [(16.0, CueKind::EaseOff)]);
    }

    #[test]
    fn on_target_waits_for_the_cooldown_instead_of_being_lost() {
        let mut cfg = CoachConfig::new(170.0);
        cfg.warmup_s = 0.0;
        cfg.window_s = 1.0;
        let mut coach = CadenceCoach::new(cfg);
        let c = run(&mut coach, 0.0, 10.0, 160.0, 3.0);
        assert_eq!(kinds(&c), [(0.0, CueKind::Quicken)]);
        // Back on target at 10 s, 20 s before the cooldown ends: said at 30 s.
        let c = run(&mut coach, 10.0, 40.0, 170.0, 3.0);
        assert_eq!(kinds(&c), [(30.0, CueKind::OnTarget)]);
    }

    #[test]
    fn smoothing_over_the_window() {
        let mut cfg = CoachConfig::new(170.0);
        cfg.warmup_s = 0.0;
        let mut coach = CadenceCoach::new(cfg);
        run(&mut coach, 0.0, 10.0, 170.0, 3.0);
        // One stray low reading does not move a 10 s average out of the band.
        let c = run(&mut coach, 10.0, 11.0, 140.0, 3.0);
        assert!(c.is_empty());
        assert!((coach.smoothed_spm().unwrap() - 167.0).abs() < 1e-9);
    }

    #[test]
    fn silent_when_stopped_or_walking() {
        let mut cfg = CoachConfig::new(170.0);
        cfg.warmup_s = 0.0;
        let mut coach = CadenceCoach::new(cfg);
        assert!(run(&mut coach, 0.0, 20.0, 110.0, 1.2).is_empty(), "walking");
        assert_eq!(coach.metronome_bpm(), None);
        assert!(run(&mut coach, 20.0, 30.0, 0.0, 0.0).is_empty(), "stopped");
        let c = run(&mut coach, 30.0, 45.0, 160.0, 3.0);
        assert_eq!(c.first().map(|c| c.kind), Some(CueKind::Quicken));
    }

    #[test]
    fn sensor_lost_once_and_back() {
        let mut cfg = CoachConfig::new(170.0);
        cfg.warmup_s = 0.0;
        let mut coach = CadenceCoach::new(cfg);
        run(&mut coach, 0.0, 10.0, 170.0, 3.0);
        // Readings stop at 9 s; the clock moves on.
        assert!(coach.tick(14.0).is_empty());
        assert_eq!(kinds(&coach.tick(14.5)), [(14.5, CueKind::SensorLost)]);
        assert!(coach.tick(20.0).is_empty(), "said once");
        assert!(coach.tick(40.0).is_empty());
        assert_eq!(coach.metronome_bpm(), None);
        // HR alone does not bring the cadence sensor back.
        assert!(
            coach
                .feed(Reading {
                    t_s: 41.0,
                    hr_bpm: Some(150),
                    ..Reading::default()
                })
                .is_empty()
        );
        let c = run(&mut coach, 42.0, 43.0, 170.0, 3.0);
        assert_eq!(kinds(&c), [(42.0, CueKind::SensorBack)]);
        // The gap is missing in the samples, not invented; distance does not grow over it.
        assert!(
            coach
                .samples()
                .iter()
                .all(|s| !(10.0..41.0).contains(&s.t_s))
        );
        assert!(
            (coach.distance_m() - 27.0).abs() < 1e-9,
            "{}",
            coach.distance_m()
        );
    }

    #[test]
    fn cadence_alone_is_coached_and_walking_cadence_is_silent() {
        let mut cfg = CoachConfig::new(170.0);
        cfg.warmup_s = 0.0;
        let mut coach = CadenceCoach::new(cfg);
        let feed = |coach: &mut CadenceCoach, from: u32, to: u32, spm: f64| {
            (from..to)
                .flat_map(|t| {
                    coach.feed(Reading {
                        t_s: f64::from(t),
                        cadence_spm: Some(spm),
                        ..Reading::default()
                    })
                })
                .collect::<Vec<_>>()
        };
        assert!(feed(&mut coach, 0, 20, 115.0).is_empty(), "walking");
        assert_eq!(coach.metronome_bpm(), None);
        let c = feed(&mut coach, 20, 40, 160.0);
        assert_eq!(c.first().map(|c| c.kind), Some(CueKind::Quicken));
        assert_eq!(coach.metronome_bpm(), Some(170.0));
        // A speed reading, once it stops coming, no longer decides.
        run(&mut coach, 40.0, 41.0, 160.0, 1.0);
        assert!(!coach.running(), "walking speed");
        feed(&mut coach, 41, 60, 160.0);
        assert!(coach.running(), "the speed is stale: cadence decides again");
    }

    #[test]
    fn unbelievable_readings_neither_cue_nor_record() {
        let mut cfg = CoachConfig::new(170.0);
        cfg.warmup_s = 0.0;
        let mut coach = CadenceCoach::new(cfg);
        assert!(run(&mut coach, 0.0, 20.0, 170.0, 3.0).is_empty());
        // A burst of garbage cadence: no "ease off", no "quicken", the smoothing untouched.
        for (i, bad) in [f64::NAN, f64::INFINITY, 1e9, -170.0, 301.0]
            .into_iter()
            .enumerate()
        {
            let cues = coach.feed(Reading {
                t_s: 20.0 + i as f64,
                cadence_spm: Some(bad),
                speed_mps: Some(3.0),
                hr_bpm: None,
            });
            assert!(cues.is_empty(), "{bad}: {cues:?}");
            assert_eq!(coach.samples().last().unwrap().cadence_spm, None);
        }
        assert_eq!(coach.smoothed_spm(), Some(170.0));
        // A reading whose time is not a time is dropped whole; so is a stale one.
        let n = coach.samples().len();
        for t_s in [f64::NAN, -1.0, f64::INFINITY, 10.0] {
            let cues = coach.feed(Reading {
                t_s,
                cadence_spm: Some(120.0),
                speed_mps: Some(3.0),
                hr_bpm: None,
            });
            assert!(cues.is_empty());
        }
        assert_eq!(coach.samples().len(), n);
        assert!(coach.tick(f64::NAN).is_empty());
        // A little late (another sensor's notification) is taken at the latest time.
        coach.feed(Reading {
            t_s: 23.5,
            cadence_spm: Some(170.0),
            speed_mps: None,
            hr_bpm: Some(150),
        });
        assert_eq!(coach.samples().last().unwrap().t_s, 24.0);
        assert_eq!(coach.rejected_readings(), 9);
        // Speed garbage neither adds distance nor makes the runner "stopped".
        let before = coach.distance_m();
        coach.feed(Reading {
            t_s: 25.0,
            cadence_spm: Some(170.0),
            speed_mps: Some(f64::INFINITY),
            hr_bpm: None,
        });
        assert_eq!(coach.distance_m(), before);
        assert!(coach.running());
    }

    #[test]
    fn it_records_the_session() {
        let mut coach = CadenceCoach::new(CoachConfig::new(170.0));
        run(&mut coach, 0.0, 61.0, 168.0, 3.2);
        let s = coach.samples();
        assert_eq!(s.len(), 61);
        assert_eq!(s[60].t_s, 60.0);
        assert_eq!(s[60].cadence_spm, Some(168.0));
        assert!((s[60].distance_m.unwrap() - 192.0).abs() < 1e-9);
        assert_eq!(s[60].hr_bpm, Some(150));
    }
}
