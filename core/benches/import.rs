//! Import benchmark: a 10-hour run at 1 Hz (36,000 samples) written as FIT, GPX and TCX, then
//! imported. Prints MB/s and samples/s for each format, and the ratio against a baseline measured
//! in the same run: the bare work each importer stands on (for FIT, which we decode ourselves,
//! the file CRC every reader computes over every byte; a bare quick-xml scan for GPX and TCX),
//! i.e. what our conversion adds on top. Against Garmin's own SDK: the `fit_speed` bench. Last,
//! GPX's speed per byte over TCX's, measured in the same run: GPX is read in one streaming pass
//! like TCX, and must be at least as fast per byte (it was a sixth as fast when the `gpx` crate
//! built a document tree and a second pass read the extensions).
//!
//! `cargo bench -p strideguard-core --bench import`

use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::DateTime;
use quick_xml::Reader;
use quick_xml::events::Event;
use strideguard_core::export;
use strideguard_core::import::{self, Format, Parsed};
use strideguard_core::{Run, Sample};
use uuid::Uuid;

const SAMPLES: usize = 10 * 3600;
const ROUNDS: usize = 5;

fn run_and_stream() -> (Run, Vec<Sample>) {
    let samples: Vec<Sample> = (0..SAMPLES)
        .map(|i| {
            let t = i as f64;
            let angle = t * 3.0 / 800.0;
            Sample {
                t_s: t,
                lat_deg: Some(52.5145 + 0.0072 * angle.cos()),
                lon_deg: Some(13.3501 + 0.0118 * angle.sin()),
                altitude_m: Some(35.0 + (t / 300.0).sin() * 12.0),
                distance_m: Some(t * 3.0),
                speed_mps: Some(3.0 + (t / 40.0).sin() * 0.2),
                hr_bpm: Some(140 + (i % 11) as u8),
                cadence_spm: Some(168.0 + (t / 25.0).sin() * 3.0),
                stride_m: Some(1.07),
                ..Sample::default()
            }
        })
        .collect();
    let mut run = Run::new(
        Uuid::new_v4(),
        DateTime::parse_from_rfc3339("2026-03-14T06:00:00+01:00").unwrap(),
        SAMPLES as f64 * 3.0,
        SAMPLES as f64 - 1.0,
    );
    run.moving_time_s = Some(run.duration_s);
    run.avg_hr_bpm = Some(145.0);
    run.max_hr_bpm = Some(150.0);
    run.avg_cadence_spm = Some(168.0);
    (run, samples)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn time(mut f: impl FnMut()) -> Duration {
    median(
        (0..ROUNDS)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed()
            })
            .collect(),
    )
}

fn xml_scan(bytes: &[u8]) -> usize {
    let mut r = Reader::from_str(std::str::from_utf8(bytes).unwrap());
    let mut n = 0;
    loop {
        match r.read_event().unwrap() {
            Event::Eof => return n,
            _ => n += 1,
        }
    }
}

fn main() {
    let (run, samples) = run_and_stream();
    let zone = chrono_tz::Europe::Berlin;
    let files = [
        (Format::Fit, export::fit::write(&run, &samples, 1)),
        (Format::Gpx, export::gpx::write(&run, &samples, "running")),
        (Format::Tcx, export::tcx::write(&run, &samples, "Running")),
    ];
    println!("import: {SAMPLES} samples (10 h at 1 Hz), median of {ROUNDS} rounds");
    println!(
        "format      size MB   import ms      MB/s   samples/s   baseline ms   import/baseline"
    );
    let mut per_byte = Vec::new();
    for (format, bytes) in &files {
        let imported = time(|| {
            match import::parse(*format, black_box(bytes), zone)
                .unwrap()
                .remove(0)
            {
                Parsed::Run { samples, .. } => assert_eq!(black_box(samples).len(), SAMPLES),
                Parsed::NotARun { .. } => unreachable!(),
            }
        });
        let baseline = time(|| match format {
            Format::Fit => {
                black_box(export::fit::crc16(bytes));
            }
            Format::Gpx | Format::Tcx => {
                black_box(xml_scan(bytes));
            }
        });
        let mb = bytes.len() as f64 / 1e6;
        let secs = imported.as_secs_f64();
        println!(
            "{:<8} {:>10.2} {:>11.1} {:>9.1} {:>11.0} {:>13.1} {:>17.2}x",
            format.name(),
            mb,
            secs * 1e3,
            mb / secs,
            SAMPLES as f64 / secs,
            baseline.as_secs_f64() * 1e3,
            secs / baseline.as_secs_f64()
        );
        per_byte.push((*format, mb / secs));
    }
    // GPX against TCX per byte, each round timing one import of each back to back, so that a
    // machine busy with other work slows both alike; the median of the rounds' ratios.
    let bytes_of = |f: Format| &files.iter().find(|(g, _)| *g == f).unwrap().1;
    let (gpx, tcx) = (bytes_of(Format::Gpx), bytes_of(Format::Tcx));
    let once = |format: Format, bytes: &[u8]| {
        let t = Instant::now();
        black_box(import::parse(format, black_box(bytes), zone).unwrap());
        bytes.len() as f64 / 1e6 / t.elapsed().as_secs_f64()
    };
    let mut ratios: Vec<f64> = (0..3 * ROUNDS)
        .map(|_| once(Format::Gpx, gpx) / once(Format::Tcx, tcx))
        .collect();
    ratios.sort_by(f64::total_cmp);
    let speed = |f: Format| per_byte.iter().find(|(g, _)| *g == f).map(|(_, v)| *v);
    println!(
        "GPX per byte: {:.2}x TCX's speed (median of {} paired rounds; {:.1} vs {:.1} MB/s above)",
        ratios[ratios.len() / 2],
        ratios.len(),
        speed(Format::Gpx).unwrap_or(0.0),
        speed(Format::Tcx).unwrap_or(0.0)
    );
}
