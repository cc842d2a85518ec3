//! Inputs the `gatt_notifications` fuzz target (fuzz/) found, kept so `cargo test` keeps them
//! fixed without cargo-fuzz. Each test feeds the exact bytes of the minimised crash (without the
//! target's leading mode byte).

use strideguard_sensor::gatt::RSC_MEASUREMENT;
use strideguard_sensor::gatt::parse_text;
use strideguard_sensor::replay::parse_replay;
use strideguard_sensor::{Bridge, BridgeEvent, CadenceUnit, Notification};

/// `00 0a`: a NUL then a newline. The NULs were trimmed before the spaces, so a NUL followed by
/// whitespace stayed in the name ("\0"), and with it in a manufacturer string device quirks
/// would not match.
#[test]
fn fuzz_text_nul_before_whitespace_is_trimmed() {
    assert_eq!(parse_text(&[0x00, 0x0a]).unwrap(), "");
    assert_eq!(
        parse_text(&[0x56, 0x78, 0x00, 0x0a, 0x00, 0x00, 0x00]).unwrap(),
        "Vx"
    );
}

/// `0 2A53 G\u{5b0}5`: the hex bytes were sliced two bytes at a time, and a multi-byte
/// character (here U+05B0) split by a slice panicked. Now anything but hex digits is refused,
/// and so is a sign, which `u8::from_str_radix` took ("+f" read as 0x0f).
#[test]
fn fuzz_replay_non_ascii_hex_is_an_error() {
    let input = [
        0x30, 0x20, 0x32, 0x41, 0x35, 0x33, 0x20, 0x47, 0xd6, 0xb0, 0x35,
    ];
    let text = std::str::from_utf8(&input).unwrap();
    let e = parse_replay(text).unwrap_err();
    assert_eq!(e.line, 1);
    assert!(e.reason.contains("is not hex"), "{e}");
    assert!(parse_replay("1 2a37 +f 06").is_err());
}

fn rsc(t_s: f64, bytes: &[u8]) -> Notification {
    Notification {
        t_s,
        characteristic: RSC_MEASUREMENT,
        bytes: bytes.to_vec(),
    }
}

/// Five footpod packets at running speed decided "strides" (announced), then a sixth without a
/// stride length voted "steps", the vote was tied, and the unit silently became steps: cadence
/// 255 instead of 510 after the runner was told the footpod counts strides. The first readings
/// now decide for good.
#[test]
fn fuzz_bridge_announced_unit_never_changes() {
    let packets: [(f64, &[u8]); 6] = [
        (
            8.854494587439197e-159,
            &[0x1f, 0xa0, 0xa0, 0xa0, 0xa0, 0xa0, 0xa0, 0xa0, 0xa0, 0xa0],
        ),
        (
            2.422132712951047e-156,
            &[0xff, 0xff, 0xff, 0xff, 0x9a, 0x00, 0x00, 0x1f, 0x1f, 0x1f],
        ),
        (
            8.854494587438971e-159,
            &[0xff, 0xff, 0xff, 0xff, 0x9a, 0x00, 0x00, 0x1f, 0x1f, 0x1f],
        ),
        (
            8.854494587438971e-159,
            &[0x1f, 0x1f, 0xff, 0xff, 0xff, 0xff, 0x9a, 0x00, 0x00, 0x1f],
        ),
        (
            8.854494587438971e-159,
            &[0xff, 0xff, 0xff, 0xff, 0x9a, 0x00, 0x00, 0x1f, 0x1f, 0x1f],
        ),
        (2.276441412213006e-159, &[0x04, 0xff, 0xff, 0xff, 0x1f]),
    ];
    let mut bridge = Bridge::new(None);
    let mut announced = Vec::new();
    let mut last = None;
    for (t, bytes) in packets {
        let (reading, events) = bridge.handle(&rsc(t, bytes));
        announced.extend(events);
        last = reading;
    }
    assert_eq!(
        announced,
        [BridgeEvent::CadenceUnit {
            unit: CadenceUnit::Strides
        }]
    );
    assert_eq!(bridge.unit(), Some(CadenceUnit::Strides));
    assert_eq!(last.unwrap().cadence_spm, Some(510.0));
}
