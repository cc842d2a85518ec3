//! FIT activity files (Garmin and most watches), decoded with the `fitparser` crate.
//!
//! The session message gives the summary, the record messages the 1 Hz stream. Running cadence in
//! FIT counts strides of one foot, so steps per minute = 2 x (cadence + fractional_cadence).

use chrono::{DateTime, FixedOffset, Utc};
use fitparser::{FitDataRecord, Value, profile::MesgNum};
use uuid::Uuid;

use super::{ImportError, Parsed};
use crate::model::{Run, RunSource, Sample};

use crate::export::fit::FIT_EPOCH_UNIX;

/// Degrees per semicircle (FIT stores positions as 2^31 semicircles per 180 degrees).
const DEG_PER_SEMICIRCLE: f64 = 180.0 / 2_147_483_648.0;

/// Sports recorded as a FIT `sport` that count as runs (trail and treadmill are sub-sports of
/// `running`).
const RUNNING_SPORTS: &[&str] = &["running"];

pub(super) fn parse(bytes: &[u8], zone: chrono_tz::Tz) -> Result<Parsed, ImportError> {
    let bytes = complete_files(bytes)?;
    let records = fitparser::from_bytes(bytes).map_err(|e| ImportError::Malformed {
        format: "FIT",
        reason: e.to_string(),
    })?;
    let session = records
        .iter()
        .find(|r| r.kind() == MesgNum::Session)
        .ok_or_else(|| ImportError::Malformed {
            format: "FIT",
            reason: "no session message: not an activity file, or cut short".into(),
        })?;
    let sport = text(session, "sport").unwrap_or_else(|| "unknown".into());
    if !RUNNING_SPORTS.contains(&sport.as_str()) {
        return Ok(Parsed::NotARun {
            reason: format!("the activity is {sport}, not a run"),
        });
    }
    let start_utc = time(session, "start_time")
        .or_else(|| {
            records
                .iter()
                .filter(|r| r.kind() == MesgNum::Record)
                .find_map(|r| time(r, "timestamp"))
        })
        .ok_or_else(|| ImportError::Malformed {
            format: "FIT",
            reason: "the session has no start time".into(),
        })?;
    let start = match local_offset(&records) {
        Some(offset) => start_utc.with_timezone(&offset),
        None => super::stream::local_start(start_utc, zone),
    };

    let duration_s = number(session, "total_elapsed_time")
        .or_else(|| number(session, "total_timer_time"))
        .unwrap_or(0.0);
    let mut run = Run::new(
        Uuid::new_v4(),
        start,
        number(session, "total_distance").unwrap_or(0.0),
        duration_s,
    );
    run.source = RunSource::Fit;
    run.moving_time_s = number(session, "total_timer_time");
    run.elevation_gain_m = number(session, "total_ascent");
    run.elevation_loss_m = number(session, "total_descent");
    run.avg_hr_bpm = number(session, "avg_heart_rate");
    run.max_hr_bpm = number(session, "max_heart_rate");
    run.avg_cadence_spm = number(session, "avg_running_cadence")
        .or_else(|| number(session, "avg_cadence"))
        .filter(|c| *c > 0.0)
        .map(|c| 2.0 * (c + number(session, "avg_fractional_cadence").unwrap_or(0.0)));

    let samples: Vec<Sample> = records
        .iter()
        .filter(|r| r.kind() == MesgNum::Record)
        .filter_map(|r| sample(r, start_utc))
        .collect();
    if run.duration_s <= 0.0 {
        run.duration_s = samples.last().map(|s| s.t_s).unwrap_or(0.0);
    }
    if run.duration_s <= 0.0 {
        return Err(ImportError::Malformed {
            format: "FIT",
            reason: "the activity has no duration".into(),
        });
    }
    Ok(Parsed::Run { run, samples })
}

/// The header says how many bytes of messages follow; a file shorter than that was cut off (a
/// sync interrupted, a partial download), and the decoder alone may not notice when the cut
/// falls near the end. Returns the bytes of the complete FIT file(s): a chained file is kept
/// whole, while trailing bytes that are not a complete FIT file are left out (fitparser 0.11
/// overflows on some such tails, found by fuzzing: `testdata/fuzz-fit-chained-tail.fit`).
fn complete_files(bytes: &[u8]) -> Result<&[u8], ImportError> {
    let malformed = |reason: String| ImportError::Malformed {
        format: "FIT",
        reason,
    };
    let first = match file_length(bytes) {
        FileLength::Complete(n) => n,
        FileLength::TooShort => {
            return Err(malformed(format!(
                "{} bytes is too short for a FIT header",
                bytes.len()
            )));
        }
        FileLength::NoHeader => {
            return Err(malformed(
                "no FIT header (expected \".FIT\" at byte 8)".into(),
            ));
        }
        FileLength::CutShort(expected) => {
            return Err(malformed(format!(
                "the file is cut short: its header announces {expected} bytes, it has {}",
                bytes.len()
            )));
        }
    };
    check_framing(&bytes[..first]).map_err(malformed)?;
    let mut end = first;
    while let FileLength::Complete(n) = file_length(&bytes[end..]) {
        if check_framing(&bytes[end..end + n]).is_err() {
            break;
        }
        end += n;
    }
    Ok(&bytes[..end])
}

/// Walks the record headers and definitions of one FIT file and checks that its messages end
/// exactly where the header says the data ends. fitparser 0.11 otherwise reads the overrun as
/// the header of a chained file and can overflow an integer on it (found by fuzzing).
fn check_framing(file: &[u8]) -> Result<(), String> {
    let header = usize::from(file[0]);
    let end = file.len() - 2;
    let mut sizes: [Option<usize>; 16] = [None; 16];
    let mut pos = header;
    while pos < end {
        let h = file[pos];
        let at = pos;
        pos += 1;
        if h & 0x80 != 0 {
            // Compressed-timestamp header: a data message of local type in bits 5-6.
            let local = usize::from((h >> 5) & 0x03);
            pos += sizes[local].ok_or(format!(
                "byte {at}: data for undefined message type {local}"
            ))?;
        } else if h & 0x40 != 0 {
            let local = usize::from(h & 0x0F);
            let fixed = file
                .get(pos..pos + 5)
                .ok_or(format!("byte {at}: definition cut short"))?;
            let n = usize::from(fixed[4]);
            pos += 5;
            let fields = file
                .get(pos..pos + 3 * n)
                .ok_or(format!("byte {at}: definition cut short"))?;
            let mut size: usize = fields.chunks(3).map(|f| usize::from(f[1])).sum();
            pos += 3 * n;
            if h & 0x20 != 0 {
                let nd = usize::from(
                    *file
                        .get(pos)
                        .ok_or(format!("byte {at}: definition cut short"))?,
                );
                pos += 1;
                let dev = file
                    .get(pos..pos + 3 * nd)
                    .ok_or(format!("byte {at}: definition cut short"))?;
                size += dev.chunks(3).map(|f| usize::from(f[1])).sum::<usize>();
                pos += 3 * nd;
            }
            sizes[local] = Some(size);
        } else {
            let local = usize::from(h & 0x0F);
            pos += sizes[local].ok_or(format!(
                "byte {at}: data for undefined message type {local}"
            ))?;
        }
    }
    if pos != end {
        return Err(format!(
            "the last message runs {} bytes past the end of the data",
            pos - end
        ));
    }
    Ok(())
}

enum FileLength {
    Complete(usize),
    TooShort,
    NoHeader,
    CutShort(usize),
}

/// The length of the FIT file at the start of `bytes`, from its header.
fn file_length(bytes: &[u8]) -> FileLength {
    if bytes.len() < 12 {
        return FileLength::TooShort;
    }
    let header = usize::from(bytes[0]);
    if !(header == 12 || header == 14) || &bytes[8..12] != b".FIT" {
        return FileLength::NoHeader;
    }
    let data = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]) as usize;
    let expected = header + data + 2;
    if bytes.len() < expected {
        FileLength::CutShort(expected)
    } else {
        FileLength::Complete(expected)
    }
}

fn sample(r: &FitDataRecord, start: DateTime<Utc>) -> Option<Sample> {
    let t = time(r, "timestamp")?;
    let t_s = (t - start).num_milliseconds() as f64 / 1000.0;
    if t_s < 0.0 {
        return None;
    }
    let cadence =
        number(r, "cadence").map(|c| 2.0 * (c + number(r, "fractional_cadence").unwrap_or(0.0)));
    Some(Sample {
        t_s,
        lat_deg: number(r, "position_lat").map(|v| v * DEG_PER_SEMICIRCLE),
        lon_deg: number(r, "position_long").map(|v| v * DEG_PER_SEMICIRCLE),
        altitude_m: number(r, "enhanced_altitude").or_else(|| number(r, "altitude")),
        distance_m: number(r, "distance"),
        speed_mps: number(r, "enhanced_speed").or_else(|| number(r, "speed")),
        hr_bpm: number(r, "heart_rate")
            .filter(|h| (1.0..=255.0).contains(h))
            .map(|h| h as u8),
        cadence_spm: cadence,
        stride_m: number(r, "step_length").map(|mm| mm / 1000.0),
    })
}

/// The offset the runner's watch was set to: the activity message's local timestamp minus its
/// UTC timestamp, rounded to the quarter hour; `None` when the file does not say.
fn local_offset(records: &[FitDataRecord]) -> Option<FixedOffset> {
    let activity = records.iter().find(|r| r.kind() == MesgNum::Activity)?;
    let (Some(ts), Some(local)) = (
        time(activity, "timestamp"),
        field(activity, "local_timestamp").and_then(|v| match v {
            // fitparser reads local_timestamp as a UTC instant of the local wall-clock reading.
            Value::Timestamp(t) => Some(t.timestamp()),
            Value::UInt32(s) => Some(i64::from(*s) + FIT_EPOCH_UNIX),
            _ => None,
        }),
    ) else {
        return None;
    };
    let diff = local - ts.timestamp();
    let quarter_hours = (diff as f64 / 900.0).round() as i32;
    if quarter_hours.abs() > 14 * 4 {
        return None;
    }
    FixedOffset::east_opt(quarter_hours * 900)
}

fn field<'a>(r: &'a FitDataRecord, name: &str) -> Option<&'a Value> {
    r.fields()
        .iter()
        .find(|f| f.name() == name)
        .map(|f| f.value())
}

fn time(r: &FitDataRecord, name: &str) -> Option<DateTime<Utc>> {
    match field(r, name)? {
        Value::Timestamp(t) => Some(t.with_timezone(&Utc)),
        _ => None,
    }
}

fn text(r: &FitDataRecord, name: &str) -> Option<String> {
    match field(r, name)? {
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

fn number(r: &FitDataRecord, name: &str) -> Option<f64> {
    let v = match field(r, name)? {
        Value::Byte(v) | Value::UInt8(v) | Value::UInt8z(v) | Value::Enum(v) => f64::from(*v),
        Value::SInt8(v) => f64::from(*v),
        Value::SInt16(v) => f64::from(*v),
        Value::UInt16(v) | Value::UInt16z(v) => f64::from(*v),
        Value::SInt32(v) => f64::from(*v),
        Value::UInt32(v) | Value::UInt32z(v) => f64::from(*v),
        Value::SInt64(v) => *v as f64,
        Value::UInt64(v) | Value::UInt64z(v) => *v as f64,
        Value::Float32(v) => f64::from(*v),
        Value::Float64(v) => *v,
        _ => return None,
    };
    v.is_finite().then_some(v)
}
