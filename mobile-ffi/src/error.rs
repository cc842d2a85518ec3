//! One error enum for every export. Each variant says what kind of failure it is, so an app
//! can branch on it (ask again, log in again, retry later), carries the fields an app can use
//! (the field that was wrong, the HTTP status, when to retry), and a `reason` fit to show a
//! runner. Core's texts name no command of the CLI.

use strideguard_core::StoreError;
use strideguard_core::crypto::CryptoError;
use strideguard_core::store::{ExportFailed, ImportFailed};
use strideguard_core::sync::{SyncError, TransportError};

#[derive(Debug, Clone, PartialEq, thiserror::Error, uniffi::Error)]
pub enum StrideguardError {
    /// Something the runner or the app gave is not acceptable; `field` names it.
    #[error("{reason}")]
    InvalidInput { field: String, reason: String },
    /// No run, shoe, plan exercise or device matches `key`.
    #[error("{reason}")]
    NotFound {
        what: String,
        key: String,
        reason: String,
    },
    /// The database could not be opened, read or written.
    #[error("{reason}")]
    Store { reason: String },
    /// A file could not be imported (damaged, cut short, not an activity).
    #[error("{reason}")]
    Import {
        path: Option<String>,
        reason: String,
    },
    /// The passphrase (or username) is not the account's.
    #[error("{reason}")]
    WrongPassphrase { reason: String },
    /// The server ended this device's session (revoked, expired): `logout()` (the data stays),
    /// then `login(...)` again.
    #[error("{reason}")]
    Unauthorized { reason: String },
    /// This database is not linked to a sync account yet.
    #[error("{reason}")]
    NotLinked { reason: String },
    /// The request conflicts with the state: already linked to another account, or another
    /// device keeps writing the same records.
    #[error("{reason}")]
    Conflict { reason: String },
    /// The server could not be reached; nothing was lost, try again later.
    #[error("{reason}")]
    Network { reason: String },
    /// The server refused or failed: `status` is the HTTP status (absent when the answer made
    /// no sense), `limit` the limit broken (413, 429), `retry_after_seconds` when to retry.
    #[error("{reason}")]
    Server {
        status: Option<i32>,
        code: String,
        limit: Option<String>,
        retry_after_seconds: Option<i64>,
        reason: String,
    },
    /// The work was cancelled; what was done is kept.
    #[error("{reason}")]
    Cancelled { reason: String },
    /// A bug in Strideguard (a background task failed).
    #[error("{reason}")]
    Internal { reason: String },
}

impl StrideguardError {
    /// The same error with the field named `to` where it said `from` (for a call whose
    /// parameter has another name than core's field).
    pub(crate) fn renamed(self, from: &str, to: &str) -> Self {
        match self {
            StrideguardError::InvalidInput { field, reason } if field == from => {
                StrideguardError::InvalidInput {
                    field: to.to_string(),
                    reason,
                }
            }
            other => other,
        }
    }

    pub(crate) fn invalid(field: &str, reason: impl Into<String>) -> Self {
        StrideguardError::InvalidInput {
            field: field.to_string(),
            reason: reason.into(),
        }
    }

    pub(crate) fn internal(reason: impl Into<String>) -> Self {
        StrideguardError::Internal {
            reason: reason.into(),
        }
    }
}

/// The field a store complaint is about, by the name the bindings give it. Core names fields in
/// words for its messages ("average heart rate"); an app wants the record field.
fn field_of(what: &str) -> String {
    match what {
        "RPE" => "rpe",
        "distance" => "distance_meters",
        "duration" => "duration_seconds",
        "moving time" => "moving_time_seconds",
        "elevation gain" => "elevation_gain_meters",
        "elevation loss" => "elevation_loss_meters",
        "average heart rate" => "avg_heart_rate_bpm",
        "max heart rate" => "max_heart_rate_bpm",
        "resting heart rate" | "heart rate" => "resting_heart_rate_bpm",
        "average cadence" | "cadence" => "avg_cadence_spm",
        "target cadence" => "target_spm",
        "cadence increase" => "cadence_increase_pct",
        "height" => "height_meters",
        "time zone" => "time_zone",
        "shoe name" => "name",
        "wear-check distance" => "wear_at_meters",
        "replace distance" => "replace_at_meters",
        "start distance" => "start_distance_meters",
        "default" | "shoe" => "shoe",
        "pain answers" => "severity",
        "KDF iterations" => "kdf_iterations",
        "page size" => "limit",
        other => return other.replace([' ', '-'], "_").to_lowercase(),
    }
    .to_string()
}

impl From<StoreError> for StrideguardError {
    fn from(e: StoreError) -> Self {
        let reason = e.to_string();
        match e {
            StoreError::NotFound { what, key } => StrideguardError::NotFound {
                what: what.to_string(),
                key,
                reason,
            },
            StoreError::Ambiguous { what, .. } => StrideguardError::InvalidInput {
                field: field_of(what),
                reason,
            },
            // Linking a second account is a conflict with the state, not a typo.
            StoreError::Invalid {
                field: "account", ..
            } => StrideguardError::Conflict { reason },
            StoreError::Invalid { field, .. } => StrideguardError::InvalidInput {
                field: field_of(field),
                reason,
            },
            StoreError::OutOfRange(r) => StrideguardError::InvalidInput {
                field: field_of(r.what),
                reason,
            },
            StoreError::DuplicateShoeName(_) => StrideguardError::InvalidInput {
                field: "name".into(),
                reason,
            },
            StoreError::NotInPlan { .. } => StrideguardError::InvalidInput {
                field: "exercise_id".into(),
                reason,
            },
            // The run cannot be written in the format asked for (a GPX without positions).
            StoreError::Export(_) => StrideguardError::InvalidInput {
                field: "format".into(),
                reason,
            },
            _ => StrideguardError::Store { reason },
        }
    }
}

impl From<ExportFailed> for StrideguardError {
    fn from(e: ExportFailed) -> Self {
        let reason = e.to_string();
        match e {
            ExportFailed::Folder { .. } | ExportFailed::NotAFolder { .. } => {
                StrideguardError::invalid("folder", reason)
            }
            ExportFailed::Index { .. } => StrideguardError::Store { reason },
            ExportFailed::Store(e) => e.into(),
        }
    }
}

impl From<TransportError> for StrideguardError {
    fn from(e: TransportError) -> Self {
        let reason = e.to_string();
        match e {
            TransportError::Unauthorized(_) => StrideguardError::Unauthorized { reason },
            TransportError::Network(_) => StrideguardError::Network { reason },
            TransportError::InvalidUrl(_) => StrideguardError::invalid("server", reason),
            TransportError::Rejected {
                status,
                code,
                limit,
                retry_after_s,
                ..
            } => StrideguardError::Server {
                status: Some(i32::from(status)),
                code,
                limit,
                retry_after_seconds: retry_after_s.map(|s| s as i64),
                reason,
            },
            TransportError::CursorExpired => StrideguardError::Server {
                status: Some(410),
                code: "cursor_expired".into(),
                limit: None,
                retry_after_seconds: None,
                reason,
            },
            TransportError::Cancelled => StrideguardError::Cancelled { reason },
            TransportError::Protocol(_) => StrideguardError::Server {
                status: None,
                code: "protocol".into(),
                limit: None,
                retry_after_seconds: None,
                reason,
            },
        }
    }
}

impl From<SyncError> for StrideguardError {
    fn from(e: SyncError) -> Self {
        let reason = e.to_string();
        match e {
            SyncError::Store(s) => s.into(),
            SyncError::Transport(t) => t.into(),
            SyncError::Crypto(CryptoError::WrongPassphrase) | SyncError::WrongPassphrase(_) => {
                StrideguardError::WrongPassphrase { reason }
            }
            SyncError::Crypto(CryptoError::Tampered { .. }) => StrideguardError::Server {
                status: None,
                code: "tampered".into(),
                limit: None,
                retry_after_seconds: None,
                reason,
            },
            SyncError::Crypto(_) => StrideguardError::Internal { reason },
            SyncError::NotLinked => StrideguardError::NotLinked { reason },
            SyncError::AlreadyLinked { .. } | SyncError::ConflictLoop(_) => {
                StrideguardError::Conflict { reason }
            }
            SyncError::InvalidInput { field, .. } => StrideguardError::invalid(field, reason),
            SyncError::UsernameTaken(_) => StrideguardError::invalid("username", reason),
            SyncError::NoSuchDevice(key) => StrideguardError::NotFound {
                what: "device".into(),
                key,
                reason,
            },
            SyncError::AmbiguousDevice { .. } => StrideguardError::invalid("device_id", reason),
            SyncError::Cancelled => StrideguardError::Cancelled { reason },
        }
    }
}

impl From<ImportFailed> for StrideguardError {
    fn from(e: ImportFailed) -> Self {
        match e {
            ImportFailed::Store(s) => s.into(),
            other => StrideguardError::Import {
                path: None,
                reason: other.to_string(),
            },
        }
    }
}
