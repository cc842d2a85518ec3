//! `strideguard import` on whole exports, through the binary: a Strava export zip and folder,
//! a Garmin Connect export with its part zips, a damaged entry, and importing again.

mod support;

use serde_json::Value;
use strideguard_tests::exports::{
    daily_runs, garmin_export, garmin_part, gz, strava_export, write_folder, zip,
};
use support::Env;

fn totals(report: &Value) -> (u64, u64, u64, u64) {
    let t = &report["totals"];
    (
        t["imported"].as_u64().unwrap(),
        t["duplicates"].as_u64().unwrap(),
        t["skipped"].as_u64().unwrap(),
        t["failed"].as_u64().unwrap(),
    )
}

fn file<'a>(report: &'a Value, ends: &str) -> &'a Value {
    let found: Vec<&Value> = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["path"].as_str().unwrap().ends_with(ends))
        .collect();
    assert_eq!(found.len(), 1, "{ends} in {report:#}");
    found[0]
}

#[test]
fn a_strava_export_zip_lands_with_names_shoes_and_rpe_and_again_as_duplicates() {
    let env = Env::new();
    let dir = tempfile::tempdir().unwrap();
    let export = strava_export();
    let path = dir.path().join("export_12345.zip");
    std::fs::write(&path, zip(&export.files)).unwrap();
    let path = path.to_str().unwrap();

    let report = env.json(&["import", path, "--json"]);
    assert_eq!(totals(&report), (4, 0, 1, 0), "{report:#}");
    let ride = file(&report, "export_12345.zip!activities/103.gpx.gz");
    assert_eq!(ride["status"], "skipped");
    assert!(ride["reason"].as_str().unwrap().contains("Ride"));

    let runs = env.json(&["run", "list", "--json"]);
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 4);
    let pegasus = env.shoe("Pegasus 40");
    let vaporfly = env.shoe("Vaporfly");
    assert_eq!(
        env.json(&["shoe", "list", "--json"])
            .as_array()
            .unwrap()
            .len(),
        2
    );
    for expected in &export.runs {
        let imported = report["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| {
                f["path"]
                    .as_str()
                    .unwrap()
                    .contains(&format!("activities/{}.", expected.id))
            })
            .unwrap();
        assert_eq!(imported["status"], "imported");
        let run = runs.iter().find(|r| r["id"] == imported["run_id"]).unwrap();
        assert_eq!(run["notes"], expected.notes);
        assert_eq!(run["rpe"], expected.rpe.map_or(Value::Null, Value::from));
        let shoe = match expected.gear {
            Some("Pegasus 40") => pegasus["id"].clone(),
            Some("Vaporfly") => vaporfly["id"].clone(),
            _ => Value::Null,
        };
        assert_eq!(run["shoe_id"], shoe, "{}", expected.id);
    }
    let on = |shoe: &Value| -> f64 {
        runs.iter()
            .filter(|r| r["shoe_id"] == shoe["id"])
            .map(|r| r["distance_m"].as_f64().unwrap())
            .sum()
    };
    assert_eq!(pegasus["run_count"], 2);
    assert!((pegasus["distance_m"].as_f64().unwrap() - on(&pegasus)).abs() < 1e-6);
    assert!(pegasus["distance_m"].as_f64().unwrap() > 11_000.0);
    assert_eq!(vaporfly["run_count"], 1);
    assert!((vaporfly["distance_m"].as_f64().unwrap() - on(&vaporfly)).abs() < 1e-6);

    let again = env.json(&["import", path, "--json"]);
    assert_eq!(totals(&again), (0, 4, 1, 0));
    for f in again["files"].as_array().unwrap() {
        if f["status"] == "duplicate" {
            assert_eq!(f["reason"], "same_file");
        }
    }
    assert_eq!(
        env.json(&["run", "list", "--json"])
            .as_array()
            .unwrap()
            .len(),
        4
    );
    let text = env.ok(&["import", path]);
    assert!(
        text.contains("imported 0, duplicates 4, skipped 1, failed 0"),
        "{text}"
    );
}

#[test]
fn a_strava_folder_with_a_shoe_already_there_reuses_it() {
    let env = Env::new();
    let dir = tempfile::tempdir().unwrap();
    let export = strava_export();
    write_folder(dir.path(), &export.files);
    env.ok(&["shoe", "add", "--name", "vaporfly"]);
    let report = env.json(&["import", dir.path().to_str().unwrap(), "--json"]);
    assert_eq!(totals(&report), (4, 0, 1, 0), "{report:#}");
    let shoes = env.json(&["shoe", "list", "--json"]);
    let names: Vec<&str> = shoes
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.contains(&"vaporfly") && names.contains(&"Pegasus 40"));
    // 105 names it; 104 has no gear and goes on the default shoe, which vaporfly is.
    assert_eq!(env.shoe("vaporfly")["run_count"], 2);
}

#[test]
fn a_garmin_export_with_a_damaged_entry_imports_the_rest_and_names_it() {
    let env = Env::new();
    let dir = tempfile::tempdir().unwrap();
    let runs = daily_runs("2024-06-01T07:00:00+02:00", 6, 8);
    let mut part2 = garmin_part(&runs[3..], 500);
    part2.insert(
        1,
        ("runner@example.com_999.fit".into(), b"garbage".to_vec()),
    );
    let bytes = garmin_export(&[garmin_part(&runs[..3], 100), part2]);
    let path = dir.path().join("garmin.zip");
    std::fs::write(&path, bytes).unwrap();
    let path = path.to_str().unwrap();

    let out = env.run(&["import", path, "--json"]);
    assert!(!out.status.success(), "a failed file fails the command");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(totals(&report), (6, 0, 0, 1), "{report:#}");
    let bad = file(
        &report,
        "garmin.zip!DI_CONNECT/DI-Connect-Uploaded-Files/UploadedFiles_0-_Part2.zip!runner@example.com_999.fit",
    );
    assert_eq!(bad["status"], "failed");
    assert!(
        bad["reason"]
            .as_str()
            .unwrap()
            .contains("not a valid FIT file")
    );
    assert_eq!(
        env.json(&["run", "list", "--json"])
            .as_array()
            .unwrap()
            .len(),
        6
    );

    // Without --json: a line per file, the damaged one on stderr with its place in the zip.
    let again = env.run(&["import", path]);
    let stdout = String::from_utf8_lossy(&again.stdout);
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(
        stdout.contains("imported 0, duplicates 6, skipped 0, failed 1"),
        "{stdout}"
    );
    assert!(
        stderr.contains("failed     ")
            && stderr.contains("UploadedFiles_0-_Part2.zip!runner@example.com_999.fit"),
        "{stderr}"
    );
}

#[test]
fn a_gzipped_file_is_imported_like_the_file() {
    let env = Env::new();
    let dir = tempfile::tempdir().unwrap();
    let runs = daily_runs("2024-06-01T07:00:00+02:00", 1, 8);
    let fit = &garmin_part(&runs, 1)[0].1;
    let gzipped = dir.path().join("1.fit.gz");
    std::fs::write(&gzipped, gz(fit)).unwrap();
    let plain = dir.path().join("copy.fit");
    std::fs::write(&plain, fit).unwrap();
    let report = env.json(&["import", gzipped.to_str().unwrap(), "--json"]);
    assert_eq!(totals(&report), (1, 0, 0, 0));
    let again = env.json(&["import", plain.to_str().unwrap(), "--json"]);
    assert_eq!(totals(&again), (0, 1, 0, 0));
    assert_eq!(again["files"][0]["reason"], "same_file");
}

#[test]
fn ctrl_c_stops_an_import_after_a_file_and_the_same_command_goes_on() {
    use std::io::{BufRead, BufReader, Read};
    use std::process::{Command, Stdio};

    let env = Env::new();
    let dir = tempfile::tempdir().unwrap();
    // More files than the lines a pipe holds (64 KiB of about 110 bytes each): the import
    // waits on its output until the test reads it, so the Ctrl-C lands mid-import.
    let n = 1200;
    let runs = daily_runs("2021-01-01T07:00:00+01:00", n, 1);
    write_folder(dir.path(), &garmin_part(&runs, 1));
    let folder = dir.path().to_str().unwrap();
    env.ok(&["run", "list"]); // the database exists before the import starts
    let mut child = Command::new(env!("CARGO_BIN_EXE_strideguard"))
        .args(["--db", env.db.to_str().unwrap(), "import", folder])
        .env("HOME", &env.home)
        .env("TZ", "UTC")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    assert!(first.starts_with("imported   "), "{first}");
    // SAFETY: a signal to our own child, whose pid we hold.
    #[allow(unsafe_code)]
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(err.contains("interrupted after"), "{err}");
    assert!(err.contains("the same command goes on"), "{err}");
    // A line per file ("imported   PATH: ..."), then the totals ("imported N, ...").
    let landed = 1 + rest
        .lines()
        .filter(|l| l.starts_with("imported   "))
        .count();
    assert!(
        rest.contains(&format!("imported {landed}, duplicates 0")),
        "{rest}"
    );
    assert!(landed < n, "stopped early: {landed} of {n}");
    let runs = env.json(&["run", "list", "--json"]);
    assert_eq!(
        runs.as_array().unwrap().len(),
        landed,
        "each file reported landed"
    );

    let again = env.json(&["import", folder, "--json"]);
    assert_eq!(
        totals(&again),
        ((n - landed) as u64, landed as u64, 0, 0),
        "the rest, and what landed as duplicates"
    );
}

#[test]
fn a_file_that_names_no_sport_is_judged_and_the_output_says_so() {
    let env = Env::new();
    let dir = tempfile::tempdir().unwrap();
    let (run, samples) = &daily_runs("2024-06-01T07:00:00+02:00", 1, 8)[0];
    let path = dir.path().join("untyped.gpx");
    std::fs::write(
        &path,
        strideguard_core::export::gpx::write(run, samples, ""),
    )
    .unwrap();
    let path = path.to_str().unwrap();
    let line = env.ok(&["import", path]);
    assert!(line.starts_with("imported   "), "{line}");
    assert!(line.contains("(no sport in the file"), "{line}");
    let other = Env::new();
    let report = other.json(&["import", path, "--json"]);
    let note = report["files"][0]["note"].as_str().unwrap();
    assert!(note.starts_with("no sport in the file"), "{note}");
}
