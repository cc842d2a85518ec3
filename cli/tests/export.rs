//! `strideguard export`: runs written into a folder in every format, then imported by a second
//! database (as another app, or this one on a new computer, would), which must find the same
//! runs: the summary, the sample stream and, from FIT, the running dynamics and power.

mod support;

use std::path::Path;

use chrono::DateTime;
use serde_json::Value;
use strideguard_core::export;
use strideguard_core::model::{Run, Sample};
use support::Env;
use uuid::Uuid;

/// Twenty minutes at 1 Hz on a straight line north, every channel a watch with a chest strap
/// records, each value on the FIT file's own resolution.
fn watch_run() -> (Run, Vec<Sample>) {
    let n = 1200;
    let metres_per_degree = 6_371_008.8_f64.to_radians();
    let samples: Vec<Sample> = (0..n)
        .map(|i| {
            let d = i as f64 * 3.1;
            Sample {
                t_s: i as f64,
                lat_deg: Some(52.5 + d / metres_per_degree),
                lon_deg: Some(13.4),
                altitude_m: Some(34.0 + (i % 40) as f64 * 0.2),
                distance_m: Some((d * 100.0).round() / 100.0),
                speed_mps: Some(3.1),
                hr_bpm: Some(140 + (i % 17) as u8),
                cadence_spm: Some(170.0 + (i % 3) as f64 * 2.0),
                stride_m: Some(1.094),
                stance_time_s: Some((2400 + i % 60) as f64 / 10_000.0),
                stance_balance_left_pct: Some((4950 + i % 30) as f64 / 100.0),
                vertical_oscillation_m: Some((850 + i % 40) as f64 / 10_000.0),
                vertical_ratio_pct: Some((780 + i % 20) as f64 / 100.0),
                power_w: Some((270 + i % 25) as f64),
            }
        })
        .collect();
    let mut run = Run::new(
        Uuid::new_v4(),
        DateTime::parse_from_rfc3339("2026-03-14T07:30:00+01:00").unwrap(),
        samples.last().unwrap().distance_m.unwrap(),
        (n - 1) as f64,
    );
    run.moving_time_s = Some(run.duration_s);
    run.avg_hr_bpm = Some(148.0);
    run.max_hr_bpm = Some(156.0);
    run.avg_cadence_spm = Some(172.0);
    run.avg_power_w = Some(282.0);
    run.avg_stance_time_s = Some(0.2429);
    run.avg_stance_balance_left_pct = Some(49.64);
    run.avg_vertical_oscillation_m = Some(0.0869);
    run.avg_vertical_ratio_pct = Some(7.89);
    run.avg_step_length_m = Some(1.094);
    (run, samples)
}

fn num(v: &Value, field: &str) -> Option<f64> {
    v[field].as_f64()
}

fn close(a: Option<f64>, b: Option<f64>, tolerance: f64) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => (a - b).abs() <= tolerance,
        (None, None) => true,
        _ => false,
    }
}

/// The one run with samples in `env`, with them.
fn the_watch_run(env: &Env) -> Value {
    let runs = env.json(&["run", "list", "--json"]);
    let id = runs
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["sample_count"].as_u64() > Some(0))
        .unwrap_or_else(|| panic!("no run with samples in {runs}"))["id"]
        .as_str()
        .unwrap()
        .to_string();
    env.json(&["run", "show", &id, "--json", "--samples"])
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn every_format_exports_and_imports_back_to_the_same_run() {
    let env = Env::new();
    let scratch = tempfile::tempdir().unwrap();
    let (run, samples) = watch_run();
    let watch_file = scratch.path().join("watch.fit");
    std::fs::write(&watch_file, export::fit::write(&run, &samples, 1)).unwrap();
    env.ok(&["import", watch_file.to_str().unwrap()]);
    // A treadmill run typed in by hand: no samples, no positions.
    env.ok(&[
        "run",
        "add",
        "--date",
        "2026-03-12T18:00",
        "--distance",
        "5km",
        "--duration",
        "27:30",
    ]);
    let original = the_watch_run(&env);
    let original_samples = original["samples"].as_array().unwrap().clone();
    assert_eq!(original_samples.len(), samples.len());

    for format in ["fit", "gpx", "tcx"] {
        let out = scratch.path().join(format);
        let args = [
            "export",
            "--all",
            "--format",
            format,
            "--out",
            out.to_str().unwrap(),
            "--json",
        ];
        let result = env.run(&args);
        let report: Value = serde_json::from_slice(&result.stdout)
            .unwrap_or_else(|e| panic!("{format}: {e}: {:?}", result));
        let files = report["files"].as_array().unwrap();
        assert_eq!(files.len(), 2, "{format}: {report}");
        if format == "gpx" {
            // GPX is made of positions: the treadmill run cannot be one, and says why; the
            // other run is still written, and the exit code tells a script something failed.
            assert!(!result.status.success());
            let failed = files.iter().find(|f| f["status"] == "failed").unwrap();
            assert!(
                failed["reason"]
                    .as_str()
                    .unwrap()
                    .contains("no GPS positions"),
                "{failed}"
            );
            assert_eq!(report["totals"]["written"], 1);
        } else {
            assert!(result.status.success(), "{format}: {report}");
            assert_eq!(report["totals"]["written"], 2, "{format}: {report}");
        }
        for f in files.iter().filter(|f| f["status"] == "written") {
            let path = Path::new(f["path"].as_str().unwrap());
            assert!(path.starts_with(&out), "{path:?}");
            assert_eq!(
                std::fs::metadata(path).unwrap().len(),
                f["bytes"].as_u64().unwrap()
            );
        }
        assert!(
            !files_in(&out).iter().any(|n| n.ends_with(".partial")),
            "no partial files are left: {:?}",
            files_in(&out)
        );

        // Another database reads the folder back.
        let other = Env::new();
        // GPX and TCX record UTC: the runner's zone gives the start its offset.
        other.ok(&["profile", "set", "--tz", "Europe/Berlin"]);
        other.ok(&["import", out.to_str().unwrap()]);
        let back = the_watch_run(&other);
        assert_eq!(back["start"], original["start"], "{format}");
        assert!(
            close(num(&back, "duration_s"), num(&original, "duration_s"), 1.0),
            "{format}: duration {} vs {}",
            back["duration_s"],
            original["duration_s"]
        );
        let d = num(&original, "distance_m").unwrap();
        assert!(
            close(num(&back, "distance_m"), Some(d), d * 0.005),
            "{format}: distance {} vs {d}",
            back["distance_m"]
        );
        assert!(
            close(num(&back, "avg_hr_bpm"), num(&original, "avg_hr_bpm"), 0.5),
            "{format}: heart rate {} vs {}",
            back["avg_hr_bpm"],
            original["avg_hr_bpm"]
        );
        assert!(
            close(
                num(&back, "avg_cadence_spm"),
                num(&original, "avg_cadence_spm"),
                1.0
            ),
            "{format}: cadence {} vs {}",
            back["avg_cadence_spm"],
            original["avg_cadence_spm"]
        );
        let back_samples = back["samples"].as_array().unwrap();
        assert_eq!(back_samples.len(), original_samples.len(), "{format}");
        for (i, (a, b)) in original_samples.iter().zip(back_samples).enumerate() {
            assert_eq!(a["t_s"], b["t_s"], "{format} sample {i}");
            assert_eq!(a["hr_bpm"], b["hr_bpm"], "{format} sample {i}");
            for (field, tolerance) in [("lat_deg", 1e-6), ("lon_deg", 1e-6)] {
                assert!(
                    close(num(a, field), num(b, field), tolerance),
                    "{format} sample {i} {field}: {} vs {}",
                    a[field],
                    b[field]
                );
            }
        }
        if format == "fit" {
            // FIT carries everything: the averages and every sample's dynamics and power.
            for (field, tolerance) in [
                ("avg_power_w", 0.5),
                ("avg_stance_time_s", 0.00005),
                ("avg_stance_balance_left_pct", 0.005),
                ("avg_vertical_oscillation_m", 0.00005),
                ("avg_vertical_ratio_pct", 0.005),
                ("avg_step_length_m", 0.0005),
            ] {
                assert!(
                    original[field].is_number(),
                    "the watch file's {field} was imported: {}",
                    original[field]
                );
                assert!(
                    close(num(&back, field), num(&original, field), tolerance),
                    "{field}: {} vs {}",
                    back[field],
                    original[field]
                );
            }
            for (i, (a, b)) in original_samples.iter().zip(back_samples).enumerate() {
                for (field, tolerance) in [
                    ("power_w", 0.5),
                    ("stance_time_s", 0.00005),
                    ("stance_balance_left_pct", 0.005),
                    ("vertical_oscillation_m", 0.00005),
                    ("vertical_ratio_pct", 0.005),
                    ("stride_m", 0.0005),
                    ("cadence_spm", 0.02),
                    ("speed_mps", 0.0005),
                    ("altitude_m", 0.1),
                ] {
                    assert!(
                        a[field].is_number() && close(num(a, field), num(b, field), tolerance),
                        "sample {i} {field}: {} vs {}",
                        a[field],
                        b[field]
                    );
                }
            }
        }
    }
}

#[test]
fn a_csv_export_holds_every_sample_and_a_summary_of_the_runs() {
    let env = Env::new();
    let scratch = tempfile::tempdir().unwrap();
    let (run, samples) = watch_run();
    let watch_file = scratch.path().join("watch.fit");
    std::fs::write(&watch_file, export::fit::write(&run, &samples, 1)).unwrap();
    env.ok(&["import", watch_file.to_str().unwrap()]);
    env.ok(&[
        "run",
        "edit",
        &the_watch_run(&env)["id"].as_str().unwrap()[..8],
        "--notes",
        "windy, \"tough\" day",
    ]);
    let original = the_watch_run(&env);
    let out = scratch.path().join("csv");
    let report = env.json(&[
        "export",
        "--all",
        "--format",
        "csv",
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]);
    let path = report["files"][0]["path"].as_str().unwrap();
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let rows: Vec<&str> = lines.collect();
    let stored = original["samples"].as_array().unwrap();
    assert_eq!(rows.len(), stored.len());
    // The CSV's step_length_m is the stored stride_m.
    let json_name = |column: &str| match column {
        "step_length_m" => "stride_m".to_string(),
        other => other.to_string(),
    };
    for (row, sample) in rows.iter().zip(stored) {
        for (column, cell) in header.iter().zip(row.split(',')) {
            let expected = sample[json_name(column)].as_f64();
            let got = (!cell.is_empty()).then(|| cell.parse::<f64>().unwrap());
            assert_eq!(got, expected, "{column} in {row}");
        }
    }
    let index = std::fs::read_to_string(report["index"].as_str().unwrap()).unwrap();
    let summary = index.lines().nth(1).unwrap();
    assert!(
        summary.starts_with(original["id"].as_str().unwrap()),
        "{summary}"
    );
    assert!(
        summary.contains("\"windy, \"\"tough\"\" day\""),
        "{summary}"
    );
    assert!(
        summary.ends_with(&format!(
            ",{}",
            Path::new(path).file_name().unwrap().to_str().unwrap()
        )),
        "{summary}"
    );
}

#[test]
fn exporting_again_keeps_the_files_there_unless_told_to_overwrite() {
    let env = Env::new();
    let scratch = tempfile::tempdir().unwrap();
    let (run, samples) = watch_run();
    let watch_file = scratch.path().join("watch.fit");
    std::fs::write(&watch_file, export::fit::write(&run, &samples, 1)).unwrap();
    env.ok(&["import", watch_file.to_str().unwrap()]);
    let id = the_watch_run(&env)["id"].as_str().unwrap().to_string();
    let out = scratch.path().join("backup");
    let out = out.to_str().unwrap();
    let first = env.json(&[
        "export",
        &id[..6],
        "--format",
        "tcx",
        "--out",
        out,
        "--json",
    ]);
    assert_eq!(first["files"][0]["status"], "written");
    let path = first["files"][0]["path"].as_str().unwrap().to_string();
    std::fs::write(&path, "edited by hand").unwrap();
    let again = env.json(&["export", &id, "--format", "tcx", "--out", out, "--json"]);
    assert_eq!(again["files"][0]["status"], "exists");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "edited by hand");
    let replaced = env.json(&[
        "export",
        &id,
        "--format",
        "tcx",
        "--out",
        out,
        "--overwrite",
        "--json",
    ]);
    assert_eq!(replaced["files"][0]["status"], "written");
    assert!(
        std::fs::read_to_string(&path)
            .unwrap()
            .contains("<TrainingCenterDatabase")
    );

    // A file where the folder should be, an unknown format, no run named: each refused.
    assert!(
        env.fails(&["export", "--all", "--format", "fit", "--out", &path])
            .contains("is a file, not a folder")
    );
    assert!(
        env.fails(&["export", "--all", "--format", "kml", "--out", out])
            .contains("'kml' is not fit, gpx, tcx or csv")
    );
    assert!(
        env.fails(&["export", "--format", "fit", "--out", out])
            .contains("--all")
    );
    assert!(
        env.fails(&["export", "nope", "--format", "fit", "--out", out])
            .contains("no run matches 'nope'")
    );
}
