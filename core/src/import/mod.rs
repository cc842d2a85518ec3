//! Importing activity files into runs and sample streams. Parsing is pure (bytes in, a run out);
//! reading files and writing the store are the caller's.
//!
//! Built so far: FIT. GPX and TCX are the next part of the import issue.

mod fit;

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::model::{Run, Sample};

/// The file formats Strideguard reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Fit,
}

impl Format {
    /// The format by file extension (case-insensitive); `None` for files we do not read.
    pub fn from_path(path: &Path) -> Option<Format> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "fit" => Some(Format::Fit),
            _ => None,
        }
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

/// Parses one file's bytes. The run gets a fresh id and the file's fingerprint.
pub fn parse(format: Format, bytes: &[u8]) -> Result<Parsed, ImportError> {
    let mut parsed = match format {
        Format::Fit => fit::parse(bytes)?,
    };
    if let Parsed::Run { run, .. } = &mut parsed {
        run.source_fingerprint = Some(fingerprint(bytes));
    }
    Ok(parsed)
}

/// A digest of the file's bytes: importing the same file again is recognised by it.
pub fn fingerprint(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

#[cfg(test)]
mod tests;
