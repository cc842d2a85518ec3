//! `strideguard plan ...`: the current strength and mobility plan, and ticking exercises off.

use anyhow::Result;
use chrono::NaiveDate;
use clap::Subcommand;
use strideguard_core::Store;

use crate::output::{OutputArgs, print_json, table};
use crate::values;

#[derive(Debug, Subcommand)]
pub enum PlanCommand {
    /// The active plan, with today's ticks and the return-to-run rule.
    Show {
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Tick an exercise off for today (or --date).
    Done {
        /// The exercise id, as `plan show` lists it (e.g. eccentric_heel_drops).
        exercise: String,
        /// The day it was done (default today).
        #[arg(long, value_parser = values::day)]
        date: Option<NaiveDate>,
    },
}

pub fn run(store: &mut Store, cmd: PlanCommand) -> Result<()> {
    match cmd {
        PlanCommand::Done { exercise, date } => {
            let tick = store.tick_plan_exercise(&exercise, date)?;
            if tick.newly_done {
                println!("Done: {} on {}.", tick.exercise.name, tick.day);
            } else {
                println!(
                    "{} was already ticked off on {}.",
                    tick.exercise.name, tick.day
                );
            }
            Ok(())
        }
        PlanCommand::Show { out } => {
            let plan = store.plan_today()?;
            if out.json {
                return print_json(&plan);
            }
            let zone = store.profile()?.zone();
            println!(
                "Plan: {} (since {})",
                plan.plan_for.as_str().replace('_', " "),
                plan.started.with_timezone(&zone).format("%Y-%m-%d")
            );
            let mut t = table(
                &[
                    "Exercise",
                    "Id",
                    "Dose",
                    "Days/week",
                    "Target",
                    "Today",
                    "Last 7 days",
                ],
                &[3, 6],
            );
            for r in &plan.exercises {
                let e = r.exercise;
                let dose = match (e.reps, e.hold_s) {
                    (Some(reps), _) => format!("{} x {reps}", e.sets),
                    (None, Some(s)) => format!("{} x {s} s", e.sets),
                    _ => format!("{} sets", e.sets),
                };
                t.add_row(vec![
                    e.name.to_string(),
                    e.id.to_string(),
                    dose,
                    e.days_per_week.to_string(),
                    e.target.to_string(),
                    if r.done_today {
                        "done".into()
                    } else {
                        "-".into()
                    },
                    format!("{}/{}", r.done_last_7_days, e.days_per_week),
                ]);
            }
            println!("{t}");
            for r in &plan.exercises {
                println!("  {}: {}", r.exercise.name, r.exercise.cue);
            }
            println!();
            println!("{}", plan.return_to_run);
            println!();
            println!("{}", plan.disclaimer);
            Ok(())
        }
    }
}
