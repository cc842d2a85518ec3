//! Store benchmark: a 3-hour run at 1 Hz (10,800 samples), saved and loaded through the real
//! store, against a baseline measured in the same run on the same machine: the obvious schema
//! with one SQLite row per sample. Prints medians and ratios; asserts nothing about time.
//!
//! `cargo bench -p strideguard-core --bench store`

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::DateTime;
use rusqlite::Connection;
use strideguard_core::{Run, Sample, Store};
use uuid::Uuid;

const SAMPLES: usize = 3 * 3600;
const ROUNDS: usize = 15;

fn stream() -> Vec<Sample> {
    (0..SAMPLES)
        .map(|i| {
            let t = i as f64;
            Sample {
                t_s: t,
                lat_deg: Some(52.5145 + (t / 900.0).sin() * 0.01),
                lon_deg: Some(13.3501 + (t / 900.0).cos() * 0.015),
                altitude_m: Some(35.0 + (t / 300.0).sin() * 12.0),
                distance_m: Some(t * 3.05),
                speed_mps: Some(3.05 + (t / 40.0).sin() * 0.2),
                hr_bpm: Some(140 + (i % 11) as u8),
                cadence_spm: Some(168.0 + (t / 25.0).sin() * 3.0),
                stride_m: Some(1.09 + (t / 60.0).cos() * 0.03),
                ..Sample::default()
            }
        })
        .collect()
}

fn run() -> Run {
    Run::new(
        Uuid::new_v4(),
        DateTime::parse_from_rfc3339("2026-03-14T07:30:00+01:00").unwrap(),
        SAMPLES as f64 * 3.05,
        SAMPLES as f64,
    )
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn file_size(p: &Path) -> u64 {
    let wal = p.with_extension("db-wal");
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
        + std::fs::metadata(wal).map(|m| m.len()).unwrap_or(0)
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let samples = stream();

    // Strideguard's store: chunked, columnar, delta-encoded.
    let path = dir.path().join("chunked.db");
    let mut store = Store::open(&path).unwrap();
    let (mut save, mut load) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let r = run();
        let t = Instant::now();
        store.add_run(&r, &samples).unwrap();
        save.push(t.elapsed());
        let t = Instant::now();
        let back = store.samples(r.id).unwrap();
        load.push(t.elapsed());
        assert_eq!(black_box(back).len(), SAMPLES);
    }
    drop(store);
    let chunked_bytes = file_size(&path);

    // Baseline: one row per sample, same SQLite settings, one transaction per run.
    let path = dir.path().join("rows.db");
    let mut conn = Connection::open(&path).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", "FULL").unwrap();
    conn.execute_batch(
        "CREATE TABLE samples (run_id TEXT, t REAL, lat REAL, lon REAL, alt REAL, dist REAL,
         speed REAL, hr INTEGER, cad REAL, stride REAL, PRIMARY KEY (run_id, t)) WITHOUT ROWID",
    )
    .unwrap();
    let (mut base_save, mut base_load) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let id = Uuid::new_v4().to_string();
        let t = Instant::now();
        let tx = conn.transaction().unwrap();
        {
            let mut stmt = tx
                .prepare("INSERT INTO samples VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)")
                .unwrap();
            for s in &samples {
                stmt.execute(rusqlite::params![
                    id,
                    s.t_s,
                    s.lat_deg,
                    s.lon_deg,
                    s.altitude_m,
                    s.distance_m,
                    s.speed_mps,
                    s.hr_bpm,
                    s.cadence_spm,
                    s.stride_m
                ])
                .unwrap();
            }
        }
        tx.commit().unwrap();
        base_save.push(t.elapsed());
        let t = Instant::now();
        let mut stmt = conn
            .prepare_cached("SELECT t, lat, lon, alt, dist, speed, hr, cad, stride FROM samples WHERE run_id = ?1 ORDER BY t")
            .unwrap();
        let back: Vec<Sample> = stmt
            .query_map([&id], |r| {
                Ok(Sample {
                    t_s: r.get(0)?,
                    lat_deg: r.get(1)?,
                    lon_deg: r.get(2)?,
                    altitude_m: r.get(3)?,
                    distance_m: r.get(4)?,
                    speed_mps: r.get(5)?,
                    hr_bpm: r.get(6)?,
                    cadence_spm: r.get(7)?,
                    stride_m: r.get(8)?,
                    ..Sample::default()
                })
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        base_load.push(t.elapsed());
        assert_eq!(black_box(back).len(), SAMPLES);
    }
    drop(conn);
    let rows_bytes = file_size(&path);

    let (save, load, base_save, base_load) = (
        median(save),
        median(load),
        median(base_save),
        median(base_load),
    );
    println!("store: {SAMPLES} samples (3 h at 1 Hz), median of {ROUNDS} rounds");
    println!("                      save ms   load ms   bytes/sample");
    println!(
        "chunked (strideguard) {:>8.2}  {:>8.2}  {:>12.1}",
        ms(save),
        ms(load),
        chunked_bytes as f64 / (ROUNDS * SAMPLES) as f64
    );
    println!(
        "row per sample        {:>8.2}  {:>8.2}  {:>12.1}",
        ms(base_save),
        ms(base_load),
        rows_bytes as f64 / (ROUNDS * SAMPLES) as f64
    );
    println!(
        "ratio (baseline / strideguard): save {:.1}x, load {:.1}x, size {:.1}x",
        ms(base_save) / ms(save),
        ms(base_load) / ms(load),
        rows_bytes as f64 / chunked_bytes as f64
    );
}
