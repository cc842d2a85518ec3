//! Importing activity files into runs and sample streams. Parsing is pure (bytes in, a run out);
//! reading files and writing the store are the caller's.
//!
//! FIT carries the watch's UTC offset; GPX and TCX record UTC only, so their runs take the offset
//! of the runner's time zone at the start.

mod fit;
mod gpx;
mod stream;
mod tcx;

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
    },
    /// A valid activity of another sport (cycling, walking...): skipped, with the reason.
    NotARun {
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ImportError {
    #[error("not a valid {format} file: {reason}")]
    Malformed {
        format: &'static str,
        reason: String,
    },
}

/// Parses one file's bytes. The run gets a fresh id and the file's fingerprint; `zone` gives the
/// UTC offset when the file does not record one. Never panics on bad bytes.
pub fn parse(format: Format, bytes: &[u8], zone: Tz) -> Result<Parsed, ImportError> {
    let mut parsed = match format {
        Format::Fit => fit::parse(bytes, zone)?,
        Format::Gpx => gpx::parse(bytes, zone)?,
        Format::Tcx => tcx::parse(bytes, zone)?,
    };
    if let Parsed::Run { run, .. } = &mut parsed {
        let digest = Sha256::digest(bytes);
        run.source_fingerprint = Some(fingerprint_of(&digest));
        // The id comes from the file too: two devices importing the same file make the same
        // record, so sync merges them instead of keeping two copies. A hash reveals nothing of
        // the content, which keeps the id free of meaning as the sync protocol asks.
        let mut id = [0u8; 16];
        id.copy_from_slice(&digest[..16]);
        run.id = uuid::Builder::from_random_bytes(id).into_uuid();
    }
    Ok(parsed)
}

/// The text of an XML file (GPX, TCX); a file that is not UTF-8 is malformed.
fn xml_text<'a>(format: &'static str, bytes: &'a [u8]) -> Result<&'a str, ImportError> {
    std::str::from_utf8(bytes).map_err(|e| ImportError::Malformed {
        format,
        reason: format!("not UTF-8 text (byte {})", e.valid_up_to()),
    })
}

/// The next XML event; a parse error names the byte it happened at.
fn next_xml_event<'a>(
    format: &'static str,
    reader: &mut quick_xml::Reader<&'a [u8]>,
) -> Result<quick_xml::events::Event<'a>, ImportError> {
    reader.read_event().map_err(|e| ImportError::Malformed {
        format,
        reason: format!("at byte {}: {e}", reader.buffer_position()),
    })
}

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
