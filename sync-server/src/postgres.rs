//! PostgreSQL storage: one database that any number of server processes share, each holding
//! no state of its own (accounts, devices, sessions, records and the server's secret all live
//! in the database). Chosen with `--database-url postgres://...`; the connection string may
//! name several hosts with `target_session_attrs=read-write`, so a server follows a failover to
//! the new primary by itself.
//!
//! The same semantics as [`crate::sqlite`]:
//! - a user's records are numbered inside the transaction that stores them, under a lock on
//!   the user's row: two uploads of one user commit one after the other, in the order of their
//!   numbers, so a pull that has seen number N never later finds a record below N appear;
//! - a batch lands whole or not at all, `if_seq` conflicts and the quota are checked in the
//!   same transaction, and no answer leaves before the commit (PostgreSQL's default
//!   `synchronous_commit = on`: durable, and on a synchronous standby too when one is set);
//! - versioned migrations, applied under an advisory lock so that servers starting together
//!   migrate once.
//!
//! A connection that breaks is dropped and the call answered [`StorageError::Unavailable`]
//! (a 503 with Retry-After): the next call connects again. Calls are blocking (the `postgres`
//! client), made off the async runtime like the SQLite ones.

use std::sync::{Condvar, Mutex};
use std::time::Duration;

use postgres::error::SqlState;
use postgres::{Client, Config, NoTls, Transaction};
use strideguard_proto::wire::{Ack, RecordDownload, RecordUpload, RecordsPage};
use uuid::Uuid;

use crate::storage::{
    BatchPlan, Deleted, DeviceRow, NewDevice, NewKeys, NewUser, PutOutcome, SessionRow, Storage,
    StorageError, Totals, User, page, plan_batch,
};

/// The schema, as numbered migrations recorded in `strideguard_schema`. Never edit a shipped
/// one; add the next. The first is the SQLite schema's three migrations in one; the second the
/// shared rate-limit counters (unlogged: counts of a minute need no crash safety, and they
/// cost no write-ahead log).
const MIGRATIONS: &[&str] = &[
    "
CREATE TABLE users (
    id             BIGSERIAL PRIMARY KEY,
    username       TEXT NOT NULL UNIQUE,
    auth_salt      BYTEA NOT NULL,
    auth_hash      BYTEA NOT NULL,
    kdf_iterations BIGINT NOT NULL,
    wrapped_key    BYTEA NOT NULL,
    created_at_ms  BIGINT NOT NULL,
    last_seq       BIGINT NOT NULL DEFAULT 0,
    purged_seq     BIGINT NOT NULL DEFAULT 0,
    used_bytes     BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE devices (
    id            TEXT PRIMARY KEY,
    user_id       BIGINT NOT NULL REFERENCES users (id),
    name          TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    last_seen_ms  BIGINT,
    revoked_at_ms BIGINT,
    created_by    TEXT
);
CREATE INDEX devices_by_user ON devices (user_id);
CREATE INDEX devices_by_creator ON devices (created_by) WHERE created_by IS NOT NULL;
CREATE TABLE sessions (
    token_hash    BYTEA PRIMARY KEY,
    user_id       BIGINT NOT NULL REFERENCES users (id),
    device_id     TEXT NOT NULL REFERENCES devices (id),
    expires_at_ms BIGINT NOT NULL
);
CREATE INDEX sessions_by_device ON sessions (device_id);
CREATE INDEX sessions_by_user ON sessions (user_id);
CREATE TABLE records (
    user_id       BIGINT NOT NULL REFERENCES users (id),
    collection    TEXT NOT NULL,
    id            TEXT NOT NULL,
    seq           BIGINT NOT NULL,
    deleted       BOOLEAN NOT NULL,
    payload       BYTEA NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    device_id     TEXT NOT NULL,
    PRIMARY KEY (user_id, collection, id)
);
CREATE UNIQUE INDEX records_by_seq ON records (user_id, seq);
CREATE INDEX tombstones ON records (updated_at_ms) WHERE deleted;
CREATE TABLE server_meta (
    key   TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);
",
    "
-- 2: rate-limit counters every server shares, by key and minute.
CREATE UNLOGGED TABLE rate_counts (
    key    TEXT NOT NULL,
    minute BIGINT NOT NULL,
    count  BIGINT NOT NULL,
    PRIMARY KEY (key, minute)
);
",
];

/// The schema version this server writes.
pub const SCHEMA_VERSION: i32 = MIGRATIONS.len() as i32;

/// The advisory lock that servers starting at once take to migrate one at a time.
const MIGRATION_LOCK: i64 = 0x5354_5244_4755_4152; // "STRDGUAR"

/// Connections kept per server process: enough for the blocking threads that run storage
/// calls at once, few enough that many processes fit in PostgreSQL's `max_connections`.
const POOL: usize = 16;

/// How long a call waits for a connection to the database before answering unavailable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

pub struct PostgresStorage {
    config: Config,
    idle: Mutex<Pool>,
    freed: Condvar,
}

struct Pool {
    idle: Vec<Client>,
    /// Connections out (in use) or idle.
    open: usize,
}

/// A connection taken from the pool, given back when dropped (unless it broke).
struct Conn<'a> {
    storage: &'a PostgresStorage,
    client: Option<Client>,
}

impl std::ops::Deref for Conn<'_> {
    type Target = Client;
    fn deref(&self) -> &Client {
        self.client.as_ref().expect("held until dropped")
    }
}

impl std::ops::DerefMut for Conn<'_> {
    fn deref_mut(&mut self) -> &mut Client {
        self.client.as_mut().expect("held until dropped")
    }
}

std::thread_local! {
    /// Set when a call on this thread met an error a retry can cure ([`storage_error`]): the
    /// connection it used is not given back, nor are the idle ones, which were opened to the
    /// same server. After a failover the old primary may come back as a read-only standby with
    /// its connections open; a pool that kept them would answer 503 for ever.
    static SUSPECT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

impl Drop for Conn<'_> {
    fn drop(&mut self) {
        let suspect = SUSPECT.with(|s| s.replace(false));
        let mut pool = self.storage.pool();
        let stale = if suspect {
            std::mem::take(&mut pool.idle)
        } else {
            Vec::new()
        };
        pool.open -= stale.len();
        match self.client.take() {
            Some(c) if !c.is_closed() && !suspect => pool.idle.push(c),
            _ => pool.open -= 1,
        }
        drop(pool);
        self.storage.freed.notify_all();
        // Closing them may block on a dead server: outside the pool's lock.
        drop(stale);
    }
}

impl Drop for PostgresStorage {
    /// The last server holding the storage may be an async task ending with its runtime,
    /// where the blocking client cannot close a connection (it would block the runtime): the
    /// idle connections are closed on a thread of their own.
    fn drop(&mut self) {
        let idle = std::mem::take(&mut self.pool().idle);
        if !idle.is_empty() {
            let _ = std::thread::Builder::new()
                .name("strideguard-pg-close".into())
                .spawn(move || drop(idle));
        }
    }
}

/// True about once in `n` calls, from the system's randomness.
fn rand_one_in(n: u8) -> bool {
    let mut b = [0u8; 1];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b).is_ok()
        && b[0] % n == 0
}

/// A PostgreSQL error as the API answers it: what a retry can cure (a lost connection, a
/// server shutting down or failing over, a standby reached, a deadlock or serialization
/// failure rolled back) is unavailable, a 503; anything else is a failure of ours, a 500.
fn storage_error(e: postgres::Error) -> StorageError {
    use std::error::Error as _;
    let lost = e.is_closed()
        || e.source()
            .is_some_and(|s| s.downcast_ref::<std::io::Error>().is_some());
    match e.code() {
        Some(c) if *c == SqlState::DISK_FULL => StorageError::Full,
        // The server is going, gone, or no longer the primary: so are its other connections.
        Some(c)
            if c.code().starts_with("08")
                || *c == SqlState::ADMIN_SHUTDOWN
                || *c == SqlState::CRASH_SHUTDOWN
                || *c == SqlState::CANNOT_CONNECT_NOW
                || *c == SqlState::READ_ONLY_SQL_TRANSACTION =>
        {
            SUSPECT.with(|s| s.set(true));
            StorageError::Unavailable(e.to_string())
        }
        None if lost => {
            SUSPECT.with(|s| s.set(true));
            StorageError::Unavailable(e.to_string())
        }
        // Rolled back, the connection fine: only this call is to be made again.
        Some(c)
            if *c == SqlState::T_R_DEADLOCK_DETECTED
                || *c == SqlState::T_R_SERIALIZATION_FAILURE =>
        {
            StorageError::Unavailable(e.to_string())
        }
        _ => StorageError::Backend(e.to_string()),
    }
}

impl From<postgres::Error> for StorageError {
    fn from(e: postgres::Error) -> Self {
        storage_error(e)
    }
}

impl PostgresStorage {
    /// Connects to `url` (a `postgres://` URL or `key=value` pairs, several hosts allowed),
    /// brings the schema to [`SCHEMA_VERSION`] and makes the server's secret if the database
    /// has none. A database of another program, or of a newer server, is refused untouched.
    pub fn connect(url: &str) -> Result<PostgresStorage, StorageError> {
        let storage = PostgresStorage::connect_any(url)?;
        let shard: Option<Vec<u8>> = storage.with_client(|c| {
            Ok(
                c.query_opt("SELECT value FROM server_meta WHERE key = 'shard_of'", &[])?
                    .map(|r| r.get(0)),
            )
        })?;
        if shard.is_some() {
            return Err(StorageError::Backend(
                "this database is one cluster of several (its users are numbered by a \
                 directory): serve it with the same --shard NAME=URL list as before, not \
                 --database-url"
                    .into(),
            ));
        }
        Ok(storage)
    }

    /// [`PostgresStorage::connect`] without refusing a cluster of a directory: for
    /// [`crate::ShardedStorage`], which checks the cluster is its own.
    pub(crate) fn connect_any(url: &str) -> Result<PostgresStorage, StorageError> {
        let mut config: Config = url.parse().map_err(|e| {
            StorageError::Backend(format!("the database URL is not one PostgreSQL reads: {e}"))
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("strideguard-server");
        }
        let storage = PostgresStorage {
            config,
            idle: Mutex::new(Pool {
                idle: Vec::new(),
                open: 0,
            }),
            freed: Condvar::new(),
        };
        {
            let mut conn = storage.conn()?;
            migrate(&mut conn)?;
            let mut secret = [0u8; 32];
            ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut secret)
                .map_err(|_| StorageError::Backend("no system randomness".into()))?;
            conn.execute(
                "INSERT INTO server_meta (key, value) VALUES ('secret', $1)
                 ON CONFLICT (key) DO NOTHING",
                &[&secret.as_slice()],
            )?;
        }
        Ok(storage)
    }

    /// Stores a new user, numbered by the database or, under a directory of clusters
    /// ([`crate::shards`]), with the number the directory gave.
    pub(crate) fn insert_user(&self, id: Option<i64>, u: &NewUser) -> Result<i64, StorageError> {
        let mut conn = self.conn()?;
        let res = conn.query_one(
            "INSERT INTO users (id, username, auth_salt, auth_hash, kdf_iterations, wrapped_key,
                                created_at_ms)
             VALUES (coalesce($7, nextval('users_id_seq')), $1, $2, $3, $4, $5, $6) RETURNING id",
            &[
                &u.username,
                &u.auth_salt,
                &u.auth_hash,
                &i64::from(u.kdf_iterations),
                &u.wrapped_key,
                &u.now_ms,
                &id,
            ],
        );
        match res {
            Ok(row) => Ok(row.get(0)),
            // The name taken; or, under a directory, the number it gave that name already
            // stored (every number on a cluster is the directory's, so it is the same user).
            // A clash on anything else is a failure, not a taken name.
            Err(e)
                if e.code() == Some(&SqlState::UNIQUE_VIOLATION)
                    && match e.as_db_error().and_then(|d| d.constraint()) {
                        Some("users_username_key") => true,
                        Some("users_pkey") => id.is_some(),
                        _ => false,
                    } =>
            {
                Err(StorageError::UserExists)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Runs `f` on a connection of the pool: for the directory of clusters, kept in the first
    /// cluster's database.
    pub(crate) fn with_client<T>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<T, postgres::Error>,
    ) -> Result<T, StorageError> {
        let mut conn = self.conn()?;
        Ok(f(&mut conn)?)
    }

    fn pool(&self) -> std::sync::MutexGuard<'_, Pool> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A connection: an idle one, a new one while there are fewer than [`POOL`], or the next
    /// one freed.
    fn conn(&self) -> Result<Conn<'_>, StorageError> {
        SUSPECT.with(|s| s.set(false));
        let mut pool = self.pool();
        loop {
            if let Some(client) = pool.idle.pop() {
                return Ok(Conn {
                    storage: self,
                    client: Some(client),
                });
            }
            if pool.open < POOL {
                pool.open += 1;
                drop(pool);
                return match self.config.connect(NoTls) {
                    Ok(client) => Ok(Conn {
                        storage: self,
                        client: Some(client),
                    }),
                    Err(e) => {
                        self.pool().open -= 1;
                        self.freed.notify_one();
                        Err(StorageError::Unavailable(format!(
                            "cannot connect to the database: {e}"
                        )))
                    }
                };
            }
            let (next, timeout) = self
                .freed
                .wait_timeout(pool, CONNECT_TIMEOUT)
                .unwrap_or_else(|p| p.into_inner());
            pool = next;
            if timeout.timed_out() && pool.idle.is_empty() && pool.open >= POOL {
                return Err(StorageError::Unavailable(
                    "every connection to the database is busy".into(),
                ));
            }
        }
    }

    /// Runs `f` in a transaction, committed before it returns.
    fn write<T>(
        &self,
        f: impl FnOnce(&mut Transaction<'_>) -> Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        let mut conn = self.conn()?;
        let mut tx = conn.transaction()?;
        let out = f(&mut tx)?;
        tx.commit()?;
        Ok(out)
    }
}

/// Brings the database to [`SCHEMA_VERSION`], in one transaction under [`MIGRATION_LOCK`].
fn migrate(conn: &mut Client) -> Result<(), StorageError> {
    let mut tx = conn.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    let ours: bool = tx
        .query_one("SELECT to_regclass('strideguard_schema') IS NOT NULL", &[])?
        .get(0);
    let version: i32 = if ours {
        tx.query_one("SELECT version FROM strideguard_schema", &[])?
            .get(0)
    } else {
        let foreign: bool = tx
            .query_one("SELECT to_regclass('users') IS NOT NULL", &[])?
            .get(0);
        if foreign {
            return Err(StorageError::Backend(
                "the database holds another program's tables (a `users` table, no \
                 `strideguard_schema`); refusing to change it"
                    .into(),
            ));
        }
        tx.batch_execute(
            "CREATE TABLE strideguard_schema (version INTEGER NOT NULL);
             INSERT INTO strideguard_schema (version) VALUES (0);",
        )?;
        0
    };
    if version > SCHEMA_VERSION {
        return Err(StorageError::Backend(format!(
            "the database was written by a newer Strideguard server (schema {version}; this one \
             knows up to {SCHEMA_VERSION})"
        )));
    }
    for sql in &MIGRATIONS[version as usize..] {
        tx.batch_execute(sql)?;
    }
    tx.execute(
        "UPDATE strideguard_schema SET version = $1",
        &[&SCHEMA_VERSION],
    )?;
    tx.commit()?;
    Ok(())
}

fn user_from_row(r: &postgres::Row) -> User {
    User {
        id: r.get(0),
        username: r.get(1),
        auth_salt: r.get(2),
        auth_hash: r.get(3),
        kdf_iterations: r.get::<_, i64>(4) as u32,
        wrapped_key: r.get(5),
        used_bytes: r.get::<_, i64>(6) as u64,
    }
}

const USER_COLUMNS: &str =
    "id, username, auth_salt, auth_hash, kdf_iterations, wrapped_key, used_bytes";

fn download(r: &postgres::Row) -> RecordDownload {
    RecordDownload {
        collection: r.get(0),
        id: r.get(1),
        seq: r.get(2),
        deleted: r.get(3),
        updated_at_ms: r.get(4),
        payload: r.get(5),
    }
}

/// The device and every device added from it, however deep (`$1` the device, `$2` the user).
const FAMILY: &str = "WITH RECURSIVE family(id) AS (
        SELECT id FROM devices WHERE id = $1 AND user_id = $2
        UNION SELECT d.id FROM devices d JOIN family f ON d.created_by = f.id
        WHERE d.user_id = $2)";

impl Storage for PostgresStorage {
    fn create_user(&self, u: &NewUser) -> Result<i64, StorageError> {
        self.insert_user(None, u)
    }

    fn user(&self, username: &str) -> Result<Option<User>, StorageError> {
        let row = self.conn()?.query_opt(
            &format!("SELECT {USER_COLUMNS} FROM users WHERE username = $1"),
            &[&username],
        )?;
        Ok(row.as_ref().map(user_from_row))
    }

    fn user_by_id(&self, id: i64) -> Result<Option<User>, StorageError> {
        let row = self.conn()?.query_opt(
            &format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"),
            &[&id],
        )?;
        Ok(row.as_ref().map(user_from_row))
    }

    fn set_keys(&self, user_id: i64, k: &NewKeys) -> Result<usize, StorageError> {
        self.write(|tx| {
            tx.execute("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", &[&user_id])?;
            tx.execute(
                "UPDATE users SET auth_salt = $2, auth_hash = $3, kdf_iterations = $4,
                 wrapped_key = $5 WHERE id = $1",
                &[
                    &user_id,
                    &k.auth_salt,
                    &k.auth_hash,
                    &i64::from(k.kdf_iterations),
                    &k.wrapped_key,
                ],
            )?;
            Ok(match &k.only_session {
                Some(keep) => tx.execute(
                    "DELETE FROM sessions WHERE user_id = $1 AND token_hash != $2",
                    &[&user_id, keep],
                )? as usize,
                None => 0,
            })
        })
    }

    fn add_device_session(&self, new: &NewDevice) -> Result<String, StorageError> {
        let id = Uuid::new_v4().to_string();
        self.write(|tx| {
            // The user's row, locked: two logins at once on two servers count each other, and
            // a revocation (which takes it too) cannot pass between the check below and the
            // insert.
            tx.execute(
                "SELECT 1 FROM users WHERE id = $1 FOR UPDATE",
                &[&new.user_id],
            )?;
            if let Some(creator) = &new.created_by {
                // Added by a device revoked since its request was let in: refused, or the new
                // device would escape the revocation of the one that paired it.
                let live = tx.query_opt(
                    "SELECT 1 FROM devices WHERE id = $1 AND user_id = $2
                     AND revoked_at_ms IS NULL",
                    &[creator, &new.user_id],
                )?;
                if live.is_none() {
                    return Err(StorageError::CreatorRevoked);
                }
            }
            let active: i64 = tx
                .query_one(
                    "SELECT count(*) FROM devices WHERE user_id = $1 AND revoked_at_ms IS NULL",
                    &[&new.user_id],
                )?
                .get(0);
            if active as usize >= new.max_devices {
                return Err(StorageError::DeviceLimit {
                    max: new.max_devices,
                });
            }
            tx.execute(
                "INSERT INTO devices (id, user_id, name, created_at_ms, created_by)
                 VALUES ($1, $2, $3, $4, $5)",
                &[&id, &new.user_id, &new.name, &new.now_ms, &new.created_by],
            )?;
            tx.execute(
                "INSERT INTO sessions (token_hash, user_id, device_id, expires_at_ms)
                 VALUES ($1, $2, $3, $4)",
                &[&new.token_hash, &new.user_id, &id, &new.expires_at_ms],
            )?;
            Ok(id.clone())
        })
    }

    fn devices(&self, user_id: i64) -> Result<Vec<DeviceRow>, StorageError> {
        let rows = self.conn()?.query(
            "SELECT id, name, created_at_ms, last_seen_ms, revoked_at_ms IS NOT NULL
             FROM devices WHERE user_id = $1 ORDER BY created_at_ms, id",
            &[&user_id],
        )?;
        Ok(rows
            .iter()
            .map(|r| DeviceRow {
                id: r.get(0),
                name: r.get(1),
                created_at_ms: r.get(2),
                last_seen_ms: r.get(3),
                revoked: r.get(4),
            })
            .collect())
    }

    fn revoke_device(
        &self,
        user_id: i64,
        device_id: &str,
        now_ms: i64,
    ) -> Result<bool, StorageError> {
        self.write(|tx| {
            // The user first, as every write of theirs locks it: no deadlock with an account
            // deletion or a login, and no device added meanwhile by one being revoked.
            tx.execute("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", &[&user_id])?;
            let n = tx.execute(
                &format!(
                    "{FAMILY} UPDATE devices SET revoked_at_ms = coalesce(revoked_at_ms, $3)
                     WHERE id IN (SELECT id FROM family)"
                ),
                &[&device_id, &user_id, &now_ms],
            )?;
            tx.execute(
                &format!(
                    "{FAMILY} DELETE FROM sessions WHERE user_id = $2
                     AND device_id IN (SELECT id FROM family)"
                ),
                &[&device_id, &user_id],
            )?;
            Ok(n > 0)
        })
    }

    fn session(&self, token_hash: &[u8]) -> Result<Option<SessionRow>, StorageError> {
        let row = self.conn()?.query_opt(
            "SELECT s.token_hash, s.user_id, s.device_id, s.expires_at_ms,
                    d.revoked_at_ms IS NOT NULL, d.last_seen_ms
             FROM sessions s JOIN devices d ON d.id = s.device_id
             WHERE s.token_hash = $1",
            &[&token_hash],
        )?;
        Ok(row.map(|r| SessionRow {
            token_hash: r.get(0),
            user_id: r.get(1),
            device_id: r.get(2),
            expires_at_ms: r.get(3),
            device_revoked: r.get(4),
            device_last_seen_ms: r.get(5),
        }))
    }

    fn delete_session(&self, token_hash: &[u8]) -> Result<(), StorageError> {
        self.conn()?
            .execute("DELETE FROM sessions WHERE token_hash = $1", &[&token_hash])?;
        Ok(())
    }

    fn touch_device(&self, user_id: i64, device_id: &str, now_ms: i64) -> Result<(), StorageError> {
        self.conn()?.execute(
            "UPDATE devices SET last_seen_ms = GREATEST(coalesce(last_seen_ms, $2), $2)
             WHERE id = $1 AND user_id = $3",
            &[&device_id, &now_ms, &user_id],
        )?;
        Ok(())
    }

    fn kdf_iteration_counts(&self) -> Result<Vec<(u32, u64)>, StorageError> {
        let rows = self.conn()?.query(
            "SELECT kdf_iterations, count(*) FROM users GROUP BY kdf_iterations
             ORDER BY kdf_iterations",
            &[],
        )?;
        Ok(rows
            .iter()
            .map(|r| (r.get::<_, i64>(0) as u32, r.get::<_, i64>(1) as u64))
            .collect())
    }

    fn server_secret(&self) -> Result<Vec<u8>, StorageError> {
        Ok(self
            .conn()?
            .query_one("SELECT value FROM server_meta WHERE key = 'secret'", &[])?
            .get(0))
    }

    fn put_records(
        &self,
        user_id: i64,
        device_id: &str,
        batch: Vec<RecordUpload>,
        now_ms: i64,
        quota_bytes: u64,
    ) -> Result<PutOutcome, StorageError> {
        self.write(|tx| {
            // The lock that orders this user's uploads: numbers are taken under it and released
            // by the commit, so they become visible in the order they were given.
            let row = tx.query_one(
                "SELECT last_seq, used_bytes FROM users WHERE id = $1 FOR UPDATE",
                &[&user_id],
            )?;
            let (mut last_seq, used): (i64, i64) = (row.get(0), row.get(1));
            let collections: Vec<&str> = batch.iter().map(|r| r.collection.as_str()).collect();
            let ids: Vec<&str> = batch.iter().map(|r| r.id.as_str()).collect();
            let mut current = std::collections::HashMap::new();
            for r in tx.query(
                "SELECT r.collection, r.id, r.seq, r.deleted, r.updated_at_ms, r.payload
                 FROM records r JOIN unnest($2::text[], $3::text[]) AS b(collection, id)
                   ON r.collection = b.collection AND r.id = b.id
                 WHERE r.user_id = $1",
                &[&user_id, &collections, &ids],
            )? {
                let d = download(&r);
                current.insert((d.collection.clone(), d.id.clone()), d);
            }
            let existing: Vec<Option<RecordDownload>> = batch
                .iter()
                .map(|r| current.get(&(r.collection.clone(), r.id.clone())).cloned())
                .collect();
            let (mut acks, writes, used_after) =
                match plan_batch(&batch, &existing, used as u64, quota_bytes) {
                    BatchPlan::Conflict(c) => return Ok(PutOutcome::Conflict(c)),
                    BatchPlan::OverQuota { used, quota } => {
                        return Ok(PutOutcome::OverQuota { used, quota });
                    }
                    BatchPlan::Write {
                        retried,
                        writes,
                        used_after,
                    } => (retried, writes, used_after),
                };
            // A record written twice in one batch keeps the last write, as one at a time would.
            let mut seqs = Vec::with_capacity(writes.len());
            for rec in &writes {
                last_seq += 1;
                seqs.push(last_seq);
                acks.push(Ack {
                    collection: rec.collection.clone(),
                    id: rec.id.clone(),
                    seq: last_seq,
                });
            }
            let mut last_of = std::collections::HashMap::new();
            for (i, rec) in writes.iter().enumerate() {
                last_of.insert((rec.collection.as_str(), rec.id.as_str()), i);
            }
            let mut keep: Vec<usize> = last_of.into_values().collect();
            keep.sort_unstable();
            let col: Vec<&str> = keep.iter().map(|&i| writes[i].collection.as_str()).collect();
            let id: Vec<&str> = keep.iter().map(|&i| writes[i].id.as_str()).collect();
            let seq: Vec<i64> = keep.iter().map(|&i| seqs[i]).collect();
            let deleted: Vec<bool> = keep.iter().map(|&i| writes[i].deleted).collect();
            let payload: Vec<&[u8]> = keep.iter().map(|&i| writes[i].payload.as_slice()).collect();
            tx.execute(
                "INSERT INTO records (user_id, collection, id, seq, deleted, payload, updated_at_ms, device_id)
                 SELECT $1, b.collection, b.id, b.seq, b.deleted, b.payload, $7, $8
                 FROM unnest($2::text[], $3::text[], $4::bigint[], $5::boolean[], $6::bytea[])
                   AS b(collection, id, seq, deleted, payload)
                 ON CONFLICT (user_id, collection, id) DO UPDATE SET seq = excluded.seq,
                    deleted = excluded.deleted, payload = excluded.payload,
                    updated_at_ms = excluded.updated_at_ms, device_id = excluded.device_id",
                &[&user_id, &col, &id, &seq, &deleted, &payload, &now_ms, &device_id],
            )?;
            tx.execute(
                "UPDATE users SET last_seq = $2, used_bytes = $3 WHERE id = $1",
                &[&user_id, &last_seq, &(used_after as i64)],
            )?;
            tx.execute(
                "UPDATE devices SET last_seen_ms = $2 WHERE id = $1",
                &[&device_id, &now_ms],
            )?;
            Ok(PutOutcome::Accepted(acks))
        })
    }

    fn records(
        &self,
        user_id: i64,
        since: i64,
        collection: Option<&str>,
        max_records: usize,
        max_bytes: usize,
    ) -> Result<RecordsPage, StorageError> {
        let mut conn = self.conn()?;
        // One snapshot for the cursor check and the page.
        let mut tx = conn
            .build_transaction()
            .isolation_level(postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()?;
        let purged: i64 = tx
            .query_opt("SELECT purged_seq FROM users WHERE id = $1", &[&user_id])?
            .map_or(0, |r| r.get(0));
        if since > 0 && since < purged {
            return Err(StorageError::CursorExpired { purged });
        }
        let rows = tx.query(
            "SELECT collection, id, seq, deleted, updated_at_ms, payload FROM records
             WHERE user_id = $1 AND seq > $2 AND ($3::text IS NULL OR collection = $3)
             ORDER BY seq LIMIT $4",
            &[&user_id, &since, &collection, &(max_records as i64 + 1)],
        )?;
        tx.commit()?;
        page(
            since,
            rows.iter().map(|r| Ok(download(r))),
            max_records,
            max_bytes,
        )
    }

    fn purge_tombstones(&self, before_ms: i64) -> Result<usize, StorageError> {
        self.write(|tx| {
            // Users first, in id order, as uploads lock them: no deadlock with an upload.
            tx.execute(
                "SELECT 1 FROM users WHERE id IN (
                    SELECT DISTINCT user_id FROM records WHERE deleted AND updated_at_ms < $1)
                 ORDER BY id FOR UPDATE",
                &[&before_ms],
            )?;
            let rows = tx.query(
                "WITH gone AS (
                    DELETE FROM records WHERE deleted AND updated_at_ms < $1
                    RETURNING user_id, seq, octet_length(payload) AS bytes),
                 per_user AS (
                    SELECT user_id, max(seq) AS max_seq, sum(bytes)::bigint AS bytes,
                           count(*) AS n
                    FROM gone GROUP BY user_id)
                 UPDATE users u SET purged_seq = GREATEST(u.purged_seq, p.max_seq),
                    used_bytes = u.used_bytes - p.bytes
                 FROM per_user p WHERE u.id = p.user_id
                 RETURNING p.n",
                &[&before_ms],
            )?;
            Ok(rows.iter().map(|r| r.get::<_, i64>(0) as usize).sum())
        })
    }

    fn totals(&self) -> Result<Totals, StorageError> {
        let r = self.conn()?.query_one(
            "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM devices),
                    (SELECT count(*) FROM records),
                    (SELECT coalesce(sum(used_bytes), 0)::bigint FROM users)",
            &[],
        )?;
        Ok(Totals {
            users: r.get::<_, i64>(0) as u64,
            devices: r.get::<_, i64>(1) as u64,
            records: r.get::<_, i64>(2) as u64,
            bytes: r.get::<_, i64>(3) as u64,
        })
    }

    fn counts_shared(&self) -> bool {
        true
    }

    fn shared_count(&self, key: &str, minute: i64, add: u32) -> Result<Option<u32>, StorageError> {
        let mut conn = self.conn()?;
        let count: i64 = if add == 0 {
            conn.query_opt(
                "SELECT count FROM rate_counts WHERE key = $1 AND minute = $2",
                &[&key, &minute],
            )?
            .map_or(0, |r| r.get(0))
        } else {
            let count = conn
                .query_one(
                    "INSERT INTO rate_counts (key, minute, count) VALUES ($1, $2, $3)
                     ON CONFLICT (key, minute) DO UPDATE SET count = rate_counts.count + $3
                     RETURNING count",
                    &[&key, &minute, &i64::from(add)],
                )?
                .get(0);
            // Now and then, the minutes gone: the table holds about two minutes of keys.
            // (Housekeeping: its failure must not fail the request the count was for.)
            if count == i64::from(add) && rand_one_in(64) {
                let _ = conn.execute(
                    "DELETE FROM rate_counts WHERE minute < $1",
                    &[&(minute - 1)],
                );
            }
            count
        };
        Ok(Some(count.clamp(0, i64::from(u32::MAX)) as u32))
    }

    fn delete_user(&self, user_id: i64) -> Result<Deleted, StorageError> {
        self.write(|tx| {
            tx.execute("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", &[&user_id])?;
            let records = tx.execute("DELETE FROM records WHERE user_id = $1", &[&user_id])?;
            let sessions = tx.execute("DELETE FROM sessions WHERE user_id = $1", &[&user_id])?;
            let devices = tx.execute("DELETE FROM devices WHERE user_id = $1", &[&user_id])?;
            tx.execute("DELETE FROM users WHERE id = $1", &[&user_id])?;
            Ok(Deleted {
                records,
                devices,
                sessions,
            })
        })
    }
}
