//! Importer tests on real device files from `tests/fixtures` of the workspace (MIT, see SOURCES.md there).

use std::path::PathBuf;

use super::*;
use crate::model::RunSource;

/// The one activity of a single-activity file.
fn parse(format: Format, bytes: &[u8], zone: Tz) -> Result<Parsed, ImportError> {
    let mut all = super::parse(format, bytes, zone)?;
    assert_eq!(all.len(), 1, "one activity: {all:?}");
    Ok(all.remove(0))
}

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn run_of(name: &str) -> (Run, Vec<Sample>) {
    match parse(Format::Fit, &fixture(name), chrono_tz::UTC).unwrap() {
        Parsed::Run { run, samples, .. } => (run, samples),
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
    // The records' cadence, as for every format (`average_cadence`), so that this activity's
    // GPX or TCX gives the same; the session's own figure is 2 x (83 + 86/128) = 167.3.
    assert_eq!(run.avg_cadence_spm, average_cadence(&samples));
    assert!(
        (run.avg_cadence_spm.unwrap() - 172.218).abs() < 0.001,
        "{:?}",
        run.avg_cadence_spm
    );
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
    let parsed = parse(
        Format::Fit,
        &fixture("garmin-fenix-5-bike.fit"),
        chrono_tz::UTC,
    )
    .unwrap();
    assert_eq!(
        parsed,
        Parsed::NotARun {
            reason: "the activity is cycling, not a run".into()
        }
    );
}

#[test]
fn broken_files_are_errors_that_say_why() {
    let eof = parse(
        Format::Fit,
        &fixture("activity-unexpected-eof.fit"),
        chrono_tz::UTC,
    )
    .unwrap_err();
    assert!(
        eof.to_string().starts_with("not a valid FIT file: "),
        "{eof}"
    );
    let crc = parse(
        Format::Fit,
        &fixture("activity-filecrc.fit"),
        chrono_tz::UTC,
    )
    .unwrap_err();
    assert_eq!(
        crc.to_string(),
        "not a valid FIT file: the file is damaged: its checksum does not match its contents"
    );
    let bytes = fixture("garmin-fenix-5-run.fit");
    assert!(parse(Format::Fit, &bytes[..bytes.len() / 2], chrono_tz::UTC).is_err());
    assert!(parse(Format::Fit, b"", chrono_tz::UTC).is_err());
}

#[test]
fn inputs_the_fuzzer_found_are_handled() {
    // A complete FIT file followed by a stray tail that made fitparser 0.11 overflow.
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/fuzz-fit-chained-tail.fit");
    let bytes = std::fs::read(path).unwrap();
    let _ = parse(Format::Fit, &bytes, chrono_tz::UTC);
    // Messages overrunning the announced data size: an error, before fitparser sees them.
    let crash2 = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/fuzz-fit-overrun.fit");
    let err = parse(Format::Fit, &std::fs::read(crash2).unwrap(), chrono_tz::UTC).unwrap_err();
    assert!(err.to_string().starts_with("not a valid FIT file"), "{err}");
    // A generated file with junk after it still imports: the junk is not a FIT file.
    let (run, samples) = known();
    let mut fit = export::fit::write(&run, &samples[..30], 1);
    fit.extend_from_slice(&[7, 0, 0, 0, 0, 0, 0]);
    assert!(matches!(
        parse(Format::Fit, &fit, berlin()),
        Ok(Parsed::Run { .. })
    ));
}

#[test]
fn formats_are_known_by_extension() {
    assert_eq!(Format::from_path("a/B.FIT".as_ref()), Some(Format::Fit));
    assert_eq!(Format::from_path("x.gpx".as_ref()), Some(Format::Gpx));
    assert_eq!(Format::from_path("x.Tcx".as_ref()), Some(Format::Tcx));
    assert_eq!(Format::from_path("notes.txt".as_ref()), None);
    assert_eq!(Format::from_path("fit".as_ref()), None);
}

// --- Known activities, written by `crate::export` and read back ---------------------------------

use crate::export;
use crate::import::stream::{ELEVATION_HYSTERESIS_M, elevation_gain_loss};
use chrono::NaiveDate;

/// A realistic run with a full 1 Hz stream (the demo runner's last long run).
fn known() -> (Run, Vec<Sample>) {
    let h = crate::demo::history(11, NaiveDate::from_ymd_opt(2026, 6, 10).unwrap());
    h.runs
        .into_iter()
        .rev()
        .find(|(r, s)| !s.is_empty() && r.kind == crate::model::RunKind::Long)
        .unwrap()
}

fn berlin() -> chrono_tz::Tz {
    chrono_tz::Europe::Berlin
}

fn imported(format: Format, bytes: &[u8]) -> (Run, Vec<Sample>) {
    match parse(format, bytes, berlin()).unwrap() {
        Parsed::Run { run, samples, .. } => (run, samples),
        other => panic!("{other:?}"),
    }
}

fn close(a: Option<f64>, b: Option<f64>, tol: f64) -> bool {
    match (a, b) {
        (Some(x), Some(y)) => (x - y).abs() <= tol,
        (None, None) => true,
        _ => false,
    }
}

/// How closely each channel must come back; `None` skips a channel the format does not carry.
struct Tolerance {
    position_deg: Option<f64>,
    altitude_m: Option<f64>,
    distance_m: Option<f64>,
    speed_mps: Option<f64>,
    cadence_spm: f64,
    stride_m: Option<f64>,
}

/// Every sample back at the same time with every carried channel within its tolerance, and the
/// heart rate exact.
fn assert_samples(expected: &[Sample], got: &[Sample], tol: Tolerance) {
    assert_eq!(expected.len(), got.len());
    let eps = 1e-9;
    for (i, (a, b)) in expected.iter().zip(got).enumerate() {
        assert_eq!(a.t_s, b.t_s, "sample {i}");
        assert_eq!(a.hr_bpm, b.hr_bpm, "sample {i} hr");
        assert!(
            close(a.cadence_spm, b.cadence_spm, tol.cadence_spm + eps),
            "sample {i} cadence"
        );
        let checks = [
            ("lat", tol.position_deg, a.lat_deg, b.lat_deg),
            ("lon", tol.position_deg, a.lon_deg, b.lon_deg),
            ("altitude", tol.altitude_m, a.altitude_m, b.altitude_m),
            ("distance", tol.distance_m, a.distance_m, b.distance_m),
            ("speed", tol.speed_mps, a.speed_mps, b.speed_mps),
            ("stride", tol.stride_m, a.stride_m, b.stride_m),
        ];
        for (name, t, x, y) in checks {
            if let Some(t) = t {
                assert!(close(x, y, t + eps), "sample {i} {name}: {x:?} vs {y:?}");
            }
        }
    }
}

#[test]
fn a_generated_fit_file_imports_every_field() {
    let (run, samples) = known();
    let bytes = export::fit::write(&run, &samples, 1);
    let (got, back) = imported(Format::Fit, &bytes);
    assert_eq!(got.start, run.start);
    assert_eq!(got.start.offset(), run.start.offset(), "the watch's offset");
    assert!((got.duration_s - run.duration_s).abs() < 1e-6);
    assert!(close(got.moving_time_s, run.moving_time_s, 1e-6));
    assert!((got.distance_m - run.distance_m).abs() < 0.01);
    assert_eq!(got.elevation_gain_m, run.elevation_gain_m);
    assert_eq!(got.elevation_loss_m, run.elevation_loss_m);
    assert_eq!(got.avg_hr_bpm, run.avg_hr_bpm);
    assert_eq!(got.max_hr_bpm, run.max_hr_bpm);
    // The average of the records' cadence, which FIT keeps to 1/128 of a stride.
    assert!(close(
        got.avg_cadence_spm,
        average_cadence(&samples),
        2.0 / 128.0
    ));
    assert_eq!(got.source, RunSource::Fit);
    assert_eq!(got.source_fingerprint, Some(fingerprint(&bytes)));
    // The same file always gives the same run id; another file another id.
    let (again, _) = imported(Format::Fit, &bytes);
    assert_eq!(again.id, got.id);
    assert_ne!(
        imported(Format::Tcx, &export::tcx::write(&run, &samples, "Running"))
            .0
            .id,
        got.id
    );
    assert_eq!(back.len(), samples.len());
    assert_samples(
        &samples,
        &back,
        Tolerance {
            position_deg: Some(1e-7),
            altitude_m: Some(0.1),
            distance_m: Some(0.005),
            speed_mps: Some(0.0005),
            // FIT keeps strides/min in whole plus 1/128ths: steps/min to within 2/128.
            cadence_spm: 2.0 / 128.0,
            stride_m: Some(0.00005),
        },
    );
}

#[test]
fn without_a_session_the_laps_make_the_summary() {
    let (run, samples) = known();
    let bytes = export::fit::write_laps_only(&run, &samples, 1, 3);
    let (got, back) = imported(Format::Fit, &bytes);
    assert_eq!(back.len(), samples.len());
    assert_eq!(got.start, run.start);
    // Three laps of the same stream: their distances add up to the last sample's distance,
    // their times to the stream's span (each lap counts its first second).
    let d_last = samples.last().unwrap().distance_m.unwrap();
    let chunk = samples.len().div_ceil(3);
    let firsts: f64 = samples
        .chunks(chunk)
        .map(|c| c[0].distance_m.unwrap())
        .sum();
    let lasts: f64 = samples
        .chunks(chunk)
        .map(|c| c[c.len() - 1].distance_m.unwrap())
        .sum();
    assert!(
        (got.distance_m - (lasts - firsts)).abs() < 0.03,
        "{} vs {}",
        got.distance_m,
        lasts - firsts
    );
    assert!(got.distance_m <= d_last);
    assert!((got.duration_s - samples.len() as f64).abs() < 1e-6);
    assert_eq!(
        got.max_hr_bpm,
        samples.iter().filter_map(|s| s.hr_bpm).max().map(f64::from)
    );
    let mean_cad = samples.iter().filter_map(|s| s.cadence_spm).sum::<f64>() / samples.len() as f64;
    assert!(
        close(got.avg_cadence_spm, Some(mean_cad), 0.1),
        "{:?} vs {mean_cad}",
        got.avg_cadence_spm
    );
    // A lap-only file of another sport is still skipped.
    assert!(matches!(
        parse(
            Format::Fit,
            &export::fit::write_laps_only(&run, &samples, 2, 2),
            berlin()
        ),
        Ok(Parsed::NotARun { .. })
    ));
}

#[test]
fn a_generated_gpx_file_imports_every_field_it_can_hold() {
    let (run, samples) = known();
    let bytes = export::gpx::write(&run, &samples, "running");
    let (got, back) = imported(Format::Gpx, &bytes);
    // GPX times are UTC: the run takes the runner's zone (Berlin) at that instant.
    assert_eq!(got.start, run.start);
    assert_eq!(got.start.offset(), run.start.offset());
    assert!((got.duration_s - run.duration_s).abs() < 1e-6);
    // Distance comes from the positions (haversine), which trace the run's loop.
    assert!(
        (got.distance_m / run.distance_m - 1.0).abs() < 0.01,
        "{} vs {}",
        got.distance_m,
        run.distance_m
    );
    let (gain, loss) = elevation_gain_loss(&samples, ELEVATION_HYSTERESIS_M).unwrap();
    assert!(close(got.elevation_gain_m, Some(gain), 0.05));
    assert!(close(got.elevation_loss_m, Some(loss), 0.05));
    assert_eq!(got.max_hr_bpm, run.max_hr_bpm);
    assert!(close(got.avg_hr_bpm, run.avg_hr_bpm, 0.5));
    assert!(close(got.avg_cadence_spm, run.avg_cadence_spm, 1.0));
    assert_eq!(got.source, RunSource::Gpx);
    assert_eq!(back.len(), samples.len());
    // GPX carries position, altitude, heart rate and one-foot cadence in whole strides (so
    // steps/min to within one step); distance and speed are derived, checked above.
    assert_samples(
        &samples,
        &back,
        Tolerance {
            position_deg: Some(1e-7),
            altitude_m: Some(0.005),
            distance_m: None,
            speed_mps: None,
            cadence_spm: 1.0,
            stride_m: None,
        },
    );
    // Speeds are derived from the positions: about right on average.
    let mean = |s: &[Sample]| s.iter().filter_map(|x| x.speed_mps).sum::<f64>() / s.len() as f64;
    assert!((mean(&back) / mean(&samples) - 1.0).abs() < 0.02);
}

#[test]
fn a_generated_tcx_file_imports_every_field_it_can_hold() {
    let (run, samples) = known();
    let bytes = export::tcx::write(&run, &samples, "Running");
    let (got, back) = imported(Format::Tcx, &bytes);
    assert_eq!(got.start, run.start);
    assert!((got.duration_s - run.duration_s).abs() < 1e-6);
    assert!(close(got.moving_time_s, run.moving_time_s, 0.0005));
    assert!((got.distance_m - run.distance_m).abs() < 0.005);
    assert_eq!(got.max_hr_bpm, run.max_hr_bpm);
    assert!(close(got.avg_hr_bpm, run.avg_hr_bpm, 0.5));
    assert!(close(got.avg_cadence_spm, run.avg_cadence_spm, 1.0));
    assert_eq!(got.source, RunSource::Tcx);
    assert_eq!(back.len(), samples.len());
    assert_samples(
        &samples,
        &back,
        Tolerance {
            position_deg: Some(1e-7),
            altitude_m: Some(0.005),
            distance_m: Some(0.005),
            speed_mps: Some(0.0005),
            cadence_spm: 1.0,
            stride_m: None,
        },
    );
}

#[test]
fn other_sports_are_skipped_in_every_format() {
    let (run, samples) = known();
    let cases = [
        (
            Format::Fit,
            export::fit::write(&run, &samples, 2),
            "cycling",
        ),
        (
            Format::Fit,
            export::fit::write(&run, &samples, 11),
            "walking",
        ),
        (
            Format::Gpx,
            export::gpx::write(&run, &samples, "cycling"),
            "cycling",
        ),
        (
            Format::Tcx,
            export::tcx::write(&run, &samples, "Biking"),
            "biking",
        ),
    ];
    for (format, bytes, sport) in cases {
        assert_eq!(
            parse(format, &bytes, berlin()).unwrap(),
            Parsed::NotARun {
                reason: format!("the activity is {sport}, not a run")
            },
            "{format:?}"
        );
    }
}

#[test]
fn truncated_and_corrupted_files_are_errors_naming_the_format() {
    let (run, samples) = known();
    let samples = &samples[..300];
    for (format, bytes) in [
        (Format::Fit, export::fit::write(&run, samples, 1)),
        (Format::Gpx, export::gpx::write(&run, samples, "running")),
        (Format::Tcx, export::tcx::write(&run, samples, "Running")),
    ] {
        for cut in [
            1,
            bytes.len() / 10,
            bytes.len() / 2,
            bytes.len() * 9 / 10,
            bytes.len() - 20,
        ] {
            let err = match parse(format, &bytes[..cut], berlin()) {
                Err(e) => e,
                Ok(_) => panic!("{format:?} cut at {cut} of {} was accepted", bytes.len()),
            };
            assert!(
                err.to_string()
                    .starts_with(&format!("not a valid {} file: ", format.name())),
                "{err}"
            );
        }
    }
    // A flipped byte in a FIT record is caught by the CRC, and told in words.
    let mut fit = export::fit::write(&run, samples, 1);
    let mid = fit.len() / 2;
    fit[mid] ^= 0x55;
    assert!(
        parse(Format::Fit, &fit, berlin())
            .unwrap_err()
            .to_string()
            .contains("checksum does not match")
    );
    // A position that is not a number.
    let gpx = String::from_utf8(export::gpx::write(&run, samples, "running")).unwrap();
    let bad = gpx.replacen("lat=\"", "lat=\"north", 1);
    assert!(parse(Format::Gpx, bad.as_bytes(), berlin()).is_err());
    // Not XML at all.
    assert!(parse(Format::Tcx, b"\xff\xfe\x00garbage", berlin()).is_err());
    assert!(
        parse(
            Format::Gpx,
            b"<gpx><trk><trkseg></trkseg></trk></gpx>",
            berlin()
        )
        .is_err()
    );
}

mod xml_files;

mod never_panic {
    use super::*;
    use proptest::prelude::*;

    fn valid() -> [(Format, Vec<u8>); 3] {
        let (run, samples) = known();
        let samples = &samples[..60];
        [
            (Format::Fit, export::fit::write(&run, samples, 1)),
            (Format::Gpx, export::gpx::write(&run, samples, "running")),
            (Format::Tcx, export::tcx::write(&run, samples, "Running")),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn on_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            for format in [Format::Fit, Format::Gpx, Format::Tcx] {
                let _ = parse(format, &bytes, berlin());
            }
        }

        #[test]
        fn on_mutated_files(edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
                            cut in any::<prop::sample::Index>()) {
            for (format, mut bytes) in valid() {
                for (at, byte) in &edits {
                    let i = at.index(bytes.len());
                    bytes[i] = *byte;
                }
                let end = cut.index(bytes.len() + 1).max(1);
                let _ = parse(format, &bytes[..end], berlin());
            }
        }
    }
}
