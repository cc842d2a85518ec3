//! The server binary and its API as an operator and a client author meet them: every
//! documented endpoint answers, acknowledged records survive `kill -9`, SIGTERM stops it
//! cleanly, and old tombstones send lagging devices into a full resync.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use strideguard_proto::clock::{Clock, SystemClock};
use strideguard_server::api::endpoints;
use strideguard_server::openapi::document;
use strideguard_server::testing::Backend;
use strideguard_server::{RunningServer, ServerConfig};

/// The servers' configuration here: the protocol's limits, with a KDF minimum low enough for
/// the test accounts.
fn test_config() -> ServerConfig {
    let mut config = ServerConfig::default();
    config.limits.min_kdf_iterations = 1_000;
    config
}

/// A server on 127.0.0.1 in this process, with its data in a temporary folder (or, with
/// `STRIDEGUARD_TEST_BACKEND=postgres`, a database of its own on a throwaway PostgreSQL).
struct TestServer {
    _dir: tempfile::TempDir,
    server: RunningServer,
}

impl TestServer {
    fn start() -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let storage = Backend::from_env().storage(dir.path());
        let server = RunningServer::start(
            "127.0.0.1:0".parse().unwrap(),
            storage,
            test_config(),
            Arc::new(SystemClock),
        )
        .unwrap();
        TestServer { _dir: dir, server }
    }

    fn url(&self) -> String {
        self.server.url()
    }
}

/// One request; the status and the JSON answer (`Value::Null` when it is not JSON).
fn http(method: &str, url: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .new_agent();
    let mut req = ureq::http::Request::builder().method(method).uri(url);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let bytes = body
        .map(|b| serde_json::to_vec(&b).unwrap())
        .unwrap_or_default();
    if !bytes.is_empty() {
        req = req.header("content-type", "application/json");
    }
    let mut resp = match method {
        // ureq sends a DELETE body only when told to.
        "DELETE" if !bytes.is_empty() => agent
            .delete(url)
            .header(
                "authorization",
                format!("Bearer {}", token.unwrap_or_default()),
            )
            .header("content-type", "application/json")
            .force_send_body()
            .send(&bytes[..])
            .unwrap(),
        _ => agent.run(req.body(bytes).unwrap()).unwrap(),
    };
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// An account made the way a client makes one (the server only ever sees these bytes); returns
/// a session token and the auth key.
fn account(url: &str, name: &str) -> (String, Vec<u8>) {
    let auth: Vec<u8> = (0..32).map(|i| i as u8 ^ name.len() as u8).collect();
    let (status, body) = http(
        "POST",
        &format!("{url}/v1/accounts"),
        None,
        Some(json!({"username": name, "auth_key": B64.encode(&auth),
                    "kdf": {"iterations": 1000}, "wrapped_key": B64.encode([7u8; 60])})),
    );
    assert_eq!(status, 201, "{body}");
    (login(url, name, &auth, "laptop"), auth)
}

fn login(url: &str, name: &str, auth: &[u8], device: &str) -> String {
    let (status, body) = http(
        "POST",
        &format!("{url}/v1/sessions"),
        None,
        Some(json!({"username": name, "auth_key": B64.encode(auth), "device_name": device})),
    );
    assert_eq!(status, 201, "{body}");
    body["token"].as_str().unwrap().to_string()
}

#[test]
fn every_routed_endpoint_answers_and_the_served_document_states_the_servers_limits() {
    // That the document lists exactly the routed endpoints is the unit test in `openapi.rs`.
    let server = TestServer::start();
    let url = server.url();
    let (status, served) = http("GET", &format!("{url}/v1/openapi.json"), None, None);
    assert_eq!(status, 200);
    assert_eq!(served, document(&test_config().limits));
    for (path, method) in endpoints() {
        let p = path.replace("{user}", "anna").replace("{id}", "nope");
        let (status, body) = http(&method.to_uppercase(), &format!("{url}{p}"), None, None);
        assert!(
            status != 404 && status != 405,
            "{method} {path}: {status} {body}"
        );
    }
    // A path segment that does not decode is refused in JSON like every other error.
    let (status, body) = http("GET", &format!("{url}/v1/accounts/%FF/kdf"), None, None);
    assert_eq!((status, body["error"].as_str()), (400, Some("bad_request")));
    let (status, body) = http("GET", &format!("{url}/v1/nothing"), None, None);
    assert_eq!((status, body["error"].as_str()), (404, Some("not_found")));
    let (_, health) = http("GET", &format!("{url}/health"), None, None);
    assert_eq!(health["status"], "ok");
}

#[test]
fn metrics_count_requests_records_and_refusals() {
    let server = TestServer::start();
    let (token, _) = account(&server.url(), "anna");
    let (status, body) = http(
        "POST",
        &format!("{}/v1/records", server.url()),
        Some(&token),
        Some(json!({"records": [record(&"a".repeat(64))]})),
    );
    assert_eq!(status, 200, "{body}");
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

/// Sends `sig` to the server process.
#[allow(unsafe_code)]
fn signal(child: &Child, sig: libc::c_int) {
    // SAFETY: kill(2) on a pid we spawned and have not reaped; it touches no memory of ours.
    unsafe { libc::kill(child.id() as i32, sig) };
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

/// Where a server binary keeps its data, on the backend the tests run on: a folder for
/// SQLite (`--data`), or a database of its own (`--database-url`).
struct Data {
    dir: tempfile::TempDir,
    url: Option<String>,
    /// `--shard NAME=URL` values, on the sharded backend.
    shards: Vec<String>,
}

impl Data {
    fn new() -> Data {
        let backend = Backend::from_env();
        Data {
            dir: tempfile::tempdir().unwrap(),
            url: (backend == Backend::Postgres)
                .then(|| strideguard_server::testing::shared().create_database()),
            shards: if backend == Backend::Sharded {
                Backend::shards()
                    .into_iter()
                    .map(|(n, u)| format!("{n}={u}"))
                    .collect()
            } else {
                Vec::new()
            },
        }
    }
}

fn start_binary(data: &Data) -> Process {
    start_binary_with(data, &[])
}

/// [`start_binary`] with more flags.
fn start_binary_with(data: &Data, flags: &[&str]) -> Process {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_strideguard-server"));
    cmd.args(["--bind", "127.0.0.1:0", "--min-kdf-iterations", "1000"]);
    cmd.args(flags);
    match &data.url {
        Some(url) => cmd.args(["--database-url", url]),
        None if !data.shards.is_empty() => {
            cmd.args(data.shards.iter().flat_map(|s| ["--shard", s.as_str()]))
        }
        None => cmd.arg("--data").arg(data.dir.path()),
    };
    let mut child = cmd
        .env_remove("STRIDEGUARD_DATABASE_URL")
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

fn record(tag: &str) -> Value {
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
    let data = Data::new();
    let mut server = start_binary(&data);
    let (token, _) = account(&server.url, "anna");
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
            signal(&server.child, libc::SIGKILL);
            stop.store(true, Ordering::SeqCst);
            workers.into_iter().map(|w| w.join().unwrap()).collect()
        };
        if round == 1 {
            signal(&server.child, libc::SIGKILL);
        }
        let _ = server.child.wait();
        let n: usize = done.iter().map(Vec::len).sum();
        assert!(n > 0, "round {round}: some batches were acknowledged");
        acked.extend(done.into_iter().flatten());
        server = start_binary(&data);
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
    let data = Data::new();
    let mut server = start_binary(&data);
    let (status, _) = http("GET", &format!("{}/health", server.url), None, None);
    assert_eq!(status, 200);
    signal(&server.child, libc::SIGTERM);
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
fn deleting_an_account_needs_the_auth_key_and_removes_only_that_account() {
    let server = TestServer::start();
    let url = server.url();
    let (anna, anna_auth) = account(&url, "anna");
    let phone = login(&url, "anna", &anna_auth, "phone");
    let (ben, _) = account(&url, "ben");
    let tag = "c".repeat(64);
    for t in [&anna, &ben] {
        let (status, _) = http(
            "POST",
            &format!("{url}/v1/records"),
            Some(t),
            Some(json!({"records": [record(&tag), record(&tag)]})),
        );
        assert_eq!(status, 200);
    }
    let delete = |token: &str, key: Value| {
        http(
            "DELETE",
            &format!("{url}/v1/accounts"),
            Some(token),
            Some(json!({ "auth_key": key })),
        )
    };
    // A session alone is not enough: the auth key must prove the passphrase.
    let (status, body) = delete(&anna, json!(B64.encode([9u8; 32])));
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("unauthorized"))
    );
    let (status, body) = delete(&anna, json!("not base64!"));
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("auth_key"),
        "{body}"
    );
    let (status, body) = http("DELETE", &format!("{url}/v1/accounts"), None, None);
    assert_eq!(status, 401, "{body}");
    let (status, body) = delete(&anna, json!(B64.encode(&anna_auth)));
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["records"].as_u64(), body["devices"].as_u64()),
        (Some(2), Some(2))
    );
    // Every session of the account ended; the other account is untouched.
    for t in [&anna, &phone] {
        let (status, _) = http("GET", &format!("{url}/v1/records"), Some(t), None);
        assert_eq!(status, 401);
    }
    assert_eq!(all_ids(&url, &ben).len(), 2);
    // The name can be registered again, and starts empty.
    let (again, _) = account(&url, "anna");
    assert!(all_ids(&url, &again).is_empty());
    let (_, metrics) = {
        let agent = ureq::Agent::new_with_defaults();
        let text = agent
            .get(format!("{url}/metrics"))
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap();
        (0, text)
    };
    assert!(
        metrics.contains("strideguard_accounts_deleted_total 1"),
        "{metrics}"
    );
}

/// A round-robin TCP balancer in front of `backends`: each connection goes to the next one, so
/// a client opening a connection per request switches server at every request. Stops when
/// dropped.
struct Balancer {
    url: String,
    stop: Arc<AtomicBool>,
    addr: std::net::SocketAddr,
}

impl Balancer {
    fn start(backends: Vec<String>) -> Balancer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let backends: Vec<String> = backends
            .iter()
            .map(|u| u.trim_start_matches("http://").to_string())
            .collect();
        let flag = stop.clone();
        std::thread::spawn(move || {
            for (n, conn) in listener.incoming().enumerate() {
                if flag.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(client) = conn else { continue };
                let Ok(server) = std::net::TcpStream::connect(&backends[n % backends.len()]) else {
                    continue;
                };
                let pipe = |mut from: std::net::TcpStream, mut to: std::net::TcpStream| {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Write);
                    })
                };
                pipe(client.try_clone().unwrap(), server.try_clone().unwrap());
                pipe(server, client);
            }
        });
        Balancer {
            url: format!("http://{addr}"),
            stop,
            addr,
        }
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = std::net::TcpStream::connect(self.addr);
    }
}

/// Three server processes on one database behind a balancer that switches server at every
/// request: devices uploading and pulling through it, each sync spread over all three,
/// converge on every acknowledged record; a device revoked through one server is refused by
/// every server at once; a session made on one works on the others (nothing lives in a
/// server's memory); and on PostgreSQL a username's failed logins count across servers.
#[test]
fn three_servers_on_one_database_serve_devices_that_switch_server_at_every_request() {
    let data = Data::new();
    let servers: Vec<Process> = (0..3).map(|_| start_binary(&data)).collect();
    let lb = Balancer::start(servers.iter().map(|s| s.url.clone()).collect());
    let (first, auth) = account(&lb.url, "anna");
    let tokens: Vec<String> = std::iter::once(first)
        .chain((1..3).map(|i| login(&lb.url, "anna", &auth, &format!("phone {i}"))))
        .collect();
    let tag = "d".repeat(64);
    // Each device uploads 12 batches of 10 and pulls after each, through the balancer.
    let devices: Vec<_> = tokens
        .iter()
        .map(|token| {
            let (url, token, tag) = (lb.url.clone(), token.clone(), tag.clone());
            std::thread::spawn(move || {
                let mut acked = Vec::new();
                for _ in 0..12 {
                    let batch: Vec<_> = (0..10).map(|_| record(&tag)).collect();
                    let (status, body) = http(
                        "POST",
                        &format!("{url}/v1/records"),
                        Some(&token),
                        Some(json!({ "records": batch })),
                    );
                    assert_eq!(status, 200, "{body}");
                    acked.extend(batch.iter().map(|r| r["id"].as_str().unwrap().to_string()));
                    all_ids(&url, &token);
                }
                acked
            })
        })
        .collect();
    let acked: HashSet<String> = devices
        .into_iter()
        .flat_map(|d| d.join().unwrap())
        .collect();
    assert_eq!(acked.len(), 360);
    // Every device, through every server, sees every record.
    for token in &tokens {
        assert_eq!(all_ids(&lb.url, token), acked);
    }
    for s in &servers {
        assert_eq!(all_ids(&s.url, &tokens[2]), acked, "{}", s.url);
    }
    // Revoked through the first server: the two others refuse it at once.
    let (_, list) = http(
        "GET",
        &format!("{}/v1/devices", servers[0].url),
        Some(&tokens[0]),
        None,
    );
    let phone2 = list["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "phone 2")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, body) = http(
        "DELETE",
        &format!("{}/v1/devices/{phone2}", servers[0].url),
        Some(&tokens[0]),
        None,
    );
    assert!(status == 200 || status == 204, "{status} {body}");
    for s in &servers[1..] {
        let (status, _) = http(
            "GET",
            &format!("{}/v1/records?since=0", s.url),
            Some(&tokens[2]),
            None,
        );
        assert_eq!(status, 401, "{} still takes the revoked device", s.url);
    }
    // Failed logins spread over the servers count together on a shared database: once the
    // account's limit is used up, every server answers 429 (on SQLite, which one machine
    // serves, each process counts its own).
    if Backend::from_env().is_postgres() {
        let per_minute = ServerConfig::default().limits.logins_per_minute_per_user;
        let wrong = B64.encode([9u8; 32]);
        let attempt = |url: &str| {
            http(
                "POST",
                &format!("{url}/v1/sessions"),
                None,
                Some(json!({"username": "anna", "auth_key": wrong, "device_name": "guess"})),
            )
            .0
        };
        // The counts are per minute of the clock: start well inside one.
        let into_minute = SystemClock.now_ms().rem_euclid(60_000);
        if into_minute > 45_000 {
            std::thread::sleep(Duration::from_millis((60_000 - into_minute + 200) as u64));
        }
        for _ in 0..per_minute {
            assert_eq!(attempt(&lb.url), 401);
        }
        for s in &servers {
            assert_eq!(attempt(&s.url), 429, "{} lets a guesser go on", s.url);
        }
    }
    drop(lb);
}

/// What one device saw during the failover test.
#[derive(Default)]
struct Seen {
    /// Each acknowledged record's id and the payload it was sent with.
    acked: Vec<(String, String)>,
    /// Answers neither 2xx nor a 503 with Retry-After: wrong answers.
    wrong: Vec<String>,
    unavailable: usize,
}

/// A primary with a synchronous standby under pg_auto_failover, the server given both hosts
/// (`target_session_attrs=read-write`): devices upload and pull; the primary's postmaster and
/// its keeper are killed with `kill -9` in the middle; the monitor promotes the standby. Every
/// answer in between is a success or a 503 with Retry-After, never a wrong one; the server
/// follows the new primary by itself; every acknowledged record is there, byte for byte, on
/// the new primary; and every device pulls the same records. Prints the failover time.
#[test]
fn a_primary_killed_under_load_fails_over_to_its_synchronous_standby_losing_no_acknowledged_record()
{
    use strideguard_server::testing::TempFormation;
    let formation = TempFormation::start().unwrap_or_else(|e| panic!("{e}"));
    let old = formation.primary().expect("a primary");
    let data = Data {
        dir: tempfile::tempdir().unwrap(),
        url: Some(formation.url()),
        shards: Vec::new(),
    };
    let server = start_binary(&data);
    let (first, auth) = account(&server.url, "anna");
    let tokens: Vec<String> = std::iter::once(first)
        .chain((1..4).map(|i| login(&server.url, "anna", &auth, &format!("watch {i}"))))
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let batches = Arc::new(AtomicUsize::new(0));
    let start = std::time::Instant::now();
    // (first failure, first success of a request sent after it), in ms since `start`.
    let window = Arc::new(std::sync::Mutex::new((None::<u128>, None::<u128>)));
    let devices: Vec<_> = tokens
        .iter()
        .enumerate()
        .map(|(d, token)| {
            let (url, token, stop, batches, window) = (
                server.url.clone(),
                token.clone(),
                stop.clone(),
                batches.clone(),
                window.clone(),
            );
            std::thread::spawn(move || {
                let agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .timeout_global(Some(Duration::from_secs(30)))
                    .build()
                    .new_agent();
                let mut seen = Seen::default();
                let mut n = 0;
                while !stop.load(Ordering::SeqCst) {
                    let batch: Vec<(String, String)> = (0..20)
                        .map(|_| {
                            n += 1;
                            let id = uuid::Uuid::new_v4().to_string();
                            (id.clone(), B64.encode(format!("sealed {d}/{n} {id}")))
                        })
                        .collect();
                    let body = json!({"records": batch.iter().map(|(id, p)| json!({
                        "collection": "a".repeat(64), "id": id, "deleted": false, "payload": p,
                    })).collect::<Vec<_>>()});
                    let sent_upload = start.elapsed().as_millis();
                    let upload = agent
                        .post(format!("{url}/v1/records"))
                        .header("authorization", format!("Bearer {token}"))
                        .send_json(body);
                    let sent_pull = start.elapsed().as_millis();
                    let pull = agent
                        .get(format!("{url}/v1/records?since=0&limit=50"))
                        .header("authorization", format!("Bearer {token}"))
                        .call();
                    for (what, sent, res) in
                        [("upload", sent_upload, upload), ("pull", sent_pull, pull)]
                    {
                        let now = start.elapsed().as_millis();
                        match res {
                            Ok(r) if r.status().is_success() => {
                                if what == "upload" {
                                    seen.acked.extend(batch.iter().cloned());
                                    batches.fetch_add(1, Ordering::SeqCst);
                                }
                                let mut w = window.lock().unwrap();
                                // A request in flight across the kill proves nothing.
                                if w.0.is_some_and(|f| sent > f) && w.1.is_none() {
                                    w.1 = Some(now);
                                }
                            }
                            Ok(r)
                                if r.status() == 503 && r.headers().contains_key("retry-after") =>
                            {
                                seen.unavailable += 1;
                                let mut w = window.lock().unwrap();
                                w.0.get_or_insert(now);
                            }
                            Ok(mut r) => seen.wrong.push(format!(
                                "{what}: {} {}",
                                r.status(),
                                r.body_mut().read_to_string().unwrap_or_default()
                            )),
                            Err(e) => seen.wrong.push(format!("{what}: {e}")),
                        }
                    }
                    if !seen.wrong.is_empty() {
                        // Stop at the first wrong answer: the test reports it.
                        stop.store(true, Ordering::SeqCst);
                    }
                    if seen.unavailable > 0 {
                        // A device told to come back waits a moment (not the whole
                        // Retry-After, so the failover time is measured closely).
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
                seen
            })
        })
        .collect();
    let wait_for = |want: usize, what: &str| {
        let until = std::time::Instant::now() + Duration::from_secs(120);
        while batches.load(Ordering::SeqCst) < want && !stop.load(Ordering::SeqCst) {
            assert!(
                std::time::Instant::now() < until,
                "{what}: no progress in 120 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    wait_for(20, "before the kill");
    formation.kill_node(old).unwrap();
    let killed_at = start.elapsed().as_millis();
    let after = batches.load(Ordering::SeqCst);
    // Uploads acknowledged after the kill come from the new primary.
    wait_for(after + 40, "after the failover");
    stop.store(true, Ordering::SeqCst);
    let seen: Vec<Seen> = devices.into_iter().map(|d| d.join().unwrap()).collect();

    let wrong: Vec<&String> = seen.iter().flat_map(|s| &s.wrong).collect();
    assert!(
        wrong.is_empty(),
        "wrong answers during the failover: {wrong:?}"
    );
    let unavailable: usize = seen.iter().map(|s| s.unavailable).sum();
    let (failed, back) = *window.lock().unwrap();
    let (failed, back) = (
        failed.expect("requests failed while no primary took writes"),
        back.expect("requests succeeded again"),
    );
    let new = formation.primary().expect("a new primary");
    assert_ne!(new, old, "the standby was promoted");
    eprintln!(
        "failover: {} ms from the first failed request to the first successful one \
         ({} ms after the kill; {unavailable} answers 503 with Retry-After)",
        back - failed,
        back.saturating_sub(killed_at),
    );

    // Every acknowledged record is on the new primary, byte for byte.
    let acked: std::collections::HashMap<String, String> =
        seen.iter().flat_map(|s| s.acked.iter().cloned()).collect();
    let mut db = ::postgres::Client::connect(&formation.node_url(new), ::postgres::NoTls).unwrap();
    let stored: std::collections::HashMap<String, Vec<u8>> = db
        .query("SELECT id, payload FROM records", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    for (id, payload) in &acked {
        let got = stored
            .get(id)
            .unwrap_or_else(|| panic!("acknowledged record {id} is not on the new primary"));
        assert_eq!(&B64.encode(got), payload, "record {id} changed");
    }
    // And every device, through the server, pulls the same records: they converge.
    let ids: HashSet<String> = acked.keys().cloned().collect();
    for token in &tokens {
        let pulled = all_ids(&server.url, token);
        assert!(
            pulled.is_superset(&ids),
            "a device misses acknowledged records"
        );
        assert_eq!(pulled, all_ids(&server.url, &tokens[0]), "devices differ");
    }
}

/// The per-account request rate and the per-IP login limit with three server processes on one
/// database: on PostgreSQL the counts are the database's, so the three together allow the
/// limit once; on SQLite (one machine's storage) each process counts its own.
#[test]
fn request_and_login_limits_hold_across_three_servers_on_one_database() {
    let data = Data::new();
    let flags = [
        "--requests-per-minute",
        "30",
        "--logins-per-minute-per-ip",
        "6",
    ];
    let servers: Vec<Process> = (0..3).map(|_| start_binary_with(&data, &flags)).collect();
    // The counts are per minute of the clock: start well inside one.
    let into_minute = SystemClock.now_ms().rem_euclid(60_000);
    if into_minute > 35_000 {
        std::thread::sleep(Duration::from_millis((60_000 - into_minute + 200) as u64));
    }
    let shared = Backend::from_env().is_postgres();
    // Registering and its login are two of the address's six attempts.
    let (token, auth) = account(&servers[0].url, "anna");
    let ok = (0..60)
        .filter(|i| {
            let url = &servers[i % 3].url;
            let (status, body) = http(
                "GET",
                &format!("{url}/v1/records?since=0"),
                Some(&token),
                None,
            );
            assert!(status == 200 || status == 429, "{status} {body}");
            if status == 429 {
                assert_eq!(body["limit"], "requests_per_minute_per_user", "{body}");
            }
            status == 200
        })
        .count();
    assert_eq!(
        ok,
        if shared { 30 } else { 60 },
        "requests allowed over three servers"
    );
    let logins = (0..12)
        .filter(|i| {
            let url = &servers[i % 3].url;
            let (status, body) = http(
                "POST",
                &format!("{url}/v1/sessions"),
                None,
                Some(
                    json!({"username": "anna", "auth_key": B64.encode(&auth), "device_name": "x"}),
                ),
            );
            assert!(status == 201 || status == 429, "{status} {body}");
            status == 201
        })
        .count();
    // Shared: 6 attempts in all, 2 used. Per process: 6 each, 2 used on the first: 4 + 4 + 4
    // of the 12 tried (each server is tried 4 times).
    assert_eq!(
        logins,
        if shared { 4 } else { 12 },
        "logins allowed from one address"
    );
}

/// Users spread over two PostgreSQL clusters by the directory (`--shard a=URL --shard b=URL`),
/// served by two server processes given the same list: new users land on both clusters in
/// turn, each user syncs through either server and sees only their own records, and nothing of
/// a user (account, devices, sessions, records) is on the other cluster.
#[test]
fn users_spread_over_two_clusters_stay_whole_on_their_own() {
    use strideguard_server::testing::TempPostgres;
    let clusters: Vec<TempPostgres> = (0..2)
        .map(|_| TempPostgres::start().unwrap_or_else(|e| panic!("{e}")))
        .collect();
    let urls: Vec<String> = clusters.iter().map(|c| c.create_database()).collect();
    let flags: Vec<String> = vec![
        "--shard".into(),
        format!("a={}", urls[0]),
        "--shard".into(),
        format!("b={}", urls[1]),
    ];
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let data = Data {
        dir: tempfile::tempdir().unwrap(),
        url: None,
        shards: Vec::new(),
    };
    let servers: Vec<Process> = (0..2).map(|_| start_binary_with(&data, &flags)).collect();
    let tag = "e".repeat(64);
    let mut runners = Vec::new();
    for i in 0..6 {
        let name = format!("runner{i}");
        let (token, auth) = account(&servers[i % 2].url, &name);
        let phone = login(&servers[(i + 1) % 2].url, &name, &auth, "phone");
        let mut ids = HashSet::new();
        for (n, t) in [&token, &phone].into_iter().enumerate() {
            let batch: Vec<_> = (0..5).map(|_| record(&tag)).collect();
            ids.extend(batch.iter().map(|r| r["id"].as_str().unwrap().to_string()));
            let (status, body) = http(
                "POST",
                &format!("{}/v1/records", servers[n].url),
                Some(t),
                Some(json!({ "records": batch })),
            );
            assert_eq!(status, 200, "{body}");
        }
        runners.push((name, token, phone, ids));
    }
    let mut directory = ::postgres::Client::connect(&urls[0], ::postgres::NoTls).unwrap();
    let mut dbs: Vec<::postgres::Client> = urls
        .iter()
        .map(|u| ::postgres::Client::connect(u, ::postgres::NoTls).unwrap())
        .collect();
    let mut per_cluster = [0, 0];
    for (name, token, phone, ids) in &runners {
        // Either server, either device: exactly the runner's own records.
        for s in &servers {
            assert_eq!(&all_ids(&s.url, token), ids, "{name} through {}", s.url);
            assert_eq!(
                &all_ids(&s.url, phone),
                ids,
                "{name}'s phone through {}",
                s.url
            );
        }
        let row = directory
            .query_one(
                "SELECT id, shard FROM shard_users WHERE username = $1",
                &[name],
            )
            .unwrap();
        let (id, shard): (i64, String) = (row.get(0), row.get(1));
        let (home, other) = if shard == "a" { (0, 1) } else { (1, 0) };
        per_cluster[home] += 1;
        let count = |db: &mut ::postgres::Client, sql: &str| -> i64 {
            db.query_one(sql, &[&id]).unwrap().get(0)
        };
        for (table, want) in [
            ("users", 1),
            ("devices", 2),
            ("sessions", 2),
            ("records", 10),
        ] {
            let sql = if table == "users" {
                "SELECT count(*) FROM users WHERE id = $1".to_string()
            } else {
                format!("SELECT count(*) FROM {table} WHERE user_id = $1")
            };
            assert_eq!(
                count(&mut dbs[home], &sql),
                want,
                "{name}'s {table} at home"
            );
            assert_eq!(
                count(&mut dbs[other], &sql),
                0,
                "{name}'s {table} elsewhere"
            );
        }
        let elsewhere: i64 = dbs[other]
            .query_one("SELECT count(*) FROM users WHERE username = $1", &[name])
            .unwrap()
            .get(0);
        assert_eq!(elsewhere, 0);
    }
    assert_eq!(
        per_cluster,
        [3, 3],
        "new users go to the cluster with fewer"
    );
}
