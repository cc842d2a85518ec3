//! Report benchmark: synthetic histories of 1, 2, 5 and 10 years (500 runs a year, each with a
//! stream of about 4,000 samples: 5,000 runs and 20 million samples at 10 years) in real SQLite
//! files. Prints the time of a full report from the store for each, the growth against the
//! 1-year history measured in the same run, and what one new run costs: saving it and
//! reporting again.
//!
//! `cargo bench -p strideguard-core --bench report`

use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::{DateTime, Days, NaiveDate};
use strideguard_core::analysis::Thresholds;
use strideguard_core::{Run, RunKind, Sample, Shoe, Store};
use uuid::Uuid;

const RUNS_PER_YEAR: usize = 500;
const SAMPLES_PER_RUN: usize = 4_000;
const ROUNDS: usize = 7;

fn end() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()
}

fn run_at(i: usize, day: NaiveDate, shoe: Uuid) -> (Run, Vec<Sample>) {
    let start = DateTime::parse_from_rfc3339(&format!("{day}T07:00:00+01:00")).unwrap();
    let speed = 2.8 + (i % 7) as f64 * 0.1;
    let n = SAMPLES_PER_RUN;
    let mut run = Run::new(Uuid::new_v4(), start, speed * n as f64, n as f64);
    run.kind = if i.is_multiple_of(5) {
        RunKind::Tempo
    } else {
        RunKind::Easy
    };
    run.rpe = Some(3 + (i % 5) as u8);
    run.avg_hr_bpm = Some(145.0);
    run.avg_cadence_spm = Some(168.0 + (i % 9) as f64);
    run.shoe_id = Some(shoe);
    let samples = (0..n)
        .map(|t| Sample {
            t_s: t as f64,
            lat_deg: Some(52.5 + t as f64 * 1e-5),
            lon_deg: Some(13.4),
            altitude_m: Some(35.0),
            distance_m: Some(t as f64 * speed),
            speed_mps: Some(speed),
            hr_bpm: Some(145),
            cadence_spm: Some(170.0),
            stride_m: None,
            ..Sample::default()
        })
        .collect();
    (run, samples)
}

fn history(store: &mut Store, years: usize) -> Uuid {
    let shoe = Shoe::new(Uuid::new_v4(), "Daily");
    store.add_shoe(&shoe).unwrap();
    let days = years * 365;
    let total = years * RUNS_PER_YEAR;
    for i in 0..total {
        let day = end() - Days::new((days - i * days / total) as u64);
        let (run, samples) = run_at(i, day, shoe.id);
        store.add_run(&run, &samples).unwrap();
    }
    shoe.id
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let t = Thresholds::default();
    println!("report: 500 runs a year, {SAMPLES_PER_RUN} samples a run, median of {ROUNDS} rounds");
    println!("years   runs    samples   build s   report ms   vs 1 year   per run us");
    let mut first = None;
    let mut last_store = None;
    for years in [1usize, 2, 5, 10] {
        let path = dir.path().join(format!("{years}y.db"));
        let mut store = Store::open(&path).unwrap();
        let built = Instant::now();
        let shoe = history(&mut store, years);
        let build = built.elapsed();
        let times: Vec<Duration> = (0..ROUNDS)
            .map(|_| {
                let t0 = Instant::now();
                black_box(store.report(end(), 8, &t).unwrap());
                t0.elapsed()
            })
            .collect();
        let report = median(times);
        let base = *first.get_or_insert(report);
        let runs = years * RUNS_PER_YEAR;
        println!(
            "{years:>5} {runs:>6} {:>10} {:>9.1} {:>11.2} {:>10.2}x {:>12.2}",
            runs * SAMPLES_PER_RUN,
            build.as_secs_f64(),
            ms(report),
            ms(report) / ms(base),
            ms(report) * 1e3 / runs as f64
        );
        last_store = Some((store, shoe, report));
    }
    let (mut store, shoe, report) = last_store.unwrap();
    let times: Vec<(Duration, Duration)> = (0..ROUNDS)
        .map(|i| {
            let (run, samples) = run_at(i, end(), shoe);
            let t0 = Instant::now();
            store.add_run(&run, &samples).unwrap();
            let saved = t0.elapsed();
            black_box(store.report(end(), 8, &t).unwrap());
            (saved, t0.elapsed() - saved)
        })
        .collect();
    let save = median(times.iter().map(|x| x.0).collect());
    let again = median(times.iter().map(|x| x.1).collect());
    println!(
        "one new run on the 10-year history: save {:.2} ms, report again {:.2} ms ({:.2}x the report before it)",
        ms(save),
        ms(again),
        ms(again) / ms(report)
    );
}
