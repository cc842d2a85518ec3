//! One run, written as FIT, GPX and TCX (as a watch, Strava and Garmin Connect would export it),
//! imported into a real store: the first lands, the other two are recognised as the same
//! activity, and importing any file twice is recognised as the same file.

use chrono::NaiveDate;
use strideguard_core::export;
use strideguard_core::import::{self, Format, Parsed};
use strideguard_core::store::DuplicateReason;
use strideguard_core::{Store, demo};
use strideguard_tests::temp_db;

#[test]
fn the_same_activity_in_three_formats_is_imported_once() {
    let (_dir, path) = temp_db();
    let mut store = Store::open(&path).unwrap();
    let history = demo::history(5, NaiveDate::from_ymd_opt(2026, 9, 1).unwrap());
    let (run, samples) = history
        .runs
        .iter()
        .rev()
        .find(|(_, s)| !s.is_empty())
        .unwrap();
    let zone = chrono_tz::Europe::Berlin;
    let files = [
        (Format::Fit, export::fit::write(run, samples, 1)),
        (Format::Gpx, export::gpx::write(run, samples, "running")),
        (Format::Tcx, export::tcx::write(run, samples, "Running")),
    ];

    let mut first = None;
    for (format, bytes) in &files {
        let Parsed::Run {
            run: imported,
            samples: stream,
            ..
        } = import::parse(*format, bytes, zone).unwrap().remove(0)
        else {
            panic!("{format:?} is a run");
        };
        match store.find_duplicate(&imported).unwrap() {
            None => {
                assert!(first.is_none(), "{format:?} should have been a duplicate");
                store.add_run(&imported, &stream).unwrap();
                first = Some(imported.id);
            }
            Some(d) => {
                assert_eq!(d.run_id, first.unwrap());
                assert_eq!(d.reason, DuplicateReason::SameActivity, "{format:?}");
            }
        }
        // The very same bytes again: the same file.
        if first == Some(imported.id) {
            let Parsed::Run { run: again, .. } =
                import::parse(*format, bytes, zone).unwrap().remove(0)
            else {
                unreachable!()
            };
            let d = store.find_duplicate(&again).unwrap().unwrap();
            assert_eq!(d.reason, DuplicateReason::SameFile);
        }
    }
    let runs = store.runs().unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(store.samples(runs[0].id).unwrap().len(), samples.len());
}

/// The one definition of average cadence (`import::average_cadence`) gives the same figure
/// whichever format the watch exported: FIT keeps 1/128ths of a stride, GPX and TCX whole
/// strides, so the three agree to within one step per minute.
#[test]
fn the_same_activity_in_three_formats_has_one_average_cadence() {
    let history = demo::history(5, NaiveDate::from_ymd_opt(2026, 9, 1).unwrap());
    let zone = chrono_tz::Europe::Berlin;
    let mut checked = 0;
    for (run, samples) in history.runs.iter().filter(|(_, s)| !s.is_empty()).take(4) {
        let cadences: Vec<(Format, f64)> = [
            (Format::Fit, export::fit::write(run, samples, 1)),
            (Format::Gpx, export::gpx::write(run, samples, "running")),
            (Format::Tcx, export::tcx::write(run, samples, "Running")),
        ]
        .into_iter()
        .map(|(format, bytes)| {
            let Parsed::Run { run: got, .. } =
                import::parse(format, &bytes, zone).unwrap().remove(0)
            else {
                panic!("{format:?} is a run");
            };
            (format, got.avg_cadence_spm.expect("a cadence"))
        })
        .collect();
        let fit = cadences[0].1;
        for (format, c) in &cadences {
            assert!(
                (c - fit).abs() <= 1.0,
                "{format:?} {c:.2} steps/min vs FIT {fit:.2}: {cadences:?}"
            );
        }
        checked += 1;
    }
    assert!(checked > 0);
}
