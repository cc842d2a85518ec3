//! Totals per ISO week in the runner's time zone, and over a rolling 7-day window.

use chrono::{Datelike, Days, NaiveDate};
use chrono_tz::Tz;
use serde::Serialize;

use super::Thresholds;
use super::load::{is_hill_work, is_speed_work, session_load};
use crate::model::{Profile, Run};

/// What a stretch of days added up to.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Totals {
    pub distance_m: f64,
    pub duration_s: f64,
    pub runs: u32,
    /// Sum of session loads (see `load::session_load`).
    pub load: f64,
    /// Minutes of speed work (tempo, intervals, races).
    pub intensity_minutes: f64,
    /// Minutes of hill work (hills sessions, or runs climbing 20+ m/km).
    pub hill_minutes: f64,
    pub elevation_gain_m: f64,
}

impl Totals {
    fn add(&mut self, run: &Run, profile: &Profile, t: &Thresholds) {
        let minutes = run.duration_s / 60.0;
        self.distance_m += run.distance_m;
        self.duration_s += run.duration_s;
        self.runs += 1;
        self.load += session_load(run, profile).load;
        if is_speed_work(run) {
            self.intensity_minutes += minutes;
        }
        if is_hill_work(run, t.hill_m_per_km) {
            self.hill_minutes += minutes;
        }
        self.elevation_gain_m += run.elevation_gain_m.unwrap_or(0.0);
    }
}

/// One ISO week.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeekTotal {
    /// ISO week label, e.g. `2026-W07`.
    pub week: String,
    /// The Monday that starts the week (local date).
    pub monday: NaiveDate,
    #[serde(flatten)]
    pub totals: Totals,
}

/// The local date a run started on.
pub fn local_date(run: &Run, tz: Tz) -> NaiveDate {
    run.start.with_timezone(&tz).date_naive()
}

/// The Monday of `date`'s ISO week.
pub fn monday_of(date: NaiveDate) -> NaiveDate {
    date - Days::new(u64::from(date.weekday().num_days_from_monday()))
}

pub(crate) fn label(monday: NaiveDate) -> String {
    let iso = monday.iso_week();
    format!("{}-W{:02}", iso.year(), iso.week())
}

/// Sums runs per ISO week in the profile's time zone, from the first run's week to `until`'s
/// week (or the last run's), including empty weeks: a rest week is part of the load history.
pub fn weekly_totals(
    runs: &[Run],
    profile: &Profile,
    until: Option<NaiveDate>,
    t: &Thresholds,
) -> Vec<WeekTotal> {
    let tz = profile.zone();
    let Some(first) = runs.iter().map(|r| monday_of(local_date(r, tz))).min() else {
        return Vec::new();
    };
    let last = until
        .map(monday_of)
        .or_else(|| runs.iter().map(|r| monday_of(local_date(r, tz))).max())
        .unwrap_or(first);
    if last < first {
        return Vec::new();
    }
    let n_weeks = ((last - first).num_days() / 7 + 1) as usize;
    let mut weeks: Vec<WeekTotal> = (0..n_weeks)
        .map(|i| {
            let monday = first + Days::new(7 * i as u64);
            WeekTotal {
                week: label(monday),
                monday,
                totals: Totals::default(),
            }
        })
        .collect();
    for r in runs {
        let i = (monday_of(local_date(r, tz)) - first).num_days() / 7;
        if let Some(w) = usize::try_from(i).ok().and_then(|i| weeks.get_mut(i)) {
            w.totals.add(r, profile, t);
        }
    }
    weeks
}

/// Totals over the 7 days ending with `as_of` (inclusive), for live warnings mid-week.
pub fn rolling_7_days(runs: &[Run], profile: &Profile, as_of: NaiveDate, t: &Thresholds) -> Totals {
    let tz = profile.zone();
    let from = as_of - Days::new(6);
    let mut totals = Totals::default();
    for r in runs {
        let d = local_date(r, tz);
        if d >= from && d <= as_of {
            totals.add(r, profile, t);
        }
    }
    totals
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;
    use uuid::Uuid;

    fn run(start: &str, km: f64) -> Run {
        Run::new(
            Uuid::new_v4(),
            DateTime::parse_from_rfc3339(start).unwrap(),
            km * 1000.0,
            km * 360.0,
        )
    }

    fn berlin() -> Profile {
        Profile {
            time_zone: "Europe/Berlin".into(),
            ..Profile::default()
        }
    }

    #[test]
    fn groups_by_iso_week_in_the_profile_zone_with_empty_weeks() {
        let runs = [
            run("2026-01-05T07:00:00+01:00", 5.0),  // Monday, 2026-W02
            run("2026-01-11T23:30:00+01:00", 10.0), // Sunday night, still W02 in Berlin
            // 23:30 UTC on Sunday 18th is already Monday 19th in Berlin: W04.
            run("2026-01-18T23:30:00+00:00", 8.0),
            run("2026-02-02T07:00:00+01:00", 6.0), // W06, after two empty weeks
        ];
        let weeks = weekly_totals(&runs, &berlin(), None, &Thresholds::default());
        let got: Vec<(&str, f64, u32)> = weeks
            .iter()
            .map(|w| (w.week.as_str(), w.totals.distance_m / 1000.0, w.totals.runs))
            .collect();
        assert_eq!(
            got,
            [
                ("2026-W02", 15.0, 2),
                ("2026-W03", 0.0, 0),
                ("2026-W04", 8.0, 1),
                ("2026-W05", 0.0, 0),
                ("2026-W06", 6.0, 1)
            ]
        );
        assert_eq!(
            weeks[0].monday,
            NaiveDate::from_ymd_opt(2026, 1, 5).unwrap()
        );
        assert_eq!(weeks[0].totals.duration_s, 15.0 * 360.0);
        // Without RPE or HR, the load is minutes.
        assert_eq!(weeks[0].totals.load, 90.0);
    }

    #[test]
    fn week_boundaries_hold_across_the_daylight_saving_change() {
        // Europe/Berlin springs forward on Sunday 2026-03-29 at 02:00.
        let runs = [
            // Sunday 23:30 local (CEST, +02:00) is still W13.
            run("2026-03-29T23:30:00+02:00", 5.0),
            // 22:30 UTC on Sunday is 00:30 Monday CEST: W14. In winter time it would have been
            // 23:30 Sunday.
            run("2026-03-29T22:30:00+00:00", 7.0),
            run("2026-03-23T06:00:00+01:00", 3.0), // Monday W13, still CET
        ];
        let weeks = weekly_totals(&runs, &berlin(), None, &Thresholds::default());
        let got: Vec<(&str, f64)> = weeks
            .iter()
            .map(|w| (w.week.as_str(), w.totals.distance_m / 1000.0))
            .collect();
        assert_eq!(got, [("2026-W13", 8.0), ("2026-W14", 7.0)]);
    }

    #[test]
    fn extends_to_the_as_of_week_and_counts_intensity_and_hills() {
        let mut tempo = run("2026-01-06T18:00:00+01:00", 8.0);
        tempo.kind = crate::model::RunKind::Tempo;
        let mut hilly = run("2026-01-08T18:00:00+01:00", 10.0);
        hilly.elevation_gain_m = Some(250.0);
        let weeks = weekly_totals(
            &[tempo, hilly],
            &berlin(),
            NaiveDate::from_ymd_opt(2026, 1, 21),
            &Thresholds::default(),
        );
        assert_eq!(weeks.len(), 3);
        assert_eq!(weeks[0].totals.intensity_minutes, 48.0);
        assert_eq!(weeks[0].totals.hill_minutes, 60.0);
        assert_eq!(weeks[0].totals.elevation_gain_m, 250.0);
        assert_eq!(weeks[2].totals, Totals::default());
    }

    #[test]
    fn rolling_seven_days_include_today_and_six_before() {
        let runs = [
            run("2026-01-01T08:00:00+01:00", 1.0),
            run("2026-01-02T08:00:00+01:00", 2.0),
            run("2026-01-08T08:00:00+01:00", 4.0),
            run("2026-01-09T08:00:00+01:00", 8.0),
        ];
        let t = rolling_7_days(
            &runs,
            &berlin(),
            NaiveDate::from_ymd_opt(2026, 1, 8).unwrap(),
            &Thresholds::default(),
        );
        assert_eq!((t.distance_m, t.runs), (6000.0, 2));
    }

    #[test]
    fn no_runs_no_weeks() {
        assert!(weekly_totals(&[], &Profile::default(), None, &Thresholds::default()).is_empty());
    }
}
