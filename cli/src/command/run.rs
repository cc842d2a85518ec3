//! `strideguard run ...`: add, list, show, edit, export and delete runs.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use strideguard_core::Store;
use strideguard_core::export::ExportFormat;
use strideguard_core::model::{Run, RunKind};
use strideguard_core::ranges::{RPE, RUN_CADENCE_SPM, RUN_HR_BPM};
use strideguard_core::store::{RunEdit, ShoeChoice};
use strideguard_core::units::{
    format_distance, format_duration, format_pace, parse_local_datetime,
};
use uuid::Uuid;

use crate::output::{self, OutputArgs, RunJson, opt, print_json, print_pairs, runs_table};
use crate::values;

#[derive(Debug, Subcommand)]
pub enum RunCommand {
    /// Record a run by hand.
    Add(RunAddArgs),
    /// List runs, oldest first.
    List {
        #[command(flatten)]
        out: OutputArgs,
        /// Only the most recent N runs.
        #[arg(long, value_name = "N")]
        limit: Option<u64>,
    },
    /// Show one run.
    Show {
        /// Run id, or a unique prefix of it (4+ characters).
        id: String,
        #[command(flatten)]
        out: OutputArgs,
        /// Include the sample stream (with --json: a `samples` array).
        #[arg(long)]
        samples: bool,
    },
    /// Change a run's kind, RPE or notes.
    Edit(RunEditArgs),
    /// Write a run as a FIT, GPX, TCX or CSV file (for another app, a coach, a backup).
    Export {
        /// Run id, or a unique prefix of it (4+ characters).
        id: String,
        /// fit, gpx, tcx or csv (the samples).
        #[arg(long, value_parser = format_arg)]
        format: ExportFormat,
        /// Where to write it (default: <start>-<kind>.<format> in the current folder).
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Delete a run and its samples.
    Delete {
        /// Run id, or a unique prefix of it (4+ characters).
        id: String,
    },
}

fn format_arg(s: &str) -> Result<ExportFormat, String> {
    ExportFormat::from_name(s).ok_or_else(|| format!("'{s}' is not fit, gpx, tcx or csv"))
}

#[derive(Debug, Args)]
pub struct RunAddArgs {
    /// Start date, local to the profile's time zone: YYYY-MM-DD or YYYY-MM-DDTHH:MM
    /// (a date alone means 12:00).
    #[arg(long)]
    pub date: String,
    /// Distance with its unit: 10km, 6.2mi or 10000m.
    #[arg(long, value_parser = values::distance, allow_hyphen_values = true)]
    pub distance: f64,
    /// Elapsed time: HH:MM:SS or MM:SS.
    #[arg(long, value_parser = values::duration)]
    pub duration: f64,
    /// easy, long, tempo, interval, hills, race or unknown.
    #[arg(long, default_value = "unknown", value_parser = values::kind)]
    pub kind: RunKind,
    /// Session rating of perceived exertion, 0 (rest) to 10 (maximal).
    #[arg(long, value_parser = values::in_range(RPE))]
    pub rpe: Option<u8>,
    /// Shoe id or name (default: the default shoe).
    #[arg(long)]
    pub shoe: Option<String>,
    /// Free text.
    #[arg(long)]
    pub notes: Option<String>,
    /// Average heart rate in bpm.
    #[arg(long, value_parser = values::in_range(RUN_HR_BPM))]
    pub avg_hr: Option<u8>,
    /// Average cadence in steps per minute (both feet).
    #[arg(long, value_parser = values::in_range(RUN_CADENCE_SPM))]
    pub cadence: Option<u16>,
    /// Elevation gain, e.g. 120m.
    #[arg(long, value_parser = values::distance, allow_hyphen_values = true)]
    pub elevation_gain: Option<f64>,
    #[command(flatten)]
    pub out: OutputArgs,
}

#[derive(Debug, Args)]
pub struct RunEditArgs {
    /// Run id, or a unique prefix of it (4+ characters).
    pub id: String,
    /// easy, long, tempo, interval, hills, race or unknown.
    #[arg(long, value_parser = values::kind)]
    pub kind: Option<RunKind>,
    /// Session rating of perceived exertion, 0 (rest) to 10 (maximal).
    #[arg(long, value_parser = values::in_range(RPE), conflicts_with = "no_rpe")]
    pub rpe: Option<u8>,
    /// Remove the RPE.
    #[arg(long)]
    pub no_rpe: bool,
    /// Replace the notes (an empty string removes them).
    #[arg(long)]
    pub notes: Option<String>,
    #[command(flatten)]
    pub out: OutputArgs,
}

pub fn run(store: &mut Store, cmd: RunCommand) -> Result<()> {
    match cmd {
        RunCommand::Add(a) => add(store, a),
        RunCommand::List { out, limit } => list(store, out, limit),
        RunCommand::Show { id, out, samples } => show(store, &id, out, samples),
        RunCommand::Edit(a) => edit(store, a),
        RunCommand::Export { id, format, output } => {
            let run = store.find_run(&id)?;
            let bytes = store.export_run(run.id, format)?;
            let path = output.unwrap_or_else(|| {
                PathBuf::from(format!(
                    "{}-{}.{}",
                    run.start.format("%Y-%m-%d-%H%M"),
                    run.kind,
                    format.extension()
                ))
            });
            std::fs::write(&path, &bytes)
                .with_context(|| format!("cannot write {}", path.display()))?;
            println!(
                "Wrote run {} ({}) as {} to {} ({} bytes).",
                output::short_id(run.id),
                run.start.format("%Y-%m-%d %H:%M"),
                format.name(),
                path.display(),
                bytes.len()
            );
            Ok(())
        }
        RunCommand::Delete { id } => {
            let run = store.find_run(&id)?;
            store.delete_run(run.id)?;
            let units = store.profile()?.units;
            println!(
                "Deleted run {} ({}, {}).",
                run.id,
                run.start.format("%Y-%m-%d %H:%M"),
                format_distance(run.distance_m, units)
            );
            Ok(())
        }
    }
}

fn edit(store: &mut Store, a: RunEditArgs) -> Result<()> {
    let run = store.find_run(&a.id)?;
    let edit = RunEdit {
        kind: a.kind,
        rpe: if a.no_rpe {
            Some(None)
        } else {
            a.rpe.map(Some)
        },
        notes: a.notes.map(|n| Some(n).filter(|n| !n.trim().is_empty())),
    };
    let run = store.edit_run(run.id, &edit)?;
    if a.out.json {
        let samples = store.samples(run.id)?.len() as u64;
        return print_json(&RunJson {
            run: &run,
            sample_count: samples,
            samples: None,
        });
    }
    println!(
        "Run {} ({}): {}, RPE {}, notes {}.",
        run.id,
        run.start.format("%Y-%m-%d %H:%M"),
        run.kind,
        opt(run.rpe),
        opt(run.notes.as_deref())
    );
    Ok(())
}

fn add(store: &mut Store, a: RunAddArgs) -> Result<()> {
    let profile = store.profile()?;
    let start = parse_local_datetime(&a.date, profile.zone())?;
    let shoe = match &a.shoe {
        Some(key) => ShoeChoice::Shoe(store.find_shoe(key)?.id),
        None => ShoeChoice::Default,
    };
    let mut run = Run::new(Uuid::new_v4(), start, a.distance, a.duration);
    run.kind = a.kind;
    run.rpe = a.rpe;
    run.notes = a.notes.filter(|n| !n.trim().is_empty());
    run.avg_hr_bpm = a.avg_hr.map(f64::from);
    run.avg_cadence_spm = a.cadence.map(f64::from);
    run.elevation_gain_m = a.elevation_gain;
    let run = store.add_manual_run(&run, shoe)?;
    if a.out.json {
        return print_json(&RunJson {
            run: &run,
            sample_count: 0,
            samples: None,
        });
    }
    let shoe_name = run
        .shoe_id
        .map(|id| store.shoe(id))
        .transpose()?
        .flatten()
        .map(|s| format!(", shoe {}", s.name))
        .unwrap_or_default();
    println!(
        "Added run {} on {}: {} in {} ({}){shoe_name}.",
        run.id,
        run.start.format("%Y-%m-%d %H:%M"),
        format_distance(run.distance_m, profile.units),
        format_duration(run.duration_s),
        format_pace(run.distance_m, run.duration_s, profile.units),
    );
    Ok(())
}

fn list(store: &Store, out: OutputArgs, limit: Option<u64>) -> Result<()> {
    let runs = match limit {
        // The most recent N, shown oldest first like the whole list.
        Some(n) => {
            let mut r = store.runs_page(0, n)?;
            r.reverse();
            r
        }
        None => store.runs()?,
    };
    let counts = store.sample_counts()?;
    if out.json {
        let items: Vec<RunJson> = runs
            .iter()
            .map(|r| RunJson {
                run: r,
                sample_count: counts.get(&r.id).copied().unwrap_or(0),
                samples: None,
            })
            .collect();
        return print_json(&items);
    }
    if runs.is_empty() {
        println!(
            "No runs yet. Add one with `strideguard run add --date 2026-03-14 --distance 10km --duration 55:00`."
        );
        return Ok(());
    }
    let units = store.profile()?.units;
    println!("{}", runs_table(&runs, units, &shoe_names(store)?, &counts));
    let total: f64 = runs.iter().map(|r| r.distance_m).sum();
    println!("{} runs, {}", runs.len(), format_distance(total, units));
    Ok(())
}

fn show(store: &Store, key: &str, out: OutputArgs, with_samples: bool) -> Result<()> {
    let run = store.find_run(key)?;
    let samples = store.samples(run.id)?;
    if out.json {
        return print_json(&RunJson {
            run: &run,
            sample_count: samples.len() as u64,
            samples: with_samples.then_some(samples.as_slice()),
        });
    }
    let units = store.profile()?.units;
    let names = shoe_names(store)?;
    let m = |v: Option<f64>| opt(v.map(|v| format!("{v:.0} m")));
    let mut pairs: Vec<(String, String)> = vec![
        ("ID".into(), run.id.to_string()),
        ("Start".into(), run.start.to_rfc3339()),
        ("Kind".into(), run.kind.to_string()),
        ("Distance".into(), format_distance(run.distance_m, units)),
        ("Duration".into(), format_duration(run.duration_s)),
        (
            "Moving time".into(),
            opt(run.moving_time_s.map(format_duration)),
        ),
        (
            "Pace".into(),
            format_pace(
                run.distance_m,
                run.moving_time_s.unwrap_or(run.duration_s),
                units,
            ),
        ),
        ("Elevation gain".into(), m(run.elevation_gain_m)),
        ("Elevation loss".into(), m(run.elevation_loss_m)),
        (
            "Average HR".into(),
            opt(run.avg_hr_bpm.map(|h| format!("{h:.0} bpm"))),
        ),
        (
            "Max HR".into(),
            opt(run.max_hr_bpm.map(|h| format!("{h:.0} bpm"))),
        ),
        (
            "Cadence".into(),
            opt(run.avg_cadence_spm.map(|c| format!("{c:.1} steps/min"))),
        ),
    ];
    let dynamics = [
        ("Power", run.avg_power_w.map(|w| format!("{w:.0} W"))),
        (
            "Stance time",
            run.avg_stance_time_s
                .map(|s| format!("{:.0} ms", s * 1000.0)),
        ),
        (
            "Stance balance",
            run.avg_stance_balance_left_pct
                .map(|l| format!("{l:.1}% L / {:.1}% R", 100.0 - l)),
        ),
        (
            "Vertical oscillation",
            run.avg_vertical_oscillation_m
                .map(|m| format!("{:.1} cm", m * 100.0)),
        ),
        (
            "Vertical ratio",
            run.avg_vertical_ratio_pct.map(|r| format!("{r:.1}%")),
        ),
        (
            "Step length",
            run.avg_step_length_m.map(|m| format!("{m:.2} m")),
        ),
    ];
    // Most runs have no running dynamics: the rows appear only for those that do.
    pairs.extend(
        dynamics
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k.to_string(), v))),
    );
    pairs.extend([
        ("RPE".into(), opt(run.rpe)),
        (
            "Shoe".into(),
            opt(run
                .shoe_id
                .map(|s| names.get(&s).cloned().unwrap_or_else(|| s.to_string()))),
        ),
        ("Notes".into(), opt(run.notes.clone())),
        ("Source".into(), run.source.to_string()),
        ("Samples".into(), samples.len().to_string()),
    ]);
    print_pairs(&pairs);
    if with_samples && !samples.is_empty() {
        // Power is a column only for runs that have it.
        let power = samples.iter().any(|s| s.power_w.is_some());
        let mut headers = vec![
            "t",
            "Distance",
            "Speed m/s",
            "HR",
            "Cadence",
            "Stride m",
            "Alt m",
            "Lat",
            "Lon",
        ];
        if power {
            headers.push("Power W");
        }
        let right: Vec<usize> = (0..headers.len()).collect();
        let mut t = output::table(&headers, &right);
        let f = |v: Option<f64>, p: usize| opt(v.map(|v| format!("{v:.p$}")));
        for s in &samples {
            let mut row = vec![
                format_duration(s.t_s),
                opt(s.distance_m.map(|d| format_distance(d, units))),
                f(s.speed_mps, 2),
                opt(s.hr_bpm),
                f(s.cadence_spm, 1),
                f(s.stride_m, 2),
                f(s.altitude_m, 1),
                f(s.lat_deg, 6),
                f(s.lon_deg, 6),
            ];
            if power {
                row.push(f(s.power_w, 0));
            }
            t.add_row(row);
        }
        println!("{t}");
    }
    Ok(())
}

pub fn shoe_names(store: &Store) -> Result<HashMap<Uuid, String>> {
    Ok(store
        .shoes()?
        .into_iter()
        .map(|s| (s.shoe.id, s.shoe.name))
        .collect())
}
