//! The classes of FIT file seen from real devices, each reproduced by a file this suite writes
//! with [`Fit`], a FIT writer that can write what `export::fit` never does: several sessions,
//! other file types, clocks that were never set, big-endian layouts, compressed timestamps,
//! developer fields, chained files.

use chrono_tz::Tz;

use super::decode::FIRST_ABSOLUTE_TIME;
use crate::export;
use crate::export::fit::crc16;
use crate::import::{Format, ImportError, Parsed, average_cadence, parse};
use crate::model::{Run, Sample};

// FIT base types.
const ENUM: u8 = 0x00;
const SINT8: u8 = 0x01;
const UINT8: u8 = 0x02;
const UINT16: u8 = 0x84;
const SINT32: u8 = 0x85;
const UINT32: u8 = 0x86;
const STRING: u8 = 0x07;

/// A value to write: a number already in FIT units, a string, or the type's invalid value.
#[derive(Clone, Copy)]
enum V {
    N(i64),
    S(&'static str),
    X,
}
use V::{N, X};

/// A field of a layout: number, size in bytes, base type.
type F = (u8, u8, u8);

/// A layout as defined: big-endian, fields, developer fields (number, size, developer index).
type Layout = (bool, Vec<F>, Vec<(u8, u8, u8)>);

/// A FIT file written message by message, in either byte order.
#[derive(Default)]
struct Fit {
    data: Vec<u8>,
    layouts: [Option<Layout>; 16],
}

impl Fit {
    fn new() -> Fit {
        Fit::default()
    }

    /// A definition message: local type, global number, byte order, fields, developer fields
    /// (number, size, developer index).
    fn define(&mut self, local: u8, global: u16, big: bool, fields: &[F], dev: &[(u8, u8, u8)]) {
        let dev_flag = if dev.is_empty() { 0 } else { 0x20 };
        self.data.push(0x40 | dev_flag | local);
        self.data.push(0);
        self.data.push(u8::from(big));
        if big {
            self.data.extend_from_slice(&global.to_be_bytes());
        } else {
            self.data.extend_from_slice(&global.to_le_bytes());
        }
        self.data.push(fields.len() as u8);
        for f in fields {
            self.data.extend_from_slice(&[f.0, f.1, f.2]);
        }
        if !dev.is_empty() {
            self.data.push(dev.len() as u8);
            for d in dev {
                self.data.extend_from_slice(&[d.0, d.1, d.2]);
            }
        }
        self.layouts[usize::from(local)] = Some((big, fields.to_vec(), dev.to_vec()));
    }

    /// A data message with a normal header; `dev` values follow the fields, as uint16s unless
    /// the developer field is one byte.
    fn data(&mut self, local: u8, values: &[V], dev: &[V]) {
        self.data.push(local);
        self.body(local, values, dev);
    }

    /// A data message with a compressed-timestamp header (the layout has no field 253).
    fn compressed(&mut self, local: u8, time_offset: u8, values: &[V]) {
        self.data.push(0x80 | (local << 5) | (time_offset & 0x1F));
        self.body(local, values, &[]);
    }

    fn body(&mut self, local: u8, values: &[V], dev: &[V]) {
        let (big, fields, devs) = self.layouts[usize::from(local)].clone().unwrap();
        assert_eq!(fields.len(), values.len());
        assert_eq!(devs.len(), dev.len());
        let sizes = fields.iter().map(|f| (f.1, f.2)).chain(
            devs.iter()
                .map(|d| (d.1, if d.1 == 1 { UINT8 } else { UINT16 })),
        );
        for ((size, base), v) in sizes.zip(values.iter().chain(dev)) {
            let size = usize::from(size);
            let bytes: Vec<u8> = match (v, base) {
                (V::S(s), _) => {
                    let mut b = s.as_bytes().to_vec();
                    b.resize(size, 0);
                    b
                }
                (N(n), _) => {
                    let b = n.to_le_bytes();
                    if big {
                        b[..size].iter().rev().copied().collect()
                    } else {
                        b[..size].to_vec()
                    }
                }
                (X, SINT8) => vec![0x7F],
                (X, SINT32) => {
                    if big {
                        vec![0x7F, 0xFF, 0xFF, 0xFF]
                    } else {
                        vec![0xFF, 0xFF, 0xFF, 0x7F]
                    }
                }
                (X, STRING) => vec![0; size],
                (X, _) => vec![0xFF; size],
            };
            self.data.extend_from_slice(&bytes);
        }
    }

    /// The file: a 14-byte header with its CRC, the messages, the file CRC.
    fn finish(&self) -> Vec<u8> {
        let mut out = vec![14, 0x20];
        out.extend_from_slice(&2132u16.to_le_bytes());
        out.extend_from_slice(&(self.data.len() as u32).to_le_bytes());
        out.extend_from_slice(b".FIT");
        let crc = crc16(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&self.data);
        let crc = crc16(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }
}

/// 2026-05-02T07:00:00Z in FIT seconds.
const T0: i64 = 1_777_705_200 - 631_065_600;

fn zone() -> Tz {
    chrono_tz::Europe::Berlin
}

fn all(bytes: &[u8]) -> Vec<Parsed> {
    parse(Format::Fit, bytes, zone()).unwrap()
}

fn one_run(bytes: &[u8]) -> (Run, Vec<Sample>, Option<String>) {
    let mut v = all(bytes);
    assert_eq!(v.len(), 1, "{v:?}");
    match v.remove(0) {
        Parsed::Run { run, samples, note } => (run, samples, note),
        other => panic!("{other:?}"),
    }
}

fn error(bytes: &[u8]) -> String {
    match parse(Format::Fit, bytes, zone()) {
        Err(ImportError::Malformed { reason, .. }) => reason,
        Ok(p) => panic!("accepted: {p:?}"),
    }
}

fn file_id(fit: &mut Fit, file_type: i64) {
    fit.define(
        0,
        0,
        false,
        &[(0, 1, ENUM), (1, 2, UINT16), (4, 4, UINT32)],
        &[],
    );
    fit.data(0, &[N(file_type), N(1), N(T0)], &[]);
}

/// The record layout used below: time, position, enhanced altitude, distance, enhanced speed,
/// heart rate, cadence and its fraction.
const RECORD: &[F] = &[
    (253, 4, UINT32),
    (0, 4, SINT32),
    (1, 4, SINT32),
    (78, 4, UINT32),
    (5, 4, UINT32),
    (73, 4, UINT32),
    (3, 1, UINT8),
    (4, 1, UINT8),
    (53, 1, UINT8),
];

/// One record in FIT units: `t` seconds after T0, `d` metres, `v` m/s, `alt` metres, `hr`,
/// `spm` steps per minute (written as strides of one foot and 1/128ths).
fn record(t: i64, d: f64, v: f64, alt: f64, hr: Option<i64>, spm: Option<f64>) -> Vec<V> {
    let strides = spm.map(|s| s / 2.0);
    vec![
        N(T0 + t),
        N(620_000_000 + t * 1000),
        N(159_000_000),
        N(((alt + 500.0) * 5.0).round() as i64),
        N((d * 100.0).round() as i64),
        N((v * 1000.0).round() as i64),
        hr.map_or(X, N),
        strides.map_or(X, |c| N(c.floor() as i64)),
        strides.map_or(X, |c| N(((c - c.floor()) * 128.0).round() as i64)),
    ]
}

/// The session layout used below: time, start, sport, elapsed and timer time, distance; the
/// averages are left to each test.
fn session(
    fit: &mut Fit,
    local: u8,
    start: i64,
    elapsed: f64,
    sport: i64,
    distance: f64,
    extra: &[(F, V)],
) {
    let mut fields: Vec<F> = vec![
        (253, 4, UINT32),
        (2, 4, UINT32),
        (5, 1, ENUM),
        (7, 4, UINT32),
        (9, 4, UINT32),
    ];
    let mut values = vec![
        N(T0 + start + elapsed as i64),
        N(T0 + start),
        N(sport),
        N((elapsed * 1000.0) as i64),
        N((distance * 100.0) as i64),
    ];
    for (f, v) in extra {
        fields.push(*f);
        values.push(*v);
    }
    fit.define(local, 18, false, &fields, &[]);
    fit.data(local, &values, &[]);
}

/// A steady run of `n` seconds from `t0`: 3 m/s, 172 steps/min, heart rate 140-149, a hill.
fn steady(fit: &mut Fit, t0: i64, n: i64, d0: f64) {
    fit.define(1, 20, false, RECORD, &[]);
    for i in 0..n {
        let alt = 30.0 + 20.0 * (std::f64::consts::PI * i as f64 / n as f64).sin();
        fit.data(
            1,
            &record(
                t0 + i,
                d0 + 3.0 * i as f64,
                3.0,
                alt,
                Some(140 + i % 10),
                Some(172.0),
            ),
            &[],
        );
    }
}

#[test]
fn a_session_without_averages_takes_them_from_the_records() {
    let mut fit = Fit::new();
    file_id(&mut fit, 4);
    fit.define(1, 20, false, RECORD, &[]);
    let mut t = 0;
    let mut d = 0.0;
    // Ten minutes running, thirty seconds standing at a light, a gap of two minutes (the watch
    // paused), ten minutes running; cadence drifts from 166 to 178.
    for i in 0..600 {
        let spm = 166.0 + 12.0 * i as f64 / 600.0;
        let alt = 30.0 + 12.0 * (i as f64 / 599.0);
        fit.data(
            1,
            &record(t, d, 3.1, alt, Some(140 + i % 9), Some(spm)),
            &[],
        );
        t += 1;
        d += 3.1;
    }
    for _ in 0..30 {
        fit.data(1, &record(t, d, 0.0, 42.0, Some(120), Some(0.0)), &[]);
        t += 1;
    }
    t += 120;
    for i in 0..600 {
        let spm = 172.0 + 6.0 * i as f64 / 600.0;
        fit.data(
            1,
            &record(t, d, 3.1, 42.0, Some(150 + i % 5), Some(spm)),
            &[],
        );
        t += 1;
        d += 3.1;
    }
    // The session names the sport and the totals, no averages and no timer time; its cadence
    // (a watch's, over a different time) disagrees with the records'.
    session(
        &mut fit,
        2,
        0,
        t as f64,
        1,
        d,
        &[((18, 1, UINT8), N(80)), ((92, 1, UINT8), N(0))],
    );
    let bytes = fit.finish();
    let (run, samples, note) = one_run(&bytes);
    assert_eq!(note, None);
    assert_eq!(samples.len(), 1230);
    let hrs: Vec<f64> = samples
        .iter()
        .filter_map(|s| s.hr_bpm.map(f64::from))
        .collect();
    let mean_hr = hrs.iter().sum::<f64>() / hrs.len() as f64;
    assert!((run.avg_hr_bpm.unwrap() - mean_hr).abs() < 1e-9);
    assert_eq!(run.max_hr_bpm, Some(154.0));
    // Cadence: the records' (the one definition), not the session's 160.
    assert_eq!(run.avg_cadence_spm, average_cadence(&samples));
    assert!(
        (run.avg_cadence_spm.unwrap() - 173.5).abs() < 0.1,
        "{run:?}"
    );
    // The climb from 30 m to 42 m.
    assert!(
        (run.elevation_gain_m.unwrap() - 12.0).abs() < 0.5,
        "{:?}",
        run.elevation_gain_m
    );
    assert_eq!(run.elevation_loss_m, Some(0.0));
    // Moving: the two stretches of running (599 seconds between their 600 records each), not
    // the stop or the pause.
    assert_eq!(run.moving_time_s, Some(1198.0));
    assert_eq!(run.duration_s, t as f64);

    // The same activity as GPX and TCX (no summary at all): the cadence agrees within 1 step.
    for (format, file) in [
        (Format::Gpx, export::gpx::write(&run, &samples, "running")),
        (Format::Tcx, export::tcx::write(&run, &samples, "Running")),
    ] {
        let Parsed::Run { run: other, .. } = parse(format, &file, zone()).unwrap().remove(0) else {
            panic!("{format:?}");
        };
        let (a, b) = (run.avg_cadence_spm.unwrap(), other.avg_cadence_spm.unwrap());
        assert!((a - b).abs() <= 1.0, "{format:?}: {a} vs {b}");
    }
}

#[test]
fn a_session_with_averages_keeps_them() {
    let mut fit = Fit::new();
    file_id(&mut fit, 4);
    steady(&mut fit, 0, 300, 0.0);
    session(
        &mut fit,
        2,
        0,
        300.0,
        1,
        900.0,
        &[
            ((8, 4, UINT32), N(290_000)),
            ((16, 1, UINT8), N(133)),
            ((17, 1, UINT8), N(160)),
            ((22, 2, UINT16), N(25)),
            ((23, 2, UINT16), N(24)),
        ],
    );
    let (run, _, _) = one_run(&fit.finish());
    assert_eq!(run.avg_hr_bpm, Some(133.0));
    assert_eq!(run.max_hr_bpm, Some(160.0));
    assert_eq!(run.elevation_gain_m, Some(25.0));
    assert_eq!(run.elevation_loss_m, Some(24.0));
    assert_eq!(run.moving_time_s, Some(290.0));
    assert_eq!(run.distance_m, 900.0);
}

#[test]
fn each_running_leg_of_a_multisport_file_is_a_run_and_the_others_are_named() {
    // A duathlon: run 10 min, transition 1 min, ride 20 min, run 5 min; one record stream.
    let mut fit = Fit::new();
    file_id(&mut fit, 4);
    steady(&mut fit, 0, 600, 0.0);
    fit.define(1, 20, false, RECORD, &[]);
    for i in 600..660 {
        fit.data(1, &record(i, 1800.0, 1.0, 30.0, Some(150), None), &[]);
    }
    for i in 660..1860 {
        let d = 1800.0 + 9.0 * (i - 660) as f64;
        fit.data(1, &record(i, d, 9.0, 30.0, Some(155), Some(170.0)), &[]);
    }
    steady(&mut fit, 1860, 300, 12_600.0);
    session(&mut fit, 2, 0, 599.0, 1, 1800.0, &[]);
    session(&mut fit, 3, 600, 59.0, 3, 0.0, &[]);
    session(&mut fit, 4, 660, 1199.0, 2, 10_800.0, &[]);
    session(&mut fit, 5, 1860, 299.0, 1, 900.0, &[]);
    let parsed = all(&fit.finish());
    assert_eq!(parsed.len(), 4, "{parsed:?}");
    let runs: Vec<(&Run, &Vec<Sample>)> = parsed
        .iter()
        .filter_map(|p| match p {
            Parsed::Run { run, samples, .. } => Some((run, samples)),
            _ => None,
        })
        .collect();
    assert_eq!(
        parsed[1],
        Parsed::NotARun {
            reason: "leg 2 of 4 is transition, not a run".into()
        }
    );
    assert_eq!(
        parsed[2],
        Parsed::NotARun {
            reason: "leg 3 of 4 is cycling, not a run".into()
        }
    );
    let (first, s1) = runs[0];
    let (second, s2) = runs[1];
    assert_eq!(first.start.to_rfc3339(), "2026-05-02T09:00:00+02:00");
    assert_eq!(second.start.to_rfc3339(), "2026-05-02T09:31:00+02:00");
    assert_eq!((s1.len(), s2.len()), (600, 300));
    assert_eq!((s1[0].t_s, s2[0].t_s), (0.0, 0.0));
    assert_eq!(s2.last().unwrap().t_s, 299.0);
    assert_eq!((first.distance_m, second.distance_m), (1800.0, 900.0));
    assert_eq!((first.duration_s, second.duration_s), (599.0, 299.0));
    // The ride's fast records are not in either run.
    assert!(s1.iter().chain(s2.iter()).all(|s| s.speed_mps == Some(3.0)));
    // Every activity of the file has its own id.
    let mut ids: Vec<_> = runs.iter().map(|(r, _)| r.id).collect();
    ids.dedup();
    assert_eq!(ids.len(), 2);
}

#[test]
fn a_generic_or_unnamed_sport_is_judged_from_the_records() {
    // Sport generic, running-like records: a run, with the note saying how it was judged.
    let mut fit = Fit::new();
    file_id(&mut fit, 4);
    steady(&mut fit, 0, 300, 0.0);
    session(&mut fit, 2, 0, 299.0, 0, 900.0, &[]);
    let (run, _, note) = one_run(&fit.finish());
    assert_eq!(run.distance_m, 900.0);
    let note = note.expect("a note");
    assert!(
        note.contains("judged a run") && note.contains("172 steps/min") && note.contains("5:33/km"),
        "{note}"
    );

    // Sport generic, a walk's cadence: skipped, saying why.
    let mut fit = Fit::new();
    file_id(&mut fit, 4);
    fit.define(1, 20, false, RECORD, &[]);
    for i in 0..300 {
        fit.data(
            1,
            &record(i, 1.4 * i as f64, 1.4, 30.0, Some(100), Some(112.0)),
            &[],
        );
    }
    session(&mut fit, 2, 0, 299.0, 0, 420.0, &[]);
    let parsed = all(&fit.finish());
    assert!(
        matches!(&parsed[..], [Parsed::NotARun { reason }] if reason.contains("walk")),
        "{parsed:?}"
    );

    // No sport anywhere, no session or lap (only records): judged too.
    let mut fit = Fit::new();
    file_id(&mut fit, 4);
    steady(&mut fit, 0, 120, 0.0);
    let (run, samples, note) = one_run(&fit.finish());
    assert!(note.unwrap().contains("judged a run"));
    assert_eq!(samples.len(), 120);
    assert_eq!(run.duration_s, 119.0);
    assert_eq!(run.distance_m, 357.0);
    assert_eq!(run.avg_cadence_spm, Some(172.0));
}

#[test]
fn times_from_a_watch_that_never_set_its_clock_are_refused() {
    // Seconds since the watch was switched on: 1990 dates if read as dates.
    let mut fit = Fit::new();
    fit.define(1, 20, false, RECORD, &[]);
    for i in 0..60 {
        let mut r = record(i, 3.0 * i as f64, 3.0, 30.0, Some(140), Some(170.0));
        r[0] = N(5_000 + i);
        fit.data(1, &r, &[]);
    }
    assert!(5_000 < i64::from(FIRST_ABSOLUTE_TIME));
    let reason = error(&fit.finish());
    assert!(
        reason.starts_with("at byte ")
            && reason.contains("switched on")
            && reason.contains("clock"),
        "{reason}"
    );
}

/// A short run whose activity message puts the watch `local_minus_utc` seconds off UTC.
fn with_local_offset(local_minus_utc: i64) -> Vec<u8> {
    let mut fit = Fit::new();
    file_id(&mut fit, 4);
    steady(&mut fit, 0, 60, 0.0);
    session(&mut fit, 2, 0, 59.0, 1, 180.0, &[]);
    fit.define(
        3,
        34,
        false,
        &[(253, 4, UINT32), (1, 2, UINT16), (5, 4, UINT32)],
        &[],
    );
    fit.data(3, &[N(T0 + 59), N(1), N(T0 + 59 + local_minus_utc)], &[]);
    fit.finish()
}

#[test]
fn the_watch_offset_is_rounded_to_the_nearest_quarter_hour() {
    let start = |offset: i64| one_run(&with_local_offset(offset)).0.start.to_rfc3339();
    assert_eq!(start(7200), "2026-05-02T09:00:00+02:00");
    // Local time read a few seconds or minutes apart from UTC: the nearest real zone offset.
    assert_eq!(start(7200 + 7 * 60 + 3), "2026-05-02T09:00:00+02:00");
    assert_eq!(start(7200 - 5), "2026-05-02T09:00:00+02:00");
    assert_eq!(start(5 * 3600 + 43 * 60), "2026-05-02T12:45:00+05:45");
    assert_eq!(start(-(3 * 3600 + 31 * 60)), "2026-05-02T03:30:00-03:30");
    // No zone is 20 hours off: the runner's own zone (Berlin, summer time) instead.
    assert_eq!(start(20 * 3600), "2026-05-02T09:00:00+02:00");
    assert_eq!(start(-20 * 3600), "2026-05-02T09:00:00+02:00");
}

#[test]
fn fit_files_that_are_not_activities_are_skipped_with_their_type() {
    for (file_type, name) in [
        (2, "settings"),
        (3, "sport settings"),
        (5, "workout"),
        (6, "course"),
        (9, "weight"),
        (10, "totals"),
        (11, "goals"),
        (14, "blood pressure"),
        (15, "monitoring"),
        (32, "monitoring"),
        (34, "segment"),
        (200, "type 200"),
    ] {
        let mut fit = Fit::new();
        file_id(&mut fit, file_type);
        // A course has records too: they are not a run.
        steady(&mut fit, 0, 30, 0.0);
        assert_eq!(
            all(&fit.finish()),
            vec![Parsed::NotARun {
                reason: format!("a FIT {name} file, not an activity")
            }]
        );
    }
}

/// Records with every running-dynamics field and native power.
const DYNAMICS: &[F] = &[
    (253, 4, UINT32),
    (5, 4, UINT32),
    (73, 4, UINT32),
    (4, 1, UINT8),
    (7, 2, UINT16),
    (39, 2, UINT16),
    (41, 2, UINT16),
    (83, 2, UINT16),
    (84, 2, UINT16),
    (85, 2, UINT16),
];

fn dynamics_record(i: i64) -> Vec<V> {
    let odd = i % 2;
    vec![
        N(T0 + i),
        N(300 * i),
        N(3000),
        N(86),
        N(250 + 10 * odd),     // 250 or 260 W
        N(800 + 20 * odd),     // 80.0 or 82.0 mm
        N(2500 + 100 * odd),   // 250.0 or 260.0 ms
        N(750 + 10 * odd),     // 7.50 or 7.60 %
        N(5010 + 20 * odd),    // 50.10 or 50.30 % left
        N(10_800 + 200 * odd), // 1080 or 1100 mm
    ]
}

#[test]
fn running_dynamics_and_power_come_from_the_records_or_the_session() {
    let build = |with_averages: bool| {
        let mut fit = Fit::new();
        file_id(&mut fit, 4);
        fit.define(1, 20, false, DYNAMICS, &[]);
        for i in 0..100 {
            fit.data(1, &dynamics_record(i), &[]);
        }
        // A record where the pod lost contact: power and dynamics invalid or zero.
        fit.data(
            1,
            &[
                N(T0 + 100),
                N(30_000),
                N(3000),
                N(86),
                X,
                N(0),
                N(0),
                X,
                X,
                X,
            ],
            &[],
        );
        let extra: Vec<(F, V)> = if with_averages {
            vec![
                ((20, 2, UINT16), N(248)),
                ((89, 2, UINT16), N(805)),
                ((91, 2, UINT16), N(2540)),
                ((132, 2, UINT16), N(752)),
                ((133, 2, UINT16), N(5015)),
                ((134, 2, UINT16), N(10_850)),
            ]
        } else {
            Vec::new()
        };
        session(&mut fit, 2, 0, 100.0, 1, 300.0, &extra);
        fit.finish()
    };

    let (run, samples, _) = one_run(&build(false));
    let s = &samples[1];
    assert_eq!(s.power_w, Some(260.0));
    assert!((s.vertical_oscillation_m.unwrap() - 0.082).abs() < 1e-12);
    assert!((s.stance_time_s.unwrap() - 0.260).abs() < 1e-12);
    assert!((s.vertical_ratio_pct.unwrap() - 7.6).abs() < 1e-12);
    assert!((s.stance_balance_left_pct.unwrap() - 50.3).abs() < 1e-12);
    assert!((s.stride_m.unwrap() - 1.1).abs() < 1e-12);
    let lost = &samples[100];
    assert_eq!(
        (
            lost.power_w,
            lost.vertical_oscillation_m,
            lost.stance_time_s,
            lost.stride_m
        ),
        (None, None, None, None)
    );
    // The means over the records that have them: half at each value.
    let near = |a: Option<f64>, b: f64| (a.unwrap() - b).abs() < 1e-9;
    assert!(near(run.avg_power_w, 255.0), "{:?}", run.avg_power_w);
    assert!(near(run.avg_vertical_oscillation_m, 0.081));
    assert!(near(run.avg_stance_time_s, 0.255));
    assert!(near(run.avg_vertical_ratio_pct, 7.55));
    assert!(near(run.avg_stance_balance_left_pct, 50.2));
    assert!(near(run.avg_step_length_m, 1.09));

    // With the session's averages, those are the run's.
    let (run, _, _) = one_run(&build(true));
    assert!(near(run.avg_power_w, 248.0));
    assert!(near(run.avg_vertical_oscillation_m, 0.0805));
    assert!(near(run.avg_stance_time_s, 0.254));
    assert!(near(run.avg_vertical_ratio_pct, 7.52));
    assert!(near(run.avg_stance_balance_left_pct, 50.15));
    assert!(near(run.avg_step_length_m, 1.085));
}

#[test]
fn power_from_a_stryd_developer_field() {
    // A Stryd footpod's Connect IQ field: developer 0's field 7, named "Power", in watts,
    // next to its "Leg Spring Stiffness" (not ours) and "Ground Time" in ms.
    let mut fit = Fit::new();
    file_id(&mut fit, 4);
    fit.define(2, 207, false, &[(1, 16, 0x0D), (3, 1, UINT8)], &[]);
    fit.data(2, &[V::S("stryd-app-id-000"), N(0)], &[]);
    let description: &[F] = &[
        (0, 1, UINT8),
        (1, 1, UINT8),
        (2, 1, UINT8),
        (3, 24, STRING),
        (6, 1, UINT8),
        (7, 1, SINT8),
        (8, 16, STRING),
    ];
    fit.define(3, 206, false, description, &[]);
    for (num, name, units) in [
        (7, "Power", "Watts"),
        (8, "Leg Spring Stiffness", "KN/m"),
        (9, "Ground Time", "Milliseconds"),
    ] {
        fit.data(
            3,
            &[
                N(0),
                N(num),
                N(i64::from(UINT16)),
                V::S(name),
                X,
                X,
                V::S(units),
            ],
            &[],
        );
    }
    // Records in big-endian layout, every other one with a compressed timestamp.
    let with_time: &[F] = &[(253, 4, UINT32), (5, 4, UINT32), (4, 1, UINT8)];
    fit.define(1, 20, true, with_time, &[(7, 2, 0), (8, 2, 0), (9, 2, 0)]);
    let compact: &[F] = &[(5, 4, UINT32), (4, 1, UINT8)];
    fit.define(0, 20, true, compact, &[]);
    for i in 0..60i64 {
        if i % 2 == 0 {
            fit.data(
                1,
                &[N(T0 + i), N(300 * i), N(86)],
                &[N(230 + i), N(9000), N(240)],
            );
        } else {
            fit.compressed(0, ((T0 + i) & 0x1F) as u8, &[N(300 * i), N(86)]);
        }
    }
    session(&mut fit, 2, 0, 59.0, 1, 177.0, &[]);
    let (run, samples, _) = one_run(&fit.finish());
    assert_eq!(samples.len(), 60);
    // The compressed timestamps fall in place, through the 32-second rollover.
    assert!(
        samples
            .iter()
            .enumerate()
            .all(|(i, s)| s.t_s == i as f64 && s.distance_m == Some(3.0 * i as f64)),
        "{samples:?}"
    );
    assert_eq!(samples[0].power_w, Some(230.0));
    assert_eq!(samples[58].power_w, Some(288.0));
    assert_eq!(samples[1].power_w, None);
    assert!((samples[0].stance_time_s.unwrap() - 0.240).abs() < 1e-12);
    assert_eq!(run.avg_power_w, Some(259.0));
    assert_eq!(run.avg_cadence_spm, Some(172.0));
}

#[test]
fn chained_files_are_read_as_one_activity() {
    // Some watches split a long activity into chained FIT files in one .fit.
    let mut a = Fit::new();
    file_id(&mut a, 4);
    steady(&mut a, 0, 100, 0.0);
    let mut b = Fit::new();
    steady(&mut b, 100, 100, 300.0);
    session(&mut b, 2, 0, 199.0, 1, 597.0, &[]);
    let mut bytes = a.finish();
    bytes.extend_from_slice(&b.finish());
    let (run, samples, _) = one_run(&bytes);
    assert_eq!(samples.len(), 200);
    assert_eq!(samples[199].t_s, 199.0);
    assert_eq!(run.distance_m, 597.0);
}

#[test]
fn errors_name_the_byte_and_say_what_is_wrong() {
    // Data for a local type never defined, right after the 14-byte header.
    let mut fit = Fit::new();
    fit.data.push(3);
    fit.data.extend_from_slice(&[0; 8]);
    assert_eq!(
        error(&fit.finish()),
        "at byte 14: a message uses a layout the file never defined (damaged, or not written by a watch)"
    );
    // A header checksum that does not match.
    let mut bytes = with_local_offset(0);
    bytes[12] ^= 0xFF;
    assert_eq!(
        error(&bytes),
        "at byte 12: the file is damaged: its header checksum does not match the header"
    );
    // A layout naming a byte order that is neither.
    let mut fit = Fit::new();
    fit.data.extend_from_slice(&[0x40, 0, 7, 0, 0, 0]);
    assert_eq!(
        error(&fit.finish()),
        "at byte 14: a message layout names byte order 7, which FIT does not have"
    );
    // A layout cut off by the end of the data.
    let mut fit = Fit::new();
    fit.data.extend_from_slice(&[0x40, 0, 0, 20, 0, 5, 253, 4]);
    assert_eq!(
        error(&fit.finish()),
        "at byte 14: a message layout is cut short by the end of the data"
    );
    // A message running past the end of the data.
    let mut fit = Fit::new();
    fit.define(0, 20, false, &[(253, 4, UINT32), (5, 4, UINT32)], &[]);
    fit.data.extend_from_slice(&[0, 1, 2, 3]);
    assert_eq!(
        error(&fit.finish()),
        "at byte 26: the last message runs 5 bytes past the end of the data"
    );
    // A file whose header announces more than it has.
    let bytes = with_local_offset(0);
    assert_eq!(
        error(&bytes[..100]),
        format!(
            "at byte 100: the file is cut short: its header announces {} bytes, it has 100",
            bytes.len()
        )
    );
    assert_eq!(error(&bytes[..5]), "5 bytes is too short for a FIT header");
    assert_eq!(
        error(b"not a FIT file at all"),
        "at byte 0: no FIT header (expected \".FIT\" at byte 8)"
    );
}

#[test]
fn power_and_dynamics_written_by_our_export_come_back() {
    let samples: Vec<Sample> = (0..120)
        .map(|i| Sample {
            t_s: f64::from(i),
            distance_m: Some(3.0 * f64::from(i)),
            speed_mps: Some(3.0),
            cadence_spm: Some(170.0),
            stride_m: Some(1.06),
            power_w: Some(240.0 + f64::from(i % 3)),
            stance_time_s: Some(0.245),
            stance_balance_left_pct: Some(49.8),
            vertical_oscillation_m: Some(0.0812),
            vertical_ratio_pct: Some(7.66),
            ..Sample::default()
        })
        .collect();
    let start = chrono::DateTime::parse_from_rfc3339("2026-05-02T09:00:00+02:00").unwrap();
    let run = Run::new(uuid::Uuid::new_v4(), start, 357.0, 119.0);
    let (got, back, _) = one_run(&export::fit::write(&run, &samples, 1));
    let near = |a: Option<f64>, b: f64| (a.unwrap() - b).abs() < 1e-9;
    for (a, b) in samples.iter().zip(&back) {
        assert_eq!(a.power_w, b.power_w);
        assert!(near(b.stance_time_s, 0.245));
        assert!(near(b.stance_balance_left_pct, 49.8));
        assert!(near(b.vertical_oscillation_m, 0.0812));
        assert!(near(b.vertical_ratio_pct, 7.66));
    }
    assert!(near(got.avg_power_w, 241.0));
    assert!(near(got.avg_stance_time_s, 0.245));
    assert!(near(got.avg_step_length_m, 1.06));
}
