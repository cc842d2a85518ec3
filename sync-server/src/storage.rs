//! What the server keeps, behind a trait: SQLite is the embedded default ([`crate::sqlite`]);
//! a PostgreSQL backend would implement the same trait to serve stateless replicas. Calls are
//! blocking; the HTTP layer runs them off the async runtime.

use strideguard_proto::wire::{Ack, RecordDownload, RecordUpload, RecordsPage};

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("the username is taken")]
    UserExists,
    #[error("the server no longer keeps changes this old (before sequence {purged})")]
    CursorExpired { purged: i64 },
    #[error("storage failure: {0}")]
    Backend(String),
}

impl From<rusqlite::Error> for StorageError {
    fn from(e: rusqlite::Error) -> Self {
        StorageError::Backend(e.to_string())
    }
}

/// An account as stored: the auth key only as a salted hash.
#[derive(Debug, Clone)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub auth_salt: Vec<u8>,
    pub auth_hash: Vec<u8>,
    pub kdf_iterations: u32,
    pub wrapped_key: Vec<u8>,
    pub used_bytes: u64,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub auth_salt: Vec<u8>,
    pub auth_hash: Vec<u8>,
    pub kdf_iterations: u32,
    pub wrapped_key: Vec<u8>,
    pub now_ms: i64,
}

#[derive(Debug, Clone)]
pub struct DeviceRow {
    pub id: String,
    pub name: String,
    pub created_at_ms: i64,
    pub last_seen_ms: Option<i64>,
    pub revoked: bool,
}

/// A bearer token's session, looked up by the token's SHA-256.
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub token_hash: Vec<u8>,
    pub user_id: i64,
    pub device_id: String,
    pub expires_at_ms: i64,
    pub device_revoked: bool,
}

/// The result of an upload batch (all of it lands, or none).
#[derive(Debug, Clone)]
pub enum PutOutcome {
    Accepted(Vec<Ack>),
    /// `if_seq` mismatches: the current records.
    Conflict(Vec<RecordDownload>),
    OverQuota {
        used: u64,
        quota: u64,
    },
}

/// What deleting an account removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Deleted {
    pub records: u64,
    pub devices: u64,
    pub sessions: u64,
}

/// Totals for `/metrics`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Totals {
    pub users: u64,
    pub devices: u64,
    pub records: u64,
    pub bytes: u64,
}

pub trait Storage: Send + Sync + 'static {
    fn create_user(&self, user: &NewUser) -> Result<i64, StorageError>;
    fn user(&self, username: &str) -> Result<Option<User>, StorageError>;
    fn user_by_id(&self, id: i64) -> Result<Option<User>, StorageError>;
    /// Replaces the auth hash, KDF parameters and wrapped key (a passphrase change).
    fn set_keys(
        &self,
        user_id: i64,
        auth_salt: &[u8],
        auth_hash: &[u8],
        kdf_iterations: u32,
        wrapped_key: &[u8],
    ) -> Result<(), StorageError>;
    fn add_device(&self, user_id: i64, name: &str, now_ms: i64) -> Result<String, StorageError>;
    fn devices(&self, user_id: i64) -> Result<Vec<DeviceRow>, StorageError>;
    /// Revokes one of the user's devices and ends its sessions; false if it is not theirs.
    fn revoke_device(
        &self,
        user_id: i64,
        device_id: &str,
        now_ms: i64,
    ) -> Result<bool, StorageError>;
    fn add_session(
        &self,
        token_hash: &[u8],
        user_id: i64,
        device_id: &str,
        expires_at_ms: i64,
    ) -> Result<(), StorageError>;
    fn session(&self, token_hash: &[u8]) -> Result<Option<SessionRow>, StorageError>;
    fn delete_session(&self, token_hash: &[u8]) -> Result<(), StorageError>;
    /// Stores a batch in one transaction, committed durably before it returns.
    fn put_records(
        &self,
        user_id: i64,
        device_id: &str,
        batch: Vec<RecordUpload>,
        now_ms: i64,
        quota_bytes: u64,
    ) -> Result<PutOutcome, StorageError>;
    /// Records after `since` in sequence order, at most `max_records` and about `max_bytes`.
    fn records(
        &self,
        user_id: i64,
        since: i64,
        collection: Option<&str>,
        max_records: usize,
        max_bytes: usize,
    ) -> Result<RecordsPage, StorageError>;
    /// Drops tombstones last written before `before_ms`; devices behind them resync.
    fn purge_tombstones(&self, before_ms: i64) -> Result<usize, StorageError>;
    fn totals(&self) -> Result<Totals, StorageError>;
    /// Deletes the user and everything of theirs (records, devices, sessions) in one
    /// transaction; the username is free again afterwards.
    fn delete_user(&self, user_id: i64) -> Result<Deleted, StorageError>;
}
