//! The server binary and its API as an operator and a client author meet them: every
//! documented endpoint answers, acknowledged records survive `kill -9`, SIGTERM stops it
//! cleanly, and old tombstones send lagging devices into a full resync.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::json;
use strideguard_core::sync::account::{register, sync_now};
use strideguard_core::sync::http::HttpClient;
use strideguard_server::openapi::{ENDPOINTS, document};
use strideguard_server::{SqliteStorage, Storage};
use strideguard_tests::sync::{Device, FAST, TestServer, config, http, snapshot};

const PASS: &str = "correct horse battery staple";

#[test]
fn every_documented_endpoint_answers_and_nothing_routed_is_undocumented() {
    let server = TestServer::start(config());
    let url = server.url();
    let doc = document();
    let mut documented = HashSet::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            documented.insert((path.clone(), method.clone()));
        }
    }
    let listed: HashSet<_> = ENDPOINTS
        .iter()
        .map(|(p, m)| (p.to_string(), m.to_string()))
        .collect();
    assert_eq!(documented, listed);
    let (status, served) = http("GET", &format!("{url}/v1/openapi.json"), None, None);
    assert_eq!(status, 200);
    assert_eq!(served, doc);
    for (path, method) in ENDPOINTS {
        let p = path.replace("{user}", "anna").replace("{id}", "nope");
        let (status, body) = http(&method.to_uppercase(), &format!("{url}{p}"), None, None);
        assert!(
            status != 404 && status != 405,
            "{method} {path}: {status} {body}"
        );
    }
    let (status, body) = http("GET", &format!("{url}/v1/nothing"), None, None);
    assert_eq!((status, body["error"].as_str()), (404, Some("not_found")));
    let (_, health) = http("GET", &format!("{url}/health"), None, None);
    assert_eq!(health["status"], "ok");
}

#[test]
fn metrics_count_requests_records_and_refusals() {
    let server = TestServer::start(config());
    let mut a = Device::new(0);
    register(
        &mut a.store,
        &HttpClient::new(&server.url()).unwrap(),
        "anna",
        PASS,
        FAST,
        "laptop",
    )
    .unwrap();
    a.store
        .add_shoe(&strideguard_core::Shoe::new(
            uuid::Uuid::new_v4(),
            "Clifton",
        ))
        .unwrap();
    sync_now(&mut a.store, &mut |_| {}).unwrap();
    http(
        "GET",
        &format!("{}/v1/records", server.url()),
        Some("bad"),
        None,
    );
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let mut resp = agent
        .get(format!("{}/metrics", server.url()))
        .call()
        .unwrap();
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = resp.body_mut().read_to_string().unwrap();
    assert!(
        text.contains("strideguard_records_accepted_total 1"),
        "{text}"
    );
    assert!(text.contains("strideguard_users 1"), "{text}");
    assert!(
        text.contains(
            "strideguard_http_requests_total{method=\"GET\",route=\"/v1/records\",status=\"401\"} 1"
        ),
        "{text}"
    );
}

/// The server binary, its address read from what it prints.
struct Process {
    child: Child,
    url: String,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_binary(data: &Path) -> Process {
    let mut child = Command::new(env!("CARGO_BIN_EXE_strideguard-server"))
        .args([
            "--bind",
            "127.0.0.1:0",
            "--min-kdf-iterations",
            "1000",
            "--data",
        ])
        .arg(data)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the server binary starts");
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let url = loop {
        let line = lines
            .next()
            .expect("the server says where it listens")
            .unwrap();
        if let Some(rest) = line.split("server on ").nth(1) {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    // Keep draining its output so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Process { child, url }
}

fn record(tag: &str) -> serde_json::Value {
    json!({"collection": tag, "id": uuid::Uuid::new_v4().to_string(), "deleted": false,
           "payload": "c2VhbGVkIHJlY29yZCBwYXlsb2FkIHBhZGRlZCB0byBhIGZldyBieXRlcw=="})
}

fn all_ids(url: &str, token: &str) -> HashSet<String> {
    let mut ids = HashSet::new();
    let mut since = 0;
    loop {
        let (status, page) = http(
            "GET",
            &format!("{url}/v1/records?since={since}"),
            Some(token),
            None,
        );
        assert_eq!(status, 200, "{page}");
        for r in page["records"].as_array().unwrap() {
            ids.insert(r["id"].as_str().unwrap().to_string());
        }
        since = page["next"].as_i64().unwrap();
        if page["done"].as_bool().unwrap() {
            return ids;
        }
    }
}

#[test]
fn kill_9_during_and_between_batches_loses_no_acknowledged_record() {
    let data = tempfile::tempdir().unwrap();
    let mut server = start_binary(data.path());
    let mut device = Device::new(0);
    register(
        &mut device.store,
        &HttpClient::new(&server.url).unwrap(),
        "anna",
        PASS,
        FAST,
        "laptop",
    )
    .unwrap();
    let token = device.store.sync_account().unwrap().unwrap().token;
    let tag = "b".repeat(64);
    let mut acked: HashSet<String> = HashSet::new();

    for round in 0..3 {
        // Uploads run on four threads until the kill; each keeps the ids the server acknowledged.
        let stop = Arc::new(AtomicBool::new(false));
        let batches = Arc::new(AtomicUsize::new(0));
        let workers: Vec<_> = (0..4)
            .map(|_| {
                let (url, token, tag, stop, batches) = (
                    server.url.clone(),
                    token.clone(),
                    tag.clone(),
                    stop.clone(),
                    batches.clone(),
                );
                std::thread::spawn(move || {
                    let mut mine = Vec::new();
                    while !stop.load(Ordering::SeqCst) {
                        let batch: Vec<_> = (0..50).map(|_| record(&tag)).collect();
                        let ids: Vec<String> = batch
                            .iter()
                            .map(|r| r["id"].as_str().unwrap().to_string())
                            .collect();
                        let agent = ureq::Agent::config_builder()
                            .http_status_as_error(false)
                            .timeout_global(Some(Duration::from_secs(10)))
                            .build()
                            .new_agent();
                        let res = agent
                            .post(format!("{url}/v1/records"))
                            .header("authorization", format!("Bearer {token}"))
                            .send_json(json!({ "records": batch }));
                        match res {
                            Ok(r) if r.status() == 200 => {
                                mine.extend(ids);
                                batches.fetch_add(1, Ordering::SeqCst);
                            }
                            _ => break,
                        }
                    }
                    mine
                })
            })
            .collect();
        // Kill once a few batches (more each round) are acknowledged, whatever the machine's speed.
        let want = 3 + round * 4;
        let mut waited = 0;
        while batches.load(Ordering::SeqCst) < want {
            assert!(
                waited < 6_000,
                "round {round}: the uploads made no progress in 30 s"
            );
            std::thread::sleep(Duration::from_millis(5));
            waited += 1;
        }
        if round == 1 {
            // Between batches: stop the uploads first, then kill.
            stop.store(true, Ordering::SeqCst);
        }
        let done: Vec<Vec<String>> = if round == 1 {
            workers.into_iter().map(|w| w.join().unwrap()).collect()
        } else {
            // During batches: kill while requests are in flight.
            unsafe { libc::kill(server.child.id() as i32, libc::SIGKILL) };
            stop.store(true, Ordering::SeqCst);
            workers.into_iter().map(|w| w.join().unwrap()).collect()
        };
        if round == 1 {
            unsafe { libc::kill(server.child.id() as i32, libc::SIGKILL) };
        }
        let _ = server.child.wait();
        let n: usize = done.iter().map(Vec::len).sum();
        assert!(n > 0, "round {round}: some batches were acknowledged");
        acked.extend(done.into_iter().flatten());
        server = start_binary(data.path());
        let stored = all_ids(&server.url, &token);
        let missing = acked.difference(&stored).count();
        assert_eq!(
            missing, 0,
            "round {round}: {missing} acknowledged records lost"
        );
    }
}

#[test]
fn sigterm_stops_the_server_cleanly() {
    let data = tempfile::tempdir().unwrap();
    let mut server = start_binary(data.path());
    let (status, _) = http("GET", &format!("{}/health", server.url), None, None);
    assert_eq!(status, 200);
    unsafe { libc::kill(server.child.id() as i32, libc::SIGTERM) };
    let mut waited = 0;
    let status = loop {
        if let Some(s) = server.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            waited < 100,
            "the server did not stop within 10 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
        waited += 1;
    };
    assert!(status.success(), "{status:?}");
}

#[test]
fn a_device_behind_the_purged_tombstones_resyncs_fully() {
    let server = TestServer::start(config());
    let client = HttpClient::new(&server.url()).unwrap();
    let mut a = Device::new(1_000);
    register(&mut a.store, &client, "anna", PASS, FAST, "laptop").unwrap();
    let shoe = strideguard_core::Shoe::new(uuid::Uuid::new_v4(), "Clifton");
    a.store.add_shoe(&shoe).unwrap();
    let keep = strideguard_core::Shoe::new(uuid::Uuid::new_v4(), "Kept");
    a.store.add_shoe(&keep).unwrap();
    sync_now(&mut a.store, &mut |_| {}).unwrap();
    let mut b = Device::new(1_000);
    strideguard_core::sync::account::login(&mut b.store, &client, "anna", PASS, "phone").unwrap();
    sync_now(&mut b.store, &mut |_| {}).unwrap();
    // A adds and deletes records; B stays offline.
    let run = strideguard_core::Run::new(
        uuid::Uuid::new_v4(),
        chrono::DateTime::parse_from_rfc3339("2026-05-01T07:00:00+02:00").unwrap(),
        5_000.0,
        1_500.0,
    );
    a.store.add_run(&run, &[]).unwrap();
    sync_now(&mut a.store, &mut |_| {}).unwrap();
    a.store.delete_run(run.id).unwrap();
    sync_now(&mut a.store, &mut |_| {}).unwrap();
    // The tombstone is older than the retention: the server drops it.
    let storage = SqliteStorage::open(server.dir.path()).unwrap();
    assert_eq!(storage.purge_tombstones(i64::MAX).unwrap(), 1);
    let summary = sync_now(&mut b.store, &mut |_| {}).unwrap();
    assert!(summary.full_resync, "{summary:?}");
    assert_eq!(snapshot(&a.store), snapshot(&b.store));
}
