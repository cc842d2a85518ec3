//! The runner's history in one SQLite file (rusqlite, SQLite bundled so every platform runs the
//! same engine).
//!
//! Guarantees: the schema is migrated on open through numbered migrations; a file that is not
//! SQLite, belongs to another program or was written by a newer Strideguard is refused without
//! being touched; every write is one transaction that also appends to the change log, so a
//! change is either fully recorded (and will sync) or did not happen.

mod access;
mod changes;
pub mod collections;
mod exports;
mod imports;
mod live;
mod migrations;
mod pain;
mod profile;
mod runs;
mod shoes;
mod sync_records;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, Transaction};
use uuid::Uuid;

use crate::clock::{Clock, SystemClock};
use crate::hlc::{Hlc, Stamp};
use crate::samples::CodecError;

pub use access::StoreAccess;
pub use changes::{Change, ChangeOp, collection};
pub use exports::{
    CSV_INDEX, ExportFailed, ExportOutcome, ExportProgress, ExportReport, ExportTotals,
    ExportedFile, export_file_name, export_runs,
};
pub use imports::{
    FileOutcome, FileReport, Found, IN_FLIGHT_PER_WORKER, ImportProgress, ImportReport,
    ImportTimings, ImportTotals, Source, SourceKind, StravaFile, collect_files, import_bytes,
    import_files, import_path,
};
pub use live::{CoachTarget, TargetSource};
pub use migrations::{APPLICATION_ID, LATEST_VERSION, describe as describe_migrations};
pub use pain::{LogTriage, PainEntry, PlanExercise, PlanToday, StoredPlan, Tick};
pub use runs::{
    Duplicate, DuplicateReason, ImportFailed, Imported, RunEdit, SAME_ACTIVITY_OVERLAP,
};
pub use shoes::{ShoeChoice, ShoeEdit};
pub use sync_records::{
    FOLD_STEP, IncomingRecord, MergeStats, OutgoingRecord, SyncAccount, SyncStatus,
};

/// Everything that can go wrong with the store, naming the file, record or field involved.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path} is not a SQLite database (is it the right file?)")]
    NotADatabase { path: PathBuf },
    #[error(
        "{path} is a SQLite database of another program, not Strideguard's; refusing to change it"
    )]
    ForeignDatabase { path: PathBuf },
    #[error(
        "{path} was written by a newer Strideguard (schema version {found}; this one knows up to {supported}); upgrade Strideguard to open it"
    )]
    SchemaTooNew {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error("cannot open {path}: {reason}")]
    CannotOpen { path: PathBuf, reason: String },
    #[error("no {what} matches '{key}'")]
    NotFound { what: &'static str, key: String },
    #[error("'{key}' matches more than one {what}: {}; give more of the id", candidates.join(", "))]
    Ambiguous {
        what: &'static str,
        key: String,
        candidates: Vec<String>,
    },
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error(transparent)]
    OutOfRange(#[from] crate::ranges::OutOfRange),
    #[error("'{given}' is not in your {plan} plan: one of {expected}")]
    NotInPlan {
        given: String,
        plan: &'static str,
        expected: String,
    },
    #[error("a shoe named '{0}' already exists")]
    DuplicateShoeName(String),
    #[error("stored {table} record {id} is damaged: {reason}")]
    Corrupt {
        table: &'static str,
        id: String,
        reason: String,
    },
    #[error("samples of run {run_id}, chunk {chunk}: {source}")]
    Samples {
        run_id: Uuid,
        chunk: u32,
        source: CodecError,
    },
    #[error(transparent)]
    Export(#[from] crate::export::ExportError),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// An open Strideguard database.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    clock: Arc<dyn Clock>,
    hlc: Hlc,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens (creating if needed) the database at `path` and migrates it to the latest schema.
    pub fn open(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        Store::open_with_clock(path, Arc::new(SystemClock))
    }

    /// Like [`Store::open`], with the clock that stamps changes supplied by the caller.
    pub fn open_with_clock(
        path: impl AsRef<Path>,
        clock: Arc<dyn Clock>,
    ) -> Result<Store, StoreError> {
        let path = path.as_ref().to_path_buf();
        let mut conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| classify_open_error(&path, e))?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // A sync step runs a few dozen statements per record (each collection's writes, the
        // synced records, savepoints); rusqlite's default cache of 16 would parse them again.
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);

        // Read-only checks first: nothing is written to a file we are going to refuse.
        let version: u32 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(|e| classify_open_error(&path, e))?;
        let app_id: i32 = conn.pragma_query_value(None, "application_id", |r| r.get(0))?;
        if app_id != 0 && app_id != APPLICATION_ID {
            return Err(StoreError::ForeignDatabase { path });
        }
        if version == 0 {
            let tables: i64 = conn.query_row(
                "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'",
                [],
                |r| r.get(0),
            )?;
            if tables > 0 {
                return Err(StoreError::ForeignDatabase { path });
            }
        }
        if version > LATEST_VERSION {
            return Err(StoreError::SchemaTooNew {
                path,
                found: version,
                supported: LATEST_VERSION,
            });
        }

        conn.pragma_update(None, "journal_mode", "WAL")?;
        // FULL: an acknowledged write survives a power cut, which a runner's history deserves.
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.pragma_update(None, "mmap_size", MMAP_BYTES)?;
        migrations::migrate(&mut conn, version)?;

        let (device_id, last) = load_clock(&conn)?;
        Ok(Store {
            conn,
            path,
            clock,
            hlc: Hlc::new(device_id, last),
        })
    }

    /// Opens an existing, migrated database for reading only: the second connection an app
    /// reads through while the writing one is busy (WAL lets readers see the last commit while
    /// a write is in progress, so a read never waits on a sync).
    pub fn open_read_only(
        path: impl AsRef<Path>,
        clock: Arc<dyn Clock>,
    ) -> Result<Store, StoreError> {
        let path = path.as_ref().to_path_buf();
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| classify_open_error(&path, e))?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        let version: u32 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(|e| classify_open_error(&path, e))?;
        let app_id: i32 = conn.pragma_query_value(None, "application_id", |r| r.get(0))?;
        if app_id != APPLICATION_ID {
            return Err(StoreError::ForeignDatabase { path });
        }
        if version != LATEST_VERSION {
            return Err(StoreError::CannotOpen {
                path,
                reason: format!(
                    "schema version {version}, not {LATEST_VERSION}: open it for writing first"
                ),
            });
        }
        let (device_id, last) = load_clock(&conn)?;
        Ok(Store {
            conn,
            path,
            clock,
            hlc: Hlc::new(device_id, last),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Now, by the store's clock: every "now" in the CLI and the apps comes from here.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::from_timestamp_millis(self.clock.now_ms()).unwrap_or_default()
    }

    /// Now in the runner's time zone (the profile's).
    pub fn now_local(&self) -> Result<chrono::DateTime<chrono::FixedOffset>, StoreError> {
        Ok(self
            .now()
            .with_timezone(&self.profile()?.zone())
            .fixed_offset())
    }

    /// Today in the runner's time zone: the day reports, plans and ticks default to.
    pub fn today(&self) -> Result<chrono::NaiveDate, StoreError> {
        Ok(self.now_local()?.date_naive())
    }

    /// The schema version of the open file (always [`LATEST_VERSION`] after open).
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        Ok(self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?)
    }

    /// This database's device id: the node of its clock stamps.
    pub fn device_id(&self) -> Uuid {
        self.hlc.last().node
    }

    /// Runs `f` in one transaction with a change log to append to; commits only if `f`
    /// succeeds, and only then advances the in-memory clock.
    fn write<T>(
        &mut self,
        f: impl FnOnce(&mut Writer<'_, '_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let now = self.clock.now_ms();
        let mut hlc = self.hlc;
        let tx = begin_write(&mut self.conn, &mut hlc, now)?;
        let out = {
            let mut w = Writer {
                tx: &tx,
                hlc: &mut hlc,
                now_ms: now,
            };
            f(&mut w)?
        };
        persist_clock(&tx, &hlc)?;
        tx.commit()?;
        self.hlc = hlc;
        Ok(out)
    }
}

/// How long a write waits for another connection's write (another app object, a widget, the
/// CLI in a second terminal) before giving up with "database is locked".
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// Prepared statements kept per connection.
const STATEMENT_CACHE: usize = 128;
/// The writing connection reads the database through a memory map up to this size, not a
/// system call and a copy per page: a sync reads every sample chunk of a history, and the
/// page reads were half of its reading on the device. (Past the map, and for pages still in
/// the WAL, reads go as before.) Only the writer maps, and only on 64-bit targets, where
/// 256 MiB of address space is nothing; a 32-bit phone keeps its address space. Through a
/// map an I/O error is a signal, not an error (SQLite's "Memory-Mapped I/O"), so on iOS the
/// file must stay readable while the phone is locked (mobile-ffi/README.md).
const MMAP_BYTES: i64 = if cfg!(target_pointer_width = "64") {
    256 << 20
} else {
    0
};

/// This database's device id and the last clock stamp it persisted.
fn load_clock(conn: &Connection) -> Result<(Uuid, Stamp), StoreError> {
    let device_id: String =
        conn.query_row("SELECT value FROM meta WHERE key = 'device_id'", [], |r| {
            r.get(0)
        })?;
    let device_id = Uuid::parse_str(&device_id).map_err(|e| StoreError::Corrupt {
        table: "meta",
        id: "device_id".into(),
        reason: e.to_string(),
    })?;
    Ok((device_id, persisted_stamp(conn)?))
}

/// The last stamp any connection to this file committed.
fn persisted_stamp(conn: &Connection) -> Result<Stamp, StoreError> {
    let last: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key = 'hlc_last'", [], |r| {
            r.get(0)
        })
        .optional()?;
    match last {
        Some(s) => s.parse::<Stamp>().map_err(|e| StoreError::Corrupt {
            table: "meta",
            id: "hlc_last".into(),
            reason: e.to_string(),
        }),
        None => Ok(Stamp::ZERO),
    }
}

/// Starts a write transaction that takes the write lock at once (so two connections queue on
/// the busy timeout instead of one failing with "database is locked" when it upgrades), and
/// brings `hlc` past the last stamp any other connection to the file committed, so stamps stay
/// ordered across two app objects or two processes on one database.
fn begin_write<'c>(
    conn: &'c mut Connection,
    hlc: &mut Hlc,
    now_ms: i64,
) -> Result<Transaction<'c>, StoreError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let persisted = persisted_stamp(&tx)?;
    if persisted > hlc.last() {
        hlc.observe(persisted, now_ms);
    }
    Ok(tx)
}

/// Saves the clock state with the transaction, so stamps never repeat after a restart.
fn persist_clock(tx: &Transaction<'_>, hlc: &Hlc) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('hlc_last', ?1)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [hlc.last().to_string()],
    )?;
    Ok(())
}

/// A write transaction plus the clock that stamps its change-log entries.
struct Writer<'a, 'c> {
    tx: &'a Transaction<'c>,
    hlc: &'a mut Hlc,
    now_ms: i64,
}

impl Writer<'_, '_> {
    /// Appends to the change log: `fields` names what changed (`["*"]` for a whole record).
    fn log(
        &mut self,
        collection: &str,
        record_id: &str,
        op: ChangeOp,
        fields: &[&str],
    ) -> Result<(), StoreError> {
        let stamp = self.hlc.tick(self.now_ms);
        self.tx.execute(
            "INSERT INTO changes (collection, record_id, op, fields, hlc) VALUES (?1, ?2, ?3, ?4, ?5)",
            rusqlite::params![
                collection,
                record_id,
                op.as_str(),
                serde_json::to_string(fields).expect("a list of strings serialises"),
                stamp.to_string()
            ],
        )?;
        Ok(())
    }
}

fn classify_open_error(path: &Path, e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => StoreError::NotADatabase {
            path: path.to_path_buf(),
        },
        Some(ErrorCode::CannotOpen) | Some(ErrorCode::PermissionDenied) => StoreError::CannotOpen {
            path: path.to_path_buf(),
            reason: e.to_string(),
        },
        _ => StoreError::Sqlite(e),
    }
}

/// Finds exactly one id among `candidates` whose text starts with `key`.
fn unique_prefix<T: Clone>(
    what: &'static str,
    key: &str,
    candidates: Vec<(String, T)>,
) -> Result<T, StoreError> {
    let key_lower = key.trim().to_ascii_lowercase();
    let matches: Vec<(String, T)> = candidates
        .into_iter()
        .filter(|(id, _)| key_lower.len() >= 4 && id.starts_with(&key_lower))
        .collect();
    match matches.len() {
        0 => Err(StoreError::NotFound {
            what,
            key: key.to_string(),
        }),
        1 => Ok(matches[0].1.clone()),
        _ => Err(StoreError::Ambiguous {
            what,
            key: key.to_string(),
            candidates: matches.into_iter().map(|(id, _)| id).collect(),
        }),
    }
}

fn finite(field: &'static str, v: f64) -> Result<(), StoreError> {
    if v.is_finite() {
        Ok(())
    } else {
        Err(StoreError::Invalid {
            field,
            reason: format!("{v} is not a number"),
        })
    }
}

/// Text no longer than `max` characters (names and notes have to fit a phone's screen and a
/// sync record).
fn text_within(field: &'static str, text: Option<&str>, max: usize) -> Result<(), StoreError> {
    let chars = text.map_or(0, |t| t.chars().count());
    if chars > max {
        return Err(StoreError::Invalid {
            field,
            reason: format!("{chars} characters is longer than the {max} allowed"),
        });
    }
    Ok(())
}

fn non_negative(field: &'static str, v: f64) -> Result<(), StoreError> {
    finite(field, v)?;
    if v < 0.0 {
        return Err(StoreError::Invalid {
            field,
            reason: format!("{v} is negative"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod flows_tests;
