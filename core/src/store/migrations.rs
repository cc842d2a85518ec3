//! Numbered schema migrations. The schema version lives in SQLite's `user_version`; each
//! migration runs in its own transaction together with the version bump, so a crash leaves the
//! file at the old version or the new one, never between.
//!
//! Never edit a migration that has shipped: add a new one. Tests open a database written at every
//! earlier version and check that it upgrades with its data intact.

use rusqlite::{Connection, Transaction};
use uuid::Uuid;

/// Marks a SQLite file as Strideguard's (`PRAGMA application_id`): "SGRD".
pub const APPLICATION_ID: i32 = 0x5347_5244;

pub(crate) struct Migration {
    pub version: u32,
    pub description: &'static str,
    pub apply: fn(&Transaction<'_>) -> rusqlite::Result<()>,
}

pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "profile, shoes and runs",
        apply: v1_profile_shoes_runs,
    },
    Migration {
        version: 2,
        description: "sample streams in compact chunks",
        apply: v2_run_samples,
    },
    Migration {
        version: 3,
        description: "local change log with hybrid-logical-clock stamps",
        apply: v3_change_log,
    },
    Migration {
        version: 4,
        description: "pain log and exercise plans",
        apply: v4_pain_and_plans,
    },
    Migration {
        version: 5,
        description: "the analysis thresholds a runner changed, in the profile",
        apply: v5_profile_thresholds,
    },
    Migration {
        version: 6,
        description: "sync: the linked account and the merged state of every synced record",
        apply: v6_sync_state,
    },
    Migration {
        version: 7,
        description: "running dynamics and power: per-run averages",
        apply: v7_run_dynamics,
    },
    Migration {
        version: 8,
        description: "sync: records waiting to upload, in upload order",
        apply: v8_sync_upload_order,
    },
];

/// The schema version this build writes.
pub const LATEST_VERSION: u32 = MIGRATIONS[MIGRATIONS.len() - 1].version;

/// An upload takes the next batch of a collection's dirty records in local-id order. With an
/// index on `dirty` alone, SQLite walked the primary key instead, past every record already
/// uploaded, batch after batch: quadratic in a history. This index holds exactly the dirty
/// records in that order (`sync_outgoing` names it).
fn v8_sync_upload_order(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(
        "DROP INDEX sync_records_dirty;
         CREATE INDEX sync_records_dirty ON sync_records (collection, local_id) WHERE dirty = 1;",
    )
}

/// The averages of the sample channels format 2 chunks carry (stance time, its balance, vertical
/// oscillation and ratio, power) and of the step length; all empty for the runs already stored.
fn v7_run_dynamics(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(
        "ALTER TABLE runs ADD COLUMN avg_power_w REAL;
         ALTER TABLE runs ADD COLUMN avg_stance_time_s REAL;
         ALTER TABLE runs ADD COLUMN avg_stance_balance_left_pct REAL;
         ALTER TABLE runs ADD COLUMN avg_vertical_oscillation_m REAL;
         ALTER TABLE runs ADD COLUMN avg_vertical_ratio_pct REAL;
         ALTER TABLE runs ADD COLUMN avg_step_length_m REAL;",
    )
}

fn v1_profile_shoes_runs(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(
        "CREATE TABLE meta (
            key   TEXT PRIMARY KEY,
            value TEXT NOT NULL
         ) STRICT;
         CREATE TABLE profile (
            id             INTEGER PRIMARY KEY CHECK (id = 1),
            units          TEXT NOT NULL DEFAULT 'km',
            time_zone      TEXT NOT NULL DEFAULT 'UTC',
            cadence_mode   TEXT NOT NULL DEFAULT 'auto' CHECK (cadence_mode IN ('auto', 'fixed')),
            cadence_value  REAL NOT NULL DEFAULT 5.0,
            resting_hr_bpm INTEGER,
            max_hr_bpm     INTEGER,
            height_m       REAL
         ) STRICT;
         INSERT INTO profile (id) VALUES (1);
         CREATE TABLE shoes (
            id               TEXT PRIMARY KEY,
            name             TEXT NOT NULL,
            brand            TEXT,
            model            TEXT,
            start_distance_m REAL NOT NULL DEFAULT 0,
            wear_at_m        REAL NOT NULL,
            replace_at_m     REAL NOT NULL,
            retired          INTEGER NOT NULL DEFAULT 0,
            is_default       INTEGER NOT NULL DEFAULT 0
         ) STRICT;
         CREATE UNIQUE INDEX shoes_one_default ON shoes (is_default) WHERE is_default = 1;
         CREATE TABLE runs (
            id                 TEXT PRIMARY KEY,
            start_unix_ms      INTEGER NOT NULL,
            utc_offset_s       INTEGER NOT NULL,
            duration_s         REAL NOT NULL,
            moving_time_s      REAL,
            distance_m         REAL NOT NULL,
            elevation_gain_m   REAL,
            elevation_loss_m   REAL,
            avg_hr_bpm         REAL,
            max_hr_bpm         REAL,
            avg_cadence_spm    REAL,
            kind               TEXT NOT NULL,
            rpe                INTEGER CHECK (rpe BETWEEN 0 AND 10),
            shoe_id            TEXT REFERENCES shoes (id) ON DELETE SET NULL,
            notes              TEXT,
            source             TEXT NOT NULL,
            source_fingerprint TEXT
         ) STRICT;
         CREATE INDEX runs_by_start ON runs (start_unix_ms);
         CREATE INDEX runs_by_shoe ON runs (shoe_id);
         CREATE INDEX runs_by_fingerprint ON runs (source_fingerprint);",
    )?;
    tx.pragma_update(None, "application_id", APPLICATION_ID)?;
    // The device id orders concurrent edits in the hybrid logical clock; it is made once per
    // database and never changes.
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('device_id', ?1)",
        [Uuid::new_v4().to_string()],
    )?;
    Ok(())
}

fn v2_run_samples(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(
        "CREATE TABLE run_samples (
            run_id       TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
            chunk        INTEGER NOT NULL,
            sample_count INTEGER NOT NULL,
            data         BLOB NOT NULL,
            PRIMARY KEY (run_id, chunk)
         ) STRICT, WITHOUT ROWID;",
    )
}

fn v3_change_log(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(
        "CREATE TABLE changes (
            seq        INTEGER PRIMARY KEY AUTOINCREMENT,
            collection TEXT NOT NULL,
            record_id  TEXT NOT NULL,
            op         TEXT NOT NULL CHECK (op IN ('put', 'delete')),
            fields     TEXT NOT NULL,
            hlc        TEXT NOT NULL
         ) STRICT;
         CREATE INDEX changes_by_record ON changes (collection, record_id);",
    )?;
    // Records written before the log existed still have to reach other devices. They get the
    // zero stamp: their edit time is unknown, so any later edit anywhere wins over them. A
    // profile still at its defaults has nothing to tell other devices.
    tx.execute_batch(
        "INSERT INTO changes (collection, record_id, op, fields, hlc)
           SELECT 'profile', 'profile', 'put', '[\"*\"]', z.stamp FROM profile AS p, zero_stamp AS z
            WHERE NOT (p.units = 'km' AND p.time_zone = 'UTC' AND p.cadence_mode = 'auto'
                       AND p.cadence_value = 5.0 AND p.resting_hr_bpm IS NULL
                       AND p.max_hr_bpm IS NULL AND p.height_m IS NULL);
         INSERT INTO changes (collection, record_id, op, fields, hlc)
           SELECT 'shoes', s.id, 'put', '[\"*\"]', z.stamp FROM shoes AS s, zero_stamp AS z;
         INSERT INTO changes (collection, record_id, op, fields, hlc)
           SELECT 'runs', r.id, 'put', '[\"*\"]', z.stamp FROM runs AS r, zero_stamp AS z;
         INSERT INTO changes (collection, record_id, op, fields, hlc)
           SELECT DISTINCT 'run_samples', rs.run_id, 'put', '[\"*\"]', z.stamp
             FROM run_samples AS rs, zero_stamp AS z;"
            .replace(
                "zero_stamp AS z",
                "(SELECT '0000000000000000-00000000-' || value AS stamp
                    FROM meta WHERE key = 'device_id') AS z",
            )
            .as_str(),
    )
}

fn v4_pain_and_plans(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(
        "CREATE TABLE pain_entries (
            id           TEXT PRIMARY KEY,
            logged_at_ms INTEGER NOT NULL,
            answers      TEXT NOT NULL
         ) STRICT;
         CREATE INDEX pain_by_time ON pain_entries (logged_at_ms);
         CREATE TABLE plans (
            id            TEXT PRIMARY KEY,
            created_at_ms INTEGER NOT NULL,
            plan_for      TEXT NOT NULL
         ) STRICT;
         CREATE TABLE plan_ticks (
            plan_id  TEXT NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
            day      TEXT NOT NULL,
            exercise TEXT NOT NULL,
            PRIMARY KEY (plan_id, day, exercise)
         ) STRICT, WITHOUT ROWID;",
    )
}

fn v5_profile_thresholds(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    // NULL: domain.md's defaults. Otherwise JSON holding the changed ones.
    tx.execute_batch("ALTER TABLE profile ADD COLUMN thresholds TEXT;")
}

fn v6_sync_state(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    // `sync_records` holds each record as last merged, with the stamp of every field, the
    // server sequence it was last seen at, whether it has local changes to upload (`dirty`)
    // and whether its merged state is in the tables yet (`applied`: 0 while, say, a run waits
    // for the shoe it references).
    tx.execute_batch(
        "CREATE TABLE sync_account (
            id              INTEGER PRIMARY KEY CHECK (id = 1),
            server          TEXT NOT NULL,
            username        TEXT NOT NULL,
            device_id       TEXT NOT NULL,
            token           TEXT NOT NULL,
            data_key        BLOB NOT NULL,
            kdf_iterations  INTEGER NOT NULL
         ) STRICT;
         CREATE TABLE sync_records (
            collection TEXT NOT NULL,
            local_id   TEXT NOT NULL,
            record     TEXT NOT NULL,
            server_seq INTEGER NOT NULL DEFAULT 0,
            dirty      INTEGER NOT NULL DEFAULT 0,
            applied    INTEGER NOT NULL DEFAULT 1,
            PRIMARY KEY (collection, local_id)
         ) STRICT, WITHOUT ROWID;
         CREATE INDEX sync_records_dirty ON sync_records (dirty) WHERE dirty = 1;
         CREATE INDEX sync_records_pending ON sync_records (applied) WHERE applied = 0;",
    )
}

/// Applies every migration above the file's current version, each in its own transaction.
pub(crate) fn migrate(conn: &mut Connection, from: u32) -> rusqlite::Result<()> {
    migrate_to(conn, from, LATEST_VERSION)
}

/// Applies the migrations in `from+1..=to`. Tests use it to build databases at old versions.
pub(crate) fn migrate_to(conn: &mut Connection, from: u32, to: u32) -> rusqlite::Result<()> {
    for m in MIGRATIONS
        .iter()
        .filter(|m| m.version > from && m.version <= to)
    {
        // Immediate, and the version read again under the lock: another process opening the
        // same new file at the same moment may have applied this one already.
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let now: u32 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if now >= m.version {
            continue;
        }
        (m.apply)(&tx)?;
        tx.pragma_update(None, "user_version", m.version)?;
        tx.commit()?;
    }
    Ok(())
}

/// What each version added, for `--help`-style listings and error messages.
pub fn describe() -> impl Iterator<Item = (u32, &'static str)> {
    MIGRATIONS.iter().map(|m| (m.version, m.description))
}
