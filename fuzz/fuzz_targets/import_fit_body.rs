#![no_main]
//! The FIT decoder behind a valid header and CRCs: arbitrary bytes become the messages of a FIT
//! file, so the fuzzer reaches definitions, records, developer fields and the interpretation
//! instead of stopping at the checksum (which `import_fit` hits on almost every mutation).
//! Checks: never a panic or a hang; a parse gives at least one entry; a run has a positive
//! duration and its samples finite times from its start on.

use libfuzzer_sys::fuzz_target;
use strideguard_core::export::fit::crc16;
use strideguard_core::import::{Format, Parsed, parse};

fuzz_target!(|body: &[u8]| {
    let mut file = vec![14, 0x20, 0x54, 0x08];
    file.extend_from_slice(&(body.len() as u32).to_le_bytes());
    file.extend_from_slice(b".FIT");
    let crc = crc16(&file);
    file.extend_from_slice(&crc.to_le_bytes());
    file.extend_from_slice(body);
    let crc = crc16(&file);
    file.extend_from_slice(&crc.to_le_bytes());
    if let Ok(parsed) = parse(Format::Fit, &file, chrono_tz::Europe::Berlin) {
        assert!(!parsed.is_empty());
        for p in parsed {
            if let Parsed::Run { run, samples, .. } = p {
                assert!(
                    run.duration_s > 0.0 && run.duration_s.is_finite(),
                    "{run:?}"
                );
                assert!(samples.iter().all(|s| s.t_s.is_finite() && s.t_s >= 0.0));
            }
        }
    }
});
