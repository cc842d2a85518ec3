#![no_main]
//! Any bytes given to the TCX importer give a run, a skip or an error: never a panic or a hang.
//! What it gives holds up: at least one entry, and every run has a positive, finite duration, a
//! finite distance, a moving time within its duration, and samples in time order.

use libfuzzer_sys::fuzz_target;
use strideguard_core::import::{Format, Parsed, parse};

fuzz_target!(|data: &[u8]| {
    let Ok(entries) = parse(Format::Tcx, data, chrono_tz::Europe::Berlin) else {
        return;
    };
    assert!(!entries.is_empty(), "an Ok parse has an entry");
    for entry in entries {
        let Parsed::Run { run, samples, .. } = entry else {
            continue;
        };
        assert!(run.duration_s.is_finite() && run.duration_s > 0.0, "{run:?}");
        assert!(run.distance_m.is_finite() && run.distance_m >= 0.0, "{run:?}");
        if let Some(m) = run.moving_time_s {
            assert!(m.is_finite() && m >= 0.0 && m <= run.duration_s + 1e-6, "{run:?}");
        }
        assert!(samples.iter().all(|s| s.t_s.is_finite() && s.t_s >= 0.0));
        assert!(samples.windows(2).all(|w| w[0].t_s <= w[1].t_s), "time order");
        if let Some(c) = run.avg_cadence_spm {
            assert!(c.is_finite() && c > 0.0, "{run:?}");
        }
    }
});
