//! Totals per ISO week in the runner's time zone.

use chrono::{Datelike, Days, NaiveDate};
use chrono_tz::Tz;
use serde::Serialize;

use crate::model::Run;

/// What one ISO week added up to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeekTotal {
    /// ISO week label, e.g. `2026-W07`.
    pub week: String,
    /// The Monday that starts the week (local date).
    pub monday: NaiveDate,
    pub distance_m: f64,
    pub duration_s: f64,
    pub runs: u32,
    pub elevation_gain_m: f64,
}

/// Sums runs per ISO week in `tz`, from the first run's week to the last's, including empty
/// weeks in between (a rest week is part of the load history, not a gap in it).
pub fn weekly_totals(runs: &[Run], tz: Tz) -> Vec<WeekTotal> {
    let monday_of = |r: &Run| {
        let d = r.start.with_timezone(&tz).date_naive();
        d - Days::new(u64::from(d.weekday().num_days_from_monday()))
    };
    let Some(first) = runs.iter().map(monday_of).min() else {
        return Vec::new();
    };
    let last = runs.iter().map(monday_of).max().unwrap_or(first);
    let n_weeks = ((last - first).num_days() / 7 + 1) as usize;
    let mut weeks: Vec<WeekTotal> = (0..n_weeks)
        .map(|i| {
            let monday = first + Days::new(7 * i as u64);
            let iso = monday.iso_week();
            WeekTotal {
                week: format!("{}-W{:02}", iso.year(), iso.week()),
                monday,
                distance_m: 0.0,
                duration_s: 0.0,
                runs: 0,
                elevation_gain_m: 0.0,
            }
        })
        .collect();
    for r in runs {
        let w = &mut weeks[((monday_of(r) - first).num_days() / 7) as usize];
        w.distance_m += r.distance_m;
        w.duration_s += r.duration_s;
        w.runs += 1;
        w.elevation_gain_m += r.elevation_gain_m.unwrap_or(0.0);
    }
    weeks
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

    #[test]
    fn groups_by_iso_week_in_the_profile_zone_with_empty_weeks() {
        let runs = [
            run("2026-01-05T07:00:00+01:00", 5.0),  // Monday, 2026-W02
            run("2026-01-11T23:30:00+01:00", 10.0), // Sunday night, still W02 in Berlin
            // 23:30 UTC on Sunday 18th is already Monday 19th in Berlin: W04.
            run("2026-01-18T23:30:00+00:00", 8.0),
            run("2026-02-02T07:00:00+01:00", 6.0), // W06, after two empty weeks
        ];
        let weeks = weekly_totals(&runs, "Europe/Berlin".parse().unwrap());
        let got: Vec<(&str, f64, u32)> = weeks
            .iter()
            .map(|w| (w.week.as_str(), w.distance_m / 1000.0, w.runs))
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
        assert_eq!(weeks[0].duration_s, 15.0 * 360.0);
    }

    #[test]
    fn no_runs_no_weeks() {
        assert!(weekly_totals(&[], chrono_tz::UTC).is_empty());
    }
}
