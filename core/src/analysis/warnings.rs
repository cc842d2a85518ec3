//! The "too much, too soon" rules, shoe wear, as typed warnings. Each says why in plain words,
//! with the numbers that triggered it and, where domain.md asks, the caveat about the evidence.

use std::collections::BTreeMap;

use chrono::{Datelike, Days, NaiveDate, Weekday};
use serde::Serialize;

use super::Thresholds;
use super::acwr::{AcwrDay, AcwrZone};
use super::weekly::{WeekTotal, local_date};
use crate::model::{Profile, Run, ShoeUsage, ShoeWear, Units};
use crate::units::{format_distance, format_duration};

/// Stable names: apps and scripts match on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WarningKind {
    WeeklyIncrease,
    TwoWeekSpike,
    SingleRunSpike,
    AcwrHigh,
    AcwrDanger,
    IntensityWithoutBase,
    HillsWithoutBase,
    ShoeWearCheck,
    ShoeReplace,
    LowCadence,
}

impl WarningKind {
    pub fn as_str(self) -> &'static str {
        match self {
            WarningKind::WeeklyIncrease => "weekly_increase",
            WarningKind::TwoWeekSpike => "two_week_spike",
            WarningKind::SingleRunSpike => "single_run_spike",
            WarningKind::AcwrHigh => "acwr_high",
            WarningKind::AcwrDanger => "acwr_danger",
            WarningKind::IntensityWithoutBase => "intensity_without_base",
            WarningKind::HillsWithoutBase => "hills_without_base",
            WarningKind::ShoeWearCheck => "shoe_wear_check",
            WarningKind::ShoeReplace => "shoe_replace",
            WarningKind::LowCadence => "low_cadence",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Caution,
    High,
}

/// One warning: what, how serious, why, and the numbers behind it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Warning {
    pub kind: WarningKind,
    pub severity: Severity,
    /// What it is about: a week (`2026-W47`), a run id, a shoe id.
    pub subject: String,
    /// One line for a list.
    pub title: String,
    /// The reason in plain words with the numbers, and the caveat where one applies.
    pub explanation: String,
    /// The numbers that triggered it, by name (SI units; `_pct` for percentages).
    pub numbers: BTreeMap<String, f64>,
}

fn numbers(pairs: &[(&str, f64)]) -> BTreeMap<String, f64> {
    pairs.iter().map(|(k, v)| ((*k).to_string(), *v)).collect()
}

fn pct(new: f64, old: f64) -> f64 {
    (new / old - 1.0) * 100.0
}

/// `new` grew on `old` by more than `limit_pct`, ignoring float dust (20 km to 22 km is +10%,
/// not +10.000000000000002%).
fn grew_more_than(new: f64, old: f64, limit_pct: f64) -> bool {
    old > 0.0 && pct(new, old) > limit_pct + 1e-9
}

const TEN_PERCENT_CAVEAT: &str = "The 10% figure is a guide, not a law: a graded 10% plan did not by itself prevent injuries (Buist et al. 2008), but sudden jumps are where \"too much, too soon\" begins.";
const ACWR_CAVEAT: &str = "These zones come from team sports (Gabbett 2016) and are debated for runners (Impellizzeri et al. 2020): read them as a prompt to look at your recent weeks, not a verdict.";

/// The index of the last complete week at `as_of`: `as_of`'s own week when it is a Sunday.
fn last_complete(weeks: &[WeekTotal], as_of: NaiveDate) -> Option<usize> {
    let this_monday = super::weekly::monday_of(as_of);
    let i = weeks.iter().position(|w| w.monday == this_monday)?;
    if as_of.weekday() == Weekday::Sun {
        Some(i)
    } else {
        i.checked_sub(1)
    }
}

/// Week-over-week, two-week and single-run rules, intensity and hills without a base, and the
/// highest ACWR of `acwr_recent` (the last days: the ratio decays quickly on rest days, but a
/// peak on Sunday still matters on Wednesday).
pub fn load_warnings(
    weeks: &[WeekTotal],
    runs: &[Run],
    profile: &Profile,
    as_of: NaiveDate,
    acwr_recent: &[AcwrDay],
    t: &Thresholds,
) -> Vec<Warning> {
    let units = profile.units;
    let mut out = Vec::new();
    if let Some(l) = last_complete(weeks, as_of) {
        if l >= 1 {
            out.extend(week_over_week(&weeks[l], &weeks[l - 1], units, t, "week"));
        }
        if l >= 3 {
            out.extend(two_weeks(weeks, l, units, t));
        }
        out.extend(without_base(weeks, l, t));
        // The week in progress, if it has already outgrown the last complete one.
        if l + 1 < weeks.len() && weeks[l + 1].totals.runs > 0 {
            out.extend(week_over_week(
                &weeks[l + 1],
                &weeks[l],
                units,
                t,
                "week so far",
            ));
            out.extend(without_base(weeks, l + 1, t));
        }
    }
    out.extend(single_run_spike(runs, profile, as_of, t));
    let peak = acwr_recent
        .iter()
        .filter(|d| matches!(d.zone, AcwrZone::Caution | AcwrZone::Danger))
        .max_by(|a, b| a.ratio.unwrap_or(0.0).total_cmp(&b.ratio.unwrap_or(0.0)));
    if let Some(day) = peak {
        out.extend(acwr_warning(day, t));
    }
    out
}

fn week_over_week(
    cur: &WeekTotal,
    prev: &WeekTotal,
    units: Units,
    t: &Thresholds,
    what: &str,
) -> Option<Warning> {
    let (c, p) = (&cur.totals, &prev.totals);
    if p.distance_m < t.small_base_m {
        let step = c.distance_m - p.distance_m;
        if step <= t.small_base_step_m {
            return None;
        }
        return Some(Warning {
            kind: WarningKind::WeeklyIncrease,
            severity: Severity::Caution,
            subject: cur.week.clone(),
            title: format!(
                "{}: +{} on a small base",
                cur.week,
                format_distance(step, units)
            ),
            explanation: format!(
                "This {what} {}, the week before {}: {} more. Below {} a week, growth is judged in steps rather than percentages, and this step is more than {}. {TEN_PERCENT_CAVEAT}",
                format_distance(c.distance_m, units),
                format_distance(p.distance_m, units),
                format_distance(step, units),
                format_distance(t.small_base_m, units),
                format_distance(t.small_base_step_m, units),
            ),
            numbers: numbers(&[
                ("distance_m", c.distance_m),
                ("previous_distance_m", p.distance_m),
                ("step_m", step),
            ]),
        });
    }
    let limit = t.weekly_increase_pct;
    let mut grew = Vec::new();
    if grew_more_than(c.distance_m, p.distance_m, limit) {
        grew.push(format!(
            "distance {} against {} ({:+.0}%)",
            format_distance(c.distance_m, units),
            format_distance(p.distance_m, units),
            pct(c.distance_m, p.distance_m)
        ));
    }
    if grew_more_than(c.duration_s, p.duration_s, limit) {
        grew.push(format!(
            "time {} against {} ({:+.0}%)",
            format_duration(c.duration_s),
            format_duration(p.duration_s),
            pct(c.duration_s, p.duration_s)
        ));
    }
    if grew_more_than(f64::from(c.runs), f64::from(p.runs), limit) {
        grew.push(format!("runs {} against {}", c.runs, p.runs));
    }
    if grew.is_empty() {
        return None;
    }
    Some(Warning {
        kind: WarningKind::WeeklyIncrease,
        severity: Severity::Caution,
        subject: cur.week.clone(),
        title: format!(
            "{}: {:+.0}% distance on the week before",
            cur.week,
            pct(c.distance_m, p.distance_m)
        ),
        explanation: format!(
            "This {what} grew by more than the {}% guide: {}. {TEN_PERCENT_CAVEAT}",
            t.weekly_increase_pct,
            grew.join("; ")
        ),
        numbers: numbers(&[
            ("distance_m", c.distance_m),
            ("previous_distance_m", p.distance_m),
            ("distance_change_pct", pct(c.distance_m, p.distance_m)),
            ("duration_s", c.duration_s),
            ("previous_duration_s", p.duration_s),
            ("runs", f64::from(c.runs)),
            ("previous_runs", f64::from(p.runs)),
        ]),
    })
}

fn two_weeks(weeks: &[WeekTotal], l: usize, units: Units, t: &Thresholds) -> Option<Warning> {
    let last2 = weeks[l].totals.distance_m + weeks[l - 1].totals.distance_m;
    let prev2 = weeks[l - 2].totals.distance_m + weeks[l - 3].totals.distance_m;
    let subject = format!("{} to {}", weeks[l - 1].week, weeks[l].week);
    if prev2 < 2.0 * t.small_base_m {
        let step = last2 - prev2;
        if step <= 2.0 * t.small_base_step_m {
            return None;
        }
        return Some(Warning {
            kind: WarningKind::TwoWeekSpike,
            severity: Severity::Caution,
            subject,
            title: format!(
                "Last two weeks +{} on a small base",
                format_distance(step, units)
            ),
            explanation: format!(
                "The last two weeks: {}, the two before: {}. On a small base this is judged in steps: {} more is a big one.",
                format_distance(last2, units),
                format_distance(prev2, units),
                format_distance(step, units)
            ),
            numbers: numbers(&[
                ("distance_m", last2),
                ("previous_distance_m", prev2),
                ("step_m", step),
            ]),
        });
    }
    let change = pct(last2, prev2);
    if !grew_more_than(last2, prev2, t.two_week_increase_pct) {
        return None;
    }
    Some(Warning {
        kind: WarningKind::TwoWeekSpike,
        severity: Severity::High,
        subject,
        title: format!("Last two weeks {change:+.0}% on the two before"),
        explanation: format!(
            "The last two weeks: {}, the two before: {}: {change:+.0}%, more than {}%. In novice runners, distance-related injuries rose above a 30% increase over two weeks (Nielsen et al. 2014). Hold or step back this week.",
            format_distance(last2, units),
            format_distance(prev2, units),
            t.two_week_increase_pct
        ),
        numbers: numbers(&[
            ("distance_m", last2),
            ("previous_distance_m", prev2),
            ("change_pct", change),
        ]),
    })
}

/// Consecutive weeks with running just before week `i`.
fn base_streak(weeks: &[WeekTotal], i: usize) -> u32 {
    weeks[..i]
        .iter()
        .rev()
        .take_while(|w| w.totals.runs > 0)
        .count() as u32
}

fn without_base(weeks: &[WeekTotal], i: usize, t: &Thresholds) -> Vec<Warning> {
    let streak = base_streak(weeks, i);
    let prev = i.checked_sub(1).map(|p| &weeks[p].totals);
    let mut out = Vec::new();
    for (kind, what, cur, before) in [
        (
            WarningKind::IntensityWithoutBase,
            "speed work",
            weeks[i].totals.intensity_minutes,
            prev.map(|p| p.intensity_minutes).unwrap_or(0.0),
        ),
        (
            WarningKind::HillsWithoutBase,
            "hill work",
            weeks[i].totals.hill_minutes,
            prev.map(|p| p.hill_minutes).unwrap_or(0.0),
        ),
    ] {
        if cur <= 0.0 {
            continue;
        }
        let no_base = streak < t.base_weeks;
        let doubled = before > 0.0 && cur > 2.0 * before;
        if !(no_base || doubled) {
            continue;
        }
        let reason = if no_base {
            format!(
                "{cur:.0} minutes of {what} with only {streak} week{} of running before it (a base is {} weeks)",
                if streak == 1 { "" } else { "s" },
                t.base_weeks
            )
        } else {
            format!(
                "{what} went from {before:.0} to {cur:.0} minutes, more than double the week before"
            )
        };
        out.push(Warning {
            kind,
            severity: Severity::Caution,
            subject: weeks[i].week.clone(),
            title: format!("{}: {what} added without a base", weeks[i].week),
            explanation: format!(
                "{}: {reason}. Speed work and hill repeats bring high-impact forces; added before the body has a base, they are a common start of overuse injuries.",
                weeks[i].week
            ),
            numbers: numbers(&[
                ("minutes", cur),
                ("previous_minutes", before),
                ("base_weeks", f64::from(streak)),
            ]),
        });
    }
    out
}

fn single_run_spike(
    runs: &[Run],
    profile: &Profile,
    as_of: NaiveDate,
    t: &Thresholds,
) -> Option<Warning> {
    let tz = profile.zone();
    let latest = runs
        .iter()
        .filter(|r| {
            let d = local_date(r, tz);
            d <= as_of && d > as_of - Days::new(7)
        })
        .max_by_key(|r| r.start)?;
    let day = local_date(latest, tz);
    let longest = runs
        .iter()
        .filter(|r| {
            let d = local_date(r, tz);
            d < day && d >= day - Days::new(30)
        })
        .map(|r| r.distance_m)
        .fold(0.0, f64::max);
    if !grew_more_than(latest.distance_m, longest, t.single_run_spike_pct) {
        return None;
    }
    let change = pct(latest.distance_m, longest);
    let units = profile.units;
    Some(Warning {
        kind: WarningKind::SingleRunSpike,
        severity: if change > 100.0 {
            Severity::High
        } else {
            Severity::Caution
        },
        subject: latest.id.to_string(),
        title: format!("{day}: {change:+.0}% on your longest run of the 30 days before"),
        explanation: format!(
            "The run on {day} was {}, your longest in the 30 days before it {}: {change:+.0}%. In a cohort of 5,205 runners, a single run longer than the recent longest predicted injury better than weekly ratios (about 1.6 times the risk for 10-30% longer, 2.3 times for more than twice as long).",
            format_distance(latest.distance_m, units),
            format_distance(longest, units)
        ),
        numbers: numbers(&[
            ("distance_m", latest.distance_m),
            ("longest_previous_30_days_m", longest),
            ("change_pct", change),
        ]),
    })
}

fn acwr_warning(day: &AcwrDay, t: &Thresholds) -> Option<Warning> {
    let ratio = day.ratio?;
    let (kind, severity, zone_text) = match day.zone {
        AcwrZone::Caution => (
            WarningKind::AcwrHigh,
            Severity::Caution,
            format!(
                "{}-{} (caution)",
                t.acwr_sweet_spot_high, t.acwr_danger_above
            ),
        ),
        AcwrZone::Danger => (
            WarningKind::AcwrDanger,
            Severity::High,
            format!("above {} (danger)", t.acwr_danger_above),
        ),
        _ => return None,
    };
    Some(Warning {
        kind,
        severity,
        subject: day.date.to_string(),
        title: format!("Acute:chronic load {ratio:.2}"),
        explanation: format!(
            "On {}, your last week's load (acute {:.0}) is {ratio:.2} times your four-week load (chronic {:.0}), in the zone {zone_text}. {ACWR_CAVEAT}",
            day.date, day.acute, day.chronic
        ),
        numbers: numbers(&[
            ("ratio", ratio),
            ("acute", day.acute),
            ("chronic", day.chronic),
        ]),
    })
}

/// Wear-check and replace warnings for active shoes.
pub fn shoe_warnings(shoes: &[ShoeUsage], units: Units) -> Vec<Warning> {
    shoes
        .iter()
        .filter(|s| !s.shoe.retired)
        .filter_map(|s| {
            let (kind, severity, limit, what) = match s.wear() {
                ShoeWear::Replace => (WarningKind::ShoeReplace, Severity::High, s.shoe.replace_at_m, "replace"),
                ShoeWear::CheckWear => (WarningKind::ShoeWearCheck, Severity::Caution, s.shoe.wear_at_m, "check for wear"),
                ShoeWear::Ok | ShoeWear::Retired => return None,
            };
            Some(Warning {
                kind,
                severity,
                subject: s.shoe.id.to_string(),
                title: format!("{}: {} ({})", s.shoe.name, what, format_distance(s.distance_m, units)),
                explanation: format!(
                    "{} has {} on it, past its {} mark of {}. Midsole foam loses its resilience between about 300 and 500 miles (480-800 km), and worn cushioning passes more impact to knees and shins.",
                    s.shoe.name,
                    format_distance(s.distance_m, units),
                    what,
                    format_distance(limit, units)
                ),
                numbers: numbers(&[("distance_m", s.distance_m), ("threshold_m", limit)]),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests;
