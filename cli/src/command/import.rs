//! `strideguard import PATH...`: files, folders and whole exports (`.gz` files, zips with zips
//! inside, Strava's export folder or zip) through core's batch import (one transaction per
//! activity), a progress bar over the bytes on a terminal, a line per file or the JSON report.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use strideguard_core::Store;
use strideguard_core::Units;
use strideguard_core::cancel::Cancel;
use strideguard_core::store::{
    DuplicateReason, FileOutcome, FileReport, ImportReport, ShoeChoice, SourceKind, collect_files,
    import_files,
};
use strideguard_core::units::format_distance;

use crate::interrupt::{self, Interrupted};
use crate::output::{OutputArgs, print_json};

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Files, folders (searched recursively) or export zips: .fit, .gpx and .tcx files, each
    /// possibly gzipped (.fit.gz), .zip archives (Garmin Connect's export, zips inside
    /// included), and Strava's export folder or zip, whose runs get their names, gear (as
    /// shoes) and perceived exertion.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Shoe id or name for the new runs without Strava gear (default: the default shoe).
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
    if report.cancelled {
        return Err(Interrupted(format!(
            "interrupted after {} files: what was imported stays, and the same command goes on \
             from there (files already imported are skipped)",
            report.totals.files()
        ))
        .into());
    }
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
    let archives = files
        .iter()
        .any(|f| matches!(f, Ok(s) if s.kind == SourceKind::Zip));
    // A bar for long imports, over the bytes of the files and archives, on stderr and only on
    // a terminal (indicatif hides it otherwise); never with --json, whose stdout is for
    // programs.
    let bar = if json || (files.len() < 2 && !archives) {
        ProgressBar::hidden()
    } else {
        // Its length is core's count of the bytes to read, told with each file.
        ProgressBar::new(0).with_style(
            ProgressStyle::with_template("{bar:30} {binary_bytes}/{binary_total_bytes} {wide_msg}")
                .expect("a valid template"),
        )
    };
    // Ctrl-C stops after the file being read: every activity is its own transaction, so what
    // landed stays.
    interrupt::catch();
    let cancel = Cancel::new();
    let access = std::cell::RefCell::new(store);
    let report = import_files(
        &access,
        files,
        shoe,
        &mut |p| {
            bar.set_message(format!("{} files, {}", p.done, p.file.path.display()));
            if !json {
                bar.suspend(|| print_line(p.file, units));
            }
            bar.set_length(p.bytes_total);
            bar.set_position(p.bytes_done);
            if interrupt::requested() {
                cancel.cancel();
            }
        },
        &cancel,
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
            note,
        } => println!(
            "imported   {p}: run {} on {start}, {}, {samples} samples{}",
            &run_id.to_string()[..8],
            format_distance(*distance_m, units),
            note.as_ref().map(|n| format!(" ({n})")).unwrap_or_default()
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
