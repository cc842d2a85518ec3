//! Writing runs as FIT, GPX and TCX files: for moving a history to another app, and for building
//! known activities in tests, benchmarks and the demo (which imports what it writes, so the import
//! path is exercised end to end). Pure: a run in, bytes out.

pub mod fit;
pub mod gpx;
pub mod tcx;

use crate::import::Format;
use crate::model::{Run, Sample};

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
