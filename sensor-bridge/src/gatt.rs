//! GATT characteristic parsers: bytes in, typed measurement out, no BLE stack involved
//! (Bluetooth SIG formats, little-endian; see `../shared/ble.md`). A packet too short for what
//! its flags announce is an error, never a panic and never a wrong value.

use serde::Serialize;

/// Heart Rate Measurement (0x2A37).
pub const HEART_RATE_MEASUREMENT: u16 = 0x2A37;
/// RSC Measurement (0x2A53).
pub const RSC_MEASUREMENT: u16 = 0x2A53;
/// Battery Level (0x2A19).
pub const BATTERY_LEVEL: u16 = 0x2A19;
/// Device Information strings: manufacturer name (0x2A29) and model number (0x2A24).
pub const MANUFACTURER_NAME: u16 = 0x2A29;
pub const MODEL_NUMBER: u16 = 0x2A24;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GattError {
    #[error("{characteristic} packet of {len} bytes is too short: it needs at least {needed}")]
    TooShort {
        characteristic: &'static str,
        len: usize,
        needed: usize,
    },
    #[error("battery level {0}% is above 100%")]
    BatteryOutOfRange(u8),
    #[error("device information is not UTF-8 text")]
    NotText,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HeartRate {
    pub bpm: u16,
    /// Skin contact, when the strap can tell.
    pub contact: Option<bool>,
    pub energy_kj: Option<u16>,
    /// Beat-to-beat intervals in seconds.
    pub rr_s: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rsc {
    pub speed_mps: f64,
    /// Cadence as the device sends it, per minute: strides of one foot or steps of both feet,
    /// depending on the device (see `units`).
    pub cadence_raw: u8,
    pub stride_m: Option<f64>,
    pub total_distance_m: Option<f64>,
    /// Running (true) or walking (false), as the footpod judges it.
    pub running: bool,
}

fn need(characteristic: &'static str, b: &[u8], needed: usize) -> Result<(), GattError> {
    if b.len() < needed {
        Err(GattError::TooShort {
            characteristic,
            len: b.len(),
            needed,
        })
    } else {
        Ok(())
    }
}

fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_le_bytes([b[i], b[i + 1]])
}

/// Parses a Heart Rate Measurement.
pub fn parse_heart_rate(b: &[u8]) -> Result<HeartRate, GattError> {
    const NAME: &str = "heart rate (0x2A37)";
    need(NAME, b, 1)?;
    let flags = b[0];
    let wide = flags & 0x01 != 0;
    let contact_supported = flags & 0x04 != 0;
    let energy = flags & 0x08 != 0;
    let rr = flags & 0x10 != 0;
    let mut i = 1;
    let bpm = if wide {
        need(NAME, b, i + 2)?;
        i += 2;
        u16_at(b, i - 2)
    } else {
        need(NAME, b, i + 1)?;
        i += 1;
        u16::from(b[i - 1])
    };
    let energy_kj = if energy {
        need(NAME, b, i + 2)?;
        i += 2;
        Some(u16_at(b, i - 2))
    } else {
        None
    };
    let mut rr_s = Vec::new();
    if rr {
        // RR intervals fill the rest of the packet in pairs; an odd byte is a cut packet.
        if !(b.len() - i).is_multiple_of(2) {
            return Err(GattError::TooShort {
                characteristic: NAME,
                len: b.len(),
                needed: b.len() + 1,
            });
        }
        while i + 2 <= b.len() {
            rr_s.push(f64::from(u16_at(b, i)) / 1024.0);
            i += 2;
        }
    }
    Ok(HeartRate {
        bpm,
        contact: contact_supported.then_some(flags & 0x02 != 0),
        energy_kj,
        rr_s,
    })
}

/// Parses an RSC Measurement.
pub fn parse_rsc(b: &[u8]) -> Result<Rsc, GattError> {
    const NAME: &str = "running speed and cadence (0x2A53)";
    need(NAME, b, 4)?;
    let flags = b[0];
    let has_stride = flags & 0x01 != 0;
    let has_distance = flags & 0x02 != 0;
    let needed = 4 + if has_stride { 2 } else { 0 } + if has_distance { 4 } else { 0 };
    need(NAME, b, needed)?;
    let mut i = 4;
    let stride_m = has_stride.then(|| {
        i += 2;
        f64::from(u16_at(b, i - 2)) / 100.0
    });
    let total_distance_m = has_distance.then(|| {
        i += 4;
        f64::from(u32::from_le_bytes([b[i - 4], b[i - 3], b[i - 2], b[i - 1]])) / 10.0
    });
    Ok(Rsc {
        speed_mps: f64::from(u16_at(b, 1)) / 256.0,
        cadence_raw: b[3],
        stride_m,
        total_distance_m,
        running: flags & 0x04 != 0,
    })
}

/// Parses a Battery Level (percent).
pub fn parse_battery(b: &[u8]) -> Result<u8, GattError> {
    need("battery level (0x2A19)", b, 1)?;
    if b[0] > 100 {
        return Err(GattError::BatteryOutOfRange(b[0]));
    }
    Ok(b[0])
}

/// Parses a Device Information string (manufacturer, model), trimming the padding at its end
/// (NULs and spaces, in any mix) and spaces before it.
pub fn parse_text(b: &[u8]) -> Result<String, GattError> {
    let s = std::str::from_utf8(b).map_err(|_| GattError::NotText)?;
    Ok(s.trim_end_matches(|c: char| c == '\0' || c.is_whitespace())
        .trim_start()
        .to_string())
}

/// Encodes an RSC Measurement, as a footpod sends it (for simulations and test stand-ins).
pub fn encode_rsc(r: &Rsc) -> Vec<u8> {
    let flags = u8::from(r.stride_m.is_some())
        | (u8::from(r.total_distance_m.is_some()) << 1)
        | (u8::from(r.running) << 2);
    let mut b = vec![flags];
    b.extend_from_slice(&((r.speed_mps * 256.0).round().clamp(0.0, 65535.0) as u16).to_le_bytes());
    b.push(r.cadence_raw);
    if let Some(s) = r.stride_m {
        b.extend_from_slice(&((s * 100.0).round().clamp(0.0, 65535.0) as u16).to_le_bytes());
    }
    if let Some(d) = r.total_distance_m {
        b.extend_from_slice(&((d * 10.0).round().clamp(0.0, u32::MAX as f64) as u32).to_le_bytes());
    }
    b
}

/// Encodes a Heart Rate Measurement with an 8-bit value and contact detected.
pub fn encode_heart_rate(bpm: u8) -> Vec<u8> {
    vec![0x06, bpm]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn encoders_round_trip() {
        let r = Rsc {
            speed_mps: 3.125,
            cadence_raw: 86,
            stride_m: Some(1.2),
            total_distance_m: Some(1234.5),
            running: true,
        };
        assert_eq!(parse_rsc(&encode_rsc(&r)).unwrap(), r);
        let h = parse_heart_rate(&encode_heart_rate(152)).unwrap();
        assert_eq!((h.bpm, h.contact), (152, Some(true)));
    }

    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace()
            .map(|h| u8::from_str_radix(h, 16).unwrap())
            .collect()
    }

    #[test]
    fn the_examples_in_ble_md() {
        let r = parse_rsc(&hex("02 00 05 50 FF FF 00 01")).unwrap();
        assert_eq!(r.speed_mps, 5.0);
        assert_eq!(r.cadence_raw, 80);
        assert_eq!(r.total_distance_m, Some(1_684_275.1));
        assert_eq!(r.stride_m, None);
        assert!(!r.running);
        let r = parse_rsc(&hex("00 00 01 50")).unwrap();
        assert_eq!(
            (r.speed_mps, r.cadence_raw, r.stride_m, r.total_distance_m),
            (1.0, 80, None, None)
        );
        let r = parse_rsc(&hex("07 19 03 56 78 00 0a 00 00 00")).unwrap();
        assert!(r.running);
        assert_eq!(r.speed_mps, 793.0 / 256.0);
        assert_eq!(r.cadence_raw, 86);
        assert_eq!(r.stride_m, Some(1.20));
        assert_eq!(r.total_distance_m, Some(1.0));
        let h = parse_heart_rate(&hex("19 96 00 0a 00 9a 01")).unwrap();
        assert_eq!(h.bpm, 150);
        assert_eq!(h.energy_kj, Some(10));
        assert_eq!(h.rr_s, [410.0 / 1024.0]);
        let h = parse_heart_rate(&hex("10 8d af 01")).unwrap();
        assert_eq!(
            (h.bpm, h.energy_kj, h.rr_s.clone()),
            (141, None, vec![431.0 / 1024.0])
        );
    }

    #[test]
    fn every_heart_rate_flag_combination() {
        for flags in 0u8..32 {
            let mut b = vec![flags];
            if flags & 0x01 != 0 {
                b.extend_from_slice(&300u16.to_le_bytes());
            } else {
                b.push(150);
            }
            if flags & 0x08 != 0 {
                b.extend_from_slice(&42u16.to_le_bytes());
            }
            if flags & 0x10 != 0 {
                b.extend_from_slice(&512u16.to_le_bytes());
                b.extend_from_slice(&1024u16.to_le_bytes());
            }
            let h = parse_heart_rate(&b).unwrap();
            assert_eq!(h.bpm, if flags & 1 != 0 { 300 } else { 150 }, "{flags:#x}");
            assert_eq!(h.energy_kj, (flags & 0x08 != 0).then_some(42));
            assert_eq!(
                h.rr_s,
                if flags & 0x10 != 0 {
                    vec![0.5, 1.0]
                } else {
                    vec![]
                }
            );
            assert_eq!(h.contact, (flags & 0x04 != 0).then_some(flags & 0x02 != 0));
            // Every cut of the packet is an error, never a wrong value.
            for cut in 0..b.len() {
                let truncated = &b[..cut];
                if flags & 0x10 != 0 && cut >= b.len() - 4 && (b.len() - cut) % 2 == 0 {
                    // Whole RR pairs cut off: a shorter list, still a valid packet.
                    continue;
                }
                assert!(
                    parse_heart_rate(truncated).is_err(),
                    "{flags:#x} cut at {cut}"
                );
            }
        }
    }

    #[test]
    fn every_rsc_flag_combination() {
        for flags in 0u8..8 {
            let mut b = vec![flags, 0x00, 0x03, 88];
            if flags & 0x01 != 0 {
                b.extend_from_slice(&115u16.to_le_bytes());
            }
            if flags & 0x02 != 0 {
                b.extend_from_slice(&12345u32.to_le_bytes());
            }
            let r = parse_rsc(&b).unwrap();
            assert_eq!(
                (r.speed_mps, r.cadence_raw, r.running),
                (3.0, 88, flags & 4 != 0)
            );
            assert_eq!(r.stride_m, (flags & 1 != 0).then_some(1.15));
            assert_eq!(r.total_distance_m, (flags & 2 != 0).then_some(1234.5));
            for cut in 0..b.len() {
                let e = parse_rsc(&b[..cut]).unwrap_err();
                assert!(
                    matches!(e, GattError::TooShort { .. }),
                    "{flags:#x} cut at {cut}"
                );
            }
        }
    }

    #[test]
    fn battery_and_device_information() {
        assert_eq!(parse_battery(&[87]).unwrap(), 87);
        assert!(parse_battery(&[]).is_err());
        assert_eq!(
            parse_battery(&[101]).unwrap_err(),
            GattError::BatteryOutOfRange(101)
        );
        assert_eq!(parse_text(b"Stryd\0\0").unwrap(), "Stryd");
        assert_eq!(parse_text(b" Polar H10 \0 \0\n").unwrap(), "Polar H10");
        assert_eq!(parse_text(&[0xff, 0xfe]).unwrap_err(), GattError::NotText);
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..32)) {
            let _ = parse_heart_rate(&b);
            let _ = parse_rsc(&b);
            let _ = parse_battery(&b);
            let _ = parse_text(&b);
        }
    }
}
