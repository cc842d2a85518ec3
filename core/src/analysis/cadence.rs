//! Cadence against the runner's own baseline. Cadence rises with speed, so runs are compared with
//! the baseline of their speed band: the median cadence of recent easy and long runs at that
//! speed. The target is that baseline plus a percentage (Heiderscheit et al. 2011: +5-10%
//! lowers hip and knee loading), or a number the runner pinned. 180 is a reference, not a goal.

use std::collections::{BTreeMap, HashMap};

use chrono::{Days, NaiveDate};
use serde::Serialize;
use uuid::Uuid;

use super::Thresholds;
use super::warnings::{Severity, Warning, WarningKind};
use super::weekly::local_date;
use crate::model::{CadenceTarget, Profile, Run, RunKind, Sample};

/// Speed bands are this wide (m/s), starting at 0.
pub const BAND_WIDTH_MPS: f64 = 0.5;

/// Cadence histogram bins are this wide (steps/min).
pub const BIN_WIDTH_SPM: f64 = 5.0;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BandBaseline {
    pub min_speed_mps: f64,
    pub max_speed_mps: f64,
    /// Median of the runs' average cadence in this band.
    pub cadence_spm: f64,
    pub target_spm: f64,
    pub runs: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunCadence {
    pub run_id: Uuid,
    pub date: NaiveDate,
    pub avg_cadence_spm: f64,
    pub avg_speed_mps: f64,
    /// Distance of one step: speed / steps per second.
    pub step_length_m: f64,
    pub baseline_spm: Option<f64>,
    pub target_spm: Option<f64>,
    /// How far below its speed-matched baseline (negative: above).
    pub below_baseline_pct: Option<f64>,
    /// Within the recent window checked for low cadence.
    pub recent: bool,
}

/// How the cadence target is chosen: the runner's own baseline plus a percentage, or a number
/// they pinned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetMode {
    Auto,
    Fixed,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bin {
    pub from_spm: f64,
    pub to_spm: f64,
    pub seconds: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CadenceReport {
    /// `auto` or `fixed`.
    pub target_mode: TargetMode,
    /// For `auto`, the percentage above the baseline.
    pub increase_pct: Option<f64>,
    /// The target for the runner's most common (easy) speed band, or the fixed one.
    pub target_spm: Option<f64>,
    pub baseline: Vec<BandBaseline>,
    /// Runs in the report window with a known cadence, oldest first.
    pub runs: Vec<RunCadence>,
    /// Time spent at each cadence in the recent runs' sample streams.
    pub distribution: Vec<Bin>,
}

fn band(speed: f64) -> i64 {
    (speed / BAND_WIDTH_MPS).floor() as i64
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

fn target_for(baseline: f64, profile: &Profile) -> f64 {
    match profile.cadence_target {
        CadenceTarget::Auto { increase_pct } => baseline * (1.0 + increase_pct / 100.0),
        CadenceTarget::Fixed { spm } => spm,
    }
}

/// Cadence over the runs in `window` (local dates), with the baseline from the easy and long runs
/// in the `baseline_weeks` before the recent `recent_days`, and the low-cadence warning.
pub fn cadence_report(
    runs: &[Run],
    samples: &HashMap<Uuid, Vec<Sample>>,
    profile: &Profile,
    window_from: NaiveDate,
    as_of: NaiveDate,
    t: &Thresholds,
) -> (CadenceReport, Option<Warning>) {
    let tz = profile.zone();
    let recent_from = as_of - Days::new(t.recent_days as u64 - 1);
    let baseline_from = recent_from - Days::new(7 * t.baseline_weeks as u64);
    let with_cadence = |r: &&Run| r.avg_cadence_spm.is_some() && r.avg_speed_mps().is_some();

    let mut by_band: BTreeMap<i64, Vec<f64>> = BTreeMap::new();
    for r in runs.iter().filter(with_cadence) {
        let d = local_date(r, tz);
        if d >= baseline_from && d < recent_from && matches!(r.kind, RunKind::Easy | RunKind::Long)
        {
            let (c, v) = (
                r.avg_cadence_spm.unwrap_or(0.0),
                r.avg_speed_mps().unwrap_or(0.0),
            );
            by_band.entry(band(v)).or_default().push(c);
        }
    }
    // Each band's median once; the report rows and every run's comparison read it.
    let medians: BTreeMap<i64, (f64, usize)> = by_band
        .into_iter()
        .filter_map(|(b, cads)| {
            let n = cads.len();
            median(cads).map(|m| (b, (m, n)))
        })
        .collect();
    let baseline: Vec<BandBaseline> = medians
        .iter()
        .map(|(b, &(c, runs))| BandBaseline {
            min_speed_mps: *b as f64 * BAND_WIDTH_MPS,
            max_speed_mps: (*b + 1) as f64 * BAND_WIDTH_MPS,
            cadence_spm: c,
            target_spm: target_for(c, profile),
            runs,
        })
        .collect();
    let baseline_at = |speed: f64| medians.get(&band(speed)).map(|&(m, _)| m);

    let mut out_runs = Vec::new();
    let mut distribution: BTreeMap<i64, f64> = BTreeMap::new();
    for r in runs.iter().filter(with_cadence) {
        let d = local_date(r, tz);
        if d < window_from || d > as_of {
            continue;
        }
        let (c, v) = (
            r.avg_cadence_spm.unwrap_or(0.0),
            r.avg_speed_mps().unwrap_or(0.0),
        );
        let base = baseline_at(v);
        let recent = d >= recent_from;
        out_runs.push(RunCadence {
            run_id: r.id,
            date: d,
            avg_cadence_spm: c,
            avg_speed_mps: v,
            step_length_m: if c > 0.0 { v / (c / 60.0) } else { 0.0 },
            baseline_spm: base,
            target_spm: base
                .map(|b| target_for(b, profile))
                .or(match profile.cadence_target {
                    CadenceTarget::Fixed { spm } => Some(spm),
                    CadenceTarget::Auto { .. } => None,
                }),
            below_baseline_pct: base.map(|b| (b - c) / b * 100.0),
            recent,
        });
        if recent && let Some(stream) = samples.get(&r.id) {
            let mut prev_t: Option<f64> = None;
            for s in stream {
                let dt = prev_t.map(|p| (s.t_s - p).clamp(0.0, 5.0)).unwrap_or(1.0);
                prev_t = Some(s.t_s);
                if let Some(c) = s.cadence_spm.filter(|c| *c > 0.0) {
                    *distribution
                        .entry((c / BIN_WIDTH_SPM).floor() as i64)
                        .or_default() += dt;
                }
            }
        }
    }
    out_runs.sort_by_key(|r| r.date);

    let (target_mode, increase_pct) = match profile.cadence_target {
        CadenceTarget::Auto { increase_pct } => (TargetMode::Auto, Some(increase_pct)),
        CadenceTarget::Fixed { .. } => (TargetMode::Fixed, None),
    };
    let main_band = baseline.iter().max_by_key(|b| b.runs);
    let target_spm = match profile.cadence_target {
        CadenceTarget::Fixed { spm } => Some(spm),
        CadenceTarget::Auto { .. } => main_band.map(|b| b.target_spm),
    };
    let warning = low_cadence_warning(&out_runs, t);
    (
        CadenceReport {
            target_mode,
            increase_pct,
            target_spm,
            baseline,
            runs: out_runs,
            distribution: distribution
                .into_iter()
                .map(|(b, seconds)| Bin {
                    from_spm: b as f64 * BIN_WIDTH_SPM,
                    to_spm: (b + 1) as f64 * BIN_WIDTH_SPM,
                    seconds,
                })
                .collect(),
        },
        warning,
    )
}

fn low_cadence_warning(runs: &[RunCadence], t: &Thresholds) -> Option<Warning> {
    let checked: Vec<&RunCadence> = runs
        .iter()
        .filter(|r| r.recent && r.baseline_spm.is_some())
        .collect();
    let low: Vec<&&RunCadence> = checked
        .iter()
        .filter(|r| r.below_baseline_pct.is_some_and(|p| p >= t.low_cadence_pct))
        .collect();
    if low.is_empty() {
        return None;
    }
    let n = low.len() as f64;
    let avg = |f: &dyn Fn(&RunCadence) -> f64| low.iter().map(|r| f(r)).sum::<f64>() / n;
    let cadence = avg(&|r| r.avg_cadence_spm);
    let base = avg(&|r| r.baseline_spm.unwrap_or(0.0));
    let step = avg(&|r| r.step_length_m);
    let base_step = avg(&|r| r.avg_speed_mps / (r.baseline_spm.unwrap_or(1.0) / 60.0));
    let below = (base - cadence) / base * 100.0;
    Some(Warning {
        kind: WarningKind::LowCadence,
        severity: Severity::Caution,
        subject: low
            .iter()
            .map(|r| r.run_id.to_string())
            .collect::<Vec<_>>()
            .join(","),
        title: format!(
            "{} of your last {} runs {below:.0}% below your usual cadence",
            low.len(),
            checked.len()
        ),
        explanation: format!(
            "{} of the {} runs of the last {} days averaged {cadence:.0} steps/min against {base:.0} on your own runs at the same speed: {below:.0}% lower. Each step was {step:.2} m against {base_step:.2} m: longer steps at the same speed are a sign of overstriding, which loads the knee and hip. A quicker cadence (+5-10%) shortens the step. This is a sign to look at, not a diagnosis.",
            low.len(),
            checked.len(),
            t.recent_days
        ),
        numbers: [
            ("runs_below".to_string(), n),
            ("runs_checked".to_string(), checked.len() as f64),
            ("avg_cadence_spm".to_string(), cadence),
            ("baseline_spm".to_string(), base),
            ("below_pct".to_string(), below),
            ("step_length_m".to_string(), step),
            ("baseline_step_length_m".to_string(), base_step),
        ]
        .into_iter()
        .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export;
    use crate::import::{self, Format, Parsed};
    use chrono::DateTime;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    /// An easy run of 8 km at `pace_s` s/km with this cadence.
    fn easy(date: NaiveDate, pace_s: f64, spm: f64) -> Run {
        let start = DateTime::parse_from_rfc3339(&format!("{date}T08:00:00+01:00")).unwrap();
        let mut r = Run::new(Uuid::new_v4(), start, 8000.0, 8.0 * pace_s);
        r.kind = RunKind::Easy;
        r.avg_cadence_spm = Some(spm);
        r
    }

    fn profile() -> Profile {
        Profile {
            time_zone: "Europe/Berlin".into(),
            ..Profile::default()
        }
    }

    #[test]
    fn baseline_per_speed_band_target_and_low_cadence() {
        let as_of = d("2026-05-31");
        let mut runs = Vec::new();
        // Baseline window: easy runs at 5:45/km (2.90 m/s, band 2.5-3.0) at 168-172 spm, and
        // tempo-speed easy runs at 4:40/km (3.57 m/s, band 3.5-4.0) at 178.
        for (i, spm) in [168.0, 170.0, 172.0, 170.0].iter().enumerate() {
            runs.push(easy(d("2026-04-01") + Days::new(7 * i as u64), 345.0, *spm));
        }
        runs.push(easy(d("2026-04-03"), 280.0, 178.0));
        // Recent: two easy runs at the same speed, one at 160 (5.9% below 170), one at 168.
        runs.push(easy(d("2026-05-25"), 345.0, 160.0));
        runs.push(easy(d("2026-05-28"), 345.0, 168.0));
        let (report, warning) = cadence_report(
            &runs,
            &HashMap::new(),
            &profile(),
            d("2026-03-01"),
            as_of,
            &Thresholds::default(),
        );
        assert_eq!(report.baseline.len(), 2);
        let easy_band = &report.baseline[0];
        assert_eq!(
            (easy_band.min_speed_mps, easy_band.max_speed_mps),
            (2.5, 3.0)
        );
        assert_eq!(easy_band.cadence_spm, 170.0); // median of 168, 170, 170, 172
        assert!((easy_band.target_spm - 178.5).abs() < 1e-9); // +5%
        assert_eq!(report.baseline[1].cadence_spm, 178.0);
        assert_eq!(report.target_spm, Some(178.5));
        let low = report
            .runs
            .iter()
            .find(|r| r.avg_cadence_spm == 160.0)
            .unwrap();
        assert!((low.below_baseline_pct.unwrap() - 5.882).abs() < 1e-3);
        // Step length: 2.8986 m/s / (160/60) = 1.087 m.
        assert!((low.step_length_m - 1.087).abs() < 1e-3);
        let w = warning.expect("a low-cadence warning");
        assert_eq!(w.kind, WarningKind::LowCadence);
        assert_eq!(w.numbers["runs_below"], 1.0);
        assert_eq!(w.numbers["runs_checked"], 2.0);
        assert!((w.numbers["baseline_step_length_m"] - 1.023).abs() < 1e-3);
        assert!(w.explanation.contains("not a diagnosis"));
    }

    #[test]
    fn a_fixed_target_is_the_target() {
        let mut p = profile();
        p.cadence_target = CadenceTarget::Fixed { spm: 176.0 };
        let runs = [easy(d("2026-05-30"), 345.0, 170.0)];
        let (report, warning) = cadence_report(
            &runs,
            &HashMap::new(),
            &p,
            d("2026-05-01"),
            d("2026-05-31"),
            &Thresholds::default(),
        );
        assert_eq!(report.target_mode, TargetMode::Fixed);
        assert_eq!(report.target_spm, Some(176.0));
        assert_eq!(report.runs[0].target_spm, Some(176.0));
        assert!(warning.is_none(), "no baseline, no verdict");
    }

    #[test]
    fn fit_per_foot_cadence_arrives_as_steps_per_minute_in_the_distribution() {
        // A watch writes 83 strides/min of one foot + 1/2: 167 steps/min.
        let start = DateTime::parse_from_rfc3339("2026-05-30T08:00:00+02:00").unwrap();
        let mut run = Run::new(Uuid::new_v4(), start, 3000.0, 1000.0);
        run.avg_cadence_spm = Some(167.0);
        let samples: Vec<Sample> = (0..=1000)
            .map(|i| Sample {
                t_s: i as f64,
                speed_mps: Some(3.0),
                cadence_spm: Some(167.0),
                ..Sample::default()
            })
            .collect();
        let bytes = export::fit::write(&run, &samples, 1);
        let Some(Parsed::Run {
            run: imported,
            samples: stream,
            ..
        }) = import::parse(Format::Fit, &bytes, chrono_tz::Europe::Berlin)
            .unwrap()
            .pop()
        else {
            panic!("a run");
        };
        assert_eq!(imported.avg_cadence_spm, Some(167.0));
        let map = HashMap::from([(imported.id, stream)]);
        let (report, _) = cadence_report(
            &[imported],
            &map,
            &profile(),
            d("2026-05-01"),
            d("2026-05-31"),
            &Thresholds::default(),
        );
        assert_eq!(report.runs[0].avg_cadence_spm, 167.0);
        assert_eq!(
            report.distribution,
            [Bin {
                from_spm: 165.0,
                to_spm: 170.0,
                seconds: 1001.0
            }]
        );
    }
}
