//! The server's memory under many concurrent pulls stays near one page per pull it is
//! serving at once (`page_bytes` x `max_concurrent_pulls`), however many devices pull and
//! however large the account. The server runs as its own process (the real binary), so its
//! peak resident memory is read from `/proc` apart from the clients'.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::json;
use strideguard_proto::wire::Limits;

struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(data: &std::path::Path) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_strideguard-server"))
            .args([
                "--bind",
                "127.0.0.1:0",
                "--min-kdf-iterations",
                "1000",
                "--requests-per-minute",
                "100000",
                "--data",
            ])
            .arg(data)
            .env("RUST_LOG", "warn")
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
        Server { child, url }
    }

    /// The server's peak and current resident memory, in bytes.
    fn memory(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
                .unwrap()
                * 1024
        };
        (field("VmHWM:"), field("VmRSS:"))
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(300)))
        .build()
        .new_agent()
}

/// Keeps only a page's last bytes (where `next` and `done` are): the payloads stream past.
#[derive(Default)]
struct Tail(Vec<u8>);

impl std::io::Write for Tail {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .extend_from_slice(&buf[buf.len().saturating_sub(100)..]);
        let keep = self.0.len().saturating_sub(100);
        self.0.drain(..keep);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Tail {
    /// `next` and `done` from the end of the page.
    fn cursor(&self) -> (i64, bool) {
        let text = String::from_utf8_lossy(&self.0);
        let after = |key: &str| text.rsplit(key).next().unwrap_or("").to_string();
        let next = after("\"next\":")
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .unwrap_or("")
            .parse()
            .unwrap();
        (next, after("\"done\":").starts_with("true"))
    }
}

#[test]
fn many_concurrent_full_pulls_hold_about_a_page_each_at_most() {
    const RECORDS: usize = 12;
    const PAYLOAD: usize = 250_000;
    const PULLS: usize = 120;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let url = server.url.clone();
    let a = agent();
    let auth = B64.encode([5u8; 32]);
    a.post(format!("{url}/v1/accounts"))
        .send_json(
            json!({"username": "anna", "auth_key": auth, "kdf": {"iterations": 1000},
                          "wrapped_key": B64.encode([7u8; 60])}),
        )
        .unwrap();
    let session: serde_json::Value = a
        .post(format!("{url}/v1/sessions"))
        .send_json(json!({"username": "anna", "auth_key": auth, "device_name": "laptop"}))
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap();
    let token = session["token"].as_str().unwrap().to_string();
    for chunk in 0..RECORDS / 6 {
        let records: Vec<_> = (0..6)
            .map(|i| {
                json!({"collection": "c".repeat(64), "id": uuid::Uuid::new_v4().to_string(),
                       "deleted": false, "payload": B64.encode(vec![(chunk * 6 + i) as u8; PAYLOAD])})
            })
            .collect();
        let status = a
            .post(format!("{url}/v1/records"))
            .header("authorization", format!("Bearer {token}"))
            .send_json(json!({ "records": records }))
            .unwrap()
            .status();
        assert_eq!(status, 200);
    }
    let account_bytes = (RECORDS * PAYLOAD) as u64;
    let (_, before) = server.memory();

    let threads: Vec<_> = (0..PULLS)
        .map(|_| {
            let (url, token) = (url.clone(), token.clone());
            std::thread::spawn(move || {
                let a = agent();
                let mut since = 0;
                loop {
                    let mut resp = a
                        .get(format!("{url}/v1/records?since={since}"))
                        .header("authorization", format!("Bearer {token}"))
                        .call()
                        .unwrap();
                    assert_eq!(resp.status(), 200);
                    let mut tail = Tail::default();
                    std::io::copy(&mut resp.body_mut().as_reader(), &mut tail).unwrap();
                    let (next, done) = tail.cursor();
                    since = next;
                    if done {
                        return since;
                    }
                }
            })
        })
        .collect();
    for t in threads {
        assert_eq!(
            t.join().unwrap(),
            RECORDS as i64,
            "every pull reached the last record"
        );
    }
    let (peak, after) = server.memory();
    let grew = peak.saturating_sub(before);
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    let limits = Limits::default();
    let pulls_at_once = strideguard_server::ServerConfig::default().max_concurrent_pulls as u64;
    let page = limits.page_bytes as u64;
    eprintln!(
        "{PULLS} concurrent pulls of a {:.1} MiB account: server peak +{:.1} MiB, {:.1} MiB resident after \
         (pages of {:.1} MiB, {pulls_at_once} served at once)",
        mib(account_bytes),
        mib(grew),
        mib(after),
        mib(page)
    );
    // Each pull being served holds its page, the JSON of it (4/3 larger), the base64 of each
    // record on the way, and the allocator's slack: 8 pages each is the bound, and a fixed
    // part for the database's caches. The unbounded server held the whole account and its
    // JSON per request in flight: 120 x 2.9 MiB x 2.3 here, about 800 MiB.
    let bound = 8 * page * pulls_at_once + 32 * (1 << 20);
    assert!(
        grew < bound,
        "peak grew {:.1} MiB; the bound is {:.1} MiB",
        mib(grew),
        mib(bound)
    );
}
