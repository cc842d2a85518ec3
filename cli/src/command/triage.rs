//! `strideguard triage`: the latest episode of the pain log, or an answers file without
//! logging anything.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use serde::Serialize;
use strideguard_core::Store;
use strideguard_core::plan::PlanFor;
use strideguard_core::triage::{self, Answers, Triage, Urgency};
use strideguard_core::units::parse_time;

use crate::output::{OutputArgs, print_json};

#[derive(Debug, Args)]
pub struct TriageArgs {
    /// Check these answers (JSON, schema in the README) without logging them.
    #[arg(long, value_name = "FILE.json")]
    pub answers: Option<PathBuf>,
    /// The time to judge at: RFC 3339 or YYYY-MM-DD[THH:MM] in the profile's time zone
    /// (default now).
    #[arg(long)]
    pub now: Option<String>,
    #[command(flatten)]
    pub out: OutputArgs,
}

#[derive(Serialize)]
struct TriageJson<'a> {
    #[serde(flatten)]
    triage: &'a Triage,
    /// The answers judged (for the latest episode: its last entry, with `improving` filled in).
    answers: &'a Answers,
    /// How many log entries the episode has (1 for an answers file).
    episode_entries: usize,
    /// The plan that fits, to follow with `strideguard plan show`.
    plan: Option<&'static str>,
}

pub fn run(db: &Path, a: &TriageArgs) -> Result<()> {
    let Some(file) = &a.answers else {
        let mut store = crate::open_or_create(db)?;
        let now = match &a.now {
            Some(s) => parse_time(s, store.profile()?.zone())?,
            None => store.now_local()?,
        };
        let Some(t) = store.triage_log(now)? else {
            bail!(
                "the pain log is empty: log a pain with `strideguard pain log`, or check answers with `triage --answers FILE.json`"
            );
        };
        if a.out.json {
            return print_json(&TriageJson {
                triage: &t.triage,
                answers: &t.answers,
                episode_entries: t.episode_entries,
                plan: t.plan.map(|p| p.as_str()),
            });
        }
        print_triage(&t.triage, t.plan, true);
        return Ok(());
    };
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let answers = Answers::from_json(&text)
        .with_context(|| format!("{} is not a valid answers file", file.display()))?;
    // Stateless: the history is read when there is one, nothing is written.
    let (result, plan_for) = if db.exists() {
        let store = Store::open_with_clock(db, crate::clock()?)?;
        let now = match &a.now {
            Some(s) => parse_time(s, store.profile()?.zone())?,
            None => store.now_local()?,
        };
        let result = store.triage_answers(&answers, now)?;
        let plan = result.plan();
        (result, plan)
    } else {
        let now = match &a.now {
            Some(s) => parse_time(s, chrono_tz::UTC)?,
            None => chrono::DateTime::from_timestamp_millis(crate::clock()?.now_ms())
                .unwrap_or_default()
                .fixed_offset(),
        };
        let result = triage::triage(&answers, now, &[]);
        let plan = result.plan();
        (result, plan)
    };
    if a.out.json {
        return print_json(&TriageJson {
            triage: &result,
            answers: &answers,
            episode_entries: 1,
            plan: plan_for.map(|p| p.as_str()),
        });
    }
    print_triage(&result, plan_for, false);
    Ok(())
}

fn print_triage(r: &Triage, plan_for: Option<PlanFor>, stored: bool) {
    let headline = match r.urgency {
        Urgency::SeeProfessionalNow => "SEE A PROFESSIONAL NOW",
        Urgency::BookPhysio => "Book a physiotherapist or sports medicine doctor",
        Urgency::SelfCare => "Self-care",
    };
    println!("{headline} ({})", r.urgency.as_str());
    println!("{}", r.reason);
    if !r.patterns.is_empty() {
        println!();
        println!("What it may be");
        for p in &r.patterns {
            let mark = if Some(p.id) == r.likely {
                "likely"
            } else {
                "possible"
            };
            println!(
                "  {} [{}] ({mark}, score {})",
                p.name,
                p.id.as_str(),
                p.score
            );
            println!("    fits: {}", p.fits.join("; "));
            if !p.against.is_empty() {
                println!("    against: {}", p.against.join("; "));
            }
        }
    }
    println!();
    println!("What to do now");
    for c in &r.immediate_care {
        println!("  - {c}");
    }
    if !r.your_data.is_empty() {
        println!();
        println!("What your training shows");
        for n in &r.your_data {
            println!("  - {}", n.text);
        }
    }
    if let Some(p) = plan_for {
        println!();
        println!(
            "Plan: {} exercises{}; see `strideguard plan show`.",
            p.as_str().replace('_', " "),
            if stored {
                " (now your active plan)"
            } else {
                ""
            }
        );
    }
    println!();
    println!("{}", r.disclaimer);
}
