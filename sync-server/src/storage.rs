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
    /// The device adding another was revoked before the new one was stored.
    #[error("the device adding this one has been revoked")]
    CreatorRevoked,
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
    fn touch_device(&self, user_id: i64, device_id: &str, now_ms: i64) -> Result<(), StorageError>;
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
    /// Whether several server processes share this storage, so that limits must be counted in
    /// it ([`Storage::shared_count`]) to hold across them. False for SQLite, which one process
    /// serves: its limits stay in memory, with no query per request.
    fn counts_shared(&self) -> bool {
        false
    }
    /// Adds `add` to the counter `key` of the minute `minute` shared by every server on this
    /// storage, and returns its value after (`add` 0 reads it): how a limit, such as a
    /// username's failed logins, holds across server processes. `None` for a storage only one
    /// process serves (SQLite), whose server counts in its own memory.
    fn shared_count(
        &self,
        _key: &str,
        _minute: i64,
        _add: u32,
    ) -> Result<Option<u32>, StorageError> {
        Ok(None)
    }
}

/// What an upload batch does, decided from the records it would replace: the rules every
/// backend keeps, in one place.
#[derive(Debug)]
pub enum BatchPlan<'a> {
    /// `if_seq` mismatches: nothing is written; the current records.
    Conflict(Vec<RecordDownload>),
    /// The batch would take the user past their quota: nothing is written.
    OverQuota { used: u64, quota: u64 },
    /// Write `writes`, in order, each under the next number; `retried` are records already
    /// stored exactly so (a retry after a lost answer), acknowledged with their numbers.
    Write {
        retried: Vec<Ack>,
        writes: Vec<&'a RecordUpload>,
        used_after: u64,
    },
}

/// Plans `batch` against `current` (for each of its records, the stored one it would
/// replace) for a user using `used` bytes of `quota`.
pub fn plan_batch<'a>(
    batch: &'a [RecordUpload],
    current: &[Option<RecordDownload>],
    used: u64,
    quota: u64,
) -> BatchPlan<'a> {
    let mut conflicts = Vec::new();
    let mut retried = Vec::new();
    let mut writes = Vec::new();
    let mut delta: i64 = 0;
    for (rec, existing) in batch.iter().zip(current) {
        match existing {
            Some(e) if e.payload == rec.payload && e.deleted == rec.deleted => {
                retried.push(Ack {
                    collection: rec.collection.clone(),
                    id: rec.id.clone(),
                    seq: e.seq,
                });
                continue;
            }
            Some(e) if rec.if_seq.is_some_and(|s| s != e.seq) => {
                conflicts.push(e.clone());
                continue;
            }
            _ => {}
        }
        delta += rec.payload.len() as i64 - existing.as_ref().map_or(0, |e| e.payload.len() as i64);
        writes.push(rec);
    }
    if !conflicts.is_empty() {
        return BatchPlan::Conflict(conflicts);
    }
    let used_after = (used as i64 + delta).max(0) as u64;
    if delta > 0 && used_after > quota {
        return BatchPlan::OverQuota { used, quota };
    }
    BatchPlan::Write {
        retried,
        writes,
        used_after,
    }
}

/// A page of records read in sequence order after `since`: at most `max_records`, and no more
/// than `max_bytes` of payload unless a single record is bigger (a page always moves on).
/// `rows` may hold one record more than the page, to tell whether it is the last; they are read
/// only as far as the page goes, so a backend can stream them.
pub fn page<E>(
    since: i64,
    rows: impl IntoIterator<Item = Result<RecordDownload, E>>,
    max_records: usize,
    max_bytes: usize,
) -> Result<RecordsPage, E> {
    let mut records: Vec<RecordDownload> = Vec::new();
    let mut bytes = 0;
    let mut done = true;
    for rec in rows {
        let rec = rec?;
        if records.len() == max_records
            || (!records.is_empty() && bytes + rec.payload.len() > max_bytes)
        {
            done = false;
            break;
        }
        bytes += rec.payload.len();
        records.push(rec);
    }
    let next = records.last().map_or(since, |r| r.seq);
    Ok(RecordsPage {
        records,
        next,
        done,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(seq: i64, bytes: usize) -> RecordDownload {
        RecordDownload {
            collection: "c".into(),
            id: format!("r{seq}"),
            seq,
            deleted: false,
            updated_at_ms: 0,
            payload: vec![0; bytes],
        }
    }

    fn cut(
        rows: Vec<RecordDownload>,
        max_records: usize,
        max_bytes: usize,
    ) -> (Vec<i64>, i64, bool) {
        let p = page::<()>(5, rows.into_iter().map(Ok), max_records, max_bytes).unwrap();
        (p.records.iter().map(|r| r.seq).collect(), p.next, p.done)
    }

    #[test]
    fn a_page_stops_at_its_count_or_its_bytes_but_always_moves_on() {
        let rows = || (6..=9).map(|s| stored(s, 100)).collect::<Vec<_>>();
        assert_eq!(cut(rows(), 10, 1000), (vec![6, 7, 8, 9], 9, true));
        assert_eq!(cut(rows(), 2, 1000), (vec![6, 7], 7, false));
        assert_eq!(cut(rows(), 10, 250), (vec![6, 7], 7, false));
        // One record bigger than a page is a page of its own.
        assert_eq!(cut(rows(), 10, 50), (vec![6], 6, false));
        assert_eq!(
            cut(Vec::new(), 10, 50),
            (vec![], 5, true),
            "nothing new: the cursor stays"
        );
    }

    #[test]
    fn a_batch_plan_acknowledges_retries_refuses_stale_writes_and_counts_the_quota() {
        let up = |id: &str, bytes: usize, if_seq: Option<i64>| RecordUpload {
            collection: "c".into(),
            id: id.into(),
            if_seq,
            deleted: false,
            payload: vec![0; bytes],
        };
        let mut same = stored(3, 10);
        same.id = "a".into();
        let batch = [up("a", 10, None), up("b", 30, None)];
        match plan_batch(&batch, &[Some(same.clone()), None], 100, 1000) {
            BatchPlan::Write {
                retried,
                writes,
                used_after,
            } => {
                assert_eq!((retried.len(), retried[0].seq), (1, 3), "a is stored as is");
                assert_eq!(writes.len(), 1);
                assert_eq!(used_after, 130);
            }
            other => panic!("{other:?}"),
        }
        let stale = [up("a", 12, Some(2))];
        assert!(matches!(
            plan_batch(&stale, &[Some(same.clone())], 100, 1000),
            BatchPlan::Conflict(c) if c[0].seq == 3
        ));
        assert!(matches!(
            plan_batch(&batch, &[Some(same.clone()), None], 100, 120),
            BatchPlan::OverQuota {
                used: 100,
                quota: 120
            }
        ));
        // Shrinking is never over quota, even for a user past it.
        let smaller = [up("a", 2, None)];
        assert!(matches!(
            plan_batch(&smaller, &[Some(same)], 500, 100),
            BatchPlan::Write {
                used_after: 492,
                ..
            }
        ));
    }
}
