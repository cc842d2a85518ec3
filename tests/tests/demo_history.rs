//! The demo runner's history through the real store: written to a SQLite file, read back after
//! reopening, and analysed, the path every later feature (report, sync, FFI) builds on.

use std::collections::HashSet;

use chrono::NaiveDate;
use strideguard_core::Store;
use strideguard_core::analysis::{Thresholds, weekly_totals};
use strideguard_core::demo;
use strideguard_core::store::collection;
use strideguard_tests::{load_demo, temp_db};

#[test]
fn the_demo_history_survives_the_store_and_tells_its_story() {
    let (_dir, path) = temp_db();
    let end = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
    let history = demo::history(demo::DEFAULT_SEED, end);
    load_demo(&mut Store::open(&path).unwrap(), &history).unwrap();

    let store = Store::open(&path).unwrap();
    assert_eq!(store.profile().unwrap(), history.profile);
    let runs = store.runs().unwrap();
    assert_eq!(runs.len(), history.runs.len());
    for (expected, samples) in &history.runs {
        let got = store.run(expected.id).unwrap().expect("run stored");
        assert_eq!(&got, expected);
        let back = store.samples(expected.id).unwrap();
        assert_eq!(back.len(), samples.len());
        // Demo samples are generated on the stored resolution, so they come back exactly.
        if let Some(i) = (0..back.len()).find(|&i| back[i] != samples[i]) {
            panic!(
                "run {} sample {i}: stored {:?}, read {:?}",
                expected.id, samples[i], back[i]
            );
        }
    }

    // Too much, too soon: the last two weeks are more than 30% above the two before.
    let weeks = weekly_totals(
        &runs,
        &store.profile().unwrap(),
        None,
        &Thresholds::default(),
    );
    assert_eq!(weeks.len(), 16);
    let n = weeks.len();
    let last2 = weeks[n - 1].totals.distance_m + weeks[n - 2].totals.distance_m;
    let prev2 = weeks[n - 3].totals.distance_m + weeks[n - 4].totals.distance_m;
    assert!(last2 / prev2 > 1.30, "{last2} / {prev2}");

    // A shoe past 500 miles, derived from its runs.
    let shoes = store.shoes().unwrap();
    let worn: Vec<_> = shoes
        .iter()
        .filter(|s| !s.shoe.retired && s.distance_m > s.shoe.replace_at_m)
        .collect();
    assert_eq!(worn.len(), 1);
    assert_eq!(worn[0].shoe.name, "Pegasus 40");
    assert_eq!(store.default_shoe().unwrap().unwrap().id, worn[0].shoe.id);

    // Every record is in the change log, ready for the sync engine to upload.
    let logged: HashSet<(String, String)> = store
        .changes_since(0, 10_000)
        .unwrap()
        .into_iter()
        .map(|c| (c.collection, c.record_id))
        .collect();
    for (run, samples) in &history.runs {
        assert!(logged.contains(&(collection::RUNS.into(), run.id.to_string())));
        assert_eq!(
            logged.contains(&(collection::RUN_SAMPLES.into(), run.id.to_string())),
            !samples.is_empty()
        );
    }
    for shoe in &history.shoes {
        assert!(logged.contains(&(collection::SHOES.into(), shoe.id.to_string())));
    }
    assert!(logged.contains(&(collection::PROFILE.into(), "profile".into())));
}
