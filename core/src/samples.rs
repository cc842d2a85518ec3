//! The compact binary form of a sample stream.
//!
//! A 10-hour run at 1 Hz is 36,000 samples of nine channels; one SQLite row per sample would make
//! a decade of history tens of millions of rows. Instead a stream is cut into chunks of up to
//! [`CHUNK_LEN`] samples, and each chunk is stored column by column: every channel quantised to a
//! fixed resolution, delta-encoded and written as zigzag varints. Consecutive samples differ
//! little, so most values take one or two bytes. Chunks are also the unit that sync encrypts and
//! pads, which is why they stay well under 64 KiB.
//!
//! Layout of a chunk: the format byte, the sample count as a varint, then for each channel of the
//! format in [`Channel::ALL`] order a presence byte (0 none, 1 all, 2 bitmap of `ceil(n/8)`
//! bytes follows) and the deltas of the present values. Format 1 holds the first nine channels
//! (time to stride); format 2 adds the running dynamics and power. A chunk without dynamics is
//! still written as format 1, so its bytes (and its sync record) are what they always were and
//! an older version of Strideguard on another device can still read it.

use crate::model::Sample;

/// Samples per stored chunk: one hour at 1 Hz.
pub const CHUNK_LEN: usize = 3600;

const FORMAT_V1: u8 = 1;
const FORMAT_V2: u8 = 2;

/// Channels in a format 1 chunk.
const V1_CHANNELS: usize = 9;

/// The channels of a sample, in their encoded order, with their stored resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Time,
    Latitude,
    Longitude,
    Altitude,
    Distance,
    Speed,
    HeartRate,
    Cadence,
    Stride,
    StanceTime,
    StanceBalance,
    VerticalOscillation,
    VerticalRatio,
    Power,
}

impl Channel {
    pub const ALL: [Channel; 14] = [
        Channel::Time,
        Channel::Latitude,
        Channel::Longitude,
        Channel::Altitude,
        Channel::Distance,
        Channel::Speed,
        Channel::HeartRate,
        Channel::Cadence,
        Channel::Stride,
        Channel::StanceTime,
        Channel::StanceBalance,
        Channel::VerticalOscillation,
        Channel::VerticalRatio,
        Channel::Power,
    ];

    /// Stored units per SI unit: milliseconds, 1e-7 degrees (about 1 cm), centimetres, mm/s,
    /// whole beats, 1/100 step per minute, millimetres; stance time in 1/10 ms, balance and
    /// vertical ratio in 1/100 %, oscillation in 1/10 mm, power in 1/10 W.
    pub fn scale(self) -> f64 {
        match self {
            Channel::Time => 1e3,
            Channel::Latitude | Channel::Longitude => 1e7,
            Channel::Altitude | Channel::Distance => 1e2,
            Channel::Speed => 1e3,
            Channel::HeartRate => 1.0,
            Channel::Cadence => 1e2,
            Channel::Stride => 1e3,
            Channel::StanceTime => 1e4,
            Channel::StanceBalance | Channel::VerticalRatio => 1e2,
            Channel::VerticalOscillation => 1e4,
            Channel::Power => 1e1,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Channel::Time => "time",
            Channel::Latitude => "latitude",
            Channel::Longitude => "longitude",
            Channel::Altitude => "altitude",
            Channel::Distance => "distance",
            Channel::Speed => "speed",
            Channel::HeartRate => "heart rate",
            Channel::Cadence => "cadence",
            Channel::Stride => "stride length",
            Channel::StanceTime => "stance time",
            Channel::StanceBalance => "stance time balance",
            Channel::VerticalOscillation => "vertical oscillation",
            Channel::VerticalRatio => "vertical ratio",
            Channel::Power => "power",
        }
    }

    fn get(self, s: &Sample) -> Option<f64> {
        match self {
            Channel::Time => Some(s.t_s),
            Channel::Latitude => s.lat_deg,
            Channel::Longitude => s.lon_deg,
            Channel::Altitude => s.altitude_m,
            Channel::Distance => s.distance_m,
            Channel::Speed => s.speed_mps,
            Channel::HeartRate => s.hr_bpm.map(f64::from),
            Channel::Cadence => s.cadence_spm,
            Channel::Stride => s.stride_m,
            Channel::StanceTime => s.stance_time_s,
            Channel::StanceBalance => s.stance_balance_left_pct,
            Channel::VerticalOscillation => s.vertical_oscillation_m,
            Channel::VerticalRatio => s.vertical_ratio_pct,
            Channel::Power => s.power_w,
        }
    }

    fn set(self, s: &mut Sample, q: i64) -> Result<(), CodecError> {
        let v = q as f64 / self.scale();
        match self {
            Channel::Time => s.t_s = v,
            Channel::Latitude => s.lat_deg = Some(v),
            Channel::Longitude => s.lon_deg = Some(v),
            Channel::Altitude => s.altitude_m = Some(v),
            Channel::Distance => s.distance_m = Some(v),
            Channel::Speed => s.speed_mps = Some(v),
            Channel::HeartRate => {
                s.hr_bpm = Some(u8::try_from(q).map_err(|_| CodecError::Corrupt {
                    offset: None,
                    reason: format!("heart rate {q} is outside 0-255"),
                })?)
            }
            Channel::Cadence => s.cadence_spm = Some(v),
            Channel::Stride => s.stride_m = Some(v),
            Channel::StanceTime => s.stance_time_s = Some(v),
            Channel::StanceBalance => s.stance_balance_left_pct = Some(v),
            Channel::VerticalOscillation => s.vertical_oscillation_m = Some(v),
            Channel::VerticalRatio => s.vertical_ratio_pct = Some(v),
            Channel::Power => s.power_w = Some(v),
        }
        Ok(())
    }
}

/// Largest magnitude a quantised value may have: keeps every value exact in an f64 and every
/// delta inside an i64.
const MAX_QUANTISED: f64 = (1u64 << 53) as f64;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CodecError {
    #[error(
        "sample {index}: {channel} is {value}, which cannot be stored (not finite or too large)"
    )]
    Unstorable {
        index: usize,
        channel: &'static str,
        value: f64,
    },
    #[error("sample chunk format {0} is not known to this version of Strideguard")]
    UnknownFormat(u8),
    #[error("corrupt sample chunk{}: {reason}", offset.map(|o| format!(" at byte {o}")).unwrap_or_default())]
    Corrupt {
        offset: Option<usize>,
        reason: String,
    },
}

/// Encodes one chunk of samples. Values are rounded to each channel's resolution.
pub fn encode_chunk(samples: &[Sample]) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::with_capacity(16 + samples.len() * 12);
    let dynamics = samples.iter().any(|s| {
        Channel::ALL[V1_CHANNELS..]
            .iter()
            .any(|c| c.get(s).is_some())
    });
    let channels = if dynamics {
        out.push(FORMAT_V2);
        &Channel::ALL[..]
    } else {
        out.push(FORMAT_V1);
        &Channel::ALL[..V1_CHANNELS]
    };
    put_varint(&mut out, samples.len() as u64);
    for &channel in channels {
        let mut quantised = Vec::with_capacity(samples.len());
        let mut present = Vec::with_capacity(samples.len());
        for (index, s) in samples.iter().enumerate() {
            match channel.get(s) {
                Some(v) => {
                    let q = (v * channel.scale()).round();
                    if !q.is_finite() || q.abs() > MAX_QUANTISED {
                        return Err(CodecError::Unstorable {
                            index,
                            channel: channel.name(),
                            value: v,
                        });
                    }
                    quantised.push(q as i64);
                    present.push(true);
                }
                None => present.push(false),
            }
        }
        if quantised.is_empty() {
            out.push(0);
            continue;
        }
        if quantised.len() == samples.len() {
            out.push(1);
        } else {
            out.push(2);
            let mut bitmap = vec![0u8; samples.len().div_ceil(8)];
            for (i, p) in present.iter().enumerate() {
                if *p {
                    bitmap[i / 8] |= 1 << (i % 8);
                }
            }
            out.extend_from_slice(&bitmap);
        }
        let mut prev = 0i64;
        for q in quantised {
            put_varint(&mut out, zigzag(q - prev));
            prev = q;
        }
    }
    Ok(out)
}

/// Decodes one chunk. Never panics on bad bytes: every problem is a [`CodecError`] naming the
/// byte offset.
pub fn decode_chunk(bytes: &[u8]) -> Result<Vec<Sample>, CodecError> {
    let mut r = Reader { bytes, pos: 0 };
    let channels = match r.byte()? {
        FORMAT_V1 => &Channel::ALL[..V1_CHANNELS],
        FORMAT_V2 => &Channel::ALL[..],
        other => return Err(CodecError::UnknownFormat(other)),
    };
    let n = r.varint()?;
    // Each sample needs at least one byte of time delta, so a count larger than the remaining
    // bytes is corrupt; checking first keeps a forged count from allocating gigabytes.
    if n > (bytes.len() - r.pos) as u64 {
        return Err(r.corrupt(format!("claims {n} samples in {} bytes", bytes.len())));
    }
    let n = n as usize;
    let mut samples = vec![Sample::default(); n];
    for &channel in channels {
        let mode_at = r.pos;
        let mode = r.byte()?;
        let present: Vec<bool> = match mode {
            0 => vec![false; n],
            1 => vec![true; n],
            2 => {
                let bitmap = r.take(n.div_ceil(8))?;
                (0..n)
                    .map(|i| bitmap[i / 8] & (1 << (i % 8)) != 0)
                    .collect()
            }
            other => {
                return Err(CodecError::Corrupt {
                    offset: Some(mode_at),
                    reason: format!("unknown presence mode {other} for {}", channel.name()),
                });
            }
        };
        if channel == Channel::Time && mode != 1 && n > 0 {
            return Err(CodecError::Corrupt {
                offset: Some(mode_at),
                reason: "every sample needs a time".into(),
            });
        }
        let mut prev = 0i64;
        for (i, p) in present.iter().enumerate() {
            if !*p {
                continue;
            }
            let at = r.pos;
            let delta = unzigzag(r.varint()?);
            let q = prev
                .checked_add(delta)
                .filter(|q| (*q as f64).abs() <= MAX_QUANTISED)
                .ok_or_else(|| CodecError::Corrupt {
                    offset: Some(at),
                    reason: format!("{} value out of range", channel.name()),
                })?;
            prev = q;
            channel.set(&mut samples[i], q).map_err(|e| match e {
                CodecError::Corrupt { reason, .. } => CodecError::Corrupt {
                    offset: Some(at),
                    reason,
                },
                other => other,
            })?;
        }
    }
    if r.pos != bytes.len() {
        return Err(r.corrupt(format!(
            "{} unexpected bytes at the end",
            bytes.len() - r.pos
        )));
    }
    Ok(samples)
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn corrupt(&self, reason: String) -> CodecError {
        CodecError::Corrupt {
            offset: Some(self.pos),
            reason,
        }
    }

    fn byte(&mut self) -> Result<u8, CodecError> {
        let b = *self
            .bytes
            .get(self.pos)
            .ok_or_else(|| self.corrupt("ends early".into()))?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, len: usize) -> Result<&[u8], CodecError> {
        let end = self
            .pos
            .checked_add(len)
            .filter(|e| *e <= self.bytes.len())
            .ok_or_else(|| self.corrupt("ends early".into()))?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn varint(&mut self) -> Result<u64, CodecError> {
        let start = self.pos;
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(CodecError::Corrupt {
            offset: Some(start),
            reason: "varint longer than 10 bytes".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn full(t: f64) -> Sample {
        Sample {
            t_s: t,
            lat_deg: Some(52.520_008_1),
            lon_deg: Some(13.404_954_3),
            altitude_m: Some(34.56),
            distance_m: Some(t * 310.0 / 100.0), // on the 1 cm grid
            speed_mps: Some(3.125),
            hr_bpm: Some(151),
            cadence_spm: Some(171.25),
            stride_m: Some(1.095),
            stance_time_s: Some(0.2451),
            stance_balance_left_pct: Some(49.75),
            vertical_oscillation_m: Some(0.0853),
            vertical_ratio_pct: Some(7.82),
            power_w: Some(287.5),
        }
    }

    #[test]
    fn round_trips_values_on_the_grid_exactly() {
        let samples: Vec<Sample> = (0..100).map(|i| full(i as f64)).collect();
        let bytes = encode_chunk(&samples).unwrap();
        assert_eq!(decode_chunk(&bytes).unwrap(), samples);
    }

    #[test]
    fn a_stream_without_dynamics_keeps_the_first_format() {
        let mut samples: Vec<Sample> = (0..10).map(|i| full(i as f64)).collect();
        let with = encode_chunk(&samples).unwrap();
        assert_eq!(with[0], FORMAT_V2);
        for s in &mut samples {
            s.stance_time_s = None;
            s.stance_balance_left_pct = None;
            s.vertical_oscillation_m = None;
            s.vertical_ratio_pct = None;
            s.power_w = None;
        }
        let without = encode_chunk(&samples).unwrap();
        assert_eq!(without[0], FORMAT_V1);
        assert!(without.len() < with.len());
        assert_eq!(decode_chunk(&without).unwrap(), samples);
    }

    #[test]
    fn keeps_gaps_as_gaps() {
        let mut samples: Vec<Sample> = (0..20).map(|i| full(i as f64)).collect();
        samples[3].hr_bpm = None;
        samples[7].lat_deg = None;
        samples[7].lon_deg = None;
        for s in &mut samples {
            s.stride_m = None;
        }
        let back = decode_chunk(&encode_chunk(&samples).unwrap()).unwrap();
        assert_eq!(back, samples);
    }

    #[test]
    fn an_hour_at_one_hertz_is_compact() {
        let samples: Vec<Sample> = (0..CHUNK_LEN)
            .map(|i| {
                let t = i as f64;
                Sample {
                    t_s: t,
                    lat_deg: Some(52.52 + t * 1e-5),
                    lon_deg: Some(13.40 + t * 2e-5),
                    altitude_m: Some(34.0 + (t / 60.0).sin() * 5.0),
                    distance_m: Some(t * 3.0),
                    speed_mps: Some(3.0 + (t / 30.0).sin() * 0.2),
                    hr_bpm: Some(140 + (i % 7) as u8),
                    cadence_spm: Some(170.0 + (i % 5) as f64),
                    stride_m: Some(1.05),
                    ..Sample::default()
                }
            })
            .collect();
        let bytes = encode_chunk(&samples).unwrap();
        // Nine channels of 8-byte floats would be 72 bytes a sample.
        assert!(
            bytes.len() < CHUNK_LEN * 16,
            "{} bytes for {CHUNK_LEN} samples",
            bytes.len()
        );
        assert_eq!(decode_chunk(&bytes).unwrap().len(), CHUNK_LEN);
    }

    #[test]
    fn refuses_values_it_cannot_store() {
        let mut s = full(0.0);
        s.speed_mps = Some(f64::NAN);
        assert!(matches!(
            encode_chunk(&[full(0.0), s]),
            Err(CodecError::Unstorable {
                index: 1,
                channel: "speed",
                ..
            })
        ));
        assert!(matches!(
            encode_chunk(&[Sample {
                t_s: 1e300,
                ..Sample::default()
            }]),
            Err(CodecError::Unstorable {
                index: 0,
                channel: "time",
                ..
            })
        ));
    }

    #[test]
    fn corrupt_chunks_are_errors_with_offsets() {
        let bytes = encode_chunk(&[full(0.0), full(1.0)]).unwrap();
        let truncated = &bytes[..bytes.len() - 1];
        assert!(matches!(
            decode_chunk(truncated),
            Err(CodecError::Corrupt {
                offset: Some(_),
                ..
            })
        ));
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(decode_chunk(&extra).is_err());
        assert_eq!(
            decode_chunk(&[9]).unwrap_err(),
            CodecError::UnknownFormat(9)
        );
        assert!(decode_chunk(&[]).is_err());
        // A forged huge count must not allocate.
        assert!(decode_chunk(&[1, 0xff, 0xff, 0xff, 0xff, 0x0f]).is_err());
    }

    fn opt<T: std::fmt::Debug + Clone>(
        s: impl Strategy<Value = T>,
    ) -> impl Strategy<Value = Option<T>> {
        proptest::option::of(s)
    }

    prop_compose! {
        fn sample()(t in 0.0..40_000.0f64, lat in opt(-90.0..90.0f64), lon in opt(-180.0..180.0f64),
                    alt in opt(-400.0..9000.0f64), dist in opt(0.0..300_000.0f64),
                    speed in opt(0.0..12.0f64), hr in opt(any::<u8>()), cad in opt(0.0..260.0f64),
                    stride in opt(0.0..3.0f64), stance in opt(0.0..1.0f64),
                    balance in opt(0.0..100.0f64), osc in opt(0.0..0.3f64),
                    ratio in opt(0.0..30.0f64), power in opt(0.0..1500.0f64)) -> Sample {
            Sample { t_s: t, lat_deg: lat, lon_deg: lon, altitude_m: alt, distance_m: dist,
                     speed_mps: speed, hr_bpm: hr, cadence_spm: cad, stride_m: stride,
                     stance_time_s: stance, stance_balance_left_pct: balance,
                     vertical_oscillation_m: osc, vertical_ratio_pct: ratio, power_w: power }
        }
    }

    proptest! {
        #[test]
        fn any_stream_round_trips_within_the_resolution(samples in proptest::collection::vec(sample(), 0..200)) {
            let back = decode_chunk(&encode_chunk(&samples).unwrap()).unwrap();
            prop_assert_eq!(back.len(), samples.len());
            for (a, b) in samples.iter().zip(&back) {
                for ch in Channel::ALL {
                    match (ch.get(a), ch.get(b)) {
                        (None, None) => {}
                        (Some(x), Some(y)) => prop_assert!((x - y).abs() <= 0.5 / ch.scale() + 1e-9,
                            "{} {} -> {}", ch.name(), x, y),
                        other => prop_assert!(false, "{}: presence changed {:?}", ch.name(), other),
                    }
                }
            }
        }

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode_chunk(&bytes);
        }

        #[test]
        fn mutated_chunks_never_panic(samples in proptest::collection::vec(sample(), 1..50),
                                      at in any::<prop::sample::Index>(), byte in any::<u8>()) {
            let mut bytes = encode_chunk(&samples).unwrap();
            let i = at.index(bytes.len());
            bytes[i] = byte;
            let _ = decode_chunk(&bytes);
        }
    }
}
