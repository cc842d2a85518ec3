//! Importing activity files into runs and sample streams. Parsing is pure (bytes in, a run out);
//! reading files and writing the store are the caller's.
//!
//! FIT carries the watch's UTC offset; GPX and TCX record UTC only, so their runs take the offset
//! of the runner's time zone at the start.

pub mod archive;
mod fit;
mod gpx;
pub mod strava;
mod stream;
mod tcx;
mod xml;

use std::path::Path;

use chrono_tz::Tz;
use sha2::{Digest, Sha256};

use crate::model::{Run, Sample};

/// The file formats Strideguard reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Fit,
    Gpx,
    Tcx,
}

impl Format {
    /// The format by file extension (case-insensitive); `None` for files we do not read.
    pub fn from_path(path: &Path) -> Option<Format> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "fit" => Some(Format::Fit),
            "gpx" => Some(Format::Gpx),
            "tcx" => Some(Format::Tcx),
            _ => None,
        }
    }

    pub const ALL: [Format; 3] = [Format::Fit, Format::Gpx, Format::Tcx];

    pub fn name(self) -> &'static str {
        match self {
            Format::Fit => "FIT",
            Format::Gpx => "GPX",
            Format::Tcx => "TCX",
        }
    }

    /// The file extension, lower case without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Fit => "fit",
            Format::Gpx => "gpx",
            Format::Tcx => "tcx",
        }
    }

    /// A format named by its extension or name (`fit`, `.GPX`, `tcx`), for format hints.
    pub fn from_name(name: &str) -> Option<Format> {
        let n = name.trim().trim_start_matches('.').to_ascii_lowercase();
        Format::ALL.into_iter().find(|f| f.extension() == n)
    }
}

/// What a file turned out to hold.
// One value per file, moved once: the size difference between the variants costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    Run {
        run: Run,
        samples: Vec<Sample>,
        /// What the runner should know about how the file was read (a sport judged from the
        /// cadence and speed because the file does not name one, say).
        note: Option<String>,
    },
    /// A valid activity of another sport (cycling, walking...): skipped, with the reason.
    NotARun { reason: String },
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ImportError {
    #[error("not a valid {format} file: {reason}")]
    Malformed {
        format: &'static str,
        reason: String,
    },
}

/// Parses one file's bytes: one entry per activity in the file, in file order, never none (a
/// multisport FIT or a TCX of several activities holds more than one). Each run gets an id and a
/// fingerprint from the file; `zone` gives the UTC offset when the file does not record one.
/// Never panics on bad bytes.
pub fn parse(format: Format, bytes: &[u8], zone: Tz) -> Result<Vec<Parsed>, ImportError> {
    parse_as(format, bytes, zone, Unlabelled::Judge)
}

/// Who decides whether an activity is a run when its file names no sport (a FIT session
/// labelled `generic`, a GPX or TCX without a type).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Unlabelled {
    /// Its median cadence and speed while moving, and the run's note says so.
    #[default]
    Judge,
    /// The export it came in says it is a run (a "Run" in Strava's `activities.csv`): the
    /// runner's own word, taken over a judgement from the samples, and the note says so.
    Run,
}

/// What every parser is told besides the bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Context {
    /// The zone for a file that records no UTC offset.
    pub zone: Tz,
    pub unlabelled: Unlabelled,
}

/// [`parse`], with `unlabelled` deciding the activities whose file names no sport.
pub fn parse_as(
    format: Format,
    bytes: &[u8],
    zone: Tz,
    unlabelled: Unlabelled,
) -> Result<Vec<Parsed>, ImportError> {
    let cx = Context { zone, unlabelled };
    let mut parsed = match format {
        Format::Fit => fit::parse(bytes, cx)?,
        Format::Gpx => gpx::parse(bytes, cx)?,
        Format::Tcx => tcx::parse(bytes, cx)?,
    };
    let digest = Sha256::digest(bytes);
    for (index, p) in parsed.iter_mut().enumerate() {
        if let Parsed::Run { run, .. } = p {
            // The first activity keeps the file's own digest (what earlier versions stored);
            // the others are told apart by their place in the file.
            let digest = match index {
                0 => digest,
                n => {
                    let mut h = Sha256::new();
                    h.update(digest);
                    h.update((n as u64).to_le_bytes());
                    h.finalize()
                }
            };
            run.source_fingerprint = Some(fingerprint_of(&digest));
            // The id comes from the file too: two devices importing the same file make the
            // same record, so sync merges them instead of keeping two copies. A hash reveals
            // nothing of the content, which keeps the id free of meaning as the sync protocol
            // asks.
            let mut id = [0u8; 16];
            id.copy_from_slice(&digest[..16]);
            run.id = uuid::Builder::from_random_bytes(id).into_uuid();
        }
    }
    Ok(parsed)
}

/// A run's average cadence, the one definition every format uses: the mean of the samples'
/// cadence while the runner was stepping (cadence above zero), each sample weighted by the time
/// since the one before, at most [`CADENCE_GAP_S`], so a file thinned by "smart recording" and
/// a file at 1 Hz give the same average. `None` when no sample has a cadence.
pub fn average_cadence(samples: &[Sample]) -> Option<f64> {
    let (mut total, mut weight) = (0.0, 0.0);
    let mut prev_t: Option<f64> = None;
    for s in samples {
        let dt = prev_t.map_or(1.0, |p| (s.t_s - p).clamp(0.0, CADENCE_GAP_S));
        prev_t = Some(s.t_s);
        if let Some(c) = s.cadence_spm.filter(|c| *c > 0.0) {
            // The first sample, and samples at one instant, count as one second.
            let w = if dt > 0.0 { dt } else { 1.0 };
            total += c * w;
            weight += w;
        }
    }
    (weight > 0.0).then(|| total / weight)
}

/// The longest time one sample's cadence stands for in [`average_cadence`]: beyond it the
/// runner had stopped (auto-pause, a gap in the recording).
pub const CADENCE_GAP_S: f64 = 10.0;

/// A digest of the file's bytes: importing the same file again is recognised by it.
pub fn fingerprint(bytes: &[u8]) -> String {
    fingerprint_of(&Sha256::digest(bytes))
}

fn fingerprint_of(digest: &[u8]) -> String {
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

#[cfg(test)]
mod tests;
