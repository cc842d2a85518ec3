#![no_main]
//! The frames bodies of `/v2/records` (`strideguard_proto::frames`), as the server reads an
//! upload and a client reads a page or a 409. Properties:
//!
//! - any bytes decode to records or an error, never a panic, within the limits given (no more
//!   frames than `max_records`, no payload over `max_payload`);
//! - what decodes encodes back to the very same bytes (one spelling per body), and with any
//!   one bit of it flipped it no longer decodes to the same records.
//!
//! Input: the first byte picks the body kind, the rest is the body.

use libfuzzer_sys::fuzz_target;
use strideguard_proto::frames;

const MAX_RECORDS: usize = 100;
const MAX_PAYLOAD: usize = 64 * 1024;

fuzz_target!(|data: &[u8]| {
    let Some((&kind, body)) = data.split_first() else {
        return;
    };
    match kind % 3 {
        0 => {
            let Ok(records) = frames::decode_upload(body, MAX_RECORDS, MAX_PAYLOAD) else {
                return;
            };
            assert!(records.len() <= MAX_RECORDS);
            assert!(records.iter().all(|r| r.payload.len() <= MAX_PAYLOAD));
            let again = frames::encode_upload(&records).expect("decoded records encode");
            assert_eq!(again, body, "one spelling per upload");
            for bit in 0..body.len().min(64) * 8 {
                let mut bad = body.to_vec();
                bad[bit / 8] ^= 1 << (bit % 8);
                if let Ok(other) = frames::decode_upload(&bad, MAX_RECORDS, MAX_PAYLOAD) {
                    assert_ne!(other, records, "bit {bit} flipped went unnoticed");
                }
            }
        }
        1 => {
            if let Ok(page) = frames::decode_page(body, MAX_PAYLOAD) {
                assert_eq!(frames::encode_page(&page), body, "one spelling per page");
            }
        }
        _ => {
            if let Ok(current) = frames::decode_conflict(body, MAX_PAYLOAD) {
                assert_eq!(frames::encode_conflict(&current), body);
            }
        }
    }
});
