//! Importing activity files into the store: one file from its bytes, or many files and folders
//! with progress and cancellation. Each file is one transaction, so a broken file never leaves
//! half a run and the rest of the batch goes on. Files are read and parsed without the store;
//! it is borrowed only to check for a duplicate and save.

use std::path::{Path, PathBuf};

use serde::Serialize;
use uuid::Uuid;

use super::{DuplicateReason, ImportFailed, Imported, ShoeChoice, StoreAccess, StoreError};
use crate::cancel::Cancel;
use crate::import::{self, Format};

/// What happened to one file (the `status` of `import --json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum FileOutcome {
    Imported {
        run_id: Uuid,
        /// RFC 3339 with the runner's offset at the start.
        start: String,
        distance_m: f64,
        samples: usize,
    },
    Duplicate {
        run_id: Uuid,
        reason: DuplicateReason,
    },
    /// A valid file without a run (another sport), or a file that is not an activity file.
    Skipped {
        reason: String,
    },
    Failed {
        reason: String,
    },
}

/// One file and what happened to it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileReport {
    pub path: PathBuf,
    #[serde(flatten)]
    pub outcome: FileOutcome,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ImportTotals {
    pub imported: usize,
    pub duplicates: usize,
    pub skipped: usize,
    pub failed: usize,
}

impl ImportTotals {
    fn add(&mut self, o: &FileOutcome) {
        match o {
            FileOutcome::Imported { .. } => self.imported += 1,
            FileOutcome::Duplicate { .. } => self.duplicates += 1,
            FileOutcome::Skipped { .. } => self.skipped += 1,
            FileOutcome::Failed { .. } => self.failed += 1,
        }
    }

    pub fn files(&self) -> usize {
        self.imported + self.duplicates + self.skipped + self.failed
    }
}

/// What a batch did (`import --json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ImportReport {
    pub files: Vec<FileReport>,
    pub totals: ImportTotals,
    /// Stopped before the end; the files listed were handled, the rest not touched.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub cancelled: bool,
}

/// Progress after each file.
#[derive(Debug, Clone, Copy)]
pub struct ImportProgress<'a> {
    pub done: usize,
    pub total: usize,
    pub file: &'a FileReport,
}

/// A file to import, or one already known to be skipped or failed.
pub type Found = Result<(PathBuf, Format), FileReport>;

/// The files under `paths`, in name order, folders searched recursively. A file named directly
/// that is not `.fit`, `.gpx` or `.tcx` is reported as skipped; inside folders such files are
/// passed over; an unreadable folder is reported as failed.
pub fn collect_files(paths: &[PathBuf]) -> Vec<Found> {
    let mut out = Vec::new();
    for p in paths {
        collect(p, true, &mut out);
    }
    out
}

fn collect(path: &Path, named: bool, out: &mut Vec<Found>) {
    if named && let Err(e) = std::fs::metadata(path) {
        out.push(Err(FileReport {
            path: path.to_path_buf(),
            outcome: FileOutcome::Failed {
                reason: match e.kind() {
                    std::io::ErrorKind::NotFound => "it does not exist".into(),
                    _ => format!("cannot read it: {}", io_reason(&e)),
                },
            },
        }));
        return;
    }
    if path.is_dir() {
        let entries = match std::fs::read_dir(path) {
            Ok(e) => e,
            Err(e) => {
                out.push(Err(FileReport {
                    path: path.to_path_buf(),
                    outcome: FileOutcome::Failed {
                        reason: format!("cannot read the folder: {}", io_reason(&e)),
                    },
                }));
                return;
            }
        };
        let mut children: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        children.sort();
        for child in children {
            // A link to a folder inside a folder is not walked: it may point back up (a loop)
            // or across the whole disk. Links to files are read.
            let linked_folder = std::fs::symlink_metadata(&child)
                .is_ok_and(|m| m.file_type().is_symlink())
                && child.is_dir();
            if !linked_folder {
                collect(&child, false, out);
            }
        }
        return;
    }
    match Format::from_path(path) {
        Some(f) => out.push(Ok((path.to_path_buf(), f))),
        None if named => out.push(Err(FileReport {
            path: path.to_path_buf(),
            outcome: FileOutcome::Skipped {
                reason: ImportFailed::NotAnActivityFile.to_string(),
            },
        })),
        None => {}
    }
}

/// An IO error in words, without the OS error number.
pub(super) fn io_reason(e: &std::io::Error) -> String {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::NotFound => "it does not exist".into(),
        K::PermissionDenied => "permission denied".into(),
        K::IsADirectory => "it is a folder".into(),
        _ => {
            let text = e.to_string();
            match text.find(" (os error") {
                Some(i) => text[..i].to_string(),
                None => text,
            }
        }
    }
}

fn outcome(result: Result<Imported, ImportFailed>) -> FileOutcome {
    match result {
        Ok(Imported::Run { run, samples }) => FileOutcome::Imported {
            run_id: run.id,
            start: run.start.to_rfc3339(),
            distance_m: run.distance_m,
            samples,
        },
        Ok(Imported::Duplicate(d)) => FileOutcome::Duplicate {
            run_id: d.run_id,
            reason: d.reason,
        },
        Ok(Imported::NotARun { reason }) => FileOutcome::Skipped { reason },
        Err(e) => FileOutcome::Failed {
            reason: e.to_string(),
        },
    }
}

/// Imports one named file, its type from its extension: what [`import_files`] does for each
/// file, for an app that imports the one file the runner picked.
pub fn import_path(
    store: &impl StoreAccess,
    path: &Path,
    shoe: ShoeChoice,
) -> Result<Vec<Imported>, ImportFailed> {
    let format = Format::from_path(path).ok_or(ImportFailed::NotAnActivityFile)?;
    let bytes = std::fs::read(path).map_err(|e| ImportFailed::Unreadable(io_reason(&e)))?;
    import_bytes(store, &bytes, format, shoe)
}

/// Imports one file from its bytes (`format` as the file's type says): parsed without the
/// store, then checked for a duplicate and saved on `shoe` in one transaction.
pub fn import_bytes(
    store: &impl StoreAccess,
    bytes: &[u8],
    format: Format,
    shoe: ShoeChoice,
) -> Result<Vec<Imported>, ImportFailed> {
    let zone = store.with_store(|s| s.profile().map(|p| p.zone()))?;
    import::parse(format, bytes, zone)?
        .into_iter()
        .map(|parsed| store.with_store(|s| s.save_parsed(parsed, shoe)))
        .collect()
}

/// Imports `files` (from [`collect_files`]) one transaction each, calling `progress` after
/// every file and stopping early when `cancel` is set. A store error that is not about one
/// file (the database cannot be written) stops the batch.
pub fn import_files(
    store: &impl StoreAccess,
    files: Vec<Found>,
    shoe: ShoeChoice,
    progress: &mut dyn FnMut(ImportProgress<'_>),
    cancel: &Cancel,
) -> Result<ImportReport, StoreError> {
    // The shoe is checked once, before any file is read.
    store.with_store(|s| s.shoe_for_new_run(shoe))?;
    let total = files.len();
    let mut report = ImportReport::default();
    for found in files {
        if cancel.is_cancelled() {
            report.cancelled = true;
            break;
        }
        let file = match found {
            Err(r) => r,
            Ok((path, format)) => {
                let outcomes = match std::fs::read(&path) {
                    Err(e) => vec![outcome(Err(ImportFailed::Unreadable(io_reason(&e))))],
                    Ok(bytes) => match import_bytes(store, &bytes, format, shoe) {
                        Err(ImportFailed::Store(e)) if !is_about_the_file(&e) => return Err(e),
                        Err(e) => vec![outcome(Err(e))],
                        Ok(all) => all.into_iter().map(|i| outcome(Ok(i))).collect(),
                    },
                };
                let mut outcomes = outcomes.into_iter();
                let first = outcomes.next().expect("parse gives at least one activity");
                for outcome in outcomes {
                    report.totals.add(&outcome);
                    report.files.push(FileReport {
                        path: path.clone(),
                        outcome,
                    });
                }
                FileReport {
                    path,
                    outcome: first,
                }
            }
        };
        report.totals.add(&file.outcome);
        report.files.push(file);
        // Once cancelled, the app is not called again: the report says what was done.
        if !cancel.is_cancelled() {
            progress(ImportProgress {
                done: report.files.len(),
                total,
                file: report.files.last().expect("just pushed"),
            });
        }
    }
    Ok(report)
}

/// Whether a store error while saving a file is that file's fault (its run is invalid), not
/// the database's.
fn is_about_the_file(e: &StoreError) -> bool {
    matches!(
        e,
        StoreError::Invalid { .. } | StoreError::OutOfRange(_) | StoreError::Samples { .. }
    )
}
