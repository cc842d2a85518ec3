//! Sync benchmarks, each against a baseline measured in the same run:
//! - records accepted per second: the server over HTTP and its storage alone, against a raw
//!   rusqlite batched insert of the same blobs with the same durability (WAL, synchronous=FULL);
//! - p50/p99 latency of uploads and pulls with 64 devices at once on loopback, on both records
//!   wires, back to back and paced, against the same devices' work done straight on SQLite;
//! - the same on PostgreSQL (a throwaway cluster with fsync on, started by the bench), against
//!   a raw batched insert of the same rows with the `postgres` client.
//!
//! The payloads are opaque bytes, as the server sees them (the encryption's own benchmark is
//! `cargo bench -p strideguard-core --bench crypto`).
//!
//! Run: `cargo bench -p strideguard-server --bench sync` (`SYNC_BENCH=devices` runs only the
//! devices on SQLite, without PostgreSQL).

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use rusqlite::params;
use serde_json::json;
use strideguard_proto::clock::SystemClock;
use strideguard_proto::frames;
use strideguard_proto::wire::RecordUpload;
use strideguard_server::testing::{TempFormation, TempPostgres};
use strideguard_server::{PostgresStorage, RunningServer, ServerConfig, SqliteStorage, Storage};

const RECORD: usize = 1024 + 29;
const BATCH: usize = 100;
const BATCHES: usize = 60;

fn uploads(n: usize) -> Vec<RecordUpload> {
    (0..n)
        .map(|i| RecordUpload {
            collection: "c".repeat(64),
            id: uuid::Uuid::new_v4().to_string(),
            if_seq: Some(0),
            deleted: false,
            payload: vec![(i % 251) as u8; RECORD],
        })
        .collect()
}

fn raw_rusqlite(batches: &[Vec<RecordUpload>]) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = rusqlite::Connection::open(dir.path().join("raw.db")).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", "FULL").unwrap();
    conn.execute_batch(
        "CREATE TABLE records (user_id INTEGER, collection TEXT, id TEXT, seq INTEGER,
         deleted INTEGER, payload BLOB, PRIMARY KEY (user_id, collection, id))",
    )
    .unwrap();
    let start = Instant::now();
    let mut seq = 0;
    for batch in batches {
        let tx = conn.transaction().unwrap();
        {
            let mut stmt = tx
                .prepare_cached("INSERT INTO records VALUES (1, ?1, ?2, ?3, 0, ?4)")
                .unwrap();
            for r in batch {
                seq += 1;
                stmt.execute(params![r.collection, r.id, seq, r.payload])
                    .unwrap();
            }
        }
        tx.commit().unwrap();
    }
    (batches.len() * BATCH) as f64 / start.elapsed().as_secs_f64()
}

/// The same rows inserted by hand into PostgreSQL, a transaction per batch, one `unnest`
/// statement each: the floor under the storage's own work.
fn raw_postgres(url: &str, batches: &[Vec<RecordUpload>]) -> f64 {
    let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
    c.batch_execute(
        "CREATE TABLE raw_records (user_id BIGINT, collection TEXT, id TEXT, seq BIGINT,
         deleted BOOLEAN, payload BYTEA, PRIMARY KEY (user_id, collection, id))",
    )
    .unwrap();
    let start = Instant::now();
    let mut seq = 0i64;
    for batch in batches {
        let mut tx = c.transaction().unwrap();
        let col: Vec<&str> = batch.iter().map(|r| r.collection.as_str()).collect();
        let id: Vec<&str> = batch.iter().map(|r| r.id.as_str()).collect();
        let seqs: Vec<i64> = batch
            .iter()
            .map(|_| {
                seq += 1;
                seq
            })
            .collect();
        let payload: Vec<&[u8]> = batch.iter().map(|r| r.payload.as_slice()).collect();
        tx.execute(
            "INSERT INTO raw_records SELECT 1, b.c, b.i, b.s, false, b.p
             FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bytea[]) AS b(c, i, s, p)",
            &[&col, &id, &seqs, &payload],
        )
        .unwrap();
        tx.commit().unwrap();
    }
    (batches.len() * BATCH) as f64 / start.elapsed().as_secs_f64()
}

fn storage_only(batches: &[Vec<RecordUpload>]) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    storage_rate(&SqliteStorage::open(dir.path()).unwrap(), batches)
}

fn storage_rate(st: &dyn Storage, batches: &[Vec<RecordUpload>]) -> f64 {
    let user = st
        .create_user(&strideguard_server::storage::NewUser {
            username: "bench".into(),
            auth_salt: vec![0; 16],
            auth_hash: vec![0; 32],
            kdf_iterations: 1000,
            wrapped_key: vec![0; 61],
            now_ms: 0,
        })
        .unwrap();
    let device = st
        .add_device_session(&strideguard_server::storage::NewDevice {
            user_id: user,
            name: "bench".into(),
            now_ms: 0,
            created_by: None,
            max_devices: 1,
            token_hash: vec![0; 32],
            expires_at_ms: i64::MAX,
        })
        .unwrap();
    let start = Instant::now();
    for b in batches {
        st.put_records(user, &device, b.clone(), 1, u64::MAX)
            .unwrap();
    }
    (batches.len() * BATCH) as f64 / start.elapsed().as_secs_f64()
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .new_agent()
}

/// Registers `name` and returns a bearer token.
fn account(url: &str, name: &str) -> String {
    let b64 = |n: usize| base64::engine::general_purpose::STANDARD.encode(vec![7u8; n]);
    let a = agent();
    let r = a
        .post(format!("{url}/v1/accounts"))
        .send_json(
            json!({"username": name, "auth_key": b64(32), "kdf": {"iterations": 1000},
                          "wrapped_key": b64(61)}),
        )
        .unwrap();
    assert_eq!(r.status(), 201);
    let mut r = a
        .post(format!("{url}/v1/sessions"))
        .send_json(json!({"username": name, "auth_key": b64(32), "device_name": "bench"}))
        .unwrap();
    let v: serde_json::Value = r.body_mut().read_json().unwrap();
    v["token"].as_str().unwrap().to_string()
}

/// The records wire a device speaks: `/v1` JSON with base64 payloads, or `/v2` frames (what
/// this release's devices use).
#[derive(Clone, Copy)]
enum Wire {
    Json,
    Frames,
}

impl Wire {
    fn name(self) -> &'static str {
        match self {
            Wire::Json => "JSON (/v1)",
            Wire::Frames => "frames (/v2)",
        }
    }
}

/// Uploads `batch` as a device does, checking the answer; the time is the request's alone
/// (the body is encoded before the clock starts).
fn post(a: &ureq::Agent, url: &str, token: &str, batch: &[RecordUpload], wire: Wire) -> Duration {
    let (path, media, body) = match wire {
        Wire::Json => (
            "v1",
            "application/json",
            serde_json::to_vec(&json!({ "records": batch })).unwrap(),
        ),
        Wire::Frames => (
            "v2",
            frames::CONTENT_TYPE,
            frames::encode_upload(batch).unwrap(),
        ),
    };
    let start = Instant::now();
    let mut r = a
        .post(format!("{url}/{path}/records"))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", media)
        .send(&body[..])
        .unwrap();
    assert_eq!(r.status(), 200);
    // Read to the end, so the connection goes back to the agent for the next request.
    r.body_mut().read_to_vec().unwrap();
    start.elapsed()
}

/// Pulls a page of `limit` records as a device does; returns the time until the whole page
/// arrived (decoding it, which takes longer for JSON, comes after) and how many records came.
fn pull(a: &ureq::Agent, url: &str, token: &str, limit: usize, wire: Wire) -> (Duration, usize) {
    let path = match wire {
        Wire::Json => "v1",
        Wire::Frames => "v2",
    };
    let start = Instant::now();
    let mut r = a
        .get(format!("{url}/{path}/records?since=0&limit={limit}"))
        .header("authorization", format!("Bearer {token}"))
        .call()
        .unwrap();
    assert_eq!(r.status(), 200);
    let body = r
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_vec()
        .unwrap();
    let took = start.elapsed();
    let n = match wire {
        Wire::Json => {
            let page: strideguard_proto::wire::RecordsPage = serde_json::from_slice(&body).unwrap();
            page.records.len()
        }
        Wire::Frames => frames::decode_page(&body, 1 << 20).unwrap().records.len(),
    };
    (took, n)
}

fn server(storage: Option<Arc<dyn Storage>>) -> (tempfile::TempDir, RunningServer) {
    let dir = tempfile::tempdir().unwrap();
    let storage = storage.unwrap_or_else(|| Arc::new(SqliteStorage::open(dir.path()).unwrap()));
    let mut config = ServerConfig::default();
    config.limits.min_kdf_iterations = 1000;
    config.limits.logins_per_minute_per_ip = 10_000;
    config.limits.requests_per_minute_per_user = 1_000_000;
    let s = RunningServer::start(
        "127.0.0.1:0".parse().unwrap(),
        storage,
        config,
        Arc::new(SystemClock),
    )
    .unwrap();
    (dir, s)
}

fn over_http(storage: Option<Arc<dyn Storage>>, batches: &[Vec<RecordUpload>]) -> f64 {
    let (_dir, s) = server(storage);
    let url = s.url();
    let token = account(&url, "bench");
    let a = agent();
    let start = Instant::now();
    for b in batches {
        post(&a, &url, &token, b, Wire::Json);
    }
    (batches.len() * BATCH) as f64 / start.elapsed().as_secs_f64()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Latencies of one kind of request, sorted.
struct Latencies(Vec<Duration>);

impl Latencies {
    fn new(mut all: Vec<Duration>) -> Latencies {
        all.sort();
        Latencies(all)
    }

    fn ms(&self, p: f64) -> f64 {
        percentile(&self.0, p).as_secs_f64() * 1000.0
    }
}

/// What the devices saw: requests per second over the run, and each kind's latencies.
struct Devices {
    per_s: f64,
    up: Latencies,
    down: Latencies,
}

/// Runs `devices` threads, each `rounds` times running `round` (which returns its upload and
/// pull times), all started together: back to back when `every` is `None` (a closed loop: as
/// many requests in flight as devices, so the latency is the queue), else each device starting
/// a round every `every`, the devices' starts spread evenly over it (an open loop: the latency
/// is the service time at that offered load, as a server with devices syncing now and then
/// sees it).
fn devices_run(
    devices: usize,
    rounds: usize,
    every: Option<Duration>,
    round: impl Fn(usize) -> (Duration, Duration) + Send + Sync + 'static,
) -> Devices {
    let round = Arc::new(round);
    let start_line = Arc::new(std::sync::Barrier::new(devices + 1));
    let threads: Vec<_> = (0..devices)
        .map(|d| {
            let (round, start_line) = (round.clone(), start_line.clone());
            std::thread::spawn(move || {
                start_line.wait();
                let start = Instant::now();
                (0..rounds)
                    .map(|i| {
                        // A round that starts behind its schedule (the previous one took longer
                        // than `every`) counts its lateness in its upload's time, as a device
                        // would see it.
                        let late = match every {
                            Some(every) => {
                                let at = every * i as u32 + every * d as u32 / devices as u32;
                                std::thread::sleep(at.saturating_sub(start.elapsed()));
                                start.elapsed().saturating_sub(at)
                            }
                            None => Duration::ZERO,
                        };
                        let (up, down) = round(d);
                        (up + late, down)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    start_line.wait();
    let start = Instant::now();
    let (mut up, mut down) = (Vec::new(), Vec::new());
    for t in threads {
        for (u, d) in t.join().unwrap() {
            up.push(u);
            down.push(d);
        }
    }
    let wall = start.elapsed().as_secs_f64();
    Devices {
        per_s: (up.len() + down.len()) as f64 / wall,
        up: Latencies::new(up),
        down: Latencies::new(down),
    }
}

/// 64 devices through the server: each uploads 10 records, then pulls 50.
fn concurrent_devices(
    storage: Option<Arc<dyn Storage>>,
    devices: usize,
    rounds: usize,
    every: Option<Duration>,
    wire: Wire,
) -> Devices {
    let (_dir, s) = server(storage);
    let url = s.url();
    let tokens: Arc<Vec<String>> = Arc::new(
        (0..devices)
            .map(|i| account(&url, &format!("dev{i}")))
            .collect(),
    );
    let agents: Arc<Vec<ureq::Agent>> = Arc::new((0..devices).map(|_| agent()).collect());
    devices_run(devices, rounds, every, move |d| {
        let (a, token) = (&agents[d], &tokens[d]);
        let up = post(a, &url, token, &uploads(10), wire);
        let (down, n) = pull(a, &url, token, 50, wire);
        assert!(n > 0, "the pull brings the device's records");
        (up, down)
    })
}

/// The floor under [`concurrent_devices`]: the same devices' work straight on one SQLite file
/// in this process, with the server's durability (WAL, synchronous=FULL) and SQLite's own
/// automatic checkpoint. Each upload is its own transaction on the one writing connection
/// (SQLite has one writer; a mutex, not first come first served, queues them instead of
/// SQLite's sleeping busy handler); each pull reads 50 rows on the device's own reading
/// connection.
fn raw_devices(devices: usize, rounds: usize, every: Option<Duration>) -> Devices {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("raw.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", "FULL").unwrap();
    conn.execute_batch(
        "CREATE TABLE records (user_id INTEGER, collection TEXT, id TEXT, seq INTEGER,
         deleted INTEGER, payload BLOB, PRIMARY KEY (user_id, collection, id));
         CREATE UNIQUE INDEX records_by_seq ON records (user_id, seq);",
    )
    .unwrap();
    let writer = Arc::new(std::sync::Mutex::new((conn, 0i64)));
    let readers: Arc<Vec<std::sync::Mutex<rusqlite::Connection>>> = Arc::new(
        (0..devices)
            .map(|_| std::sync::Mutex::new(rusqlite::Connection::open(&path).unwrap()))
            .collect(),
    );
    let run = devices_run(devices, rounds, every, move |d| {
        let batch = uploads(10);
        let start = Instant::now();
        {
            let mut w = writer.lock().unwrap();
            let (conn, seq) = &mut *w;
            let tx = conn.transaction().unwrap();
            {
                let mut stmt = tx
                    .prepare_cached("INSERT INTO records VALUES (?1, ?2, ?3, ?4, 0, ?5)")
                    .unwrap();
                for r in &batch {
                    *seq += 1;
                    stmt.execute(params![d as i64, r.collection, r.id, *seq, r.payload])
                        .unwrap();
                }
            }
            tx.commit().unwrap();
        }
        let up = start.elapsed();
        let start = Instant::now();
        let reader = readers[d].lock().unwrap();
        let mut stmt = reader
            .prepare_cached(
                "SELECT collection, id, seq, deleted, payload FROM records
                 WHERE user_id = ?1 AND seq > 0 ORDER BY seq LIMIT 50",
            )
            .unwrap();
        let n = stmt
            .query_map([d as i64], |r| r.get::<_, Vec<u8>>(4))
            .unwrap()
            .count();
        assert!(n > 0);
        (up, start.elapsed())
    });
    drop(dir);
    run
}

fn print_devices(what: &str, run: &Devices, base: Option<&Devices>) {
    let vs = |f: fn(&Devices) -> f64| match base {
        Some(b) => format!("  {:5.1}x", f(run) / f(b)),
        None => String::new(),
    };
    println!("  {what}: {:6.0} requests/s", run.per_s);
    println!(
        "    upload  p50 {:7.2} ms{}  p99 {:7.2} ms{}",
        run.up.ms(0.5),
        vs(|d| d.up.ms(0.5)),
        run.up.ms(0.99),
        vs(|d| d.up.ms(0.99)),
    );
    println!(
        "    pull    p50 {:7.2} ms{}  p99 {:7.2} ms{}",
        run.down.ms(0.5),
        vs(|d| d.down.ms(0.5)),
        run.down.ms(0.99),
        vs(|d| d.down.ms(0.99)),
    );
}

/// 64 devices at once, each uploading 10 records then pulling 50, through the server on both
/// wires against the raw SQLite floor of the same run: first as fast as answers come (a closed
/// loop), then paced at a round every 200 ms per device (320 uploads and 320 pulls a second).
fn devices_on_sqlite() {
    const DEVICES: usize = 64;
    const ROUNDS: usize = 20;
    for every in [None, Some(Duration::from_millis(200))] {
        match every {
            None => println!(
                "{DEVICES} devices x {ROUNDS} rounds at once, back to back (upload 10 records, then pull 50), SQLite, loopback:"
            ),
            Some(e) => println!(
                "{DEVICES} devices x {ROUNDS} rounds, each device a round every {} ms, SQLite, loopback:",
                e.as_millis()
            ),
        }
        let raw = raw_devices(DEVICES, ROUNDS, every);
        print_devices("raw rusqlite, same work (baseline)", &raw, None);
        for wire in [Wire::Frames, Wire::Json] {
            let run = concurrent_devices(None, DEVICES, ROUNDS, every, wire);
            print_devices(&format!("server, {}", wire.name()), &run, Some(&raw));
        }
    }
}

fn devices_elsewhere(storage: Arc<dyn Storage>) {
    let run = concurrent_devices(Some(storage), 64, 20, None, Wire::Frames);
    print_devices("64 devices x 20 rounds at once, frames (/v2)", &run, None);
}

fn main() {
    if std::env::var("SYNC_BENCH").is_ok_and(|v| v == "devices") {
        devices_on_sqlite();
        return;
    }
    let batches: Vec<Vec<RecordUpload>> = (0..BATCHES).map(|_| uploads(BATCH)).collect();
    let raw = raw_rusqlite(&batches);
    let storage = storage_only(&batches);
    let http = over_http(None, &batches);
    println!(
        "Accepting {BATCHES} batches of {BATCH} records of {RECORD} bytes (WAL, synchronous=FULL):"
    );
    println!("  raw rusqlite batched insert  {raw:8.0} records/s (baseline)");
    println!(
        "  server storage (put_records) {storage:8.0} records/s  {:.2}x",
        storage / raw
    );
    println!(
        "  server over HTTP (loopback)  {http:8.0} records/s  {:.2}x",
        http / raw
    );
    devices_on_sqlite();

    let pg = TempPostgres::start_durable().expect("PostgreSQL starts (see .ci/run)");
    let raw = raw_postgres(&pg.create_database(), &batches);
    let open = || -> Arc<dyn Storage> {
        Arc::new(PostgresStorage::connect(&pg.create_database()).unwrap())
    };
    let storage = storage_rate(&*open(), &batches);
    let http = over_http(Some(open()), &batches);
    println!("The same on PostgreSQL (fsync on, synchronous_commit on, loopback):");
    println!("  raw batched insert (postgres) {raw:8.0} records/s (baseline)");
    println!(
        "  server storage (put_records) {storage:8.0} records/s  {:.2}x",
        storage / raw
    );
    println!(
        "  server over HTTP (loopback)  {http:8.0} records/s  {:.2}x",
        http / raw
    );
    devices_elsewhere(open());
    drop(pg);

    // A primary with a synchronous standby (pg_auto_failover): every commit waits for the
    // standby to have it on disk too. The same primary with `synchronous_commit = local` (the
    // commit waits for its own disk only) is the baseline: the ratio is the standby's cost.
    let formation = TempFormation::start().expect("pg_auto_failover starts (see .ci/run)");
    let local = |db: &str| -> Arc<dyn Storage> {
        let url = formation.create_database(db).unwrap();
        let url = format!("{url}&options=-c%20synchronous_commit%3Dlocal");
        Arc::new(PostgresStorage::connect(&url).unwrap())
    };
    let standby = |db: &str| -> Arc<dyn Storage> {
        Arc::new(PostgresStorage::connect(&formation.create_database(db).unwrap()).unwrap())
    };
    let alone = storage_rate(&*local("alone"), &batches);
    let synced = storage_rate(&*standby("synced"), &batches);
    println!("A primary with a synchronous standby (pg_auto_failover, both on this machine):");
    println!("  server storage, primary alone   {alone:8.0} records/s (baseline)");
    println!(
        "  server storage, standby in sync {synced:8.0} records/s  {:.2}x",
        synced / alone
    );
    devices_elsewhere(standby("devices"));
}
