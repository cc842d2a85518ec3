//! `strideguard run ...`

use std::collections::HashMap;

use anyhow::{Context, Result};
use strideguard_core::Store;
use strideguard_core::model::Run;
use strideguard_core::store::RunEdit;
use strideguard_core::units::{
    format_distance, format_duration, format_pace, parse_local_datetime, parse_time_zone,
};
use uuid::Uuid;

use crate::args::{RunAddArgs, RunCommand};
use crate::output::{self, RunJson, opt, print_json, print_pairs, runs_table};

pub fn run(store: &mut Store, cmd: RunCommand) -> Result<()> {
    match cmd {
        RunCommand::Add(a) => add(store, a),
        RunCommand::List { json, limit } => list(store, json, limit),
        RunCommand::Show { id, json, samples } => show(store, &id, json, samples),
        RunCommand::Edit(a) => {
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
            if a.json {
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

fn add(store: &mut Store, a: RunAddArgs) -> Result<()> {
    let profile = store.profile()?;
    let tz = parse_time_zone(&profile.time_zone).with_context(|| {
        format!(
            "the profile's time zone '{}' is not valid",
            profile.time_zone
        )
    })?;
    let start = parse_local_datetime(&a.date, tz)?;
    let shoe = match &a.shoe {
        Some(key) => {
            let s = store.find_shoe(key)?;
            if s.retired {
                anyhow::bail!(
                    "shoe '{}' is retired and takes no new runs; pick another with --shoe",
                    s.name
                );
            }
            Some(s)
        }
        None => store.default_shoe()?,
    };
    let mut run = Run::new(Uuid::new_v4(), start, a.distance, a.duration);
    run.kind = a.kind;
    run.rpe = a.rpe;
    run.shoe_id = shoe.as_ref().map(|s| s.id);
    run.notes = a.notes.filter(|n| !n.trim().is_empty());
    run.avg_hr_bpm = a.avg_hr.map(f64::from);
    run.avg_cadence_spm = a.cadence.map(f64::from);
    run.elevation_gain_m = a.elevation_gain;
    store.add_run(&run, &[])?;
    if a.json {
        return print_json(&RunJson {
            run: &run,
            sample_count: 0,
            samples: None,
        });
    }
    println!(
        "Added run {} on {}: {} in {} ({}){}.",
        run.id,
        run.start.format("%Y-%m-%d %H:%M"),
        format_distance(run.distance_m, profile.units),
        format_duration(run.duration_s),
        format_pace(run.distance_m, run.duration_s, profile.units),
        shoe.map(|s| format!(", shoe {}", s.name))
            .unwrap_or_default()
    );
    Ok(())
}

fn list(store: &Store, json: bool, limit: Option<usize>) -> Result<()> {
    let mut runs = store.runs()?;
    if let Some(n) = limit {
        runs.drain(..runs.len().saturating_sub(n));
    }
    let counts = store.sample_counts()?;
    if json {
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

fn show(store: &Store, key: &str, json: bool, with_samples: bool) -> Result<()> {
    let run = store.find_run(key)?;
    let samples = store.samples(run.id)?;
    if json {
        return print_json(&RunJson {
            run: &run,
            sample_count: samples.len() as u64,
            samples: with_samples.then_some(samples.as_slice()),
        });
    }
    let units = store.profile()?.units;
    let names = shoe_names(store)?;
    let m = |v: Option<f64>| opt(v.map(|v| format!("{v:.0} m")));
    print_pairs(&[
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
    if with_samples && !samples.is_empty() {
        let mut t = output::table(
            &[
                "t",
                "Distance",
                "Speed m/s",
                "HR",
                "Cadence",
                "Stride m",
                "Alt m",
                "Lat",
                "Lon",
            ],
            &[0, 1, 2, 3, 4, 5, 6, 7, 8],
        );
        let f = |v: Option<f64>, p: usize| opt(v.map(|v| format!("{v:.p$}")));
        for s in &samples {
            t.add_row(vec![
                format_duration(s.t_s),
                opt(s.distance_m.map(|d| format_distance(d, units))),
                f(s.speed_mps, 2),
                opt(s.hr_bpm),
                f(s.cadence_spm, 1),
                f(s.stride_m, 2),
                f(s.altitude_m, 1),
                f(s.lat_deg, 6),
                f(s.lon_deg, 6),
            ]);
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
