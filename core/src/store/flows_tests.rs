//! Tests of the flows the CLI and the apps share through the store: shoes and their default,
//! plans and ticks, the pain log's order, live sessions, paging and export, batch imports, the
//! sync status, and two connections on one file.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate};
use uuid::Uuid;

use super::*;
use crate::cancel::Cancel;
use crate::clock::ManualClock;
use crate::coach::{CoachConfig, Reading};
use crate::import::Format;
use crate::live::LiveSession;
use crate::model::{Run, Shoe};
use crate::plan::PlanFor;
use crate::triage::{Answers, Location, Side};

/// 2026-05-20T05:30:00Z (07:30 in Berlin).
const NOW: i64 = 1_779_255_000_000;

fn store() -> (tempfile::TempDir, Store, Arc<ManualClock>) {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(NOW));
    let mut s = Store::open_with_clock(dir.path().join("s.db"), clock.clone()).unwrap();
    s.set_default_time_zone("Europe/Berlin").unwrap();
    (dir, s, clock)
}

fn run_at(days_ago: i64, km: f64) -> Run {
    let start = DateTime::from_timestamp_millis(NOW - days_ago * 86_400_000)
        .unwrap()
        .fixed_offset();
    Run::new(Uuid::new_v4(), start, km * 1000.0, km * 360.0)
}

fn logged(s: &Store) -> Vec<Change> {
    s.changes_since(0, 10_000).unwrap()
}

#[test]
fn the_first_active_shoe_becomes_the_default_and_a_retired_one_takes_no_runs() {
    let (_d, mut s, _) = store();
    let mut retired = Shoe::new(Uuid::new_v4(), "Old");
    retired.retired = true;
    assert!(
        !s.add_shoe(&retired).unwrap().is_default,
        "retired: never the default"
    );
    let first = s.add_shoe(&Shoe::new(Uuid::new_v4(), "  First  ")).unwrap();
    assert!(first.is_default && first.name == "First");
    let second = s.add_shoe(&Shoe::new(Uuid::new_v4(), "Second")).unwrap();
    assert!(!second.is_default);
    let run = s
        .add_run_on(&run_at(1, 5.0), &[], ShoeChoice::Default)
        .unwrap();
    assert_eq!(run.shoe_id, Some(first.id));
    let none = s
        .add_run_on(&run_at(2, 5.0), &[], ShoeChoice::None)
        .unwrap();
    assert_eq!(none.shoe_id, None);
    let err = s
        .add_run_on(&run_at(3, 5.0), &[], ShoeChoice::Shoe(retired.id))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid shoe: 'Old' is retired and takes no new runs"
    );
    assert_eq!(s.run_count().unwrap(), 2, "the refused run is not there");
}

#[test]
fn deleting_a_shoe_unassigns_its_runs_on_every_device() {
    let (_d, mut s, _) = store();
    let shoe = s.add_shoe(&Shoe::new(Uuid::new_v4(), "Pegasus")).unwrap();
    let a = s
        .add_run_on(&run_at(1, 5.0), &[], ShoeChoice::Default)
        .unwrap();
    let b = s
        .add_run_on(&run_at(2, 6.0), &[], ShoeChoice::Default)
        .unwrap();
    let before = logged(&s).len();
    let gone = s.delete_shoe(shoe.id).unwrap();
    assert_eq!(gone.name, "Pegasus");
    assert!(s.shoes().unwrap().is_empty() && s.default_shoe().unwrap().is_none());
    assert!(s.runs().unwrap().iter().all(|r| r.shoe_id.is_none()));
    let new: Vec<(String, String, ChangeOp, Vec<String>)> = logged(&s)[before..]
        .iter()
        .map(|c| {
            (
                c.collection.clone(),
                c.record_id.clone(),
                c.op,
                c.fields.clone(),
            )
        })
        .collect();
    let mut runs: Vec<String> = vec![a.id.to_string(), b.id.to_string()];
    runs.sort();
    let mut logged_runs: Vec<String> = new
        .iter()
        .filter(|c| c.0 == "runs" && c.3 == ["shoe_id"])
        .map(|c| c.1.clone())
        .collect();
    logged_runs.sort();
    assert_eq!(
        logged_runs, runs,
        "each run's unassignment is logged for sync"
    );
    assert!(new.contains(&(
        "shoes".into(),
        shoe.id.to_string(),
        ChangeOp::Delete,
        vec!["*".into()]
    )));
    assert!(matches!(
        s.delete_shoe(shoe.id),
        Err(StoreError::NotFound { what: "shoe", .. })
    ));
}

#[test]
fn every_runner_has_a_plan_and_ticks_only_its_exercises() {
    let (_d, mut s, clock) = store();
    let plan = s.plan_today().unwrap();
    assert_eq!(plan.plan_for, PlanFor::Prevention);
    assert_eq!(plan.today, NaiveDate::from_ymd_opt(2026, 5, 20).unwrap());
    assert_eq!(s.plan_today().unwrap().id, plan.id, "started once");
    let first = plan.exercises[0].exercise.id;
    let dashed = first.replace('_', "-").to_uppercase();
    let t = s.tick_plan_exercise(&dashed, None).unwrap();
    assert!(t.newly_done && t.exercise.id == first && t.day == plan.today);
    assert!(!s.tick_plan_exercise(first, None).unwrap().newly_done);
    clock.advance(2 * 86_400_000);
    s.tick_plan_exercise(first, None).unwrap();
    let later = s.plan_today().unwrap();
    let row = later
        .exercises
        .iter()
        .find(|e| e.exercise.id == first)
        .unwrap();
    assert_eq!((row.done_today, row.done_last_7_days), (true, 2));
    match s
        .tick_plan_exercise("eccentric_heel_drops", None)
        .unwrap_err()
    {
        StoreError::NotInPlan {
            given,
            plan,
            expected,
        } => {
            assert_eq!(
                (given.as_str(), plan),
                ("eccentric_heel_drops", "prevention")
            );
            assert!(expected.contains(first));
        }
        other => panic!("{other}"),
    }
}

#[test]
fn pain_logged_in_one_millisecond_keeps_its_order() {
    let (_d, mut s, _) = store();
    let onset = DateTime::from_timestamp_millis(NOW).unwrap().fixed_offset();
    let answers = |severity| Answers {
        location: Location::KneeFront,
        side: Side::Left,
        severity,
        character: vec![],
        timing: vec![],
        aggravators: vec![],
        swelling: false,
        red_flags: Default::default(),
        onset,
        improving: None,
    };
    for sev in [2, 5, 7] {
        s.log_pain(answers(sev)).unwrap();
    }
    let log = s.pain_entries().unwrap();
    assert_eq!(
        log.iter().map(|e| e.answers.severity).collect::<Vec<_>>(),
        [2, 5, 7]
    );
    assert_eq!(log[0].logged_at.timestamp_millis(), NOW);
    assert!(log.windows(2).all(|w| w[0].logged_at < w[1].logged_at));
}

#[test]
fn a_live_session_is_saved_ending_now_on_the_default_shoe() {
    let (_d, mut s, _) = store();
    let shoe = s.add_shoe(&Shoe::new(Uuid::new_v4(), "Pegasus")).unwrap();
    assert_eq!(s.coach_target(None).unwrap().source, TargetSource::Fallback);
    assert_eq!(s.coach_target(Some(176.0)).unwrap().spm, 176.0);
    assert!(s.coach_target(Some(300.0)).is_err());
    let mut p = s.profile().unwrap();
    p.cadence_target = crate::model::CadenceTarget::Fixed { spm: 168.0 };
    s.set_profile(&p).unwrap();
    let target = s.coach_target(None).unwrap();
    assert_eq!((target.spm, target.source), (168.0, TargetSource::Fixed));
    let mut session = LiveSession::new(CoachConfig::new(target.spm));
    for t in 0..=300 {
        session.feed(Reading {
            t_s: f64::from(t),
            cadence_spm: Some(160.0),
            speed_mps: Some(3.0),
            hr_bpm: Some(150),
        });
    }
    let run = s.save_live_session(&session, None, None).unwrap().unwrap();
    assert_eq!(run.start.timestamp_millis(), NOW - 300_000, "it ended now");
    assert_eq!(
        run.start.offset().local_minus_utc(),
        7200,
        "in the runner's zone"
    );
    assert_eq!(run.shoe_id, Some(shoe.id));
    assert_eq!(s.samples(run.id).unwrap().len(), 301);
    assert_eq!(run.source, crate::model::RunSource::Live);
    let empty = LiveSession::new(CoachConfig::new(170.0));
    assert!(s.save_live_session(&empty, None, None).unwrap().is_none());
}

#[test]
fn a_session_fed_glitching_sensors_is_still_saved_with_the_good_readings() {
    let (_d, mut s, _) = store();
    let mut session = LiveSession::new(CoachConfig::new(170.0));
    let glitches = [
        (f64::NAN, Some(170.0), Some(3.0)),
        (f64::INFINITY, Some(170.0), Some(3.0)),
        (-5.0, Some(170.0), Some(3.0)),
        (1e300, Some(170.0), Some(3.0)),
    ];
    for t in 0..=300 {
        let (cadence, speed) = match t % 50 {
            7 => (Some(f64::NAN), Some(3.0)),
            8 => (Some(1e12), Some(f64::INFINITY)),
            9 => (Some(-160.0), Some(-3.0)),
            _ => (Some(160.0), Some(3.0)),
        };
        session.feed(Reading {
            t_s: f64::from(t),
            cadence_spm: cadence,
            speed_mps: speed,
            hr_bpm: Some(150),
        });
        if t == 100 {
            for (t_s, cadence_spm, speed_mps) in glitches {
                session.feed(Reading {
                    t_s,
                    cadence_spm,
                    speed_mps,
                    hr_bpm: None,
                });
            }
            // Two minutes back: a stale notification.
            session.feed(Reading {
                t_s: -20.0 + 100.0,
                ..Reading::default()
            });
        }
    }
    let summary = session.summary();
    assert_eq!(summary.rejected_readings, 6 * 3 + 5);
    assert_eq!(summary.duration_s, 300.0);
    assert_eq!(summary.avg_cadence_spm, Some(160.0));
    let run = s.save_live_session(&session, None, None).unwrap().unwrap();
    assert_eq!(run.duration_s, 300.0);
    assert!(
        (run.distance_m - 3.0 * 300.0).abs() < 3.0 * 7.0 * 3.0,
        "{}",
        run.distance_m
    );
    let samples = s.samples(run.id).unwrap();
    assert_eq!(samples.len(), 301, "one sample per taken reading");
    assert!(
        samples
            .iter()
            .all(|x| x.cadence_spm.is_none_or(|c| c == 160.0))
    );
}

#[test]
fn runs_page_newest_first_and_export_reads_back_as_the_same_run() {
    let (_d, mut s, _) = store();
    for d in 0..5 {
        s.add_run(&run_at(d, 5.0 + d as f64), &[]).unwrap();
    }
    assert_eq!(s.run_count().unwrap(), 5);
    let page = s.runs_page(1, 2).unwrap();
    assert_eq!(
        page.iter().map(|r| r.distance_m).collect::<Vec<_>>(),
        [6000.0, 7000.0]
    );
    assert!(s.runs_page(5, 10).unwrap().is_empty());
    let samples: Vec<crate::model::Sample> = (0..600)
        .map(|i| crate::model::Sample {
            t_s: f64::from(i),
            // 3 m a second north, as the distance says.
            lat_deg: Some(52.5 + f64::from(i) * 3.0 / 111_195.0),
            lon_deg: Some(13.4),
            distance_m: Some(f64::from(i) * 3.0),
            speed_mps: Some(3.0),
            hr_bpm: Some(140),
            cadence_spm: Some(170.0),
            ..Default::default()
        })
        .collect();
    let mut run = run_at(10, 1.8);
    run.duration_s = 599.0;
    s.add_run(&run, &samples).unwrap();
    for format in Format::ALL {
        let bytes = s.export_run(run.id, format).unwrap();
        let Some(crate::import::Parsed::Run {
            run: back,
            samples: got,
            ..
        }) = crate::import::parse(format, &bytes, chrono_tz::UTC)
            .unwrap()
            .pop()
        else {
            panic!("{format:?}: not a run");
        };
        assert_eq!(got.len(), 600, "{format:?}");
        assert_eq!(back.start.timestamp(), run.start.timestamp(), "{format:?}");
        assert!(
            (back.distance_m - run.distance_m).abs() < 0.02 * run.distance_m,
            "{format:?}"
        );
    }
    assert!(matches!(
        s.export_run(Uuid::new_v4(), Format::Fit),
        Err(StoreError::NotFound { what: "run", .. })
    ));
}

#[test]
fn a_batch_import_reports_each_file_and_stops_when_cancelled() {
    let (dir, s, _) = store();
    let folder = dir.path().join("watch");
    std::fs::create_dir_all(folder.join("inner")).unwrap();
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures");
    std::fs::copy(
        fixtures.join("garmin-fenix-5-run.fit"),
        folder.join("a.fit"),
    )
    .unwrap();
    std::fs::copy(
        fixtures.join("garmin-fenix-5-run.fit"),
        folder.join("inner/b.fit"),
    )
    .unwrap();
    std::fs::copy(fixtures.join("activity-filecrc.fit"), folder.join("c.fit")).unwrap();
    std::fs::write(folder.join("notes.txt"), "not an activity").unwrap();
    // A link back up to the folder: walked, it would never end.
    #[cfg(unix)]
    std::os::unix::fs::symlink(&folder, folder.join("inner/loop")).unwrap();
    let named_text = folder.join("notes.txt");
    let access = std::sync::Mutex::new(s);
    let mut seen = Vec::new();
    let report = import_files(
        &access,
        collect_files(&[
            folder.clone(),
            named_text,
            dir.path().join("missing.gpx"),
            dir.path().join("missing-folder"),
        ]),
        ShoeChoice::Default,
        &mut |p| seen.push((p.done, p.total)),
        &Cancel::new(),
    )
    .unwrap();
    let statuses: Vec<(String, &str)> = report
        .files
        .iter()
        .map(|f| {
            (
                f.path.file_name().unwrap().to_string_lossy().to_string(),
                match f.outcome {
                    FileOutcome::Imported { .. } => "imported",
                    FileOutcome::Duplicate { .. } => "duplicate",
                    FileOutcome::Skipped { .. } => "skipped",
                    FileOutcome::Failed { .. } => "failed",
                },
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            ("a.fit".to_string(), "imported"),
            ("c.fit".to_string(), "failed"),
            ("b.fit".to_string(), "duplicate"),
            ("notes.txt".to_string(), "skipped"),
            ("missing.gpx".to_string(), "failed"),
            ("missing-folder".to_string(), "failed"),
        ]
    );
    assert_eq!(seen, (1..=6).map(|d| (d, 6)).collect::<Vec<_>>());
    for missing in &report.files[4..] {
        match &missing.outcome {
            FileOutcome::Failed { reason } => assert_eq!(reason, "it does not exist"),
            other => panic!("{other:?}"),
        }
    }
    let cancel = Cancel::new();
    let again = import_files(
        &access,
        collect_files(&[folder]),
        ShoeChoice::Default,
        &mut |_| cancel.cancel(),
        &cancel,
    )
    .unwrap();
    assert!(again.cancelled && again.files.len() == 1);
    assert_eq!(access.lock().unwrap().run_count().unwrap(), 1);
}

#[test]
fn two_connections_on_one_file_write_in_turn_with_ordered_stamps() {
    let (dir, s, _) = store();
    drop(s);
    let path = dir.path().join("s.db");
    let threads: Vec<_> = (0..3)
        .map(|i| {
            let path = path.clone();
            std::thread::spawn(move || {
                let mut s = Store::open(&path).unwrap();
                for d in 0..30 {
                    s.add_run(&run_at(i * 100 + d, 5.0), &[]).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let s = Store::open(&path).unwrap();
    assert_eq!(s.run_count().unwrap(), 90);
    let log = logged(&s);
    let stamps: Vec<crate::hlc::Stamp> = log.iter().map(|c| c.stamp).collect();
    assert!(
        stamps.windows(2).all(|w| w[0] < w[1]),
        "every connection's stamps follow the last committed one"
    );
    // A reading connection sees the writers' commits and refuses to write.
    let reader = Store::open_read_only(&path, Arc::new(crate::clock::SystemClock)).unwrap();
    assert_eq!(reader.run_count().unwrap(), 90);
    let mut reader = reader;
    assert!(reader.add_run(&run_at(999, 5.0), &[]).is_err());
    let fresh = dir.path().join("fresh.db");
    assert!(Store::open_read_only(&fresh, Arc::new(crate::clock::SystemClock)).is_err());
}

#[test]
fn the_sync_status_counts_what_waits_and_an_ack_keeps_a_change_made_meanwhile() {
    let (_d, mut s, _) = store();
    let st = s.sync_status().unwrap();
    assert!(!st.linked && st.pending_changes == 0 && st.last_sync_ms.is_none());
    // A run with a stream of two chunks: the run and its stream, two records either way.
    let samples: Vec<crate::model::Sample> = (0..5000)
        .map(|i| crate::model::Sample {
            t_s: f64::from(i),
            ..Default::default()
        })
        .collect();
    s.add_run(&run_at(1, 5.0), &samples).unwrap();
    let run = run_at(2, 6.0);
    s.add_run(&run, &[]).unwrap();
    assert_eq!(
        s.sync_status().unwrap().pending_changes,
        3,
        "not folded yet"
    );
    s.sync_fold().unwrap();
    assert_eq!(
        s.sync_status().unwrap().pending_changes,
        3,
        "folded: the same count"
    );
    let out = s.sync_outgoing(10).unwrap();
    assert_eq!(out.len(), 4, "the stream goes up as its two chunks");
    // Meanwhile (another connection, say) the run is edited and folded again.
    s.edit_run(
        run.id,
        &RunEdit {
            notes: Some(Some("after the read".into())),
            ..RunEdit::default()
        },
    )
    .unwrap();
    s.sync_fold().unwrap();
    let acked: Vec<(&OutgoingRecord, i64)> = out.iter().zip(1..).collect();
    s.sync_acknowledge(&acked).unwrap();
    assert_eq!(
        s.sync_dirty_count().unwrap(),
        1,
        "the edited run still goes up"
    );
    s.set_last_sync().unwrap();
    assert_eq!(s.sync_status().unwrap().last_sync_ms, Some(NOW));
}

#[test]
fn thresholds_written_by_a_newer_version_still_read() {
    let t: crate::model::Thresholds =
        serde_json::from_str(r#"{"weekly_increase_pct": 8.0, "a_rule_from_the_future": 3}"#)
            .unwrap();
    assert_eq!(t.weekly_increase_pct, 8.0);
    assert!(
        t.clone().set("a_rule_from_the_future", 1.0).is_err(),
        "but not set by name"
    );
}

#[test]
fn names_and_notes_are_bounded_so_every_record_can_sync() {
    let (_d, mut s, _) = store();
    let long_name = "x".repeat(crate::ranges::NAME_MAX_CHARS + 1);
    let err = s
        .add_shoe(&Shoe::new(Uuid::new_v4(), &long_name))
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Invalid {
                field: "shoe name",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("101 characters"), "{err}");
    // Counted in characters, not bytes: 100 four-byte characters are fine.
    let emoji = "🏃".repeat(crate::ranges::NAME_MAX_CHARS);
    let shoe = s.add_shoe(&Shoe::new(Uuid::new_v4(), &emoji)).unwrap();
    let edit = ShoeEdit {
        brand: Some(Some(long_name.clone())),
        ..ShoeEdit::default()
    };
    assert!(matches!(
        s.edit_shoe(shoe.id, &edit),
        Err(StoreError::Invalid { field: "brand", .. })
    ));

    let mut run = run_at(1, 5.0);
    run.notes = Some("n".repeat(crate::ranges::NOTES_MAX_CHARS + 1));
    assert!(matches!(
        s.add_run(&run, &[]),
        Err(StoreError::Invalid { field: "notes", .. })
    ));
    assert_eq!(s.run_count().unwrap(), 0, "nothing half-saved");
    run.notes = Some("n".repeat(crate::ranges::NOTES_MAX_CHARS));
    s.add_run(&run, &[]).unwrap();
    let edit = RunEdit {
        notes: Some(Some("é".repeat(crate::ranges::NOTES_MAX_CHARS + 1))),
        ..RunEdit::default()
    };
    assert!(s.edit_run(run.id, &edit).is_err());
    assert_eq!(
        s.run(run.id).unwrap().unwrap().notes.unwrap().len(),
        crate::ranges::NOTES_MAX_CHARS
    );
}
