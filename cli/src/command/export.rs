//! `strideguard export (RUN_ID... | --all) --format fit|gpx|tcx|csv --out DIR`: runs written as
//! files into a folder through core's `export_runs`, a line per run or the JSON report.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use strideguard_core::Store;
use strideguard_core::cancel::Cancel;
use strideguard_core::export::ExportFormat;
use strideguard_core::store::{ExportOutcome, export_runs};

use crate::output::{OutputArgs, print_json};

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["ids", "all"])))]
pub struct ExportArgs {
    /// Run ids, or unique prefixes of them (4+ characters).
    #[arg(value_name = "RUN_ID")]
    pub ids: Vec<String>,
    /// Every run, oldest first.
    #[arg(long, conflicts_with = "ids")]
    pub all: bool,
    /// fit, gpx, tcx or csv (the samples of each run, plus a runs.csv of their summaries).
    #[arg(long, value_parser = format_arg)]
    pub format: ExportFormat,
    /// The folder to write into (created if missing). Files are named
    /// <date>-<time>-<kind>-<id>.<format>.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Replace files already in the folder (otherwise they are kept and reported).
    #[arg(long)]
    pub overwrite: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

fn format_arg(s: &str) -> Result<ExportFormat, String> {
    ExportFormat::from_name(s).ok_or_else(|| format!("'{s}' is not fit, gpx, tcx or csv"))
}

pub fn run(store: &mut Store, a: &ExportArgs) -> Result<()> {
    // `--all` and no ids: clap's group allows only one of them, and no ids selects every run.
    let ids = store.select_runs(if a.all { &[] } else { &a.ids })?;
    let json = a.output.json;
    let bar = if json || ids.len() < 2 {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(ids.len() as u64).with_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} runs {wide_msg}")
                .expect("a valid template"),
        )
    };
    let access = std::cell::RefCell::new(store);
    let report = export_runs(
        &access,
        &ids,
        a.format,
        &a.out,
        a.overwrite,
        &mut |p| {
            if !json {
                let path = p.file.path.display();
                bar.suspend(|| match &p.file.outcome {
                    ExportOutcome::Written { bytes, .. } => {
                        println!("wrote      {path} ({bytes} bytes)")
                    }
                    ExportOutcome::Exists => {
                        println!("kept       {path}: it exists (--overwrite replaces it)")
                    }
                    ExportOutcome::Failed { reason } => eprintln!("failed     {path}: {reason}"),
                });
            }
            bar.set_position(p.done as u64);
        },
        &Cancel::new(),
    )?;
    bar.finish_and_clear();
    if json {
        print_json(&report)?;
    } else {
        if let Some(index) = &report.index {
            println!("wrote      {} (the runs' summaries)", index.display());
        }
        let t = report.totals;
        println!(
            "{} runs as {} into {}: written {}, kept {}, failed {}",
            report.files.len(),
            report.format,
            report.folder.display(),
            t.written,
            t.exists,
            t.failed
        );
    }
    if report.totals.failed > 0 {
        anyhow::bail!(
            "{} of {} runs could not be exported (see above)",
            report.totals.failed,
            report.files.len()
        );
    }
    Ok(())
}
