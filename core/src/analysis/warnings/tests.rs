//! Each rule on a small hand-built history, with the numbers worked out by hand.

use chrono::{DateTime, Days, NaiveDate};
use uuid::Uuid;

use super::*;
use crate::analysis::{acwr_series, weekly_totals};
use crate::model::{RunKind, Shoe};

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn profile() -> Profile {
    Profile {
        time_zone: "Europe/Berlin".into(),
        ..Profile::default()
    }
}

/// A run at 08:00 Berlin time, 6 min/km.
fn run(date: NaiveDate, km: f64) -> Run {
    let start = DateTime::parse_from_rfc3339(&format!("{date}T08:00:00+01:00")).unwrap();
    Run::new(Uuid::new_v4(), start, km * 1000.0, km * 360.0)
}

/// One run on the Wednesday of each week starting Monday 2026-01-05, with these distances.
fn weekly(kms: &[f64]) -> Vec<Run> {
    kms.iter()
        .enumerate()
        .filter(|(_, km)| **km > 0.0)
        .map(|(i, km)| run(d("2026-01-07") + Days::new(7 * i as u64), *km))
        .collect()
}

fn warnings_at(runs: &[Run], as_of: NaiveDate) -> Vec<Warning> {
    let t = Thresholds::default();
    let p = profile();
    let weeks = weekly_totals(runs, &p, Some(as_of), &t);
    load_warnings(&weeks, runs, &p, as_of, &[], &t)
}

fn kinds(w: &[Warning]) -> Vec<WarningKind> {
    w.iter().map(|w| w.kind).collect()
}

fn only(w: &[Warning], kind: WarningKind) -> Vec<Warning> {
    w.iter().filter(|x| x.kind == kind).cloned().collect()
}

// Week n (0-based) of `weekly` ends on Sunday 2026-01-11 + 7n; the Monday after is "as of".
fn monday_after(week: u64) -> NaiveDate {
    d("2026-01-12") + Days::new(7 * week)
}

#[test]
fn weekly_increase_over_ten_percent_is_a_caution_with_the_numbers() {
    let w = only(
        &warnings_at(&weekly(&[20.0, 23.0]), monday_after(1)),
        WarningKind::WeeklyIncrease,
    );
    assert_eq!(w.len(), 1);
    let x = &w[0];
    assert_eq!(x.severity, Severity::Caution);
    assert_eq!(x.subject, "2026-W03");
    assert_eq!(x.numbers["distance_m"], 23_000.0);
    assert_eq!(x.numbers["previous_distance_m"], 20_000.0);
    assert!((x.numbers["distance_change_pct"] - 15.0).abs() < 1e-9);
    assert!(
        x.explanation.contains("23.00 km against 20.00 km (+15%)"),
        "{}",
        x.explanation
    );
    assert!(x.explanation.contains("guide, not a law"));
    // Exactly +10% is within the guide (and so is the single run, +10% on the longest).
    assert!(warnings_at(&weekly(&[20.0, 22.0]), monday_after(1)).is_empty());
}

#[test]
fn a_small_base_is_judged_in_steps_not_percentages() {
    // 2 km -> 4 km is +100%, but only 2 km more: no weekly warning.
    let w = warnings_at(&weekly(&[2.0, 4.0]), monday_after(1));
    assert!(only(&w, WarningKind::WeeklyIncrease).is_empty());
    // 5 km -> 8 km: 3 km more than the 2 km step.
    let w = only(
        &warnings_at(&weekly(&[5.0, 8.0]), monday_after(1)),
        WarningKind::WeeklyIncrease,
    );
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].numbers["step_m"], 3000.0);
    assert!(w[0].title.contains("small base"));
}

#[test]
fn two_weeks_over_thirty_percent_above_the_two_before_is_high() {
    // 20+20 -> 26+26: +30%, not above it. 20+20 -> 26+27: +32.5%.
    let w = warnings_at(&weekly(&[20.0, 20.0, 26.0, 26.0]), monday_after(3));
    assert!(!kinds(&w).contains(&WarningKind::TwoWeekSpike));
    let w = warnings_at(&weekly(&[20.0, 20.0, 26.0, 27.0]), monday_after(3));
    let spike = w
        .iter()
        .find(|x| x.kind == WarningKind::TwoWeekSpike)
        .unwrap();
    assert_eq!(spike.severity, Severity::High);
    assert!((spike.numbers["change_pct"] - 32.5).abs() < 1e-9);
    assert_eq!(spike.subject, "2026-W04 to 2026-W05");
    assert!(spike.explanation.contains("Nielsen"));
}

#[test]
fn a_run_longer_than_the_recent_longest_is_a_spike() {
    let base = d("2026-02-02");
    let mut runs = vec![run(base, 10.0), run(base + Days::new(10), 8.0)];
    runs.push(run(base + Days::new(20), 12.0)); // +20% on 10 km
    let w = warnings_at(&runs, base + Days::new(22));
    let s = w
        .iter()
        .find(|x| x.kind == WarningKind::SingleRunSpike)
        .unwrap();
    assert_eq!(s.severity, Severity::Caution);
    assert!((s.numbers["change_pct"] - 20.0).abs() < 1e-9);
    assert_eq!(s.numbers["longest_previous_30_days_m"], 10_000.0);
    // More than twice as long: high.
    runs.push(run(base + Days::new(25), 25.0));
    let w = warnings_at(&runs, base + Days::new(25));
    let s = w
        .iter()
        .find(|x| x.kind == WarningKind::SingleRunSpike)
        .unwrap();
    assert_eq!(s.severity, Severity::High);
    // A week later the spike is no longer news.
    assert!(
        !kinds(&warnings_at(&runs, base + Days::new(33))).contains(&WarningKind::SingleRunSpike)
    );
}

#[test]
fn speed_and_hill_work_without_a_base() {
    // Two weeks of easy running, then intervals in week 3.
    let mut runs = weekly(&[10.0, 10.0, 10.0]);
    runs[2].kind = RunKind::Interval;
    let w = warnings_at(&runs, monday_after(2));
    let x = w
        .iter()
        .find(|x| x.kind == WarningKind::IntensityWithoutBase)
        .unwrap();
    assert_eq!(x.numbers["base_weeks"], 2.0);
    assert_eq!(x.numbers["minutes"], 60.0);
    // With six weeks of base, the same session is fine.
    let mut runs = weekly(&[10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0]);
    runs[6].kind = RunKind::Interval;
    assert!(
        !kinds(&warnings_at(&runs, monday_after(6))).contains(&WarningKind::IntensityWithoutBase)
    );
    // ...unless it more than doubles: 20 minutes of tempo, then 60 of intervals.
    let mut runs = weekly(&[10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0]);
    runs.push(run(d("2026-02-13"), 3.0 + 1.0 / 3.0)); // 20 minutes, week 6
    runs.last_mut().unwrap().kind = RunKind::Tempo;
    runs[6].kind = RunKind::Interval; // 60 minutes, week 7 (Wednesday 2026-02-18)
    let w = warnings_at(&runs, monday_after(6));
    let x = w
        .iter()
        .find(|x| x.kind == WarningKind::IntensityWithoutBase)
        .unwrap();
    assert!((x.numbers["previous_minutes"] - 20.0).abs() < 1e-9);
    // Hills: a run climbing 25 m/km after one week of running.
    let mut runs = weekly(&[8.0, 8.0]);
    runs[1].elevation_gain_m = Some(200.0);
    let w = warnings_at(&runs, monday_after(1));
    assert!(kinds(&w).contains(&WarningKind::HillsWithoutBase));
}

#[test]
fn acwr_zones_become_warnings_after_the_baseline() {
    let t = Thresholds::default();
    let p = profile();
    // 30 min a day for 28 days, then 90 min a day for 4 days.
    let start = d("2026-03-02");
    let mut runs: Vec<Run> = (0..28).map(|i| run(start + Days::new(i), 5.0)).collect();
    runs.extend((28..32).map(|i| run(start + Days::new(i), 15.0)));
    let until = start + Days::new(31);
    let series = acwr_series(&runs, &p, until, &t);
    let today = series.last().unwrap();
    assert_eq!(today.zone, AcwrZone::Danger, "{:?}", today.ratio);
    let weeks = weekly_totals(&runs, &p, Some(until), &t);
    let w = load_warnings(&weeks, &runs, &p, until, &series[series.len() - 7..], &t);
    let x = w
        .iter()
        .find(|x| x.kind == WarningKind::AcwrDanger)
        .unwrap();
    assert!(x.explanation.contains("debated"));
    assert!((x.numbers["ratio"] - today.ratio.unwrap()).abs() < 1e-12);
}

#[test]
fn shoes_warn_at_each_threshold_and_retired_ones_never() {
    let usage = |km: f64, retired: bool| {
        let mut shoe = Shoe::new(Uuid::new_v4(), "Pegasus");
        shoe.retired = retired;
        ShoeUsage {
            shoe,
            distance_m: km * 1000.0,
            run_count: 10,
        }
    };
    let w = shoe_warnings(&[usage(482.0, false)], Units::Km);
    assert!(w.is_empty());
    let w = shoe_warnings(&[usage(483.0, false)], Units::Km);
    assert_eq!(kinds(&w), [WarningKind::ShoeWearCheck]);
    assert_eq!(w[0].severity, Severity::Caution);
    let w = shoe_warnings(&[usage(805.0, false)], Units::Mi);
    assert_eq!(kinds(&w), [WarningKind::ShoeReplace]);
    assert_eq!(w[0].severity, Severity::High);
    // 805 km = 500.20 mi, past 500 mi.
    assert!(
        w[0].explanation.contains("500.20 mi"),
        "{}",
        w[0].explanation
    );
    assert!(shoe_warnings(&[usage(900.0, true)], Units::Km).is_empty());
}
