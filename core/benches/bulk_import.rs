//! Bulk import benchmark: a synthetic ten-year Garmin Connect export (5,000 FIT files of 4,000
//! samples each, 20 million samples, in five part zips inside the export zip, as Garmin ships
//! them) imported into an empty store through `store::import_files`, the path `strideguard
//! import` takes. Prints the wall time, samples/s and files/s, and where the time went (reading
//! archives, inflating, decoding, writing the store), then imports it again to show the cost
//! of an interrupted import resumed (every file already there).
//!
//! `cargo bench -p strideguard-core --bench bulk_import` (the target is under 60 s on a 2-core
//! machine). `BULK_FILES=500` makes a smaller export. The export is built once under the
//! target folder and reused.

use std::cell::RefCell;
use std::io::{Cursor, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::{DateTime, Duration as Days};
use strideguard_core::cancel::Cancel;
use strideguard_core::export;
use strideguard_core::store::{ImportReport, ShoeChoice, collect_files, import_files};
use strideguard_core::{Run, Sample, Store};
use uuid::Uuid;

const SAMPLES_PER_FILE: usize = 4_000;
const PARTS: usize = 5;

fn run(i: usize) -> (Run, Vec<Sample>) {
    let start = DateTime::parse_from_rfc3339("2016-01-01T06:30:00+01:00").unwrap()
        + Days::hours(17 * i as i64);
    let pace = 2.6 + (i % 9) as f64 * 0.1;
    let samples: Vec<Sample> = (0..SAMPLES_PER_FILE)
        .map(|k| {
            let t = k as f64;
            let angle = t * pace / 800.0;
            Sample {
                t_s: t,
                lat_deg: Some(52.5145 + 0.0072 * angle.cos()),
                lon_deg: Some(13.3501 + 0.0118 * angle.sin()),
                altitude_m: Some(35.0 + (t / 300.0).sin() * 12.0),
                distance_m: Some(t * pace),
                speed_mps: Some(pace + (t / 40.0).sin() * 0.2),
                hr_bpm: Some(135 + ((k + i) % 17) as u8),
                cadence_spm: Some(166.0 + (t / 25.0).sin() * 4.0),
                ..Sample::default()
            }
        })
        .collect();
    let mut r = Run::new(
        Uuid::new_v4(),
        start,
        (SAMPLES_PER_FILE - 1) as f64 * pace,
        (SAMPLES_PER_FILE - 1) as f64,
    );
    r.moving_time_s = Some(r.duration_s);
    r.avg_hr_bpm = Some(143.0);
    r.avg_cadence_spm = Some(166.0);
    (r, samples)
}

fn zip_of(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(1))
        .large_file(false);
    for (name, bytes) in files {
        w.start_file(name.as_str(), opts).unwrap();
        w.write_all(bytes).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// The export, built once (in parallel) and kept for later runs.
fn export_zip(files: usize) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bulk_import");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("garmin-{files}.zip"));
    if path.exists() {
        return path;
    }
    let t = Instant::now();
    let per_part = files.div_ceil(PARTS);
    let parts: Vec<Vec<u8>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..PARTS)
            .map(|p| {
                s.spawn(move || {
                    let fits: Vec<(String, Vec<u8>)> = (p * per_part
                        ..((p + 1) * per_part).min(files))
                        .map(|i| {
                            let (r, samples) = run(i);
                            (
                                format!("runner@example.com_{}.fit", 10_000_000 + i),
                                export::fit::write(&r, &samples, 1),
                            )
                        })
                        .collect();
                    zip_of(&fits)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut outer = vec![(
        "DI_CONNECT/DI-Connect-Fitness/runner@example.com_0_summarizedActivities.json".to_string(),
        b"[]".to_vec(),
    )];
    for (i, part) in parts.into_iter().enumerate() {
        outer.push((
            format!(
                "DI_CONNECT/DI-Connect-Uploaded-Files/UploadedFiles_0-_Part{}.zip",
                i + 1
            ),
            part,
        ));
    }
    let tmp = path.with_extension("part");
    std::fs::write(&tmp, zip_of(&outer)).unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    eprintln!("built the export in {:.1} s", t.elapsed().as_secs_f64());
    path
}

fn import(store: &mut Store, path: &PathBuf) -> (ImportReport, Duration) {
    let access = RefCell::new(store);
    let t = Instant::now();
    let report = import_files(
        &access,
        collect_files(std::slice::from_ref(path)),
        ShoeChoice::Default,
        &mut |_| {},
        &Cancel::new(),
    )
    .unwrap();
    (report, t.elapsed())
}

fn print(what: &str, r: &ImportReport, wall: Duration, samples: u64) {
    let s = wall.as_secs_f64();
    let files = r.totals.files();
    let t = r.timings;
    println!(
        "{what}: {files} files in {s:.2} s: {:.0} files/s, {:.2} M samples/s \
         (imported {}, duplicates {}, failed {})",
        files as f64 / s,
        samples as f64 / s / 1e6,
        r.totals.imported,
        r.totals.duplicates,
        r.totals.failed,
    );
    println!(
        "  time in each stage (summed over threads): read archives {:.2} s, inflate {:.2} s, \
         decode {:.2} s, write the store {:.2} s",
        t.read.as_secs_f64(),
        t.inflate.as_secs_f64(),
        t.decode.as_secs_f64(),
        t.write.as_secs_f64()
    );
}

fn main() {
    let files: usize = std::env::var("BULK_FILES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000);
    let path = export_zip(files);
    let size = std::fs::metadata(&path).unwrap().len();
    let samples = (files * SAMPLES_PER_FILE) as u64;
    println!(
        "export: {files} FIT files, {:.1} M samples, {:.0} MiB zipped, {} cores",
        samples as f64 / 1e6,
        size as f64 / (1 << 20) as f64,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let dir = tempfile::tempdir_in(path.parent().unwrap()).unwrap();
    let mut store = Store::open(dir.path().join("bench.db")).unwrap();
    let (first, wall) = import(&mut store, &path);
    assert_eq!(first.totals.imported, files, "{:?}", first.totals);
    print("first import", &first, wall, samples);
    let (again, wall) = import(&mut store, &path);
    assert_eq!(again.totals.duplicates, files);
    print("again (all already there)", &again, wall, samples);
}
