//! The server and the network of the simulation.
//!
//! [`Server`] is the real server minus its socket: the real axum [`Router`]
//! (`strideguard_server::api::router`) over the real [`SqliteStorage`] in a temporary folder,
//! driven with `tower::ServiceExt::oneshot` on a current-thread tokio runtime. Each request
//! runs to its answer before the next starts, so the server's threads (`spawn_blocking`, the
//! SQLite writer) never race one another.
//!
//! [`Link`] is a device's [`Transport`]: every pull and push becomes a real HTTP request into
//! that router, and on the way the [`Net`] may lose it, lose its answer, send it twice, hold it
//! and deliver it late, cut its body off, answer with a stale earlier answer, or crash the
//! server before or after it. The [`Oracle`] watches every answer the server gives (whether or
//! not the device gets to see it) and checks it against what the server acknowledged before.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::{Method, Request};
use strideguard_core::clock::ManualClock;
use strideguard_core::crypto::DataKey;
use strideguard_core::hlc::Stamp;
use strideguard_core::store::collections::COLLECTIONS;
use strideguard_core::sync::engine::decode_plaintext;
use strideguard_core::sync::wire::{
    Ack, ConflictResponse, ErrorBody, Limits, PostRecordsRequest, PostRecordsResponse,
    RecordDownload, RecordUpload, RecordsPage,
};
use strideguard_core::sync::{PushReply, Record, Transport, TransportError};
use strideguard_server::testing::{self, Backend};
use strideguard_server::{PostgresStorage, RunningServer, ServerConfig, SqliteStorage, Storage};
use tower::ServiceExt;

use super::rng::Rng;

struct Live {
    storage: Arc<dyn Storage>,
    router: Router,
}

/// The real server over the real storage, without a socket.
pub struct Server {
    config: ServerConfig,
    pub clock: Arc<ManualClock>,
    dir: tempfile::TempDir,
    /// The PostgreSQL database, when the tests run on PostgreSQL (`STRIDEGUARD_TEST_BACKEND`).
    database: Option<String>,
    /// Folders of servers that were killed, kept until the end so nothing races their removal.
    old_dirs: Vec<tempfile::TempDir>,
    live: Option<Live>,
    rt: tokio::runtime::Runtime,
}

impl Server {
    pub fn start(config: ServerConfig, clock: Arc<ManualClock>) -> Server {
        let dir = super::temp_dir();
        let database =
            (Backend::from_env() == Backend::Postgres).then(|| testing::shared().create_database());
        let live = Some(Server::open(
            dir.path(),
            database.as_deref(),
            &config,
            &clock,
        ));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        Server {
            config,
            clock,
            dir,
            database,
            old_dirs: Vec::new(),
            live,
            rt,
        }
    }

    fn open(
        dir: &Path,
        database: Option<&str>,
        config: &ServerConfig,
        clock: &Arc<ManualClock>,
    ) -> Live {
        let storage: Arc<dyn Storage> = match database {
            Some(url) => {
                Arc::new(PostgresStorage::connect(url).expect("the server's storage opens"))
            }
            None => Arc::new(SqliteStorage::open(dir).expect("the server's storage opens")),
        };
        let state = strideguard_server::state(storage.clone(), config.clone(), clock.clone());
        Live {
            storage,
            router: strideguard_server::api::router(state),
        }
    }

    fn live(&self) -> &Live {
        self.live.as_ref().expect("the server is up")
    }

    /// The same server on 127.0.0.1, for the account flows (register, login), which use
    /// core's HTTP client. Stop it before simulating.
    pub fn on_socket(&self) -> RunningServer {
        RunningServer::start(
            "127.0.0.1:0".parse().expect("an address"),
            self.live().storage.clone(),
            self.config.clone(),
            self.clock.clone(),
        )
        .expect("the server starts on 127.0.0.1")
    }

    /// Stops the server cleanly (its storage closes) and starts it again on the same folder.
    pub fn restart(&mut self) {
        self.live = None;
        self.live = Some(Server::open(
            self.dir.path(),
            self.database.as_deref(),
            &self.config,
            &self.clock,
        ));
    }

    /// `kill -9`: the database and its write-ahead log as they are on disk right now (no
    /// checkpoint, no clean close), opened by a new server in another folder. On PostgreSQL,
    /// the server's connections are dropped mid-use and a new server connects: the database
    /// keeps what it committed, as it does when a server process dies.
    pub fn kill(&mut self) {
        if self.database.is_some() {
            return self.restart();
        }
        let fresh = super::temp_dir();
        for name in ["server.db", "server.db-wal"] {
            let from = self.dir.path().join(name);
            if from.exists() {
                std::fs::copy(&from, fresh.path().join(name)).expect("the copy of a server file");
            }
        }
        let live = Server::open(fresh.path(), None, &self.config, &self.clock);
        self.live = Some(live);
        let old = std::mem::replace(&mut self.dir, fresh);
        self.old_dirs.push(old);
    }

    /// One HTTP request through the router: (status, body).
    pub fn call(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        body: Option<Body>,
    ) -> (u16, Vec<u8>) {
        let mut b = Request::builder()
            .method(method)
            .uri(uri)
            .header("accept", "application/json");
        if let Some(t) = token {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        if body.is_some() {
            b = b.header("content-type", "application/json");
        }
        let mut req = b.body(body.unwrap_or_else(Body::empty)).expect("a request");
        // What axum's `into_make_service_with_connect_info` adds for a real connection.
        req.extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 50_000))));
        let router = self.live().router.clone();
        self.rt.block_on(async move {
            let resp = router.oneshot(req).await.expect("the router never fails");
            let status = resp.status().as_u16();
            let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
                .await
                .expect("the answer's body");
            (status, body.to_vec())
        })
    }
}

/// What the server holds for one record, as far as its answers told.
#[derive(Debug, Clone)]
struct Stored {
    collection: String,
    seq: i64,
    deleted: bool,
    payload: Vec<u8>,
}

/// The newest stamp of each field (and the tombstone) the server acknowledged for a record:
/// every later version it accepts must hold them or newer ones.
#[derive(Debug, Clone, Default)]
struct Floor {
    fields: BTreeMap<String, Stamp>,
    deleted: Option<Stamp>,
}

/// The server as its answers to one account describe it. Every write reaches the server through
/// the simulation, so this is complete: a page must hold exactly what it predicts.
pub struct Oracle {
    pub token: String,
    key: DataKey,
    tags: HashMap<String, &'static str>,
    latest: HashMap<String, Stored>,
    /// Current sequence -> record id.
    by_seq: BTreeMap<i64, String>,
    /// Every sequence ever acknowledged -> record id (never reused).
    owner: HashMap<i64, String>,
    pub max_seq: i64,
    floors: HashMap<String, Floor>,
    /// The latest stamp in each record version acknowledged, by its sequence (to know what a
    /// device read).
    stamps: HashMap<i64, Stamp>,
    /// Earlier answers, to replay stale: pages by the cursor they answered.
    pages: Vec<(i64, Vec<u8>)>,
    answers: Vec<(u16, Vec<u8>, BTreeSet<String>)>,
}

impl Oracle {
    pub fn new(token: String, key: DataKey) -> Oracle {
        let tags = COLLECTIONS
            .iter()
            .map(|c| (key.collection_tag(c.name()), c.name()))
            .collect();
        Oracle {
            token,
            key,
            tags,
            latest: HashMap::new(),
            by_seq: BTreeMap::new(),
            owner: HashMap::new(),
            max_seq: 0,
            floors: HashMap::new(),
            stamps: HashMap::new(),
            pages: Vec::new(),
            answers: Vec::new(),
        }
    }

    /// Opens a payload as a device would.
    fn open(&self, collection: &str, id: &str, payload: &[u8]) -> Result<Record, String> {
        let name = self
            .tags
            .get(collection)
            .ok_or_else(|| format!("record {id} names an unknown collection"))?;
        let (version, envelope) = payload
            .split_at_checked(2)
            .ok_or_else(|| format!("record {id} has an empty payload"))?;
        let version = u32::from(u16::from_be_bytes([version[0], version[1]]));
        let opened = self
            .key
            .open(name, id, version, envelope)
            .map_err(|e| format!("record {id} does not open: {e}"))?;
        let (c, local_id, record) = decode_plaintext(opened.envelope, &opened.plaintext)
            .map_err(|e| format!("record {id} holds unreadable content: {e}"))?;
        if c != *name || self.key.record_id(&c, &local_id) != id {
            return Err(format!("record {id} holds another record"));
        }
        Ok(record)
    }

    /// Checks an acknowledged batch and takes it in.
    fn accepted(&mut self, batch: &[RecordUpload], acks: &[Ack]) -> Result<(), String> {
        let ids: BTreeSet<&str> = batch.iter().map(|r| r.id.as_str()).collect();
        let acked: BTreeSet<&str> = acks.iter().map(|a| a.id.as_str()).collect();
        if ids != acked || acks.len() != batch.len() {
            return Err(format!(
                "a batch of {} records was answered with {} acknowledgements for other ids",
                batch.len(),
                acks.len()
            ));
        }
        let before = self.max_seq;
        for ack in acks {
            let up = batch
                .iter()
                .find(|r| r.id == ack.id && r.collection == ack.collection)
                .ok_or_else(|| format!("record {} acknowledged in another collection", ack.id))?;
            if let Some(owner) = self.owner.get(&ack.seq) {
                // Acknowledged again: only the very same write, at the sequence it has.
                let held = self.latest.get(&ack.id);
                if *owner != ack.id
                    || held.is_none_or(|h| h.seq != ack.seq || h.payload != up.payload)
                {
                    return Err(format!(
                        "sequence {} was acknowledged for record {} but belongs to {owner} \
                         (or to another write of it)",
                        ack.seq, ack.id
                    ));
                }
                continue;
            }
            if ack.seq <= self.max_seq {
                return Err(format!(
                    "a new write of record {} got sequence {}, not after {} (the sequence went \
                     back{})",
                    ack.id,
                    ack.seq,
                    self.max_seq,
                    if ack.seq <= before {
                        ", below what was acknowledged before"
                    } else {
                        ""
                    }
                ));
            }
            let record = self.open(&up.collection, &up.id, &up.payload)?;
            if record.is_deleted() != up.deleted {
                return Err(format!(
                    "record {} was sent with deleted={} but its content says otherwise",
                    up.id, up.deleted
                ));
            }
            let floor = self.floors.entry(up.id.clone()).or_default();
            for (name, stamp) in &floor.fields {
                if record.fields.get(name).is_none_or(|f| f.stamp < *stamp) {
                    return Err(format!(
                        "an acknowledged write was lost: record {} field '{name}' at {stamp} was \
                         replaced (seq {}) by a version without it",
                        up.id, ack.seq
                    ));
                }
            }
            if floor.deleted.is_some() && record.deleted < floor.deleted {
                return Err(format!(
                    "an acknowledged delete of record {} was lost (seq {})",
                    up.id, ack.seq
                ));
            }
            for (name, f) in &record.fields {
                floor.fields.insert(name.clone(), f.stamp);
            }
            floor.deleted = floor.deleted.max(record.deleted);
            if let Some(s) = record.latest_stamp() {
                self.stamps.insert(ack.seq, s);
            }
            if let Some(old) = self.latest.get(&ack.id) {
                self.by_seq.remove(&old.seq);
            }
            self.max_seq = ack.seq;
            self.owner.insert(ack.seq, ack.id.clone());
            self.by_seq.insert(ack.seq, ack.id.clone());
            self.latest.insert(
                ack.id.clone(),
                Stored {
                    collection: up.collection.clone(),
                    seq: ack.seq,
                    deleted: up.deleted,
                    payload: up.payload.clone(),
                },
            );
        }
        Ok(())
    }

    /// A record as the server says it holds it now must be what it acknowledged last.
    fn current(&self, r: &RecordDownload) -> Result<(), String> {
        match self.latest.get(&r.id) {
            Some(s)
                if s.seq == r.seq
                    && s.payload == r.payload
                    && s.deleted == r.deleted
                    && s.collection == r.collection =>
            {
                Ok(())
            }
            Some(s) => Err(format!(
                "the server answered record {} at seq {} but acknowledged it last at seq {}{}",
                r.id,
                r.seq,
                s.seq,
                if s.seq == r.seq {
                    " with other content"
                } else {
                    ""
                }
            )),
            None => Err(format!(
                "the server answered record {} (seq {}), which it never acknowledged",
                r.id, r.seq
            )),
        }
    }

    /// A page since `since` must be the next records after it, in order, exactly.
    fn page(&self, since: i64, page: &RecordsPage) -> Result<(), String> {
        let expected: Vec<i64> = self.by_seq.range(since + 1..).map(|(s, _)| *s).collect();
        let got: Vec<i64> = page.records.iter().map(|r| r.seq).collect();
        if got.len() > expected.len() || got[..] != expected[..got.len()] {
            return Err(format!(
                "a pull since {since} gave sequences {got:?}; the server acknowledged {expected:?} \
                 after it"
            ));
        }
        for r in &page.records {
            self.current(r)?;
        }
        let done = got.len() == expected.len();
        if page.done != done {
            return Err(format!(
                "a pull since {since} with {} of {} records said done={}",
                got.len(),
                expected.len(),
                page.done
            ));
        }
        if !done && got.is_empty() {
            return Err(format!(
                "a pull since {since} gave nothing but was not done"
            ));
        }
        let next = got.last().copied().unwrap_or(since);
        if page.next != next {
            return Err(format!(
                "a pull since {since} ending at {next} gave next={}",
                page.next
            ));
        }
        Ok(())
    }

    /// The newest stamp in records a device read.
    fn newest(&self, records: &[RecordDownload]) -> Option<Stamp> {
        records
            .iter()
            .filter_map(|r| self.stamps.get(&r.seq).copied())
            .max()
    }

    pub fn records(&self) -> usize {
        self.latest.len()
    }
}

/// What happens to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    Deliver,
    /// Never reaches the server.
    LoseRequest,
    /// Reaches the server, which commits and answers; the answer never arrives.
    LoseAnswer,
    /// Sent twice (a retry after a timeout that was only slow); the device sees one answer.
    Duplicate,
    /// Held in the network and delivered at a later step, after other requests.
    Late,
    /// The body is cut off partway: the server must refuse it and store nothing.
    Truncate,
    /// The connection drops partway through the body.
    CutStream,
    /// An earlier answer comes back instead (a stale cache, a desynchronised connection).
    StaleAnswer,
    /// The server crashes before the request reaches it.
    CrashBefore,
    /// The server crashes after committing, before answering.
    CrashAfter,
}

struct Held {
    user: usize,
    token: String,
    batch: Vec<RecordUpload>,
}

/// The network between the devices and the server.
pub struct Net {
    pub server: Server,
    rng: Rng,
    pub faults: bool,
    held: Vec<Held>,
    pub users: Vec<Oracle>,
    /// Invariants broken inside a request (the device only sees a transport error).
    pub failures: Vec<String>,
    /// What happened to each request, for the trace.
    pub log: Vec<String>,
    pub counts: BTreeMap<&'static str, u64>,
    /// The newest stamp each device was handed in the sync under way.
    pub read: HashMap<usize, Stamp>,
}

fn lost(what: &str) -> TransportError {
    TransportError::Network(format!("cannot reach the server: {what}"))
}

fn error_of(status: u16, body: &[u8]) -> TransportError {
    let b: Option<ErrorBody> = serde_json::from_slice(body).ok();
    let (code, message, limit) = match b {
        Some(b) => (b.error, b.message, b.limit),
        None => (
            "unknown".to_string(),
            String::from_utf8_lossy(body).chars().take(200).collect(),
            None,
        ),
    };
    match status {
        401 => TransportError::Unauthorized(message),
        410 => TransportError::CursorExpired,
        status => TransportError::Rejected {
            status,
            code,
            limit,
            retry_after_s: None,
            message,
        },
    }
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, TransportError> {
    serde_json::from_slice(body).map_err(|e| TransportError::Protocol(e.to_string()))
}

impl Net {
    pub fn new(server: Server, rng: Rng, users: Vec<Oracle>) -> Net {
        Net {
            server,
            rng,
            faults: false,
            held: Vec::new(),
            users,
            failures: Vec::new(),
            log: Vec::new(),
            counts: BTreeMap::new(),
            read: HashMap::new(),
        }
    }

    fn fail(&mut self, msg: String) {
        self.failures.push(msg);
    }

    fn fate(&mut self, choices: &[(Fate, u32)]) -> Fate {
        if !self.faults {
            return Fate::Deliver;
        }
        let f = self.rng.weighted(choices);
        let name = match f {
            Fate::Deliver => "delivered",
            Fate::LoseRequest => "request lost",
            Fate::LoseAnswer => "answer lost",
            Fate::Duplicate => "duplicated",
            Fate::Late => "held, delivered late",
            Fate::Truncate => "body truncated",
            Fate::CutStream => "connection cut mid-body",
            Fate::StaleAnswer => "stale answer",
            Fate::CrashBefore => "server crashed before",
            Fate::CrashAfter => "server crashed after",
        };
        *self.counts.entry(name).or_default() += 1;
        f
    }

    /// The server crashes (a clean restart or a kill, half and half), then every acknowledged
    /// write must still be there.
    pub fn crash(&mut self) {
        if self.rng.chance(0.5) {
            self.server.restart();
            self.log.push("server restarted".into());
        } else {
            self.server.kill();
            self.log
                .push("server killed (-9) and started from its files".into());
        }
        for u in 0..self.users.len() {
            self.audit(u, 0, "after a crash");
        }
    }

    /// Pulls everything after `since` straight from the server and checks it against the
    /// oracle: every acknowledged write after the cursor, once, in order, as acknowledged.
    pub fn audit(&mut self, user: usize, since: i64, when: &str) {
        let token = self.users[user].token.clone();
        let mut at = since;
        for _ in 0..10_000 {
            let (status, body) = self.server.call(
                Method::GET,
                &format!("/v1/records?since={at}"),
                Some(&token),
                None,
            );
            if status != 200 {
                self.fail(format!("{when}: a pull since {at} answered {status}"));
                return;
            }
            let page: RecordsPage = match serde_json::from_slice(&body) {
                Ok(p) => p,
                Err(e) => return self.fail(format!("{when}: a page that does not parse: {e}")),
            };
            if let Err(e) = self.users[user].page(at, &page) {
                return self.fail(format!("{when} (user {user}): {e}"));
            }
            if page.done {
                return;
            }
            at = page.next;
        }
        self.fail(format!("{when}: pages never ended"));
    }

    pub fn limits(&mut self) -> Result<Limits, TransportError> {
        match self.fate(&[(Fate::Deliver, 95), (Fate::LoseRequest, 5)]) {
            Fate::LoseRequest => Err(lost("request lost")),
            _ => {
                let (status, body) = self.server.call(Method::GET, "/v1/limits", None, None);
                if status != 200 {
                    self.fail(format!("/v1/limits answered {status}"));
                    return Err(error_of(status, &body));
                }
                parse(&body)
            }
        }
    }

    fn saw(&mut self, device: usize, user: usize, records: &[RecordDownload]) {
        if let Some(s) = self.users[user].newest(records) {
            let e = self.read.entry(device).or_insert(s);
            *e = (*e).max(s);
        }
    }

    /// A page from the server, checked against the oracle and kept for stale replays.
    fn get_page(
        &mut self,
        user: usize,
        token: &str,
        since: i64,
    ) -> Result<RecordsPage, TransportError> {
        let (status, body) = self.server.call(
            Method::GET,
            &format!("/v1/records?since={since}"),
            Some(token),
            None,
        );
        if status != 200 {
            self.fail(format!("a pull since {since} answered {status}"));
            return Err(error_of(status, &body));
        }
        let page: RecordsPage = match serde_json::from_slice(&body) {
            Ok(p) => p,
            Err(e) => {
                self.fail(format!("a page that does not parse: {e}"));
                return Err(TransportError::Protocol(e.to_string()));
            }
        };
        if let Err(e) = self.users[user].page(since, &page) {
            self.fail(format!("user {user}: {e}"));
        }
        let pages = &mut self.users[user].pages;
        if pages.len() >= 32 {
            pages.remove(0);
        }
        pages.push((since, body));
        Ok(page)
    }

    pub fn pull(
        &mut self,
        device: usize,
        user: usize,
        token: &str,
        since: i64,
    ) -> Result<RecordsPage, TransportError> {
        let fate = self.fate(&[
            (Fate::Deliver, 85),
            (Fate::LoseRequest, 4),
            (Fate::LoseAnswer, 4),
            (Fate::Duplicate, 4),
            (Fate::StaleAnswer, 5),
            (Fate::CrashBefore, 1),
            (Fate::CrashAfter, 2),
        ]);
        self.log
            .push(format!("  dev{device} GET since={since}: {fate:?}"));
        match fate {
            Fate::LoseRequest => return Err(lost("request lost")),
            Fate::CrashBefore => {
                self.crash();
                return Err(lost("connection refused"));
            }
            Fate::StaleAnswer => {
                // An earlier answer to the same request (a stale cache). Not one for another
                // cursor: a page does not say which cursor it answers, so a device handed the
                // page after a later cursor would skip the records in between, and no
                // network that keeps answers apart from one another does that.
                let stale: Vec<Vec<u8>> = self.users[user]
                    .pages
                    .iter()
                    .filter(|(s, _)| *s == since)
                    .map(|(_, b)| b.clone())
                    .collect();
                if let Some(body) = self.rng.pick(&stale) {
                    let page: RecordsPage = parse(body)?;
                    self.saw(device, user, &page.records);
                    return Ok(page);
                }
            }
            _ => {}
        }
        let mut answer = self.get_page(user, token, since);
        if fate == Fate::Duplicate {
            answer = self.get_page(user, token, since);
        }
        match fate {
            Fate::LoseAnswer => Err(lost("connection reset")),
            Fate::CrashAfter => {
                self.crash();
                Err(lost("connection reset"))
            }
            _ => {
                let page = answer?;
                self.saw(device, user, &page.records);
                Ok(page)
            }
        }
    }

    /// Sends a batch to the server and takes in its answer.
    fn deliver_push(&mut self, user: usize, token: &str, batch: &[RecordUpload]) -> (u16, Vec<u8>) {
        let body = serde_json::to_vec(&PostRecordsRequest {
            records: batch.to_vec(),
        })
        .expect("records serialise");
        let (status, answer) = self.server.call(
            Method::POST,
            "/v1/records",
            Some(token),
            Some(Body::from(body)),
        );
        let ids = batch.iter().map(|r| r.id.clone()).collect();
        match status {
            200 => match serde_json::from_slice::<PostRecordsResponse>(&answer) {
                Ok(r) => {
                    if let Err(e) = self.users[user].accepted(batch, &r.accepted) {
                        self.fail(format!("user {user}: {e}"));
                    }
                }
                Err(e) => self.fail(format!("an acknowledgement that does not parse: {e}")),
            },
            409 => match serde_json::from_slice::<ConflictResponse>(&answer) {
                Ok(c) => {
                    for r in &c.current {
                        if let Err(e) = self.users[user].current(r) {
                            self.fail(format!("user {user}, in a conflict: {e}"));
                        }
                    }
                }
                Err(e) => self.fail(format!("a conflict that does not parse: {e}")),
            },
            s => self.fail(format!(
                "an upload answered {s}: {}",
                String::from_utf8_lossy(&answer)
            )),
        }
        let answers = &mut self.users[user].answers;
        if answers.len() >= 32 {
            answers.remove(0);
        }
        answers.push((status, answer.clone(), ids));
        (status, answer)
    }

    fn cut(&mut self, user: usize, token: &str, batch: &[RecordUpload], stream: bool) {
        let body = serde_json::to_vec(&PostRecordsRequest {
            records: batch.to_vec(),
        })
        .expect("records serialise");
        let at = self.rng.below(body.len() as u64) as usize;
        let part = Bytes::copy_from_slice(&body[..at]);
        let req = if stream {
            Body::from_stream(futures::stream::iter(vec![
                Ok(part),
                Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "the connection was cut",
                )),
            ]))
        } else {
            Body::from(part)
        };
        let before = self.users[user].max_seq;
        let (status, answer) =
            self.server
                .call(Method::POST, "/v1/records", Some(token), Some(req));
        self.log.push(format!(
            "    cut at byte {at} of {}: answered {status}",
            body.len()
        ));
        if (200..300).contains(&status) || status == 409 {
            self.fail(format!(
                "a request cut at byte {at} of {} was answered {status}: {}",
                body.len(),
                String::from_utf8_lossy(&answer)
            ));
        }
        // Nothing stored: no record after what was acknowledged before.
        self.audit(user, before, "after a cut request");
    }

    fn reply(
        &mut self,
        device: usize,
        user: usize,
        status: u16,
        body: &[u8],
    ) -> Result<PushReply, TransportError> {
        match status {
            200..=299 => Ok(PushReply::Accepted(
                parse::<PostRecordsResponse>(body)?.accepted,
            )),
            409 => {
                let current = parse::<ConflictResponse>(body)?.current;
                self.saw(device, user, &current);
                Ok(PushReply::Conflict(current))
            }
            _ => Err(error_of(status, body)),
        }
    }

    pub fn push(
        &mut self,
        device: usize,
        user: usize,
        token: &str,
        batch: &[RecordUpload],
    ) -> Result<PushReply, TransportError> {
        let fate = self.fate(&[
            (Fate::Deliver, 72),
            (Fate::LoseRequest, 4),
            (Fate::LoseAnswer, 6),
            (Fate::Duplicate, 5),
            (Fate::Late, 5),
            (Fate::Truncate, 4),
            (Fate::CutStream, 2),
            (Fate::StaleAnswer, 4),
            (Fate::CrashBefore, 1),
            (Fate::CrashAfter, 3),
        ]);
        self.log.push(format!(
            "  dev{device} POST {} records: {fate:?}",
            batch.len()
        ));
        match fate {
            Fate::LoseRequest => return Err(lost("request lost")),
            Fate::CrashBefore => {
                self.crash();
                return Err(lost("connection refused"));
            }
            Fate::Late => {
                self.held.push(Held {
                    user,
                    token: token.to_string(),
                    batch: batch.to_vec(),
                });
                return Err(lost("the server did not answer in time"));
            }
            Fate::Truncate | Fate::CutStream => {
                self.cut(user, token, batch, fate == Fate::CutStream);
                return Err(lost("the connection was cut off"));
            }
            Fate::StaleAnswer => {
                // Not an acknowledgement of this very batch: with no id in a request the
                // protocol cannot tell one apart from a fresh answer, so no network may give
                // that (see the module's documentation).
                let ids: BTreeSet<String> = batch.iter().map(|r| r.id.clone()).collect();
                let stale: Vec<(u16, Vec<u8>)> = self.users[user]
                    .answers
                    .iter()
                    .filter(|(s, _, acked)| *s == 409 || !ids.is_subset(acked))
                    .map(|(s, b, _)| (*s, b.clone()))
                    .collect();
                if let Some((status, body)) = self.rng.pick(&stale).cloned() {
                    return self.reply(device, user, status, &body);
                }
            }
            _ => {}
        }
        let (mut status, mut body) = self.deliver_push(user, token, batch);
        if fate == Fate::Duplicate {
            let second = self.deliver_push(user, token, batch);
            if self.rng.chance(0.5) {
                (status, body) = second;
            }
        }
        match fate {
            Fate::LoseAnswer => Err(lost("connection reset")),
            Fate::CrashAfter => {
                self.crash();
                Err(lost("connection reset"))
            }
            _ => self.reply(device, user, status, &body),
        }
    }

    pub fn held(&self) -> usize {
        self.held.len()
    }

    /// Delivers one request the network held (the oldest or a random one).
    pub fn deliver_held(&mut self) {
        if self.held.is_empty() {
            return;
        }
        let i = self.rng.below(self.held.len() as u64) as usize;
        let h = self.held.remove(i);
        let (status, _) = self.deliver_push(h.user, &h.token, &h.batch);
        self.log.push(format!(
            "  late upload of {} records (user {}) delivered: {status}",
            h.batch.len(),
            h.user
        ));
    }
}

/// A device's transport: real requests through the [`Net`].
pub struct Link<'n> {
    pub net: &'n std::cell::RefCell<Net>,
    pub device: usize,
    pub user: usize,
    /// This device's session.
    pub token: String,
}

impl Transport for Link<'_> {
    fn limits(&mut self) -> Result<Limits, TransportError> {
        self.net.borrow_mut().limits()
    }

    fn pull(&mut self, since: i64) -> Result<RecordsPage, TransportError> {
        self.net
            .borrow_mut()
            .pull(self.device, self.user, &self.token, since)
    }

    fn push(&mut self, batch: &[RecordUpload]) -> Result<PushReply, TransportError> {
        self.net
            .borrow_mut()
            .push(self.device, self.user, &self.token, batch)
    }
}
