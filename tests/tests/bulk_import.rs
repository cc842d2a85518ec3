//! Whole exports through core's batch import: a Strava export (folder and zip) and a Garmin
//! Connect export (a zip of part zips), as a runner downloads them. What a runner checks: how
//! many runs landed, their names, shoes and RPE, the rides left out, a damaged file named by
//! its place in the archive while the rest imports, and an interrupted import run again.

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use strideguard_core::Store;
use strideguard_core::cancel::Cancel;
use strideguard_core::model::Shoe;
use strideguard_core::store::{
    DuplicateReason, FileOutcome, ImportReport, ShoeChoice, collect_files, import_files,
};
use strideguard_tests::exports::{
    StravaExport, daily_runs, garmin_export, garmin_part, gz, strava_export, write_folder, zip,
};
use strideguard_tests::temp_db;
use uuid::Uuid;

fn import(store: &mut Store, paths: &[PathBuf]) -> ImportReport {
    let access = RefCell::new(store);
    import_files(
        &access,
        collect_files(paths),
        ShoeChoice::Default,
        &mut |_| {},
        &Cancel::new(),
    )
    .unwrap()
}

fn outcome_of<'a>(report: &'a ImportReport, path_ends: &str) -> &'a FileOutcome {
    let found: Vec<_> = report
        .files
        .iter()
        .filter(|f| f.path.to_string_lossy().ends_with(path_ends))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one report for {path_ends}: {:#?}",
        report.files
    );
    &found[0].outcome
}

/// What a runner checks after importing the known Strava export into an empty store.
fn check_strava_import(store: &Store, report: &ImportReport, export: &StravaExport, at: &str) {
    let t = report.totals;
    assert_eq!(
        (t.imported, t.duplicates, t.skipped, t.failed),
        (4, 0, 1, 0),
        "{:#?}",
        report.files
    );
    let FileOutcome::Skipped { reason } = outcome_of(report, export.ride_file) else {
        panic!("the ride is skipped")
    };
    assert!(reason.contains("Ride"), "{reason}");
    assert!(
        report
            .files
            .iter()
            .all(|f| !f.path.to_string_lossy().contains("routes")),
        "a route is not an activity"
    );

    let shoes = store.shoes().unwrap();
    let shoe = |name: &str| {
        shoes
            .iter()
            .find(|u| u.shoe.name == name)
            .unwrap_or_else(|| panic!("a shoe {name} in {shoes:#?}"))
    };
    assert_eq!(
        shoes.len(),
        2,
        "Pegasus 40 once (any case), Vaporfly; no Canyon"
    );
    let runs = store.runs().unwrap();
    assert_eq!(runs.len(), 4);
    for expected in &export.runs {
        let FileOutcome::Imported { run_id, .. } =
            outcome_of(report, &format!("{}{}", at, file_of(export, expected.id)))
        else {
            panic!("{} imported", expected.id)
        };
        let run = runs.iter().find(|r| r.id == *run_id).unwrap();
        assert_eq!(
            run.notes.as_deref(),
            Some(expected.notes),
            "{}",
            expected.id
        );
        assert_eq!(run.rpe, expected.rpe, "{}", expected.id);
        assert_eq!(
            run.shoe_id,
            expected.gear.map(|g| shoe(g).shoe.id),
            "{}",
            expected.id
        );
        assert_eq!(run.start, expected.run.start, "{}", expected.id);
        assert_eq!(
            store.samples(run.id).unwrap().len(),
            expected.samples.len(),
            "{}",
            expected.id
        );
    }
    // Each shoe's mileage is its runs' distance from day one.
    for name in ["Pegasus 40", "Vaporfly"] {
        let want: f64 = runs
            .iter()
            .filter(|r| r.shoe_id == Some(shoe(name).shoe.id))
            .map(|r| r.distance_m)
            .sum();
        let expected: f64 = export
            .runs
            .iter()
            .filter(|r| r.gear == Some(name))
            .map(|r| r.run.distance_m)
            .sum();
        assert!(want > 0.0);
        assert!(
            (shoe(name).distance_m - want).abs() < 1e-6,
            "{name}: {} vs {want}",
            shoe(name).distance_m
        );
        assert!(
            (want - expected).abs() / expected < 0.01,
            "{name}: {want} m stored, {expected} m run"
        );
    }
}

fn file_of(export: &StravaExport, id: u64) -> String {
    let name = format!("activities/{id}.");
    export
        .files
        .iter()
        .find(|(n, _)| n.starts_with(&name))
        .unwrap()
        .0
        .clone()
}

#[test]
fn a_strava_export_folder_imports_its_runs_with_names_gear_and_rpe() {
    let (dir, db) = temp_db();
    let export = strava_export();
    let folder = dir.path().join("export_12345");
    write_folder(&folder, &export.files);
    let mut store = Store::open(&db).unwrap();
    let report = import(&mut store, std::slice::from_ref(&folder));
    check_strava_import(&store, &report, &export, "export_12345/");

    // Again: every run is the same file, known without parsing; the ride is still a ride.
    let again = import(&mut store, &[folder]);
    let t = again.totals;
    assert_eq!(
        (t.imported, t.duplicates, t.skipped, t.failed),
        (0, 4, 1, 0)
    );
    assert!(again.files.iter().all(|f| !matches!(
        f.outcome,
        FileOutcome::Duplicate {
            reason: DuplicateReason::SameActivity,
            ..
        }
    )));
    assert_eq!(store.runs().unwrap().len(), 4);
    assert_eq!(store.shoes().unwrap().len(), 2, "no shoe made twice");
}

#[test]
fn a_strava_export_zip_imports_the_same_and_reuses_a_shoe_of_the_same_name() {
    let (dir, db) = temp_db();
    let export = strava_export();
    let path = dir.path().join("export_12345.zip");
    std::fs::write(&path, zip(&export.files)).unwrap();
    let mut store = Store::open(&db).unwrap();
    let mine = store
        .add_shoe(&Shoe::new(Uuid::new_v4(), "PEGASUS 40"))
        .unwrap();
    let report = import(&mut store, &[path]);
    let t = report.totals;
    assert_eq!((t.imported, t.skipped, t.failed), (4, 1, 0), "{report:#?}");
    let shoes = store.shoes().unwrap();
    assert_eq!(shoes.len(), 2, "{shoes:#?}");
    let runs = store.runs().unwrap();
    let on_mine = runs.iter().filter(|r| r.shoe_id == Some(mine.id)).count();
    // 101 and 102 name it; 104 names no gear and goes on the default shoe, which it is.
    assert_eq!(on_mine, 3);
    let FileOutcome::Imported { .. } =
        outcome_of(&report, "export_12345.zip!activities/101.fit.gz")
    else {
        panic!("entries are named by their place in the zip")
    };
}

#[test]
fn a_strava_export_zipped_with_its_folder_is_read_too() {
    let (dir, db) = temp_db();
    let export = strava_export();
    let files: Vec<_> = export
        .files
        .iter()
        .map(|(n, b)| (format!("export_12345/{n}"), b.clone()))
        .collect();
    let path = dir.path().join("export.zip");
    std::fs::write(&path, zip(&files)).unwrap();
    let mut store = Store::open(&db).unwrap();
    let report = import(&mut store, &[path]);
    check_strava_import(&store, &report, &export, "export.zip!export_12345/");
}

#[test]
fn a_damaged_entry_is_named_by_its_path_inside_and_the_rest_imports() {
    let (dir, db) = temp_db();
    let mut export = strava_export();
    // A gzipped FIT that is not one, and one whose gzip is cut short.
    export.files.push((
        "activities/123.fit.gz".into(),
        gz(b"this is no FIT file at all"),
    ));
    let cut = gz(&std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap());
    export.files.push((
        "activities/124.gpx.gz".into(),
        cut[..cut.len() / 2].to_vec(),
    ));
    let csv = &mut export.files[0].1;
    csv.extend_from_slice(b"123,x,Broken,Run,,1,1,,,,,,activities/123.fit.gz\n");
    csv.extend_from_slice(b"124,x,Cut,Run,,1,1,,,,,,activities/124.gpx.gz\n");
    // A row whose file the export does not hold.
    csv.extend_from_slice(b"125,x,Lost,Run,,1,1,,,,,,activities/125.fit.gz\n");
    let path = dir.path().join("export.zip");
    std::fs::write(&path, zip(&export.files)).unwrap();
    let mut store = Store::open(&db).unwrap();
    let report = import(&mut store, std::slice::from_ref(&path));
    let t = report.totals;
    assert_eq!((t.imported, t.skipped, t.failed), (4, 1, 3), "{report:#?}");
    for (entry, says) in [
        ("export.zip!activities/123.fit.gz", "not a valid FIT file"),
        ("export.zip!activities/124.gpx.gz", "gzip"),
        ("export.zip!activities/125.fit.gz", "does not hold"),
    ] {
        let FileOutcome::Failed { reason } = outcome_of(&report, entry) else {
            panic!("{entry} failed")
        };
        assert!(reason.contains(says), "{entry}: {reason}");
        assert!(
            report.files.iter().any(|f| f.path.to_string_lossy()
                == format!(
                    "{}{}",
                    path.parent().unwrap().display(),
                    "/".to_string() + entry
                )),
            "{entry} after the archive's path"
        );
    }
    assert_eq!(store.runs().unwrap().len(), 4);
}

#[test]
fn a_garmin_export_of_part_zips_imports_every_fit_file_once() {
    let (dir, db) = temp_db();
    let runs = daily_runs("2024-01-01T07:00:00+01:00", 12, 10);
    let parts = vec![garmin_part(&runs[..7], 1000), garmin_part(&runs[7..], 2000)];
    let path = dir.path().join("garmin.zip");
    std::fs::write(&path, garmin_export(&parts)).unwrap();
    let mut store = Store::open(&db).unwrap();
    let mut progress = Vec::new();
    let report = {
        let access = RefCell::new(&mut store);
        import_files(
            &access,
            collect_files(std::slice::from_ref(&path)),
            ShoeChoice::Default,
            &mut |p| progress.push((p.bytes_done, p.bytes_total)),
            &Cancel::new(),
        )
        .unwrap()
    };
    let t = report.totals;
    assert_eq!(
        (t.imported, t.duplicates, t.skipped, t.failed),
        (12, 0, 0, 0)
    );
    assert_eq!(
        report.files[0].path.to_string_lossy(),
        "".to_string()
            + &path.display().to_string()
            + "!DI_CONNECT/DI-Connect-Uploaded-Files/UploadedFiles_0-_Part1.zip!runner@example.com_1000.fit"
    );
    // In archive order, so a batch imports the same way every time.
    let starts: Vec<_> = report
        .files
        .iter()
        .map(|f| match &f.outcome {
            FileOutcome::Imported { start, .. } => start.clone(),
            o => panic!("{o:?}"),
        })
        .collect();
    let mut sorted = starts.clone();
    sorted.sort();
    assert_eq!(starts, sorted);
    // Progress is over the zip's bytes, never backwards, never past them.
    let total = std::fs::metadata(&path).unwrap().len();
    assert_eq!(progress.len(), 12);
    assert!(progress.iter().all(|&(_, t)| t == total));
    assert!(
        progress.windows(2).all(|w| w[0].0 <= w[1].0),
        "{progress:?}"
    );
    assert!(progress.last().unwrap().0 <= total);
    assert!(progress.last().unwrap().0 > total / 2, "{progress:?}");

    let again = import(&mut store, &[path]);
    assert_eq!(again.totals.duplicates, 12);
    assert_eq!(store.runs().unwrap().len(), 12);
}

#[test]
fn the_same_run_in_a_garmin_fit_and_a_strava_gpx_is_imported_once() {
    let (dir, db) = temp_db();
    let export = strava_export();
    let folder = dir.path().join("strava");
    write_folder(&folder, &export.files);
    // Garmin holds the watch's FIT of 102, which Strava holds as GPX (whose distance, measured
    // from the positions, differs from the watch's).
    let r102 = &export.runs[1];
    let mut longer = r102.run.clone();
    longer.distance_m *= 1.021;
    let garmin = dir.path().join("garmin.zip");
    std::fs::write(
        &garmin,
        garmin_export(&[garmin_part(&[(longer, r102.samples.clone())], 7)]),
    )
    .unwrap();
    let mut store = Store::open(&db).unwrap();
    let first = import(&mut store, &[garmin]);
    assert_eq!(first.totals.imported, 1);
    let report = import(&mut store, &[folder]);
    let t = report.totals;
    assert_eq!((t.imported, t.duplicates, t.skipped), (3, 1, 1));
    let FileOutcome::Duplicate { reason, .. } = outcome_of(&report, "activities/102.gpx.gz") else {
        panic!("102 is a duplicate")
    };
    assert_eq!(*reason, DuplicateReason::SameActivity);
    assert_eq!(store.runs().unwrap().len(), 4);
}

#[test]
fn an_interrupted_import_run_again_skips_what_landed_and_imports_the_rest() {
    let (dir, db) = temp_db();
    let runs = daily_runs("2023-05-01T06:30:00+02:00", 30, 5);
    let path = dir.path().join("garmin.zip");
    std::fs::write(
        &path,
        garmin_export(&[garmin_part(&runs[..15], 1), garmin_part(&runs[15..], 100)]),
    )
    .unwrap();
    let mut store = Store::open(&db).unwrap();
    let cancel = Cancel::new();
    let first = {
        let access = RefCell::new(&mut store);
        import_files(
            &access,
            collect_files(std::slice::from_ref(&path)),
            ShoeChoice::Default,
            &mut |p| {
                if p.done == 11 {
                    cancel.cancel();
                }
            },
            &cancel,
        )
        .unwrap()
    };
    assert!(first.cancelled);
    assert_eq!(
        first.totals.imported, 11,
        "stopped after the file it was told at"
    );
    assert_eq!(store.runs().unwrap().len(), 11);

    let again = import(&mut store, &[path]);
    assert!(!again.cancelled);
    let t = again.totals;
    assert_eq!((t.imported, t.duplicates, t.failed), (19, 11, 0));
    // What landed is recognised as the very same file, not by its time.
    for f in &again.files[..11] {
        assert!(
            matches!(
                f.outcome,
                FileOutcome::Duplicate {
                    reason: DuplicateReason::SameFile,
                    ..
                }
            ),
            "{f:?}"
        );
    }
    assert_eq!(store.runs().unwrap().len(), 30);
}

#[test]
fn hostile_archives_are_refused_with_a_reason_and_the_rest_imports() {
    let (dir, db) = temp_db();
    let runs = daily_runs("2022-02-01T07:00:00+01:00", 2, 5);
    let mut files = garmin_part(&runs, 1);
    // A FIT that inflates past what one activity file can be.
    let bomb = vec![0u8; (strideguard_core::import::archive::MAX_ENTRY_BYTES + 1) as usize];
    files.push(("bomb.fit".into(), bomb.clone()));
    files.push(("bomb.fit.gz".into(), gz(&bomb)));
    // Zips nested deeper than any export.
    let mut deep = zip(&[("deep.fit".into(), files[0].1.clone())]);
    for _ in 0..strideguard_core::import::archive::MAX_DEPTH {
        deep = zip(&[("n.zip".into(), deep)]);
    }
    files.push(("deep.zip".into(), deep));
    files.push(("esc\u{1b}[2J.fit".into(), b"junk".to_vec()));
    let path = dir.path().join("hostile.zip");
    std::fs::write(&path, zip(&files)).unwrap();
    let mut store = Store::open(&db).unwrap();
    let report = import(&mut store, &[path]);
    assert_eq!(report.totals.imported, 2, "{report:#?}");
    assert_eq!(report.totals.failed, 4, "{report:#?}");
    for (entry, says) in [
        ("hostile.zip!bomb.fit", "more than 64 MiB"),
        ("hostile.zip!bomb.fit.gz", "more than 64 MiB"),
        (
            "hostile.zip!deep.zip!n.zip!n.zip",
            "nested more than 3 deep",
        ),
        ("hostile.zip!esc?[2J.fit", "not a valid FIT file"),
    ] {
        let FileOutcome::Failed { reason } = outcome_of(&report, entry) else {
            panic!("{entry}")
        };
        assert!(reason.contains(says), "{entry}: {reason}");
    }
    assert!(
        !dir.path().join("deep.fit").exists(),
        "nothing written to disk"
    );
}

#[test]
fn gear_naming_a_retired_shoe_puts_the_run_on_it_and_a_duplicate_makes_no_shoe() {
    let (dir, db) = temp_db();
    let export = strava_export();
    let folder = dir.path().join("strava");
    write_folder(&folder, &export.files);
    let mut store = Store::open(&db).unwrap();
    let old = store
        .add_shoe(&Shoe::new(Uuid::new_v4(), "Old pair"))
        .unwrap();
    let pegasus = store
        .add_shoe(&Shoe::new(Uuid::new_v4(), "pegasus 40"))
        .unwrap();
    store.retire_shoe(pegasus.id).unwrap();
    // 105 came in from the watch already (the very same FIT).
    let fit105 = export
        .files
        .iter()
        .find(|(n, _)| n == "activities/105.fit")
        .unwrap()
        .1
        .clone();
    let garmin = dir.path().join("garmin.zip");
    std::fs::write(
        &garmin,
        garmin_export(&[vec![("runner@example.com_5.fit".into(), fit105)]]),
    )
    .unwrap();
    assert_eq!(import(&mut store, &[garmin]).totals.imported, 1);

    let report = import(&mut store, &[folder]);
    let t = report.totals;
    assert_eq!(
        (t.imported, t.duplicates, t.skipped),
        (3, 1, 1),
        "{report:#?}"
    );
    let names: Vec<String> = store
        .shoes()
        .unwrap()
        .into_iter()
        .map(|u| u.shoe.name)
        .collect();
    assert_eq!(
        names.len(),
        2,
        "no Vaporfly for a run already there: {names:?}"
    );
    let runs = store.runs().unwrap();
    assert_eq!(
        runs.iter()
            .filter(|r| r.shoe_id == Some(pegasus.id))
            .count(),
        2,
        "101 and 102 ran in it, retired since"
    );
    // 104 has no gear: the default shoe when the import began.
    let FileOutcome::Imported { run_id, .. } = outcome_of(&report, "activities/104.tcx.gz") else {
        panic!("104 imported")
    };
    assert_eq!(
        runs.iter().find(|r| r.id == *run_id).unwrap().shoe_id,
        Some(old.id)
    );
}

#[test]
fn a_strava_run_whose_file_names_no_sport_is_a_run_on_stravas_word() {
    use strideguard_core::export;
    let (dir, db) = temp_db();
    let mut export = strava_export();
    // 102 as a GPX with no type and a slow jog's 120 steps/min, which alone reads as a walk.
    let r102 = &export.runs[1];
    let mut samples = r102.samples.clone();
    for s in &mut samples {
        s.cadence_spm = Some(120.0);
    }
    let gpx = export::gpx::write(&r102.run, &samples, "");
    let entry = export
        .files
        .iter_mut()
        .find(|(name, _)| name.ends_with("activities/102.gpx.gz"))
        .unwrap();
    entry.1 = gz(&gpx);
    let folder = dir.path().join("strava");
    write_folder(&folder, &export.files);

    let alone = dir.path().join("102.gpx");
    std::fs::write(&alone, &gpx).unwrap();
    let mut other = Store::open(dir.path().join("other.db")).unwrap();
    let report = import(&mut other, &[alone]);
    let FileOutcome::Skipped { reason } = &report.files[0].outcome else {
        panic!("alone, it is judged a walk: {:#?}", report.files)
    };
    assert!(reason.contains("a walk's"), "{reason}");

    let mut store = Store::open(&db).unwrap();
    let report = import(&mut store, &[folder]);
    let FileOutcome::Imported { note, .. } = outcome_of(&report, "activities/102.gpx.gz") else {
        panic!("Strava calls it a Run: {:#?}", report.files)
    };
    let note = note.as_deref().unwrap();
    assert!(note.contains("no sport in the file"), "{note}");
    assert!(
        note.contains("as the export's list of activities says"),
        "{note}"
    );
    let t = report.totals;
    assert_eq!(
        (t.imported, t.skipped),
        (4, 1),
        "the Ride is still left out"
    );
}

#[test]
fn two_devices_importing_one_strava_export_make_the_same_shoes() {
    use strideguard_core::store::ShoeEdit;
    let (dir, db) = temp_db();
    let export = strava_export();
    let folder = dir.path().join("strava");
    write_folder(&folder, &export.files);
    let shoes = |store: &Store| {
        let mut s: Vec<(Uuid, String)> = store
            .shoes()
            .unwrap()
            .into_iter()
            .map(|u| (u.shoe.id, u.shoe.name))
            .collect();
        s.sort();
        s
    };
    let mut phone = Store::open(&db).unwrap();
    import(&mut phone, std::slice::from_ref(&folder));
    let mut laptop = Store::open(dir.path().join("laptop.db")).unwrap();
    import(&mut laptop, std::slice::from_ref(&folder));
    assert_eq!(shoes(&phone).len(), 2);
    assert_eq!(shoes(&phone), shoes(&laptop), "one id per gear on both");

    // Renamed since, the shoe still gets its gear's runs: a later export adds no third pair.
    let (pegasus, _) = shoes(&laptop)
        .into_iter()
        .find(|(_, n)| n == "Pegasus 40")
        .unwrap();
    let edit = ShoeEdit {
        name: Some("Old Pegasus".into()),
        ..ShoeEdit::default()
    };
    laptop.edit_shoe(pegasus, &edit).unwrap();
    assert_eq!(laptop.shoe_for_gear("Pegasus 40").unwrap(), pegasus);
    assert_eq!(shoes(&laptop).len(), 2);
}
