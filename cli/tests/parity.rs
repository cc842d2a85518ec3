//! The command line and the phone bindings give the same answers for the same database, at the
//! same moment: the rules live once, in core. Each check runs the `strideguard` binary and the
//! bindings' Rust surface (what Kotlin, Swift and Python call through the generated code) on
//! one file, with the same clock (`STRIDEGUARD_NOW` for the CLI, a `WallClock` for the app).

mod support;

use std::sync::Arc;

use serde_json::Value;
use strideguard_ffi::error::StrideguardError;
use strideguard_ffi::listeners::{ListenerError, WallClock};
use strideguard_ffi::live::Reading;
use strideguard_ffi::records::{NewRun, NewShoe, ShoeWear};
use strideguard_ffi::sensors::FootpodBridge;
use strideguard_ffi::{Strideguard, pain};
use strideguard_sensor::simulate::{Scenario, simulate};
use support::Env;

/// 2026-05-20T07:30:00+02:00, a Wednesday in Berlin.
const NOW: &str = "2026-05-20T07:30:00+02:00";
const NOW_MS: i64 = 1_779_255_000_000;

struct Fixed;

impl WallClock for Fixed {
    fn now_ms(&self) -> Result<i64, ListenerError> {
        Ok(NOW_MS)
    }
}

/// The CLI and the app on one new database, both at [`NOW`].
fn both() -> (Env, Arc<Strideguard>) {
    let mut env = Env::new();
    env.now = Some(NOW.into());
    env.ok(&["profile", "set", "--tz", "Europe/Berlin"]);
    let app = Strideguard::open(
        env.db.display().to_string(),
        None,
        Some(Arc::new(Fixed) as Arc<dyn WallClock>),
    )
    .unwrap();
    (env, app)
}

fn day_run(app: &Strideguard, days_ago: i64, km: f64, minutes: f64) {
    app.add_run(NewRun {
        start_unix_ms: NOW_MS - days_ago * 86_400_000,
        utc_offset_seconds: None,
        distance_meters: km * 1000.0,
        duration_seconds: minutes * 60.0,
        kind: None,
        rpe: Some(4),
        shoe: None,
        notes: None,
        avg_heart_rate_bpm: None,
        avg_cadence_spm: None,
        elevation_gain_meters: None,
    })
    .unwrap();
}

fn reason(e: StrideguardError) -> String {
    e.to_string()
}

#[test]
fn now_and_today_come_from_one_clock() {
    let (env, app) = both();
    assert_eq!(app.now_ms(), NOW_MS);
    let report = env.json(&["report", "--json"]);
    assert_eq!(report["as_of"], "2026-05-20");
    assert_eq!(app.report(None, 8).unwrap().as_of, "2026-05-20");
    let plan = env.json(&["plan", "show", "--json"]);
    assert_eq!(plan["today"], app.plan().unwrap().today.as_str());
    let logged = env.json(&[
        "pain",
        "log",
        "--location",
        "knee_front",
        "--side",
        "left",
        "--severity",
        "3",
        "--json",
    ]);
    let entry = &app.pain_entries().unwrap()[0];
    assert_eq!(entry.logged_at_unix_ms, NOW_MS);
    assert_eq!(
        logged["logged_at"].as_str().unwrap(),
        "2026-05-20T05:30:00Z",
        "the CLI's log time is the same instant"
    );
    assert_eq!(
        entry.answers.onset_unix_ms, NOW_MS,
        "onset defaults to now in both"
    );
}

#[test]
fn the_first_shoe_becomes_the_default_in_both() {
    let (env, app) = both();
    env.ok(&["shoe", "add", "--name", "From the CLI"]);
    let shoes = app.shoes().unwrap();
    assert!(shoes[0].is_default);
    let (env2, app2) = both();
    let added = app2
        .add_shoe(NewShoe {
            name: "From the app".into(),
            brand: None,
            model: None,
            start_distance_meters: 0.0,
            wear_at_meters: None,
            replace_at_meters: None,
            make_default: false,
        })
        .unwrap();
    assert!(added.is_default);
    assert_eq!(env2.shoe("From the app")["default"], true);
    drop(env);
}

#[test]
fn shoe_wear_state_is_the_same_everywhere() {
    let (env, app) = both();
    for (name, start) in [("Fresh", "0km"), ("Worn", "500km"), ("Done", "900km")] {
        env.ok(&["shoe", "add", "--name", name, "--start-distance", start]);
    }
    env.ok(&["shoe", "add", "--name", "Old"]);
    env.ok(&["shoe", "retire", "Old"]);
    let cli: Vec<(String, String)> = env
        .json(&["shoe", "list", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_string(),
                s["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let wear = |w: ShoeWear| match w {
        ShoeWear::Ok => "ok",
        ShoeWear::CheckWear => "check_wear",
        ShoeWear::Replace => "replace",
        ShoeWear::Retired => "retired",
    };
    let app_side: Vec<(String, String)> = app
        .shoes()
        .unwrap()
        .into_iter()
        .map(|s| (s.name, wear(s.wear).to_string()))
        .collect();
    assert_eq!(cli, app_side);
    assert_eq!(
        cli.iter().map(|(_, s)| s.as_str()).collect::<Vec<_>>(),
        ["replace", "ok", "check_wear", "retired"]
    );
    let report = env.json(&["report", "--json"]);
    let in_report: Vec<&str> = report["shoes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        in_report,
        ["replace", "ok", "check_wear", "retired"],
        "by name: Done, Fresh, Worn; retired last"
    );
}

#[test]
fn the_active_plan_and_its_ticks_agree() {
    let (env, app) = both();
    env.ok(&[
        "pain",
        "log",
        "--location",
        "achilles",
        "--side",
        "right",
        "--severity",
        "3",
        "--character",
        "stiffness",
        "--timing",
        "morning",
        "--onset",
        "2026-05-18",
    ]);
    let triage = env.json(&["triage", "--json"]);
    assert_eq!(triage["plan"], "achilles_tendinopathy");
    let plan = app.plan().unwrap();
    assert_eq!(plan.plan_for, pain::PlanKind::AchillesTendinopathy);
    let cli_plan = env.json(&["plan", "show", "--json"]);
    assert_eq!(cli_plan["id"], plan.id.as_str());
    assert_eq!(
        cli_plan["exercises"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_str().unwrap())
            .collect::<Vec<_>>(),
        plan.exercises
            .iter()
            .map(|e| e.id.as_str())
            .collect::<Vec<_>>()
    );
    assert!(
        app.tick_exercise("eccentric_heel_drops".into(), None)
            .unwrap()
    );
    let after = env.json(&["plan", "show", "--json"]);
    let heel = after["exercises"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == "eccentric_heel_drops")
        .unwrap()
        .clone();
    assert_eq!(
        (heel["done_today"].clone(), heel["done_last_7_days"].clone()),
        (Value::Bool(true), 1.into())
    );
    assert!(
        env.ok(&["plan", "done", "eccentric-heel-drops"])
            .contains("already ticked off")
    );
    // Another plan's exercise is refused by both, in the same words.
    let cli = env.fails(&["plan", "done", "clamshells"]);
    let app_err = reason(app.tick_exercise("clamshells".into(), None).unwrap_err());
    assert!(
        app_err.starts_with("'clamshells' is not in your achilles_tendinopathy plan"),
        "{app_err}"
    );
    assert!(cli.contains(&app_err), "{cli}");
}

#[test]
fn a_live_session_becomes_the_same_run() {
    let (env, app) = both();
    env.ok(&["shoe", "add", "--name", "Pegasus"]);
    let cli = env.ok(&["live", "--simulate", "steady", "--target", "172", "--json"]);
    let summary: Value = serde_json::from_str(cli.lines().last().unwrap()).unwrap();
    let cli_run = env.json(&[
        "run",
        "show",
        summary["summary"]["run_id"].as_str().unwrap(),
        "--json",
    ]);
    // The same notifications through the bindings' footpod bridge into a live session.
    let bridge = FootpodBridge::new(None);
    let session = app.clone().start_live_session(Some(172.0), None).unwrap();
    for n in simulate(Scenario::Steady, 172.0) {
        let out = bridge.handle(i32::from(n.characteristic), n.bytes, n.t_s);
        if let Some(r) = out.reading {
            session.feed(Reading { ..r });
        }
    }
    let run = session.save(None).unwrap().unwrap();
    let cli_shoe = cli_run["shoe_id"].as_str().unwrap();
    assert_eq!(
        run.shoe_id.as_deref(),
        Some(cli_shoe),
        "the default shoe, both"
    );
    assert_eq!(
        run.start_unix_ms,
        cli_run_start(&cli_run),
        "its duration before now, both"
    );
    assert_eq!(
        run.duration_seconds,
        cli_run["duration_s"].as_f64().unwrap()
    );
    assert_eq!(run.distance_meters, cli_run["distance_m"].as_f64().unwrap());
    assert_eq!(run.avg_cadence_spm, cli_run["avg_cadence_spm"].as_f64());
    assert_eq!(run.avg_heart_rate_bpm, cli_run["avg_hr_bpm"].as_f64());
    assert_eq!(run.notes.as_deref(), cli_run["notes"].as_str());
    assert_eq!(run.sample_count, cli_run["sample_count"].as_i64().unwrap());
    let s = session.summary();
    assert_eq!(s.in_band_pct, summary["summary"]["in_band_pct"].as_f64());
}

fn cli_run_start(run: &Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(run["start"].as_str().unwrap())
        .unwrap()
        .timestamp_millis()
}

#[test]
fn the_accepted_ranges_are_the_same() {
    let (env, app) = both();
    let cli = env.fails(&[
        "run",
        "add",
        "--date",
        "2026-05-19",
        "--distance",
        "5km",
        "--duration",
        "30:00",
        "--rpe",
        "11",
    ]);
    let mut run = NewRun {
        start_unix_ms: NOW_MS,
        utc_offset_seconds: None,
        distance_meters: 5000.0,
        duration_seconds: 1800.0,
        kind: None,
        rpe: Some(11),
        shoe: None,
        notes: None,
        avg_heart_rate_bpm: None,
        avg_cadence_spm: None,
        elevation_gain_meters: None,
    };
    let app_err = reason(app.add_run(run.clone()).unwrap_err());
    assert_eq!(app_err, "RPE: 11 is outside 0-10");
    assert!(cli.contains(&app_err), "{cli}");
    run.rpe = Some(10);
    app.add_run(run.clone()).unwrap();

    let cli = env.fails(&[
        "run",
        "add",
        "--date",
        "2026-05-19",
        "--distance",
        "5km",
        "--duration",
        "30:00",
        "--cadence",
        "400",
    ]);
    let mut quick = run.clone();
    quick.rpe = None;
    quick.avg_cadence_spm = Some(400.0);
    let app_err = reason(app.add_run(quick).unwrap_err());
    assert_eq!(
        app_err,
        "cadence: 400 steps/min is outside 60-260 steps/min"
    );
    assert!(cli.contains(&app_err), "{cli}");

    let cli = env.fails(&["report", "--weeks", "0"]);
    let app_err = reason(app.report(None, 0).unwrap_err());
    assert!(cli.contains("weeks: 0 is outside 1-520"), "{cli}");
    assert_eq!(app_err, "weeks: 0 is outside 1-520");
    assert!(
        env.fails(&["report", "--weeks", "521"])
            .contains("outside 1-520")
    );
    env.ok(&["report", "--weeks", "520", "--json"]);
    app.report(None, 520).unwrap();

    let cli = env.fails(&["live", "--simulate", "steady", "--target", "90"]);
    let app_err = reason(app.coach_target(Some(90.0)).unwrap_err());
    assert_eq!(
        app_err,
        "target cadence: 90 steps/min is outside 100-240 steps/min"
    );
    assert!(cli.contains(&app_err), "{cli}");
    let cli = env.fails(&["profile", "set", "--target-cadence", "250"]);
    assert!(
        cli.contains("target cadence: 250 steps/min is outside 100-240 steps/min"),
        "{cli}"
    );
}

#[test]
fn the_report_and_its_html_page_are_the_same() {
    let (env, app) = both();
    for d in (1..60).step_by(2) {
        day_run(&app, d, 5.0 + (d % 7) as f64, 30.0 + d as f64 / 2.0);
    }
    env.ok(&[
        "profile",
        "set",
        "--threshold",
        "weekly_increase_pct=7",
        "--threshold",
        "acwr_sweet_spot_high=1.2",
    ]);
    let cli = env.json(&["report", "--json", "--weeks", "6"]);
    let rep = app.report(None, 6).unwrap();
    assert_eq!(cli["as_of"], rep.as_of.as_str());
    let cli_weeks: Vec<f64> = cli["weeks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["distance_m"].as_f64().unwrap())
        .collect();
    let app_weeks: Vec<f64> = rep.weeks.iter().map(|w| w.totals.distance_meters).collect();
    assert_eq!(cli_weeks, app_weeks);
    let cli_warnings: Vec<&str> = cli["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["title"].as_str().unwrap())
        .collect();
    let app_warnings: Vec<&str> = rep.warnings.iter().map(|w| w.title.as_str()).collect();
    assert_eq!(cli_warnings, app_warnings);
    assert_eq!(
        cli["acwr"]["ratio"].as_f64(),
        rep.acwr.as_ref().unwrap().ratio
    );
    assert_eq!(
        cli["thresholds"]["weekly_increase_pct"].as_f64(),
        rep.thresholds
            .iter()
            .find(|t| t.name == "weekly_increase_pct")
            .map(|t| t.value)
    );
    let html = env.db.with_file_name("report.html");
    env.ok(&["report", "--weeks", "6", "--html", html.to_str().unwrap()]);
    let cli_page = std::fs::read_to_string(&html).unwrap();
    let app_page = app.report_html(None, 6).unwrap();
    assert_eq!(cli_page, app_page);
    assert!(
        app_page.contains("+7% guide") && app_page.contains("0.8-1.2,"),
        "the runner's own marks"
    );
}

#[test]
fn an_export_writes_the_same_files_from_both() {
    let (env, app) = both();
    for d in [1, 3, 5] {
        day_run(&app, d, 5.0 + d as f64, 30.0 + d as f64);
    }
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/activity-small-fenix2-run.fit");
    env.ok(&["import", fixture.to_str().unwrap()]);
    let scratch = tempfile::tempdir().unwrap();
    // What the app's async call runs on.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for format in ["fit", "tcx", "csv"] {
        let cli_dir = scratch.path().join(format!("cli-{format}"));
        let app_dir = scratch.path().join(format!("app-{format}"));
        let cli = env.json(&[
            "export",
            "--all",
            "--format",
            format,
            "--out",
            cli_dir.to_str().unwrap(),
            "--json",
        ]);
        let app_format = strideguard_core::export::ExportFormat::from_name(format).unwrap();
        let summary = runtime
            .block_on(app.clone().export_runs(
                Vec::new(),
                app_format.into(),
                app_dir.display().to_string(),
                false,
                None,
                None,
            ))
            .unwrap();
        assert_eq!(cli["totals"]["written"], summary.written as u64, "{format}");
        let names = |dir: &std::path::Path| {
            let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
                .unwrap()
                .map(|e| {
                    let e = e.unwrap();
                    (
                        e.file_name().to_string_lossy().into_owned(),
                        std::fs::read(e.path()).unwrap(),
                    )
                })
                .collect();
            v.sort();
            v
        };
        let (a, b) = (names(&cli_dir), names(&app_dir));
        assert_eq!(a.len(), 4 + usize::from(format == "csv"), "{format}");
        assert!(
            a == b,
            "{format}: the CLI and the app wrote different files"
        );
    }
}
