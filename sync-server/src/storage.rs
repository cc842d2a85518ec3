//! What the server keeps, behind a trait: SQLite is the embedded default ([`crate::sqlite`]);
//! PostgreSQL ([`crate::postgres`]) serves any number of server processes on one database.
//! Calls are blocking; the HTTP layer runs them off the async runtime.

use strideguard_proto::wire::{Ack, RecordDownload, RecordUpload, RecordsPage};

#[derive(Debug, Clone, thiserror::Error)]
pub enum StorageError {
    #[error("the username is taken")]
    UserExists,
    #[error("the server no longer keeps changes this old (before sequence {purged})")]
    CursorExpired { purged: i64 },
    /// The account has as many devices as it may; one must be revoked first.
    #[error("the account already has {max} devices")]
    DeviceLimit { max: usize },
    /// The disk (or the configured database size) is full: nothing was written.
    #[error("the server's storage is full")]
    Full,
    /// The database cannot be reached (restarting, failing over): nothing was done, and the
    /// same request can be made again shortly.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    #[error("storage failure: {0}")]
    Backend(String),
}

impl From<rusqlite::Error> for StorageError {
    fn from(e: rusqlite::Error) -> Self {
        if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull) {
            StorageError::Full
        } else {
            StorageError::Backend(e.to_string())
        }
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

/// What a passphrase change stores.
#[derive(Debug, Clone)]
pub struct NewKeys {
    pub auth_salt: Vec<u8>,
    pub auth_hash: Vec<u8>,
    pub kdf_iterations: u32,
    pub wrapped_key: Vec<u8>,
    /// The session to keep when every other one ends (`sign_out_others`).
    pub only_session: Option<Vec<u8>>,
}

/// A device to add, with its first session.
#[derive(Debug, Clone)]
pub struct NewDevice {
    pub user_id: i64,
    pub name: String,
    pub now_ms: i64,
    pub created_by: Option<String>,
    pub max_devices: usize,
    pub token_hash: Vec<u8>,
    pub expires_at_ms: i64,
}

/// A bearer token's session, looked up by the token's SHA-256.
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub token_hash: Vec<u8>,
    pub user_id: i64,
    pub device_id: String,
    pub expires_at_ms: i64,
    pub device_revoked: bool,
    /// When the device was last seen, so a request can skip rewriting it within a minute.
    pub device_last_seen_ms: Option<i64>,
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
    /// Replaces the auth hash, KDF parameters and wrapped key (a passphrase change); with
    /// `only_session`, every other session of the user ends in the same transaction. Returns
    /// how many sessions ended.
    fn set_keys(&self, user_id: i64, keys: &NewKeys) -> Result<usize, StorageError>;
    /// A new device of the user with its session, in one transaction; refused with
    /// [`StorageError::DeviceLimit`] when the user already has `max_devices` not revoked.
    /// `created_by` is the device that added it (`POST /v1/devices`), `None` for a login.
    fn add_device_session(&self, new: &NewDevice) -> Result<String, StorageError>;
    fn devices(&self, user_id: i64) -> Result<Vec<DeviceRow>, StorageError>;
    /// Revokes one of the user's devices, and every device it added (and they added), and
    /// ends all their sessions; false if it is not theirs.
    fn revoke_device(
        &self,
        user_id: i64,
        device_id: &str,
        now_ms: i64,
    ) -> Result<bool, StorageError>;
    fn session(&self, token_hash: &[u8]) -> Result<Option<SessionRow>, StorageError>;
    fn delete_session(&self, token_hash: &[u8]) -> Result<(), StorageError>;
    /// Notes that the device made a request now.
    fn touch_device(&self, device_id: &str, now_ms: i64) -> Result<(), StorageError>;
    /// How many accounts use each KDF iteration count, so answers for unknown usernames can
    /// follow the same spread.
    fn kdf_iteration_counts(&self) -> Result<Vec<(u32, u64)>, StorageError>;
    /// A random secret made when the storage was created, kept with the data (it must stay the
    /// same across restarts and across servers sharing the storage).
    fn server_secret(&self) -> Result<Vec<u8>, StorageError>;
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
