//! The sync engine: a state machine that folds local changes into records, pulls the server's
//! records from the persisted cursor, merges them, and pushes what is left, over any
//! [`Transport`]. Every step commits before the next, so a sync stopped anywhere (a lost
//! connection, a killed process, a cancel) resumes where it stopped, and repeating a step is
//! harmless.
//!
//! The store is borrowed through [`StoreAccess`] for each commit only: the network exchange,
//! sealing and opening happen without it, so other calls on the same database (an app's list,
//! its report) never wait for the network.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::encoding;

use super::Record;
use super::wire::{Ack, Limits, RecordDownload, RecordUpload, RecordsPage};
use crate::cancel::Cancel;
use crate::crypto::{CryptoError, DataKey, ENVELOPE_V1};
use crate::store::collections::{COLLECTIONS, SyncCollection};
use crate::store::{IncomingRecord, OutgoingRecord, Store, StoreAccess, StoreError};

/// The server's answer to an upload.
#[derive(Debug, Clone)]
pub enum PushReply {
    Accepted(Vec<Ack>),
    /// Some `if_seq` did not match: the records as the server holds them.
    Conflict(Vec<RecordDownload>),
}

/// How records reach the server. One HTTP implementation ships ([`super::http`]); tests wrap
/// it to lose responses, shuffle pages or hold an answer.
pub trait Transport {
    fn limits(&mut self) -> Result<Limits, TransportError>;
    fn pull(&mut self, since: i64) -> Result<RecordsPage, TransportError>;
    fn push(&mut self, batch: &[RecordUpload]) -> Result<PushReply, TransportError>;

    /// Sends `batch` like [`Transport::push`], running `meanwhile` (the engine reading and
    /// sealing the next batch) while the upload is in flight, so the device's work and the
    /// server's overlap. The default runs `meanwhile` first, then the push.
    fn push_while(
        &mut self,
        batch: &[RecordUpload],
        meanwhile: &mut dyn FnMut(),
    ) -> Result<PushReply, TransportError> {
        meanwhile();
        self.push(batch)
    }

    /// Starts fetching the page after `since` while the engine applies the one it has; the
    /// next [`Transport::pull`] of `since` takes it. A transport may ignore this.
    fn prefetch(&mut self, _since: i64) {}

    /// Payloads travel as bytes (the frames of `/v2`), not as base64 inside JSON.
    fn binary(&self) -> bool {
        false
    }
}

/// What went wrong between this device and the server. The messages name no command: the CLI
/// and the apps add their own hint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    #[error("the server refused the session: {0}; log out, then log in again")]
    Unauthorized(String),
    #[error("the server no longer keeps changes that old; a full resync is needed")]
    CursorExpired,
    #[error("the server refused the request (HTTP {status}): {message}")]
    Rejected {
        status: u16,
        code: String,
        /// The limit broken, for 413 and 429 answers.
        limit: Option<String>,
        /// Seconds the server asked to wait before trying again (429, 503).
        retry_after_s: Option<u64>,
        message: String,
    },
    #[error("{0}")]
    Network(String),
    #[error("'{0}' is not a server address; give one like https://sync.example.org")]
    InvalidUrl(String),
    #[error("the server's answer made no sense: {0}")]
    Protocol(String),
    /// The request was given up because the work was cancelled.
    #[error("cancelled")]
    Cancelled,
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Transport(TransportError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error("this database is not linked to a sync account")]
    NotLinked,
    #[error("this database already syncs as '{username}' with {server}; log out first")]
    AlreadyLinked { username: String, server: String },
    #[error("wrong username or passphrase for {0}")]
    WrongPassphrase(String),
    /// Something the runner typed is not acceptable; `field` names it.
    #[error("{reason}")]
    InvalidInput { field: &'static str, reason: String },
    #[error("the username '{0}' is taken on this server; choose another")]
    UsernameTaken(String),
    #[error("no device of this account matches '{0}'")]
    NoSuchDevice(String),
    #[error("'{key}' matches {} devices: {}; give more of the id", candidates.len(), candidates.join(", "))]
    AmbiguousDevice {
        key: String,
        candidates: Vec<String>,
    },
    #[error("the server answered {0} uploads in a row with conflicts; try again later")]
    ConflictLoop(u32),
    #[error("the sync was cancelled; what was done is kept and the next sync goes on from there")]
    Cancelled,
}

impl From<TransportError> for SyncError {
    fn from(e: TransportError) -> Self {
        match e {
            TransportError::Cancelled => SyncError::Cancelled,
            other => SyncError::Transport(other),
        }
    }
}

/// What one sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncSummary {
    /// Records sent and acknowledged.
    pub uploaded: usize,
    /// Records received.
    pub downloaded: usize,
    /// Received records that changed this device's data.
    pub merged: usize,
    /// Uploads refused because another device wrote first, merged and sent again.
    pub conflicts_resolved: usize,
    /// Received records that failed to open or named another record; kept out of the data.
    pub rejected: Vec<String>,
    /// Merged records waiting for a record they reference (applied on a later sync).
    pub pending: usize,
    /// The cursor was older than the server's tombstones, so everything was pulled again.
    pub full_resync: bool,
}

/// Progress, for a bar or a log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncEvent {
    Folded { changes: usize },
    Pulled { records: usize, cursor: i64 },
    Pushed { records: usize, remaining: usize },
}

/// Where the engine is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Fold,
    Pull { since: i64 },
    Push { conflicts_in_a_row: u32 },
    Done,
}

/// Uploads that keep conflicting give up after this many rounds.
const MAX_CONFLICT_ROUNDS: u32 = 8;

use crate::store::FOLD_STEP;

/// Downloaded records merged per borrow of the store (a page holds up to 1,000).
const MERGE_STEP: usize = 100;

/// The sync of one store with one account, step by step.
pub struct Engine<'a, A: StoreAccess> {
    store: &'a A,
    key: &'a DataKey,
    transport: &'a mut dyn Transport,
    /// Collection tags (HMACs, computed once) to collections, and back.
    tags: HashMap<String, &'static dyn SyncCollection>,
    tag_of: HashMap<&'static str, String>,
    state: State,
    limits: Option<Limits>,
    summary: SyncSummary,
    /// A step committed without waiting for the disk, not yet made durable.
    unsynced: bool,
    /// The next upload batch, sealed while the one before it was sent.
    ahead: Option<SealedBatch>,
}

/// Records read for upload and their sealed uploads, in the same order.
struct SealedBatch {
    records: Vec<OutgoingRecord>,
    uploads: Vec<RecordUpload>,
}

/// Seals `outgoing` in order until the next would pass `budget` payload bytes (one record
/// always goes, so a large one is never stuck).
fn seal_batch(
    key: &DataKey,
    tag_of: &HashMap<&'static str, String>,
    outgoing: Vec<OutgoingRecord>,
    budget: usize,
) -> Result<SealedBatch, SyncError> {
    let mut batch = SealedBatch {
        records: Vec::new(),
        uploads: Vec::new(),
    };
    let mut bytes = 0;
    for rec in outgoing {
        let upload = seal_record(key, &tag_of[rec.collection], &rec)?;
        if !batch.uploads.is_empty() && bytes + upload.payload.len() > budget {
            break;
        }
        bytes += upload.payload.len();
        batch.uploads.push(upload);
        batch.records.push(rec);
    }
    Ok(batch)
}

impl<A: StoreAccess> Drop for Engine<'_, A> {
    /// A sync stopped anywhere (an error, a cancel) still leaves its steps on disk.
    fn drop(&mut self) {
        if self.unsynced {
            let _ = self.store.with_store(|s| s.sync_to_disk());
        }
    }
}

impl<'a, A: StoreAccess> Engine<'a, A> {
    pub fn new(store: &'a A, key: &'a DataKey, transport: &'a mut dyn Transport) -> Self {
        let tag_of: HashMap<&'static str, String> = COLLECTIONS
            .iter()
            .map(|c| (c.name(), key.collection_tag(c.name())))
            .collect();
        let tags = COLLECTIONS
            .iter()
            .map(|c| (tag_of[c.name()].clone(), *c))
            .collect();
        Engine {
            store,
            key,
            transport,
            tags,
            tag_of,
            state: State::Fold,
            limits: None,
            summary: SyncSummary::default(),
            unsynced: false,
            ahead: None,
        }
    }

    /// Runs to the end, reporting progress and stopping at the next step once `cancel` is set.
    pub fn run(
        mut self,
        on_event: &mut dyn FnMut(SyncEvent),
        cancel: &Cancel,
    ) -> Result<SyncSummary, SyncError> {
        while self.state != State::Done {
            if cancel.is_cancelled() {
                return Err(SyncError::Cancelled);
            }
            let event = self.step()?;
            // A step finished after a cancel is kept, but the app is not called again.
            if cancel.is_cancelled() {
                if self.state != State::Done {
                    return Err(SyncError::Cancelled);
                }
            } else if let Some(event) = event {
                on_event(event);
            }
        }
        self.store.with_store(|s| {
            s.set_last_sync()?;
            s.sync_to_disk()
        })?;
        self.unsynced = false;
        Ok(std::mem::take(&mut self.summary))
    }

    /// One transition of the state machine.
    pub fn step(&mut self) -> Result<Option<SyncEvent>, SyncError> {
        match self.state {
            State::Fold => {
                let (changes, since) = self.commit(|s| {
                    s.sync_reseal_own()?;
                    let n = s.sync_fold_step(FOLD_STEP)?;
                    Ok::<_, StoreError>((n, s.sync_pull_cursor()?))
                })?;
                if changes < FOLD_STEP {
                    self.state = State::Pull { since };
                }
                Ok(Some(SyncEvent::Folded { changes }))
            }
            State::Pull { since } => {
                // The limits say which wire the server speaks, so they come before the first
                // page.
                self.limits()?;

                let page = match self.transport.pull(since) {
                    Err(TransportError::CursorExpired) if since > 0 => {
                        self.commit(|s| s.reset_sync_pull_cursor())?;
                        self.summary.full_resync = true;
                        self.state = State::Pull { since: 0 };
                        return Ok(None);
                    }
                    other => other?,
                };
                if page.next < since {
                    return Err(TransportError::Protocol(format!(
                        "the cursor went back from {since} to {}",
                        page.next
                    ))
                    .into());
                }
                if !page.done && !page.records.is_empty() {
                    self.transport.prefetch(page.next);
                }
                let incoming = self.open_all(&page.records);
                // In steps; only the last moves the cursor, so a sync stopped between them pulls
                // the page again and merges it again, which changes nothing.
                let mut chunks = incoming.chunks(MERGE_STEP).peekable();
                if chunks.peek().is_none() {
                    self.commit(|s| s.sync_merge_remote(&[], Some(page.next)))?;
                }
                while let Some(chunk) = chunks.next() {
                    let cursor = chunks.peek().is_none().then_some(page.next);
                    let stats = self.commit(|s| s.sync_merge_remote(chunk, cursor))?;
                    self.summary.merged += stats.changed;
                    self.summary.pending = stats.pending;
                }
                self.summary.downloaded += page.records.len();
                self.state = if page.done || page.records.is_empty() {
                    State::Push {
                        conflicts_in_a_row: 0,
                    }
                } else {
                    State::Pull { since: page.next }
                };
                Ok(Some(SyncEvent::Pulled {
                    records: page.records.len(),
                    cursor: page.next,
                }))
            }
            State::Push { conflicts_in_a_row } => self.push(conflicts_in_a_row),
            State::Done => Ok(None),
        }
    }

    /// One step's commit, made without waiting for the disk: a sync commits a transaction a
    /// page and a batch, and waiting for an fsync on each (about 8 ms here) would take longer
    /// than the download of a whole history. Each still commits atomically (WAL), so a power
    /// cut can only lose the last steps whole, and those are done again by the next sync (the
    /// cursor and the acknowledgements are in the same transactions as the records). The end
    /// of the sync makes them durable. The app's own writes in between wait for the disk as
    /// always.
    fn commit<T, E: From<StoreError>>(
        &mut self,
        f: impl FnOnce(&mut Store) -> Result<T, E>,
    ) -> Result<T, E> {
        self.unsynced = true;
        self.store.with_store(|s| s.without_waiting_for_disk(f))
    }

    fn limits(&mut self) -> Result<Limits, SyncError> {
        if let Some(l) = self.limits {
            return Ok(l);
        }
        let l = self.transport.limits()?;
        self.limits = Some(l);
        Ok(l)
    }

    fn push(&mut self, conflicts_in_a_row: u32) -> Result<Option<SyncEvent>, SyncError> {
        let limits = self.limits()?;
        let max = limits.batch_records.max(1);
        // Fill the batch up to the server's byte limits (as base64 on the JSON wire).
        let body_room = if self.transport.binary() {
            limits
                .body_bytes
                .saturating_sub(strideguard_proto::frames::upload_overhead(max))
        } else {
            limits.body_bytes.saturating_mul(3) / 4
        };
        let budget = limits.batch_bytes.min(body_room).saturating_sub(64 * 1024);
        let batch = match self.ahead.take() {
            Some(batch) => batch,
            None => {
                let outgoing = self.store.with_store(|s| s.sync_outgoing(max))?;
                seal_batch(self.key, &self.tag_of, outgoing, budget)?
            }
        };
        if batch.uploads.is_empty() {
            self.state = State::Done;
            return Ok(None);
        }
        // The records after this batch are read and sealed while it is sent, so the device's
        // work and the server's overlap. They are read now: if one changes before it is sent,
        // its acknowledgement leaves it marked, and it goes again. (A record the batch could
        // not fit comes after it again once the batch is acknowledged.) A read or a seal that
        // failed here is done again, and its error told, next step.
        let last = batch
            .records
            .last()
            .map(|r| (r.collection, r.local_id.clone()));
        let (store, key, tag_of) = (self.store, self.key, &self.tag_of);
        let mut ahead = None;
        let binary = self.transport.binary();
        let reply = self.transport.push_while(&batch.uploads, &mut || {
            // A panic here must not wait for the upload and then escape: the batch is simply
            // read and sealed again next step.
            ahead = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let following = store.with_store(|s| {
                    s.sync_outgoing_after(last.as_ref().map(|(c, id)| (*c, id.as_str())), max)
                });
                match following {
                    Ok(following) if !following.is_empty() => {
                        seal_batch(key, tag_of, following, budget).ok()
                    }
                    _ => None,
                }
            }))
            .ok()
            .flatten();
        });
        if self.transport.binary() != binary {
            // The server turned out to speak only JSON (a rolling upgrade rolled back): the
            // batches were filled for frames, and as JSON's base64 they can be over the body
            // limit. What was sealed ahead is dropped, and a batch the server refused as too
            // large goes again, filled for JSON, next step.
            ahead = None;
            if let Err(TransportError::Rejected { status: 413, .. }) = reply {
                return Ok(None);
            }
        }
        let reply = reply?;
        let (sent, batch) = (batch.records, batch.uploads);
        match reply {
            PushReply::Accepted(acks) => {
                let seqs: HashMap<&str, i64> =
                    acks.iter().map(|a| (a.id.as_str(), a.seq)).collect();
                let mut acked = Vec::new();
                for (rec, up) in sent.iter().zip(&batch) {
                    let seq = *seqs.get(up.id.as_str()).ok_or_else(|| {
                        TransportError::Protocol(format!("record {} was not acknowledged", up.id))
                    })?;
                    acked.push((rec, seq));
                }
                let remaining = self.commit(|s| {
                    s.sync_acknowledge(&acked)?;
                    s.sync_dirty_count()
                })?;
                self.summary.uploaded += acked.len();
                self.ahead = ahead;
                self.state = State::Push {
                    conflicts_in_a_row: 0,
                };
                Ok(Some(SyncEvent::Pushed {
                    records: acked.len(),
                    remaining,
                }))
            }
            PushReply::Conflict(current) => {
                if conflicts_in_a_row + 1 >= MAX_CONFLICT_ROUNDS {
                    return Err(SyncError::ConflictLoop(conflicts_in_a_row + 1));
                }
                // What was sealed ahead may be merged over now; it is read again.
                drop(ahead);
                let incoming = self.open_all(&current);
                self.commit(|s| s.sync_merge_remote(&incoming, None))?;
                self.summary.conflicts_resolved += current.len();
                self.state = State::Push {
                    conflicts_in_a_row: conflicts_in_a_row + 1,
                };
                Ok(None)
            }
        }
    }

    /// Opens what can be opened; the rest is named in the summary and left out.
    fn open_all(&mut self, records: &[RecordDownload]) -> Vec<IncomingRecord> {
        let mut out = Vec::with_capacity(records.len());
        for r in records {
            match self.open(r) {
                Ok(inc) => out.push(inc),
                Err(why) => self
                    .summary
                    .rejected
                    .push(format!("record {} (seq {}): {why}", r.id, r.seq)),
            }
        }
        out
    }

    fn open(&self, r: &RecordDownload) -> Result<IncomingRecord, String> {
        let col = self
            .tags
            .get(&r.collection)
            .ok_or("its collection is not one this version knows")?;
        open_record(self.key, *col, r)
    }
}

/// The plaintext sealed in a record (envelope format 2: [`encoding`]). Public (hidden) for the
/// fuzz targets.
#[doc(hidden)]
pub fn encode_plaintext(collection: &str, local_id: &str, record: &Record) -> Vec<u8> {
    encoding::encode(collection, local_id, record)
}

/// Reads an opened record's plaintext, as the envelope format it came in says it is encoded:
/// (collection, local id, record). Public (hidden) for the fuzz targets.
#[doc(hidden)]
pub fn decode_plaintext(envelope: u8, plain: &[u8]) -> Result<(String, String, Record), String> {
    let decoded = if envelope == ENVELOPE_V1 {
        encoding::decode_json(plain)
    } else {
        encoding::decode(plain)
    };
    decoded.map_err(|e| e.to_string())
}

/// Seals an outgoing record of the collection whose tag is `tag`, as the engine uploads it.
/// Public (hidden) for the fuzz targets.
#[doc(hidden)]
pub fn seal_record(
    key: &DataKey,
    tag: &str,
    rec: &OutgoingRecord,
) -> Result<RecordUpload, SyncError> {
    seal_as(key, tag, rec, |id, version, _| {
        let plain = encode_plaintext(rec.collection, &rec.local_id, &rec.record);
        key.seal_v2(rec.collection, id, version, &plain)
    })
}

/// Seals a record as the first release did (JSON in envelope format 1, padded to the
/// collection's fixed step): how tests make the records an old device left on a server.
#[doc(hidden)]
pub fn seal_record_v1(
    key: &DataKey,
    tag: &str,
    rec: &OutgoingRecord,
) -> Result<RecordUpload, SyncError> {
    seal_as(key, tag, rec, |id, version, pad_to| {
        let plain = encoding::encode_json(rec.collection, &rec.local_id, &rec.record);
        key.seal(rec.collection, id, version, &plain, pad_to)
    })
}

/// The upload of `rec`: its id, and as payload the schema version (2 bytes) before the
/// envelope `seal` makes of it (given the id, the schema version and the collection's step).
fn seal_as(
    key: &DataKey,
    tag: &str,
    rec: &OutgoingRecord,
    seal: impl FnOnce(&str, u32, usize) -> Result<Vec<u8>, CryptoError>,
) -> Result<RecordUpload, SyncError> {
    let col = crate::store::collections::sync_collection(rec.collection)
        .expect("outgoing records name known collections");
    let id = key.record_id(rec.collection, &rec.local_id);
    let version = col.schema_version();
    let mut payload = (version as u16).to_be_bytes().to_vec();
    payload.extend(seal(&id, version, col.pad_to())?);
    Ok(RecordUpload {
        collection: tag.to_string(),
        id,
        if_seq: Some(rec.server_seq),
        deleted: rec.record.is_deleted(),
        payload,
    })
}

/// Opens a downloaded record of `col` (its tag already looked up), as the engine does: the
/// schema version, the envelope, the plaintext, and that the content names this very record.
/// Public (hidden) for the fuzz targets.
#[doc(hidden)]
pub fn open_record(
    key: &DataKey,
    col: &dyn SyncCollection,
    r: &RecordDownload,
) -> Result<IncomingRecord, String> {
    let (version, envelope) = r
        .payload
        .split_at_checked(2)
        .ok_or("the payload is empty")?;
    let version = u32::from(u16::from_be_bytes([version[0], version[1]]));
    if version > col.schema_version() {
        return Err(format!(
            "it was written in schema {version}, newer than this version of Strideguard"
        ));
    }
    let opened = key
        .open(col.name(), &r.id, version, envelope)
        .map_err(|e| e.to_string())?;
    let (c, local_id, record) = decode_plaintext(opened.envelope, &opened.plaintext)?;
    if c != col.name() || key.record_id(&c, &local_id) != r.id {
        return Err("its content belongs to another record".into());
    }
    Ok(IncomingRecord {
        collection: col.name(),
        local_id,
        record,
        server_seq: r.seq,
        old_encoding: opened.envelope == ENVELOPE_V1,
    })
}

/// Syncs the store over `transport` with the account's data key, until done or cancelled.
pub fn sync(
    store: &impl StoreAccess,
    key: &DataKey,
    transport: &mut dyn Transport,
    on_event: &mut dyn FnMut(SyncEvent),
    cancel: &Cancel,
) -> Result<SyncSummary, SyncError> {
    Engine::new(store, key, transport).run(on_event, cancel)
}
