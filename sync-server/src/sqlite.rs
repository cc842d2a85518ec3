//! The embedded storage: one SQLite file in the data directory, WAL with `synchronous=FULL`,
//! so a batch is on disk before its acknowledgement leaves (it survives `kill -9` and power
//! loss).
//!
//! Writes go to one writer thread that owns the writing connection (SQLite has one writer
//! anyway) and commits in groups: the writes waiting when it starts a transaction go into it,
//! each in its own savepoint (so one failing write undoes only itself), and one fsync makes
//! them all durable before any of them is answered. Under load many devices share one fsync
//! instead of queueing for one each. A few reading connections serve token checks and pulls,
//! which WAL lets run while the writer commits. Callers are blocking threads, never the async
//! runtime.
//!
//! Checkpoints (copying the WAL back into the database file) run on their own thread: SQLite's
//! automatic checkpoint runs inside the COMMIT that crosses its threshold, which made every
//! upload of that group wait 20-36 ms more, the tail of the upload latency under load. The
//! writer still copies the few pages the checkpointer has not reached once every 4,096 WAL
//! pages, so the WAL can start again from its beginning and stays bounded.

use std::path::Path;
use std::sync::atomic::{AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use strideguard_proto::wire::{Ack, RecordDownload, RecordUpload, RecordsPage};
use uuid::Uuid;

use crate::storage::{
    BatchPlan, Deleted, DeviceRow, NewDevice, NewKeys, NewUser, PutOutcome, SessionRow, Storage,
    StorageError, Totals, User, page, plan_batch,
};

/// The server's schema, as numbered migrations kept in `PRAGMA user_version` (the same way as
/// the client's store). Never edit a shipped one; add the next.
const MIGRATIONS: &[&str] = &[
    // 1: accounts, devices, sessions and records.
    "
CREATE TABLE users (
    id             INTEGER PRIMARY KEY,
    username       TEXT NOT NULL UNIQUE,
    auth_salt      BLOB NOT NULL,
    auth_hash      BLOB NOT NULL,
    kdf_iterations INTEGER NOT NULL,
    wrapped_key    BLOB NOT NULL,
    created_at_ms  INTEGER NOT NULL,
    last_seq       INTEGER NOT NULL DEFAULT 0,
    purged_seq     INTEGER NOT NULL DEFAULT 0,
    used_bytes     INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE TABLE devices (
    id            TEXT PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users (id),
    name          TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    last_seen_ms  INTEGER,
    revoked_at_ms INTEGER
) STRICT;
CREATE INDEX devices_by_user ON devices (user_id);
CREATE TABLE sessions (
    token_hash    BLOB PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users (id),
    device_id     TEXT NOT NULL REFERENCES devices (id),
    expires_at_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX sessions_by_device ON sessions (device_id);
CREATE TABLE records (
    user_id       INTEGER NOT NULL REFERENCES users (id),
    collection    TEXT NOT NULL,
    id            TEXT NOT NULL,
    seq           INTEGER NOT NULL,
    deleted       INTEGER NOT NULL,
    payload       BLOB NOT NULL,
    updated_at_ms INTEGER NOT NULL,
    device_id     TEXT NOT NULL,
    PRIMARY KEY (user_id, collection, id)
) STRICT;
CREATE UNIQUE INDEX records_by_seq ON records (user_id, seq);
CREATE INDEX tombstones ON records (updated_at_ms) WHERE deleted = 1;
",
    // 2: sessions looked up by user when an account is deleted.
    "CREATE INDEX sessions_by_user ON sessions (user_id);",
    // 3: which device added which (revoking one revokes what it added), the server's secret,
    // and the spread of KDF parameters.
    "
ALTER TABLE devices ADD COLUMN created_by TEXT;
CREATE INDEX devices_by_creator ON devices (created_by) WHERE created_by IS NOT NULL;
CREATE TABLE server_meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
) STRICT;
",
];

/// The schema version this server writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Brings `conn` to [`SCHEMA_VERSION`], each migration in its own transaction. A database
/// from before the schema carried a version (its tables exist, `user_version` is 0) is version
/// 1. A newer database, or another program's, is refused untouched.
fn migrate(conn: &mut Connection, path: &Path) -> Result<u32, StorageError> {
    let mut version: u32 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let tables: Vec<String> = conn
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    if version == 0 && !tables.is_empty() {
        if !tables.iter().any(|t| t == "users") {
            return Err(StorageError::Backend(format!(
                "{} is not a Strideguard server database; refusing to change it",
                path.display()
            )));
        }
        version = 1;
        conn.pragma_update(None, "user_version", 1)?;
    }
    if version > SCHEMA_VERSION {
        return Err(StorageError::Backend(format!(
            "{} was written by a newer Strideguard server (schema {version}; this one knows up to {SCHEMA_VERSION})",
            path.display()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as u32 + 1)?;
        tx.commit()?;
    }
    Ok(SCHEMA_VERSION)
}

pub struct SqliteStorage {
    writer: Mutex<mpsc::Sender<Job>>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    checkpoints: Arc<Checkpoints>,
    /// The writer's thread (which joins the checkpointer's), joined on drop so the database is
    /// closed when the storage is gone (the writing connection closing last: its last
    /// checkpoint empties the WAL).
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Drop for SqliteStorage {
    fn drop(&mut self) {
        // Readers first: a read-only connection closing last could not empty the WAL.
        self.readers.clear();
        // The writer stops once its channel closes; its hook going ends the checkpointer.
        let (closed, _) = mpsc::channel();
        drop(std::mem::replace(
            self.writer.get_mut().unwrap_or_else(|p| p.into_inner()),
            closed,
        ));
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        let c = &self.checkpoints;
        tracing::debug!(
            background = c.background.load(Ordering::Relaxed),
            by_the_writer = c.inline.load(Ordering::Relaxed),
            "database closed after its checkpoints"
        );
    }
}

/// Answers a write once its group committed (or failed to).
type Reply = Box<dyn FnOnce(Result<(), StorageError>) + Send>;
/// A write for the writer thread: run it on the connection, or (`None`) refuse it unrun.
/// It also gives back its own error, if it failed.
type Job = Box<dyn FnOnce(Option<&Connection>) -> (Reply, Option<StorageError>) + Send>;

/// Most writes committed together.
const GROUP: usize = 128;

/// Runs the writes until the storage is dropped, then closes the database after the
/// checkpointer: two connections closing at once could each see the other still open, and
/// neither would empty the WAL.
fn writer_loop(
    mut conn: Connection,
    jobs: mpsc::Receiver<Job>,
    checkpointer: std::thread::JoinHandle<()>,
) {
    while let Ok(first) = jobs.recv() {
        let mut group = vec![first];
        while group.len() < GROUP {
            match jobs.try_recv() {
                Ok(j) => group.push(j),
                Err(_) => break,
            }
        }
        let mut began = conn.execute_batch("BEGIN IMMEDIATE");
        let mut replies: Vec<Reply> = Vec::with_capacity(group.len());
        for job in group {
            let (reply, failed) = job(began.is_ok().then_some(&conn));
            replies.push(reply);
            if began.is_ok() && conn.is_autocommit() {
                // SQLite rolled the whole transaction back (a full disk, an I/O error): every
                // write of the group so far is undone, and the rest go in a new transaction.
                let why = failed.unwrap_or_else(|| {
                    StorageError::Backend("the transaction was rolled back".into())
                });
                for reply in replies.drain(..) {
                    reply(Err(why.clone()));
                }
                began = conn.execute_batch("BEGIN IMMEDIATE");
            }
        }
        let committed = match began {
            Ok(()) => conn.execute_batch("COMMIT").map_err(StorageError::from),
            Err(e) => Err(StorageError::from(e)),
        };
        if committed.is_err() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        for reply in replies {
            reply(committed.clone());
        }
    }
    // The hook owns the checkpointer's nudges: dropping it stops the checkpointer, whose
    // connection closes before this one, so this one closes last and empties the WAL.
    let _ = conn.wal_hook(None::<fn(&mut rusqlite::hooks::Wal, i32) -> rusqlite::Result<()>>);
    let _ = checkpointer.join();
    drop(conn);
}

/// Reading connections: WAL lets them read while the writer commits.
const READERS: usize = 4;

/// WAL pages not yet copied into the database file that wake the checkpointer (SQLite's own
/// automatic threshold).
const CHECKPOINT_PAGES: i32 = 1000;
/// WAL pages since the WAL last started from its beginning past which the writer finishes the
/// copy itself after its commit, when little is left to copy. A WAL starts again from its
/// beginning only when a write begins with every page already copied, which under steady
/// writes a checkpointer running beside the writer never quite reaches; the writer then copies
/// what the checkpointer has not yet (under [`CHECKPOINT_PAGES`]), and the file stays near
/// 16 MiB.
const RESTART_PAGES: i32 = 4096;
/// WAL pages past which the writer copies whatever is left, however much: the checkpointer
/// cannot keep up (a slow disk), and the WAL must not grow without bound (64 MiB).
const MAX_WAL_PAGES: i32 = 16_384;
/// The WAL file is cut back to this size when it starts again (it can grow past it while
/// the disk lags).
const WAL_SIZE_LIMIT: i64 = 32 << 20;

/// What the checkpoints did, shared by the writer's hook and the checkpointer.
#[derive(Default)]
struct Checkpoints {
    /// The WAL's page count and the pages copied at the checkpointer's last pass.
    log_pages: AtomicI32,
    copied_pages: AtomicI32,
    /// Passes of the checkpointer, and copies the writer finished itself.
    background: AtomicU64,
    inline: AtomicU64,
}

impl Checkpoints {
    /// WAL pages not yet copied, when the WAL holds `pages`: all of them if it started again
    /// since the checkpointer's last pass.
    fn backlog(&self, pages: i32) -> i32 {
        let log = self.log_pages.load(Ordering::Relaxed);
        if pages < log {
            pages
        } else {
            pages - self.copied_pages.load(Ordering::Relaxed).min(pages)
        }
    }
}

/// Hands the copying of the WAL into the database file to a thread of its own, so commits do
/// not wait for it: after a commit that leaves [`CHECKPOINT_PAGES`] or more not yet copied,
/// the writer nudges the checkpointer, which copies what it can without blocking the writer or
/// the readers (PASSIVE); nudges coalesce while it works. Past [`RESTART_PAGES`], with little
/// left to copy, the writer copies the rest itself so the WAL can start again, and past
/// [`MAX_WAL_PAGES`] whatever is left. The checkpointer stops when the writer's hook goes.
fn checkpoint_elsewhere(
    writer: &mut Connection,
    path: &Path,
) -> Result<(Arc<Checkpoints>, std::thread::JoinHandle<()>), StorageError> {
    let checkpointer = Connection::open(path)?;
    checkpointer.busy_timeout(std::time::Duration::from_secs(10))?;
    checkpointer.pragma_update(None, "synchronous", "FULL")?;
    // Reading the schema opens the WAL on this connection; a checkpoint on a connection that
    // has not opened it copies nothing.
    checkpointer.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    })?;
    writer.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)?;
    let counts = Arc::new(Checkpoints::default());
    let (nudge, nudged) = mpsc::sync_channel::<()>(1);
    let seen = counts.clone();
    let mut last_pages = 0;
    writer.wal_hook(Some(move |wal: &mut rusqlite::hooks::Wal, pages: i32| {
        if pages < last_pages {
            // The WAL started again: the checkpointer's last pass was on the old one.
            seen.log_pages.store(0, Ordering::Relaxed);
            seen.copied_pages.store(0, Ordering::Relaxed);
        }
        last_pages = pages;
        let backlog = seen.backlog(pages);
        if pages >= MAX_WAL_PAGES || (pages >= RESTART_PAGES && backlog < CHECKPOINT_PAGES) {
            match wal.checkpoint_v2(rusqlite::wal::CheckpointMode::PASSIVE) {
                Ok(_) => {
                    seen.inline.fetch_add(1, Ordering::Relaxed);
                }
                // The checkpointer is copying; the next commit tries again.
                Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy) => {}
                Err(e) => tracing::warn!(error = %e, pages, "the writer's checkpoint failed"),
            }
        } else if backlog >= CHECKPOINT_PAGES {
            // Full means a nudge is already waiting: the checkpointer will see these pages.
            let _ = nudge.try_send(());
        }
        // An error here would answer a committed write as failed.
        Ok(())
    }))?;
    let done = counts.clone();
    let thread = std::thread::Builder::new()
        .name("strideguard-sqlite-checkpointer".into())
        .spawn(move || {
            while nudged.recv().is_ok() {
                let mode = rusqlite::wal::CheckpointMode::PASSIVE;
                match checkpointer.wal_checkpoint_v2(Some(rusqlite::MAIN_DB), mode) {
                    Ok((log, copied)) => {
                        done.log_pages.store(log, Ordering::Relaxed);
                        done.copied_pages.store(copied, Ordering::Relaxed);
                        done.background.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "a checkpoint failed; the next nudge retries")
                    }
                }
            }
        })
        .map_err(|e| StorageError::Backend(format!("cannot start the checkpointer: {e}")))?;
    Ok((counts, thread))
}

impl SqliteStorage {
    /// Opens (creating) `server.db` in `data_dir`.
    pub fn open(data_dir: &Path) -> Result<SqliteStorage, StorageError> {
        SqliteStorage::open_with_limit(data_dir, None)
    }

    /// Opens `server.db` in `data_dir`, refusing writes ([`StorageError::Full`]) once the
    /// database would grow past `max_bytes` (`--max-data-bytes`): a full disk before the disk
    /// is full.
    pub fn open_with_limit(
        data_dir: &Path,
        max_bytes: Option<u64>,
    ) -> Result<SqliteStorage, StorageError> {
        std::fs::create_dir_all(data_dir).map_err(|e| {
            StorageError::Backend(format!("cannot create {}: {e}", data_dir.display()))
        })?;
        let path = data_dir.join("server.db");
        let mut conn = Connection::open(&path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        migrate(&mut conn, &path)?;
        let has_secret: bool = conn.query_row(
            "SELECT count(*) > 0 FROM server_meta WHERE key = 'secret'",
            [],
            |r| r.get(0),
        )?;
        if !has_secret {
            let mut secret = [0u8; 32];
            ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut secret)
                .map_err(|_| StorageError::Backend("no system randomness".into()))?;
            conn.execute(
                "INSERT INTO server_meta (key, value) VALUES ('secret', ?1)",
                [secret.as_slice()],
            )?;
        }
        if let Some(max) = max_bytes {
            let page: i64 = conn.pragma_query_value(None, "page_size", |r| r.get(0))?;
            let pages = (max / page.max(1) as u64).clamp(1, i64::MAX as u64) as i64;
            conn.pragma_update(None, "max_page_count", pages)?;
        }
        let readers = (0..READERS)
            .map(|_| {
                let r = Connection::open_with_flags(
                    data_dir.join("server.db"),
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                r.busy_timeout(std::time::Duration::from_secs(10))?;
                Ok(Mutex::new(r))
            })
            .collect::<Result<_, StorageError>>()?;
        let (checkpoints, checkpointer) = checkpoint_elsewhere(&mut conn, &path)?;
        let (tx, rx) = mpsc::channel::<Job>();
        let writer = std::thread::Builder::new()
            .name("strideguard-sqlite-writer".into())
            .spawn(move || writer_loop(conn, rx, checkpointer))
            .map_err(|e| StorageError::Backend(format!("cannot start the writer: {e}")))?;
        Ok(SqliteStorage {
            writer: Mutex::new(tx),
            readers,
            next_reader: AtomicUsize::new(0),
            checkpoints,
            threads: vec![writer],
        })
    }

    /// Runs `f` on the writer thread inside the next group's transaction and returns once that
    /// group is committed: an `Ok` answer means the write is on disk.
    fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StorageError> + Send + 'static,
    ) -> Result<T, StorageError> {
        let (tx, rx) = mpsc::sync_channel::<Result<T, StorageError>>(1);
        let job: Job = Box::new(move |conn: Option<&Connection>| {
            let Some(conn) = conn else {
                let reply: Reply = Box::new(move |e: Result<(), StorageError>| {
                    let _ = tx.send(Err(match e {
                        Err(StorageError::Backend(why)) => {
                            StorageError::Backend(format!("cannot start a write: {why}"))
                        }
                        Err(other) => other,
                        Ok(()) => StorageError::Backend("cannot start a write".into()),
                    }));
                });
                return (reply, None);
            };
            let result = (|| {
                conn.execute_batch("SAVEPOINT one_write")?;
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(conn)))
                    .unwrap_or_else(|_| Err(StorageError::Backend("a write panicked".into())));
                match &r {
                    Ok(_) => conn.execute_batch("RELEASE one_write")?,
                    // Gone already if SQLite rolled the transaction back itself.
                    Err(_) if conn.is_autocommit() => {}
                    Err(_) => conn.execute_batch("ROLLBACK TO one_write; RELEASE one_write")?,
                }
                r
            })();
            let failed = result.as_ref().err().cloned();
            let reply: Reply = Box::new(move |committed: Result<(), StorageError>| {
                let _ = tx.send(match committed {
                    // A write that failed says why, whatever became of the group.
                    Ok(()) => result,
                    Err(_) if result.is_err() => result,
                    Err(StorageError::Backend(why)) => {
                        Err(StorageError::Backend(format!("commit failed: {why}")))
                    }
                    Err(other) => Err(other),
                });
            });
            (reply, failed)
        });
        self.writer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(job)
            .map_err(|_| StorageError::Backend("the writer thread stopped".into()))?;
        rx.recv()
            .map_err(|_| StorageError::Backend("the writer thread stopped".into()))?
    }

    /// A reading connection: a free one if there is, else the next in turn.
    fn reader(&self) -> std::sync::MutexGuard<'_, Connection> {
        for r in &self.readers {
            if let Ok(g) = r.try_lock() {
                return g;
            }
        }
        let i = self.next_reader.fetch_add(1, Ordering::Relaxed) % self.readers.len();
        self.readers[i].lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn user_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: r.get(0)?,
        username: r.get(1)?,
        auth_salt: r.get(2)?,
        auth_hash: r.get(3)?,
        kdf_iterations: r.get(4)?,
        wrapped_key: r.get(5)?,
        used_bytes: r.get::<_, i64>(6)? as u64,
    })
}

const USER_COLUMNS: &str =
    "id, username, auth_salt, auth_hash, kdf_iterations, wrapped_key, used_bytes";

fn download(r: &rusqlite::Row<'_>) -> rusqlite::Result<RecordDownload> {
    Ok(RecordDownload {
        collection: r.get(0)?,
        id: r.get(1)?,
        seq: r.get(2)?,
        deleted: r.get(3)?,
        updated_at_ms: r.get(4)?,
        payload: r.get(5)?,
    })
}

impl Storage for SqliteStorage {
    fn create_user(&self, u: &NewUser) -> Result<i64, StorageError> {
        let u = u.clone();
        self.write(move |conn| {
            let res = conn.execute(
                "INSERT INTO users (username, auth_salt, auth_hash, kdf_iterations, wrapped_key, created_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![u.username, u.auth_salt, u.auth_hash, u.kdf_iterations, u.wrapped_key, u.now_ms],
            );
            match res {
                Ok(_) => Ok(conn.last_insert_rowid()),
                Err(e)
                    if e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation) =>
                {
                    Err(StorageError::UserExists)
                }
                Err(e) => Err(e.into()),
            }
        })
    }

    fn user(&self, username: &str) -> Result<Option<User>, StorageError> {
        Ok(self
            .reader()
            .query_row(
                &format!("SELECT {USER_COLUMNS} FROM users WHERE username = ?1"),
                [username],
                user_from_row,
            )
            .optional()?)
    }

    fn user_by_id(&self, id: i64) -> Result<Option<User>, StorageError> {
        Ok(self
            .reader()
            .query_row(
                &format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"),
                [id],
                user_from_row,
            )
            .optional()?)
    }

    fn set_keys(&self, user_id: i64, keys: &NewKeys) -> Result<usize, StorageError> {
        let k = keys.clone();
        self.write(move |conn| {
            conn.execute(
                "UPDATE users SET auth_salt = ?2, auth_hash = ?3, kdf_iterations = ?4,
                 wrapped_key = ?5 WHERE id = ?1",
                params![
                    user_id,
                    k.auth_salt,
                    k.auth_hash,
                    k.kdf_iterations,
                    k.wrapped_key
                ],
            )?;
            Ok(match &k.only_session {
                Some(keep) => conn.execute(
                    "DELETE FROM sessions WHERE user_id = ?1 AND token_hash != ?2",
                    params![user_id, keep],
                )?,
                None => 0,
            })
        })
    }

    fn add_device_session(&self, new: &NewDevice) -> Result<String, StorageError> {
        let id = Uuid::new_v4().to_string();
        let new = new.clone();
        self.write(move |conn| {
            let active: i64 = conn.query_row(
                "SELECT count(*) FROM devices WHERE user_id = ?1 AND revoked_at_ms IS NULL",
                [new.user_id],
                |r| r.get(0),
            )?;
            if active as usize >= new.max_devices {
                return Err(StorageError::DeviceLimit {
                    max: new.max_devices,
                });
            }
            if let Some(creator) = &new.created_by {
                // Added by a device revoked since its request was let in: refused, or the new
                // device would escape the revocation of the one that paired it.
                let live: bool = conn.query_row(
                    "SELECT EXISTS (SELECT 1 FROM devices WHERE id = ?1 AND user_id = ?2
                     AND revoked_at_ms IS NULL)",
                    params![creator, new.user_id],
                    |r| r.get(0),
                )?;
                if !live {
                    return Err(StorageError::CreatorRevoked);
                }
            }
            conn.execute(
                "INSERT INTO devices (id, user_id, name, created_at_ms, created_by)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id, new.user_id, new.name, new.now_ms, new.created_by],
            )?;
            conn.execute(
                "INSERT INTO sessions (token_hash, user_id, device_id, expires_at_ms)
                 VALUES (?1, ?2, ?3, ?4)",
                params![new.token_hash, new.user_id, id, new.expires_at_ms],
            )?;
            Ok(id)
        })
    }

    fn devices(&self, user_id: i64) -> Result<Vec<DeviceRow>, StorageError> {
        let conn = self.reader();
        let mut stmt = conn.prepare_cached(
            "SELECT id, name, created_at_ms, last_seen_ms, revoked_at_ms IS NOT NULL
             FROM devices WHERE user_id = ?1 ORDER BY created_at_ms, id",
        )?;
        let rows = stmt.query_map([user_id], |r| {
            Ok(DeviceRow {
                id: r.get(0)?,
                name: r.get(1)?,
                created_at_ms: r.get(2)?,
                last_seen_ms: r.get(3)?,
                revoked: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn revoke_device(
        &self,
        user_id: i64,
        device_id: &str,
        now_ms: i64,
    ) -> Result<bool, StorageError> {
        let device_id = device_id.to_string();
        self.write(move |conn| {
            // The device and every device added from it, however deep: a stolen phone must not
            // keep its data through a device it paired before it was revoked.
            const FAMILY: &str = "WITH RECURSIVE family(id) AS (
                    SELECT id FROM devices WHERE id = ?1 AND user_id = ?2
                    UNION SELECT d.id FROM devices d JOIN family f ON d.created_by = f.id
                    WHERE d.user_id = ?2)";
            let n = conn.execute(
                &format!(
                    "{FAMILY} UPDATE devices SET revoked_at_ms = coalesce(revoked_at_ms, ?3)
                     WHERE id IN (SELECT id FROM family)"
                ),
                params![device_id, user_id, now_ms],
            )?;
            conn.execute(
                &format!(
                    "{FAMILY} DELETE FROM sessions WHERE user_id = ?2
                     AND device_id IN (SELECT id FROM family)"
                ),
                params![device_id, user_id],
            )?;
            Ok(n > 0)
        })
    }

    fn session(&self, token_hash: &[u8]) -> Result<Option<SessionRow>, StorageError> {
        Ok(self
            .reader()
            .query_row(
                "SELECT s.token_hash, s.user_id, s.device_id, s.expires_at_ms,
                        d.revoked_at_ms IS NOT NULL, d.last_seen_ms
                 FROM sessions s JOIN devices d ON d.id = s.device_id
                 WHERE s.token_hash = ?1",
                [token_hash],
                |r| {
                    Ok(SessionRow {
                        token_hash: r.get(0)?,
                        user_id: r.get(1)?,
                        device_id: r.get(2)?,
                        expires_at_ms: r.get(3)?,
                        device_revoked: r.get(4)?,
                        device_last_seen_ms: r.get(5)?,
                    })
                },
            )
            .optional()?)
    }

    fn delete_session(&self, token_hash: &[u8]) -> Result<(), StorageError> {
        let hash = token_hash.to_vec();
        self.write(move |conn| {
            conn.execute("DELETE FROM sessions WHERE token_hash = ?1", [hash])?;
            Ok(())
        })
    }

    fn touch_device(&self, user_id: i64, device_id: &str, now_ms: i64) -> Result<(), StorageError> {
        let device_id = device_id.to_string();
        self.write(move |conn| {
            conn.execute(
                "UPDATE devices SET last_seen_ms = max(coalesce(last_seen_ms, ?2), ?2)
                 WHERE id = ?1 AND user_id = ?3",
                params![device_id, now_ms, user_id],
            )?;
            Ok(())
        })
    }

    fn kdf_iteration_counts(&self) -> Result<Vec<(u32, u64)>, StorageError> {
        let conn = self.reader();
        let mut stmt = conn.prepare_cached(
            "SELECT kdf_iterations, count(*) FROM users GROUP BY kdf_iterations
             ORDER BY kdf_iterations",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn server_secret(&self) -> Result<Vec<u8>, StorageError> {
        Ok(self.reader().query_row(
            "SELECT value FROM server_meta WHERE key = 'secret'",
            [],
            |r| r.get(0),
        )?)
    }

    fn put_records(
        &self,
        user_id: i64,
        device_id: &str,
        batch: Vec<RecordUpload>,
        now_ms: i64,
        quota_bytes: u64,
    ) -> Result<PutOutcome, StorageError> {
        let device_id = device_id.to_string();
        self.write(move |tx| {
        let (mut last_seq, used): (i64, i64) = tx.query_row(
            "SELECT last_seq, used_bytes FROM users WHERE id = ?1",
            [user_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let existing = {
            let mut current = tx.prepare_cached(
                "SELECT collection, id, seq, deleted, updated_at_ms, payload FROM records
                 WHERE user_id = ?1 AND collection = ?2 AND id = ?3",
            )?;
            batch
                .iter()
                .map(|rec| {
                    current
                        .query_row(params![user_id, rec.collection, rec.id], download)
                        .optional()
                })
                .collect::<Result<Vec<_>, _>>()?
        };
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
        {
            let mut upsert = tx.prepare_cached(
                "INSERT INTO records (user_id, collection, id, seq, deleted, payload, updated_at_ms, device_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (user_id, collection, id) DO UPDATE SET seq = excluded.seq,
                    deleted = excluded.deleted, payload = excluded.payload,
                    updated_at_ms = excluded.updated_at_ms, device_id = excluded.device_id",
            )?;
            for rec in writes {
                last_seq += 1;
                upsert.execute(params![
                    user_id,
                    rec.collection,
                    rec.id,
                    last_seq,
                    rec.deleted,
                    rec.payload,
                    now_ms,
                    device_id
                ])?;
                acks.push(Ack {
                    collection: rec.collection.clone(),
                    id: rec.id.clone(),
                    seq: last_seq,
                });
            }
        }
        tx.execute(
            "UPDATE users SET last_seq = ?2, used_bytes = ?3 WHERE id = ?1",
            params![user_id, last_seq, used_after as i64],
        )?;
        tx.execute(
            "UPDATE devices SET last_seen_ms = ?2 WHERE id = ?1",
            params![device_id, now_ms],
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
        let conn = self.reader();
        let purged: i64 = conn.query_row(
            "SELECT purged_seq FROM users WHERE id = ?1",
            [user_id],
            |r| r.get(0),
        )?;
        if since > 0 && since < purged {
            return Err(StorageError::CursorExpired { purged });
        }
        let mut stmt = conn.prepare_cached(
            "SELECT collection, id, seq, deleted, updated_at_ms, payload FROM records
             WHERE user_id = ?1 AND seq > ?2 AND (?3 IS NULL OR collection = ?3)
             ORDER BY seq LIMIT ?4",
        )?;
        let rows = stmt.query_map(
            params![user_id, since, collection, max_records as i64 + 1],
            download,
        )?;
        Ok(page(since, rows, max_records, max_bytes)?)
    }

    fn purge_tombstones(&self, before_ms: i64) -> Result<usize, StorageError> {
        self.write(move |tx| {
            tx.execute(
                "UPDATE users SET purged_seq = max(purged_seq, (
                SELECT max(seq) FROM records r
                WHERE r.user_id = users.id AND r.deleted = 1 AND r.updated_at_ms < ?1))
             WHERE EXISTS (SELECT 1 FROM records r
                WHERE r.user_id = users.id AND r.deleted = 1 AND r.updated_at_ms < ?1)",
                [before_ms],
            )?;
            tx.execute(
                "UPDATE users SET used_bytes = used_bytes - coalesce((
                SELECT sum(length(payload)) FROM records r
                WHERE r.user_id = users.id AND r.deleted = 1 AND r.updated_at_ms < ?1), 0)",
                [before_ms],
            )?;
            let n = tx.execute(
                "DELETE FROM records WHERE deleted = 1 AND updated_at_ms < ?1",
                [before_ms],
            )?;
            Ok(n)
        })
    }

    fn delete_user(&self, user_id: i64) -> Result<Deleted, StorageError> {
        self.write(move |tx| {
            let records = tx.execute("DELETE FROM records WHERE user_id = ?1", [user_id])?;
            let sessions = tx.execute("DELETE FROM sessions WHERE user_id = ?1", [user_id])?;
            let devices = tx.execute("DELETE FROM devices WHERE user_id = ?1", [user_id])?;
            tx.execute("DELETE FROM users WHERE id = ?1", [user_id])?;
            Ok(Deleted {
                records: records as u64,
                devices: devices as u64,
                sessions: sessions as u64,
            })
        })
    }

    fn totals(&self) -> Result<Totals, StorageError> {
        Ok(self.reader().query_row(
            "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM devices),
                    (SELECT count(*) FROM records), (SELECT coalesce(sum(used_bytes), 0) FROM users)",
            [],
            |r| {
                Ok(Totals {
                    users: r.get::<_, i64>(0)? as u64,
                    devices: r.get::<_, i64>(1)? as u64,
                    records: r.get::<_, i64>(2)? as u64,
                    bytes: r.get::<_, i64>(3)? as u64,
                })
            },
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str) -> NewUser {
        NewUser {
            username: name.into(),
            auth_salt: vec![1; 16],
            auth_hash: vec![2; 32],
            kdf_iterations: 1000,
            wrapped_key: vec![3; 61],
            now_ms: 0,
        }
    }

    #[test]
    fn a_database_from_before_versioning_migrates_and_a_newer_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.db");
        {
            // The schema as it shipped unversioned: migration 1 without `user_version`.
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
            conn.execute(
                "INSERT INTO users (username, auth_salt, auth_hash, kdf_iterations, wrapped_key, created_at_ms)
                 VALUES ('old', x'01', x'02', 1000, x'03', 0)",
                [],
            )
            .unwrap();
        }
        let st = SqliteStorage::open(dir.path()).unwrap();
        assert!(st.user("old").unwrap().is_some(), "the data is kept");
        drop(st);
        let conn = Connection::open(&path).unwrap();
        let v: u32 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        drop(conn);
        let e = SqliteStorage::open(dir.path()).err().unwrap().to_string();
        assert!(e.contains("newer Strideguard server"), "{e}");

        let other = tempfile::tempdir().unwrap();
        let conn = Connection::open(other.path().join("server.db")).unwrap();
        conn.execute_batch("CREATE TABLE notes (t TEXT)").unwrap();
        drop(conn);
        let e = SqliteStorage::open(other.path()).err().unwrap().to_string();
        assert!(e.contains("not a Strideguard server database"), "{e}");
    }

    #[test]
    fn deleting_a_user_removes_everything_of_theirs_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let st = SqliteStorage::open(dir.path()).unwrap();
        let a = st.create_user(&user("a")).unwrap();
        let b = st.create_user(&user("b")).unwrap();
        for (u, dev) in [(a, "laptop"), (a, "phone"), (b, "watch")] {
            let d = st
                .add_device_session(&NewDevice {
                    user_id: u,
                    name: dev.into(),
                    now_ms: 0,
                    created_by: None,
                    max_devices: 10,
                    token_hash: dev.as_bytes().to_vec(),
                    expires_at_ms: i64::MAX,
                })
                .unwrap();
            let rec = RecordUpload {
                collection: "c".repeat(64),
                id: Uuid::new_v4().to_string(),
                if_seq: None,
                deleted: false,
                payload: vec![1; 10],
            };
            st.put_records(u, &d, vec![rec], 0, u64::MAX).unwrap();
        }
        let gone = st.delete_user(a).unwrap();
        assert_eq!(
            gone,
            Deleted {
                records: 2,
                devices: 2,
                sessions: 2
            }
        );
        assert!(st.user("a").unwrap().is_none());
        assert!(st.session(b"laptop").unwrap().is_none());
        assert_eq!(
            st.records(b, 0, None, 10, 1 << 20).unwrap().records.len(),
            1
        );
        assert!(st.session(b"watch").unwrap().is_some());
        // The name is free again.
        st.create_user(&user("a")).unwrap();
    }

    #[test]
    fn concurrent_writes_commit_together_and_a_failing_one_undoes_only_itself() {
        let dir = tempfile::tempdir().unwrap();
        let st = std::sync::Arc::new(SqliteStorage::open(dir.path()).unwrap());
        let names = ["a", "b", "c", "d", "same", "same", "e", "f"];
        let results: Vec<_> = names
            .iter()
            .map(|n| {
                let st = st.clone();
                let n = n.to_string();
                std::thread::spawn(move || st.create_user(&user(&n)))
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect();
        let refused = results
            .iter()
            .filter(|r| matches!(r, Err(StorageError::UserExists)))
            .count();
        assert_eq!(refused, 1);
        assert_eq!(st.totals().unwrap().users, 7);
        // Durable: a new connection (as after a restart) sees them all.
        drop(st);
        let again = SqliteStorage::open(dir.path()).unwrap();
        assert!(again.user("same").unwrap().is_some());
        assert_eq!(again.totals().unwrap().users, 7);
    }

    /// A storage with one device, and a way to write `commits` uploads of 10 records of 4 KB
    /// (a page each) one after another.
    fn writing() -> (
        tempfile::TempDir,
        SqliteStorage,
        impl Fn(&SqliteStorage, usize),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let st = SqliteStorage::open(dir.path()).unwrap();
        let u = st.create_user(&user("a")).unwrap();
        let d = st
            .add_device_session(&NewDevice {
                user_id: u,
                name: "phone".into(),
                now_ms: 0,
                created_by: None,
                max_devices: 10,
                token_hash: vec![9; 32],
                expires_at_ms: i64::MAX,
            })
            .unwrap();
        let write = move |st: &SqliteStorage, commits: usize| {
            for _ in 0..commits {
                let batch = (0..10)
                    .map(|_| RecordUpload {
                        collection: "c".repeat(64),
                        id: Uuid::new_v4().to_string(),
                        if_seq: None,
                        deleted: false,
                        payload: vec![7; 4000],
                    })
                    .collect();
                st.put_records(u, &d, batch, 0, u64::MAX).unwrap();
            }
        };
        (dir, st, write)
    }

    fn file_size(dir: &tempfile::TempDir, name: &str) -> u64 {
        std::fs::metadata(dir.path().join(name)).map_or(0, |m| m.len())
    }

    #[test]
    fn the_checkpointer_copies_the_wal_into_the_database_and_no_commit_does() {
        let (dir, st, write) = writing();
        let before = file_size(&dir, "server.db");
        // About 4 MB: past the pages that wake the checkpointer, short of the writer's own.
        write(&st, 100);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while file_size(&dir, "server.db") < before + (2 << 20)
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert!(
            file_size(&dir, "server.db") >= before + (2 << 20),
            "the database file holds the records: {} bytes (was {before})",
            file_size(&dir, "server.db")
        );
        let c = &st.checkpoints;
        assert!(
            c.background.load(Ordering::Relaxed) >= 1,
            "the checkpointer ran"
        );
        assert_eq!(
            c.inline.load(Ordering::Relaxed),
            0,
            "no commit copied the WAL itself"
        );
        assert_eq!(
            st.records(1, 0, None, 5000, 64 << 20)
                .unwrap()
                .records
                .len(),
            1000
        );
    }

    #[test]
    fn under_steady_writes_the_wal_starts_again_and_stays_bounded() {
        let (dir, st, write) = writing();
        // About 45 MB through the WAL, without a pause for the checkpointer to catch up.
        write(&st, 800);
        let wal = file_size(&dir, "server.db-wal");
        assert!(
            wal <= 24 << 20,
            "the WAL started again from its beginning instead of growing to hold every write: {wal} bytes"
        );
        assert_eq!(
            st.records(1, 0, None, 10_000, 64 << 20)
                .unwrap()
                .records
                .len(),
            8000
        );
        // Dropping the storage closes the database, the WAL emptied into it: a new one opens
        // it at once and finds it all.
        drop(st);
        assert_eq!(
            file_size(&dir, "server.db-wal"),
            0,
            "the last connection emptied the WAL"
        );
        let again = SqliteStorage::open(dir.path()).unwrap();
        assert_eq!(again.totals().unwrap().records, 8000);
    }
}
