//! Soak: 64 devices syncing against the real server binary for 10 minutes (`SOAK_MINUTES`),
//! with slow clients mixed in (headers a byte at a time, bodies that stall, pulls read at a
//! crawl). Every minute it prints the throughput, p50/p99 latency, errors and the server's
//! resident memory; at the end, the last minute against the first (the baseline measured in
//! the same run): memory should stay flat and errors at zero.
//!
//! Run: `cargo bench -p strideguard-server --bench soak` (or `SOAK_MINUTES=2 ...`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};

const DEVICES: usize = 64;
const ACCOUNTS: usize = 8;
const SLOW_CLIENTS: usize = 8;

struct Server {
    child: Child,
    url: String,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(data: &std::path::Path) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_strideguard-server"))
        .args([
            "--bind",
            "127.0.0.1:0",
            "--min-kdf-iterations",
            "1000",
            "--requests-per-minute",
            "1000000",
            "--logins-per-minute-per-ip",
            "100000",
            "--header-timeout-secs",
            "5",
            "--body-timeout-secs",
            "10",
            "--data",
        ])
        .arg(data)
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the server binary starts");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let url = loop {
        let line = lines
            .next()
            .expect("the server says where it listens")
            .unwrap();
        if let Some(rest) = line.split("server on ").nth(1) {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    let addr = url.trim_start_matches("http://").to_string();
    Server { child, url, addr }
}

fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .unwrap_or(0.0)
        / 1024.0
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .new_agent()
}

/// What one minute saw.
#[derive(Default)]
struct Minute {
    latencies_us: Vec<u64>,
    errors: u64,
}

struct Shared {
    minute: Mutex<Minute>,
    stop: AtomicBool,
    records: AtomicU64,
}

impl Shared {
    fn done(&self, started: Instant, ok: bool) {
        let mut m = self.minute.lock().unwrap();
        m.latencies_us.push(started.elapsed().as_micros() as u64);
        if !ok {
            m.errors += 1;
        }
    }
}

fn token(url: &str, user: &str, device: &str) -> String {
    let auth = B64.encode([user.len() as u8; 32]);
    let a = agent();
    let _ = a.post(format!("{url}/v1/accounts")).send_json(
        json!({"username": user, "auth_key": auth, "kdf": {"iterations": 1000},
                          "wrapped_key": B64.encode([7u8; 60])}),
    );
    let body: Value = a
        .post(format!("{url}/v1/sessions"))
        .send_json(json!({"username": user, "auth_key": auth, "device_name": device}))
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap();
    body["token"].as_str().expect("a session").to_string()
}

/// A device: uploads a few records (new ones, and edits of its own with their `if_seq`),
/// then pulls what is new, over and over.
fn device(url: String, token: String, n: usize, shared: Arc<Shared>) {
    let a = agent();
    let mut mine: Vec<(String, i64)> = Vec::new();
    let mut since = 0i64;
    let mut i = 0usize;
    while !shared.stop.load(Ordering::Relaxed) {
        i += 1;
        let mut batch = Vec::new();
        for k in 0..(1 + (i + n) % 8) {
            let payload = B64.encode(vec![(i + k) as u8; 600 + (k * 97) % 1400]);
            if k % 3 == 2 && !mine.is_empty() {
                let (id, seq) = &mine[(i * 7 + k) % mine.len()];
                batch.push(
                    json!({"collection": "c".repeat(64), "id": id, "if_seq": seq,
                                  "deleted": false, "payload": payload}),
                );
            } else {
                batch.push(json!({"collection": "c".repeat(64),
                                  "id": uuid::Uuid::new_v4().to_string(),
                                  "deleted": false, "payload": payload}));
            }
        }
        let started = Instant::now();
        let resp = a
            .post(format!("{url}/v1/records"))
            .header("authorization", format!("Bearer {token}"))
            .send_json(json!({ "records": batch }));
        let ok = match resp {
            Ok(mut r) if r.status() == 200 => {
                let body: Value = r.body_mut().read_json().unwrap_or(Value::Null);
                for ack in body["accepted"].as_array().into_iter().flatten() {
                    let id = ack["id"].as_str().unwrap_or_default().to_string();
                    let seq = ack["seq"].as_i64().unwrap_or(0);
                    match mine.iter_mut().find(|(m, _)| *m == id) {
                        Some(m) => m.1 = seq,
                        None => mine.push((id, seq)),
                    }
                    shared.records.fetch_add(1, Ordering::Relaxed);
                }
                true
            }
            // Another device of the account may not have touched these ids; a conflict is a
            // merge the engine would do, not an error of the server.
            Ok(r) if r.status() == 409 => true,
            _ => false,
        };
        shared.done(started, ok);
        loop {
            let started = Instant::now();
            let resp = a
                .get(format!("{url}/v1/records?since={since}"))
                .header("authorization", format!("Bearer {token}"))
                .call();
            let page = match resp {
                Ok(mut r) if r.status() == 200 => r.body_mut().read_json::<Value>().ok(),
                _ => None,
            };
            shared.done(started, page.is_some());
            let Some(page) = page else { break };
            since = page["next"].as_i64().unwrap_or(since);
            if page["done"] != true {
                continue;
            }
            break;
        }
    }
}

/// A client that misbehaves in one of three slow ways, again and again.
fn slow_client(addr: String, token: String, kind: usize, shared: Arc<Shared>) {
    while !shared.stop.load(Ordering::Relaxed) {
        let Ok(mut s) = TcpStream::connect(&addr) else {
            continue;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
        match kind % 3 {
            // Headers a byte a second.
            0 => {
                for b in b"GET /health HTTP/1.1\r\nhost: soak\r\n" {
                    if s.write_all(&[*b]).is_err() || shared.stop.load(Ordering::Relaxed) {
                        break;
                    }
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
            // A body that stops halfway.
            1 => {
                let _ = s.write_all(
                    format!("POST /v1/records HTTP/1.1\r\nhost: soak\r\nauthorization: Bearer {token}\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n{{\"records\":[").as_bytes(),
                );
                let mut sink = [0u8; 512];
                let _ = s.read(&mut sink);
            }
            // A pull read at a crawl.
            _ => {
                let _ = s.write_all(
                    format!("GET /v1/records?since=0 HTTP/1.1\r\nhost: soak\r\nauthorization: Bearer {token}\r\nconnection: close\r\n\r\n").as_bytes(),
                );
                let mut sink = [0u8; 256];
                while !shared.stop.load(Ordering::Relaxed) {
                    match s.read(&mut sink) {
                        Ok(0) | Err(_) => break,
                        Ok(_) => std::thread::sleep(Duration::from_millis(200)),
                    }
                }
            }
        }
    }
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize] as f64 / 1000.0
}

fn main() {
    let minutes: u64 = std::env::var("SOAK_MINUTES")
        .ok()
        .and_then(|m| m.parse().ok())
        .unwrap_or(10);
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let pid = server.child.id();
    let shared = Arc::new(Shared {
        minute: Mutex::new(Minute::default()),
        stop: AtomicBool::new(false),
        records: AtomicU64::new(0),
    });
    let tokens: Vec<String> = (0..DEVICES)
        .map(|d| {
            token(
                &server.url,
                &format!("soak{}", d % ACCOUNTS),
                &format!("d{d}"),
            )
        })
        .collect();
    println!(
        "soak: {DEVICES} devices on {ACCOUNTS} accounts and {SLOW_CLIENTS} slow clients, {minutes} min, server pid {pid}, {:.1} MiB at start",
        rss_mib(pid)
    );
    let mut threads = Vec::new();
    for (n, t) in tokens.iter().enumerate() {
        let (url, t, sh) = (server.url.clone(), t.clone(), shared.clone());
        threads.push(std::thread::spawn(move || device(url, t, n, sh)));
    }
    for (k, t) in tokens.iter().take(SLOW_CLIENTS).enumerate() {
        let (addr, t, sh) = (server.addr.clone(), t.clone(), shared.clone());
        threads.push(std::thread::spawn(move || slow_client(addr, t, k, sh)));
    }
    println!("minute  req/s   p50 ms  p99 ms  errors  records  server RSS MiB");
    let mut rows: Vec<(f64, f64, f64)> = Vec::new();
    let mut errors_total = 0;
    for minute in 1..=minutes {
        std::thread::sleep(Duration::from_secs(60));
        let m = std::mem::take(&mut *shared.minute.lock().unwrap());
        let mut l = m.latencies_us;
        l.sort_unstable();
        let rate = l.len() as f64 / 60.0;
        let (p50, p99) = (percentile(&l, 0.50), percentile(&l, 0.99));
        let rss = rss_mib(pid);
        errors_total += m.errors;
        println!(
            "{minute:>6}  {rate:>6.0}  {p50:>6.1}  {p99:>6.1}  {:>6}  {:>7}  {rss:>8.1}",
            m.errors,
            shared.records.load(Ordering::Relaxed)
        );
        rows.push((rate, p99, rss));
    }
    shared.stop.store(true, Ordering::Relaxed);
    if let (Some(first), Some(last)) = (rows.first(), rows.last()) {
        println!(
            "last minute / first (the baseline): throughput {:.2}x, p99 {:.2}x, RSS {:.2}x; {errors_total} errors in all",
            last.0 / first.0.max(1e-9),
            last.1 / first.1.max(1e-9),
            last.2 / first.2.max(1e-9)
        );
    }
    drop(server);
    for t in threads {
        let _ = t.join();
    }
}
