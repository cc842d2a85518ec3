//! The JSON contract of `--json`, as snapshots (insta): every document scripts and apps read,
//! from a history built the same way each time at a fixed `STRIDEGUARD_NOW`. Fields may be
//! added (update the snapshots with `INSTA_UPDATE=always cargo test -p strideguard-cli --test
//! json_contract` and review the diff), never renamed or removed. Random ids, temporary paths,
//! the server's address and its clock are replaced by placeholders.

mod support;

use serde_json::Value;
use strideguard_tests::sync::{TestServer, config};
use support::Env;

const NOW: &str = "2026-05-20T07:30:00+02:00";

/// Replaces what differs from run to run: UUIDs (wherever they appear), the temporary folder,
/// the test server's address, and times the server's clock set.
fn stable(v: Value, dir: &str, server: Option<&str>) -> Value {
    match v {
        Value::String(s) => {
            let mut s = s.replace(dir, "[dir]");
            if let Some(url) = server {
                s = s.replace(url, "[server]");
            }
            Value::String(without_uuids(&s))
        }
        Value::Array(a) => Value::Array(a.into_iter().map(|x| stable(x, dir, server)).collect()),
        Value::Object(o) => Value::Object(
            o.into_iter()
                .map(|(k, x)| {
                    let x =
                        if matches!(k.as_str(), "created_at_ms" | "last_seen_ms") && !x.is_null() {
                            Value::String("[server time]".into())
                        } else {
                            stable(x, dir, server)
                        };
                    (k, x)
                })
                .collect(),
        ),
        other => other,
    }
}

fn without_uuids(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        let is_uuid = i + 36 <= b.len()
            && s.is_char_boundary(i + 36)
            && uuid::Uuid::parse_str(&s[i..i + 36]).is_ok()
            && s[i..i + 36].matches('-').count() == 4;
        if is_uuid {
            out.push_str("[uuid]");
            i += 36;
        } else {
            let c = s[i..].chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

fn env() -> Env {
    let mut env = Env::new();
    env.now = Some(NOW.into());
    env
}

fn snap(env: &Env, name: &str, args: &[&str]) {
    let dir = env.db.parent().unwrap().display().to_string();
    insta::assert_json_snapshot!(name, stable(env.json(args), &dir, None));
}

#[test]
fn runs_shoes_and_the_profile() {
    let env = env();
    snap(
        &env,
        "profile_set",
        &[
            "profile",
            "set",
            "--tz",
            "Europe/Berlin",
            "--resting-hr",
            "50",
            "--max-hr",
            "190",
            "--json",
        ],
    );
    snap(
        &env,
        "shoe_add",
        &[
            "shoe",
            "add",
            "--name",
            "Pegasus 40",
            "--brand",
            "Nike",
            "--start-distance",
            "400km",
            "--json",
        ],
    );
    env.ok(&[
        "shoe",
        "add",
        "--name",
        "Trail",
        "--start-distance",
        "900km",
    ]);
    snap(
        &env,
        "run_add",
        &[
            "run",
            "add",
            "--date",
            "2026-05-18T07:00",
            "--distance",
            "10km",
            "--duration",
            "55:00",
            "--kind",
            "easy",
            "--rpe",
            "4",
            "--avg-hr",
            "142",
            "--cadence",
            "168",
            "--notes",
            "river",
            "--json",
        ],
    );
    for (day, km) in [
        ("2026-05-11", "8km"),
        ("2026-05-13", "12km"),
        ("2026-05-16", "21km"),
    ] {
        env.ok(&[
            "run",
            "add",
            "--date",
            day,
            "--distance",
            km,
            "--duration",
            "1:00:00",
            "--rpe",
            "5",
        ]);
    }
    let runs = env.json(&["run", "list", "--json"]);
    snap(&env, "run_list", &["run", "list", "--json"]);
    let id = runs[0]["id"].as_str().unwrap().to_string();
    snap(
        &env,
        "run_edit",
        &["run", "edit", &id, "--kind", "long", "--no-rpe", "--json"],
    );
    snap(&env, "shoe_list", &["shoe", "list", "--json"]);
    snap(
        &env,
        "shoe_edit",
        &["shoe", "edit", "Trail", "--replace-at", "1000km", "--json"],
    );
    snap(&env, "profile_show", &["profile", "show", "--json"]);
    snap(&env, "report", &["report", "--weeks", "3", "--json"]);
    snap(&env, "account_status", &["account", "status", "--json"]);
}

#[test]
fn import_and_a_run_with_samples() {
    let env = env();
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures");
    let dir = env.db.parent().unwrap().join("watch");
    std::fs::create_dir_all(&dir).unwrap();
    for f in [
        "garmin-fenix-5-run.fit",
        "garmin-fenix-5-bike.fit",
        "activity-filecrc.fit",
    ] {
        std::fs::copy(fixtures.join(f), dir.join(f)).unwrap();
    }
    std::fs::copy(
        fixtures.join("garmin-fenix-5-run.fit"),
        dir.join("again.fit"),
    )
    .unwrap();
    let out = env.run(&["import", dir.to_str().unwrap(), "--json"]);
    let base = env.db.parent().unwrap().display().to_string();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    insta::assert_json_snapshot!("import", stable(report.clone(), &base, None));
    let id = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["status"] == "imported")
        .unwrap()["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    snap(
        &env,
        "run_show_samples",
        &["run", "show", &id, "--json", "--samples"],
    );
}

#[test]
fn pain_triage_and_plan() {
    let env = env();
    env.ok(&["profile", "set", "--tz", "Europe/Berlin"]);
    snap(
        &env,
        "pain_log",
        &[
            "pain",
            "log",
            "--location",
            "knee_outer",
            "--side",
            "left",
            "--severity",
            "5",
            "--character",
            "sharp",
            "--timing",
            "consistent_point_in_run",
            "--aggravator",
            "downhill",
            "--onset",
            "2026-05-17T08:00",
            "--improving",
            "no",
            "--json",
        ],
    );
    snap(&env, "pain_list", &["pain", "list", "--json"]);
    snap(&env, "triage", &["triage", "--json"]);
    env.ok(&["plan", "done", "clamshells"]);
    snap(&env, "plan_show", &["plan", "show", "--json"]);
}

#[test]
fn a_live_session() {
    let env = env();
    env.ok(&["shoe", "add", "--name", "Pegasus"]);
    let out = env.ok(&["live", "--simulate", "dropout", "--target", "172", "--json"]);
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // One of each kind of line, in order of first appearance, and the summary.
    let mut kinds = Vec::new();
    let mut firsts = Vec::new();
    for l in &lines {
        let kind = format!(
            "{}:{}",
            l["type"],
            l["kind"].as_str().or(l["event"].as_str()).unwrap_or("")
        );
        if !kinds.contains(&kind) {
            kinds.push(kind);
            firsts.push(l.clone());
        }
    }
    let dir = env.db.parent().unwrap().display().to_string();
    insta::assert_json_snapshot!("live_lines", stable(Value::Array(firsts), &dir, None));
}

#[test]
fn sync_and_devices() {
    let server = TestServer::start(config());
    let env = env();
    env.ok(&[
        "run",
        "add",
        "--date",
        "2026-05-18",
        "--distance",
        "5km",
        "--duration",
        "30:00",
    ]);
    let vars = [("STRIDEGUARD_PASSPHRASE", "correct horse battery staple")];
    env.ok_with(
        &[
            "account",
            "register",
            "--server",
            &server.url(),
            "--user",
            "contract",
            "--device-name",
            "laptop",
            "--kdf-iterations",
            "1000",
        ],
        &vars,
    );
    let dir = env.db.parent().unwrap().display().to_string();
    let url = server.url();
    insta::assert_json_snapshot!(
        "account_status_linked",
        stable(env.json(&["account", "status", "--json"]), &dir, Some(&url))
    );
    insta::assert_json_snapshot!(
        "sync",
        stable(env.json(&["sync", "--json"]), &dir, Some(&url))
    );
    insta::assert_json_snapshot!(
        "device_list",
        stable(env.json(&["device", "list", "--json"]), &dir, Some(&url))
    );
}
