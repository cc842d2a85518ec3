//! Strideguard's core for iOS, Android and watch apps, through uniffi (proc-macros, library
//! mode). A thin layer: every rule lives in `strideguard-core`; this crate turns its types into
//! records and enums the generated Kotlin, Swift and Python understand, and its errors into one
//! enum with readable messages.
//!
//! - [`Strideguard`] ([`app`]): one object per database: runs, shoes, profile, import, the
//!   report, the pain log, triage and plans, and sync (async).
//! - [`CadenceCoach`] ([`coach`]): the live coach, fed readings, cues delivered to a
//!   [`CueListener`] the app implements (speech, haptics).
//! - [`records`]: the data types.

uniffi::setup_scaffolding!("strideguard");

pub mod app;
pub mod coach;
pub mod records;

pub use app::Strideguard;
pub use coach::{CadenceCoach, CueListener};

use strideguard_core::StoreError;
use strideguard_core::sync::{SyncError, TransportError};

/// Every failure, with a message fit to show a runner. Flat: in Kotlin, Swift and Python each
/// variant is an exception whose message is the text below.
#[derive(Debug, thiserror::Error, uniffi::Error)]
#[uniffi(flat_error)]
pub enum StrideguardError {
    /// The database could not be opened, read or written.
    #[error("{message}")]
    Store { message: String },
    /// An argument was not acceptable; the message names it.
    #[error("{message}")]
    InvalidInput { message: String },
    /// No run, shoe, plan or exercise matches.
    #[error("{message}")]
    NotFound { message: String },
    /// A file could not be imported.
    #[error("{message}")]
    Import { message: String },
    /// The passphrase (or username) is not the account's.
    #[error("{message}")]
    WrongPassphrase { message: String },
    /// The server refused the session: log in again.
    #[error("{message}")]
    Unauthorized { message: String },
    /// Sync failed (network, server, or not logged in); nothing was lost.
    #[error("{message}")]
    Sync { message: String },
}

impl StrideguardError {
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        StrideguardError::InvalidInput {
            message: message.into(),
        }
    }
}

impl From<StoreError> for StrideguardError {
    fn from(e: StoreError) -> Self {
        let message = e.to_string();
        match e {
            StoreError::NotFound { .. } | StoreError::Ambiguous { .. } => {
                StrideguardError::NotFound { message }
            }
            StoreError::Invalid { .. } | StoreError::DuplicateShoeName(_) => {
                StrideguardError::InvalidInput { message }
            }
            _ => StrideguardError::Store { message },
        }
    }
}

impl From<SyncError> for StrideguardError {
    fn from(e: SyncError) -> Self {
        let message = e.to_string();
        match e {
            SyncError::Store(s) => s.into(),
            SyncError::WrongPassphrase(_)
            | SyncError::Crypto(strideguard_core::crypto::CryptoError::WrongPassphrase) => {
                StrideguardError::WrongPassphrase { message }
            }
            SyncError::Transport(TransportError::Unauthorized(_)) => {
                StrideguardError::Unauthorized { message }
            }
            _ => StrideguardError::Sync { message },
        }
    }
}

/// The library's version: also the cheapest call there is (the per-call overhead benchmark).
#[uniffi::export]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}
