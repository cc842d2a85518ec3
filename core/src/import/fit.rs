//! FIT activity files (Garmin and most watches), decoded with the `fitparser` crate.
//!
//! The session message gives the summary (or, when a device wrote none, the laps added up), the
//! record messages the 1 Hz stream. Running cadence in
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

pub(super) fn parse(bytes: &[u8], zone: chrono_tz::Tz) -> Result<Vec<Parsed>, ImportError> {
    let bytes = complete_files(bytes)?;
    let records = fitparser::from_bytes(bytes).map_err(|e| ImportError::Malformed {
        format: "FIT",
        reason: readable(&e),
    })?;
    let summary = summary(&records)?;
    let sport = summary.sport.clone().unwrap_or_else(|| "unknown".into());
    if !RUNNING_SPORTS.contains(&sport.as_str()) {
        return Ok(vec![Parsed::NotARun {
            reason: format!("the activity is {sport}, not a run"),
        }]);
    }
    let start_utc = summary
        .start
        .or_else(|| {
            records
                .iter()
                .filter(|r| r.kind() == MesgNum::Record)
                .find_map(|r| time(r, "timestamp"))
        })
        .ok_or_else(|| ImportError::Malformed {
            format: "FIT",
            reason: "the activity has no start time".into(),
        })?;
    let start = match local_offset(&records) {
        Some(offset) => start_utc.with_timezone(&offset),
        None => super::stream::local_start(start_utc, zone),
    };

    let mut run = Run::new(
        Uuid::new_v4(),
        start,
        summary.distance_m.unwrap_or(0.0),
        summary.elapsed_s.or(summary.timer_s).unwrap_or(0.0),
    );
    run.source = RunSource::Fit;
    run.moving_time_s = summary.timer_s;
    run.elevation_gain_m = summary.ascent_m;
    run.elevation_loss_m = summary.descent_m;
    run.avg_hr_bpm = summary.avg_hr;
    run.max_hr_bpm = summary.max_hr;
    run.avg_cadence_spm = summary.cadence_spm;

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
    Ok(vec![Parsed::Run {
        run,
        samples,
        note: None,
    }])
}

/// What went wrong in words a runner can act on: no checksum arithmetic or parser internals.
fn readable(e: &fitparser::Error) -> String {
    use fitparser::ErrorKind as K;
    match e.as_ref() {
        K::InvalidCrc(..) => "the file is damaged: its checksum does not match its contents".into(),
        K::UnexpectedEof(_) => "the file ends in the middle of a message (cut short?)".into(),
        K::TrailingBytes(n) => format!("{n} stray bytes follow the end of the activity"),
        K::MissingDefinitionMessage(..) | K::MissingDeveloperDefinitionMessage() => {
            "a message uses a layout the file never defined (damaged, or not written by a watch)"
                .into()
        }
        K::ParseError(pos, _) => format!("unreadable data at byte {pos}"),
        K::ValueError(v) => format!("an unreadable value ({v})"),
        K::Io(_) => "the file could not be read".into(),
    }
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

/// The activity's totals: from the session message, or added up from the laps when a device
/// wrote none (an activity cut off before it was saved).
#[derive(Default)]
struct Summary {
    sport: Option<String>,
    start: Option<DateTime<Utc>>,
    elapsed_s: Option<f64>,
    timer_s: Option<f64>,
    distance_m: Option<f64>,
    ascent_m: Option<f64>,
    descent_m: Option<f64>,
    avg_hr: Option<f64>,
    max_hr: Option<f64>,
    /// Steps per minute: 2 x (strides of one foot + the fractional part).
    cadence_spm: Option<f64>,
}

fn cadence_of(m: &FitDataRecord) -> Option<f64> {
    number(m, "avg_running_cadence")
        .or_else(|| number(m, "avg_cadence"))
        .filter(|c| *c > 0.0)
        .map(|c| 2.0 * (c + number(m, "avg_fractional_cadence").unwrap_or(0.0)))
}

fn summary(records: &[FitDataRecord]) -> Result<Summary, ImportError> {
    let sport_message = records
        .iter()
        .find(|r| r.kind() == MesgNum::Sport)
        .and_then(|r| text(r, "sport"));
    if let Some(s) = records.iter().find(|r| r.kind() == MesgNum::Session) {
        return Ok(Summary {
            sport: text(s, "sport").or(sport_message),
            start: time(s, "start_time"),
            elapsed_s: number(s, "total_elapsed_time"),
            timer_s: number(s, "total_timer_time"),
            distance_m: number(s, "total_distance"),
            ascent_m: number(s, "total_ascent"),
            descent_m: number(s, "total_descent"),
            avg_hr: number(s, "avg_heart_rate"),
            max_hr: number(s, "max_heart_rate"),
            cadence_spm: cadence_of(s),
        });
    }
    let laps: Vec<&FitDataRecord> = records
        .iter()
        .filter(|r| r.kind() == MesgNum::Lap)
        .collect();
    if laps.is_empty() {
        return Err(ImportError::Malformed {
            format: "FIT",
            reason: "no session or lap messages: not an activity file, or cut short".into(),
        });
    }
    let sum = |name: &str| -> Option<f64> {
        let v: Vec<f64> = laps.iter().filter_map(|l| number(l, name)).collect();
        (!v.is_empty()).then(|| v.iter().sum())
    };
    // Averages weighted by each lap's time.
    let weighted = |f: &dyn Fn(&FitDataRecord) -> Option<f64>| -> Option<f64> {
        let (mut total, mut weight) = (0.0, 0.0);
        for l in &laps {
            if let Some(v) = f(l) {
                let w = number(l, "total_timer_time")
                    .or_else(|| number(l, "total_elapsed_time"))
                    .unwrap_or(1.0);
                total += v * w;
                weight += w;
            }
        }
        (weight > 0.0).then(|| total / weight)
    };
    Ok(Summary {
        sport: laps.iter().find_map(|l| text(l, "sport")).or(sport_message),
        start: laps.iter().filter_map(|l| time(l, "start_time")).min(),
        elapsed_s: sum("total_elapsed_time"),
        timer_s: sum("total_timer_time"),
        distance_m: sum("total_distance"),
        ascent_m: sum("total_ascent"),
        descent_m: sum("total_descent"),
        avg_hr: weighted(&|l| number(l, "avg_heart_rate")),
        max_hr: laps
            .iter()
            .filter_map(|l| number(l, "max_heart_rate"))
            .reduce(f64::max),
        cadence_spm: weighted(&cadence_of),
    })
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
        ..Sample::default()
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
