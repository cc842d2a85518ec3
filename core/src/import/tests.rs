//! Importer tests on real device files from `../shared/fixtures` (MIT, see SOURCES.md there).

use std::path::PathBuf;

use super::*;
use crate::model::RunSource;

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn run_of(name: &str) -> (Run, Vec<Sample>) {
    match parse(Format::Fit, &fixture(name)).unwrap() {
        Parsed::Run { run, samples } => (run, samples),
        other => panic!("{name}: {other:?}"),
    }
}

#[test]
fn a_fenix_5_run_imports_with_its_summary_and_stream() {
    let (run, samples) = run_of("garmin-fenix-5-run.fit");
    assert_eq!(run.source, RunSource::Fit);
    assert_eq!(run.start.to_rfc3339(), "2017-06-11T07:34:09-07:00");
    assert_eq!(run.distance_m, 157.56);
    assert_eq!(run.duration_s, 56.887);
    assert_eq!(run.avg_hr_bpm, Some(90.0));
    assert_eq!(run.max_hr_bpm, Some(112.0));
    // 2 x (83 + 0.671875) strides/min of one foot.
    assert_eq!(run.avg_cadence_spm, Some(167.34375));
    assert_eq!(run.elevation_gain_m, Some(2.0));
    assert!(
        run.source_fingerprint
            .as_deref()
            .unwrap()
            .starts_with("sha256:")
    );

    // The per-record values the file's publisher lists in garmin-fenix-5-run-records.csv.
    let csv = String::from_utf8(fixture("garmin-fenix-5-run-records.csv")).unwrap();
    let rows: Vec<Vec<&str>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(samples.len(), rows.len());
    for (i, (s, row)) in samples.iter().zip(&rows).enumerate() {
        assert_eq!(s.hr_bpm, Some(row[1].parse().unwrap()), "record {i}");
        let speed: f64 = row[3].parse().unwrap();
        assert!((s.speed_mps.unwrap() - speed).abs() < 1e-9, "record {i}");
        let dist: f64 = row[4].parse().unwrap();
        assert!((s.distance_m.unwrap() - dist).abs() < 1e-9, "record {i}");
        let lat: f64 = row[5].parse().unwrap();
        assert!(
            (s.lat_deg.unwrap() - lat * 180.0 / 2f64.powi(31)).abs() < 1e-12,
            "record {i}"
        );
        let alt: f64 = row[7].parse().unwrap();
        assert!((s.altitude_m.unwrap() - alt).abs() < 1e-9, "record {i}");
        // The CSV's cadence is the integer strides/min; steps/min is at least twice that.
        let cad: f64 = row[2].parse().unwrap();
        let spm = s.cadence_spm.unwrap();
        assert!(
            spm >= 2.0 * cad && spm < 2.0 * (cad + 1.0),
            "record {i}: {spm} vs {cad}"
        );
    }
    assert_eq!(samples[0].t_s, 0.0);
    assert!(samples.windows(2).all(|w| w[0].t_s < w[1].t_s));
}

#[test]
fn the_local_offset_comes_from_the_activity_message() {
    let (run, samples) = run_of("activity-small-fenix2-run.fit");
    assert_eq!(run.start.offset().local_minus_utc(), 2 * 3600);
    assert_eq!(run.start.to_rfc3339(), "2015-08-15T16:45:08+02:00");
    assert_eq!(samples.len(), 2809);
}

#[test]
fn other_sports_are_skipped_with_the_reason() {
    let parsed = parse(Format::Fit, &fixture("garmin-fenix-5-bike.fit")).unwrap();
    assert_eq!(
        parsed,
        Parsed::NotARun {
            reason: "the activity is cycling, not a run".into()
        }
    );
}

#[test]
fn broken_files_are_errors_that_say_why() {
    let eof = parse(Format::Fit, &fixture("activity-unexpected-eof.fit")).unwrap_err();
    assert!(
        eof.to_string().starts_with("not a valid FIT file: "),
        "{eof}"
    );
    let crc = parse(Format::Fit, &fixture("activity-filecrc.fit")).unwrap_err();
    assert!(crc.to_string().contains("CRC"), "{crc}");
    let bytes = fixture("garmin-fenix-5-run.fit");
    assert!(parse(Format::Fit, &bytes[..bytes.len() / 2]).is_err());
    assert!(parse(Format::Fit, b"").is_err());
}

#[test]
fn formats_are_known_by_extension() {
    assert_eq!(Format::from_path("a/B.FIT".as_ref()), Some(Format::Fit));
    assert_eq!(Format::from_path("notes.txt".as_ref()), None);
    assert_eq!(Format::from_path("fit".as_ref()), None);
}
