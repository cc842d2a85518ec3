//! Importing activity files: one file, one file's bytes with a format hint, or many files,
//! folders and whole exports (`.gz` files, zips with zips inside as Garmin Connect exports
//! them, a Strava export folder or zip) with progress over the bytes and cancellation. All
//! async: core decodes on every core on blocking threads, and the database is borrowed only to
//! save each run.

use std::path::PathBuf;
use std::sync::Arc;

use strideguard_core::cancel::Cancel;
use strideguard_core::store::{
    self, DuplicateReason as CoreReason, FileOutcome, FileReport, Imported, ShoeChoice,
};

use crate::app::Strideguard;
use crate::error::StrideguardError;
use crate::listeners::{Failures, ListenerError};
use crate::mirror_enum;
use crate::records::{ActivityFormat, Run};
use crate::sync::{Cancellation, background};

mirror_enum!(
    /// Why a file is taken to be a run already stored.
    DuplicateReason = CoreReason { SameFile, SameActivity }
);

#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ImportStatus {
    Imported,
    Duplicate,
    /// A valid file without a run (another sport), or not an activity file.
    Skipped,
    Failed,
}

/// What happened to one file.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ImportOutcome {
    pub status: ImportStatus,
    /// The file, for imports of files and folders.
    pub path: Option<String>,
    /// The run added.
    pub run: Option<Run>,
    /// The stored run this file repeats.
    pub duplicate_of: Option<String>,
    pub duplicate_reason: Option<DuplicateReason>,
    /// Why nothing was added, in words.
    pub reason: Option<String>,
    /// How the sport of the run added was decided when the file names none ("no sport in
    /// the file; judged a run from ..."); `None` when the file says it is a run.
    pub note: Option<String>,
    /// Every run the file added: a multisport FIT or a TCX of several activities adds more
    /// than one (`run` is the first of them).
    pub runs: Vec<Run>,
}

impl ImportOutcome {
    /// One outcome for a file's activities: the one core's [`Imported::headline`] picks, with
    /// every run added in `runs`.
    fn of_all(all: Vec<Imported>) -> ImportOutcome {
        let runs: Vec<Run> = all
            .iter()
            .filter_map(|i| match i {
                Imported::Run { run, samples, .. } => Some(Run::new(run, *samples as u64)),
                _ => None,
            })
            .collect();
        let first = Imported::headline(&all)
            .cloned()
            .expect("parse gives at least one activity");
        ImportOutcome {
            runs,
            ..ImportOutcome::of(first)
        }
    }

    fn of(imported: Imported) -> ImportOutcome {
        match imported {
            Imported::Run { run, samples, note } => ImportOutcome {
                status: ImportStatus::Imported,
                path: None,
                run: Some(Run::new(&run, samples as u64)),
                duplicate_of: None,
                duplicate_reason: None,
                reason: None,
                note,
                runs: Vec::new(),
            },
            Imported::Duplicate(d) => ImportOutcome {
                status: ImportStatus::Duplicate,
                path: None,
                run: None,
                duplicate_of: Some(d.run_id.to_string()),
                duplicate_reason: Some(d.reason.into()),
                reason: Some(
                    match d.reason {
                        CoreReason::SameFile => "the same file as a stored run",
                        CoreReason::SameActivity => "the same activity as a stored run",
                    }
                    .into(),
                ),
                note: None,
                runs: Vec::new(),
            },
            Imported::NotARun { reason } => ImportOutcome {
                status: ImportStatus::Skipped,
                path: None,
                run: None,
                duplicate_of: None,
                duplicate_reason: None,
                reason: Some(reason),
                note: None,
                runs: Vec::new(),
            },
        }
    }

    fn of_file(store: &strideguard_core::Store, f: &FileReport) -> ImportOutcome {
        let path = Some(f.path.display().to_string());
        let base = ImportOutcome {
            status: ImportStatus::Failed,
            path,
            run: None,
            duplicate_of: None,
            duplicate_reason: None,
            reason: None,
            note: None,
            runs: Vec::new(),
        };
        match &f.outcome {
            FileOutcome::Imported {
                run_id,
                samples,
                note,
                ..
            } => {
                let run = store
                    .run(*run_id)
                    .ok()
                    .flatten()
                    .map(|r| Run::new(&r, *samples as u64));
                ImportOutcome {
                    status: ImportStatus::Imported,
                    runs: run.iter().cloned().collect(),
                    run,
                    note: note.clone(),
                    ..base
                }
            }
            FileOutcome::Duplicate { run_id, reason } => ImportOutcome {
                status: ImportStatus::Duplicate,
                duplicate_of: Some(run_id.to_string()),
                duplicate_reason: Some((*reason).into()),
                ..base
            },
            FileOutcome::Skipped { reason } => ImportOutcome {
                status: ImportStatus::Skipped,
                reason: Some(reason.clone()),
                ..base
            },
            FileOutcome::Failed { reason } => ImportOutcome {
                reason: Some(reason.clone()),
                ..base
            },
        }
    }
}

/// Progress after each file of a batch.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ImportProgress {
    /// Files reported so far.
    pub done: i32,
    /// Files and archives collected (or `done`, when archives held more).
    pub total: i32,
    pub file: ImportOutcome,
    /// How far through the bytes of the files and archives the batch is: what a progress bar
    /// should show, since an archive's count of files is known only once it is read.
    pub bytes_done: i64,
    pub bytes_total: i64,
}

/// Implemented by the app: told after each file of `import_files`.
#[uniffi::export(with_foreign)]
pub trait ImportListener: Send + Sync {
    fn on_file(&self, progress: ImportProgress) -> Result<(), ListenerError>;
}

/// What a batch did.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ImportSummary {
    pub files: Vec<ImportOutcome>,
    pub imported: i32,
    pub duplicates: i32,
    pub skipped: i32,
    pub failed: i32,
    /// Stopped before the end; the files listed were handled.
    pub cancelled: bool,
    /// How many times the listener threw.
    pub listener_errors: i64,
}

fn file_error(path: &str, e: StrideguardError) -> StrideguardError {
    match e {
        StrideguardError::Import { reason, .. } => StrideguardError::Import {
            path: Some(path.to_string()),
            reason: format!("{path}: {reason}"),
        },
        other => other,
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl Strideguard {
    /// Imports a FIT, GPX or TCX file (or one gzipped: `.fit.gz`) on the default shoe; the same
    /// file or activity again is recognised. A damaged file throws `Import`, naming the file.
    /// A zip is a batch: give it to `import_files`.
    pub async fn import_file(
        self: Arc<Self>,
        path: String,
    ) -> Result<ImportOutcome, StrideguardError> {
        background(None, move |_| {
            let imported = store::import_path(self.writer(), path.as_ref(), ShoeChoice::Default)
                .map_err(|e| file_error(&path, e.into()))?;
            let mut out = ImportOutcome::of_all(imported);
            out.path = Some(path);
            Ok(out)
        })
        .await
    }

    /// Imports a file's bytes (from a share sheet, a download, a watch's sync) of `format`.
    #[uniffi::method(default(name = None))]
    pub async fn import_bytes(
        self: Arc<Self>,
        bytes: Vec<u8>,
        format: ActivityFormat,
        name: Option<String>,
    ) -> Result<ImportOutcome, StrideguardError> {
        background(None, move |_| {
            let imported =
                store::import_bytes(self.writer(), &bytes, format.into(), ShoeChoice::Default)
                    .map_err(|e| match &name {
                        Some(n) => file_error(n, e.into()),
                        None => e.into(),
                    })?;
            let mut out = ImportOutcome::of_all(imported);
            out.path = name;
            Ok(out)
        })
        .await
    }

    /// Imports files, folders (searched recursively, in name order) and exports (`.gz` files,
    /// zips with zips inside, a Strava export whose runs get their names, gear as shoes and
    /// perceived exertion), one transaction per activity: a damaged file is reported (an
    /// archive's entry by its path inside, `export.zip!activities/1.fit.gz`) and the rest go
    /// on. Files already imported are recognised without being parsed, so an interrupted import
    /// run again resumes quickly. `listener` hears after each file; `cancel` (or `cancel_sync`,
    /// or cancelling the coroutine or task) stops it between files.
    #[uniffi::method(default(listener = None, cancel = None))]
    pub async fn import_files(
        self: Arc<Self>,
        paths: Vec<String>,
        listener: Option<Arc<dyn ImportListener>>,
        cancel: Option<Arc<Cancellation>>,
    ) -> Result<ImportSummary, StrideguardError> {
        let me = self.clone();
        background(Some((self, cancel)), move |token: &Cancel| {
            let paths: Vec<PathBuf> = paths.into_iter().map(PathBuf::from).collect();
            let files = store::collect_files(&paths);
            let failures = Failures::default();
            let report = store::import_files(
                me.writer(),
                files,
                ShoeChoice::Default,
                &mut |p| {
                    if let Some(l) = &listener {
                        let outcome = me.read(|s| Ok(ImportOutcome::of_file(s, p.file)));
                        if let Ok(file) = outcome {
                            failures.note(l.on_file(ImportProgress {
                                done: p.done as i32,
                                total: p.total as i32,
                                file,
                                bytes_done: i64::try_from(p.bytes_done).unwrap_or(i64::MAX),
                                bytes_total: i64::try_from(p.bytes_total).unwrap_or(i64::MAX),
                            }));
                        }
                    }
                },
                token,
            )?;
            let files = me.read(|s| {
                Ok(report
                    .files
                    .iter()
                    .map(|f| ImportOutcome::of_file(s, f))
                    .collect())
            })?;
            let t = report.totals;
            Ok(ImportSummary {
                files,
                imported: t.imported as i32,
                duplicates: t.duplicates as i32,
                skipped: t.skipped as i32,
                failed: t.failed as i32,
                cancelled: report.cancelled,
                listener_errors: failures.count(),
            })
        })
        .await
    }
}
