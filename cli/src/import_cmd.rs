//! `strideguard import PATH...`: one transaction per file, so a broken file never leaves half a
//! run, and the rest of the batch goes on.

use std::path::{Path, PathBuf};

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use strideguard_core::Store;
use strideguard_core::import::Format;
use strideguard_core::store::{DuplicateReason, Imported};
use strideguard_core::units::format_distance;
use uuid::Uuid;

use crate::args::ImportArgs;
use crate::output::print_json;

#[derive(Debug, Serialize)]
#[serde(rename_all = "snake_case", tag = "status")]
enum Outcome {
    Imported {
        run_id: Uuid,
        start: String,
        distance_m: f64,
        samples: usize,
    },
    Duplicate {
        run_id: Uuid,
        reason: DuplicateReason,
    },
    Skipped {
        reason: String,
    },
    Failed {
        reason: String,
    },
}

#[derive(Debug, Serialize)]
struct FileResult {
    path: PathBuf,
    #[serde(flatten)]
    outcome: Outcome,
}

#[derive(Debug, Default, Serialize)]
pub struct Totals {
    pub imported: usize,
    pub duplicates: usize,
    pub skipped: usize,
    pub failed: usize,
}

pub fn run(store: &mut Store, a: ImportArgs) -> Result<()> {
    let totals = import_paths(store, &a)?;
    if totals.failed > 0 {
        let all = totals.imported + totals.duplicates + totals.skipped + totals.failed;
        anyhow::bail!(
            "{} of {all} files could not be imported (see above)",
            totals.failed
        );
    }
    Ok(())
}

/// Imports every file under `a.paths`, printing a line per file (or the JSON report) and the
/// summary; the caller decides what failures mean.
pub fn import_paths(store: &mut Store, a: &ImportArgs) -> Result<Totals> {
    let shoe = match &a.shoe {
        Some(key) => Some(store.find_shoe(key)?),
        None => store.default_shoe()?,
    };
    let profile = store.profile()?;
    let units = profile.units;
    let zone = strideguard_core::units::parse_time_zone(&profile.time_zone)?;
    let mut results = Vec::new();
    for path in &a.paths {
        collect(path, true, &mut results);
    }
    // A bar for long imports, on stderr and only on a terminal (indicatif hides it otherwise);
    // never with --json, whose stdout is for programs.
    let bar = if a.json || results.len() < 2 {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(results.len() as u64).with_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} files {wide_msg}")
                .expect("a valid template"),
        )
    };
    let mut files: Vec<FileResult> = Vec::new();
    for item in results {
        let (Ok((path, _)) | Err((path, _))) = &item;
        bar.set_message(path.display().to_string());
        let outcome = match item {
            Err((path, outcome)) => FileResult { path, outcome },
            Ok((path, format)) => {
                let outcome = import_one(store, &path, format, zone, shoe.as_ref().map(|s| s.id));
                FileResult { path, outcome }
            }
        };
        if !a.json {
            bar.suspend(|| print_line(&outcome, units));
        }
        bar.inc(1);
        files.push(outcome);
    }
    bar.finish_and_clear();
    let mut totals = Totals::default();
    for f in &files {
        match f.outcome {
            Outcome::Imported { .. } => totals.imported += 1,
            Outcome::Duplicate { .. } => totals.duplicates += 1,
            Outcome::Skipped { .. } => totals.skipped += 1,
            Outcome::Failed { .. } => totals.failed += 1,
        }
    }
    if a.json {
        #[derive(Serialize)]
        struct Report<'a> {
            files: &'a [FileResult],
            totals: &'a Totals,
        }
        print_json(&Report {
            files: &files,
            totals: &totals,
        })?;
    } else {
        println!(
            "imported {}, duplicates {}, skipped {}, failed {}",
            totals.imported, totals.duplicates, totals.skipped, totals.failed
        );
    }
    Ok(totals)
}

type Found = std::result::Result<(PathBuf, Format), (PathBuf, Outcome)>;

/// Files to import under `path`, in name order. A file named explicitly with an unknown extension
/// is reported as skipped; inside folders such files are passed over silently.
fn collect(path: &Path, named: bool, out: &mut Vec<Found>) {
    if path.is_dir() {
        let entries = match std::fs::read_dir(path) {
            Ok(e) => e,
            Err(e) => {
                out.push(Err((
                    path.to_path_buf(),
                    Outcome::Failed {
                        reason: format!("cannot read the folder: {e}"),
                    },
                )));
                return;
            }
        };
        let mut children: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        children.sort();
        for child in children {
            collect(&child, false, out);
        }
        return;
    }
    match Format::from_path(path) {
        Some(f) => out.push(Ok((path.to_path_buf(), f))),
        None if named => out.push(Err((
            path.to_path_buf(),
            Outcome::Skipped {
                reason: "not an activity file Strideguard reads (.fit, .gpx or .tcx)".into(),
            },
        ))),
        None => {}
    }
}

fn import_one(
    store: &mut Store,
    path: &Path,
    format: Format,
    zone: chrono_tz::Tz,
    shoe: Option<Uuid>,
) -> Outcome {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            return Outcome::Failed {
                reason: format!("cannot read the file: {e}"),
            };
        }
    };
    match store.import_activity(format, &bytes, zone, shoe) {
        Ok(Imported::Run { run, samples }) => Outcome::Imported {
            run_id: run.id,
            start: run.start.to_rfc3339(),
            distance_m: run.distance_m,
            samples,
        },
        Ok(Imported::Duplicate(d)) => Outcome::Duplicate {
            run_id: d.run_id,
            reason: d.reason,
        },
        Ok(Imported::NotARun { reason }) => Outcome::Skipped { reason },
        Err(e) => Outcome::Failed {
            reason: e.to_string(),
        },
    }
}

fn print_line(f: &FileResult, units: strideguard_core::Units) {
    let p = f.path.display();
    match &f.outcome {
        Outcome::Imported {
            run_id,
            start,
            distance_m,
            samples,
        } => println!(
            "imported   {p}: run {} on {start}, {}, {samples} samples",
            &run_id.to_string()[..8],
            format_distance(*distance_m, units)
        ),
        Outcome::Duplicate { run_id, reason } => println!(
            "duplicate  {p}: {} run {}",
            match reason {
                DuplicateReason::SameFile => "the same file as",
                DuplicateReason::SameActivity => "the same activity as",
            },
            &run_id.to_string()[..8]
        ),
        Outcome::Skipped { reason } => println!("skipped    {p}: {reason}"),
        Outcome::Failed { reason } => eprintln!("failed     {p}: {reason}"),
    }
}
