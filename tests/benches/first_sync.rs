//! First sync of a whole history, over a real server on loopback (SQLite, fsync on), for the
//! 16-week demo history and a synthetic 10-year one (500 runs a year, 4,000 samples a run with
//! a watch's noise in them: 5,000 runs and 20 million samples). For each, and for each records
//! wire (1: JSON with base64 payloads; 2: frames with compressed, Padmé-padded records), it
//! prints in one run:
//! - bytes on the wire up and down (counted by a proxy in front of the server), against the
//!   client's store on disk;
//! - the server's storage bytes after a checkpoint, against the same;
//! - the upload time against a raw rusqlite insert of the same ciphertext (the server's
//!   durability: WAL, synchronous=FULL, one transaction per `batch_records` rows), and the
//!   new device's download and apply against a raw read of those rows.
//!
//! `cargo bench -p strideguard-tests --bench first_sync`; `FIRST_SYNC_YEARS=2` for a smaller
//! long history, `FIRST_SYNC_V1=0` to skip the JSON wire on it.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Days, NaiveDate};
use strideguard_core::Store;
use strideguard_core::cancel::Cancel;
use strideguard_core::crypto::{DataKey, KdfParams};
use strideguard_core::demo::history;
use strideguard_core::model::{Run, RunKind, Sample, Shoe};
use strideguard_core::sync::SyncSummary;
use strideguard_core::sync::account::{login, register};
use strideguard_core::sync::http::HttpClient;
use strideguard_core::sync::sync;
use strideguard_proto::clock::SystemClock;
use strideguard_proto::frames;
use strideguard_server::{RunningServer, ServerConfig, SqliteStorage};
use uuid::Uuid;

const FAST: KdfParams = KdfParams { iterations: 1_000 };
const PASS: &str = "correct horse battery staple";

/// Counts the bytes each way between clients and the server.
struct CountingProxy {
    url: String,
    up: Arc<AtomicU64>,
    down: Arc<AtomicU64>,
}

impl CountingProxy {
    fn start(backend: &str) -> CountingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let backend = backend.trim_start_matches("http://").to_string();
        let (up, down) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let (u, d) = (up.clone(), down.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(client) = conn else { return };
                let Ok(server) = TcpStream::connect(&backend) else {
                    return;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let pipe = |mut from: TcpStream, mut to: TcpStream, n: Arc<AtomicU64>| {
                    std::thread::spawn(move || {
                        let mut buf = vec![0u8; 256 * 1024];
                        while let Ok(k) = from.read(&mut buf) {
                            if k == 0 || to.write_all(&buf[..k]).is_err() {
                                break;
                            }
                            n.fetch_add(k as u64, Ordering::Relaxed);
                        }
                        let _ = to.shutdown(std::net::Shutdown::Write);
                    })
                };
                pipe(
                    client.try_clone().unwrap(),
                    server.try_clone().unwrap(),
                    u.clone(),
                );
                pipe(server, client, d.clone());
            }
        });
        CountingProxy { url, up, down }
    }

    fn take(&self) -> (u64, u64) {
        (
            self.up.swap(0, Ordering::SeqCst),
            self.down.swap(0, Ordering::SeqCst),
        )
    }
}

/// A run with a watch's noise: heart rate, cadence, altitude and GPS wander.
fn run_at(i: usize, day: NaiveDate, shoe: Uuid, n: usize) -> (Run, Vec<Sample>) {
    let start = DateTime::parse_from_rfc3339(&format!("{day}T07:00:00+01:00")).unwrap();
    let speed = 2.8 + (i % 7) as f64 * 0.1;
    let mut run = Run::new(Uuid::new_v4(), start, speed * n as f64, n as f64);
    run.kind = if i.is_multiple_of(5) {
        RunKind::Tempo
    } else {
        RunKind::Easy
    };
    run.rpe = Some(3 + (i % 5) as u8);
    run.avg_hr_bpm = Some(145.0);
    run.avg_cadence_spm = Some(168.0 + (i % 9) as f64);
    run.shoe_id = Some(shoe);
    let mut x = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut noise = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let (mut lat, mut lon, mut alt, mut dist) = (52.5, 13.4, 35.0, 0.0);
    let samples = (0..n)
        .map(|t| {
            let v = speed + noise() * 0.4;
            dist += v;
            lat += v * 6e-6 + noise() * 2e-6;
            lon += noise() * 4e-6;
            alt += noise() * 0.6;
            Sample {
                t_s: t as f64,
                lat_deg: Some(lat),
                lon_deg: Some(lon),
                altitude_m: Some(alt),
                distance_m: Some(dist),
                speed_mps: Some(v),
                hr_bpm: Some((145.0 + noise() * 12.0) as u8),
                cadence_spm: Some((170.0 + noise() * 6.0).round()),
                ..Sample::default()
            }
        })
        .collect();
    (run, samples)
}

fn long_history(store: &mut Store, years: usize) {
    let end = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
    let shoe = Shoe::new(Uuid::new_v4(), "Daily");
    store.add_shoe(&shoe).unwrap();
    let days = years * 365;
    let total = years * 500;
    for i in 0..total {
        let day = end - Days::new((days - i * days / total) as u64);
        let (run, samples) = run_at(i, day, shoe.id, 4_000);
        store.add_run(&run, &samples).unwrap();
    }
}

/// A file's bytes with its write-ahead log, after a checkpoint.
fn db_bytes(path: &Path) -> u64 {
    if let Ok(c) = rusqlite::Connection::open(path) {
        let _ = c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
    }
    ["", "-wal"]
        .iter()
        .filter_map(|ext| std::fs::metadata(format!("{}{ext}", path.display())).ok())
        .map(|m| m.len())
        .sum()
}

fn mb(b: u64) -> f64 {
    b as f64 / 1e6
}

struct Figures {
    client: u64,
    up: (u64, u64),
    down: (u64, u64),
    server: u64,
    upload: Duration,
    download: Duration,
    raw_insert: Duration,
    raw_read: Duration,
}

/// The raw floor: the ciphertext rows the server holds, inserted into and read from a
/// bare table with the server's durability.
fn raw_sqlite(rows: &[(String, String, Vec<u8>)], batch: usize) -> (Duration, Duration) {
    let dir = tempfile::tempdir().unwrap();
    let mut c = rusqlite::Connection::open(dir.path().join("raw.db")).unwrap();
    c.pragma_update(None, "journal_mode", "WAL").unwrap();
    c.pragma_update(None, "synchronous", "FULL").unwrap();
    c.execute_batch(
        "CREATE TABLE records (user_id INTEGER, collection TEXT, id TEXT, seq INTEGER,
         deleted INTEGER, payload BLOB, PRIMARY KEY (user_id, collection, id))",
    )
    .unwrap();
    let start = Instant::now();
    for (k, chunk) in rows.chunks(batch).enumerate() {
        let tx = c.transaction().unwrap();
        {
            let mut stmt = tx
                .prepare_cached("INSERT INTO records VALUES (1, ?1, ?2, ?3, 0, ?4)")
                .unwrap();
            for (j, (col, id, p)) in chunk.iter().enumerate() {
                stmt.execute(rusqlite::params![col, id, (k * batch + j) as i64, p])
                    .unwrap();
            }
        }
        tx.commit().unwrap();
    }
    let insert = start.elapsed();
    let start = Instant::now();
    let mut total = 0usize;
    let mut stmt = c
        .prepare("SELECT collection, id, seq, payload FROM records ORDER BY seq")
        .unwrap();
    let mut q = stmt.query([]).unwrap();
    while let Some(r) = q.next().unwrap() {
        total += r.get_ref(3).unwrap().as_blob().unwrap().len();
    }
    std::hint::black_box(total);
    (insert, start.elapsed())
}

fn sync_over(store: &mut Store, url: &str, wire: u8) -> SyncSummary {
    let account = store.sync_account().unwrap().unwrap();
    let key = DataKey::from_bytes(account.data_key);
    let mut t = HttpClient::new(url)
        .unwrap()
        .with_wire_version(wire)
        .transport(&account.token);
    let cell = std::cell::RefCell::new(store);
    let s = sync(&cell, &key, &mut t, &mut |_| {}, &Cancel::new()).unwrap();
    assert!(s.rejected.is_empty(), "{:?}", s.rejected);
    s
}

/// Uploads `source` (a copy of the client's store) to a fresh server and downloads it to a
/// new device, over records wire `wire`.
fn first_sync(source: &Path, wire: u8, name: &str) -> Figures {
    let dir = tempfile::tempdir().unwrap();
    let client_path = dir.path().join("client.db");
    std::fs::copy(source, &client_path).unwrap();
    let client = db_bytes(&client_path);
    let mut store = Store::open(&client_path).unwrap();
    let server_dir = dir.path().join("server");
    std::fs::create_dir_all(&server_dir).unwrap();
    let mut config = ServerConfig::default();
    config.limits.min_kdf_iterations = FAST.iterations;
    config.limits.quota_bytes = 1 << 40;
    config.limits.requests_per_minute_per_user = 1_000_000;
    let batch = config.limits.batch_records;
    let server = RunningServer::start(
        "127.0.0.1:0".parse().unwrap(),
        Arc::new(SqliteStorage::open(&server_dir).unwrap()),
        config,
        Arc::new(SystemClock),
    )
    .unwrap();
    let proxy = CountingProxy::start(&server.url());
    let http = HttpClient::new(&proxy.url).unwrap();
    register(
        &std::cell::RefCell::new(&mut store),
        &http,
        name,
        PASS,
        FAST,
        "laptop",
    )
    .unwrap();
    proxy.take();
    let start = Instant::now();
    let up_summary = sync_over(&mut store, &proxy.url, wire);
    let upload = start.elapsed();
    let up = proxy.take();
    let server_bytes = db_bytes(&server_dir.join("server.db"));

    let phone_path = dir.path().join("phone.db");
    let mut phone = Store::open(&phone_path).unwrap();
    login(
        &std::cell::RefCell::new(&mut phone),
        &http,
        name,
        PASS,
        "phone",
    )
    .unwrap();
    proxy.take();
    let start = Instant::now();
    let down_summary = sync_over(&mut phone, &proxy.url, wire);
    let download = start.elapsed();
    let down = proxy.take();
    assert_eq!(down_summary.downloaded, up_summary.uploaded);
    assert_eq!(phone.run_count().unwrap(), store.run_count().unwrap());

    // The same ciphertext, from the server's own table.
    let rows: Vec<(String, String, Vec<u8>)> = {
        let c = rusqlite::Connection::open(server_dir.join("server.db")).unwrap();
        let mut stmt = c
            .prepare("SELECT collection, id, payload FROM records ORDER BY seq")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    let (raw_insert, raw_read) = raw_sqlite(&rows, batch);
    drop(server);
    Figures {
        client,
        up,
        down,
        server: server_bytes,
        upload,
        download,
        raw_insert,
        raw_read,
    }
}

fn report(label: &str, wire: u8, f: &Figures) {
    let c = f.client as f64;
    println!(
        "{label}, wire v{wire}: client store {:.1} MB\n\
         \x20 wire up {:.1} MB ({:.2}x the store), down {:.1} MB ({:.2}x); server {:.1} MB ({:.2}x)\n\
         \x20 upload {:.2} s ({:.2}x a raw insert of the same ciphertext, {:.3} s); \
         new device {:.2} s ({:.2}x a raw read, {:.3} s)",
        mb(f.client),
        mb(f.up.0 + f.up.1),
        (f.up.0 + f.up.1) as f64 / c,
        mb(f.down.0 + f.down.1),
        (f.down.0 + f.down.1) as f64 / c,
        mb(f.server),
        f.server as f64 / c,
        f.upload.as_secs_f64(),
        f.upload.as_secs_f64() / f.raw_insert.as_secs_f64(),
        f.raw_insert.as_secs_f64(),
        f.download.as_secs_f64(),
        f.download.as_secs_f64() / f.raw_read.as_secs_f64(),
        f.raw_read.as_secs_f64(),
    );
}

fn main() {
    let years: usize = std::env::var("FIRST_SYNC_YEARS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let with_v1 = std::env::var("FIRST_SYNC_V1").map_or(true, |v| v != "0");
    let dir = tempfile::tempdir().unwrap();

    let demo = dir.path().join("demo.db");
    {
        let mut store = Store::open(&demo).unwrap();
        strideguard_tests::load_demo(
            &mut store,
            &history(7, NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()),
        )
        .unwrap();
    }
    for wire in [1, 2] {
        report(
            "16-week demo history",
            wire,
            &first_sync(&demo, wire, &format!("demo{wire}")),
        );
    }

    let long = dir.path().join("long.db");
    let start = Instant::now();
    {
        let mut store = Store::open(&long).unwrap();
        long_history(&mut store, years);
    }
    println!(
        "({years}-year history built in {:.0} s: {} runs, {} samples; frames carry {} bytes \
         of framing a record)",
        start.elapsed().as_secs_f64(),
        years * 500,
        years * 500 * 4_000,
        frames::FRAME_OVERHEAD
    );
    let label = format!("{years}-year history");
    let v2 = first_sync(&long, 2, "long2");
    report(&label, 2, &v2);
    if with_v1 {
        report(&label, 1, &first_sync(&long, 1, "long1"));
    }
    println!(
        "goals: wire and server bytes at most 1.0x the store; upload within 2x of the raw \
         insert; a new device syncs the {years}-year history in under 3 s ({:.2} s)",
        v2.download.as_secs_f64()
    );
}
