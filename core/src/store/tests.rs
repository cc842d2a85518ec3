//! Store tests on real SQLite files in temporary directories.

use std::path::Path;
use std::sync::Arc;

use chrono::DateTime;
use rusqlite::Connection;
use uuid::Uuid;

use super::migrations::{LATEST_VERSION, MIGRATIONS, migrate_to};
use super::*;
use crate::clock::ManualClock;
use crate::model::{CadenceTarget, Profile, Run, RunKind, RunSource, Sample, Shoe, Units};
use crate::ranges;

fn temp_db() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("strideguard.db");
    (dir, path)
}

fn full_run(shoe: Option<Uuid>) -> Run {
    Run {
        id: Uuid::new_v4(),
        start: DateTime::parse_from_rfc3339("2026-03-14T07:30:15.250+01:00").unwrap(),
        duration_s: 3612.5,
        moving_time_s: Some(3550.0),
        distance_m: 10_012.3,
        elevation_gain_m: Some(87.4),
        elevation_loss_m: Some(85.1),
        avg_hr_bpm: Some(148.6),
        max_hr_bpm: Some(171.0),
        avg_cadence_spm: Some(172.4),
        avg_power_w: Some(281.5),
        avg_stance_time_s: Some(0.2473),
        avg_stance_balance_left_pct: Some(49.6),
        avg_vertical_oscillation_m: Some(0.0872),
        avg_vertical_ratio_pct: Some(7.9),
        avg_step_length_m: Some(1.094),
        kind: RunKind::Tempo,
        rpe: Some(7),
        shoe_id: shoe,
        notes: Some("windy, felt strong — négatif split".into()),
        source: RunSource::Fit,
        source_fingerprint: Some("sha256:abc".into()),
    }
}

fn full_shoe() -> Shoe {
    Shoe {
        id: Uuid::new_v4(),
        name: "Pegasus 40".into(),
        brand: Some("Nike".into()),
        model: Some("Air Zoom Pegasus 40".into()),
        start_distance_m: 120_500.0,
        wear_at_m: 400_000.0,
        replace_at_m: 700_000.0,
        retired: false,
        is_default: true,
    }
}

/// Samples whose values sit on the stored resolution, so they round-trip exactly.
fn samples(n: usize) -> Vec<Sample> {
    (0..n)
        .map(|i| Sample {
            t_s: i as f64,
            lat_deg: Some((525_145_000 + i as i64 * 13) as f64 / 1e7),
            lon_deg: Some((133_501_000 - i as i64 * 7) as f64 / 1e7),
            altitude_m: if i % 10 == 3 {
                None
            } else {
                Some((3400 + (i % 50) as i64) as f64 / 100.0)
            },
            distance_m: Some((i as i64 * 287) as f64 / 100.0),
            speed_mps: Some((2870 + (i % 9) as i64) as f64 / 1000.0),
            hr_bpm: Some(120 + (i % 40) as u8),
            cadence_spm: Some((17_000 + (i % 300) as i64) as f64 / 100.0),
            stride_m: if i % 2 == 0 { Some(1.012) } else { None },
            stance_time_s: Some((2400 + (i % 90) as i64) as f64 / 1e4),
            stance_balance_left_pct: Some((4950 + (i % 20) as i64) as f64 / 100.0),
            vertical_oscillation_m: Some((850 + (i % 30) as i64) as f64 / 1e4),
            vertical_ratio_pct: Some((780 + (i % 25) as i64) as f64 / 100.0),
            power_w: if i % 7 == 0 {
                None
            } else {
                Some((2800 + (i % 100) as i64) as f64 / 10.0)
            },
        })
        .collect()
}

fn file_bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

#[test]
fn every_field_round_trips() {
    let (_dir, path) = temp_db();
    let shoe = full_shoe();
    let run = full_run(Some(shoe.id));
    let stream = samples(10_801); // three hours at 1 Hz: crosses chunk boundaries
    let profile = Profile {
        units: Units::Mi,
        time_zone: "America/New_York".into(),
        cadence_target: CadenceTarget::Fixed { spm: 176.0 },
        resting_hr_bpm: Some(48),
        max_hr_bpm: Some(191),
        height_m: Some(1.83),
        thresholds: crate::model::Thresholds {
            weekly_increase_pct: 8.0,
            base_weeks: 6,
            ..crate::model::Thresholds::default()
        },
    };
    {
        let mut store = Store::open(&path).unwrap();
        store.add_shoe(&shoe).unwrap();
        store.add_run(&run, &stream).unwrap();
        store.set_profile(&profile).unwrap();
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(store.run(run.id).unwrap().unwrap(), run);
    assert_eq!(
        store.run(run.id).unwrap().unwrap().start.to_rfc3339(),
        run.start.to_rfc3339()
    );
    assert_eq!(store.shoe(shoe.id).unwrap().unwrap(), shoe);
    assert_eq!(store.profile().unwrap(), profile);
    assert_eq!(store.samples(run.id).unwrap(), stream);
    assert_eq!(store.sample_counts().unwrap()[&run.id], 10_801);
    let usage = store.shoes().unwrap();
    assert_eq!(usage.len(), 1);
    assert_eq!(usage[0].distance_m, shoe.start_distance_m + run.distance_m);
    assert_eq!(usage[0].run_count, 1);
}

#[test]
fn a_minimal_run_round_trips_with_every_option_empty() {
    let (_dir, path) = temp_db();
    let mut store = Store::open(&path).unwrap();
    let run = Run::new(
        Uuid::new_v4(),
        DateTime::parse_from_rfc3339("2026-01-01T12:00:00-08:00").unwrap(),
        5000.0,
        1500.0,
    );
    store.add_run(&run, &[]).unwrap();
    assert_eq!(store.run(run.id).unwrap().unwrap(), run);
    assert!(store.samples(run.id).unwrap().is_empty());
    assert!(!store.sample_counts().unwrap().contains_key(&run.id));
}

#[test]
fn a_fresh_database_is_at_the_latest_version_in_wal_mode() {
    let (_dir, path) = temp_db();
    let store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), LATEST_VERSION);
    let mode: String = store
        .conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let fk: i64 = store
        .conn
        .pragma_query_value(None, "foreign_keys", |r| r.get(0))
        .unwrap();
    assert_eq!(fk, 1);
    assert_eq!(store.profile().unwrap(), Profile::default());
}

/// Writes data that a database at `version` can hold, with plain SQL as that version's code did.
fn seed_at_version(conn: &Connection, version: u32, shoe: Uuid, run: Uuid) {
    if version >= 1 {
        conn.execute(
            "INSERT INTO shoes (id, name, start_distance_m, wear_at_m, replace_at_m, retired, is_default)
             VALUES (?1, 'Old Faithful', 10000, 482803.2, 804672, 0, 1)",
            [shoe.to_string()],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO runs (id, start_unix_ms, utc_offset_s, duration_s, distance_m, kind, shoe_id, source)
             VALUES (?1, 1767268800000, 3600, 1800, 5000, 'easy', ?2, 'manual')",
            [run.to_string(), shoe.to_string()],
        )
        .unwrap();
        conn.execute("UPDATE profile SET units = 'mi' WHERE id = 1", [])
            .unwrap();
    }
    if version >= 2 {
        let chunk = crate::samples::encode_chunk(&samples(30)).unwrap();
        conn.execute(
            "INSERT INTO run_samples (run_id, chunk, sample_count, data) VALUES (?1, 0, 30, ?2)",
            rusqlite::params![run.to_string(), chunk],
        )
        .unwrap();
    }
    if version >= 3 {
        // From version 3 on, every write also went into the change log.
        for (collection, id) in [
            ("profile", "profile".to_string()),
            ("shoes", shoe.to_string()),
            ("runs", run.to_string()),
            ("run_samples", run.to_string()),
        ] {
            conn.execute(
                "INSERT INTO changes (collection, record_id, op, fields, hlc)
                 VALUES (?1, ?2, 'put', '[\"*\"]', '0000000000000000-00000000-' || (SELECT value FROM meta WHERE key = 'device_id'))",
                rusqlite::params![collection, id],
            )
            .unwrap();
        }
    }
}

#[test]
fn migrates_from_every_earlier_version_keeping_the_data() {
    for from in 0..LATEST_VERSION {
        let (_dir, path) = temp_db();
        let (shoe, run) = (Uuid::new_v4(), Uuid::new_v4());
        {
            let mut conn = Connection::open(&path).unwrap();
            migrate_to(&mut conn, 0, from).unwrap();
            let v: u32 = conn
                .pragma_query_value(None, "user_version", |r| r.get(0))
                .unwrap();
            assert_eq!(v, from);
            seed_at_version(&conn, from, shoe, run);
        }
        let mut store = Store::open(&path).unwrap();
        assert_eq!(
            store.schema_version().unwrap(),
            LATEST_VERSION,
            "from v{from}"
        );
        if from >= 1 {
            let r = store.run(run).unwrap().expect("run survives the migration");
            assert_eq!(r.distance_m, 5000.0);
            assert_eq!(r.start.to_rfc3339(), "2026-01-01T13:00:00+01:00");
            assert_eq!(r.shoe_id, Some(shoe));
            assert_eq!(store.profile().unwrap().units, Units::Mi);
            assert!(store.default_shoe().unwrap().is_some());
            // Data from before the change log is in it, with the zero stamp, so it syncs.
            let changes = store.changes_since(0, 100).unwrap();
            let logged: Vec<(&str, &str)> = changes
                .iter()
                .map(|c| (c.collection.as_str(), c.record_id.as_str()))
                .collect();
            assert!(
                logged.contains(&("runs", run.to_string().as_str())),
                "from v{from}"
            );
            assert!(logged.contains(&("shoes", shoe.to_string().as_str())));
            assert!(changes.iter().all(|c| c.stamp.wall_ms == 0));
        }
        if from >= 2 {
            assert_eq!(store.samples(run).unwrap(), samples(30));
        }
        // And the migrated file works like a new one.
        let new_run = full_run(None);
        store.add_run(&new_run, &samples(5)).unwrap();
        assert_eq!(store.runs().unwrap().len(), if from >= 1 { 2 } else { 1 });
    }
}

#[test]
fn migration_versions_are_numbered_one_by_one() {
    for (i, m) in MIGRATIONS.iter().enumerate() {
        assert_eq!(m.version as usize, i + 1, "{}", m.description);
    }
}

#[test]
fn a_newer_schema_is_refused_and_left_untouched() {
    let (_dir, path) = temp_db();
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE future (x); PRAGMA user_version = 99;")
            .unwrap();
        conn.pragma_update(None, "application_id", APPLICATION_ID)
            .unwrap();
    }
    let before = file_bytes(&path);
    let err = Store::open(&path).unwrap_err();
    assert!(
        matches!(err, StoreError::SchemaTooNew { found: 99, supported, .. } if supported == LATEST_VERSION),
        "{err}"
    );
    assert!(err.to_string().contains("newer Strideguard"));
    assert_eq!(file_bytes(&path), before);
}

#[test]
fn a_file_that_is_not_sqlite_is_refused_and_left_untouched() {
    let (_dir, path) = temp_db();
    let junk = b"Date,Distance\n2026-01-01,5km\n".repeat(200);
    std::fs::write(&path, &junk).unwrap();
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::NotADatabase { .. }), "{err}");
    assert!(err.to_string().contains("is not a SQLite database"));
    assert_eq!(file_bytes(&path), junk);
}

#[test]
fn another_programs_database_is_refused_and_left_untouched() {
    let (_dir, path) = temp_db();
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE contacts (name TEXT); INSERT INTO contacts VALUES ('x');")
            .unwrap();
    }
    let before = file_bytes(&path);
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::ForeignDatabase { .. }), "{err}");
    assert_eq!(file_bytes(&path), before);
}

#[test]
fn every_write_is_logged_with_increasing_stamps_and_the_fields_it_changed() {
    let (_dir, path) = temp_db();
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let mut store = Store::open_with_clock(&path, clock.clone()).unwrap();
    let shoe = full_shoe();
    store.add_shoe(&shoe).unwrap();
    let run = full_run(None);
    store.add_run(&run, &samples(10)).unwrap();
    store.assign_shoe(run.id, Some(shoe.id)).unwrap();
    let mut p = store.profile().unwrap();
    p.units = Units::Mi;
    p.max_hr_bpm = Some(190);
    store.set_profile(&p).unwrap();
    store.delete_run(run.id).unwrap();

    let log = store.changes_since(0, 100).unwrap();
    let summary: Vec<(&str, ChangeOp, Vec<&str>)> = log
        .iter()
        .map(|c| {
            (
                c.collection.as_str(),
                c.op,
                c.fields.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("shoes", ChangeOp::Put, vec!["*"]),
            ("runs", ChangeOp::Put, vec!["*"]),
            ("run_samples", ChangeOp::Put, vec!["*"]),
            ("runs", ChangeOp::Put, vec!["shoe_id"]),
            ("profile", ChangeOp::Put, vec!["units", "max_hr_bpm"]),
            ("runs", ChangeOp::Delete, vec!["*"]),
            ("run_samples", ChangeOp::Delete, vec!["*"]),
        ]
    );
    assert!(
        log.windows(2)
            .all(|w| w[0].stamp < w[1].stamp && w[0].seq < w[1].seq)
    );
    assert!(log.iter().all(|c| c.stamp.node == store.device_id()));
    assert_eq!(store.changes_since(log[4].seq, 100).unwrap().len(), 2);
    assert_eq!(store.changes_since(0, 3).unwrap().len(), 3);

    // Reopened with a clock that went back an hour, new stamps still follow the old ones.
    let last = log.last().unwrap().stamp;
    drop(store);
    clock.advance(-3_600_000);
    let mut store = Store::open_with_clock(&path, clock).unwrap();
    store.add_shoe(&Shoe::new(Uuid::new_v4(), "Trail")).unwrap();
    let newest = store.changes_since(0, 100).unwrap().pop().unwrap();
    assert!(newest.stamp > last);
}

#[test]
fn a_failed_write_leaves_nothing_behind() {
    let (_dir, path) = temp_db();
    let mut store = Store::open(&path).unwrap();
    let mut bad = samples(50);
    bad[42].speed_mps = Some(f64::INFINITY);
    let run = full_run(None);
    let err = store.add_run(&run, &bad).unwrap_err();
    assert!(err.to_string().contains("sample 42: speed"), "{err}");
    let missing_shoe = full_run(Some(Uuid::new_v4()));
    assert!(matches!(
        store.add_run(&missing_shoe, &[]),
        Err(StoreError::NotFound { what: "shoe", .. })
    ));
    let mut negative = full_run(None);
    negative.distance_m = -1.0;
    assert!(matches!(
        store.add_run(&negative, &[]),
        Err(StoreError::Invalid {
            field: "distance",
            ..
        })
    ));
    let mut rpe = full_run(None);
    rpe.rpe = Some(11);
    assert!(matches!(
        store.add_run(&rpe, &[]),
        Err(StoreError::OutOfRange(ranges::OutOfRange {
            what: "RPE",
            ..
        }))
    ));
    assert!(store.runs().unwrap().is_empty());
    assert!(store.changes_since(0, 10).unwrap().is_empty());

    // A duplicate id is rejected by SQLite mid-transaction: still nothing half-written.
    store.add_run(&run, &samples(3)).unwrap();
    let mut again = run.clone();
    again.notes = Some("second".into());
    assert!(store.add_run(&again, &samples(7)).is_err());
    assert_eq!(store.samples(run.id).unwrap().len(), 3);
    assert_eq!(store.changes_since(0, 10).unwrap().len(), 2);
}

#[test]
fn one_default_shoe_and_retiring_clears_it() {
    let (_dir, path) = temp_db();
    let mut store = Store::open(&path).unwrap();
    let a = full_shoe();
    let mut b = Shoe::new(Uuid::new_v4(), "Endorphin");
    b.is_default = true;
    store.add_shoe(&a).unwrap();
    store.add_shoe(&b).unwrap();
    assert_eq!(store.default_shoe().unwrap().unwrap().id, b.id);
    assert!(!store.shoe(a.id).unwrap().unwrap().is_default);
    store.set_default_shoe(a.id).unwrap();
    assert_eq!(store.default_shoe().unwrap().unwrap().id, a.id);
    store.retire_shoe(a.id).unwrap();
    assert!(store.default_shoe().unwrap().is_none());
    assert!(store.shoe(a.id).unwrap().unwrap().retired);
    assert!(matches!(
        store.set_default_shoe(a.id),
        Err(StoreError::Invalid {
            field: "default",
            ..
        })
    ));
    assert!(matches!(
        store.add_shoe(&Shoe::new(Uuid::new_v4(), "pegasus 40")),
        Err(StoreError::DuplicateShoeName(_))
    ));
    let mut backwards = Shoe::new(Uuid::new_v4(), "Odd");
    backwards.wear_at_m = 900_000.0;
    assert!(matches!(
        store.add_shoe(&backwards),
        Err(StoreError::Invalid {
            field: "wear-check distance",
            ..
        })
    ));
}

#[test]
fn runs_and_shoes_are_found_by_id_prefix_and_name() {
    let (_dir, path) = temp_db();
    let mut store = Store::open(&path).unwrap();
    let shoe = full_shoe();
    store.add_shoe(&shoe).unwrap();
    assert_eq!(store.find_shoe("PEGASUS 40").unwrap().id, shoe.id);
    assert_eq!(
        store.find_shoe(&shoe.id.to_string()[..8]).unwrap().id,
        shoe.id
    );
    assert!(matches!(
        store.find_shoe("Vaporfly"),
        Err(StoreError::NotFound { what: "shoe", .. })
    ));

    let mut a = full_run(None);
    a.id = Uuid::parse_str("abcd0000-0000-4000-8000-000000000001").unwrap();
    let mut b = full_run(None);
    b.id = Uuid::parse_str("abcd1111-0000-4000-8000-000000000002").unwrap();
    store.add_run(&a, &[]).unwrap();
    store.add_run(&b, &[]).unwrap();
    assert_eq!(store.find_run("abcd0").unwrap().id, a.id);
    assert_eq!(store.find_run(&b.id.to_string()).unwrap().id, b.id);
    let err = store.find_run("abcd").unwrap_err();
    assert!(
        matches!(&err, StoreError::Ambiguous { candidates, .. } if candidates.len() == 2),
        "{err}"
    );
    // Too short a prefix is not a match (it would be a guess).
    assert!(matches!(
        store.find_run("abc"),
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.find_run("%"),
        Err(StoreError::NotFound { .. })
    ));
}

#[test]
fn runs_are_selected_by_keys_in_order_or_all_of_them() {
    let (_dir, path) = temp_db();
    let mut store = Store::open(&path).unwrap();
    let (a, b) = (full_run(None), full_run(None));
    store.add_run(&a, &[]).unwrap();
    store.add_run(&b, &[]).unwrap();
    let keys = |k: &[&str]| k.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let picked = store
        .select_runs(&keys(&[&b.id.to_string()[..8], &a.id.to_string()]))
        .unwrap();
    assert_eq!(picked, [b.id, a.id], "in the order given");
    let mut every = store.select_runs(&[]).unwrap();
    every.sort();
    let mut both = vec![a.id, b.id];
    both.sort();
    assert_eq!(every, both, "no keys: every run");
    assert!(matches!(
        store.select_runs(&keys(&[&a.id.to_string(), "ffff9999"])),
        Err(StoreError::NotFound { what: "run", .. })
    ));
}

#[test]
fn a_files_headline_is_its_first_new_run_else_a_duplicate_else_a_skip() {
    let skip = Imported::NotARun {
        reason: "a ride".into(),
    };
    let dup = Imported::Duplicate(Duplicate {
        run_id: Uuid::new_v4(),
        reason: DuplicateReason::SameActivity,
    });
    let (r1, r2) = (full_run(None), full_run(None));
    let new = |r: &Run| Imported::Run {
        run: r.clone(),
        samples: 3,
        note: None,
    };
    let all = [skip.clone(), dup.clone(), new(&r1), new(&r2)];
    assert_eq!(Imported::headline(&all), Some(&new(&r1)));
    assert_eq!(Imported::headline(&[skip.clone(), dup.clone()]), Some(&dup));
    assert_eq!(Imported::headline(std::slice::from_ref(&skip)), Some(&skip));
    assert_eq!(Imported::headline(&[]), None);
}

#[test]
fn invalid_profiles_are_refused() {
    let (_dir, path) = temp_db();
    let mut store = Store::open(&path).unwrap();
    let ok = store.profile().unwrap();
    let cases = [
        Profile {
            time_zone: "Mars/Olympus".into(),
            ..ok.clone()
        },
        Profile {
            cadence_target: CadenceTarget::Fixed { spm: 20.0 },
            ..ok.clone()
        },
        Profile {
            cadence_target: CadenceTarget::Auto { increase_pct: 50.0 },
            ..ok.clone()
        },
        Profile {
            resting_hr_bpm: Some(80),
            max_hr_bpm: Some(70),
            ..ok.clone()
        },
        Profile {
            height_m: Some(4.0),
            ..ok.clone()
        },
    ];
    let expected = [
        "invalid time zone: 'Mars/Olympus' is not an IANA time zone name",
        "target cadence: 20 steps/min is outside 100-240 steps/min",
        "cadence increase: 50% is outside 0-20%",
        "invalid heart rate: resting 80 bpm must be below max 70 bpm",
        "height: 4 m is outside 0.5-2.8 m",
    ];
    for (p, want) in cases.into_iter().zip(expected) {
        let err = store.set_profile(&p).unwrap_err();
        assert!(
            matches!(err, StoreError::Invalid { .. } | StoreError::OutOfRange(_)),
            "{p:?}"
        );
        assert_eq!(err.to_string(), want);
    }
    assert_eq!(store.profile().unwrap(), ok);
    assert!(store.changes_since(0, 10).unwrap().is_empty());
}

#[test]
fn duplicates_are_the_same_file_or_the_same_activity() {
    let (_dir, path) = temp_db();
    let mut store = Store::open(&path).unwrap();
    let run = full_run(None);
    store.add_run(&run, &[]).unwrap();

    let mut same_file = full_run(None);
    same_file.start = run.start + chrono::Duration::days(3);
    assert_eq!(
        store.find_duplicate(&same_file).unwrap(),
        Some(Duplicate {
            run_id: run.id,
            reason: DuplicateReason::SameFile
        })
    );

    // The same activity exported as another format: 45 s later, 2.1% longer (what a watch's
    // FIT and a service's GPX of one run differ by).
    let mut other_export = full_run(None);
    other_export.source_fingerprint = Some("sha256:other".into());
    other_export.start = run.start + chrono::Duration::seconds(45);
    other_export.distance_m = run.distance_m * 1.021;
    assert_eq!(
        store.find_duplicate(&other_export).unwrap(),
        Some(Duplicate {
            run_id: run.id,
            reason: DuplicateReason::SameActivity
        })
    );
    // A shorter recording inside the run (the phone started late and stopped early) is it too.
    let mut inside = other_export.clone();
    inside.start = run.start + chrono::Duration::minutes(10);
    inside.duration_s = 1200.0;
    inside.distance_m = 3_000.0;
    assert_eq!(
        store.find_duplicate(&inside).unwrap().map(|d| d.run_id),
        Some(run.id)
    );

    // Runs the same morning are not duplicates unless they share 90% of the shorter one's time:
    // one right after the other, or one overlapping by half, is another run.
    let mut after = other_export.clone();
    after.start = run.start + chrono::Duration::milliseconds(3_612_500);
    assert_eq!(store.find_duplicate(&after).unwrap(), None);
    let mut half = other_export.clone();
    half.start = run.start + chrono::Duration::milliseconds(1_806_250);
    assert_eq!(store.find_duplicate(&half).unwrap(), None);
    let mut most = other_export.clone();
    most.start = run.start + chrono::Duration::milliseconds(361_250 - 1_000);
    assert_eq!(
        store.find_duplicate(&most).unwrap().map(|d| d.reason),
        Some(DuplicateReason::SameActivity),
        "sharing just over 90% of the shorter run"
    );
    most.start = run.start + chrono::Duration::milliseconds(361_250 + 1_000);
    assert_eq!(store.find_duplicate(&most).unwrap(), None, "just under 90%");
}

#[test]
fn editing_a_run_changes_and_logs_only_its_metadata() {
    let (_dir, path) = temp_db();
    let mut store = Store::open(&path).unwrap();
    let run = full_run(None);
    store.add_run(&run, &[]).unwrap();
    let before = store.changes_since(0, 100).unwrap().len();
    let edited = store
        .edit_run(
            run.id,
            &RunEdit {
                kind: Some(RunKind::Race),
                rpe: Some(None),
                notes: Some(run.notes.clone()),
            },
        )
        .unwrap();
    assert_eq!(edited.kind, RunKind::Race);
    assert_eq!(edited.rpe, None);
    assert_eq!(
        store.run(run.id).unwrap().unwrap(),
        Run {
            kind: RunKind::Race,
            rpe: None,
            ..run.clone()
        }
    );
    let log = store.changes_since(0, 100).unwrap();
    assert_eq!(log.len(), before + 1);
    assert_eq!(log.last().unwrap().fields, ["kind", "rpe"]);
    // Nothing to change: nothing logged.
    store.edit_run(run.id, &RunEdit::default()).unwrap();
    assert_eq!(store.changes_since(0, 100).unwrap().len(), before + 1);
    assert!(matches!(
        store.edit_run(
            run.id,
            &RunEdit {
                rpe: Some(Some(12)),
                ..RunEdit::default()
            }
        ),
        Err(StoreError::OutOfRange(ranges::OutOfRange {
            what: "RPE",
            ..
        }))
    ));
    assert!(matches!(
        store.edit_run(Uuid::new_v4(), &RunEdit::default()),
        Err(StoreError::NotFound { what: "run", .. })
    ));
}

#[test]
fn pain_entries_and_plans_round_trip_and_log_their_changes() {
    use crate::plan::PlanFor;
    use crate::triage::Answers;
    let (_dir, path) = temp_db();
    let mut store = Store::open(&path).unwrap();
    let answers = Answers::from_json(
        r#"{"location": "achilles", "side": "right", "severity": 4, "character": ["stiffness"],
            "timing": ["morning"], "onset": "2026-03-19T07:00:00+01:00", "improving": false,
            "red_flags": {"deformity": false}}"#,
    )
    .unwrap();
    let entry = PainEntry {
        id: Uuid::new_v4(),
        logged_at: chrono::Utc::now(),
        answers: answers.clone(),
    };
    store.add_pain_entry(&entry).unwrap();
    let back = store.pain_entries().unwrap();
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].answers, answers);
    assert_eq!(
        back[0].logged_at.timestamp_millis(),
        entry.logged_at.timestamp_millis()
    );

    assert!(store.active_plan().unwrap().is_none());
    let now = chrono::Utc::now();
    let plan = store
        .start_plan(PlanFor::AchillesTendinopathy, now)
        .unwrap();
    assert_eq!(
        store
            .start_plan(PlanFor::AchillesTendinopathy, now)
            .unwrap(),
        plan,
        "kept"
    );
    let day = chrono::NaiveDate::from_ymd_opt(2026, 3, 20).unwrap();
    assert!(
        store
            .tick_exercise(plan.id, day, "eccentric_heel_drops")
            .unwrap()
    );
    assert!(
        !store
            .tick_exercise(plan.id, day, "eccentric_heel_drops")
            .unwrap(),
        "once a day"
    );
    assert!(matches!(
        store.tick_exercise(plan.id, day, "burpees"),
        Err(StoreError::NotFound {
            what: "exercise",
            ..
        })
    ));
    assert_eq!(
        store.plan_ticks(plan.id).unwrap(),
        [(day, "eccentric_heel_drops".to_string())]
    );
    let later = store
        .start_plan(PlanFor::Prevention, now + chrono::Duration::seconds(1))
        .unwrap();
    assert_eq!(store.active_plan().unwrap().unwrap(), later);

    let log: Vec<String> = store
        .changes_since(0, 100)
        .unwrap()
        .into_iter()
        .map(|c| c.collection)
        .collect();
    assert_eq!(log, ["pain_entries", "plans", "plan_ticks", "plans"]);
}

/// Found by the `sync_record` fuzz target: this downloaded plaintext (a tombstone stamped at
/// the last stamp there is) overflowed the clock while it was merged (a panic in debug builds;
/// in release ones the clock wrapped to 1970 and every later local write would lose).
#[test]
fn fuzz_merging_a_tombstone_at_the_end_of_time_does_not_wrap_the_clock() {
    let plain = br#"{"c":"run_samples","id":"ycord","r":{"fields":{},"deleted":"ffffffffffffffff-ffffffff-0722ffff-ffff-ffff-0700-000000000000"}}"#;
    let (c, local_id, record) =
        crate::sync::engine::decode_plaintext(crate::crypto::ENVELOPE_V1, plain).unwrap();
    assert_eq!(c, "run_samples");
    let (_dir, path) = temp_db();
    let mut store = Store::open_with_clock(&path, Arc::new(ManualClock::new(0))).unwrap();
    let mut incoming = IncomingRecord {
        collection: collections::sync_collection(&c).unwrap().name(),
        local_id,
        record,
        server_seq: 1,
        old_encoding: true,
    };
    // As found: the id is not a run_samples one (`run:chunk`), which the merge refuses.
    assert!(matches!(
        store.sync_merge_remote(std::slice::from_ref(&incoming), Some(1)),
        Err(StoreError::Invalid { .. })
    ));
    incoming.local_id = "ycord:0".into();
    store.sync_merge_remote(&[incoming], Some(1)).unwrap();
    assert_eq!(store.hlc.last().wall_ms, u64::MAX);
}

/// Found in review: a new immutable record (a plan's tick) written straight to its table in
/// the same merge step that deletes its parent lost its row to the cascade yet counted as
/// applied, so it never came back with the parent. Now such a step applies every record the
/// usual way, and the tick waits for its plan.
#[test]
fn a_new_tick_merged_with_its_plans_tombstone_comes_back_with_the_plan() {
    use crate::hlc::Stamp;
    use crate::sync::{Field, Record};
    let (_dir, path) = temp_db();
    let mut store = Store::open_with_clock(&path, Arc::new(ManualClock::new(1_000))).unwrap();
    let node = Uuid::from_bytes([7; 16]);
    let at = |wall_ms| Stamp {
        wall_ms,
        counter: 0,
        node,
    };
    let record = |fields: &[(&str, serde_json::Value)], wall, deleted| Record {
        fields: fields
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    Field {
                        value: v.clone(),
                        stamp: at(wall),
                    },
                )
            })
            .collect(),
        deleted,
    };
    let plan_id = Uuid::new_v4().to_string();
    let plan = |wall, deleted, seq| IncomingRecord {
        collection: collection::PLANS,
        local_id: plan_id.clone(),
        record: record(
            &[
                ("created_at_ms", serde_json::json!(1_000)),
                ("plan_for", serde_json::json!("{}")),
            ],
            wall,
            deleted,
        ),
        server_seq: seq,
        old_encoding: false,
    };
    let ticks = |store: &Store| -> i64 {
        store
            .conn
            .query_row("SELECT count(*) FROM plan_ticks", [], |r| r.get(0))
            .unwrap()
    };
    store
        .sync_merge_remote(&[plan(10, None, 1)], Some(1))
        .unwrap();
    let tick = IncomingRecord {
        collection: collection::PLAN_TICKS,
        local_id: format!("{plan_id}:2026-05-01:calf_raises"),
        record: record(
            &[
                ("plan_id", serde_json::json!(plan_id)),
                ("day", serde_json::json!("2026-05-01")),
                ("exercise", serde_json::json!("calf_raises")),
            ],
            20,
            None,
        ),
        server_seq: 2,
        old_encoding: false,
    };
    let stats = store
        .sync_merge_remote(&[tick, plan(10, Some(at(30)), 3)], Some(3))
        .unwrap();
    assert_eq!(ticks(&store), 0, "the plan is deleted, its tick with it");
    assert_eq!(stats.pending, 1, "the tick waits for its plan");
    // An edit of the plan made after the delete brings it back, and the tick with it.
    store
        .sync_merge_remote(&[plan(40, None, 4)], Some(4))
        .unwrap();
    assert_eq!(ticks(&store), 1);
}

#[test]
fn a_records_field_names_are_the_fields_it_reads_and_none_once_it_is_gone() {
    let (_d, path) = temp_db();
    let mut store = Store::open(&path).unwrap();
    let run = full_run(None);
    store.add_run(&run, &samples(900)).unwrap();
    let samples_col = collections::sync_collection(changes::collection::RUN_SAMPLES).unwrap();
    let runs_col = collections::sync_collection(changes::collection::RUNS).unwrap();
    let chunk = format!("{}:0", run.id);
    for (col, id) in [(samples_col, chunk.clone()), (runs_col, run.id.to_string())] {
        let read: Vec<String> = col
            .read(&store.conn, &id)
            .unwrap()
            .expect("the record is in its table")
            .into_keys()
            .collect();
        let names = col.field_names(&store.conn, &id).unwrap().unwrap();
        assert_eq!(names.len(), read.len(), "{}", col.name());
        assert!(
            names.iter().all(|n| read.contains(n)),
            "{}: {names:?}",
            col.name()
        );
    }
    assert!(
        samples_col
            .field_names(&store.conn, &format!("{}:0", Uuid::new_v4()))
            .unwrap()
            .is_none()
    );
    store.delete_run(run.id).unwrap();
    assert!(
        samples_col
            .field_names(&store.conn, &chunk)
            .unwrap()
            .is_none()
    );
}
