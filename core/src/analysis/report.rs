//! The whole picture as of one day: what the CLI prints, the JSON scripts read, the HTML charts
//! draw, and the phone apps show. One pure function over the history.

use std::collections::{BTreeMap, HashMap};

use chrono::{Days, NaiveDate};
use serde::Serialize;
use uuid::Uuid;

use super::Thresholds;
use super::acwr::{AcwrDay, acwr_series};
use super::cadence::{CadenceReport, cadence_report};
use super::load::{LoadMethod, session_load};
use super::warnings::{Warning, load_warnings, shoe_warnings};
use super::weekly::{Totals, WeekTotal, local_date, monday_of, rolling_7_days, weekly_totals};
use crate::model::{Profile, Run, Sample, ShoeUsage, ShoeWear, Units};

/// What the report is computed from.
pub struct ReportInput<'a> {
    pub runs: &'a [Run],
    /// Sample streams of the runs whose cadence distribution to show (the recent ones).
    pub samples: &'a HashMap<Uuid, Vec<Sample>>,
    pub shoes: &'a [ShoeUsage],
    pub profile: &'a Profile,
    pub as_of: NaiveDate,
    /// How many weeks the tables and charts cover.
    pub weeks: usize,
    pub thresholds: &'a Thresholds,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShoeStatus {
    #[serde(flatten)]
    pub usage: ShoeUsage,
    /// `ok`, `check_wear`, `replace` or `retired`.
    pub status: ShoeWear,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub as_of: NaiveDate,
    pub time_zone: String,
    pub units: Units,
    /// The week containing `as_of`, so far.
    pub this_week: WeekTotal,
    /// The week before it.
    pub last_week: WeekTotal,
    pub rolling_7_days: Totals,
    /// The last `weeks` ISO weeks, oldest first, ending with this week.
    pub weeks: Vec<WeekTotal>,
    /// The ratio on `as_of` (absent before the first run).
    pub acwr: Option<AcwrDay>,
    /// Every day of the report's weeks.
    pub acwr_series: Vec<AcwrDay>,
    /// How many sessions' loads came from each measure.
    pub load_methods: BTreeMap<LoadMethod, u32>,
    pub warnings: Vec<Warning>,
    pub shoes: Vec<ShoeStatus>,
    pub cadence: CadenceReport,
    pub thresholds: Thresholds,
}

fn empty_week(monday: NaiveDate) -> WeekTotal {
    WeekTotal {
        week: super::weekly::label(monday),
        monday,
        totals: Totals::default(),
    }
}

pub fn build_report(input: &ReportInput<'_>) -> Report {
    let (p, t, as_of) = (input.profile, input.thresholds, input.as_of);
    let tz = p.zone();
    // Nothing after the report date counts.
    let runs: Vec<Run> = input
        .runs
        .iter()
        .filter(|r| local_date(r, tz) <= as_of)
        .cloned()
        .collect();
    let all_weeks = weekly_totals(&runs, p, Some(as_of), t);
    let this_monday = monday_of(as_of);
    let find = |monday: NaiveDate| {
        all_weeks
            .iter()
            .find(|w| w.monday == monday)
            .cloned()
            .unwrap_or_else(|| empty_week(monday))
    };
    let this_week = find(this_monday);
    let last_week = find(this_monday - Days::new(7));
    let n = input.weeks.max(1);
    let weeks: Vec<WeekTotal> = (0..n)
        .rev()
        .map(|i| find(this_monday - Days::new(7 * i as u64)))
        .collect();
    let series = acwr_series(&runs, p, as_of, t);
    let acwr = series.last().cloned();
    let window_from = weeks.first().map(|w| w.monday).unwrap_or(this_monday);
    let acwr_window: Vec<AcwrDay> = series
        .into_iter()
        .filter(|d| d.date >= window_from)
        .collect();

    let mut load_methods = BTreeMap::new();
    for r in &runs {
        *load_methods.entry(session_load(r, p).method).or_insert(0) += 1;
    }
    let last_7_days: Vec<AcwrDay> = acwr_window
        .iter()
        .filter(|d| d.date > as_of - Days::new(7))
        .cloned()
        .collect();
    let mut warnings = load_warnings(&all_weeks, &runs, p, as_of, &last_7_days, t);
    warnings.extend(shoe_warnings(input.shoes, p.units));
    let (cadence, low) = cadence_report(&runs, input.samples, p, window_from, as_of, t);
    warnings.extend(low);
    // Most serious first; stable within a severity.
    warnings.sort_by_key(|w| std::cmp::Reverse(w.severity));

    let shoes = input
        .shoes
        .iter()
        .map(|u| ShoeStatus {
            status: u.wear(),
            usage: u.clone(),
        })
        .collect();

    Report {
        as_of,
        time_zone: p.time_zone.clone(),
        units: p.units,
        this_week,
        last_week,
        rolling_7_days: rolling_7_days(&runs, p, as_of, t),
        weeks,
        acwr,
        acwr_series: acwr_window,
        load_methods,
        warnings,
        shoes,
        cadence,
        thresholds: t.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::warnings::WarningKind;
    use crate::demo;

    #[test]
    fn the_demo_runner_gets_the_warnings_its_story_calls_for() {
        let end = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        let h = demo::history(demo::DEFAULT_SEED, end);
        let runs: Vec<Run> = h.runs.iter().map(|(r, _)| r.clone()).collect();
        let samples: HashMap<Uuid, Vec<Sample>> =
            h.runs.iter().map(|(r, s)| (r.id, s.clone())).collect();
        let shoes: Vec<ShoeUsage> = h
            .shoes
            .iter()
            .map(|s| ShoeUsage {
                shoe: s.clone(),
                distance_m: s.start_distance_m
                    + runs
                        .iter()
                        .filter(|r| r.shoe_id == Some(s.id))
                        .map(|r| r.distance_m)
                        .sum::<f64>(),
                run_count: 0,
            })
            .collect();
        let report = build_report(&ReportInput {
            runs: &runs,
            samples: &samples,
            shoes: &shoes,
            profile: &h.profile,
            as_of: end,
            weeks: 8,
            thresholds: &Thresholds::default(),
        });
        let kinds: Vec<WarningKind> = report.warnings.iter().map(|w| w.kind).collect();
        for k in [
            WarningKind::TwoWeekSpike,
            WarningKind::WeeklyIncrease,
            WarningKind::ShoeReplace,
            WarningKind::LowCadence,
        ] {
            assert!(kinds.contains(&k), "{k:?} missing from {kinds:?}");
        }
        assert_eq!(
            report.warnings[0].severity,
            crate::analysis::warnings::Severity::High
        );
        assert_eq!(report.weeks.len(), 8);
        assert_eq!(report.weeks.last().unwrap().week, "2026-W48");
        assert_eq!(report.last_week.week, "2026-W47");
        assert!((report.last_week.totals.distance_m - 47_000.0).abs() < 10.0);
        assert_eq!(report.this_week.totals.runs, 0);
        assert_eq!(report.acwr_series.len(), 7 * 7 + 3);
        // The ratio decays over three rest days (0.81 today), but it peaked on Sunday: the
        // warning says so.
        let today = report.acwr.as_ref().unwrap();
        assert_eq!(today.date, end);
        let peak = report
            .warnings
            .iter()
            .find(|w| w.kind == WarningKind::AcwrDanger)
            .unwrap();
        assert_eq!(peak.subject, "2026-11-22");
        assert!(peak.numbers["ratio"] > 1.5);
        assert!(report.load_methods[&LoadMethod::Rpe] > 40);
        assert!(!report.cadence.distribution.is_empty());
        assert_eq!(
            report
                .shoes
                .iter()
                .filter(|s| s.status == ShoeWear::Replace)
                .count(),
            1
        );
    }
}
