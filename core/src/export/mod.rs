//! Writing runs as FIT, GPX and TCX files: for moving a history to another app, and for building
//! known activities in tests, benchmarks and the demo (which imports what it writes, so the import
//! path is exercised end to end). Pure: a run in, bytes out.

pub mod csv;
pub mod fit;
pub mod gpx;
pub mod tcx;

use crate::import::Format;
use crate::model::{Run, Sample};

/// The formats a run can be written as: the three activity formats, and CSV for a spreadsheet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Fit,
    Gpx,
    Tcx,
    Csv,
}

impl ExportFormat {
    pub const ALL: [ExportFormat; 4] = [
        ExportFormat::Fit,
        ExportFormat::Gpx,
        ExportFormat::Tcx,
        ExportFormat::Csv,
    ];

    /// A format named by its extension or name (`fit`, `.GPX`, `csv`).
    pub fn from_name(name: &str) -> Option<ExportFormat> {
        let n = name.trim().trim_start_matches('.').to_ascii_lowercase();
        ExportFormat::ALL.into_iter().find(|f| f.extension() == n)
    }

    /// The file extension, lower case without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            other => other.activity().map(Format::extension).unwrap_or("csv"),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ExportFormat::Csv => "CSV",
            other => other.activity().map(Format::name).unwrap_or("CSV"),
        }
    }

    /// The activity format, for the formats Strideguard also imports.
    pub fn activity(self) -> Option<Format> {
        match self {
            ExportFormat::Fit => Some(Format::Fit),
            ExportFormat::Gpx => Some(Format::Gpx),
            ExportFormat::Tcx => Some(Format::Tcx),
            ExportFormat::Csv => None,
        }
    }
}

impl From<Format> for ExportFormat {
    fn from(f: Format) -> ExportFormat {
        match f {
            Format::Fit => ExportFormat::Fit,
            Format::Gpx => ExportFormat::Gpx,
            Format::Tcx => ExportFormat::Tcx,
        }
    }
}

/// Why a run cannot be written in a format.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExportError {
    #[error(
        "the run has no GPS positions, and a GPX file is made of them: export it as FIT, TCX or CSV"
    )]
    NoPositions,
}

/// A run as a file of `format`. GPX needs positions: a treadmill run is refused rather than
/// written as a file no app (Strideguard included) would read back.
pub fn write_as(
    run: &Run,
    samples: &[Sample],
    format: ExportFormat,
) -> Result<Vec<u8>, ExportError> {
    match format {
        ExportFormat::Gpx
            if !samples
                .iter()
                .any(|s| s.lat_deg.is_some() && s.lon_deg.is_some()) =>
        {
            Err(ExportError::NoPositions)
        }
        ExportFormat::Csv => Ok(csv::write(samples)),
        other => Ok(write(
            run,
            samples,
            other.activity().expect("the activity formats"),
        )),
    }
}

/// The FIT `sport` of a run.
pub const FIT_SPORT_RUNNING: u8 = 1;

/// A run as a file of `format`, recorded as running.
pub fn write(run: &Run, samples: &[Sample], format: Format) -> Vec<u8> {
    match format {
        Format::Fit => fit::write(run, samples, FIT_SPORT_RUNNING),
        Format::Gpx => gpx::write(run, samples, "running"),
        Format::Tcx => tcx::write(run, samples, "Running"),
    }
}
