//! Sync benchmarks, each against a baseline measured in the same run:
//! - records accepted per second: the server over HTTP and its storage alone, against a raw
//!   rusqlite batched insert of the same blobs with the same durability (WAL, synchronous=FULL);
//! - p50/p99 latency of uploads and pulls with 64 devices at once on loopback;
//! - the same on PostgreSQL (a throwaway cluster with fsync on, started by the bench), against
//!   a raw batched insert of the same rows with the `postgres` client.
//!
//! The payloads are opaque bytes, as the server sees them (the encryption's own benchmark is
//! `cargo bench -p strideguard-core --bench crypto`).
//!
//! Run: `cargo bench -p strideguard-server --bench sync`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use rusqlite::params;
use serde_json::json;
use strideguard_proto::clock::SystemClock;
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

fn post(a: &ureq::Agent, url: &str, token: &str, batch: &[RecordUpload]) -> Duration {
    let body = serde_json::to_vec(&json!({ "records": batch })).unwrap();
    let start = Instant::now();
    let r = a
        .post(format!("{url}/v1/records"))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .send(&body[..])
        .unwrap();
    assert_eq!(r.status(), 200);
    start.elapsed()
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
        post(&a, &url, &token, b);
    }
    (batches.len() * BATCH) as f64 / start.elapsed().as_secs_f64()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn concurrent_devices(storage: Option<Arc<dyn Storage>>, devices: usize, rounds: usize) {
    let (_dir, s) = server(storage);
    let url = s.url();
    let tokens: Vec<String> = (0..devices)
        .map(|i| account(&url, &format!("dev{i}")))
        .collect();
    let start = Instant::now();
    let threads: Vec<_> = tokens
        .into_iter()
        .map(|token| {
            let url = url.clone();
            std::thread::spawn(move || {
                let a = agent();
                let mut up = Vec::new();
                let mut down = Vec::new();
                for _ in 0..rounds {
                    up.push(post(&a, &url, &token, &uploads(10)));
                    let t = Instant::now();
                    let r = a
                        .get(format!("{url}/v1/records?since=0&limit=50"))
                        .header("authorization", format!("Bearer {token}"))
                        .call()
                        .unwrap();
                    assert_eq!(r.status(), 200);
                    down.push(t.elapsed());
                }
                (up, down)
            })
        })
        .collect();
    let (mut up, mut down) = (Vec::new(), Vec::new());
    for t in threads {
        let (u, d) = t.join().unwrap();
        up.extend(u);
        down.extend(d);
    }
    let wall = start.elapsed().as_secs_f64();
    up.sort();
    down.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{devices} devices x {rounds} rounds (upload 10 records, then pull 50) on loopback: {:.0} requests/s",
        (up.len() + down.len()) as f64 / wall
    );
    println!(
        "  upload  p50 {:7.2} ms  p99 {:7.2} ms",
        ms(percentile(&up, 0.5)),
        ms(percentile(&up, 0.99))
    );
    println!(
        "  pull    p50 {:7.2} ms  p99 {:7.2} ms",
        ms(percentile(&down, 0.5)),
        ms(percentile(&down, 0.99))
    );
}

fn main() {
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
    concurrent_devices(None, 64, 20);

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
    concurrent_devices(Some(open()), 64, 20);
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
    concurrent_devices(Some(standby("devices")), 64, 20);
}
