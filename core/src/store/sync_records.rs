//! The device's side of sync in the database: the linked account, and each synced record as
//! last merged (`sync_records`), with the stamp of every field. Local changes are folded in from
//! the change log; remote records are merged in and applied to the tables. Each step is one
//! transaction, so a sync cut off anywhere resumes from what was committed.

use rusqlite::{OptionalExtension, params};

use super::collections::{COLLECTIONS, Fields, SyncCollection, sync_collection};
use super::{Store, StoreError, changes::ChangeOp};
use crate::sync::{Field, Record, merge};

/// The account this database syncs with.
#[derive(Clone, PartialEq, Eq)]
pub struct SyncAccount {
    pub server: String,
    pub username: String,
    pub device_id: String,
    /// The bearer token of this device's session.
    pub token: String,
    /// The account's data key, kept on the device so syncing needs no passphrase.
    pub data_key: [u8; 32],
    pub kdf_iterations: u32,
}

impl std::fmt::Debug for SyncAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncAccount")
            .field("server", &self.server)
            .field("username", &self.username)
            .field("device_id", &self.device_id)
            .finish_non_exhaustive()
    }
}

/// A record with local changes to upload.
#[derive(Debug, Clone, PartialEq)]
pub struct OutgoingRecord {
    pub collection: &'static str,
    pub local_id: String,
    pub record: Record,
    /// The server sequence this device last saw the record at (0: never).
    pub server_seq: i64,
    /// The record as stored when it was read for upload: acknowledging clears its local
    /// changes only if nothing changed it meanwhile (another connection folding or merging).
    pub stored: String,
}

/// A record received from the server, opened.
#[derive(Debug, Clone, PartialEq)]
pub struct IncomingRecord {
    pub collection: &'static str,
    pub local_id: String,
    pub record: Record,
    pub server_seq: i64,
    /// It came sealed in the first envelope format: when this device wrote it last, the
    /// device seals it again in the current format (see [`Store::sync_merge_remote`]).
    pub old_encoding: bool,
}

/// Change-log entries folded in one transaction: small enough that other calls on the
/// database wait for one step at most.
pub const FOLD_STEP: usize = 500;

/// What merging a set of remote records did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MergeStats {
    /// Records whose merged state differs from what this device had.
    pub changed: usize,
    /// Records whose merged state still waits to be applied (say, a run before its shoe).
    pub pending: usize,
}

const FOLDED: &str = "sync_folded_seq";
const PULLED: &str = "sync_pull_cursor";
const LAST_SYNC: &str = "sync_last_ms";
/// The envelope format this device's uploads are known to be in on the server: below 2, its
/// own records may still be in the first format there.
const SEALED_FORMAT: &str = "sync_sealed_format";

/// This device's sync as an app shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SyncStatus {
    pub linked: bool,
    pub server: Option<String>,
    pub username: Option<String>,
    pub device_id: Option<String>,
    /// Records with local changes not uploaded yet (folded or still in the change log).
    pub pending_changes: usize,
    /// When the last sync finished, by this device's clock (Unix milliseconds).
    pub last_sync_ms: Option<i64>,
}

impl Store {
    pub fn sync_account(&self) -> Result<Option<SyncAccount>, StoreError> {
        self.conn
            .query_row(
                "SELECT server, username, device_id, token, data_key, kdf_iterations
                 FROM sync_account WHERE id = 1",
                [],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, Vec<u8>>(4)?,
                        r.get::<_, u32>(5)?,
                    ))
                },
            )
            .optional()?
            .map(
                |(server, username, device_id, token, key, kdf_iterations)| {
                    let data_key: [u8; 32] = key.try_into().map_err(|_| StoreError::Corrupt {
                        table: "sync_account",
                        id: username.clone(),
                        reason: "the data key is not 32 bytes".into(),
                    })?;
                    Ok(SyncAccount {
                        server,
                        username,
                        device_id,
                        token,
                        data_key,
                        kdf_iterations,
                    })
                },
            )
            .transpose()
    }

    /// Links this database to an account (replacing the session of the same account).
    pub fn set_sync_account(&mut self, a: &SyncAccount) -> Result<(), StoreError> {
        if let Some(old) = self.sync_account()?
            && (old.server != a.server || old.username != a.username)
        {
            return Err(StoreError::Invalid {
                field: "account",
                reason: format!(
                    "this database already syncs as '{}' with {}; log out first",
                    old.username, old.server
                ),
            });
        }
        self.conn.execute(
            "INSERT INTO sync_account (id, server, username, device_id, token, data_key, kdf_iterations)
             VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (id) DO UPDATE SET device_id = excluded.device_id, token = excluded.token,
                data_key = excluded.data_key, kdf_iterations = excluded.kdf_iterations",
            params![
                a.server,
                a.username,
                a.device_id,
                a.token,
                a.data_key.as_slice(),
                a.kdf_iterations
            ],
        )?;
        Ok(())
    }

    /// Forgets the account and its server state: the next account this database links to gets
    /// the whole history uploaded, local data is kept.
    ///
    /// The synced records are the whole history, the runs that came down from the server as
    /// much as those written here (which the change log alone does not hold), so they stay,
    /// with their stamps, marked for upload and known to no server. Changes not folded yet
    /// stay in the change log and fold in as usual. Logging back in to the same account costs
    /// little: the first pull finds the server's copies equal and clears the marks.
    pub fn clear_sync_account(&mut self) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute_batch(
            "DELETE FROM sync_account;
             UPDATE sync_records SET dirty = 1, server_seq = 0;
             DELETE FROM meta WHERE key IN ('sync_pull_cursor', 'sync_last_ms');",
        )?;
        tx.commit()?;
        Ok(())
    }

    fn meta_i64(&self, key: &str) -> Result<i64, StoreError> {
        meta_i64(&self.conn, key)
    }

    /// The server sequence up to which this device has merged remote records.
    pub fn sync_pull_cursor(&self) -> Result<i64, StoreError> {
        self.meta_i64(PULLED)
    }

    /// Starts pulling again from the beginning (after the server dropped old tombstones).
    pub fn reset_sync_pull_cursor(&mut self) -> Result<(), StoreError> {
        set_meta(&self.conn, PULLED, 0)
    }

    /// Folds local changes from the change log into the synced records and marks them for
    /// upload. Returns how many change-log entries it read.
    pub fn sync_fold(&mut self) -> Result<usize, StoreError> {
        let mut total = 0;
        loop {
            let n = self.sync_fold_step(FOLD_STEP)?;
            if n == 0 {
                return Ok(total);
            }
            total += n;
        }
    }

    /// Folds up to `max` change-log entries in one transaction; 0 when none are left. Long
    /// folds go in steps so that other calls on the database wait for one step at most.
    pub fn sync_fold_step(&mut self, max: usize) -> Result<usize, StoreError> {
        // The folded mark is read under the write lock: two connections never fold the same
        // entries twice.
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let n = fold_in(&tx, max)?;
        tx.commit()?;
        Ok(n)
    }

    /// Notes that a sync finished now, by the store's clock.
    pub fn set_last_sync(&mut self) -> Result<(), StoreError> {
        set_meta(&self.conn, LAST_SYNC, self.clock.now_ms())
    }

    /// Which account, how many changes wait to upload, when the last sync finished. Reads
    /// only, so an app can show it from its reading connection while a sync runs.
    pub fn sync_status(&self) -> Result<SyncStatus, StoreError> {
        let account = self.sync_account()?;
        let folded = self.meta_i64(FOLDED)?;
        // Records dirty already and those with changes not folded yet, each counted once, the
        // same before and after a fold: a run's sample stream (stored in chunks) is one.
        let pending: i64 = self.conn.query_row(
            "SELECT count(*) FROM (
                SELECT collection,
                       CASE WHEN collection = 'run_samples' AND instr(local_id, ':') > 0
                            THEN substr(local_id, 1, instr(local_id, ':') - 1)
                            ELSE local_id END
                FROM sync_records WHERE dirty = 1
                UNION
                SELECT collection, record_id FROM changes WHERE seq > ?1)",
            [folded],
            |r| r.get(0),
        )?;
        let last = self.meta_i64(LAST_SYNC)?;
        Ok(SyncStatus {
            linked: account.is_some(),
            server: account.as_ref().map(|a| a.server.clone()),
            username: account.as_ref().map(|a| a.username.clone()),
            device_id: account.as_ref().map(|a| a.device_id.clone()),
            pending_changes: pending.max(0) as usize,
            last_sync_ms: (last > 0).then_some(last),
        })
    }

    /// Up to `limit` records with local changes, oldest collection first, values filled in.
    pub fn sync_outgoing(&self, limit: usize) -> Result<Vec<OutgoingRecord>, StoreError> {
        self.sync_outgoing_after(None, limit)
    }

    /// Like [`Store::sync_outgoing`], starting after the record `after` (collection, local
    /// id) in upload order: the batch after one still being sent.
    pub fn sync_outgoing_after(
        &self,
        after: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<Vec<OutgoingRecord>, StoreError> {
        let mut out = Vec::new();
        let first = after.map_or(0, |(c, _)| {
            COLLECTIONS
                .iter()
                .position(|col| col.name() == c)
                .unwrap_or(COLLECTIONS.len())
        });
        for col in &COLLECTIONS[first..] {
            if out.len() >= limit {
                break;
            }
            let from = match after {
                Some((c, id)) if c == col.name() => id,
                _ => "",
            };
            let mut stmt = self.conn.prepare_cached(
                // By the index of dirty records: the primary key would do too, but it walks
                // past every record already uploaded, batch after batch.
                "SELECT local_id, record, server_seq FROM sync_records
                 INDEXED BY sync_records_dirty
                 WHERE dirty = 1 AND collection = ?1 AND local_id > ?3
                 ORDER BY local_id LIMIT ?2",
            )?;
            let rows = stmt
                .query_map(params![col.name(), (limit - out.len()) as i64, from], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            for (local_id, text, server_seq) in rows {
                let mut record = from_text(col.name(), &local_id, &text)?;
                let stored = text;
                if col.immutable() && !record.is_deleted() {
                    match fill_values(*col, &self.conn, &local_id, &mut record) {
                        Ok(()) => {}
                        // Deleted since it was folded (say, a run deleted while a sync runs):
                        // the delete waits in the change log and goes as a tombstone once
                        // folded, so there is nothing to send now.
                        Err(StoreError::NotFound { .. }) => continue,
                        Err(e) => return Err(e),
                    }
                }
                out.push(OutgoingRecord {
                    collection: col.name(),
                    local_id,
                    record,
                    server_seq,
                    stored,
                });
            }
        }
        Ok(out)
    }

    /// Marks uploaded records as acknowledged at the server sequences given. When the new
    /// sequences directly follow the pull cursor (no other device wrote in between), the
    /// cursor moves past them, so the next pull does not fetch this device's own writes back.
    pub fn sync_acknowledge(&mut self, acked: &[(&OutgoingRecord, i64)]) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let cursor = meta_i64(&tx, PULLED)?;
        let mut fresh: Vec<i64> = acked
            .iter()
            .map(|(_, s)| *s)
            .filter(|s| *s > cursor)
            .collect();
        fresh.sort_unstable();
        let contiguous = fresh
            .iter()
            .enumerate()
            .all(|(i, s)| *s == cursor + 1 + i as i64);
        if contiguous && let Some(last) = fresh.last() {
            set_meta(&tx, PULLED, *last)?;
        }
        for (rec, seq) in acked {
            // Still dirty when another connection changed the record since it was read.
            tx.prepare_cached(
                "UPDATE sync_records SET server_seq = max(server_seq, ?3),
                    dirty = CASE WHEN record = ?4 THEN 0 ELSE dirty END
                 WHERE collection = ?1 AND local_id = ?2",
            )?
            .execute(params![rec.collection, rec.local_id, seq, rec.stored])?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Merges remote records into the local state and applies the result to the tables, in
    /// one transaction that also moves the pull cursor to `cursor` (when given).
    pub fn sync_merge_remote(
        &mut self,
        incoming: &[IncomingRecord],
        cursor: Option<i64>,
    ) -> Result<MergeStats, StoreError> {
        let now = self.clock.now_ms();
        let mut hlc = self.hlc;
        let tx = super::begin_write(&mut self.conn, &mut hlc, now)?;
        // Local changes made since the last fold (an edit while a sync runs) go into the
        // synced records first: the merged records are written back to the tables whole, and
        // would otherwise overwrite those edits before they were ever folded.
        fold_in(&tx, usize::MAX)?;
        let mut stats = MergeStats::default();
        let mut applied_directly = std::collections::BTreeSet::new();
        // A tombstone in the same step may delete a parent after its new child was written
        // (the cascade would take the child with it): then every record goes the usual way.
        let direct = !incoming.iter().any(|i| i.record.deleted.is_some());
        for inc in incoming {
            let col = sync_collection(inc.collection).expect("incoming names a known collection");
            let (mine, dirty, known_seq) = match load(&tx, inc.collection, &inc.local_id)? {
                Some(Loaded {
                    record,
                    dirty,
                    server_seq,
                }) => (Some(record), dirty, server_seq),
                None => (None, false, 0),
            };
            let base = mine.clone().unwrap_or_default();
            // Immutable records keep values only in the table; the incoming ones carry them.
            let mut merged = merge(&base, &inc.record);
            if col.immutable() && merged.fields.values().any(|f| f.value.is_null()) {
                merged = merge(&inc.record, &base);
            }
            let same_as_mine = mine.as_ref().is_some_and(|m| stamps_equal(m, &merged));
            // Local changes the server does not have yet stay marked for upload, and so does
            // a record this device wrote last that came in the first envelope format: it is
            // sealed again in the current one.
            let own_old =
                inc.old_encoding && merged.latest_stamp().map(|s| s.node) == Some(hlc.last().node);
            let still_dirty = (dirty && !stamps_equal(&merged, &inc.record)) || own_old;
            if let Some(latest) = inc.record.latest_stamp() {
                hlc.observe(latest, now);
            }
            // An immutable record new to this device (a sample chunk, most of a history) goes
            // straight into its table, and only its stamps into the synced records: its values
            // are not written as text, read back and parsed again. When it cannot be applied
            // yet (its run has not arrived), it waits with the others below.
            if direct && col.immutable() && mine.is_none() && !merged.is_deleted() && !still_dirty {
                cached(&tx, "SAVEPOINT apply_new")?;
                let values: Fields = merged
                    .fields
                    .iter()
                    .map(|(k, f)| (k.clone(), f.value.clone()))
                    .collect();
                match col.write(&tx, &inc.local_id, &values) {
                    Ok(()) => {
                        cached(&tx, "RELEASE apply_new")?;
                        let mut stripped = merged;
                        for f in stripped.fields.values_mut() {
                            f.value = serde_json::Value::Null;
                        }
                        tx.prepare_cached(
                            "INSERT INTO sync_records
                                (collection, local_id, record, server_seq, dirty, applied)
                             VALUES (?1, ?2, ?3, ?4, 0, 1)",
                        )?
                        .execute(params![
                            inc.collection,
                            inc.local_id,
                            to_text(&stripped),
                            inc.server_seq
                        ])?;
                        applied_directly.insert(inc.collection);
                        stats.changed += usize::from(!same_as_mine);
                        continue;
                    }
                    Err(StoreError::Sqlite(e))
                        if e.sqlite_error_code()
                            == Some(rusqlite::ErrorCode::ConstraintViolation) =>
                    {
                        cached(&tx, "ROLLBACK TO apply_new")?;
                        cached(&tx, "RELEASE apply_new")?;
                    }
                    Err(e) => return Err(e),
                }
            }
            if !same_as_mine {
                stats.changed += 1;
            }
            let mut upsert = tx.prepare_cached(
                "INSERT INTO sync_records (collection, local_id, record, server_seq, dirty, applied)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (collection, local_id) DO UPDATE SET record = excluded.record,
                    server_seq = excluded.server_seq, dirty = excluded.dirty,
                    applied = min(applied, excluded.applied)",
            )?;
            upsert.execute(params![
                inc.collection,
                inc.local_id,
                to_text(&merged),
                inc.server_seq.max(known_seq),
                still_dirty,
                same_as_mine
            ])?;
        }
        stats.pending = apply_pending(&tx)?;
        for col in COLLECTIONS {
            if applied_directly.contains(col.name()) {
                col.after_apply(&tx)?;
            }
        }
        if let Some(cursor) = cursor {
            set_meta(&tx, PULLED, cursor)?;
        }
        super::persist_clock(&tx, &hlc)?;
        tx.commit()?;
        self.hlc = hlc;
        Ok(stats)
    }

    /// Once per database: marks for upload every record the server holds from this device
    /// (this device wrote it last) and that it may hold in the first envelope format, so the
    /// next push seals it again in the current one. Each device rewrites only its own records;
    /// the others' stay readable until their writers do the same. It also moves the pull
    /// cursor back to the start, once: the first release refused records in the new format and
    /// moved past them. Returns how many records it marked.
    pub fn sync_reseal_own(&mut self) -> Result<usize, StoreError> {
        if meta_i64(&self.conn, SEALED_FORMAT)? >= 2 {
            return Ok(0);
        }
        let node = self.device_id();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut own = Vec::new();
        {
            let mut stmt = tx.prepare(
                "SELECT collection, local_id, record FROM sync_records
                 WHERE server_seq > 0 AND dirty = 0",
            )?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                let (c, id, text): (String, String, String) =
                    (row.get(0)?, row.get(1)?, row.get(2)?);
                // A row that does not read is left for the step that touches it to report.
                let Ok(record) = from_text(&c, &id, &text) else {
                    continue;
                };
                if record.latest_stamp().is_some_and(|s| s.node == node) {
                    own.push((c, id));
                }
            }
        }
        for (c, id) in &own {
            tx.prepare_cached(
                "UPDATE sync_records SET dirty = 1 WHERE collection = ?1 AND local_id = ?2",
            )?
            .execute(params![c, id])?;
        }
        // Before this build, the device refused records in the new format (another device
        // already updated) and its cursor moved past them: pull everything once more.
        set_meta(&tx, PULLED, 0)?;
        set_meta(&tx, SEALED_FORMAT, 2)?;
        tx.commit()?;
        Ok(own.len())
    }

    /// Runs `f` with commits that do not wait for the disk (`synchronous=NORMAL`; in WAL mode
    /// still atomic) and fewer checkpoints, then puts both settings back as they were, even if
    /// `f` panics. For work that is redone when lost, such as the steps of a sync.
    pub fn without_waiting_for_disk<T, E: From<StoreError>>(
        &mut self,
        f: impl FnOnce(&mut Store) -> Result<T, E>,
    ) -> Result<T, E> {
        // Checkpoints wait for the disk too: one per 64 MiB of log, not per 4 MiB.
        let settings = [("synchronous", 1i64), ("wal_autocheckpoint", 16_384)];
        let mut before = Vec::new();
        for (pragma, value) in settings {
            let old: i64 = self
                .conn
                .pragma_query_value(None, pragma, |r| r.get(0))
                .map_err(StoreError::from)?;
            before.push((pragma, old));
            self.conn
                .pragma_update(None, pragma, value)
                .map_err(StoreError::from)?;
        }
        let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(self)));
        for (pragma, value) in before {
            // Best effort: a failure here leaves the faster setting, never a lost write.
            let _ = self.conn.pragma_update(None, pragma, value);
        }
        match out {
            Ok(out) => out,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }

    /// Asks SQLite to put what was committed without waiting on disk: a checkpoint syncs the
    /// log before it copies it back (PASSIVE: it never waits for the apps' readers). When a
    /// reader keeps it from copying, the log is synced by the next commit that waits for the
    /// disk (the end of a sync, or any write of the app's); until then a power cut can only
    /// lose steps that the next sync does again.
    pub fn sync_to_disk(&mut self) -> Result<(), StoreError> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// How many synced records have local changes not yet uploaded.
    pub fn sync_dirty_count(&self) -> Result<usize, StoreError> {
        Ok(self.conn.query_row(
            "SELECT count(*) FROM sync_records WHERE dirty = 1",
            [],
            |r| r.get::<_, i64>(0),
        )? as usize)
    }
}

/// Folds up to `max` change-log entries after the folded mark into the synced records, inside
/// the caller's transaction; returns how many it read.
fn fold_in(tx: &rusqlite::Transaction<'_>, max: usize) -> Result<usize, StoreError> {
    let from = meta_i64(tx, FOLDED)?;
    let changes = super::changes::changes_since(tx, from, max)?;
    let Some(last) = changes.last().map(|c| c.seq) else {
        return Ok(0);
    };
    let total = changes.len();
    for change in &changes {
        let Some(col) = sync_collection(&change.collection) else {
            continue;
        };
        fold_change(tx, col, change)?;
    }
    set_meta(tx, FOLDED, last)?;
    Ok(total)
}

/// Folds one change-log entry into the synced records it touched.
fn fold_change(
    tx: &rusqlite::Transaction<'_>,
    col: &'static dyn SyncCollection,
    change: &super::Change,
) -> Result<(), StoreError> {
    for local_id in col.local_ids(tx, &change.record_id, change.op)? {
        let mut record = load(tx, col.name(), &local_id)?
            .map(|l| l.record)
            .unwrap_or_default();
        match change.op {
            ChangeOp::Delete => {
                record.deleted = Some(record.deleted.map_or(change.stamp, |d| d.max(change.stamp)));
            }
            ChangeOp::Put => {
                // A record deleted later in the log: the delete will fold in next. An
                // immutable record's values stay in its table (read when it is sealed).
                let current: Option<Vec<(String, serde_json::Value)>> = if col.immutable() {
                    col.field_names(tx, &local_id)?.map(|names| {
                        names
                            .into_iter()
                            .map(|n| (n, serde_json::Value::Null))
                            .collect()
                    })
                } else {
                    col.read(tx, &local_id)?.map(|f| f.into_iter().collect())
                };
                let Some(current) = current else {
                    continue;
                };
                let all = change.fields.iter().any(|f| f == "*");
                for (name, value) in current {
                    if !all && !change.fields.contains(&name) {
                        continue;
                    }
                    if record
                        .fields
                        .get(&name)
                        .is_none_or(|f| f.stamp < change.stamp)
                    {
                        record.fields.insert(
                            name,
                            Field {
                                value,
                                stamp: change.stamp,
                            },
                        );
                    }
                }
            }
        }
        tx.prepare_cached(
            "INSERT INTO sync_records (collection, local_id, record, dirty, applied)
             VALUES (?1, ?2, ?3, 1, 1)
             ON CONFLICT (collection, local_id)
             DO UPDATE SET record = excluded.record, dirty = 1",
        )?
        .execute(params![col.name(), local_id, to_text(&record)])?;
    }
    Ok(())
}

/// Folds the entries not folded yet that wrote `record_id`, while its row still holds what
/// they wrote: called by a local write just before it removes the row (a delete) or changes a
/// column it does not log (retiring a shoe clears `is_default`). The fold, coming later, reads
/// the row as it is then: it would find nothing, or the changed column, and a record brought
/// back by a later edit on another device would come back without those edits. The entries
/// stay in the log; folded again later they change nothing (their stamps are in already).
pub(super) fn fold_pending(
    tx: &rusqlite::Transaction<'_>,
    collection: &str,
    record_id: &str,
) -> Result<(), StoreError> {
    let Some(col) = sync_collection(collection) else {
        return Ok(());
    };
    let from = meta_i64(tx, FOLDED)?;
    for change in super::changes::changes_of(tx, collection, record_id, from)? {
        if change.op == ChangeOp::Put {
            fold_change(tx, col, &change)?;
        }
    }
    Ok(())
}

/// Runs a statement without parameters, parsed once per connection (a savepoint per record
/// would otherwise be parsed again for each of a history's records).
fn cached(conn: &rusqlite::Connection, sql: &str) -> Result<(), StoreError> {
    conn.prepare_cached(sql)?.execute([])?;
    Ok(())
}

fn meta_i64(conn: &rusqlite::Connection, key: &str) -> Result<i64, StoreError> {
    let v: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()?;
    v.map_or(Ok(0), |v| {
        v.parse().map_err(|_| StoreError::Corrupt {
            table: "meta",
            id: key.to_string(),
            reason: format!("'{v}' is not a number"),
        })
    })
}

fn set_meta(conn: &rusqlite::Connection, key: &str, value: i64) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![key, value.to_string()],
    )?;
    Ok(())
}

/// Whether two records hold the same writes (values of immutable records may be elided).
fn stamps_equal(a: &Record, b: &Record) -> bool {
    a.deleted == b.deleted
        && a.fields.len() == b.fields.len()
        && a.fields
            .iter()
            .zip(&b.fields)
            .all(|((ka, fa), (kb, fb))| ka == kb && fa.stamp == fb.stamp)
}

fn to_text(r: &Record) -> String {
    serde_json::to_string(r).expect("records serialise")
}

fn from_text(collection: &str, local_id: &str, text: &str) -> Result<Record, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
        table: "sync_records",
        id: format!("{collection}/{local_id}"),
        reason: e.to_string(),
    })
}

/// A synced record as stored on this device.
struct Loaded {
    record: Record,
    dirty: bool,
    server_seq: i64,
}

fn load(
    conn: &rusqlite::Connection,
    collection: &str,
    local_id: &str,
) -> Result<Option<Loaded>, StoreError> {
    let row: Option<(String, bool, i64)> = conn
        .prepare_cached(
            "SELECT record, dirty, server_seq FROM sync_records
             WHERE collection = ?1 AND local_id = ?2",
        )?
        .query_row(params![collection, local_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    row.map(|(t, dirty, server_seq)| {
        Ok(Loaded {
            record: from_text(collection, local_id, &t)?,
            dirty,
            server_seq,
        })
    })
    .transpose()
}

fn fill_values(
    col: &dyn SyncCollection,
    conn: &rusqlite::Connection,
    local_id: &str,
    record: &mut Record,
) -> Result<(), StoreError> {
    let current = col
        .read(conn, local_id)?
        .ok_or_else(|| StoreError::NotFound {
            what: "synced record",
            key: format!("{}/{local_id}", col.name()),
        })?;
    for (name, field) in record.fields.iter_mut() {
        if let Some(v) = current.get(name) {
            field.value = v.clone();
        }
    }
    Ok(())
}

/// Applies every merged record not yet in the tables, collection by collection in reference
/// order. A record whose write breaks a constraint (its run or shoe has not arrived yet) stays
/// pending for the next sync. Returns how many are still pending.
fn apply_pending(tx: &rusqlite::Transaction<'_>) -> Result<usize, StoreError> {
    let mut pending = 0;
    for col in COLLECTIONS {
        let rows: Vec<(String, String)> = {
            let mut stmt = tx.prepare_cached(
                "SELECT local_id, record FROM sync_records WHERE applied = 0 AND collection = ?1",
            )?;
            stmt.query_map([col.name()], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?
        };
        if rows.is_empty() {
            continue;
        }
        for (local_id, text) in rows {
            let record = from_text(col.name(), &local_id, &text)?;
            cached(tx, "SAVEPOINT apply_one")?;
            // A record edited after it was deleted comes back whole: the merged record still
            // holds every field's latest value.
            let result = if record.is_deleted() {
                col.delete(tx, &local_id)
            } else {
                let values = record
                    .fields
                    .iter()
                    .map(|(k, f)| (k.clone(), f.value.clone()))
                    .collect();
                col.write(tx, &local_id, &values)
            };
            match result {
                Ok(()) => {
                    cached(tx, "RELEASE apply_one")?;
                    let stored = if col.immutable() && !record.is_deleted() {
                        let mut stripped = record.clone();
                        for f in stripped.fields.values_mut() {
                            f.value = serde_json::Value::Null;
                        }
                        to_text(&stripped)
                    } else {
                        text
                    };
                    tx.prepare_cached(
                        "UPDATE sync_records SET applied = 1, record = ?3
                         WHERE collection = ?1 AND local_id = ?2",
                    )?
                    .execute(params![col.name(), local_id, stored])?;
                }
                Err(StoreError::Sqlite(e))
                    if e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation) =>
                {
                    cached(tx, "ROLLBACK TO apply_one")?;
                    cached(tx, "RELEASE apply_one")?;
                    pending += 1;
                }
                Err(e) => return Err(e),
            }
        }
        col.after_apply(tx)?;
    }
    Ok(pending)
}
