//! Exporting runs into a folder (the app's documents, a share target): the same as the CLI's
//! `export`, through core's `export_runs`, on a blocking thread with progress and cancel.

use std::path::PathBuf;
use std::sync::Arc;

use strideguard_core::cancel::Cancel;
use strideguard_core::store::{self, ExportOutcome, ExportedFile};
use uuid::Uuid;

use crate::app::Strideguard;
use crate::error::StrideguardError;
use crate::listeners::{Failures, ListenerError};
use crate::records::ExportFormat;
use crate::sync::{Cancellation, background};

#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ExportStatus {
    Written,
    /// A file of that name was already in the folder and was kept (`overwrite` replaces it).
    Exists,
    Failed,
}

/// One run's file.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ExportedRun {
    pub run_id: String,
    pub path: String,
    pub status: ExportStatus,
    pub bytes: i64,
    /// Why it was not written, in words.
    pub reason: Option<String>,
}

impl From<&ExportedFile> for ExportedRun {
    fn from(f: &ExportedFile) -> Self {
        let (status, bytes, reason) = match &f.outcome {
            ExportOutcome::Written { bytes, .. } => (ExportStatus::Written, *bytes as i64, None),
            ExportOutcome::Exists => (ExportStatus::Exists, 0, None),
            ExportOutcome::Failed { reason } => (ExportStatus::Failed, 0, Some(reason.clone())),
        };
        ExportedRun {
            run_id: f.run_id.to_string(),
            path: f.path.display().to_string(),
            status,
            bytes,
            reason,
        }
    }
}

/// What an export did.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ExportSummary {
    pub files: Vec<ExportedRun>,
    pub written: i32,
    pub exists: i32,
    pub failed: i32,
    /// The `runs.csv` summary of a CSV export.
    pub index: Option<String>,
    pub cancelled: bool,
    pub listener_errors: i64,
}

/// Implemented by the app: told after each run of `export_runs`.
#[uniffi::export(with_foreign)]
pub trait ExportListener: Send + Sync {
    fn on_run(&self, done: i32, total: i32, run: ExportedRun) -> Result<(), ListenerError>;
}

#[uniffi::export(async_runtime = "tokio")]
impl Strideguard {
    /// Writes runs (ids or id prefixes; an empty list: every run) as `format` files into
    /// `folder`, created if missing. Files already there are kept unless `overwrite`.
    #[uniffi::method(default(overwrite = false, listener = None, cancel = None))]
    pub async fn export_runs(
        self: Arc<Self>,
        run_ids: Vec<String>,
        format: ExportFormat,
        folder: String,
        overwrite: bool,
        listener: Option<Arc<dyn ExportListener>>,
        cancel: Option<Arc<Cancellation>>,
    ) -> Result<ExportSummary, StrideguardError> {
        let me = self.clone();
        background(Some((self, cancel)), move |token: &Cancel| {
            let ids: Vec<Uuid> = me.read(|s| Ok(s.select_runs(&run_ids)?))?;
            let failures = Failures::default();
            let report = store::export_runs(
                me.writer(),
                &ids,
                format.into(),
                &PathBuf::from(folder),
                overwrite,
                &mut |p| {
                    if let Some(l) = &listener {
                        failures.note(l.on_run(p.done as i32, p.total as i32, p.file.into()));
                    }
                },
                token,
            )?;
            let t = report.totals;
            Ok(ExportSummary {
                files: report.files.iter().map(ExportedRun::from).collect(),
                written: t.written as i32,
                exists: t.exists as i32,
                failed: t.failed as i32,
                index: report.index.map(|p| p.display().to_string()),
                cancelled: report.cancelled,
                listener_errors: failures.count(),
            })
        })
        .await
    }
}
