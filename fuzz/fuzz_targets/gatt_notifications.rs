#![no_main]
//! The sensor bridge's inputs: every GATT characteristic parser (heart rate 0x2A37, RSC 0x2A53,
//! battery 0x2A19, Device Information text), the notification `Bridge` fed arbitrary sequences,
//! and the replay format (`live --replay`). Properties, not only "no panic":
//!
//! - each parser agrees with a model written from the Bluetooth SIG layout (`shared/ble.md`):
//!   a packet too short for its flags is `TooShort` with its real length, never a wrong value;
//!   every value is within the range its field can hold; an RSC packet re-encodes to its bytes;
//! - the bridge counts every notification once, gives a reading exactly for each good RSC
//!   packet (cadence the raw value or its double, speed as parsed, the latest heart rate), tells
//!   a bad packet with the parser's reason, warns of a low battery once, announces the cadence
//!   unit once, and a unit once known never changes;
//! - a replay that parses writes back to one that parses the same (times to the millisecond).
//!
//! Input: the first byte picks the mode (packets, a bridge sequence, replay text); the rest is
//! the input of that mode.

use libfuzzer_sys::arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use strideguard_sensor::gatt::{
    self, BATTERY_LEVEL, GattError, HEART_RATE_MEASUREMENT, HeartRate, RSC_MEASUREMENT, Rsc,
};
use strideguard_sensor::replay::{format_replay, parse_replay};
use strideguard_sensor::{Bridge, BridgeEvent, CadenceUnit, Notification};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => {
            check_heart_rate(rest);
            check_rsc(rest);
            check_battery(rest);
            check_text(rest);
        }
        1 => check_bridge(rest),
        _ => {
            if let Ok(text) = std::str::from_utf8(rest) {
                check_replay(text);
            }
        }
    }
});

fn u16_le(b: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_le_bytes([*b.get(i)?, *b.get(i + 1)?]))
}

/// Heart Rate Measurement as the SIG lays it out: flags, 8- or 16-bit value, optional energy,
/// then RR intervals (1/1024 s) filling the rest in pairs. `None`: too short (or half a pair).
fn heart_rate_model(b: &[u8]) -> Option<(HeartRate, usize)> {
    let flags = *b.first()?;
    let (bpm, mut i) = if flags & 0x01 != 0 {
        (u16_le(b, 1)?, 3)
    } else {
        (u16::from(*b.get(1)?), 2)
    };
    let energy_kj = if flags & 0x08 != 0 {
        let e = u16_le(b, i)?;
        i += 2;
        Some(e)
    } else {
        None
    };
    let header = i;
    let mut rr_s = Vec::new();
    if flags & 0x10 != 0 {
        let rest = &b[i..];
        if rest.len() % 2 != 0 {
            return None;
        }
        rr_s = rest
            .chunks_exact(2)
            .map(|p| f64::from(u16::from_le_bytes([p[0], p[1]])) / 1024.0)
            .collect();
    }
    let contact = (flags & 0x04 != 0).then_some(flags & 0x02 != 0);
    Some((
        HeartRate {
            bpm,
            contact,
            energy_kj,
            rr_s,
        },
        header,
    ))
}

fn too_short_of(e: &GattError, len: usize) {
    match e {
        GattError::TooShort { len: l, needed, .. } => {
            assert_eq!(*l, len, "the error names the packet's length");
            assert!(*needed > len, "needed {needed} is not more than {len}");
        }
        other => panic!("a short packet gave {other:?}"),
    }
}

fn check_heart_rate(b: &[u8]) {
    let parsed = gatt::parse_heart_rate(b);
    match (&parsed, heart_rate_model(b)) {
        (Ok(h), Some((model, header))) => {
            assert_eq!(h, &model, "{b:02x?}");
            for rr in &h.rr_s {
                assert!((0.0..64.0).contains(rr), "RR {rr} s out of range");
            }
            // Cutting into the flags, value or energy is an error; so is half an RR pair.
            for cut in 0..header {
                too_short_of(&gatt::parse_heart_rate(&b[..cut]).unwrap_err(), cut);
            }
            if b[0] & 0x10 != 0 {
                for cut in (header + 1..b.len()).step_by(2) {
                    too_short_of(&gatt::parse_heart_rate(&b[..cut]).unwrap_err(), cut);
                }
            }
        }
        (Err(e), None) => too_short_of(e, b.len()),
        (got, model) => panic!("{b:02x?}: parsed {got:?}, the layout says {model:?}"),
    }
}

/// RSC Measurement: flags, speed (1/256 m/s), cadence, optional stride (cm) and total distance
/// (dm). Returns the parsed value and the bytes it was read from (reserved flag bits cleared).
fn rsc_model(b: &[u8]) -> Option<(Rsc, Vec<u8>)> {
    let flags = *b.first()?;
    let speed = u16_le(b, 1)?;
    let cadence_raw = *b.get(3)?;
    let mut i = 4;
    let stride_m = if flags & 0x01 != 0 {
        let s = u16_le(b, i)?;
        i += 2;
        Some(f64::from(s) / 100.0)
    } else {
        None
    };
    let total_distance_m = if flags & 0x02 != 0 {
        let d = b.get(i..i + 4)?;
        i += 4;
        Some(f64::from(u32::from_le_bytes([d[0], d[1], d[2], d[3]])) / 10.0)
    } else {
        None
    };
    let mut canonical = b[..i].to_vec();
    canonical[0] &= 0x07;
    Some((
        Rsc {
            speed_mps: f64::from(speed) / 256.0,
            cadence_raw,
            stride_m,
            total_distance_m,
            running: flags & 0x04 != 0,
        },
        canonical,
    ))
}

fn check_rsc(b: &[u8]) {
    let parsed = gatt::parse_rsc(b);
    match (&parsed, rsc_model(b)) {
        (Ok(r), Some((model, canonical))) => {
            assert_eq!(r, &model, "{b:02x?}");
            assert!((0.0..256.0).contains(&r.speed_mps));
            assert!(r.stride_m.is_none_or(|s| (0.0..=655.35).contains(&s)));
            assert!(
                r.total_distance_m
                    .is_none_or(|d| (0.0..=f64::from(u32::MAX) / 10.0).contains(&d))
            );
            // The encoder writes back exactly the bytes read, and they read the same.
            let encoded = gatt::encode_rsc(r);
            assert_eq!(encoded, canonical, "re-encoding {r:?}");
            assert_eq!(gatt::parse_rsc(&encoded).as_ref(), Ok(r));
            for cut in 0..canonical.len() {
                too_short_of(&gatt::parse_rsc(&b[..cut]).unwrap_err(), cut);
            }
        }
        (Err(e), None) => too_short_of(e, b.len()),
        (got, model) => panic!("{b:02x?}: parsed {got:?}, the layout says {model:?}"),
    }
}

fn check_battery(b: &[u8]) {
    match (gatt::parse_battery(b), b.first()) {
        (Ok(p), Some(&first)) => {
            assert_eq!(p, first);
            assert!(p <= 100);
        }
        (Err(GattError::BatteryOutOfRange(p)), Some(&first)) => {
            assert_eq!(p, first);
            assert!(p > 100);
        }
        (Err(e), None) => too_short_of(&e, 0),
        (got, first) => panic!("battery {b:02x?} (first {first:?}) gave {got:?}"),
    }
}

fn check_text(b: &[u8]) {
    match (gatt::parse_text(b), std::str::from_utf8(b)) {
        (Ok(t), Ok(s)) => {
            assert!(s.contains(&t), "{t:?} is not part of {s:?}");
            // What is left is the name itself: no padding NULs, no spaces around it.
            assert!(
                !t.ends_with(|c: char| c == '\0' || c.is_whitespace()),
                "{s:?} gave {t:?}, still padded at the end"
            );
            assert!(!t.starts_with(char::is_whitespace), "{s:?} gave {t:?}");
        }
        (Err(GattError::NotText), Err(_)) => {}
        (got, utf8) => panic!("text {b:02x?} gave {got:?} (UTF-8: {})", utf8.is_ok()),
    }
}

fn characteristic(u: &mut Unstructured) -> u16 {
    match u.int_in_range(0..=4u8).unwrap_or(0) {
        0 | 1 => RSC_MEASUREMENT,
        2 => HEART_RATE_MEASUREMENT,
        3 => BATTERY_LEVEL,
        _ => u16::arbitrary(u).unwrap_or(0),
    }
}

fn check_bridge(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let forced = match u.int_in_range(0..=3u8).unwrap_or(0) {
        1 => Some(CadenceUnit::Strides),
        2 => Some(CadenceUnit::Steps),
        _ => None,
    };
    let mut bridge = Bridge::new(forced);
    let mut handled = 0u64;
    let mut latest_hr: Option<u8> = None;
    let mut warned = false;
    let mut announced: Option<CadenceUnit> = None;
    while !u.is_empty() {
        let characteristic = characteristic(&mut u);
        let t_s = f64::arbitrary(&mut u).unwrap_or(0.0);
        let len = usize::from(u.int_in_range(0..=20u8).unwrap_or(0));
        let bytes = u.bytes(len.min(u.len())).unwrap_or_default().to_vec();
        let n = Notification {
            t_s,
            characteristic,
            bytes,
        };
        let unit_before = bridge.unit();
        let (reading, events) = bridge.handle(&n);
        handled += 1;
        let unit_after = bridge.unit();
        if let Some(before) = unit_before {
            assert_eq!(unit_after, Some(before), "a known unit changed");
        }
        if forced.is_some() {
            assert_eq!(unit_after, forced, "the runner's choice wins");
        }
        let bad = |e: GattError| {
            assert_eq!(
                events,
                [BridgeEvent::BadPacket {
                    characteristic,
                    reason: e.to_string()
                }]
            );
        };
        match characteristic {
            HEART_RATE_MEASUREMENT => {
                assert_eq!(reading, None);
                match gatt::parse_heart_rate(&n.bytes) {
                    Ok(h) => {
                        assert!(events.is_empty(), "{events:?}");
                        latest_hr = u8::try_from(h.bpm).ok();
                    }
                    Err(e) => bad(e),
                }
            }
            BATTERY_LEVEL => {
                assert_eq!(reading, None);
                match gatt::parse_battery(&n.bytes) {
                    Ok(p) if p < 15 && !warned => {
                        warned = true;
                        assert_eq!(events, [BridgeEvent::BatteryLow { percent: p }]);
                    }
                    Ok(_) => assert!(events.is_empty(), "{events:?}"),
                    Err(e) => bad(e),
                }
            }
            RSC_MEASUREMENT => match gatt::parse_rsc(&n.bytes) {
                Ok(r) => {
                    let reading = reading.expect("a good RSC packet gives a reading");
                    assert_eq!(reading.t_s.to_bits(), t_s.to_bits());
                    assert_eq!(reading.speed_mps, Some(r.speed_mps));
                    assert_eq!(reading.hr_bpm, latest_hr);
                    let raw = f64::from(r.cadence_raw);
                    let spm = reading.cadence_spm.expect("a cadence");
                    assert!(spm == raw || spm == 2.0 * raw, "{spm} from {raw}");
                    assert!((0.0..=510.0).contains(&spm));
                    if let Some(unit) = unit_after {
                        assert_eq!(spm, unit.to_spm(raw), "the known unit is used");
                    }
                    for e in &events {
                        match e {
                            BridgeEvent::CadenceUnit { unit } => {
                                assert_eq!(announced, None, "the unit is announced once");
                                assert_eq!(Some(*unit), unit_after);
                                announced = Some(*unit);
                            }
                            other => panic!("an RSC packet gave {other:?}"),
                        }
                    }
                    if announced.is_some() {
                        assert_eq!(unit_after, announced, "the announced unit is the one used");
                    }
                }
                Err(e) => {
                    assert_eq!(reading, None);
                    bad(e);
                }
            },
            _ => {
                assert_eq!(reading, None);
                assert!(events.is_empty());
            }
        }
        let s = bridge.stats;
        assert_eq!(
            s.heart_rate + s.rsc + s.battery + s.bad + s.ignored,
            handled,
            "every notification is counted once: {s:?}"
        );
    }
}

fn check_replay(text: &str) {
    let Ok(first) = parse_replay(text) else {
        return;
    };
    for n in &first.notifications {
        assert!(n.t_s.is_finite() && n.t_s >= 0.0);
        assert!(!n.bytes.is_empty());
        assert!(
            [HEART_RATE_MEASUREMENT, RSC_MEASUREMENT, BATTERY_LEVEL].contains(&n.characteristic)
        );
    }
    assert!(
        first.notifications.windows(2).all(|w| w[0].t_s <= w[1].t_s),
        "times go forward"
    );
    let written = format_replay(first.device.as_deref(), &first.notifications);
    let second = parse_replay(&written)
        .unwrap_or_else(|e| panic!("a written replay does not read back: {e}\n{written}"));
    assert_eq!(second.device, first.device);
    assert_eq!(second.notifications.len(), first.notifications.len());
    for (a, b) in first.notifications.iter().zip(&second.notifications) {
        assert_eq!((a.characteristic, &a.bytes), (b.characteristic, &b.bytes));
        // Written to the millisecond.
        assert!(
            (a.t_s - b.t_s).abs() <= 0.0005 + a.t_s * f64::EPSILON * 4.0,
            "{} written as {}",
            a.t_s,
            b.t_s
        );
    }
    // Once written, a replay reads and writes back to the same text (for times where an f64
    // holds every millisecond: below a billion seconds).
    if second.notifications.iter().all(|n| n.t_s < 1e9) {
        let again = format_replay(second.device.as_deref(), &second.notifications);
        assert_eq!(again, written);
    }
    // The bridge takes any replay.
    let mut bridge = Bridge::new(None);
    for n in &second.notifications {
        let _ = bridge.handle(n);
    }
}
