//! A reproducible synthetic runner, so `strideguard demo` (and tests) can show the whole product
//! on a realistic history without anyone's real data.
//!
//! The story, over 16 complete ISO weeks ending the Sunday before `end`: twelve-plus weeks of
//! steady base (about 30-33 km a week, four runs), then the last two weeks jump by more than 30%
//! over the two before, with intervals and hills added. The everyday shoe passes 500 miles. The
//! last three weeks carry 1 Hz sample streams, and the easy runs of the final two weeks show a
//! lower cadence (tired legs, longer steps). The same seed and end date give the same history,
//! ids included.

use chrono::{Datelike, Days, NaiveDate, NaiveTime, TimeZone};
use chrono_tz::Tz;
use uuid::Uuid;

use crate::model::{CadenceTarget, Profile, Run, RunKind, RunSource, Sample, Shoe, Units};

/// Weekly distance in km for the 16 weeks: steady base (week-over-week changes under 10%), then a
/// jump (last two weeks 88 km against 65 km before them: +35%).
pub const WEEKLY_KM: [f64; 16] = [
    30.0, 31.0, 32.0, 30.0, 32.0, 33.0, 31.0, 32.0, 33.0, 32.0, 31.0, 33.0, 32.0, 33.0, 41.0, 47.0,
];

/// Weeks (from the end) whose runs carry sample streams.
pub const WEEKS_WITH_SAMPLES: usize = 3;

/// Average cadence of the low-cadence easy runs in the last two weeks, against about 170 before.
pub const LOW_CADENCE_SPM: f64 = 158.0;

/// The default seed of `strideguard demo`.
pub const DEFAULT_SEED: u64 = 2026;

pub struct DemoHistory {
    pub profile: Profile,
    pub shoes: Vec<Shoe>,
    /// Runs in time order, each with its sample stream (empty for most).
    pub runs: Vec<(Run, Vec<Sample>)>,
}

/// SplitMix64: tiny, fast and stable across versions, which is what reproducibility needs (a
/// general-purpose RNG crate may change its streams between releases).
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [lo, hi).
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    fn uuid(&mut self) -> Uuid {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.next_u64().to_le_bytes());
        b[8..].copy_from_slice(&self.next_u64().to_le_bytes());
        uuid::Builder::from_random_bytes(b).into_uuid()
    }
}

/// One planned session of a week.
struct Session {
    weekday: u64,
    time: (u32, u32),
    kind: RunKind,
    share: f64,
}

fn week_plan(jump: bool) -> Vec<Session> {
    let s = |weekday, time, kind, share| Session {
        weekday,
        time,
        kind,
        share,
    };
    if jump {
        vec![
            s(0, (18, 30), RunKind::Easy, 0.16),
            s(1, (18, 0), RunKind::Interval, 0.15),
            s(3, (18, 30), RunKind::Hills, 0.17),
            s(5, (8, 0), RunKind::Easy, 0.17),
            s(6, (9, 0), RunKind::Long, 0.35),
        ]
    } else {
        vec![
            s(1, (18, 30), RunKind::Easy, 0.22),
            s(3, (18, 30), RunKind::Tempo, 0.22),
            s(5, (8, 0), RunKind::Easy, 0.20),
            s(6, (9, 0), RunKind::Long, 0.36),
        ]
    }
}

/// Builds the demo history for the 16 complete weeks before `end`'s week.
pub fn history(seed: u64, end: NaiveDate) -> DemoHistory {
    let tz: Tz = chrono_tz::Europe::Berlin;
    let mut rng = Rng(seed);
    let profile = Profile {
        units: Units::Km,
        time_zone: tz.name().to_string(),
        cadence_target: CadenceTarget::Auto { increase_pct: 5.0 },
        resting_hr_bpm: Some(52),
        max_hr_bpm: Some(188),
        height_m: Some(1.76),
        thresholds: crate::model::Thresholds::default(),
    };

    let mut daily = Shoe::new(rng.uuid(), "Pegasus 40");
    daily.brand = Some("Nike".into());
    daily.model = Some("Air Zoom Pegasus 40".into());
    daily.start_distance_m = 480_000.0; // bought used from a club mate
    daily.is_default = true;
    let mut fast = Shoe::new(rng.uuid(), "Endorphin Speed");
    fast.brand = Some("Saucony".into());
    fast.model = Some("Endorphin Speed 3".into());
    let mut old = Shoe::new(rng.uuid(), "Ghost 14");
    old.brand = Some("Brooks".into());
    old.start_distance_m = 812_000.0;
    old.retired = true;

    let this_monday = end - Days::new(u64::from(end.weekday().num_days_from_monday()));
    let first_monday = this_monday - Days::new(7 * WEEKLY_KM.len() as u64);
    let mut runs = Vec::new();
    for (w, &week_km) in WEEKLY_KM.iter().enumerate() {
        let jump = w >= WEEKLY_KM.len() - 2;
        let with_samples = w >= WEEKLY_KM.len() - WEEKS_WITH_SAMPLES;
        let plan = week_plan(jump);
        let shares: Vec<f64> = plan
            .iter()
            .map(|s| s.share * rng.range(0.93, 1.07))
            .collect();
        let total: f64 = shares.iter().sum();
        let monday = first_monday + Days::new(7 * w as u64);
        for (session, share) in plan.iter().zip(shares) {
            let distance_m = (week_km * 1000.0 * share / total).round();
            let date = monday + Days::new(session.weekday);
            let low_cadence = jump && session.kind == RunKind::Easy;
            let (run, samples) = make_run(
                &mut rng,
                tz,
                date,
                session,
                distance_m,
                low_cadence,
                with_samples,
                if matches!(session.kind, RunKind::Tempo | RunKind::Interval) {
                    fast.id
                } else {
                    daily.id
                },
            );
            runs.push((run, samples));
        }
    }
    DemoHistory {
        profile,
        shoes: vec![daily, fast, old],
        runs,
    }
}

#[allow(clippy::too_many_arguments)]
fn make_run(
    rng: &mut Rng,
    tz: Tz,
    date: NaiveDate,
    session: &Session,
    distance_m: f64,
    low_cadence: bool,
    with_samples: bool,
    shoe: Uuid,
) -> (Run, Vec<Sample>) {
    // (pace in s/km, avg HR, RPE, metres climbed per km) by kind.
    let (pace, hr, rpe, climb_per_km) = match session.kind {
        RunKind::Easy => (rng.range(335.0, 355.0), rng.range(136.0, 144.0), 3, 6.0),
        RunKind::Long => (rng.range(345.0, 365.0), rng.range(142.0, 148.0), 5, 8.0),
        RunKind::Tempo => (rng.range(285.0, 295.0), rng.range(158.0, 164.0), 7, 5.0),
        RunKind::Interval => (rng.range(290.0, 305.0), rng.range(160.0, 167.0), 8, 4.0),
        RunKind::Hills => (rng.range(345.0, 370.0), rng.range(155.0, 162.0), 7, 28.0),
        _ => (340.0, 140.0, 4, 6.0),
    };
    let cadence = if low_cadence {
        LOW_CADENCE_SPM + rng.range(-1.5, 1.5)
    } else {
        let by_speed = 168.0 + (345.0 - pace) / 12.0;
        by_speed + rng.range(-2.0, 2.0)
    };
    let duration_s = (distance_m / 1000.0 * pace).round();
    let minutes_jitter = (rng.range(-10.0, 10.0)) as i64;
    let local = date
        .and_time(NaiveTime::from_hms_opt(session.time.0, session.time.1, 0).expect("valid"))
        + chrono::Duration::minutes(minutes_jitter);
    let start = tz
        .from_local_datetime(&local)
        .earliest()
        .expect("demo times avoid the DST gap")
        .fixed_offset();
    let gain = (distance_m / 1000.0 * climb_per_km * rng.range(0.8, 1.2)).round();
    let mut run = Run::new(rng.uuid(), start, distance_m, duration_s);
    run.moving_time_s = Some(duration_s);
    run.elevation_gain_m = Some(gain);
    run.elevation_loss_m = Some(gain);
    run.avg_hr_bpm = Some(hr.round());
    run.max_hr_bpm = Some((hr + rng.range(8.0, 16.0)).round());
    run.avg_cadence_spm = Some((cadence * 10.0).round() / 10.0);
    run.kind = session.kind;
    // Runners forget to rate some sessions.
    run.rpe = (rng.unit() > 0.15).then_some(rpe);
    run.shoe_id = Some(shoe);
    if low_cadence {
        run.notes = Some("heavy legs".into());
    }
    if !with_samples {
        return (run, Vec::new());
    }
    let samples = sample_stream(rng, &run, gain);
    // Summaries of runs with a stream are what the stream says, as a watch would report.
    let n = samples.len() as f64;
    run.avg_hr_bpm = Some(
        (samples
            .iter()
            .filter_map(|s| s.hr_bpm)
            .map(f64::from)
            .sum::<f64>()
            / n)
            .round(),
    );
    run.max_hr_bpm = samples.iter().filter_map(|s| s.hr_bpm).max().map(f64::from);
    run.avg_cadence_spm =
        Some((samples.iter().filter_map(|s| s.cadence_spm).sum::<f64>() / n * 10.0).round() / 10.0);
    run.source = RunSource::Fit;
    run.source_fingerprint = Some(format!("demo:{}", run.id));
    (run, samples)
}

/// Rounds to the resolution the store keeps (see `samples::Channel::scale`), like a device's
/// fixed-point fields, so demo streams read back exactly as generated.
fn on_grid(v: f64, scale: f64) -> f64 {
    (v * scale).round() / scale
}

/// 1 Hz samples along a 5 km loop in Berlin's Tiergarten: speed wandering around the run's
/// pace, heart rate rising over the first ten minutes, cadence following speed.
fn sample_stream(rng: &mut Rng, run: &Run, gain: f64) -> Vec<Sample> {
    const LOOP_M: f64 = 5000.0;
    let (lat0, lon0) = (52.5145, 13.3501);
    let radius_m = LOOP_M / std::f64::consts::TAU;
    let n = run.duration_s as usize;
    let mean_speed = run.distance_m / run.duration_s;
    let avg_hr = run.avg_hr_bpm.unwrap_or(140.0);
    let avg_cad = run.avg_cadence_spm.unwrap_or(170.0);
    let phase = rng.range(0.0, std::f64::consts::TAU);
    let hill_amp = gain / (2.0 * (run.distance_m / LOOP_M).max(1.0));
    let mut distance = 0.0;
    let mut samples = Vec::with_capacity(n + 1);
    for i in 0..=n {
        let t = i as f64;
        let wobble = (t / 97.0 + phase).sin() * 0.06 + rng.range(-0.02, 0.02);
        let speed = mean_speed * (1.0 + wobble);
        if i > 0 {
            distance += speed;
        }
        let angle = distance / radius_m;
        let warmup = (t / 600.0).min(1.0);
        // Warm-up climb, then cardiac drift through the run.
        let drift = 8.0 * (t / n as f64 - 0.5);
        let hr = avg_hr - 25.0 * (1.0 - warmup) + drift + rng.range(-3.0, 3.0);
        let cadence = avg_cad * (1.0 + wobble * 0.25) + rng.range(-1.0, 1.0);
        samples.push(Sample {
            t_s: t,
            lat_deg: Some(on_grid(lat0 + radius_m * angle.cos() / 111_320.0, 1e7)),
            lon_deg: Some(on_grid(
                lon0 + radius_m * angle.sin() / (111_320.0 * lat0.to_radians().cos()),
                1e7,
            )),
            altitude_m: Some(on_grid(35.0 + hill_amp * (angle * 2.0).sin(), 1e2)),
            distance_m: Some(on_grid(distance, 1e2)),
            speed_mps: Some(on_grid(speed, 1e3)),
            hr_bpm: Some(hr.round().clamp(60.0, 220.0) as u8),
            cadence_spm: Some(on_grid(cadence, 1e2)),
            stride_m: Some(on_grid(speed / (cadence / 60.0), 1e3)),
            ..Sample::default()
        });
    }
    samples
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{Thresholds, weekly_totals};

    fn end() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()
    }

    #[test]
    fn same_seed_same_history() {
        let a = history(7, end());
        let b = history(7, end());
        let ids = |h: &DemoHistory| {
            h.runs
                .iter()
                .map(|(r, _)| (r.id, r.distance_m))
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&a), ids(&b));
        assert_ne!(ids(&a), ids(&history(8, end())));
    }

    #[test]
    fn sixteen_full_weeks_ending_before_the_current_week() {
        let h = history(DEFAULT_SEED, end());
        let runs: Vec<Run> = h.runs.iter().map(|(r, _)| r.clone()).collect();
        let weeks = weekly_totals(&runs, &h.profile, None, &Thresholds::default());
        assert_eq!(weeks.len(), 16);
        assert_eq!(weeks[15].week, "2026-W47");
        assert_eq!(weeks[0].week, "2026-W32");
        for (w, km) in weeks.iter().zip(WEEKLY_KM) {
            assert!(
                (w.totals.distance_m / 1000.0 - km).abs() < 0.01,
                "{} {}",
                w.week,
                w.totals.distance_m
            );
        }
    }

    #[test]
    fn the_story_holds_jump_worn_shoe_and_low_cadence_streams() {
        let h = history(DEFAULT_SEED, end());
        let runs: Vec<Run> = h.runs.iter().map(|(r, _)| r.clone()).collect();
        let w = weekly_totals(&runs, &h.profile, None, &Thresholds::default());
        let last2 = w[14].totals.distance_m + w[15].totals.distance_m;
        let prev2 = w[12].totals.distance_m + w[13].totals.distance_m;
        assert!(last2 > prev2 * 1.30, "{last2} vs {prev2}");
        for pair in w[..14].windows(2) {
            assert!(
                pair[1].totals.distance_m <= pair[0].totals.distance_m * 1.10,
                "{}",
                pair[1].week
            );
        }

        let daily = &h.shoes[0];
        let on_daily: f64 = runs
            .iter()
            .filter(|r| r.shoe_id == Some(daily.id))
            .map(|r| r.distance_m)
            .sum();
        assert!(daily.start_distance_m + on_daily > daily.replace_at_m);

        let low: Vec<&(Run, Vec<Sample>)> = h
            .runs
            .iter()
            .filter(|(r, s)| !s.is_empty() && r.avg_cadence_spm.unwrap() < 162.0)
            .collect();
        assert!(
            low.len() >= 3,
            "{} low-cadence runs with streams",
            low.len()
        );
        let normal = h
            .runs
            .iter()
            .filter(|(r, _)| r.avg_cadence_spm.unwrap() > 165.0)
            .count();
        assert!(normal > 40);
        for (run, samples) in &h.runs {
            if samples.is_empty() {
                continue;
            }
            let last = samples.last().unwrap();
            assert_eq!(last.t_s, run.duration_s);
            let d = last.distance_m.unwrap();
            assert!(
                (d - run.distance_m).abs() / run.distance_m < 0.03,
                "{d} vs {}",
                run.distance_m
            );
        }
    }
}
