//! A minimal FIT activity writer: file_id, the record stream (with power and running dynamics
//! when the samples have them), one session and the activity
//! message, with the header and file CRCs, in the FIT profile's scales. What watches write, minus
//! the device-specific messages.

use crate::model::{Run, Sample};

/// Seconds from the Unix epoch to the FIT epoch (1989-12-31T00:00:00Z).
pub(crate) const FIT_EPOCH_UNIX: i64 = 631_065_600;

// FIT base types.
const ENUM: u8 = 0x00;
const UINT8: u8 = 0x02;
const UINT16: u8 = 0x84;
const SINT32: u8 = 0x85;
const UINT32: u8 = 0x86;

/// A field of a message: number, base type, and its value already in FIT units (`None` writes
/// the type's invalid value, which readers treat as absent).
struct Field {
    num: u8,
    base: u8,
    value: Option<i64>,
}

fn f(num: u8, base: u8, value: Option<i64>) -> Field {
    Field { num, base, value }
}

fn size(base: u8) -> u8 {
    match base {
        ENUM | UINT8 => 1,
        UINT16 => 2,
        _ => 4,
    }
}

/// A message definition: global message number and (field number, base type) per field.
type Definition = (u16, Vec<(u8, u8)>);

struct Writer {
    data: Vec<u8>,
    /// The definition each local message type (0-15) currently has.
    defined: [Option<Definition>; 16],
}

impl Writer {
    fn message(&mut self, local: u8, global: u16, fields: &[Field]) {
        let layout: Vec<(u8, u8)> = fields.iter().map(|x| (x.num, x.base)).collect();
        let slot = &mut self.defined[local as usize];
        if slot.as_ref() != Some(&(global, layout.clone())) {
            self.data.push(0x40 | local);
            self.data.push(0); // reserved
            self.data.push(0); // little-endian
            self.data.extend_from_slice(&global.to_le_bytes());
            self.data.push(fields.len() as u8);
            for x in fields {
                self.data.extend_from_slice(&[x.num, size(x.base), x.base]);
            }
            *slot = Some((global, layout));
        }
        self.data.push(local);
        for x in fields {
            match (x.base, x.value) {
                (ENUM | UINT8, v) => self
                    .data
                    .push(v.filter(|v| (0..0xFF).contains(v)).unwrap_or(0xFF) as u8),
                (UINT16, v) => self.data.extend_from_slice(
                    &(v.filter(|v| (0..0xFFFF).contains(v)).unwrap_or(0xFFFF) as u16).to_le_bytes(),
                ),
                (SINT32, v) => self.data.extend_from_slice(
                    &(v.filter(|v| (-0x7FFF_FFFF..0x7FFF_FFFF).contains(v))
                        .unwrap_or(0x7FFF_FFFF) as i32)
                        .to_le_bytes(),
                ),
                (_, v) => self.data.extend_from_slice(
                    &(v.filter(|v| (0..0xFFFF_FFFF).contains(v))
                        .unwrap_or(0xFFFF_FFFF) as u32)
                        .to_le_bytes(),
                ),
            }
        }
    }
}

/// FIT's CRC-16 (CRC-16/ARC: reflected polynomial 0xA001, the one the FIT SDK computes with its
/// nibble table), a byte at a time from a 256-entry table built at compile time: every import
/// runs it over the whole file, so it is worth the table.
pub fn crc16(bytes: &[u8]) -> u16 {
    const TABLE: [u16; 256] = {
        let mut table = [0u16; 256];
        let mut i = 0;
        while i < 256 {
            let mut crc = i as u16;
            let mut bit = 0;
            while bit < 8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xA001
                } else {
                    crc >> 1
                };
                bit += 1;
            }
            table[i] = crc;
            i += 1;
        }
        table
    };
    let mut crc = 0u16;
    for &b in bytes {
        crc = (crc >> 8) ^ TABLE[usize::from((crc ^ u16::from(b)) as u8)];
    }
    crc
}

fn has_dynamics(s: &Sample) -> bool {
    [
        s.power_w,
        s.vertical_oscillation_m,
        s.stance_time_s,
        s.vertical_ratio_pct,
        s.stance_balance_left_pct,
    ]
    .iter()
    .any(Option::is_some)
}

fn scaled(v: Option<f64>, scale: f64, offset: f64) -> Option<i64> {
    v.filter(|v| v.is_finite())
        .map(|v| ((v + offset) * scale).round() as i64)
}

/// The summary fields a lap or a session carries.
struct Summary {
    start: i64,
    end: i64,
    elapsed_s: f64,
    timer_s: Option<f64>,
    distance_m: f64,
    ascent_m: Option<f64>,
    descent_m: Option<f64>,
    avg_hr: Option<f64>,
    max_hr: Option<f64>,
    cadence_spm: Option<f64>,
    /// Power, stance time, its balance, vertical oscillation, vertical ratio, step length:
    /// written only when one of them is known.
    dynamics: [Option<f64>; 6],
}

impl Summary {
    fn of_run(run: &Run, start: i64) -> Summary {
        Summary {
            start,
            end: start + run.duration_s.round() as i64,
            elapsed_s: run.duration_s,
            timer_s: run.moving_time_s,
            distance_m: run.distance_m,
            ascent_m: run.elevation_gain_m,
            descent_m: run.elevation_loss_m,
            avg_hr: run.avg_hr_bpm,
            max_hr: run.max_hr_bpm,
            cadence_spm: run.avg_cadence_spm,
            dynamics: [
                run.avg_power_w,
                run.avg_stance_time_s,
                run.avg_stance_balance_left_pct,
                run.avg_vertical_oscillation_m,
                run.avg_vertical_ratio_pct,
                run.avg_step_length_m,
            ],
        }
    }

    /// Lap message (19) fields.
    fn lap(&self, sport: u8) -> Vec<Field> {
        let strides = self.cadence_spm.map(|spm| spm / 2.0);
        vec![
            f(253, UINT32, Some(self.end)),
            f(2, UINT32, Some(self.start)),
            f(7, UINT32, scaled(Some(self.elapsed_s), 1000.0, 0.0)),
            f(8, UINT32, scaled(self.timer_s, 1000.0, 0.0)),
            f(9, UINT32, scaled(Some(self.distance_m), 100.0, 0.0)),
            f(15, UINT8, scaled(self.avg_hr, 1.0, 0.0)),
            f(16, UINT8, scaled(self.max_hr, 1.0, 0.0)),
            f(17, UINT8, strides.map(|c| c.floor() as i64)),
            f(
                80,
                UINT8,
                strides.map(|c| ((c - c.floor()) * 128.0).floor() as i64),
            ),
            f(21, UINT16, scaled(self.ascent_m, 1.0, 0.0)),
            f(22, UINT16, scaled(self.descent_m, 1.0, 0.0)),
            f(25, ENUM, Some(i64::from(sport))),
        ]
    }

    /// Session message (18) fields.
    fn session(&self, sport: u8) -> Vec<Field> {
        let strides = self.cadence_spm.map(|spm| spm / 2.0);
        let mut fields = vec![
            f(253, UINT32, Some(self.end)),
            f(2, UINT32, Some(self.start)),
            f(5, ENUM, Some(i64::from(sport))),
            f(6, ENUM, Some(0)),
            f(7, UINT32, scaled(Some(self.elapsed_s), 1000.0, 0.0)),
            f(8, UINT32, scaled(self.timer_s, 1000.0, 0.0)),
            f(9, UINT32, scaled(Some(self.distance_m), 100.0, 0.0)),
            f(22, UINT16, scaled(self.ascent_m, 1.0, 0.0)),
            f(23, UINT16, scaled(self.descent_m, 1.0, 0.0)),
            f(16, UINT8, scaled(self.avg_hr, 1.0, 0.0)),
            f(17, UINT8, scaled(self.max_hr, 1.0, 0.0)),
            f(18, UINT8, strides.map(|c| c.floor() as i64)),
            f(
                92,
                UINT8,
                strides.map(|c| ((c - c.floor()) * 128.0).floor() as i64),
            ),
        ];
        if self.dynamics.iter().any(Option::is_some) {
            let [power, stance, balance, oscillation, ratio, step] = self.dynamics;
            fields.extend([
                f(20, UINT16, scaled(power, 1.0, 0.0)),
                f(91, UINT16, scaled(stance, 10_000.0, 0.0)),
                f(133, UINT16, scaled(balance, 100.0, 0.0)),
                f(89, UINT16, scaled(oscillation, 10_000.0, 0.0)),
                f(132, UINT16, scaled(ratio, 100.0, 0.0)),
                f(134, UINT16, scaled(step, 10_000.0, 0.0)),
            ]);
        }
        fields
    }
}

/// Writes `run` and its samples as a FIT activity file: file_id, records, one lap, the session
/// and the activity. `sport` is FIT's sport enum (1 running, 2 cycling, 11 walking): other
/// values let tests build files of other sports.
pub fn write(run: &Run, samples: &[Sample], sport: u8) -> Vec<u8> {
    write_with(run, samples, sport, None)
}

/// Like [`write()`], but with the samples split into `laps` laps and no session message, as some
/// devices write when an activity is cut off: readers must build the summary from the laps.
pub fn write_laps_only(run: &Run, samples: &[Sample], sport: u8, laps: usize) -> Vec<u8> {
    write_with(run, samples, sport, Some(laps.max(1)))
}

fn write_with(run: &Run, samples: &[Sample], sport: u8, laps_only: Option<usize>) -> Vec<u8> {
    let start = run.start.timestamp() - FIT_EPOCH_UNIX;
    let offset = i64::from(run.start.offset().local_minus_utc());
    let end = start + run.duration_s.round() as i64;
    let mut w = Writer {
        data: Vec::with_capacity(64 + samples.len() * 32),
        defined: Default::default(),
    };
    // file_id: type activity, manufacturer "development", time created.
    w.message(
        0,
        0,
        &[
            f(0, ENUM, Some(4)),
            f(1, UINT16, Some(255)),
            f(4, UINT32, Some(start)),
        ],
    );
    // Running dynamics and power go in only when the run has them, so the files of runs
    // without them stay what they always were.
    let dynamics = samples.iter().any(has_dynamics);
    for s in samples {
        let semicircles = |deg: Option<f64>| scaled(deg, 2_147_483_648.0 / 180.0, 0.0);
        // Cadence as FIT stores it for running: strides of one foot, whole plus 1/128ths.
        let strides = s.cadence_spm.map(|spm| spm / 2.0);
        let mut fields = vec![
            f(253, UINT32, Some(start + s.t_s.round() as i64)),
            f(0, SINT32, semicircles(s.lat_deg)),
            f(1, SINT32, semicircles(s.lon_deg)),
            f(78, UINT32, scaled(s.altitude_m, 5.0, 500.0)),
            f(5, UINT32, scaled(s.distance_m, 100.0, 0.0)),
            f(73, UINT32, scaled(s.speed_mps, 1000.0, 0.0)),
            f(3, UINT8, s.hr_bpm.map(i64::from)),
            f(4, UINT8, strides.map(|c| c.floor() as i64)),
            f(
                53,
                UINT8,
                strides.map(|c| ((c - c.floor()) * 128.0).floor() as i64),
            ),
            f(85, UINT16, scaled(s.stride_m, 10_000.0, 0.0)),
        ];
        if dynamics {
            fields.extend([
                f(7, UINT16, scaled(s.power_w, 1.0, 0.0)),
                f(39, UINT16, scaled(s.vertical_oscillation_m, 10_000.0, 0.0)),
                f(41, UINT16, scaled(s.stance_time_s, 10_000.0, 0.0)),
                f(83, UINT16, scaled(s.vertical_ratio_pct, 100.0, 0.0)),
                f(84, UINT16, scaled(s.stance_balance_left_pct, 100.0, 0.0)),
            ]);
        }
        w.message(1, 20, &fields);
    }
    match laps_only {
        None => {
            let summary = Summary::of_run(run, start);
            w.message(2, 19, &summary.lap(sport));
            w.message(3, 18, &summary.session(sport));
        }
        Some(n) => {
            for chunk in samples.chunks(samples.len().div_ceil(n).max(1)) {
                let (first, last) = (chunk[0], chunk[chunk.len() - 1]);
                let hrs: Vec<f64> = chunk
                    .iter()
                    .filter_map(|s| s.hr_bpm.map(f64::from))
                    .collect();
                let cads: Vec<f64> = chunk.iter().filter_map(|s| s.cadence_spm).collect();
                let mean =
                    |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
                let elapsed = last.t_s - first.t_s + 1.0;
                let lap = Summary {
                    start: start + first.t_s.round() as i64,
                    end: start + last.t_s.round() as i64,
                    elapsed_s: elapsed,
                    timer_s: Some(elapsed),
                    distance_m: last.distance_m.unwrap_or(0.0) - first.distance_m.unwrap_or(0.0),
                    ascent_m: None,
                    descent_m: None,
                    avg_hr: mean(&hrs).map(f64::round),
                    max_hr: hrs.iter().copied().reduce(f64::max),
                    cadence_spm: mean(&cads),
                    dynamics: [None; 6],
                };
                w.message(2, 19, &lap.lap(sport));
            }
        }
    }
    // activity: one session, with the watch's local time so readers can recover the offset.
    w.message(
        4,
        34,
        &[
            f(253, UINT32, Some(end)),
            f(0, UINT32, scaled(Some(run.duration_s), 1000.0, 0.0)),
            f(1, UINT16, Some(1)),
            f(2, ENUM, Some(0)),
            f(3, ENUM, Some(26)),
            f(4, ENUM, Some(1)),
            f(5, UINT32, Some(end + offset)),
        ],
    );

    let mut out = Vec::with_capacity(w.data.len() + 16);
    out.push(14); // header size
    out.push(0x20); // protocol 2.0
    out.extend_from_slice(&2132u16.to_le_bytes()); // profile version 21.32
    out.extend_from_slice(&(w.data.len() as u32).to_le_bytes());
    out.extend_from_slice(b".FIT");
    let header_crc = crc16(&out);
    out.extend_from_slice(&header_crc.to_le_bytes());
    out.extend_from_slice(&w.data);
    let file_crc = crc16(&out);
    out.extend_from_slice(&file_crc.to_le_bytes());
    out
}

#[cfg(test)]
mod crc_tests {
    /// The FIT SDK's nibble-table CRC, kept to check the byte table against.
    fn sdk_crc16(bytes: &[u8]) -> u16 {
        const TABLE: [u16; 16] = [
            0x0000, 0xCC01, 0xD801, 0x1400, 0xF001, 0x3C00, 0x2800, 0xE401, 0xA001, 0x6C00, 0x7800,
            0xB401, 0x5000, 0x9C01, 0x8801, 0x4400,
        ];
        let mut crc = 0u16;
        for &b in bytes {
            let tmp = TABLE[(crc & 0xF) as usize];
            crc = ((crc >> 4) & 0x0FFF) ^ tmp ^ TABLE[(b & 0xF) as usize];
            let tmp = TABLE[(crc & 0xF) as usize];
            crc = ((crc >> 4) & 0x0FFF) ^ tmp ^ TABLE[((b >> 4) & 0xF) as usize];
        }
        crc
    }

    #[test]
    fn the_byte_table_crc_is_the_sdks() {
        let data: Vec<u8> = (0..5000u32).map(|i| (i * 7919 % 251) as u8).collect();
        for n in [0, 1, 2, 13, 14, 999, 5000] {
            assert_eq!(super::crc16(&data[..n]), sdk_crc16(&data[..n]), "{n} bytes");
        }
        // The check value of CRC-16/ARC.
        assert_eq!(super::crc16(b"123456789"), 0xBB3D);
    }
}
