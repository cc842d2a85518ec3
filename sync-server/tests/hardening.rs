//! The server against what an attacker, a broken client or a full disk does to it: wrong
//! bodies, look-alike usernames and ids, too many devices, guessed logins, probed usernames,
//! stolen devices, slow and idle connections, too many connections, a full disk. Every answer
//! is JSON that says what was wrong.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use strideguard_proto::clock::ManualClock;
use strideguard_server::testing::Backend;
use strideguard_server::{RunningServer, ServerConfig, SqliteStorage};

const T0: i64 = 1_780_000_000_000;

struct TestServer {
    _dir: tempfile::TempDir,
    server: RunningServer,
    clock: Arc<ManualClock>,
}

fn config() -> ServerConfig {
    let mut c = ServerConfig::default();
    c.limits.min_kdf_iterations = 1_000;
    c
}

impl TestServer {
    fn start(config: ServerConfig) -> TestServer {
        TestServer::with_storage(config, None)
    }

    fn with_storage(config: ServerConfig, max_bytes: Option<u64>) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        // A size limit is SQLite's (`--max-data-bytes`); without one, the backend the tests
        // run on (`STRIDEGUARD_TEST_BACKEND`).
        let storage: Arc<dyn strideguard_server::Storage> = match max_bytes {
            Some(_) => Arc::new(SqliteStorage::open_with_limit(dir.path(), max_bytes).unwrap()),
            None => Backend::from_env().storage(dir.path()),
        };
        let clock = Arc::new(ManualClock::new(T0));
        let server = RunningServer::start(
            "127.0.0.1:0".parse().unwrap(),
            storage,
            config,
            clock.clone(),
        )
        .unwrap();
        TestServer {
            _dir: dir,
            server,
            clock,
        }
    }
}

/// An answer: status, headers (lower-case names) and the JSON body (`Null` when not JSON).
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One request as raw bytes on its own connection (so every header is the test's own).
fn raw(server: &TestServer, request: &[u8]) -> Answer {
    let mut s = TcpStream::connect(server.server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    parse(&out)
}

fn parse(out: &[u8]) -> Answer {
    let text = String::from_utf8_lossy(out);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_lowercase(), v.trim().to_string()))
        .collect();
    let body = serde_json::from_str(body.trim()).unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        body,
    }
}

/// A request with these headers and body, `Connection: close`.
fn request(
    server: &TestServer,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Answer {
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nhost: test\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (n, v) in headers {
        req += &format!("{n}: {v}\r\n");
    }
    req += "\r\n";
    let mut bytes = req.into_bytes();
    bytes.extend_from_slice(body);
    raw(server, &bytes)
}

fn json_request(
    server: &TestServer,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &Value,
) -> Answer {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("content-type", "application/json")];
    if let Some(b) = &bearer {
        headers.push(("authorization", b));
    }
    let bytes = if body.is_null() {
        Vec::new()
    } else {
        serde_json::to_vec(body).unwrap()
    };
    request(server, method, path, &headers, &bytes)
}

fn auth_key(name: &str) -> Vec<u8> {
    (0..32).map(|i| i as u8 ^ name.len() as u8 ^ 0x5a).collect()
}

fn register(server: &TestServer, name: &str, iterations: u32) -> Answer {
    json_request(
        server,
        "POST",
        "/v1/accounts",
        None,
        &json!({"username": name, "auth_key": B64.encode(auth_key(name)),
                "kdf": {"iterations": iterations}, "wrapped_key": B64.encode([7u8; 60])}),
    )
}

fn login_as(server: &TestServer, name: &str, key: &[u8], bearer: Option<&str>) -> Answer {
    json_request(
        server,
        "POST",
        "/v1/sessions",
        bearer,
        &json!({"username": name, "auth_key": B64.encode(key), "device_name": "phone"}),
    )
}

/// Registers `name` and logs in: the session token and the device id.
fn account(server: &TestServer, name: &str) -> (String, String) {
    assert_eq!(register(server, name, 1_000).status, 201);
    let a = login_as(server, name, &auth_key(name), None);
    assert_eq!(a.status, 201, "{}", a.body);
    (
        a.body["token"].as_str().unwrap().into(),
        a.body["device_id"].as_str().unwrap().into(),
    )
}

fn record(id: &str) -> Value {
    json!({"collection": "c".repeat(64), "id": id, "deleted": false,
           "payload": B64.encode([1u8; 100])})
}

fn assert_error(a: &Answer, status: u16, code: &str) {
    assert_eq!(a.status, status, "{}", a.body);
    assert_eq!(a.body["error"], code, "{}", a.body);
    assert!(
        a.body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{}",
        a.body
    );
}

#[test]
fn bodies_must_be_one_uncompressed_json_value_and_every_error_is_json() {
    let server = TestServer::start(config());
    let login = br#"{"username":"anna","auth_key":"AAAA","device_name":"x"}"#;
    let no_type = request(&server, "POST", "/v1/sessions", &[], login);
    assert_error(&no_type, 415, "unsupported_media_type");
    let text = request(
        &server,
        "POST",
        "/v1/sessions",
        &[("content-type", "text/plain")],
        login,
    );
    assert_error(&text, 415, "unsupported_media_type");
    assert!(
        text.body["message"]
            .as_str()
            .unwrap()
            .contains("text/plain")
    );
    let gzip = request(
        &server,
        "POST",
        "/v1/sessions",
        &[
            ("content-type", "application/json"),
            ("content-encoding", "gzip"),
        ],
        &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0],
    );
    assert_error(&gzip, 415, "unsupported_media_type");
    assert!(gzip.body["message"].as_str().unwrap().contains("gzip"));

    // A second object after the first is refused, not dropped unseen.
    let (token, _) = account(&server, "anna");
    let bearer = format!("Bearer {token}");
    let two = format!(
        "{} {}",
        json!({"records": [record(&uuid::Uuid::new_v4().to_string())]}),
        json!({"records": [record(&uuid::Uuid::new_v4().to_string())]})
    );
    let trailing = request(
        &server,
        "POST",
        "/v1/records",
        &[
            ("content-type", "application/json; charset=utf-8"),
            ("authorization", &bearer),
        ],
        two.as_bytes(),
    );
    assert_error(&trailing, 400, "bad_request");
    assert!(
        trailing.body["message"]
            .as_str()
            .unwrap()
            .contains("more than one JSON value")
    );
    let page = json_request(&server, "GET", "/v1/records", Some(&token), &Value::Null);
    assert_eq!(page.body["records"].as_array().unwrap().len(), 0);

    // Wrong methods, unknown paths, bad queries and missing tokens: JSON all.
    let wrong = request(&server, "GET", "/v1/sessions", &[], b"");
    assert_error(&wrong, 405, "method_not_allowed");
    assert!(wrong.header("allow").is_some_and(|a| a.contains("POST")));
    assert_error(
        &request(&server, "GET", "/v1/nowhere", &[], b""),
        404,
        "not_found",
    );
    let query = json_request(
        &server,
        "GET",
        "/v1/records?since=abc",
        Some(&token),
        &Value::Null,
    );
    assert_error(&query, 400, "bad_request");
    let anonymous = request(&server, "GET", "/v1/records", &[], b"");
    assert_error(&anonymous, 401, "unauthorized");
    assert!(
        anonymous
            .header("www-authenticate")
            .is_some_and(|v| v.starts_with("Bearer")),
        "{:?}",
        anonymous.headers
    );
}

#[test]
fn a_full_disk_answers_507_with_retry_after_and_reads_go_on() {
    let server = TestServer::with_storage(config(), Some(1024 * 1024));
    let (token, _) = account(&server, "anna");
    let mut full = None;
    for _ in 0..100 {
        let batch: Vec<Value> = (0..2)
            .map(|_| {
                json!({"collection": "c".repeat(64), "id": uuid::Uuid::new_v4().to_string(),
                       "deleted": false, "payload": B64.encode(vec![3u8; 20_000])})
            })
            .collect();
        let a = json_request(
            &server,
            "POST",
            "/v1/records",
            Some(&token),
            &json!({ "records": batch }),
        );
        if a.status != 200 {
            full = Some(a);
            break;
        }
    }
    let full = full.expect("the database filled up");
    assert_error(&full, 507, "insufficient_storage");
    assert!(
        full.header("retry-after")
            .is_some_and(|s| s.parse::<u64>().is_ok())
    );
    let page = json_request(&server, "GET", "/v1/records", Some(&token), &Value::Null);
    assert_eq!(page.status, 200, "reads still work: {}", page.body);
    assert!(!page.body["records"].as_array().unwrap().is_empty());
}

#[test]
fn a_username_is_one_account_in_any_unicode_spelling_and_invisible_characters_are_refused() {
    let server = TestServer::start(config());
    assert_eq!(register(&server, "jos\u{e9}", 1_000).status, 201);
    let decomposed = register(&server, "jose\u{301}", 1_000);
    assert_error(&decomposed, 400, "bad_request");
    assert!(decomposed.body["message"].as_str().unwrap().contains("NFC"));
    for sneaky in [
        "an\u{200b}na",
        "\u{202e}anna",
        "anna\u{200d}",
        "\u{2066}anna",
    ] {
        let a = register(&server, sneaky, 1_000);
        assert_error(&a, 400, "bad_request");
        assert!(a.body["message"].as_str().unwrap().contains("invisible"));
    }
    let login = login_as(&server, "jose\u{301}", &auth_key("jos\u{e9}"), None);
    assert_error(&login, 400, "bad_request");
}

#[test]
fn a_record_id_has_one_spelling() {
    let server = TestServer::start(config());
    let (token, _) = account(&server, "anna");
    let id = uuid::Uuid::new_v4();
    for spelling in [
        id.hyphenated().to_string().to_uppercase(),
        id.simple().to_string(),
        id.braced().to_string(),
        id.urn().to_string(),
    ] {
        let a = json_request(
            &server,
            "POST",
            "/v1/records",
            Some(&token),
            &json!({"records": [record(&spelling)]}),
        );
        assert_error(&a, 400, "bad_request");
        assert!(a.body["message"].as_str().unwrap().contains("canonical"));
    }
    let ok = json_request(
        &server,
        "POST",
        "/v1/records",
        Some(&token),
        &json!({"records": [record(&id.to_string())]}),
    );
    assert_eq!(ok.status, 200, "{}", ok.body);
    let page = json_request(&server, "GET", "/v1/records", Some(&token), &Value::Null);
    assert_eq!(page.body["records"].as_array().unwrap().len(), 1);
}

#[test]
fn an_account_has_at_most_its_device_limit() {
    let mut c = config();
    c.limits.devices_per_account = 3;
    let server = TestServer::start(c);
    let (token, _) = account(&server, "anna");
    let key = auth_key("anna");
    let second = login_as(&server, "anna", &key, None);
    assert_eq!(second.status, 201);
    let third = json_request(
        &server,
        "POST",
        "/v1/devices",
        Some(&token),
        &json!({"name": "watch"}),
    );
    assert_eq!(third.status, 201, "{}", third.body);
    let fourth = login_as(&server, "anna", &key, None);
    assert_error(&fourth, 403, "device_limit");
    assert_eq!(fourth.body["limit"], "devices_per_account");
    assert_eq!(fourth.body["max"], 3);
    let pair = json_request(
        &server,
        "POST",
        "/v1/devices",
        Some(&token),
        &json!({"name": "tablet"}),
    );
    assert_error(&pair, 403, "device_limit");
    // Revoking one makes room.
    let gone = second.body["device_id"].as_str().unwrap();
    let revoked = json_request(
        &server,
        "DELETE",
        &format!("/v1/devices/{gone}"),
        Some(&token),
        &Value::Null,
    );
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    assert_eq!(login_as(&server, "anna", &key, None).status, 201);
}

#[test]
fn unknown_usernames_get_kdf_parameters_like_real_ones_and_lookups_are_limited() {
    let mut c = config();
    c.limits.kdf_lookups_per_minute_per_ip = 40;
    let server = TestServer::start(c);
    for (name, iterations) in [("a", 1_000), ("b", 1_000), ("c", 1_000), ("d", 250_000)] {
        assert_eq!(register(&server, name, iterations).status, 201);
    }
    let kdf = |name: &str| {
        let a = request(
            &server,
            "GET",
            &format!("/v1/accounts/{name}/kdf"),
            &[],
            b"",
        );
        assert_eq!(a.status, 200, "{}", a.body);
        a.body["kdf"]["iterations"].as_u64().unwrap()
    };
    assert_eq!(kdf("d"), 250_000);
    assert_eq!(kdf("a"), 1_000);
    let mut seen = std::collections::BTreeSet::new();
    for i in 0..16 {
        let name = format!("nobody-{i}");
        let first = kdf(&name);
        assert_eq!(kdf(&name), first, "stable for one name");
        assert!([1_000, 250_000].contains(&first), "{first}");
        seen.insert(first);
    }
    assert_eq!(
        seen.len(),
        2,
        "unknown names spread like the real accounts: {seen:?}"
    );
    // 2 + 32 lookups so far; the rest of the minute's 40 then 429.
    let limited = (0..10)
        .map(|_| request(&server, "GET", "/v1/accounts/zed/kdf", &[], b""))
        .find(|a| a.status != 200)
        .expect("the lookups are rate-limited");
    assert_error(&limited, 429, "rate_limited");
    assert_eq!(limited.body["limit"], "kdf_lookups_per_minute_per_ip");
    server.clock.advance(60_000);
    assert_eq!(kdf("zed"), kdf("zed"));
}

#[test]
fn revoking_a_device_ends_the_sessions_it_created_and_a_passphrase_change_signs_out_the_rest() {
    let server = TestServer::start(config());
    let (laptop, _) = account(&server, "anna");
    let key = auth_key("anna");
    let stolen = login_as(&server, "anna", &key, None);
    let stolen_token = stolen.body["token"].as_str().unwrap().to_string();
    let stolen_id = stolen.body["device_id"].as_str().unwrap().to_string();
    // The thief pairs another device from the stolen one, and that one a third.
    let paired = json_request(
        &server,
        "POST",
        "/v1/devices",
        Some(&stolen_token),
        &json!({"name": "thief"}),
    );
    let paired_token = paired.body["token"].as_str().unwrap().to_string();
    let deeper = json_request(
        &server,
        "POST",
        "/v1/devices",
        Some(&paired_token),
        &json!({"name": "thief 2"}),
    );
    let deeper_token = deeper.body["token"].as_str().unwrap().to_string();
    let revoked = json_request(
        &server,
        "DELETE",
        &format!("/v1/devices/{stolen_id}"),
        Some(&laptop),
        &Value::Null,
    );
    assert_eq!(revoked.status, 200);
    for t in [&stolen_token, &paired_token, &deeper_token] {
        let a = json_request(&server, "GET", "/v1/records", Some(t), &Value::Null);
        assert_error(&a, 401, "unauthorized");
    }
    let list = json_request(&server, "GET", "/v1/devices", Some(&laptop), &Value::Null);
    let revoked: Vec<_> = list.body["devices"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["revoked"] == true)
        .collect();
    assert_eq!(revoked.len(), 3, "{}", list.body);

    // A passphrase change ends the other sessions by default; this one stays.
    let phone = login_as(&server, "anna", &key, None).body["token"]
        .as_str()
        .unwrap()
        .to_string();
    let new_key: Vec<u8> = key.iter().map(|b| b ^ 1).collect();
    let change = |token: &str, old: &[u8], new: &[u8], sign_out: Option<bool>| {
        let mut body = json!({"old_auth_key": B64.encode(old), "new_auth_key": B64.encode(new),
                              "kdf": {"iterations": 1000}, "wrapped_key": B64.encode([8u8; 60])});
        if let Some(b) = sign_out {
            body["sign_out_others"] = json!(b);
        }
        json_request(&server, "PUT", "/v1/keys", Some(token), &body)
    };
    let changed = change(&laptop, &key, &new_key, None);
    assert_eq!(changed.status, 200, "{}", changed.body);
    assert_eq!(changed.body["signed_out_sessions"], 1);
    let a = json_request(&server, "GET", "/v1/records", Some(&phone), &Value::Null);
    assert_error(&a, 401, "unauthorized");
    let a = json_request(&server, "GET", "/v1/records", Some(&laptop), &Value::Null);
    assert_eq!(a.status, 200);
    // Asked not to, it keeps them.
    let tablet = login_as(&server, "anna", &new_key, None).body["token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(change(&laptop, &new_key, &key, Some(false)).status, 200);
    let a = json_request(&server, "GET", "/v1/records", Some(&tablet), &Value::Null);
    assert_eq!(a.status, 200, "{}", a.body);
}

#[test]
fn guessing_cannot_lock_out_the_runner_and_only_failures_count() {
    let mut c = config();
    c.limits.logins_per_minute_per_user = 3;
    c.limits.logins_per_minute_per_ip = 1_000;
    let server = TestServer::start(c);
    let (laptop, _) = account(&server, "anna");
    let key = auth_key("anna");
    // Successful logins do not use the budget up.
    for _ in 0..5 {
        assert_eq!(login_as(&server, "anna", &key, None).status, 201);
    }
    let wrong = [9u8; 32];
    for _ in 0..3 {
        assert_error(
            &login_as(&server, "anna", &wrong, None),
            401,
            "unauthorized",
        );
    }
    // Now the account backs off logins from anyone...
    let locked = login_as(&server, "anna", &key, None);
    assert_error(&locked, 429, "rate_limited");
    assert_eq!(locked.body["limit"], "logins_per_minute_per_user");
    assert!(locked.header("retry-after").is_some());
    // ...but a device already signed in gets through (adding a new device with the
    // passphrase), and so do the signed-in device's own requests.
    let vouched = login_as(&server, "anna", &key, Some(&laptop));
    assert_eq!(vouched.status, 201, "{}", vouched.body);
    let a = json_request(&server, "GET", "/v1/records", Some(&laptop), &Value::Null);
    assert_eq!(a.status, 200);
    // A session of another account vouches for nothing.
    let (bea, _) = account(&server, "bea");
    assert_error(
        &login_as(&server, "anna", &key, Some(&bea)),
        429,
        "rate_limited",
    );
    server.clock.advance(60_000);
    assert_eq!(login_as(&server, "anna", &key, None).status, 201);
}

#[test]
fn behind_a_trusted_proxy_each_client_has_its_own_address_limit() {
    let limit = |header: Option<&str>, trusted: &str| {
        let mut c = config();
        c.limits.logins_per_minute_per_ip = 2;
        c.client_ip_header = header.map(str::to_string);
        c.trusted_proxies = vec![trusted.parse().unwrap()];
        let server = TestServer::start(c);
        let body = json!({"username": "anna", "auth_key": B64.encode([1u8; 32]),
                          "device_name": "x"});
        let bytes = serde_json::to_vec(&body).unwrap();
        let from = |client: &str| {
            request(
                &server,
                "POST",
                "/v1/sessions",
                &[
                    ("content-type", "application/json"),
                    ("x-forwarded-for", &format!("198.51.100.9, {client}")),
                ],
                &bytes,
            )
            .status
        };
        let first: Vec<u16> = (0..3).map(|_| from("203.0.113.1")).collect();
        let second: Vec<u16> = (0..3).map(|_| from("203.0.113.2")).collect();
        (first, second)
    };
    // Told the header, from a trusted proxy: one budget per client.
    let (a, b) = limit(Some("x-forwarded-for"), "127.0.0.1");
    assert_eq!(a, [401, 401, 429]);
    assert_eq!(b, [401, 401, 429]);
    // Not told, or from a proxy it does not trust: the header is ignored.
    for (header, trusted) in [(None, "127.0.0.1"), (Some("x-forwarded-for"), "10.0.0.1")] {
        let (a, b) = limit(header, trusted);
        assert_eq!(a, [401, 401, 429]);
        assert_eq!(b, [429, 429, 429]);
    }
}

#[test]
fn a_device_that_only_downloads_is_seen() {
    let server = TestServer::start(config());
    let (laptop, _) = account(&server, "anna");
    let reader = login_as(&server, "anna", &auth_key("anna"), None);
    let reader_token = reader.body["token"].as_str().unwrap();
    let reader_id = reader.body["device_id"].as_str().unwrap();
    server.clock.advance(3_600_000);
    let a = json_request(
        &server,
        "GET",
        "/v1/records",
        Some(reader_token),
        &Value::Null,
    );
    assert_eq!(a.status, 200);
    let list = json_request(&server, "GET", "/v1/devices", Some(&laptop), &Value::Null);
    let seen = list.body["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == reader_id)
        .unwrap()["last_seen_ms"]
        .as_i64();
    assert_eq!(seen, Some(T0 + 3_600_000), "{}", list.body);
}

fn limited(server: &TestServer, limit: &str) -> u64 {
    let mut s = TcpStream::connect(server.server.addr).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n")
        .unwrap();
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    text.lines()
        .find(|l| l.starts_with(&format!("strideguard_limited_total{{limit=\"{limit}\"}}")))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Reads until the server closes the connection; how long that took.
fn closed_after(mut s: TcpStream) -> (Duration, Vec<u8>) {
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let start = Instant::now();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    (start.elapsed(), out)
}

#[test]
fn idle_slow_and_slow_body_connections_are_closed_and_counted() {
    let mut c = config();
    c.header_timeout = Duration::from_secs(1);
    c.body_timeout = Duration::from_secs(1);
    let server = TestServer::start(c);
    // Connected, never a byte.
    let idle = TcpStream::connect(server.server.addr).unwrap();
    // Headers a byte at a time, never finished (slowloris).
    let mut slow = TcpStream::connect(server.server.addr).unwrap();
    slow.write_all(b"GET /health HTTP/1.1\r\nhost: t\r\n")
        .unwrap();
    // One request, then idle on the keep-alive connection.
    let mut kept = TcpStream::connect(server.server.addr).unwrap();
    kept.write_all(b"GET /health HTTP/1.1\r\nhost: t\r\n\r\n")
        .unwrap();
    for s in [idle, slow, kept] {
        let (took, _) = closed_after(s);
        assert!(took < Duration::from_secs(10), "closed after {took:?}");
    }
    assert!(limited(&server, "header_timeout") >= 3);

    // A body that stops halfway: 408, in JSON.
    let mut body = TcpStream::connect(server.server.addr).unwrap();
    body.write_all(
        b"POST /v1/sessions HTTP/1.1\r\nhost: t\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"user",
    )
    .unwrap();
    let (took, out) = closed_after(body);
    assert!(took < Duration::from_secs(10));
    let a = parse(&out);
    assert_error(&a, 408, "request_timeout");
    assert!(limited(&server, "body_timeout") >= 1);
}

#[test]
fn connections_past_the_limit_get_503_and_the_server_stays_up() {
    let mut c = config();
    c.max_connections = 4;
    c.header_timeout = Duration::from_secs(30);
    let server = TestServer::start(c);
    let held: Vec<TcpStream> = (0..4)
        .map(|_| TcpStream::connect(server.server.addr).unwrap())
        .collect();
    // The listener takes connections in the order they came: the fifth is over the limit.
    let over = TcpStream::connect(server.server.addr).unwrap();
    let (_, out) = closed_after(over);
    let a = parse(&out);
    assert_error(&a, 503, "unavailable");
    assert_eq!(a.body["limit"], "max_connections");
    assert!(a.header("retry-after").is_some());
    drop(held);
    // Freed, the server answers again.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let a = request(&server, "GET", "/health", &[], b"");
        if a.status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "{}", a.body);
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(limited(&server, "max_connections") >= 1);
}
