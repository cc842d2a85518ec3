//! Acute:chronic workload ratio with exponentially weighted moving averages (Williams et al.
//! 2017): acute over 7 days (lambda 2/(7+1) = 0.25), chronic over 28 days (lambda 2/(28+1)).

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate};
use serde::Serialize;

use super::Thresholds;
use super::load::session_load;
use super::weekly::local_date;
use crate::model::{Profile, Run};

const ACUTE_LAMBDA: f64 = 2.0 / 8.0;
const CHRONIC_LAMBDA: f64 = 2.0 / 29.0;

/// Where a ratio falls (Gabbett 2016; zones from team sports, and debated).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AcwrZone {
    /// Fewer than 21 days of history: the chronic load means nothing yet.
    BuildingBaseline,
    /// Below 0.8 (`acwr_sweet_spot_low`).
    UnderLoaded,
    /// 0.8 to 1.3 (up to `acwr_sweet_spot_high`).
    SweetSpot,
    /// Above 1.3 up to 1.5 (`acwr_danger_above`).
    Caution,
    /// Above 1.5.
    Danger,
}

impl AcwrZone {
    pub fn as_str(self) -> &'static str {
        match self {
            AcwrZone::BuildingBaseline => "building baseline",
            AcwrZone::UnderLoaded => "under-loaded",
            AcwrZone::SweetSpot => "sweet spot",
            AcwrZone::Caution => "caution",
            AcwrZone::Danger => "danger",
        }
    }
}

/// One calendar day of the series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AcwrDay {
    pub date: NaiveDate,
    /// The day's load: the sum of its sessions, 0 on rest days.
    pub load: f64,
    pub acute: f64,
    pub chronic: f64,
    /// acute / chronic; `None` while the chronic load is 0.
    pub ratio: Option<f64>,
    pub zone: AcwrZone,
}

/// The zone of a ratio on a day `days_of_history` days after the first run.
pub fn zone(ratio: Option<f64>, days_of_history: i64, t: &Thresholds) -> AcwrZone {
    match ratio {
        _ if days_of_history < t.acwr_baseline_days => AcwrZone::BuildingBaseline,
        None => AcwrZone::BuildingBaseline,
        Some(r) if r < t.acwr_sweet_spot_low => AcwrZone::UnderLoaded,
        Some(r) if r <= t.acwr_sweet_spot_high => AcwrZone::SweetSpot,
        Some(r) if r <= t.acwr_danger_above => AcwrZone::Caution,
        Some(_) => AcwrZone::Danger,
    }
}

/// Every day from the first run to `until`. Both averages are 0 on the day before the first run;
/// each day: acute = 0.25 x load + 0.75 x acute(yesterday), chronic = 2/29 x load + 27/29 x
/// chronic(yesterday).
pub fn acwr_series(
    runs: &[Run],
    profile: &Profile,
    until: NaiveDate,
    t: &Thresholds,
) -> Vec<AcwrDay> {
    let tz = profile.zone();
    let mut daily: BTreeMap<NaiveDate, f64> = BTreeMap::new();
    for r in runs {
        *daily.entry(local_date(r, tz)).or_default() += session_load(r, profile).load;
    }
    let Some(&first) = daily.keys().next() else {
        return Vec::new();
    };
    let (mut acute, mut chronic) = (0.0, 0.0);
    let mut out = Vec::new();
    let mut day = first;
    while day <= until {
        let load = daily.get(&day).copied().unwrap_or(0.0);
        acute = ACUTE_LAMBDA * load + (1.0 - ACUTE_LAMBDA) * acute;
        chronic = CHRONIC_LAMBDA * load + (1.0 - CHRONIC_LAMBDA) * chronic;
        let ratio = (chronic > 0.0).then(|| acute / chronic);
        out.push(AcwrDay {
            date: day,
            load,
            acute,
            chronic,
            ratio,
            zone: zone(ratio, (day - first).num_days(), t),
        });
        day = day + Days::new(1);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;
    use uuid::Uuid;

    fn run_on(date: &str, minutes: f64) -> Run {
        Run::new(
            Uuid::new_v4(),
            DateTime::parse_from_rfc3339(&format!("{date}T08:00:00+00:00")).unwrap(),
            10_000.0,
            minutes * 60.0,
        )
    }

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn hand_computed_values_to_three_decimals() {
        // Loads are minutes (no RPE, no HR): 60 on day 1, rest, 30 on day 3.
        let runs = [run_on("2026-01-01", 60.0), run_on("2026-01-03", 30.0)];
        let s = acwr_series(
            &runs,
            &Profile::default(),
            d("2026-01-04"),
            &Thresholds::default(),
        );
        assert_eq!(s.len(), 4);
        // Day 1: acute 0.25 x 60 = 15; chronic 2/29 x 60 = 4.138; ratio 3.625.
        assert!((s[0].acute - 15.0).abs() < 5e-4);
        assert!((s[0].chronic - 4.138).abs() < 5e-4);
        assert!((s[0].ratio.unwrap() - 3.625).abs() < 5e-4);
        // Day 2 (rest): acute 11.25; chronic 3.853; ratio 2.920.
        assert!((s[1].acute - 11.25).abs() < 5e-4);
        assert!((s[1].chronic - 3.853).abs() < 5e-4);
        assert!((s[1].ratio.unwrap() - 2.920).abs() < 5e-4);
        // Day 3: acute 0.25 x 30 + 0.75 x 11.25 = 15.9375; chronic 2/29 x 30 + 27/29 x 3.853 = 5.656.
        assert!((s[2].acute - 15.9375).abs() < 5e-4);
        assert!((s[2].chronic - 5.656).abs() < 5e-4);
        assert_eq!(s[3].load, 0.0);
        assert!(s.iter().all(|x| x.zone == AcwrZone::BuildingBaseline));
    }

    #[test]
    fn zones_appear_after_21_days() {
        // 40 minutes every day: both averages converge on 40, the ratio on 1.
        let runs: Vec<Run> = (0..30)
            .map(|i| run_on(&(d("2026-01-01") + Days::new(i)).to_string(), 40.0))
            .collect();
        let s = acwr_series(
            &runs,
            &Profile::default(),
            d("2026-01-30"),
            &Thresholds::default(),
        );
        assert_eq!(s[20].zone, AcwrZone::BuildingBaseline);
        assert_eq!(s[21].zone, zone(s[21].ratio, 21, &Thresholds::default()));
        assert_ne!(s[21].zone, AcwrZone::BuildingBaseline);
        // After 30 days of the same load the chronic EWMA still lags: ratio above 1.
        let last = s.last().unwrap();
        assert!((last.acute - 40.0).abs() < 0.01);
        assert!((last.chronic - 40.0 * (1.0 - (27.0f64 / 29.0).powi(30))).abs() < 1e-9);
        assert!(
            (last.ratio.unwrap() - 1.133).abs() < 5e-4,
            "{}",
            last.ratio.unwrap()
        );
        assert_eq!(last.zone, AcwrZone::SweetSpot);
    }

    #[test]
    fn zone_boundaries() {
        let t = Thresholds::default();
        assert_eq!(zone(Some(0.79), 30, &t), AcwrZone::UnderLoaded);
        assert_eq!(zone(Some(0.8), 30, &t), AcwrZone::SweetSpot);
        assert_eq!(zone(Some(1.3), 30, &t), AcwrZone::SweetSpot);
        assert_eq!(zone(Some(1.31), 30, &t), AcwrZone::Caution);
        assert_eq!(zone(Some(1.5), 30, &t), AcwrZone::Caution);
        assert_eq!(zone(Some(1.51), 30, &t), AcwrZone::Danger);
        assert_eq!(zone(Some(2.0), 20, &t), AcwrZone::BuildingBaseline);
    }
}
