//! Exporting runs to a folder: a backup, a move to another app, a coach's spreadsheet. One file
//! per run, written under a temporary name and renamed into place, so an interrupted export never
//! leaves half a file under a run's name. An existing file is kept unless the caller asks to
//! overwrite it. With CSV, a `runs.csv` index of the exported runs' summaries is written too.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;
use uuid::Uuid;

use super::{StoreAccess, StoreError};
use crate::cancel::Cancel;
use crate::export::{self, ExportFormat};
use crate::model::Run;

/// The name of the summary file a CSV export writes beside the runs' files.
pub const CSV_INDEX: &str = "runs.csv";

/// What happened to one run (the `status` of `export --json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum ExportOutcome {
    Written {
        bytes: u64,
        samples: usize,
    },
    /// A file of that name was there already and was left as it was.
    Exists,
    Failed {
        reason: String,
    },
}

/// One run and its file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExportedFile {
    pub run_id: Uuid,
    /// RFC 3339 with the runner's offset at the start.
    pub start: String,
    pub path: PathBuf,
    #[serde(flatten)]
    pub outcome: ExportOutcome,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ExportTotals {
    pub written: usize,
    pub exists: usize,
    pub failed: usize,
}

/// What an export did (`export --json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ExportReport {
    pub folder: PathBuf,
    pub format: &'static str,
    pub files: Vec<ExportedFile>,
    pub totals: ExportTotals,
    /// The CSV summary of the runs written (CSV exports only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<PathBuf>,
    /// Stopped before the end; the runs listed were handled, the rest not touched.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub cancelled: bool,
}

/// Progress after each run.
#[derive(Debug, Clone, Copy)]
pub struct ExportProgress<'a> {
    pub done: usize,
    pub total: usize,
    pub file: &'a ExportedFile,
}

/// What stops a whole export (one run's failure does not).
#[derive(Debug, thiserror::Error)]
pub enum ExportFailed {
    #[error("cannot create the folder {path}: {reason}")]
    Folder { path: PathBuf, reason: String },
    #[error("{path} is a file, not a folder")]
    NotAFolder { path: PathBuf },
    #[error("cannot write {path}: {reason}")]
    Index { path: PathBuf, reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The file name a run gets: its local start, kind and the start of its id, so a folder sorts
/// by date and two runs started in the same minute do not collide.
pub fn export_file_name(run: &Run, format: ExportFormat) -> String {
    format!(
        "{}-{}-{}.{}",
        run.start.format("%Y-%m-%d-%H%M"),
        run.kind,
        &run.id.simple().to_string()[..8],
        format.extension()
    )
}

/// Writes `runs` (ids, in the order given) as `format` files into `folder`, created if missing,
/// borrowing the store for one run at a time. `overwrite` replaces files already there;
/// otherwise they are reported as [`ExportOutcome::Exists`] and left alone.
pub fn export_runs(
    store: &impl StoreAccess,
    runs: &[Uuid],
    format: ExportFormat,
    folder: &Path,
    overwrite: bool,
    progress: &mut dyn FnMut(ExportProgress<'_>),
    cancel: &Cancel,
) -> Result<ExportReport, ExportFailed> {
    if folder.exists() && !folder.is_dir() {
        return Err(ExportFailed::NotAFolder {
            path: folder.to_path_buf(),
        });
    }
    std::fs::create_dir_all(folder).map_err(|e| ExportFailed::Folder {
        path: folder.to_path_buf(),
        reason: super::imports::io_reason(&e),
    })?;
    let mut report = ExportReport {
        folder: folder.to_path_buf(),
        format: format.name(),
        ..ExportReport::default()
    };
    let mut written: Vec<(Run, String)> = Vec::new();
    for &id in runs {
        if cancel.is_cancelled() {
            report.cancelled = true;
            break;
        }
        let (run, samples) = store.with_store(|s| -> Result<_, StoreError> {
            let run = s.run(id)?.ok_or_else(|| StoreError::NotFound {
                what: "run",
                key: id.to_string(),
            })?;
            let samples = s.samples(id)?;
            Ok((run, samples))
        })?;
        let name = export_file_name(&run, format);
        let path = folder.join(&name);
        let outcome = if path.exists() && !overwrite {
            ExportOutcome::Exists
        } else {
            match export::write_as(&run, &samples, format) {
                Err(e) => ExportOutcome::Failed {
                    reason: e.to_string(),
                },
                Ok(bytes) => match write_atomically(&path, &bytes) {
                    Err(e) => ExportOutcome::Failed {
                        reason: super::imports::io_reason(&e),
                    },
                    Ok(()) => ExportOutcome::Written {
                        bytes: bytes.len() as u64,
                        samples: samples.len(),
                    },
                },
            }
        };
        match outcome {
            ExportOutcome::Written { .. } => report.totals.written += 1,
            ExportOutcome::Exists => report.totals.exists += 1,
            ExportOutcome::Failed { .. } => report.totals.failed += 1,
        }
        if !matches!(outcome, ExportOutcome::Failed { .. }) {
            written.push((run.clone(), name));
        }
        report.files.push(ExportedFile {
            run_id: run.id,
            start: run.start.to_rfc3339(),
            path,
            outcome,
        });
        if !cancel.is_cancelled() {
            progress(ExportProgress {
                done: report.files.len(),
                total: runs.len(),
                file: report.files.last().expect("just pushed"),
            });
        }
    }
    if format == ExportFormat::Csv && !written.is_empty() {
        let shoes: HashMap<Uuid, String> = store
            .with_store(|s| s.shoes())?
            .into_iter()
            .map(|u| (u.shoe.id, u.shoe.name))
            .collect();
        let path = folder.join(CSV_INDEX);
        write_atomically(&path, csv_index(&written, &shoes).as_bytes()).map_err(|e| {
            ExportFailed::Index {
                path: path.clone(),
                reason: super::imports::io_reason(&e),
            }
        })?;
        report.index = Some(path);
    }
    Ok(report)
}

/// Writes the file beside its final name and renames it into place: a crash leaves either the
/// old file or the new one, never a part.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("export");
    let partial = path.with_file_name(format!(".{name}.partial"));
    let result = (|| {
        use std::io::Write;
        let mut f = std::fs::File::create(&partial)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&partial, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
}

/// A CSV cell: quoted when it holds a comma, a quote or a line break.
fn cell(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// The runs' summaries, one row a run, in the stored SI units.
fn csv_index(runs: &[(Run, String)], shoes: &HashMap<Uuid, String>) -> String {
    let mut out = String::from(
        "run_id,start,kind,distance_m,duration_s,moving_time_s,elevation_gain_m,\
         elevation_loss_m,avg_hr_bpm,max_hr_bpm,avg_cadence_spm,avg_power_w,avg_stance_time_s,\
         avg_stance_balance_left_pct,avg_vertical_oscillation_m,avg_vertical_ratio_pct,\
         avg_step_length_m,rpe,shoe,notes,source,file\n",
    );
    let n = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    for (r, file) in runs {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            r.id,
            r.start.to_rfc3339(),
            r.kind,
            r.distance_m,
            r.duration_s,
            n(r.moving_time_s),
            n(r.elevation_gain_m),
            n(r.elevation_loss_m),
            n(r.avg_hr_bpm),
            n(r.max_hr_bpm),
            n(r.avg_cadence_spm),
            n(r.avg_power_w),
            n(r.avg_stance_time_s),
            n(r.avg_stance_balance_left_pct),
            n(r.avg_vertical_oscillation_m),
            n(r.avg_vertical_ratio_pct),
            n(r.avg_step_length_m),
            r.rpe.map(|v| v.to_string()).unwrap_or_default(),
            cell(
                r.shoe_id
                    .and_then(|s| shoes.get(&s))
                    .map(String::as_str)
                    .unwrap_or("")
            ),
            cell(r.notes.as_deref().unwrap_or("")),
            r.source,
            cell(file),
        );
    }
    out
}
