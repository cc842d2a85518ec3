//! `strideguard report`: the analysis as text, JSON or an HTML page with charts.

use anyhow::{Context, Result};
use chrono::{Datelike, NaiveDate};
use clap::Args;
use strideguard_core::Store;
use strideguard_core::analysis::cadence::TargetMode;
use strideguard_core::analysis::{LoadMethod, Report, Severity};
use strideguard_core::ranges::{DEFAULT_REPORT_WEEKS, REPORT_WEEKS};
use strideguard_core::units::{format_distance, format_duration};

use crate::output::{OutputArgs, print_json, short_id, table};
use crate::values;

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// How many weeks the tables and charts cover (1-520).
    #[arg(long, default_value_t = DEFAULT_REPORT_WEEKS, value_parser = values::in_range(REPORT_WEEKS))]
    pub weeks: u16,
    /// The day to report on (default: today in the profile's time zone).
    #[arg(long, value_parser = values::day)]
    pub as_of: Option<NaiveDate>,
    #[command(flatten)]
    pub out: OutputArgs,
    /// Also write a self-contained HTML report with charts to FILE.
    #[arg(long, value_name = "FILE")]
    pub html: Option<std::path::PathBuf>,
}

pub fn run(store: &Store, a: &ReportArgs) -> Result<()> {
    let report = load(store, a.as_of, a.weeks)?;
    if let Some(path) = &a.html {
        std::fs::write(path, strideguard_core::html::page(&report))
            .with_context(|| format!("cannot write the HTML report to {}", path.display()))?;
        if !a.out.json {
            println!("HTML report written to {}", path.display());
        }
    }
    if a.out.json {
        return print_json(&report);
    }
    print_text(&report);
    Ok(())
}

/// The report as of `as_of` (default: today in the profile's time zone, by the store's clock).
pub fn load(store: &Store, as_of: Option<NaiveDate>, weeks: u16) -> Result<Report> {
    let profile = store.profile()?;
    let as_of = match as_of {
        Some(d) => d,
        None => store.today()?,
    };
    Ok(store.report(as_of, usize::from(weeks), &profile.thresholds)?)
}

pub fn print_text(r: &Report) {
    let u = r.units;
    let week_line = |label: &str, w: &strideguard_core::analysis::WeekTotal| {
        println!(
            "{label:<10} {}: {} runs, {}, {}, load {:.0}",
            w.week,
            w.totals.runs,
            format_distance(w.totals.distance_m, u),
            format_duration(w.totals.duration_s),
            w.totals.load
        );
    };
    println!("Report as of {} ({})", r.as_of, r.time_zone);
    println!();
    if r.acwr.is_none() {
        println!(
            "No runs up to {} yet. Add one with `strideguard run add` or bring your history in with `strideguard import FOLDER`.",
            r.as_of
        );
        return;
    }
    week_line("This week", &r.this_week);
    week_line("Last week", &r.last_week);
    println!(
        "{:<10} {} runs, {}, load {:.0}",
        "Last 7 d",
        r.rolling_7_days.runs,
        format_distance(r.rolling_7_days.distance_m, u),
        r.rolling_7_days.load
    );
    if let Some(a) = &r.acwr {
        let methods: Vec<String> = r
            .load_methods
            .iter()
            .map(|(m, n)| {
                let name = match m {
                    LoadMethod::Rpe => "RPE x minutes",
                    LoadMethod::HrTrimp => "heart-rate TRIMP",
                    LoadMethod::Minutes => "minutes",
                };
                format!("{name} for {n}")
            })
            .collect();
        println!(
            "ACWR       {} ({}): acute {:.0}, chronic {:.0}. Session load from {}.",
            a.ratio
                .map(|x| format!("{x:.2}"))
                .unwrap_or_else(|| "-".into()),
            a.zone.as_str(),
            a.acute,
            a.chronic,
            methods.join(", ")
        );
    }
    println!();
    if r.warnings.is_empty() {
        println!("No warnings.");
    } else {
        println!("Warnings ({})", r.warnings.len());
        for w in &r.warnings {
            let sev = match w.severity {
                Severity::High => "HIGH",
                Severity::Caution => "caution",
            };
            println!("  [{sev}] {} ({})", w.title, w.kind.as_str());
            println!("      {}", w.explanation);
        }
    }
    println!();
    println!("Weeks");
    let mut t = table(
        &[
            "Week",
            "Runs",
            "Distance",
            "Time",
            "Load",
            "Speed min",
            "Hill min",
            "Change",
        ],
        &[1, 2, 3, 4, 5, 6, 7],
    );
    let mut prev: Option<f64> = None;
    let in_progress = r.as_of.weekday() != chrono::Weekday::Sun;
    for (i, w) in r.weeks.iter().enumerate() {
        let x = &w.totals;
        let so_far = in_progress && i + 1 == r.weeks.len();
        t.add_row(vec![
            w.week.clone(),
            x.runs.to_string(),
            format_distance(x.distance_m, u),
            format_duration(x.duration_s),
            format!("{:.0}", x.load),
            format!("{:.0}", x.intensity_minutes),
            format!("{:.0}", x.hill_minutes),
            if so_far {
                "so far".into()
            } else {
                prev.filter(|p| *p > 0.0)
                    .map(|p| format!("{:+.0}%", (x.distance_m / p - 1.0) * 100.0))
                    .unwrap_or_else(|| "-".into())
            },
        ]);
        prev = Some(x.distance_m);
    }
    println!("{t}");
    if !r.shoes.is_empty() {
        println!();
        println!("Shoes");
        let mut t = table(
            &[
                "ID",
                "Name",
                "Distance",
                "Wear check",
                "Replace at",
                "Status",
            ],
            &[2, 3, 4],
        );
        for s in &r.shoes {
            t.add_row(vec![
                short_id(s.usage.shoe.id),
                s.usage.shoe.name.clone(),
                format_distance(s.usage.distance_m, u),
                format_distance(s.usage.shoe.wear_at_m, u),
                format_distance(s.usage.shoe.replace_at_m, u),
                s.status.as_str().replace('_', " "),
            ]);
        }
        println!("{t}");
    }
    println!();
    let c = &r.cadence;
    match (c.target_mode, c.target_spm) {
        (TargetMode::Fixed, Some(spm)) => println!("Cadence    target {spm:.0} steps/min (fixed)"),
        (_, Some(spm)) => println!(
            "Cadence    target {spm:.0} steps/min (your easy-pace baseline + {}%)",
            c.increase_pct.unwrap_or(0.0)
        ),
        _ => println!(
            "Cadence    no baseline yet: it needs easy or long runs with cadence before the last two weeks"
        ),
    }
    let recent: Vec<_> = c.runs.iter().filter(|x| x.recent).collect();
    if !recent.is_empty() {
        let mut t = table(
            &[
                "Date",
                "Cadence",
                "Speed m/s",
                "Step m",
                "Baseline",
                "vs baseline",
            ],
            &[1, 2, 3, 4, 5],
        );
        for x in recent {
            t.add_row(vec![
                x.date.to_string(),
                format!("{:.0}", x.avg_cadence_spm),
                format!("{:.2}", x.avg_speed_mps),
                format!("{:.2}", x.step_length_m),
                x.baseline_spm
                    .map(|b| format!("{b:.0}"))
                    .unwrap_or_else(|| "-".into()),
                x.below_baseline_pct
                    .map(|p| format!("{:+.1}%", -p))
                    .unwrap_or_else(|| "-".into()),
            ]);
        }
        println!("{t}");
    }
}
