#![no_main]
//! Any bytes given to the FIT importer give a run, a skip or an error: never a panic or a hang.

use libfuzzer_sys::fuzz_target;
use strideguard_core::import::{Format, parse};

fuzz_target!(|data: &[u8]| {
    let _ = parse(Format::Fit, data, chrono_tz::Europe::Berlin);
});
