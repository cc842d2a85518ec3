//! The local change log: one row per write, in commit order. The sync engine reads it from its
//! last cursor to know what to upload; it is never edited, only appended to.

use serde::Serialize;

use super::{Store, StoreError};
use crate::hlc::Stamp;

/// Names of the synced collections as they appear in the change log.
pub mod collection {
    pub const PROFILE: &str = "profile";
    pub const SHOES: &str = "shoes";
    pub const RUNS: &str = "runs";
    /// A run's sample stream, keyed by the run id; immutable once written.
    pub const RUN_SAMPLES: &str = "run_samples";
    /// Pain log entries: append-only.
    pub const PAIN_ENTRIES: &str = "pain_entries";
    pub const PLANS: &str = "plans";
    /// A plan's exercise ticked off on a day, keyed `plan:day:exercise`.
    pub const PLAN_TICKS: &str = "plan_ticks";
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeOp {
    Put,
    Delete,
}

impl ChangeOp {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeOp::Put => "put",
            ChangeOp::Delete => "delete",
        }
    }
}

/// One entry of the change log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// Position in the log; strictly increasing.
    pub seq: i64,
    pub collection: String,
    pub record_id: String,
    pub op: ChangeOp,
    /// The fields written; `["*"]` for a whole record.
    pub fields: Vec<String>,
    #[serde(serialize_with = "stamp_as_string")]
    pub stamp: Stamp,
}

fn stamp_as_string<S: serde::Serializer>(s: &Stamp, ser: S) -> Result<S::Ok, S::Error> {
    ser.collect_str(s)
}

impl Store {
    /// Change-log entries after `seq` (exclusive), oldest first, at most `limit`.
    pub fn changes_since(&self, seq: i64, limit: usize) -> Result<Vec<Change>, StoreError> {
        changes_since(&self.conn, seq, limit)
    }
}

/// [`Store::changes_since`] on a connection (or inside a transaction).
pub(super) fn changes_since(
    conn: &rusqlite::Connection,
    seq: i64,
    limit: usize,
) -> Result<Vec<Change>, StoreError> {
    query(
        conn,
        "SELECT seq, collection, record_id, op, fields, hlc FROM changes
         WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        rusqlite::params![seq, i64::try_from(limit).unwrap_or(i64::MAX)],
    )
}

/// The entries after `seq` (exclusive) about one record, oldest first.
pub(super) fn changes_of(
    conn: &rusqlite::Connection,
    collection: &str,
    record_id: &str,
    seq: i64,
) -> Result<Vec<Change>, StoreError> {
    query(
        conn,
        "SELECT seq, collection, record_id, op, fields, hlc FROM changes
         WHERE collection = ?1 AND record_id = ?2 AND seq > ?3 ORDER BY seq",
        rusqlite::params![collection, record_id, seq],
    )
}

fn query(
    conn: &rusqlite::Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<Change>, StoreError> {
    {
        let mut stmt = conn.prepare_cached(sql)?;
        let rows = stmt.query_map(params, |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, collection, record_id, op, fields, hlc) = row?;
            let corrupt = |reason: String| StoreError::Corrupt {
                table: "changes",
                id: seq.to_string(),
                reason,
            };
            let op = match op.as_str() {
                "put" => ChangeOp::Put,
                "delete" => ChangeOp::Delete,
                other => return Err(corrupt(format!("unknown op '{other}'"))),
            };
            out.push(Change {
                seq,
                collection,
                record_id,
                op,
                fields: serde_json::from_str(&fields).map_err(|e| corrupt(e.to_string()))?,
                stamp: hlc
                    .parse()
                    .map_err(|e: crate::hlc::BadStamp| corrupt(e.to_string()))?,
            });
        }
        Ok(out)
    }
}
