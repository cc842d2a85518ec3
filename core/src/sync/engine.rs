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

use super::Record;
use super::wire::{Ack, Limits, RecordDownload, RecordUpload, RecordsPage};
use crate::cancel::Cancel;
use crate::crypto::{CryptoError, DataKey};
use crate::store::collections::{COLLECTIONS, SyncCollection};
use crate::store::{IncomingRecord, OutgoingRecord, StoreAccess, StoreError};

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

/// Plaintext inside each sealed record: the collection and local id travel sealed so the
/// server sees neither.
#[derive(Serialize, Deserialize)]
struct Sealed {
    c: String,
    id: String,
    r: Record,
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
        self.store.with_store(|s| s.set_last_sync())?;
        Ok(self.summary)
    }

    /// One transition of the state machine.
    pub fn step(&mut self) -> Result<Option<SyncEvent>, SyncError> {
        match self.state {
            State::Fold => {
                let (changes, since) = self.store.with_store(|s| {
                    let n = s.sync_fold_step(FOLD_STEP)?;
                    Ok::<_, StoreError>((n, s.sync_pull_cursor()?))
                })?;
                if changes < FOLD_STEP {
                    self.state = State::Pull { since };
                }
                Ok(Some(SyncEvent::Folded { changes }))
            }
            State::Pull { since } => {
                let page = match self.transport.pull(since) {
                    Err(TransportError::CursorExpired) if since > 0 => {
                        self.store.with_store(|s| s.reset_sync_pull_cursor())?;
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
                let incoming = self.open_all(&page.records);
                // In steps; only the last moves the cursor, so a sync stopped between them pulls
                // the page again and merges it again, which changes nothing.
                let mut chunks = incoming.chunks(MERGE_STEP).peekable();
                if chunks.peek().is_none() {
                    self.store
                        .with_store(|s| s.sync_merge_remote(&[], Some(page.next)))?;
                }
                while let Some(chunk) = chunks.next() {
                    let cursor = chunks.peek().is_none().then_some(page.next);
                    let stats = self
                        .store
                        .with_store(|s| s.sync_merge_remote(chunk, cursor))?;
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
        let outgoing = self
            .store
            .with_store(|s| s.sync_outgoing(limits.batch_records.max(1)))?;
        if outgoing.is_empty() {
            self.state = State::Done;
            return Ok(None);
        }
        // Fill the batch up to the server's byte limits (payloads travel as base64).
        let byte_budget = limits
            .batch_bytes
            .min(limits.body_bytes.saturating_mul(3) / 4)
            .saturating_sub(64 * 1024);
        let mut batch = Vec::new();
        let mut sent: Vec<&OutgoingRecord> = Vec::new();
        let mut bytes = 0;
        for rec in &outgoing {
            let upload = self.seal(rec)?;
            if !batch.is_empty() && bytes + upload.payload.len() > byte_budget {
                break;
            }
            bytes += upload.payload.len();
            batch.push(upload);
            sent.push(rec);
        }
        match self.transport.push(&batch)? {
            PushReply::Accepted(acks) => {
                let seqs: HashMap<&str, i64> =
                    acks.iter().map(|a| (a.id.as_str(), a.seq)).collect();
                let mut acked = Vec::new();
                for (rec, up) in sent.iter().zip(&batch) {
                    let seq = *seqs.get(up.id.as_str()).ok_or_else(|| {
                        TransportError::Protocol(format!("record {} was not acknowledged", up.id))
                    })?;
                    acked.push((*rec, seq));
                }
                let remaining = self.store.with_store(|s| {
                    s.sync_acknowledge(&acked)?;
                    s.sync_dirty_count()
                })?;
                self.summary.uploaded += acked.len();
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
                let incoming = self.open_all(&current);
                self.store
                    .with_store(|s| s.sync_merge_remote(&incoming, None))?;
                self.summary.conflicts_resolved += current.len();
                self.state = State::Push {
                    conflicts_in_a_row: conflicts_in_a_row + 1,
                };
                Ok(None)
            }
        }
    }

    fn seal(&self, rec: &OutgoingRecord) -> Result<RecordUpload, SyncError> {
        seal_record(self.key, &self.tag_of[rec.collection], rec)
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

/// The plaintext sealed in a record: the collection, the local id and the record, as JSON.
/// Public (hidden) for the fuzz targets.
#[doc(hidden)]
pub fn encode_plaintext(collection: &str, local_id: &str, record: &Record) -> Vec<u8> {
    serde_json::to_vec(&Sealed {
        c: collection.to_string(),
        id: local_id.to_string(),
        r: record.clone(),
    })
    .expect("records serialise")
}

/// Reads an opened record's plaintext: (collection, local id, record). Public (hidden) for the
/// fuzz targets.
#[doc(hidden)]
pub fn decode_plaintext(plain: &[u8]) -> Result<(String, String, Record), String> {
    let sealed: Sealed =
        serde_json::from_slice(plain).map_err(|e| format!("unreadable content: {e}"))?;
    Ok((sealed.c, sealed.id, sealed.r))
}

/// Seals an outgoing record of the collection whose tag is `tag`, as the engine uploads it.
/// Public (hidden) for the fuzz targets.
#[doc(hidden)]
pub fn seal_record(
    key: &DataKey,
    tag: &str,
    rec: &OutgoingRecord,
) -> Result<RecordUpload, SyncError> {
    let col = crate::store::collections::sync_collection(rec.collection)
        .expect("outgoing records name known collections");
    let id = key.record_id(rec.collection, &rec.local_id);
    let plain = encode_plaintext(rec.collection, &rec.local_id, &rec.record);
    let version = col.schema_version();
    let mut payload = (version as u16).to_be_bytes().to_vec();
    payload.extend(key.seal(rec.collection, &id, version, &plain, col.pad_to())?);
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
    let plain = key
        .open(col.name(), &r.id, version, envelope)
        .map_err(|e| e.to_string())?;
    let (c, local_id, record) = decode_plaintext(&plain)?;
    if c != col.name() || key.record_id(&c, &local_id) != r.id {
        return Err("its content belongs to another record".into());
    }
    Ok(IncomingRecord {
        collection: col.name(),
        local_id,
        record,
        server_seq: r.seq,
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
