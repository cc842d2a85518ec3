//! How each synced collection maps between its table rows and sync records.
//!
//! A record is a set of named fields (the names the change log uses) holding JSON values. A new
//! collection plugs into sync by implementing [`SyncCollection`] and being listed in
//! [`COLLECTIONS`]; nothing else in the sync engine knows about tables.

use std::collections::BTreeMap;

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension};
use serde_json::Value;

use super::StoreError;
use super::changes::{ChangeOp, collection};
use crate::sync::{Record, blob_bytes, blob_value};

/// A record's field values by name.
pub type Fields = BTreeMap<String, Value>;

/// One synced collection. Implementations run inside the store's sync transactions.
pub trait SyncCollection: Sync {
    /// The name in the change log (and, sealed, on the wire).
    fn name(&self) -> &'static str;

    /// Bound into every sealed record, so a reader never mistakes an old layout for a new one.
    fn schema_version(&self) -> u32 {
        1
    }

    /// Plaintexts are padded up to a multiple of this, so sizes say less.
    fn pad_to(&self) -> usize {
        1024
    }

    /// Records that never change once written keep their values only in the table.
    fn immutable(&self) -> bool {
        false
    }

    /// The records a change-log entry about `record_id` touched.
    fn local_ids(
        &self,
        _conn: &Connection,
        record_id: &str,
        _op: ChangeOp,
    ) -> Result<Vec<String>, StoreError> {
        Ok(vec![record_id.to_string()])
    }

    /// The record's current fields, or `None` when it is not in the table.
    fn read(&self, conn: &Connection, local_id: &str) -> Result<Option<Fields>, StoreError>;

    /// The names of the record's fields, or `None` when it is not in the table: all that
    /// folding an immutable record needs (its values stay in the table), without reading and
    /// converting its values (a sample chunk's blob).
    fn field_names(
        &self,
        conn: &Connection,
        local_id: &str,
    ) -> Result<Option<Vec<String>>, StoreError> {
        Ok(self.read(conn, local_id)?.map(|f| f.into_keys().collect()))
    }

    /// Writes the fields present in `fields` (inserting the row if it is new).
    fn write(&self, conn: &Connection, local_id: &str, fields: &Fields) -> Result<(), StoreError>;

    fn delete(&self, conn: &Connection, local_id: &str) -> Result<(), StoreError>;

    /// Restores invariants that span records after remote records were applied.
    fn after_apply(&self, _conn: &Connection) -> Result<(), StoreError> {
        Ok(())
    }
}

/// Every synced collection, in the order remote records are applied (referenced before
/// referencing).
pub static COLLECTIONS: &[&dyn SyncCollection] = &[
    &PROFILE_COLLECTION,
    &SHOES,
    &RUNS,
    &RUN_SAMPLES,
    &PAIN_ENTRIES,
    &PLANS,
    &PLAN_TICKS,
];

/// The collection called `name`, if this build knows it.
pub fn sync_collection(name: &str) -> Option<&'static dyn SyncCollection> {
    COLLECTIONS.iter().copied().find(|c| c.name() == name)
}

/// A collection stored as one table, field by field.
pub struct Table {
    pub name: &'static str,
    pub table: &'static str,
    /// The columns that make the local id, joined with ':'.
    pub keys: &'static [&'static str],
    /// Field name and the columns it covers (several make a JSON array).
    pub fields: &'static [(&'static str, &'static [&'static str])],
    pub pad_to: usize,
    pub immutable: bool,
    /// A change-log entry names the first key only (one entry for all of a run's chunks).
    pub grouped: bool,
    /// A field that references another collection's row: when that record was deleted
    /// everywhere the reference is cleared (as `ON DELETE SET NULL` does locally).
    pub reference: Option<(&'static str, &'static str, &'static str)>,
}

fn to_json(v: SqlValue) -> Value {
    match v {
        SqlValue::Null => Value::Null,
        SqlValue::Integer(i) => Value::from(i),
        SqlValue::Real(f) => Value::from(f),
        SqlValue::Text(s) => Value::String(s),
        SqlValue::Blob(b) => blob_value(&b),
    }
}

fn to_sql(name: &str, v: &Value) -> Result<SqlValue, StoreError> {
    let bad = |reason: &str| StoreError::Invalid {
        field: "synced record",
        reason: format!("field '{name}': {reason}"),
    };
    Ok(match v {
        Value::Null => SqlValue::Null,
        Value::Bool(b) => SqlValue::Integer(i64::from(*b)),
        Value::Number(n) => match n.as_i64() {
            Some(i) => SqlValue::Integer(i),
            None => SqlValue::Real(n.as_f64().ok_or_else(|| bad("number out of range"))?),
        },
        Value::String(s) => SqlValue::Text(s.clone()),
        Value::Object(o) => match o.get("b64").and_then(Value::as_str) {
            Some(b) => SqlValue::Blob(blob_bytes(b).map_err(|e| bad(&e))?),
            None => return Err(bad("unexpected object")),
        },
        Value::Array(_) => return Err(bad("unexpected list")),
    })
}

impl Table {
    fn key_values<'a>(&self, local_id: &'a str) -> Result<Vec<&'a str>, StoreError> {
        let parts: Vec<&str> = local_id.splitn(self.keys.len(), ':').collect();
        if parts.len() != self.keys.len() {
            return Err(StoreError::Invalid {
                field: "synced record id",
                reason: format!("'{local_id}' is not a {} id", self.name),
            });
        }
        Ok(parts)
    }

    fn where_keys(&self, first: usize) -> String {
        self.keys
            .iter()
            .enumerate()
            .map(|(i, k)| format!("{k} = ?{}", first + i))
            .collect::<Vec<_>>()
            .join(" AND ")
    }

    fn columns(&self) -> impl Iterator<Item = &'static str> {
        self.fields
            .iter()
            .flat_map(|(_, cols)| cols.iter().copied())
    }
}

impl SyncCollection for Table {
    fn name(&self) -> &'static str {
        self.name
    }

    fn pad_to(&self) -> usize {
        self.pad_to
    }

    fn immutable(&self) -> bool {
        self.immutable
    }

    fn local_ids(
        &self,
        conn: &Connection,
        record_id: &str,
        op: ChangeOp,
    ) -> Result<Vec<String>, StoreError> {
        if !self.grouped {
            return Ok(vec![record_id.to_string()]);
        }
        let ids = match op {
            ChangeOp::Put => {
                let sql = format!(
                    "SELECT {} FROM {} WHERE {} = ?1 ORDER BY {}",
                    self.keys.join(" || ':' || "),
                    self.table,
                    self.keys[0],
                    self.keys.join(", ")
                );
                let mut stmt = conn.prepare_cached(&sql)?;
                stmt.query_map([record_id], |r| r.get::<_, String>(0))?
                    .collect::<Result<Vec<_>, _>>()?
            }
            // The rows are gone: the synced records say which there were.
            ChangeOp::Delete => {
                let mut stmt = conn.prepare_cached(
                    "SELECT local_id FROM sync_records
                     WHERE collection = ?1 AND substr(local_id, 1, length(?2) + 1) = ?2 || ':'",
                )?;
                stmt.query_map([self.name, record_id], |r| r.get::<_, String>(0))?
                    .collect::<Result<Vec<_>, _>>()?
            }
        };
        Ok(ids)
    }

    fn field_names(
        &self,
        conn: &Connection,
        local_id: &str,
    ) -> Result<Option<Vec<String>>, StoreError> {
        let keys = self.key_values(local_id)?;
        let sql = format!("SELECT 1 FROM {} WHERE {}", self.table, self.where_keys(1));
        let found = conn
            .prepare_cached(&sql)?
            .query_row(rusqlite::params_from_iter(&keys), |_| Ok(()))
            .optional()?;
        Ok(found.map(|()| {
            self.fields
                .iter()
                .map(|(name, _)| name.to_string())
                .collect()
        }))
    }

    fn read(&self, conn: &Connection, local_id: &str) -> Result<Option<Fields>, StoreError> {
        let keys = self.key_values(local_id)?;
        let sql = format!(
            "SELECT {} FROM {} WHERE {}",
            self.columns().collect::<Vec<_>>().join(", "),
            self.table,
            self.where_keys(1)
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let values: Option<Vec<SqlValue>> = stmt
            .query_row(rusqlite::params_from_iter(&keys), |r| {
                (0..r.as_ref().column_count())
                    .map(|i| r.get::<_, SqlValue>(i))
                    .collect()
            })
            .optional()?;
        let Some(values) = values else {
            return Ok(None);
        };
        let mut values = values.into_iter();
        let mut out = Fields::new();
        for (field, cols) in self.fields {
            let v = if cols.len() == 1 {
                to_json(values.next().expect("one value per column"))
            } else {
                Value::Array(
                    cols.iter()
                        .map(|_| to_json(values.next().expect("one value per column")))
                        .collect(),
                )
            };
            out.insert(field.to_string(), v);
        }
        Ok(Some(out))
    }

    fn write(&self, conn: &Connection, local_id: &str, fields: &Fields) -> Result<(), StoreError> {
        let keys = self.key_values(local_id)?;
        let mut cols: Vec<&str> = Vec::new();
        let mut vals: Vec<SqlValue> = Vec::new();
        for (field, fcols) in self.fields {
            let Some(v) = fields.get(*field) else {
                continue;
            };
            let mut v = v.clone();
            if let Some((ref_field, ref_collection, ref_table)) = self.reference
                && ref_field == *field
                && let Value::String(target) = &v
                && referent_deleted(conn, ref_collection, ref_table, target)?
            {
                v = Value::Null;
            }
            match (fcols.len(), &v) {
                (1, _) => {
                    cols.push(fcols[0]);
                    vals.push(to_sql(field, &v)?);
                }
                (n, Value::Array(items)) if items.len() == n => {
                    for (c, item) in fcols.iter().zip(items) {
                        cols.push(c);
                        vals.push(to_sql(field, item)?);
                    }
                }
                _ => {
                    return Err(StoreError::Invalid {
                        field: "synced record",
                        reason: format!("field '{field}' should hold {} values", fcols.len()),
                    });
                }
            }
        }
        // The key columns come from the id; a field naming one is not written twice.
        let (value_cols, vals): (Vec<&str>, Vec<SqlValue>) = cols
            .into_iter()
            .zip(vals)
            .filter(|(c, _)| !self.keys.contains(c))
            .unzip();
        let all_cols: Vec<&str> = self
            .keys
            .iter()
            .copied()
            .chain(value_cols.iter().copied())
            .collect();
        let params: Vec<SqlValue> = keys
            .iter()
            .map(|k| SqlValue::Text(k.to_string()))
            .chain(vals)
            .collect();
        let placeholders: Vec<String> = (1..=all_cols.len()).map(|i| format!("?{i}")).collect();
        let conflict = if value_cols.is_empty() {
            "DO NOTHING".to_string()
        } else {
            let update: Vec<String> = value_cols
                .iter()
                .map(|c| format!("{c} = excluded.{c}"))
                .collect();
            format!("DO UPDATE SET {}", update.join(", "))
        };
        let sql = format!(
            "INSERT INTO {} ({}) VALUES ({}) ON CONFLICT ({}) {conflict}",
            self.table,
            all_cols.join(", "),
            placeholders.join(", "),
            self.keys.join(", "),
        );
        conn.prepare_cached(&sql)?
            .execute(rusqlite::params_from_iter(params))?;
        Ok(())
    }

    fn delete(&self, conn: &Connection, local_id: &str) -> Result<(), StoreError> {
        let keys = self.key_values(local_id)?;
        let sql = format!("DELETE FROM {} WHERE {}", self.table, self.where_keys(1));
        conn.prepare_cached(&sql)?
            .execute(rusqlite::params_from_iter(&keys))?;
        Ok(())
    }
}

/// Whether `id` of `collection` is absent from its table because it was deleted (a tombstone
/// in the synced records), rather than not yet arrived.
fn referent_deleted(
    conn: &Connection,
    collection: &str,
    table: &str,
    id: &str,
) -> Result<bool, StoreError> {
    let present: bool = conn.query_row(
        &format!("SELECT EXISTS (SELECT 1 FROM {table} WHERE id = ?1)"),
        [id],
        |r| r.get(0),
    )?;
    if present {
        return Ok(false);
    }
    let record: Option<String> = conn
        .query_row(
            "SELECT record FROM sync_records WHERE collection = ?1 AND local_id = ?2",
            [collection, id],
            |r| r.get(0),
        )
        .optional()?;
    Ok(record
        .and_then(|r| serde_json::from_str::<Record>(&r).ok())
        .is_some_and(|r| r.is_deleted()))
}

static PROFILE: Table = Table {
    name: collection::PROFILE,
    table: "profile",
    keys: &["id"],
    fields: &[
        ("units", &["units"]),
        ("time_zone", &["time_zone"]),
        ("cadence_target", &["cadence_mode", "cadence_value"]),
        ("resting_hr_bpm", &["resting_hr_bpm"]),
        ("max_hr_bpm", &["max_hr_bpm"]),
        ("height_m", &["height_m"]),
        ("thresholds", &["thresholds"]),
    ],
    pad_to: 1024,
    immutable: false,
    grouped: false,
    reference: None,
};

/// The profile's one row has id 1 in the table and "profile" in the change log.
pub struct ProfileCollection;

impl SyncCollection for ProfileCollection {
    fn name(&self) -> &'static str {
        collection::PROFILE
    }
    /// 2: the thresholds hold the ACWR zones. A device that knows only schema 1 would refuse
    /// thresholds with fields it does not know, so it is told the record is newer instead.
    fn schema_version(&self) -> u32 {
        2
    }
    fn read(&self, conn: &Connection, _local_id: &str) -> Result<Option<Fields>, StoreError> {
        PROFILE.read(conn, "1")
    }
    fn write(&self, conn: &Connection, _local_id: &str, fields: &Fields) -> Result<(), StoreError> {
        PROFILE.write(conn, "1", fields)
    }
    /// The profile always exists; deleting it means back to the defaults.
    fn delete(&self, conn: &Connection, _local_id: &str) -> Result<(), StoreError> {
        conn.execute("DELETE FROM profile", [])?;
        conn.execute("INSERT INTO profile (id) VALUES (1)", [])?;
        Ok(())
    }
}

static PROFILE_COLLECTION: ProfileCollection = ProfileCollection;

static SHOE_TABLE: Table = Table {
    name: collection::SHOES,
    table: "shoes",
    keys: &["id"],
    fields: &[
        ("name", &["name"]),
        ("brand", &["brand"]),
        ("model", &["model"]),
        ("start_distance_m", &["start_distance_m"]),
        ("wear_at_m", &["wear_at_m"]),
        ("replace_at_m", &["replace_at_m"]),
        ("retired", &["retired"]),
        ("default", &["is_default"]),
    ],
    pad_to: 1024,
    immutable: false,
    grouped: false,
    reference: None,
};

/// Shoes: one default at most. When two devices each chose a different default, the later
/// choice (by the stamp of the `default` field) wins on every device. When that shoe is
/// deleted or retired there is none (as on the device that did it) until the runner picks one:
/// an earlier choice that lost never comes back.
pub struct ShoeCollection;

impl SyncCollection for ShoeCollection {
    fn name(&self) -> &'static str {
        collection::SHOES
    }
    fn read(&self, conn: &Connection, local_id: &str) -> Result<Option<Fields>, StoreError> {
        SHOE_TABLE.read(conn, local_id)
    }
    fn write(&self, conn: &Connection, local_id: &str, fields: &Fields) -> Result<(), StoreError> {
        if fields.get("default").is_some_and(is_true) {
            conn.execute("UPDATE shoes SET is_default = 0 WHERE id != ?1", [local_id])?;
        }
        SHOE_TABLE.write(conn, local_id, fields)
    }
    fn delete(&self, conn: &Connection, local_id: &str) -> Result<(), StoreError> {
        SHOE_TABLE.delete(conn, local_id)
    }
    fn after_apply(&self, conn: &Connection) -> Result<(), StoreError> {
        let mut stmt = conn.prepare_cached(
            "SELECT local_id, record FROM sync_records WHERE collection = ?1 AND applied = 1",
        )?;
        let mut winner = None;
        for row in stmt.query_map([collection::SHOES], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })? {
            let (id, record) = row?;
            let Ok(record) = serde_json::from_str::<Record>(&record) else {
                continue;
            };
            // Deleted shoes count: the latest choice being deleted means no default.
            if let Some(f) = record.fields.get("default").filter(|f| is_true(&f.value))
                && winner.as_ref().is_none_or(|(_, s)| f.stamp > *s)
            {
                winner = Some((id, f.stamp));
            }
        }
        match winner {
            Some((id, _)) => {
                // Not a retired shoe, nor a deleted one (it has no row): then there is none.
                conn.execute(
                    "UPDATE shoes SET is_default = 0
                     WHERE is_default = 1 AND (id != ?1 OR retired = 1)",
                    [&id],
                )?;
                conn.execute(
                    "UPDATE shoes SET is_default = 1 WHERE id = ?1 AND retired = 0",
                    [&id],
                )?;
            }
            None => {
                conn.execute("UPDATE shoes SET is_default = 0 WHERE is_default = 1", [])?;
            }
        }
        // A shoe back after a delete (edited on a device that had not seen the delete): the
        // runs whose records still name it were put on no shoe when it went (`ON DELETE SET
        // NULL`, or `RUNS.reference` when they arrived after it), so they are applied again and
        // are on it again. The runs pass comes after this one.
        conn.execute(
            "UPDATE sync_records SET applied = 0
             WHERE collection = ?1 AND applied = 1
               AND local_id IN (SELECT id FROM runs WHERE shoe_id IS NULL)
               AND json_extract(record, '$.fields.shoe_id.value') IN (SELECT id FROM shoes)",
            [collection::RUNS],
        )?;
        Ok(())
    }
}

fn is_true(v: &Value) -> bool {
    v.as_i64() == Some(1) || v.as_bool() == Some(true)
}

static SHOES: ShoeCollection = ShoeCollection;

/// Runs: written whole on import, afterwards only shoe, kind, RPE and notes change.
static RUNS: Table = Table {
    name: collection::RUNS,
    table: "runs",
    keys: &["id"],
    fields: &[
        ("start_unix_ms", &["start_unix_ms"]),
        ("utc_offset_s", &["utc_offset_s"]),
        ("duration_s", &["duration_s"]),
        ("moving_time_s", &["moving_time_s"]),
        ("distance_m", &["distance_m"]),
        ("elevation_gain_m", &["elevation_gain_m"]),
        ("elevation_loss_m", &["elevation_loss_m"]),
        ("avg_hr_bpm", &["avg_hr_bpm"]),
        ("max_hr_bpm", &["max_hr_bpm"]),
        ("avg_cadence_spm", &["avg_cadence_spm"]),
        ("kind", &["kind"]),
        ("rpe", &["rpe"]),
        ("shoe_id", &["shoe_id"]),
        ("notes", &["notes"]),
        ("source", &["source"]),
        ("source_fingerprint", &["source_fingerprint"]),
        ("avg_power_w", &["avg_power_w"]),
        ("avg_stance_time_s", &["avg_stance_time_s"]),
        (
            "avg_stance_balance_left_pct",
            &["avg_stance_balance_left_pct"],
        ),
        (
            "avg_vertical_oscillation_m",
            &["avg_vertical_oscillation_m"],
        ),
        ("avg_vertical_ratio_pct", &["avg_vertical_ratio_pct"]),
        ("avg_step_length_m", &["avg_step_length_m"]),
    ],
    pad_to: 1024,
    immutable: false,
    grouped: false,
    reference: Some(("shoe_id", collection::SHOES, "shoes")),
};

/// A run's samples, one record per stored chunk (`run:chunk`); never edited.
static RUN_SAMPLES: Table = Table {
    name: collection::RUN_SAMPLES,
    table: "run_samples",
    keys: &["run_id", "chunk"],
    fields: &[("sample_count", &["sample_count"]), ("data", &["data"])],
    pad_to: 65_536,
    immutable: true,
    grouped: true,
    reference: None,
};

/// Pain entries are append-only.
static PAIN_ENTRIES: Table = Table {
    name: collection::PAIN_ENTRIES,
    table: "pain_entries",
    keys: &["id"],
    fields: &[
        ("logged_at_ms", &["logged_at_ms"]),
        ("answers", &["answers"]),
    ],
    pad_to: 1024,
    immutable: true,
    grouped: false,
    reference: None,
};

static PLANS: Table = Table {
    name: collection::PLANS,
    table: "plans",
    keys: &["id"],
    fields: &[
        ("created_at_ms", &["created_at_ms"]),
        ("plan_for", &["plan_for"]),
    ],
    pad_to: 1024,
    immutable: false,
    grouped: false,
    reference: None,
};

/// A tick is its key (`plan:day:exercise`), which is also its only content.
static PLAN_TICKS: Table = Table {
    name: collection::PLAN_TICKS,
    table: "plan_ticks",
    keys: &["plan_id", "day", "exercise"],
    fields: &[
        ("plan_id", &["plan_id"]),
        ("day", &["day"]),
        ("exercise", &["exercise"]),
    ],
    pad_to: 1024,
    immutable: true,
    grouped: false,
    reference: None,
};
