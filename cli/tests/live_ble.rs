//! `strideguard scan` and `strideguard live --device` through the real btleplug code path, against
//! the BlueZ stand-in on a private D-Bus (see `strideguard_tests::bluez`).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use strideguard_tests::bluez::{start_bus, start_standin};

#[test]
fn scan_then_a_live_session_with_a_dropout_is_coached_and_saved() {
    let dir = tempfile::tempdir().unwrap();
    let (_bus, address) = start_bus(dir.path());
    let _standin = start_standin(&address, 40, 1000);
    let db = dir.path().join("runner.db");
    let bin = env!("CARGO_BIN_EXE_strideguard");
    let cmd = |args: &[&str]| {
        let mut c = Command::new(bin);
        c.arg("--db")
            .arg(&db)
            .args(args)
            .env("DBUS_SYSTEM_BUS_ADDRESS", &address);
        c
    };

    let out = cmd(&["scan", "--json", "--seconds", "1"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let devices: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(devices[0]["name"], "Strideguard Footpod");
    assert_eq!(devices[0]["address"], "AA:BB:CC:DD:EE:01");
    assert_eq!(
        devices[0]["services"],
        serde_json::json!(["heart_rate", "running_speed_cadence"])
    );

    // A live session; ctrl-c ends it once the sensor has dropped out and come back.
    let mut child = cmd(&[
        "live",
        "--device",
        "Strideguard Footpod",
        "--target",
        "170",
        "--json",
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<String>>()
    });
    let deadline = Instant::now() + Duration::from_secs(12);
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    ctrl_c(&child);
    let status = child.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(status.success(), "live ended with {status}: {err}");
    let lines: Vec<Value> = reader
        .join()
        .unwrap()
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let of = |t: &str| lines.iter().filter(|l| l["type"] == t).count();
    assert_eq!(of("connected"), 1);
    let connected = lines.iter().find(|l| l["type"] == "connected").unwrap();
    assert_eq!(
        (&connected["manufacturer"], &connected["model"]),
        (&Value::from("Strideguard Labs"), &Value::from("SG-1"))
    );
    // The battery is read at the start: 12% is low, and the runner is told once.
    let low: Vec<&Value> = lines
        .iter()
        .filter(|l| l["event"] == "battery_low")
        .collect();
    assert_eq!(low.len(), 1);
    assert_eq!(low[0]["percent"], 12);
    assert_eq!(of("disconnected"), 1, "the dropout is told once");
    assert_eq!(of("reconnected"), 1);
    assert!(of("reading") > 60, "{}", of("reading"));
    let reading = lines.iter().find(|l| l["type"] == "reading").unwrap();
    assert_eq!(reading["cadence_spm"], 156.0);
    assert_eq!(reading["speed_mps"], 3.0);
    let summary = &lines.last().unwrap()["summary"];
    let run_id = summary["run_id"].as_str().expect("the run is saved");

    let out = Command::new(bin)
        .arg("--db")
        .arg(&db)
        .args(["run", "show", run_id, "--json"])
        .output()
        .unwrap();
    let run: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(run["source"], "live");
    assert!(run["sample_count"].as_u64().unwrap() > 60);
    // The sensor and its cadence unit are remembered for next time.
    let remembered: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("sensors.json")).unwrap())
            .unwrap();
    assert_eq!(remembered["last_device"], "Strideguard Footpod");
    assert_eq!(remembered["units"]["Strideguard Footpod"], "strides");
}

/// Sends SIGINT (ctrl-c) to the session, as a runner ending it would.
#[allow(unsafe_code)]
fn ctrl_c(child: &std::process::Child) {
    // SAFETY: kill(2) on our own child process, not yet reaped; it touches no memory of ours.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
}
