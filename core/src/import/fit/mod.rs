//! FIT activity files (Garmin and most watches), read with our own streaming decoder
//! ([`decode`]) straight into the few values we use.
//!
//! Each session message is one activity (a multisport file has one per leg); its records are
//! the ones of its time range. The session gives the summary, or, when a device wrote none,
//! the laps added up, and whatever the summary lacks is computed from the records. Running
//! cadence in FIT counts strides of one foot, so steps per minute = 2 x (cadence +
//! fractional_cadence).

mod decode;
#[cfg(test)]
mod tests;

use chrono::{DateTime, FixedOffset, Utc};
use uuid::Uuid;

use super::stream::{self, ELEVATION_HYSTERESIS_M, Judged};
use super::{Context, ImportError, Parsed};
use crate::export::fit::FIT_EPOCH_UNIX;
use crate::model::{Run, RunSource, Sample};
use decode::{FIRST_ABSOLUTE_TIME, Message};

/// Degrees per semicircle (FIT stores positions as 2^31 semicircles per 180 degrees).
const DEG_PER_SEMICIRCLE: f64 = 180.0 / 2_147_483_648.0;

/// FIT's `sport` values we read: running (trail and treadmill are its sub-sports), and
/// generic, which names no sport.
const SPORT_GENERIC: u8 = 0;
const SPORT_RUNNING: u8 = 1;

/// `file_id.type` of an activity file.
const FILE_ACTIVITY: u8 = 4;

/// Global message numbers (FIT profile).
mod mesg {
    pub const FILE_ID: u16 = 0;
    pub const SPORT: u16 = 12;
    pub const SESSION: u16 = 18;
    pub const LAP: u16 = 19;
    pub const RECORD: u16 = 20;
    pub const ACTIVITY: u16 = 34;
    pub const FIELD_DESCRIPTION: u16 = 206;
}

/// Below this speed the runner is standing, for the moving time computed from records (the
/// same line [`stream::judge_unnamed`] draws).
const STOPPED_SPEED_MPS: f64 = 0.5;

fn malformed(reason: String) -> ImportError {
    ImportError::Malformed {
        format: "FIT",
        reason,
    }
}

pub(super) fn parse(bytes: &[u8], cx: Context) -> Result<Vec<Parsed>, ImportError> {
    let mut file = FitFile::default();
    decode::decode(bytes, |m| file.message(m)).map_err(|e| malformed(e.to_string()))?;
    file.into_parsed(cx)
}

/// The totals and averages of a session or a lap, in SI units; `None` where the message has
/// no valid value.
#[derive(Debug, Clone, Default)]
struct Summary {
    /// Where the message starts, for errors.
    at: usize,
    start: Option<u32>,
    end: Option<u32>,
    sport: Option<u8>,
    elapsed_s: Option<f64>,
    timer_s: Option<f64>,
    moving_s: Option<f64>,
    distance_m: Option<f64>,
    ascent_m: Option<f64>,
    descent_m: Option<f64>,
    avg_hr: Option<f64>,
    max_hr: Option<f64>,
    /// Steps per minute: 2 x (strides of one foot + the fractional part).
    cadence_spm: Option<f64>,
    power_w: Option<f64>,
    stance_s: Option<f64>,
    balance_pct: Option<f64>,
    vertical_oscillation_m: Option<f64>,
    vertical_ratio_pct: Option<f64>,
    step_m: Option<f64>,
}

/// Field numbers of the summary fields, which differ between session and lap (FIT profile).
struct SummaryFields {
    sport: u8,
    ascent: u8,
    descent: u8,
    avg_hr: u8,
    max_hr: u8,
    cadence: u8,
    fractional_cadence: u8,
    moving: u8,
    power: u8,
    vertical_oscillation: u8,
    stance_time: u8,
    vertical_ratio: u8,
    stance_balance: u8,
    step_length: u8,
}

const SESSION_FIELDS: SummaryFields = SummaryFields {
    sport: 5,
    ascent: 22,
    descent: 23,
    avg_hr: 16,
    max_hr: 17,
    cadence: 18,
    fractional_cadence: 92,
    moving: 59,
    power: 20,
    vertical_oscillation: 89,
    stance_time: 91,
    vertical_ratio: 132,
    stance_balance: 133,
    step_length: 134,
};

const LAP_FIELDS: SummaryFields = SummaryFields {
    sport: 25,
    ascent: 21,
    descent: 22,
    avg_hr: 15,
    max_hr: 16,
    cadence: 17,
    fractional_cadence: 80,
    moving: 52,
    power: 19,
    vertical_oscillation: 77,
    stance_time: 79,
    vertical_ratio: 118,
    stance_balance: 119,
    step_length: 120,
};

impl Summary {
    fn read(m: &Message<'_>, k: &SummaryFields) -> Summary {
        let time = |num| m.get(num).map(|v| v as u32);
        Summary {
            at: m.at,
            start: time(2),
            end: m.timestamp,
            sport: m.get(k.sport).map(|v| v as u8),
            elapsed_s: m.get(7).map(|v| v / 1000.0),
            timer_s: m.get(8).map(|v| v / 1000.0),
            moving_s: m.get(k.moving).map(|v| v / 1000.0),
            distance_m: m.get(9).map(|v| v / 100.0),
            ascent_m: m.get(k.ascent),
            descent_m: m.get(k.descent),
            avg_hr: m.get(k.avg_hr),
            max_hr: m.get(k.max_hr),
            cadence_spm: m
                .get(k.cadence)
                .filter(|c| *c > 0.0)
                .map(|c| 2.0 * (c + m.get(k.fractional_cadence).unwrap_or(0.0) / 128.0)),
            power_w: m.get(k.power),
            stance_s: m.get(k.stance_time).map(|v| v / 10.0 / 1000.0),
            balance_pct: m.get(k.stance_balance).map(|v| v / 100.0),
            vertical_oscillation_m: m.get(k.vertical_oscillation).map(|v| v / 10.0 / 1000.0),
            vertical_ratio_pct: m.get(k.vertical_ratio).map(|v| v / 100.0),
            step_m: m.get(k.step_length).map(|v| v / 10.0 / 1000.0),
        }
    }

    /// One summary from the laps of an activity that has no session message (cut off before
    /// it was saved): totals added up, averages weighted by each lap's time.
    fn of_laps(laps: &[Summary]) -> Summary {
        let sum = |f: &dyn Fn(&Summary) -> Option<f64>| -> Option<f64> {
            laps.iter().filter_map(f).reduce(|a, b| a + b)
        };
        let weighted = |f: &dyn Fn(&Summary) -> Option<f64>| -> Option<f64> {
            let (mut total, mut weight) = (0.0, 0.0);
            for l in laps {
                if let Some(v) = f(l) {
                    let w = l.timer_s.or(l.elapsed_s).unwrap_or(1.0);
                    total += v * w;
                    weight += w;
                }
            }
            (weight > 0.0).then(|| total / weight)
        };
        Summary {
            at: laps.first().map_or(0, |l| l.at),
            start: laps.iter().filter_map(|l| l.start).min(),
            end: laps.iter().filter_map(|l| l.end).max(),
            sport: laps.iter().find_map(|l| l.sport),
            elapsed_s: sum(&|l| l.elapsed_s),
            timer_s: sum(&|l| l.timer_s),
            moving_s: sum(&|l| l.moving_s),
            distance_m: sum(&|l| l.distance_m),
            ascent_m: sum(&|l| l.ascent_m),
            descent_m: sum(&|l| l.descent_m),
            avg_hr: weighted(&|l| l.avg_hr),
            max_hr: laps.iter().filter_map(|l| l.max_hr).reduce(f64::max),
            cadence_spm: weighted(&|l| l.cadence_spm),
            power_w: weighted(&|l| l.power_w),
            stance_s: weighted(&|l| l.stance_s),
            balance_pct: weighted(&|l| l.balance_pct),
            vertical_oscillation_m: weighted(&|l| l.vertical_oscillation_m),
            vertical_ratio_pct: weighted(&|l| l.vertical_ratio_pct),
            step_m: weighted(&|l| l.step_m),
        }
    }
}

/// What a developer field (a Stryd footpod's, a Connect IQ app's) stands for, by the name its
/// field_description gives it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum DevKind {
    Power,
    StanceTime,
    VerticalOscillation,
}

#[derive(Debug, Clone, Copy)]
struct DevField {
    dev_index: u8,
    num: u8,
    base: u8,
    kind: DevKind,
    /// Value in our unit = (raw / scale - offset) * unit.
    scale: f64,
    offset: f64,
    unit: f64,
}

impl DevField {
    fn key(&self) -> (u8, u8) {
        (self.dev_index, self.num)
    }

    fn read(m: &Message<'_>) -> Option<DevField> {
        let name = m.text(3)?.trim().to_ascii_lowercase();
        let units = m.text(8).map(|u| u.trim().to_ascii_lowercase());
        let native_power = m.get(14).is_none_or(|n| n == 20.0) && m.get(15) == Some(7.0);
        let (kind, unit) = match name.as_str() {
            _ if native_power => (DevKind::Power, 1.0),
            "power" | "rp_power" => (DevKind::Power, 1.0),
            "ground time" | "stance time" | "ground contact time" => {
                let unit = match units.as_deref() {
                    Some("s") => 1.0,
                    _ => 0.001,
                };
                (DevKind::StanceTime, unit)
            }
            "vertical oscillation" => {
                let unit = match units.as_deref() {
                    Some("mm") => 0.001,
                    Some("cm") => 0.01,
                    Some("m") => 1.0,
                    _ => return None,
                };
                (DevKind::VerticalOscillation, unit)
            }
            _ => return None,
        };
        Some(DevField {
            dev_index: m.get(0)? as u8,
            num: m.get(1)? as u8,
            base: m.get(2)? as u8,
            kind,
            scale: m.get(6).filter(|s| *s > 0.0).unwrap_or(1.0),
            offset: m.get(7).unwrap_or(0.0),
            unit,
        })
    }
}

/// Everything we keep of a file, filled message by message as the decoder reads them.
#[derive(Default)]
struct FitFile {
    file_type: Option<u8>,
    sport: Option<u8>,
    sessions: Vec<Summary>,
    laps: Vec<Summary>,
    /// Records with `t_s` the FIT timestamp (seconds since the FIT epoch), until the start of
    /// their activity is known.
    records: Vec<Sample>,
    /// Where the first record with a time starts, for errors.
    first_record_at: Option<usize>,
    activity_time: Option<(u32, u32)>,
    dev_fields: Vec<DevField>,
}

impl FitFile {
    fn message(&mut self, m: &Message<'_>) {
        match m.global {
            mesg::RECORD => self.record(m),
            // The first of each: a chained file's later ones describe the same activity.
            mesg::FILE_ID if self.file_type.is_none() => {
                self.file_type = m.get(0).map(|v| v as u8);
            }
            mesg::SPORT if self.sport.is_none() => self.sport = m.get(0).map(|v| v as u8),
            mesg::SESSION => self.sessions.push(Summary::read(m, &SESSION_FIELDS)),
            mesg::LAP => self.laps.push(Summary::read(m, &LAP_FIELDS)),
            mesg::ACTIVITY => {
                if let (None, Some(ts), Some(local)) = (self.activity_time, m.timestamp, m.get(5)) {
                    self.activity_time = Some((ts, local as u32));
                }
            }
            mesg::FIELD_DESCRIPTION => {
                if let Some(d) = DevField::read(m) {
                    // Kept sorted by (developer, field), a later description replacing an
                    // earlier one: records look theirs up by binary search.
                    match self
                        .dev_fields
                        .binary_search_by_key(&d.key(), DevField::key)
                    {
                        Ok(i) => self.dev_fields[i] = d,
                        Err(i) => self.dev_fields.insert(i, d),
                    }
                }
            }
            _ => {}
        }
    }

    /// One record: every field we use in one pass over its layout.
    fn record(&mut self, m: &Message<'_>) {
        let Some(t) = m.timestamp else {
            return;
        };
        self.first_record_at.get_or_insert(m.at);
        let mut s = Sample {
            t_s: f64::from(t),
            ..Sample::default()
        };
        let (mut altitude, mut speed, mut cadence, mut fraction) = (None, None, None, None);
        for f in m.fields {
            match f.num {
                0 => s.lat_deg = m.value(f).map(|v| v * DEG_PER_SEMICIRCLE),
                1 => s.lon_deg = m.value(f).map(|v| v * DEG_PER_SEMICIRCLE),
                2 => altitude = m.value(f).map(|v| v / 5.0 - 500.0),
                78 => s.altitude_m = m.value(f).map(|v| v / 5.0 - 500.0),
                3 => {
                    s.hr_bpm = m
                        .value(f)
                        .filter(|h| (1.0..=255.0).contains(h))
                        .map(|h| h as u8)
                }
                4 => cadence = m.value(f),
                53 => fraction = m.value(f),
                5 => s.distance_m = m.value(f).map(|v| v / 100.0),
                6 => speed = m.value(f).map(|v| v / 1000.0),
                73 => s.speed_mps = m.value(f).map(|v| v / 1000.0),
                7 => s.power_w = m.value(f),
                39 => s.vertical_oscillation_m = dynamic(m.value(f)).map(|v| v / 10.0 / 1000.0),
                41 => s.stance_time_s = dynamic(m.value(f)).map(|v| v / 10.0 / 1000.0),
                83 => s.vertical_ratio_pct = dynamic(m.value(f)).map(|v| v / 100.0),
                84 => s.stance_balance_left_pct = dynamic(m.value(f)).map(|v| v / 100.0),
                85 => s.stride_m = dynamic(m.value(f)).map(|v| v / 10.0 / 1000.0),
                _ => {}
            }
        }
        // The enhanced fields (wider, for high altitudes and speeds) win over the classic ones.
        s.altitude_m = s.altitude_m.or(altitude);
        s.speed_mps = s.speed_mps.or(speed);
        s.cadence_spm = cadence.map(|c| 2.0 * (c + fraction.unwrap_or(0.0) / 128.0));
        for d in m.dev {
            let Ok(i) = self
                .dev_fields
                .binary_search_by_key(&(d.dev_index, d.num), DevField::key)
            else {
                continue;
            };
            let desc = self.dev_fields[i];
            let Some(raw) = decode::number(desc.base, m.dev_bytes(d), m.big_endian) else {
                continue;
            };
            let v = Some((raw / desc.scale - desc.offset) * desc.unit)
                .filter(|v| desc.kind == DevKind::Power || *v > 0.0);
            // The device's own value wins over an app's.
            match desc.kind {
                DevKind::Power => s.power_w = s.power_w.or(v),
                DevKind::StanceTime => s.stance_time_s = s.stance_time_s.or(v),
                DevKind::VerticalOscillation => {
                    s.vertical_oscillation_m = s.vertical_oscillation_m.or(v)
                }
            }
        }
        self.records.push(s);
    }

    fn into_parsed(mut self, cx: Context) -> Result<Vec<Parsed>, ImportError> {
        if let Some(t) = self.file_type.filter(|t| *t != FILE_ACTIVITY) {
            return Ok(vec![Parsed::NotARun {
                reason: format!("a FIT {} file, not an activity", file_type_name(t)),
            }]);
        }
        let offset = self.local_offset();
        let legs: Vec<Summary> = if !self.sessions.is_empty() {
            std::mem::take(&mut self.sessions)
        } else if !self.laps.is_empty() {
            vec![Summary::of_laps(&self.laps)]
        } else if let Some(at) = self.first_record_at {
            // Records alone: everything comes from them.
            vec![Summary {
                at,
                ..Summary::default()
            }]
        } else {
            return Err(malformed(
                "no session, lap or record messages: not an activity file, or cut short".into(),
            ));
        };
        let n = legs.len();
        let mut records = std::mem::take(&mut self.records);
        if n > 1 {
            // In time order, so each leg finds its range by binary search.
            records.sort_by(|a, b| a.t_s.total_cmp(&b.t_s));
        }
        // Where the records not yet given to a leg begin: each record goes to one leg at most,
        // so a forged file of many overlapping sessions cannot multiply its records.
        let mut taken = 0;
        let mut out = Vec::with_capacity(n);
        for (i, leg) in legs.iter().enumerate() {
            let sport = leg.sport.or(if n == 1 { self.sport } else { None });
            match sport {
                Some(SPORT_RUNNING | SPORT_GENERIC) | None => {}
                Some(other) if n == 1 => out.push(Parsed::NotARun {
                    reason: format!("the activity is {}, not a run", sport_name(other)),
                }),
                Some(other) => out.push(Parsed::NotARun {
                    reason: format!("leg {} of {n} is {}, not a run", i + 1, sport_name(other)),
                }),
            }
            if matches!(sport, Some(s) if s != SPORT_RUNNING && s != SPORT_GENERIC) {
                continue;
            }
            let start = leg
                .start
                .map(|t| (t, leg.at))
                .or_else(|| {
                    records
                        .first()
                        .map(|s| (s.t_s as u32, self.first_record_at.unwrap_or(0)))
                })
                .ok_or_else(|| malformed("the activity has no start time".into()))?;
            if start.0 < FIRST_ABSOLUTE_TIME {
                return Err(malformed(format!(
                    "at byte {}: the activity's times count from when the watch was switched on, \
                     not from a date (its clock was never set), so the run has no date to be filed under",
                    start.1
                )));
            }
            let start_fit = start.0;
            let samples: Vec<Sample> = if n == 1 {
                // The one activity takes every record from its start on, in place.
                let start = f64::from(start_fit);
                let mut all = std::mem::take(&mut records);
                all.retain(|s| s.t_s >= start);
                for s in &mut all {
                    s.t_s -= start;
                }
                all
            } else {
                // A leg's records are those of its time range: up to its end, or the next
                // leg's start.
                let end = leg
                    .end
                    .or_else(|| {
                        leg.elapsed_s
                            .map(|e| start_fit.saturating_add(e.ceil() as u32))
                    })
                    .or_else(|| legs.get(i + 1).and_then(|l| l.start))
                    .unwrap_or(u32::MAX);
                let (lo, hi) = (f64::from(start_fit), f64::from(end));
                let from = records.partition_point(|s| s.t_s < lo).max(taken);
                let to = records.partition_point(|s| s.t_s <= hi).max(from);
                taken = to;
                rebase(&records[from..to], start_fit, end)
            };
            let start_utc =
                DateTime::<Utc>::from_timestamp(i64::from(start_fit) + FIT_EPOCH_UNIX, 0)
                    .ok_or_else(|| malformed("the activity has no start time".into()))?;
            let start = match offset {
                Some(offset) => start_utc.with_timezone(&offset),
                None => stream::local_start(start_utc, cx.zone),
            };
            let mut note = None;
            if sport.is_none_or(|s| s == SPORT_GENERIC) {
                match stream::judge_unlabelled(&samples, None, cx.unlabelled) {
                    Judged::Run { note: n } => note = Some(n),
                    Judged::NotARun { reason } => {
                        out.push(Parsed::NotARun { reason });
                        continue;
                    }
                }
            }
            let run = summarise(leg, &samples, start, n == 1)?;
            out.push(Parsed::Run { run, samples, note });
        }
        Ok(out)
    }

    /// The offset the runner's watch was set to: the activity message's local timestamp minus
    /// its UTC timestamp, rounded to the quarter hour (the two are read a moment apart, and no
    /// zone is finer); `None` when the file does not say or the difference is no zone's.
    fn local_offset(&self) -> Option<FixedOffset> {
        let (ts, local) = self.activity_time?;
        let diff = i64::from(local) - i64::from(ts);
        let quarter_hours = (diff as f64 / 900.0).round() as i32;
        if quarter_hours.abs() > 14 * 4 {
            return None;
        }
        FixedOffset::east_opt(quarter_hours * 900)
    }
}

/// The records from `start` to `end` (FIT seconds), with their times made relative to `start`.
fn rebase(records: &[Sample], start: u32, end: u32) -> Vec<Sample> {
    let (start, end) = (f64::from(start), f64::from(end));
    records
        .iter()
        .filter(|s| s.t_s >= start && s.t_s <= end)
        .map(|s| Sample {
            t_s: s.t_s - start,
            ..*s
        })
        .collect()
}

/// The run of one leg: the summary's values, and what it lacks from the records.
fn summarise(
    leg: &Summary,
    samples: &[Sample],
    start: DateTime<FixedOffset>,
    whole_file: bool,
) -> Result<Run, ImportError> {
    let span = samples.last().map_or(0.0, |s| s.t_s);
    let duration = leg
        .elapsed_s
        .or(leg.timer_s)
        .filter(|d| *d > 0.0)
        .unwrap_or(span);
    if duration <= 0.0 {
        return Err(malformed("the activity has no duration".into()));
    }
    let distances = || samples.iter().filter_map(|s| s.distance_m);
    let distance = leg.distance_m.unwrap_or_else(|| {
        let last = distances().next_back().unwrap_or(0.0);
        // A leg of a multisport file may carry on the distance of the legs before it.
        let first = if whole_file {
            0.0
        } else {
            distances().next().unwrap_or(0.0)
        };
        (last - first).max(0.0)
    });
    let mut run = Run::new(Uuid::new_v4(), start, distance, duration);
    run.source = RunSource::Fit;
    run.moving_time_s = leg
        .timer_s
        .or(leg.moving_s)
        .or_else(|| moving_time(samples));
    let elevation = || stream::elevation_gain_loss(samples, ELEVATION_HYSTERESIS_M);
    run.elevation_gain_m = leg.ascent_m.or_else(|| elevation().map(|e| e.0));
    run.elevation_loss_m = leg.descent_m.or_else(|| elevation().map(|e| e.1));
    let hrs = || samples.iter().filter_map(|s| s.hr_bpm.map(f64::from));
    run.avg_hr_bpm = leg.avg_hr.or_else(|| mean(hrs()));
    run.max_hr_bpm = leg.max_hr.or_else(|| hrs().reduce(f64::max));
    // The records' cadence, when they have one, so that the FIT, GPX and TCX of one activity
    // agree: the one definition is [`super::average_cadence`].
    run.avg_cadence_spm = super::average_cadence(samples).or(leg.cadence_spm);
    run.avg_power_w = leg
        .power_w
        .or_else(|| mean(samples.iter().filter_map(|s| s.power_w)));
    run.avg_stance_time_s = leg
        .stance_s
        .or_else(|| mean(samples.iter().filter_map(|s| s.stance_time_s)));
    run.avg_stance_balance_left_pct = leg
        .balance_pct
        .or_else(|| mean(samples.iter().filter_map(|s| s.stance_balance_left_pct)));
    run.avg_vertical_oscillation_m = leg
        .vertical_oscillation_m
        .or_else(|| mean(samples.iter().filter_map(|s| s.vertical_oscillation_m)));
    run.avg_vertical_ratio_pct = leg
        .vertical_ratio_pct
        .or_else(|| mean(samples.iter().filter_map(|s| s.vertical_ratio_pct)));
    run.avg_step_length_m = leg
        .step_m
        .or_else(|| mean(samples.iter().filter_map(|s| s.stride_m)));
    Ok(run)
}

/// A running-dynamics reading: watches write 0 when the pod or strap measured nothing (standing
/// still, no step), which no step has, so it is absent.
fn dynamic(v: Option<f64>) -> Option<f64> {
    v.filter(|v| *v > 0.0)
}

fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (mut sum, mut n) = (0.0, 0u64);
    for v in values {
        sum += v;
        n += 1;
    }
    (n > 0).then(|| sum / n as f64)
}

/// Time spent moving, from the records: each interval between two records counts when it is
/// short (a longer gap is a pause: watches stop recording on auto-pause, see
/// [`super::CADENCE_GAP_S`]) and the runner was moving at its end (speed, or else distance
/// gained, says so; with neither, the interval counts).
fn moving_time(samples: &[Sample]) -> Option<f64> {
    if samples.len() < 2 {
        return None;
    }
    let mut total = 0.0;
    for w in samples.windows(2) {
        let dt = w[1].t_s - w[0].t_s;
        if dt <= 0.0 || dt > super::CADENCE_GAP_S {
            continue;
        }
        let moving = match (w[1].speed_mps, w[0].distance_m, w[1].distance_m) {
            (Some(v), _, _) => v >= STOPPED_SPEED_MPS,
            (None, Some(a), Some(b)) => b > a,
            _ => true,
        };
        if moving {
            total += dt;
        }
    }
    Some(total)
}

/// FIT's `sport` enum in words (FIT profile, `Sport`).
fn sport_name(sport: u8) -> String {
    const NAMES: [&str; 86] = [
        "generic",
        "running",
        "cycling",
        "transition",
        "fitness equipment",
        "swimming",
        "basketball",
        "soccer",
        "tennis",
        "american football",
        "training",
        "walking",
        "cross country skiing",
        "alpine skiing",
        "snowboarding",
        "rowing",
        "mountaineering",
        "hiking",
        "multisport",
        "paddling",
        "flying",
        "e-biking",
        "motorcycling",
        "boating",
        "driving",
        "golf",
        "hang gliding",
        "horseback riding",
        "hunting",
        "fishing",
        "inline skating",
        "rock climbing",
        "sailing",
        "ice skating",
        "sky diving",
        "snowshoeing",
        "snowmobiling",
        "stand up paddleboarding",
        "surfing",
        "wakeboarding",
        "water skiing",
        "kayaking",
        "rafting",
        "windsurfing",
        "kitesurfing",
        "tactical",
        "jumpmaster",
        "boxing",
        "floor climbing",
        "baseball",
        "",
        "",
        "",
        "diving",
        "",
        "",
        "shooting",
        "",
        "winter sport",
        "grinding",
        "",
        "",
        "hiit",
        "video gaming",
        "racket",
        "wheelchair push walk",
        "wheelchair push run",
        "meditation",
        "para sport",
        "disc golf",
        "team sport",
        "cricket",
        "rugby",
        "hockey",
        "lacrosse",
        "volleyball",
        "water tubing",
        "wakesurfing",
        "water sport",
        "archery",
        "mixed martial arts",
        "motor sports",
        "snorkeling",
        "dance",
        "jump rope",
        "pool apnea",
    ];
    match NAMES.get(usize::from(sport)) {
        Some(name) if !name.is_empty() => (*name).to_string(),
        _ => format!("sport {sport}"),
    }
}

/// FIT's `file` enum (the type in file_id) in words, for files that are not activities.
fn file_type_name(t: u8) -> String {
    let name = match t {
        1 => "device",
        2 => "settings",
        3 => "sport settings",
        5 => "workout",
        6 => "course",
        7 => "schedules",
        9 => "weight",
        10 => "totals",
        11 => "goals",
        14 => "blood pressure",
        15 | 32 => "monitoring",
        20 => "activity summary",
        28 => "daily monitoring",
        34 => "segment",
        35 => "segment list",
        40 => "data screen configuration",
        other => return format!("type {other}"),
    };
    name.into()
}
