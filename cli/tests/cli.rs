//! The `strideguard` binary end to end, on temporary databases: what a runner types and what
//! they (or their scripts) read back.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use support::Env;

fn approx(v: &Value, expected: f64) -> bool {
    (v.as_f64().unwrap() - expected).abs() < 1e-6
}

#[test]
fn a_runner_adds_shoes_and_runs_then_lists_shows_assigns_and_deletes() {
    let env = Env::new();
    env.ok(&["profile", "set", "--tz", "Europe/Berlin", "--units", "km"]);
    let out = env.ok(&[
        "shoe",
        "add",
        "--name",
        "Pegasus 40",
        "--brand",
        "Nike",
        "--start-distance",
        "50km",
    ]);
    assert!(out.contains("Added shoe Pegasus 40"), "{out}");
    env.ok(&[
        "shoe",
        "add",
        "--name",
        "Trail",
        "--wear-at",
        "250mi",
        "--replace-at",
        "400mi",
    ]);

    assert_eq!(
        env.json(&["shoe", "list", "--json"])
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let peg = env.shoe("Pegasus 40");
    let trail = env.shoe("Trail");
    // The first shoe becomes the default.
    assert_eq!(peg["default"], true);
    assert_eq!(trail["default"], false);
    assert!(approx(&peg["distance_m"], 50_000.0));
    assert!(approx(&peg["wear_at_m"], 482_803.2));
    assert!(approx(&peg["replace_at_m"], 804_672.0));
    assert!(approx(&trail["wear_at_m"], 250.0 * 1609.344));
    assert_eq!(peg["retired"], false);
    for key in [
        "id",
        "name",
        "distance_m",
        "wear_at_m",
        "replace_at_m",
        "retired",
        "default",
    ] {
        assert!(peg.get(key).is_some(), "shoe JSON lacks {key}");
    }

    env.ok(&[
        "run",
        "add",
        "--date",
        "2026-03-14T07:30",
        "--distance",
        "10km",
        "--duration",
        "55:00",
        "--kind",
        "easy",
        "--rpe",
        "4",
        "--notes",
        "sunny",
    ]);
    env.ok(&[
        "run",
        "add",
        "--date",
        "2026-03-17",
        "--distance",
        "6.2mi",
        "--duration",
        "1:02:30",
        "--kind",
        "tempo",
        "--shoe",
        "trail",
    ]);
    let runs = env.json(&["run", "list", "--json"]);
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 2);
    let first = &runs[0];
    for key in [
        "id",
        "start",
        "distance_m",
        "duration_s",
        "kind",
        "rpe",
        "shoe_id",
        "avg_cadence_spm",
        "avg_hr_bpm",
        "notes",
    ] {
        assert!(first.get(key).is_some(), "run JSON lacks {key}");
    }
    assert_eq!(first["start"], "2026-03-14T07:30:00+01:00");
    assert!(approx(&first["distance_m"], 10_000.0));
    assert!(approx(&first["duration_s"], 3300.0));
    assert_eq!(first["kind"], "easy");
    assert_eq!(first["rpe"], 4);
    assert_eq!(first["notes"], "sunny");
    assert_eq!(first["shoe_id"], peg["id"], "default shoe assigned");
    assert_eq!(first["avg_cadence_spm"], Value::Null);
    let second = &runs[1];
    assert_eq!(second["start"], "2026-03-17T12:00:00+01:00");
    assert!(approx(&second["distance_m"], 6.2 * 1609.344));
    assert!(approx(&second["duration_s"], 3750.0));
    assert_eq!(second["shoe_id"], trail["id"]);
    assert_eq!(second["rpe"], Value::Null);

    // Show by a short prefix, as the table prints it.
    let id = first["id"].as_str().unwrap();
    let shown = env.json(&["run", "show", &id[..8], "--json"]);
    assert_eq!(&shown["id"], &first["id"]);
    assert_eq!(shown["sample_count"], 0);
    let text = env.ok(&["run", "show", id]);
    assert!(
        text.contains("10.00 km") && text.contains("5:30 /km"),
        "{text}"
    );

    // Metadata can be edited afterwards.
    let edited = env.json(&[
        "run",
        "edit",
        &id[..8],
        "--kind",
        "long",
        "--no-rpe",
        "--notes",
        "windy",
        "--json",
    ]);
    assert_eq!(
        (&edited["kind"], &edited["rpe"], &edited["notes"]),
        (&Value::from("long"), &Value::Null, &Value::from("windy"))
    );
    assert_eq!(
        edited["distance_m"], first["distance_m"],
        "only metadata changes"
    );
    let edited = env.json(&["run", "edit", id, "--rpe", "6", "--notes", "", "--json"]);
    assert_eq!(
        (&edited["kind"], &edited["rpe"], &edited["notes"]),
        (&Value::from("long"), &Value::from(6), &Value::Null)
    );
    assert!(
        env.fails(&["run", "edit", id, "--rpe", "3", "--no-rpe"])
            .contains("cannot be used with")
    );

    // Shoe distance follows the runs.
    assert!(approx(&env.shoe("Pegasus 40")["distance_m"], 60_000.0));

    // Assign the tempo run to the Pegasus, then delete the easy one.
    env.ok(&[
        "shoe",
        "assign",
        second["id"].as_str().unwrap(),
        "Pegasus 40",
    ]);
    assert!(approx(
        &env.shoe("Pegasus 40")["distance_m"],
        60_000.0 + 6.2 * 1609.344
    ));
    env.ok(&["run", "delete", id]);
    let runs = env.json(&["run", "list", "--json"]);
    assert_eq!(runs.as_array().unwrap().len(), 1);
    assert_eq!(runs[0]["shoe_id"], peg["id"]);
    assert!(env.fails(&["run", "show", id]).contains("no run matches"));

    // Default and retire.
    env.ok(&["shoe", "default", "Trail"]);
    assert_eq!(env.shoe("Trail")["default"], true);
    assert_eq!(env.shoe("Pegasus 40")["default"], false);
    env.ok(&["shoe", "retire", "Trail"]);
    let t = env.shoe("Trail");
    assert_eq!(
        (&t["retired"], &t["default"]),
        (&Value::Bool(true), &Value::Bool(false))
    );
}

#[test]
fn human_output_is_a_table_in_the_profile_units() {
    let env = Env::new();
    env.ok(&[
        "profile",
        "set",
        "--units",
        "mi",
        "--tz",
        "America/New_York",
    ]);
    env.ok(&[
        "run",
        "add",
        "--date",
        "2026-05-02T06:15",
        "--distance",
        "10km",
        "--duration",
        "50:00",
    ]);
    let out = env.ok(&["run", "list"]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].contains("Start") && lines[0].contains("Distance"),
        "{out}"
    );
    assert!(lines[2].contains("2026-05-02 06:15"), "{out}");
    assert!(lines[2].contains("6.21 mi"), "{out}");
    assert!(lines[2].contains("8:03 /mi"), "{out}");
    // Columns line up: the header's Distance column ends where the value ends.
    let end = |line: &str, word: &str| line.find(word).unwrap() + word.len();
    assert_eq!(end(lines[0], "Distance"), end(lines[2], "6.21 mi"));
}

#[test]
fn profile_show_and_set() {
    let env = Env::new();
    let p = env.json(&[
        "profile",
        "set",
        "--units",
        "mi",
        "--tz",
        "Europe/Berlin",
        "--target-cadence",
        "172",
        "--resting-hr",
        "50",
        "--max-hr",
        "190",
        "--height",
        "178cm",
        "--json",
    ]);
    assert_eq!(p["units"], "mi");
    assert_eq!(p["time_zone"], "Europe/Berlin");
    assert_eq!(p["target_cadence"], 172.0);
    assert_eq!(p["resting_hr_bpm"], 50);
    assert_eq!(p["max_hr_bpm"], 190);
    assert!(approx(&p["height_m"], 1.78));
    let p = env.json(&[
        "profile",
        "set",
        "--target-cadence",
        "auto",
        "--cadence-increase",
        "7",
        "--json",
    ]);
    assert_eq!(p["target_cadence"], "auto");
    assert_eq!(p["cadence_increase_pct"], 7.0);
    assert_eq!(env.json(&["profile", "show", "--json"]), p);
    let text = env.ok(&["profile", "show"]);
    assert!(
        text.contains("Europe/Berlin") && text.contains("baseline + 7%"),
        "{text}"
    );
}

#[test]
fn bad_input_is_refused_with_a_reason_and_changes_nothing() {
    let env = Env::new();
    env.ok(&["shoe", "add", "--name", "Pegasus 40"]);
    env.ok(&[
        "run",
        "add",
        "--date",
        "2026-03-14",
        "--distance",
        "5km",
        "--duration",
        "30:00",
    ]);
    let before = env.snapshot();

    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "run",
                "add",
                "--date",
                "2026-03-15",
                "--distance",
                "-5km",
                "--duration",
                "30:00",
            ],
            "negative",
        ),
        (
            &[
                "run",
                "add",
                "--date",
                "2026-03-15",
                "--distance",
                "fivekm",
                "--duration",
                "30:00",
            ],
            "is not a number followed by a unit",
        ),
        (
            &[
                "run",
                "add",
                "--date",
                "2026-03-15",
                "--distance",
                "5furlongs",
                "--duration",
                "30:00",
            ],
            "unknown unit 'furlongs'",
        ),
        (
            &[
                "run",
                "add",
                "--date",
                "2026-03-15",
                "--distance",
                "5",
                "--duration",
                "30:00",
            ],
            "has no unit",
        ),
        (
            &[
                "run",
                "add",
                "--date",
                "15/03/2026",
                "--distance",
                "5km",
                "--duration",
                "30:00",
            ],
            "date '15/03/2026' is not YYYY-MM-DD",
        ),
        (
            &[
                "run",
                "add",
                "--date",
                "2026-02-30",
                "--distance",
                "5km",
                "--duration",
                "30:00",
            ],
            "date '2026-02-30'",
        ),
        (
            &[
                "run",
                "add",
                "--date",
                "2026-03-15",
                "--distance",
                "5km",
                "--duration",
                "30:75",
            ],
            "seconds must be below 60",
        ),
        (
            &[
                "run",
                "add",
                "--date",
                "2026-03-15",
                "--distance",
                "5km",
                "--duration",
                "30:00",
                "--shoe",
                "Vaporfly",
            ],
            "no shoe matches 'Vaporfly'",
        ),
        (
            &[
                "run",
                "add",
                "--date",
                "2026-03-15",
                "--distance",
                "5km",
                "--duration",
                "30:00",
                "--rpe",
                "11",
            ],
            "RPE: 11 is outside 0-10",
        ),
        (
            &[
                "run",
                "add",
                "--date",
                "2026-03-15",
                "--distance",
                "5km",
                "--duration",
                "30:00",
                "--kind",
                "jog",
            ],
            "unknown run kind 'jog'",
        ),
        (
            &["shoe", "assign", "ffffffff", "Pegasus 40"],
            "no run matches 'ffffffff'",
        ),
        (&["shoe", "retire", "Vaporfly"], "no shoe matches"),
        (&["shoe", "add", "--name", "pegasus 40"], "already exists"),
        (
            &["shoe", "add", "--name", "X", "--wear-at", "-1mi"],
            "negative",
        ),
        (&["run", "delete", "0000"], "no run matches"),
        (
            &["profile", "set", "--tz", "Mars/Olympus"],
            "time zone 'Mars/Olympus' is unknown",
        ),
        (
            &["profile", "set", "--units", "furlongs"],
            "unknown unit system 'furlongs'",
        ),
    ];
    for (args, expected) in cases {
        let err = env.fails(args);
        assert!(
            err.contains(expected),
            "{args:?}: expected {expected:?} in:\n{err}"
        );
        assert_eq!(env.snapshot(), before, "{args:?} changed the database");
    }
}

#[test]
fn a_db_that_is_not_sqlite_is_refused_and_kept() {
    let env = Env::new();
    let junk = b"this is my training diary, not a database\n".repeat(100);
    std::fs::write(&env.db, &junk).unwrap();
    let err = env.fails(&["run", "list"]);
    assert!(err.contains("is not a SQLite database"), "{err}");
    assert!(err.contains("runner.db"), "the error names the file: {err}");
    assert_eq!(std::fs::read(&env.db).unwrap(), junk);
    let err = env.fails(&[
        "run",
        "add",
        "--date",
        "2026-03-14",
        "--distance",
        "5km",
        "--duration",
        "30:00",
    ]);
    assert!(err.contains("is not a SQLite database"), "{err}");
    assert_eq!(std::fs::read(&env.db).unwrap(), junk);
}

#[test]
fn a_db_from_a_newer_strideguard_is_refused_and_kept() {
    let env = Env::new();
    env.ok(&[
        "run",
        "add",
        "--date",
        "2026-03-14",
        "--distance",
        "5km",
        "--duration",
        "30:00",
    ]);
    // Bump the schema version as a future release would (header bytes 60-63, big-endian).
    let mut bytes = std::fs::read(&env.db).unwrap();
    bytes[60..64].copy_from_slice(&999u32.to_be_bytes());
    std::fs::write(&env.db, &bytes).unwrap();
    let err = env.fails(&["run", "list"]);
    assert!(
        err.contains("newer Strideguard") && err.contains("999"),
        "{err}"
    );
    let err = env.fails(&["shoe", "add", "--name", "X"]);
    assert!(err.contains("newer Strideguard"), "{err}");
    assert_eq!(std::fs::read(&env.db).unwrap(), bytes);
}

#[test]
fn the_db_path_comes_from_the_flag_then_the_environment_then_the_data_dir() {
    let env = Env::new();
    let bin = env!("CARGO_BIN_EXE_strideguard");
    let run = |extra_env: Option<&Path>, args: &[&str]| {
        let mut c = Command::new(bin);
        c.args(args)
            .env("HOME", &env.home)
            .env("XDG_DATA_HOME", env.home.join("data"))
            .env_remove("STRIDEGUARD_DB");
        if let Some(p) = extra_env {
            c.env("STRIDEGUARD_DB", p);
        }
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(None, &["shoe", "add", "--name", "Default place"]);
    assert!(env.home.join("data/strideguard/strideguard.db").exists());
    let via_env = env.home.join("env.db");
    run(Some(&via_env), &["shoe", "add", "--name", "From env"]);
    assert!(via_env.exists());
    let via_flag = env.home.join("nested/dir/flag.db");
    run(
        Some(&via_env),
        &[
            "--db",
            via_flag.to_str().unwrap(),
            "shoe",
            "add",
            "--name",
            "From flag",
        ],
    );
    assert!(via_flag.exists(), "--db wins over STRIDEGUARD_DB");
}

#[test]
fn demo_builds_a_fresh_reproducible_history() {
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_strideguard");
    let demo = |sub: &str| {
        let out = Command::new(bin)
            .args(["demo", "--end", "2026-11-25", "--dir"])
            .arg(dir.path().join(sub))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let out = demo("a");
    // The report: the jump, the worn shoe and the low cadence the history was built with.
    assert!(
        out.contains("The last two weeks: 88.00 km, the two before: 65.00 km: +35%"),
        "{out}"
    );
    assert!(
        out.contains("(two_week_spike)") && out.contains("(shoe_replace)"),
        "{out}"
    );
    assert!(out.contains("(low_cadence)"), "{out}");
    let html = dir.path().join("a/report.html");
    assert!(
        out.contains(&format!("HTML report with charts: {}", html.display())),
        "{out}"
    );
    assert!(std::fs::read_to_string(&html).unwrap().contains("<svg"));
    assert!(
        out.contains("Quicken your steps") && out.contains("Saved as run"),
        "{out}"
    );
    // The last week comes in through the importer, from files the demo wrote.
    assert!(
        out.contains("imported 5, duplicates 1, skipped 0, failed 0"),
        "{out}"
    );
    assert!(
        out.contains("long.other-app.gpx: the same activity as run"),
        "{out}"
    );
    assert!(dir.path().join("a/imports").read_dir().unwrap().count() == 6);
    assert!(out.contains(&dir.path().join("a/strideguard.db").display().to_string()));
    // Sync: a second device gets everything and both agree after offline edits.
    assert!(out.contains("both devices agree: 67 runs"), "{out}");
    let phone = Env::at(dir.path().join("a/phone.db"));
    let laptop = Env::at(dir.path().join("a/strideguard.db"));
    assert_eq!(
        phone.json(&["run", "list", "--json"]),
        laptop.json(&["run", "list", "--json"])
    );
    demo("b");
    let list = |sub: &str| {
        let out = Command::new(bin)
            .arg("--db")
            .arg(dir.path().join(sub).join("strideguard.db"))
            .args(["run", "list", "--json"])
            .output()
            .unwrap();
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    let (a, b) = (list("a"), list("b"));
    assert_eq!(a, b, "same seed and end date, same history");
    let runs = a.as_array().unwrap();
    assert_eq!(runs.len(), 67, "16 weeks of runs and the live session");
    assert_eq!(runs.iter().filter(|r| r["source"] == "live").count(), 1);
    let low_with_samples = runs
        .iter()
        .filter(|r| {
            r["sample_count"].as_u64().unwrap() > 0
                && r["avg_cadence_spm"].as_f64().unwrap() < 162.0
        })
        .count();
    assert!(low_with_samples >= 3);

    // A second demo into the same folder refuses rather than mixing histories.
    let out = Command::new(bin)
        .args(["demo", "--dir"])
        .arg(dir.path().join("a"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
}

#[test]
fn help_explains_every_command() {
    let env = Env::new();
    let top = env.ok(&["--help"]);
    for cmd in ["run", "shoe", "profile", "import", "demo"] {
        assert!(top.contains(cmd), "{top}");
    }
    let add = env.ok(&["run", "add", "--help"]);
    assert!(
        add.contains("10km, 6.2mi or 10000m") && add.contains("HH:MM:SS"),
        "{add}"
    );
}

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

#[test]
fn import_reads_a_folder_of_real_watch_files_once() {
    let env = Env::new();
    env.ok(&["shoe", "add", "--name", "Pegasus 40"]);
    let dir = fixtures();
    let dir = dir.to_str().unwrap();

    let out = env.run(&["import", dir, "--json"]);
    assert!(
        !out.status.success(),
        "two broken files make the exit code non-zero"
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["totals"],
        serde_json::json!({"imported": 4, "duplicates": 0, "skipped": 2, "failed": 2})
    );
    let status_of = |name: &str| {
        report["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["path"].as_str().unwrap().ends_with(name))
            .unwrap_or_else(|| panic!("{name} not reported"))
            .clone()
    };
    assert_eq!(
        status_of("garmin-fenix-5-bike.fit")["reason"],
        "the activity is cycling, not a run"
    );
    assert_eq!(status_of("garmin-fenix-5-walk.fit")["status"], "skipped");
    let eof = status_of("activity-unexpected-eof.fit");
    assert_eq!(eof["status"], "failed");
    assert!(
        eof["reason"]
            .as_str()
            .unwrap()
            .starts_with("not a valid FIT file")
    );
    assert!(
        status_of("activity-filecrc.fit")["reason"]
            .as_str()
            .unwrap()
            .contains("checksum does not match")
    );
    let run = status_of("garmin-fenix-5-run.fit");
    assert_eq!(run["status"], "imported");
    assert_eq!(run["samples"], 21);

    let runs = env.json(&["run", "list", "--json"]);
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 4, "broken files left nothing behind");
    let fenix5 = runs.iter().find(|r| r["id"] == run["run_id"]).unwrap();
    assert_eq!(fenix5["start"], "2017-06-11T07:34:09-07:00");
    assert_eq!(fenix5["source"], "fit");
    assert_eq!(fenix5["sample_count"], 21);
    assert!(approx(&fenix5["distance_m"], 157.56));
    // The one cadence definition: the records' cadence, time-weighted, while stepping. The
    // records (garmin-fenix-5-run-records.csv) give 171.53 in whole strides; the file's
    // fractional cadence adds up to one step a minute. The watch's own session average
    // (167.3) counts the standing start.
    let cadence = fenix5["avg_cadence_spm"].as_f64().unwrap();
    assert!((171.53..172.53).contains(&cadence), "{cadence}");
    assert_eq!(
        fenix5["shoe_id"],
        env.shoe("Pegasus 40")["id"],
        "the default shoe"
    );
    // The Garmin Connect GPX export: 988 points, one-foot cadence doubled to steps per minute,
    // times in UTC shown in the profile's zone (UTC here).
    let gpx = status_of("garmin-activity.gpx");
    assert_eq!(gpx["samples"], 988);
    let gpx_run = runs.iter().find(|r| r["id"] == gpx["run_id"]).unwrap();
    assert_eq!(gpx_run["source"], "gpx");
    assert_eq!(gpx_run["start"], "2017-07-29T14:46:35Z");
    let cadence = gpx_run["avg_cadence_spm"].as_f64().unwrap();
    assert!((140.0..200.0).contains(&cadence), "{cadence}");
    assert!(gpx_run["avg_hr_bpm"].as_f64().unwrap() > 100.0);

    // Importing again finds every run already there.
    let again = env.run(&["import", dir, "--json"]);
    let report: Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(
        report["totals"],
        serde_json::json!({"imported": 0, "duplicates": 4, "skipped": 2, "failed": 2})
    );
    assert_eq!(
        env.json(&["run", "list", "--json"])
            .as_array()
            .unwrap()
            .len(),
        4
    );

    // One good file named directly: success, a readable line, and a summary.
    let text = env.ok(&["import", &format!("{dir}/garmin-fenix-5-run.fit")]);
    assert!(
        text.contains("duplicate") && text.contains("the same file as run"),
        "{text}"
    );
    assert!(
        text.contains("imported 0, duplicates 1, skipped 0, failed 0"),
        "{text}"
    );
}

#[test]
fn import_says_what_it_cannot_read() {
    let env = Env::new();
    let dir = tempfile::tempdir().unwrap();
    let notes = dir.path().join("notes.txt");
    std::fs::write(&notes, "easy 5k").unwrap();
    let out = env.ok(&["import", notes.to_str().unwrap()]);
    assert!(
        out.contains("skipped") && out.contains("not an activity file"),
        "{out}"
    );
    let err = env.fails(&["import", dir.path().join("missing.fit").to_str().unwrap()]);
    assert!(err.contains("missing.fit: it does not exist"), "{err}");
    let err = env.fails(&["import", "--shoe", "Vaporfly", notes.to_str().unwrap()]);
    assert!(err.contains("no shoe matches 'Vaporfly'"), "{err}");
}

#[test]
fn report_json_has_the_documented_fields_and_the_rules_fire() {
    let env = Env::new();
    env.ok(&["profile", "set", "--tz", "Europe/Berlin"]);
    env.ok(&["shoe", "add", "--name", "Old", "--start-distance", "790km"]);
    // Two weeks of 2 x 10 km, then two weeks of 3 x 10 km, every run an hour at RPE 5.
    for day in ["03", "05", "10", "12", "17", "19", "21", "24", "26", "28"] {
        env.ok(&[
            "run",
            "add",
            "--date",
            &format!("2026-03-{day}T07:00"),
            "--distance",
            "10km",
            "--duration",
            "1:00:00",
            "--rpe",
            "5",
            "--kind",
            "easy",
        ]);
    }
    let r = env.json(&["report", "--as-of", "2026-03-30", "--weeks", "4", "--json"]);
    assert_eq!(r["as_of"], "2026-03-30");
    let weeks = r["weeks"].as_array().unwrap();
    assert_eq!(weeks.len(), 4);
    let w11 = &weeks[0];
    assert_eq!(w11["week"], "2026-W11");
    assert!(approx(&w11["distance_m"], 20_000.0));
    assert!(approx(&w11["duration_s"], 7200.0));
    assert_eq!(w11["runs"], 2);
    assert!(approx(&w11["load"], 600.0), "RPE 5 x 60 min x 2");
    assert!(approx(&weeks[2]["load"], 900.0));
    assert_eq!(weeks[3]["week"], "2026-W14");
    assert_eq!(weeks[3]["runs"], 0);
    let acwr = &r["acwr"];
    assert_eq!(acwr["date"], "2026-03-30");
    for key in ["acute", "chronic", "ratio", "zone"] {
        assert!(acwr.get(key).is_some(), "acwr lacks {key}");
    }
    let ratio = acwr["ratio"].as_f64().unwrap();
    assert!(
        (ratio - acwr["acute"].as_f64().unwrap() / acwr["chronic"].as_f64().unwrap()).abs() < 1e-9
    );
    assert_ne!(acwr["zone"], "building_baseline", "27 days of history");
    assert_eq!(r["load_methods"]["rpe"], 10);

    let warnings = r["warnings"].as_array().unwrap();
    let spike = warnings
        .iter()
        .find(|w| w["kind"] == "two_week_spike")
        .unwrap();
    assert_eq!(spike["severity"], "high");
    assert!(approx(&spike["numbers"]["change_pct"], 50.0));
    assert!(spike["explanation"].as_str().unwrap().contains("60.00 km"));
    let shoe = warnings
        .iter()
        .find(|w| w["kind"] == "shoe_replace")
        .unwrap();
    assert!(approx(&shoe["numbers"]["distance_m"], 890_000.0));
    assert!(
        !warnings.iter().any(|w| w["kind"] == "weekly_increase"),
        "W13 equals W12"
    );
    assert_eq!(r["shoes"][0]["status"], "replace");
    assert!(r["cadence"].get("baseline").is_some());

    // Text and HTML from the same data.
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("r.html");
    let text = env.ok(&[
        "report",
        "--as-of",
        "2026-03-30",
        "--html",
        html.to_str().unwrap(),
    ]);
    assert!(
        text.contains("Last two weeks +50% on the two before"),
        "{text}"
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert_eq!(page.matches("<svg").count(), 4);
    // Self-contained: no scripts, no linked stylesheets, images or fonts.
    for tag in ["<script", "<link", "src=", "url("] {
        assert!(!page.contains(tag), "the page contains {tag}");
    }
    // Bad input: a malformed date.
    assert!(
        env.fails(&["report", "--as-of", "30/03/2026"])
            .contains("is not YYYY-MM-DD")
    );
}

#[test]
fn pain_log_triage_and_plan() {
    let env = Env::new();
    env.ok(&["profile", "set", "--tz", "Europe/Berlin"]);
    // A week of long downhill runs before the pain.
    for (day, km, down) in [
        ("2026-03-14", "16km", "320m"),
        ("2026-03-16", "14km", "300m"),
        ("2026-03-18", "18km", "380m"),
    ] {
        env.ok(&[
            "run",
            "add",
            "--date",
            day,
            "--distance",
            km,
            "--duration",
            "1:30:00",
            "--elevation-gain",
            down,
        ]);
    }
    let err = env.fails(&["triage"]);
    assert!(err.contains("the pain log is empty"), "{err}");
    let logged = env.json(&[
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
        "2026-03-19T08:00",
        "--improving",
        "no",
        "--json",
    ]);
    assert_eq!(logged["location"], "knee_outer");
    assert_eq!(logged["onset"], "2026-03-19T08:00:00+01:00");
    let list = env.json(&["pain", "list", "--json"]);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["aggravators"], serde_json::json!(["downhill"]));

    // 34 hours in: self-care, IT band syndrome, and the downhill runs named.
    let t = env.json(&["triage", "--now", "2026-03-20T18:00", "--json"]);
    assert_eq!(t["urgency"], "self_care");
    assert_eq!(t["likely"], "it_band_syndrome");
    assert_eq!(t["patterns"][0]["id"], "it_band_syndrome");
    assert_eq!(t["plan"], "it_band_syndrome");
    assert_eq!(t["episode_entries"], 1);
    let data = t["your_data"].as_array().unwrap();
    let downhill = data
        .iter()
        .find(|n| n["topic"] == "downhill")
        .expect("downhill named");
    assert!(
        downhill["text"].as_str().unwrap().contains("2026-03-18"),
        "{downhill}"
    );
    assert!(
        t["disclaimer"]
            .as_str()
            .unwrap()
            .contains("not a diagnosis tool")
    );
    // Four days in without improvement: book a physio.
    let t = env.json(&["triage", "--now", "2026-03-23T09:00", "--json"]);
    assert_eq!(t["urgency"], "book_physio");

    // The triage made the plan active.
    let plan = env.json(&["plan", "show", "--json"]);
    assert_eq!(plan["plan_for"], "it_band_syndrome");
    let ids: Vec<&str> = plan["exercises"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"foam_roll_it_band") && ids.contains(&"clamshells"),
        "{ids:?}"
    );
    assert!(
        plan["return_to_run"]
            .as_str()
            .unwrap()
            .contains("3 out of 10")
    );
    env.ok(&["plan", "done", "clamshells"]);
    let plan = env.json(&["plan", "show", "--json"]);
    let clam = plan["exercises"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == "clamshells")
        .unwrap();
    assert_eq!(
        (&clam["done_today"], &clam["done_last_7_days"]),
        (&Value::Bool(true), &Value::from(1))
    );
    assert!(
        env.fails(&["plan", "done", "burpees"])
            .contains("not in your it_band_syndrome plan")
    );

    // A red flag overrides everything.
    env.ok(&[
        "pain",
        "log",
        "--location",
        "ankle",
        "--side",
        "right",
        "--severity",
        "8",
        "--red-flag",
        "cannot_bear_weight",
        "--onset",
        "2026-03-22T10:00",
    ]);
    let t = env.json(&["triage", "--now", "2026-03-22T12:00", "--json"]);
    assert_eq!(t["urgency"], "see_professional_now");
    assert_eq!(t["red_flags"], serde_json::json!(["cannot_bear_weight"]));
    assert_eq!(t["patterns"], serde_json::json!([]));
}

#[test]
fn triage_answers_file_is_stateless_and_bad_answers_name_the_field() {
    let env = Env::new();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("answers.json");
    let good = r#"{"location": "achilles", "side": "left", "severity": 3, "character": ["stiffness"],
        "timing": ["morning", "start_of_run_eases"], "aggravators": [], "swelling": false,
        "red_flags": {"cannot_bear_weight": false, "deformity": false,
                      "numbness_or_shooting_pain": false, "severe_unrelenting": false},
        "onset": "2026-03-19T07:00:00+01:00", "improving": null}"#;
    std::fs::write(&file, good).unwrap();
    let t = env.json(&[
        "triage",
        "--answers",
        file.to_str().unwrap(),
        "--now",
        "2026-03-19T20:00:00+01:00",
        "--json",
    ]);
    assert_eq!(t["likely"], "achilles_tendinopathy");
    assert_eq!(t["urgency"], "self_care");
    assert!((t["hours_since_onset"].as_f64().unwrap() - 13.0).abs() < 1e-9);
    let text = env.ok(&[
        "triage",
        "--answers",
        file.to_str().unwrap(),
        "--now",
        "2026-03-19T20:00:00+01:00",
    ]);
    assert!(
        text.contains("Achilles tendinopathy") && text.contains("especially for the ankle"),
        "{text}"
    );
    // Nothing logged, no database created.
    assert!(!env.db.exists(), "a stateless check writes nothing");

    for (bad, expected) in [
        (
            good.replace("\"achilles\"", "\"kneecap\""),
            "location: unknown answer 'kneecap': expected one of knee_front,",
        ),
        (
            good.replace("\"severity\": 3", "\"severity\": 11"),
            "severity: 11 is outside 0-10",
        ),
        (good[..60].to_string(), "EOF"),
    ] {
        std::fs::write(&file, bad).unwrap();
        let err = env.fails(&["triage", "--answers", file.to_str().unwrap()]);
        assert!(
            err.contains(expected) && err.contains("answers.json"),
            "{expected}: {err}"
        );
    }
    for (args, expected) in [
        (
            vec![
                "pain",
                "log",
                "--location",
                "kneecap",
                "--side",
                "left",
                "--severity",
                "3",
            ],
            "location: unknown answer 'kneecap'",
        ),
        (
            vec![
                "pain",
                "log",
                "--location",
                "shin_inner",
                "--side",
                "left",
                "--severity",
                "11",
            ],
            "severity: 11 is outside 0-10",
        ),
        (
            vec!["pain", "log", "--side", "left"],
            "missing answers: --location, --severity",
        ),
        (
            vec![
                "pain",
                "log",
                "--location",
                "hip",
                "--side",
                "up",
                "--severity",
                "2",
            ],
            "side: unknown answer 'up'",
        ),
    ] {
        let err = env.fails(&args);
        assert!(err.contains(expected), "{args:?}: {err}");
    }
    assert!(
        env.json(&["pain", "list", "--json"])
            .as_array()
            .unwrap()
            .is_empty()
    );
}

fn json_lines(out: &str) -> Vec<Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn live_simulation_coaches_and_saves_the_run() {
    let env = Env::new();
    env.ok(&["shoe", "add", "--name", "Daily"]);
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("session.txt");
    let out = env.ok(&[
        "live",
        "--simulate",
        "low-cadence",
        "--target",
        "170",
        "--json",
        "--record",
        rec.to_str().unwrap(),
    ]);
    let lines = json_lines(&out);
    let cues: Vec<&Value> = lines.iter().filter(|l| l["type"] == "cue").collect();
    assert!(cues.iter().filter(|c| c["kind"] == "quicken").count() >= 5);
    assert!(cues.iter().any(|c| c["kind"] == "on_target"));
    assert!(
        cues.iter().all(|c| c["t_s"].as_f64().unwrap() >= 120.0),
        "silent in the warm-up"
    );
    let first = cues[0];
    assert_eq!(first["target_spm"], 170.0);
    assert!(first["current_spm"].as_f64().unwrap() < 167.0);
    assert_eq!(lines.iter().filter(|l| l["type"] == "reading").count(), 900);
    assert!(
        lines.iter().any(|l| l["type"] == "event"
            && l["event"] == "cadence_unit"
            && l["unit"] == "strides")
    );
    let summary = &lines.last().unwrap()["summary"];
    let id = summary["run_id"].as_str().unwrap();
    let run = env.json(&["run", "show", id, "--json"]);
    assert_eq!(run["source"], "live");
    assert_eq!(run["sample_count"], 900);
    assert_eq!(run["shoe_id"], env.shoe("Daily")["id"], "the default shoe");
    assert!((run["duration_s"].as_f64().unwrap() - 900.0).abs() < 1e-9);
    assert!(run["avg_cadence_spm"].as_f64().unwrap() < 168.0);

    // The recording replays to the same cues.
    let replayed = json_lines(&env.ok(&[
        "live",
        "--replay",
        rec.to_str().unwrap(),
        "--target",
        "170",
        "--json",
    ]));
    let kinds = |l: &[Value]| -> Vec<String> {
        l.iter()
            .filter(|x| x["type"] == "cue")
            .map(|x| format!("{} {}", x["t_s"], x["kind"]))
            .collect()
    };
    assert_eq!(kinds(&replayed), kinds(&lines));
}

#[test]
fn live_dropout_bad_packets_and_bad_files() {
    let env = Env::new();
    let out = json_lines(&env.ok(&["live", "--simulate", "dropout", "--target", "170", "--json"]));
    let cue = |k: &str| {
        out.iter()
            .filter(|l| l["type"] == "cue" && l["kind"] == k)
            .count()
    };
    assert_eq!((cue("sensor_lost"), cue("sensor_back")), (1, 1));

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rec.txt");
    let mut text = String::from("# device: Footpod X\n");
    for t in 0..200 {
        text.push_str(&format!("{t}.5 2a37 06 96\n{t}.9 2a53 04 00 03 55\n"));
    }
    text.push_str("200.5 2a53 06 00 03\n"); // cut short
    std::fs::write(&file, &text).unwrap();
    let out = env.ok(&[
        "live",
        "--replay",
        file.to_str().unwrap(),
        "--target",
        "170",
    ]);
    assert!(out.contains("Live coaching from Footpod X"), "{out}");
    assert!(out.contains("skipped a bad packet"), "{out}");
    assert!(out.contains("1 bad packets were skipped"), "{out}");
    assert!(out.contains("Saved as run"), "{out}");

    std::fs::write(&file, "0.5 2a37 06 96\n1.0 2a99 00\n").unwrap();
    let err = env.fails(&["live", "--replay", file.to_str().unwrap()]);
    assert!(
        err.contains("line 2: unknown characteristic '2a99'") && err.contains("rec.txt"),
        "{err}"
    );
    assert!(env.fails(&["live"]).contains("--simulate"));
    assert!(
        env.fails(&["live", "--simulate", "sprint"])
            .contains("not steady, low-cadence or dropout")
    );
}

#[test]
fn thresholds_are_the_runners_to_change() {
    let env = Env::new();
    env.ok(&["profile", "set", "--tz", "Europe/Berlin"]);
    // 20 km then 23 km: +15%.
    for (day, km) in [("2026-03-04", "20km"), ("2026-03-11", "23km")] {
        env.ok(&[
            "run",
            "add",
            "--date",
            day,
            "--distance",
            km,
            "--duration",
            "2:00:00",
        ]);
    }
    let kinds = |env: &Env| -> Vec<String> {
        let r = env.json(&["report", "--as-of", "2026-03-16", "--json"]);
        r["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["kind"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(kinds(&env).contains(&"weekly_increase".to_string()));
    let p = env.json(&[
        "profile",
        "set",
        "--threshold",
        "weekly_increase_pct=20",
        "--threshold",
        "single_run_spike_pct=20",
        "--json",
    ]);
    assert_eq!(p["thresholds"]["weekly_increase_pct"], 20.0);
    assert_eq!(p["thresholds"]["base_weeks"], 4);
    assert!(
        !kinds(&env).contains(&"weekly_increase".to_string()),
        "+15% is within the runner's 20%"
    );
    let r = env.json(&["report", "--as-of", "2026-03-16", "--json"]);
    assert_eq!(r["thresholds"]["weekly_increase_pct"], 20.0);
    assert!(
        env.ok(&["profile", "show"])
            .contains("weekly_increase_pct=20")
    );
    let err = env.fails(&["profile", "set", "--threshold", "ten_percent=5"]);
    assert!(err.contains("unknown threshold 'ten_percent'"), "{err}");
    assert!(
        env.fails(&["profile", "set", "--threshold", "base_weeks=2.5"])
            .contains("whole number")
    );
    env.ok(&["profile", "set", "--reset-thresholds"]);
    assert!(kinds(&env).contains(&"weekly_increase".to_string()));
}

#[test]
fn two_computers_sync_through_a_server_and_manage_devices() {
    use strideguard_tests::sync::{TestServer, config};
    let server = TestServer::start(config());
    let url = server.url();
    let pass = [("STRIDEGUARD_PASSPHRASE", "correct horse battery")];
    let ok = |env: &Env, args: &[&str], vars: &[(&str, &str)]| env.ok_with(args, vars);
    let fails = |env: &Env, args: &[&str], vars: &[(&str, &str)]| env.fails_with(args, vars);

    let laptop = Env::new();
    laptop.ok(&["shoe", "add", "--name", "Pegasus", "--default"]);
    laptop.ok(&[
        "run",
        "add",
        "--date",
        "2026-11-20",
        "--distance",
        "10km",
        "--duration",
        "50:00",
        "--notes",
        "river loop",
    ]);
    let err = fails(&laptop, &["sync"], &[]);
    assert!(err.contains("not linked to a sync account"), "{err}");
    assert!(
        err.contains("hint: link this database first: `strideguard account register`"),
        "the CLI adds its own hint: {err}"
    );
    let err = fails(
        &laptop,
        &[
            "account",
            "register",
            "--server",
            &url,
            "--user",
            "Anna",
            "--kdf-iterations",
            "1000",
        ],
        &[],
    );
    assert!(err.contains("STRIDEGUARD_PASSPHRASE"), "{err}");
    ok(
        &laptop,
        &[
            "account",
            "register",
            "--server",
            &url,
            "--user",
            "Anna",
            "--kdf-iterations",
            "1000",
            "--device-name",
            "laptop",
        ],
        &pass,
    );
    let up: Value = serde_json::from_str(&ok(&laptop, &["sync", "--json"], &[])).unwrap();
    assert_eq!(up["uploaded"], 2, "the shoe and the run: {up}");
    assert_eq!(up["username"], "anna");

    let phone = Env::new();
    let err = fails(
        &phone,
        &["account", "login", "--server", &url, "--user", "anna"],
        &[("STRIDEGUARD_PASSPHRASE", "not the passphrase")],
    );
    assert!(err.contains("wrong username or passphrase"), "{err}");
    ok(
        &phone,
        &[
            "account",
            "login",
            "--server",
            &url,
            "--user",
            "anna",
            "--device-name",
            "phone",
        ],
        &pass,
    );
    let down: Value = serde_json::from_str(&ok(&phone, &["sync", "--json"], &[])).unwrap();
    assert_eq!(down["downloaded"], 2, "{down}");
    for key in ["uploaded", "downloaded", "merged", "conflicts_resolved"] {
        assert!(down[key].is_u64(), "{key} in {down}");
    }
    let runs = phone.json(&["run", "list", "--json"]);
    assert_eq!(runs, laptop.json(&["run", "list", "--json"]));
    assert_eq!(runs[0]["notes"], "river loop");
    assert_eq!(phone.shoe("Pegasus")["distance_m"], 10_000.0);

    // Devices: the phone sees both and revokes the laptop by an id prefix.
    let devices = phone.json(&["device", "list", "--json"]);
    let devices = devices.as_array().unwrap();
    assert_eq!(devices.len(), 2);
    let laptop_id = devices.iter().find(|d| d["current"] == false).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let said = phone.ok(&["device", "revoke", &laptop_id[..8]]);
    assert!(said.contains("laptop"), "{said}");
    let err = fails(&laptop, &["sync"], &[]);
    assert!(err.contains("log in again"), "{err}");

    // A new passphrase: the old one stops working for new logins.
    ok(
        &phone,
        &["account", "passwd"],
        &[
            ("STRIDEGUARD_PASSPHRASE", "correct horse battery"),
            ("STRIDEGUARD_NEW_PASSPHRASE", "a brand new passphrase"),
        ],
    );
    let watch = Env::new();
    fails(
        &watch,
        &["account", "login", "--server", &url, "--user", "anna"],
        &pass,
    );
    ok(
        &watch,
        &["account", "login", "--server", &url, "--user", "anna"],
        &[("STRIDEGUARD_PASSPHRASE", "a brand new passphrase")],
    );
    ok(&watch, &["sync"], &[]);
    assert_eq!(watch.json(&["run", "list", "--json"]), runs);

    ok(&phone, &["account", "logout"], &[]);
    let status = phone.json(&["account", "status", "--json"]);
    assert_eq!(status["linked"], false);
    assert_eq!(
        phone.json(&["run", "list", "--json"]),
        runs,
        "the data stays"
    );
}

/// Every seed's history syncs from the laptop to the phone and both agree, field for field
/// (the demo itself checks and fails otherwise).
#[test]
fn demo_passes_for_every_seed() {
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_strideguard");
    let failed: Vec<String> = (0..20u64)
        .filter_map(|seed| {
            let out = Command::new(bin)
                .args(["demo", "--seed", &seed.to_string(), "--dir"])
                .arg(dir.path().join(format!("seed-{seed}")))
                .output()
                .unwrap();
            (!out.status.success()).then(|| {
                format!(
                    "seed {seed}: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                )
            })
        })
        .collect();
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}
