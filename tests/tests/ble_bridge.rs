//! The real btleplug code path without a radio: a private dbus-daemon, our BlueZ stand-in
//! (`tests/bluez/standin.py`) owning `org.bluez` on it with a footpod that has the heart-rate and
//! RSC services, and the sensor bridge pointed at it through `DBUS_SYSTEM_BUS_ADDRESS`. Scan,
//! connect, subscribe, notifications, a dropped connection mid-run, reconnection, coaching, and
//! the run saved.
//!
//! Needs Debian's dbus-daemon, python3-dbus and python3-gi (`.ci/run` installs them). libdbus
//! reads the bus address once per process, so this file holds a single test.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::DateTime;
use strideguard_core::Store;
use strideguard_core::coach::{CadenceCoach, CoachConfig, CueKind};
use strideguard_core::model::{Run, RunSource};
use strideguard_sensor::ble::{self, Backoff, SessionItem};
use strideguard_sensor::{Bridge, CadenceUnit};
use strideguard_tests::bluez::{start_bus, start_standin};
use strideguard_tests::temp_db;
use tokio::sync::mpsc;

#[test]
#[allow(unsafe_code)]
fn a_footpod_over_a_private_bus_is_scanned_connected_coached_dropped_and_reconnected() {
    let dir = tempfile::tempdir().unwrap();
    let (_bus, address) = start_bus(dir.path());
    // SAFETY: set before any thread of this test binary touches D-Bus (the only test here, and
    // libdbus reads the variable when btleplug first connects).
    unsafe { std::env::set_var("DBUS_SYSTEM_BUS_ADDRESS", &address) };
    let _standin = start_standin(&address, 30, 400);

    let rt = tokio::runtime::Runtime::new().unwrap();
    let devices = rt.block_on(ble::scan(Duration::from_millis(500))).unwrap();
    assert_eq!(devices.len(), 1, "{devices:?}");
    let d = &devices[0];
    assert_eq!(d.name.as_deref(), Some("Strideguard Footpod"));
    assert_eq!(d.address, "AA:BB:CC:DD:EE:01");
    assert_eq!(d.rssi, Some(-58));
    assert_eq!(d.services, ["heart_rate", "running_speed_cadence"]);

    let (tx, mut rx) = mpsc::channel(256);
    let stop = Arc::new(AtomicBool::new(false));
    let session = rt.spawn(ble::stream(
        "Strideguard Footpod",
        tx,
        stop.clone(),
        Backoff {
            first: Duration::from_millis(200),
            max: Duration::from_secs(1),
            attempts: 10,
        },
    ));

    // Coach on a compressed clock: notifications arrive every 0.1 s here.
    let mut cfg = CoachConfig::new(170.0);
    cfg.warmup_s = 0.0;
    cfg.window_s = 1.0;
    cfg.cooldown_s = 1.0;
    cfg.dropout_s = 0.5;
    let mut coach = CadenceCoach::new(cfg);
    let mut bridge = Bridge::new(None);
    let mut items = Vec::new();
    let mut cues = Vec::new();
    let mut readings_after_reconnect = 0;
    let result = rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(item) = rx.recv().await {
                match &item {
                    SessionItem::Notification(n) => {
                        cues.extend(coach.tick(n.t_s));
                        if let (Some(r), _) = bridge.handle(n) {
                            assert_eq!(r.cadence_spm, Some(156.0), "78 strides of one foot");
                            assert_eq!(r.speed_mps, Some(3.0));
                            if items
                                .iter()
                                .any(|i| matches!(i, SessionItem::Reconnected { .. }))
                            {
                                readings_after_reconnect += 1;
                            }
                            cues.extend(coach.feed(r));
                        }
                    }
                    SessionItem::Disconnected { t_s } => cues.extend(coach.tick(t_s + 1.0)),
                    _ => {}
                }
                items.push(item);
                if readings_after_reconnect >= 20 {
                    stop.store(true, Ordering::SeqCst);
                    break;
                }
            }
        })
        .await
    });
    assert!(
        result.is_ok(),
        "timed out; got {} items: {:?}",
        items.len(),
        items.iter().rev().take(3).collect::<Vec<_>>()
    );
    let _ = rt.block_on(session);

    assert!(
        matches!(&items[0], SessionItem::Connected { name: Some(n), .. } if n == "Strideguard Footpod")
    );
    let disconnects = items
        .iter()
        .filter(|i| matches!(i, SessionItem::Disconnected { .. }))
        .count();
    assert_eq!(disconnects, 1, "the dropout is reported once");
    assert!(
        items
            .iter()
            .any(|i| matches!(i, SessionItem::Reconnected { .. }))
    );
    assert_eq!(bridge.unit(), Some(CadenceUnit::Strides));
    // Up to 30 before the drop (the first may come before the subscription), 20 after.
    assert!(
        bridge.stats.heart_rate > 0 && bridge.stats.rsc >= 40,
        "{:?}",
        bridge.stats
    );
    assert_eq!(bridge.stats.bad, 0);
    let kinds: Vec<CueKind> = cues.iter().map(|c| c.kind).collect();
    assert!(kinds.contains(&CueKind::Quicken), "{kinds:?}");
    assert!(
        kinds.contains(&CueKind::SensorLost) && kinds.contains(&CueKind::SensorBack),
        "{kinds:?}"
    );
    let hr: Vec<u8> = coach.samples().iter().filter_map(|s| s.hr_bpm).collect();
    assert!(!hr.is_empty() && hr.iter().all(|h| *h == 150));

    // The session is saved as a run with its samples.
    let (_db_dir, path) = temp_db();
    let mut store = Store::open(&path).unwrap();
    let samples = coach.samples().to_vec();
    let mut run = Run::new(
        uuid::Uuid::new_v4(),
        DateTime::parse_from_rfc3339("2026-03-14T07:30:00+01:00").unwrap(),
        coach.distance_m(),
        samples.last().unwrap().t_s,
    );
    run.source = RunSource::Live;
    store.add_run(&run, &samples).unwrap();
    assert_eq!(store.samples(run.id).unwrap().len(), samples.len());
}
