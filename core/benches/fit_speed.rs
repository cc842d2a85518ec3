//! FIT import speed against Garmin's official Python FIT SDK on the same file, in the same run
//! on the same machine: a 10-hour run at 1 Hz (36,000 records with position, altitude,
//! distance, speed, heart rate, cadence, step length, power and running dynamics), imported
//! by us (decode and write into a fresh SQLite store, as `store::import_bytes` does for the
//! apps) against the SDK's `Decoder(Stream.from_file(path)).read()` alone. Prints both medians
//! and the ratio; asserts nothing about time.
//!
//! The SDK is `pip install garmin-fit-sdk`; the Python used is `$STRIDEGUARD_PYTHON`, else
//! `python3`. Without it the SDK half is skipped with a message.
//!
//! `cargo bench -p strideguard-core --bench fit_speed`

use std::cell::RefCell;
use std::hint::black_box;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::DateTime;
use strideguard_core::export;
use strideguard_core::import::Format;
use strideguard_core::store::{self, ShoeChoice};
use strideguard_core::{Run, Sample, Store};
use uuid::Uuid;

const SAMPLES: usize = 10 * 3600;
const ROUNDS: usize = 7;
const SDK_ROUNDS: usize = 3;

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
                power_w: Some(245.0 + (t / 30.0).sin() * 20.0),
                stance_time_s: Some(0.25 + (t / 50.0).sin() * 0.01),
                stance_balance_left_pct: Some(50.2),
                vertical_oscillation_m: Some(0.082),
                vertical_ratio_pct: Some(7.6),
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

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The SDK's decode of `path`, timed inside Python (interpreter start-up and imports left out);
/// `Err` says why it could not run.
fn sdk_decode(python: &str, path: &Path) -> Result<Duration, String> {
    const SCRIPT: &str = "
import sys, time
from garmin_fit_sdk import Decoder, Stream
t = time.perf_counter()
messages, errors = Decoder(Stream.from_file(sys.argv[1])).read()
elapsed = time.perf_counter() - t
assert not errors, errors
assert len(messages['record_mesgs']) == int(sys.argv[2]), len(messages['record_mesgs'])
print(elapsed)
";
    let out = Command::new(python)
        .args(["-c", SCRIPT])
        .arg(path)
        .arg(SAMPLES.to_string())
        .output()
        .map_err(|e| format!("{python}: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(err.lines().last().unwrap_or("failed").to_string());
    }
    let secs: f64 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .map_err(|e| format!("unexpected output: {e}"))?;
    Ok(Duration::from_secs_f64(secs))
}

fn main() {
    let (run, samples) = run_and_stream();
    let bytes = export::fit::write(&run, &samples, 1);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long-run.fit");
    std::fs::write(&path, &bytes).unwrap();
    println!(
        "fit_speed: {SAMPLES} records (10 h at 1 Hz, with power and running dynamics), {:.2} MB",
        bytes.len() as f64 / 1e6
    );

    // Ours: read the file, decode it, and write the run and its samples into a fresh store.
    let mut ours = Vec::new();
    let mut decode_only = Vec::new();
    for round in 0..ROUNDS {
        let mut store = Store::open(dir.path().join(format!("store-{round}.db"))).unwrap();
        let t = Instant::now();
        let file = std::fs::read(&path).unwrap();
        let parsed = strideguard_core::import::parse(Format::Fit, &file, chrono_tz::UTC).unwrap();
        decode_only.push(t.elapsed());
        drop(parsed);
        let t = Instant::now();
        let file = std::fs::read(&path).unwrap();
        let access = RefCell::new(&mut store);
        let imported = store::import_bytes(&access, &file, Format::Fit, ShoeChoice::None).unwrap();
        ours.push(t.elapsed());
        assert_eq!(black_box(imported).len(), 1);
    }
    let ours = median(ours);
    let decode_only = median(decode_only);
    println!(
        "strideguard: import (decode + store write) {:.1} ms, decode alone {:.1} ms (median of {ROUNDS})",
        ms(ours),
        ms(decode_only)
    );

    let python = std::env::var("STRIDEGUARD_PYTHON").unwrap_or_else(|_| "python3".into());
    let mut sdk = Vec::new();
    for _ in 0..SDK_ROUNDS {
        match sdk_decode(&python, &path) {
            Ok(d) => sdk.push(d),
            Err(why) => {
                println!(
                    "garmin_fit_sdk: skipped ({why}); `pip install garmin-fit-sdk`, or set \
                     STRIDEGUARD_PYTHON to a Python that has it"
                );
                return;
            }
        }
    }
    let sdk = median(sdk);
    println!(
        "garmin_fit_sdk (Python): decode {:.1} ms (median of {SDK_ROUNDS})",
        ms(sdk)
    );
    println!(
        "ratio: our import is {:.1}x the SDK's decode ({:.1}x for decode alone)",
        sdk.as_secs_f64() / ours.as_secs_f64(),
        sdk.as_secs_f64() / decode_only.as_secs_f64()
    );
}
