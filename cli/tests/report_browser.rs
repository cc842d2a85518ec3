//! The HTML report in a real browser: headless Chromium driven through chromedriver (W3C
//! WebDriver on 127.0.0.1). Every chart must have a visible size, the console must stay clean,
//! and a screenshot is kept under the target dir for a person to look at.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Kills chromedriver (and with it the browser) however the test ends.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(60)))
        .http_status_as_error(false)
        .build()
        .into()
}

fn call(agent: &ureq::Agent, method: &str, url: &str, body: Option<Value>) -> Value {
    let mut resp = match (method, body) {
        ("POST", Some(b)) => agent.post(url).send_json(b),
        ("DELETE", _) => agent.delete(url).call(),
        _ => agent.get(url).call(),
    }
    .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let v: Value = resp.body_mut().read_json().unwrap();
    if let Some(err) = v["value"].get("error") {
        panic!("{method} {url}: {err}: {}", v["value"]["message"]);
    }
    v
}

fn target_dir() -> PathBuf {
    // The test binary lives in target/<profile>/deps.
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).unwrap().to_path_buf()
}

#[test]
fn the_html_report_renders_every_chart_without_console_errors() {
    for tool in [CHROMIUM, CHROMEDRIVER] {
        assert!(
            Path::new(tool).exists(),
            "{tool} is missing: install Debian's chromium and chromium-driver (bash .ci/run does)"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_strideguard"))
        .args(["demo", "--end", "2026-11-25", "--dir"])
        .arg(dir.path().join("demo"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = dir.path().join("demo/report.html");
    assert!(report.exists());

    let port = free_port();
    let _driver = Driver(
        Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    let agent = agent();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let ready = agent
            .get(&format!("{base}/status"))
            .call()
            .ok()
            .and_then(|mut r| r.body_mut().read_json::<Value>().ok())
            .is_some_and(|v| v["value"]["ready"] == true);
        if ready {
            break;
        }
        assert!(Instant::now() < deadline, "chromedriver did not start");
        std::thread::sleep(Duration::from_millis(100));
    }

    let profile = dir.path().join("chromium-profile");
    let session = call(
        &agent,
        "POST",
        &format!("{base}/session"),
        Some(json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--window-size=900,2600",
                    format!("--user-data-dir={}", profile.display()),
                ]
            }
        }}})),
    );
    let id = session["value"]["sessionId"].as_str().unwrap().to_string();
    let s = format!("{base}/session/{id}");
    let severe_logs = || -> Vec<Value> {
        let logs = call(
            &agent,
            "POST",
            &format!("{s}/se/log"),
            Some(json!({"type": "browser"})),
        );
        logs["value"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["level"] == "SEVERE")
            .cloned()
            .collect()
    };
    // First prove the console check can see an error at all (reading the log also clears it).
    call(
        &agent,
        "POST",
        &format!("{s}/url"),
        Some(json!({"url": "data:text/html,<script>console.error('probe')</script>"})),
    );
    assert!(
        severe_logs()
            .iter()
            .any(|e| e["message"].as_str().unwrap_or("").contains("probe")),
        "the browser log does not capture console errors"
    );
    call(
        &agent,
        "POST",
        &format!("{s}/url"),
        Some(json!({"url": format!("file://{}", report.display())})),
    );
    let title = call(&agent, "GET", &format!("{s}/title"), None);
    assert_eq!(title["value"], "Strideguard report 2026-11-25");

    let sizes = call(
        &agent,
        "POST",
        &format!("{s}/execute/sync"),
        Some(json!({
            "script": "return Array.from(document.querySelectorAll('figure')).map(f => { \
                const svg = f.querySelector('svg'); const r = svg ? svg.getBoundingClientRect() : null; \
                return [f.id, r ? r.width : 0, r ? r.height : 0]; });",
            "args": []
        })),
    );
    let figures = sizes["value"].as_array().unwrap();
    let ids: Vec<&str> = figures.iter().map(|f| f[0].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        ["chart-weekly", "chart-acwr", "chart-shoes", "chart-cadence"]
    );
    for f in figures {
        let (w, h) = (f[1].as_f64().unwrap(), f[2].as_f64().unwrap());
        assert!(w > 100.0 && h > 100.0, "{} is {w} x {h}", f[0]);
    }

    let errors = severe_logs();
    assert!(errors.is_empty(), "console errors: {errors:?}");

    let shot = call(&agent, "GET", &format!("{s}/screenshot"), None);
    let png = base64::engine::general_purpose::STANDARD
        .decode(shot["value"].as_str().unwrap())
        .unwrap();
    assert_eq!(&png[1..4], b"PNG");
    let saved = target_dir().join("report-screenshot.png");
    std::fs::write(&saved, &png).unwrap();
    eprintln!("screenshot: {}", saved.display());
    call(&agent, "DELETE", &s, None);
}
