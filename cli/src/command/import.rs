//! `strideguard import PATH...`: files and folders through core's batch import (one
//! transaction per file), a progress bar on a terminal, a line per file or the JSON report.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use strideguard_core::Store;
use strideguard_core::Units;
use strideguard_core::cancel::Cancel;
use strideguard_core::store::{
    DuplicateReason, FileOutcome, FileReport, ImportReport, ShoeChoice, collect_files, import_files,
};
use strideguard_core::units::format_distance;

use crate::output::{OutputArgs, print_json};

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Files or folders (searched recursively for .fit, .gpx and .tcx files).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Shoe id or name for the new runs (default: the default shoe).
    #[arg(long)]
    pub shoe: Option<String>,
    #[command(flatten)]
    pub out: OutputArgs,
}

pub fn run(store: &mut Store, a: &ImportArgs) -> Result<()> {
    let shoe = match &a.shoe {
        Some(key) => ShoeChoice::Shoe(store.find_shoe(key)?.id),
        None => ShoeChoice::Default,
    };
    let report = import(store, &a.paths, shoe, a.out.json)?;
    if report.totals.failed > 0 {
        anyhow::bail!(
            "{} of {} files could not be imported (see above)",
            report.totals.failed,
            report.totals.files()
        );
    }
    Ok(())
}

/// Imports `paths`, printing a line per file (or the JSON report) and the summary; the caller
/// decides what failures mean.
pub fn import(
    store: &mut Store,
    paths: &[PathBuf],
    shoe: ShoeChoice,
    json: bool,
) -> Result<ImportReport> {
    let units = store.profile()?.units;
    let files = collect_files(paths);
    // A bar for long imports, on stderr and only on a terminal (indicatif hides it otherwise);
    // never with --json, whose stdout is for programs.
    let bar = if json || files.len() < 2 {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(files.len() as u64).with_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} files {wide_msg}")
                .expect("a valid template"),
        )
    };
    let access = std::cell::RefCell::new(store);
    let report = import_files(
        &access,
        files,
        shoe,
        &mut |p| {
            bar.set_message(p.file.path.display().to_string());
            if !json {
                bar.suspend(|| print_line(p.file, units));
            }
            bar.set_position(p.done as u64);
        },
        &Cancel::new(),
    )?;
    bar.finish_and_clear();
    if json {
        print_json(&report)?;
    } else {
        let t = report.totals;
        println!(
            "imported {}, duplicates {}, skipped {}, failed {}",
            t.imported, t.duplicates, t.skipped, t.failed
        );
    }
    Ok(report)
}

fn print_line(f: &FileReport, units: Units) {
    let p = f.path.display();
    match &f.outcome {
        FileOutcome::Imported {
            run_id,
            start,
            distance_m,
            samples,
        } => println!(
            "imported   {p}: run {} on {start}, {}, {samples} samples",
            &run_id.to_string()[..8],
            format_distance(*distance_m, units)
        ),
        FileOutcome::Duplicate { run_id, reason } => println!(
            "duplicate  {p}: {} run {}",
            match reason {
                DuplicateReason::SameFile => "the same file as",
                DuplicateReason::SameActivity => "the same activity as",
            },
            &run_id.to_string()[..8]
        ),
        FileOutcome::Skipped { reason } => println!("skipped    {p}: {reason}"),
        FileOutcome::Failed { reason } => eprintln!("failed     {p}: {reason}"),
    }
}
