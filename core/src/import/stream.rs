//! What GPX and TCX leave to the reader: distance from positions, speed from distance, elevation
//! gain without GPS noise, the cadence convention of the file, and the run's summary.

use chrono::{DateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;
use uuid::Uuid;

use crate::model::{Run, RunSource, Sample};

const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Elevation changes smaller than this are treated as noise (GPS altitude wanders by metres).
pub const ELEVATION_HYSTERESIS_M: f64 = 3.0;

/// Speeds at or above this are running, for deciding the cadence convention.
const RUNNING_SPEED_MPS: f64 = 1.8;

/// Great-circle distance between two (lat, lon) points in degrees (the tests' measure; the
/// parsers walk a track with [`Fix`]).
#[cfg(test)]
pub fn haversine_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    Fix::new(a).metres_to(&Fix::new(b))
}

/// A position made ready for [`haversine_m`]: in radians, with the cosine of its latitude. A
/// track measures each point against the one before, so each point's trigonometry is done once
/// instead of twice (the same numbers, to the bit).
struct Fix {
    lat: f64,
    lon: f64,
    cos_lat: f64,
}

impl Fix {
    fn new((lat, lon): (f64, f64)) -> Self {
        let lat = lat.to_radians();
        Fix {
            lat,
            lon: lon.to_radians(),
            cos_lat: lat.cos(),
        }
    }

    fn metres_to(&self, b: &Fix) -> f64 {
        let h = ((b.lat - self.lat) / 2.0).sin().powi(2)
            + self.cos_lat * b.cos_lat * ((b.lon - self.lon) / 2.0).sin().powi(2);
        2.0 * EARTH_RADIUS_M * h.sqrt().min(1.0).asin()
    }
}

/// When the file has no distances, accumulate them from the positions, in file order. Nothing is
/// counted from the last point before a break to the first after it (`breaks` holds the indices
/// of samples that do not continue from the one before: a new GPX `<trk>` or `<trkseg>`, a new
/// TCX `<Track>`, the points either side of a pause marker), so the way from where a recording
/// stopped to where it started again adds no distance.
pub fn fill_distance(samples: &mut [Sample], breaks: &[usize]) {
    if samples.iter().any(|s| s.distance_m.is_some()) {
        return;
    }
    let mut total = 0.0;
    let mut last: Option<Fix> = None;
    let mut next_break = breaks.iter().copied().peekable();
    for (i, s) in samples.iter_mut().enumerate() {
        while next_break.next_if(|b| *b <= i).is_some_and(|b| b == i) {
            last = None;
        }
        if let (Some(lat), Some(lon)) = (s.lat_deg, s.lon_deg) {
            let here = Fix::new((lat, lon));
            if let Some(prev) = &last {
                total += prev.metres_to(&here);
            }
            last = Some(here);
            s.distance_m = Some(total);
        }
    }
}

/// [`fill_distance`] then [`fill_speed`] in one pass, for a file with neither (a GPX track):
/// the same values, one walk over the samples instead of four.
pub fn fill_distance_and_speed(samples: &mut [Sample], breaks: &[usize]) {
    let mut total = 0.0;
    let mut last: Option<Fix> = None;
    let mut prev: Option<(f64, f64)> = None;
    let mut next_break = breaks.iter().copied().peekable();
    for (i, s) in samples.iter_mut().enumerate() {
        while next_break.next_if(|b| *b <= i).is_some_and(|b| b == i) {
            last = None;
        }
        let (Some(lat), Some(lon)) = (s.lat_deg, s.lon_deg) else {
            continue;
        };
        let here = Fix::new((lat, lon));
        if let Some(p) = &last {
            total += p.metres_to(&here);
        }
        last = Some(here);
        s.distance_m = Some(total);
        if let Some((pt, pd)) = prev
            && s.t_s > pt
        {
            s.speed_mps = Some(((total - pd) / (s.t_s - pt)).max(0.0));
        }
        prev = Some((s.t_s, total));
    }
}

/// Below this speed the runner is stopped, for [`moving_time`]: slower than any walk, faster than
/// the wander of a GPS position standing still.
pub const STOPPED_MPS: f64 = 0.5;

/// The time spent moving: every interval between two samples in the same segment (see
/// [`fill_distance`] for `breaks`) whose speed is at least [`STOPPED_MPS`]. The speed of an
/// interval is its distance over its time when both ends have a distance, else the speed or
/// cadence of its end; an interval with nothing to tell counts up to [`super::CADENCE_GAP_S`],
/// beyond which it is a gap in the recording.
pub fn moving_time(samples: &[Sample], breaks: &[usize]) -> f64 {
    let mut total = 0.0;
    let mut next_break = breaks.iter().copied().peekable();
    for i in 1..samples.len() {
        let mut broken = false;
        while let Some(b) = next_break.next_if(|b| *b <= i) {
            broken |= b == i;
        }
        let (a, b) = (&samples[i - 1], &samples[i]);
        let dt = b.t_s - a.t_s;
        if broken || dt <= 0.0 {
            continue;
        }
        let moving = match (a.distance_m, b.distance_m, b.speed_mps, b.cadence_spm) {
            (Some(da), Some(db), _, _) => (db - da) / dt >= STOPPED_MPS,
            (_, _, Some(v), _) => v >= STOPPED_MPS,
            (_, _, None, Some(c)) => c > 0.0 && dt <= super::CADENCE_GAP_S,
            _ => dt <= super::CADENCE_GAP_S,
        };
        if moving {
            total += dt;
        }
    }
    total
}

/// Sets each sample's seconds from `start` to its time (`times[i]` is sample `i`'s), in file
/// order and never going back: a point whose clock jittered behind the one before keeps its
/// place in the track and takes the time before it. Sorting by time instead zig-zags between
/// neighbours and multiplies the distance.
pub fn place_in_time(samples: &mut [Sample], times: &[DateTime<Utc>], start: DateTime<Utc>) {
    let mut last = 0.0f64;
    for (s, t) in samples.iter_mut().zip(times) {
        last = last.max((*t - start).num_milliseconds() as f64 / 1000.0);
        s.t_s = last;
    }
}

/// When the file has no speeds, derive them from distance over time.
pub fn fill_speed(samples: &mut [Sample]) {
    if samples.iter().any(|s| s.speed_mps.is_some()) {
        return;
    }
    let mut prev: Option<(f64, f64)> = None;
    for s in samples.iter_mut() {
        if let Some(d) = s.distance_m {
            if let Some((pt, pd)) = prev
                && s.t_s > pt
            {
                s.speed_mps = Some(((d - pd) / (s.t_s - pt)).max(0.0));
            }
            prev = Some((s.t_s, d));
        }
    }
}

/// Total climb and descent, counting a change only once it exceeds `hysteresis` metres from the
/// last counted level, so that altitude noise on flat ground adds nothing.
pub fn elevation_gain_loss(samples: &[Sample], hysteresis: f64) -> Option<(f64, f64)> {
    let mut alts = samples.iter().filter_map(|s| s.altitude_m);
    let mut anchor = alts.next()?;
    let (mut gain, mut loss) = (0.0, 0.0);
    for a in alts {
        if a - anchor >= hysteresis {
            gain += a - anchor;
            anchor = a;
        } else if anchor - a >= hysteresis {
            loss += anchor - a;
            anchor = a;
        }
    }
    Some((gain, loss))
}

/// Files write cadence either as strides of one foot (75-95 while running, Garmin's convention)
/// or as steps of both feet (150-200). Decide once per file from the values at running speed
/// and return steps per minute.
pub fn normalise_cadence(samples: &mut [Sample]) {
    let running: Vec<f64> = samples
        .iter()
        .filter(|s| s.speed_mps.is_none_or(|v| v >= RUNNING_SPEED_MPS))
        .filter_map(|s| s.cadence_spm)
        .filter(|c| *c > 0.0)
        .collect();
    let Some(median) = median(running) else {
        return;
    };
    if median < 120.0 {
        for s in samples.iter_mut() {
            s.cadence_spm = s.cadence_spm.map(|c| c * 2.0);
        }
    }
}

fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    (n > 0).then(|| sum / n as f64)
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    // The element a sort would put in the middle, found without sorting the rest.
    let mid = v.len() / 2;
    Some(*v.select_nth_unstable_by(mid, f64::total_cmp).1)
}

/// The local offset of `zone` at `at`: for formats that record times in UTC only.
pub fn local_start(at: DateTime<Utc>, zone: Tz) -> DateTime<chrono::FixedOffset> {
    let offset = zone.offset_from_utc_datetime(&at.naive_utc()).fix();
    at.with_timezone(&offset)
}

/// A run summarised from its stream; `duration_s` is the stream's span.
pub fn summarise(
    samples: &[Sample],
    start: DateTime<chrono::FixedOffset>,
    source: RunSource,
) -> Run {
    let duration = samples.iter().map(|s| s.t_s).fold(0.0, f64::max);
    let distance = samples
        .iter()
        .rev()
        .find_map(|s| s.distance_m)
        .unwrap_or(0.0);
    let mut run = Run::new(Uuid::new_v4(), start, distance, duration);
    run.source = source;
    let (mut hr_sum, mut hr_n, mut hr_max) = (0u64, 0u64, 0u8);
    for h in samples.iter().filter_map(|s| s.hr_bpm) {
        hr_sum += u64::from(h);
        hr_n += 1;
        hr_max = hr_max.max(h);
    }
    if hr_n > 0 {
        run.avg_hr_bpm = Some(hr_sum as f64 / hr_n as f64);
        run.max_hr_bpm = Some(f64::from(hr_max));
    }
    run.avg_cadence_spm = super::average_cadence(samples);
    run.avg_power_w = mean(samples.iter().filter_map(|s| s.power_w));
    if let Some((gain, loss)) = elevation_gain_loss(samples, ELEVATION_HYSTERESIS_M) {
        run.elevation_gain_m = Some(gain);
        run.elevation_loss_m = Some(loss);
    }
    run
}

/// What a file that names no sport (a FIT session of sport `generic`, a GPX or TCX without a
/// type) holds, judged from its samples.
#[derive(Debug, Clone, PartialEq)]
pub enum Judged {
    /// Imported as a run; the note says on what grounds, for the runner to see.
    Run { note: String },
    /// Skipped: the reason names the sport it looks like and why.
    NotARun { reason: String },
}

/// Median speeds at or above this, with no cadence to say otherwise, are not running: 6 m/s is
/// a 2:47/km pace, faster than any runner holds for a whole activity.
const FASTEST_RUN_MPS: f64 = 6.0;
/// Below this median speed the activity is a walk (a 9:16/km pace).
const SLOWEST_RUN_MPS: f64 = 1.8;
/// Running is at least this many steps per minute, both feet; walking is below it.
const LOWEST_RUN_CADENCE_SPM: f64 = 130.0;

/// [`judge_unnamed`] of a file with no label at all (the tests' shorthand).
#[cfg(test)]
pub fn judge_sport(samples: &[Sample]) -> Judged {
    judge_unnamed(samples, None)
}

/// The judgement of an activity whose file names no sport (or `label`, one Strideguard does
/// not know), as `unlabelled` says: from its samples, or a run because its export says so.
pub fn judge_unlabelled(
    samples: &[Sample],
    label: Option<&str>,
    unlabelled: super::Unlabelled,
) -> Judged {
    match unlabelled {
        super::Unlabelled::Judge => judge_unnamed(samples, label),
        super::Unlabelled::Run => Judged::Run {
            note: match label {
                None => "no sport in the file; taken as a run, as the export's list of \
                         activities says"
                    .to_string(),
                Some(l) => format!(
                    "the file's sport \"{}\" is not one Strideguard knows; taken as a run, as \
                     the export's list of activities says",
                    l.trim()
                ),
            },
        },
    }
}

/// Judges a stream with no sport named from its median cadence and speed while moving (samples
/// with speed above 0.5 m/s). Cadence decides when there is one: a ride's pedal strokes, read
/// as strides and doubled, look like a run's steps, so speed still rules out what no runner
/// could hold. With neither, the file is taken as a run, and the note says so. `label` is the
/// file's sport when it names one Strideguard does not know, named in the note or the reason.
pub fn judge_unnamed(samples: &[Sample], label: Option<&str>) -> Judged {
    let (note_why, reason_why) = match label {
        None => (
            "no sport in the file".to_string(),
            "the file names no sport".to_string(),
        ),
        Some(l) => {
            let why = format!(
                "the file's sport \"{}\" is not one Strideguard knows",
                l.trim()
            );
            (why.clone(), why)
        }
    };
    let moving: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.speed_mps.is_none_or(|v| v > 0.5))
        .collect();
    let speed = median(moving.iter().filter_map(|s| s.speed_mps).collect());
    let cadence = median(
        moving
            .iter()
            .filter_map(|s| s.cadence_spm)
            .filter(|c| *c > 0.0)
            .collect(),
    );
    let pace = |v: f64| {
        let s = (1000.0 / v).round() as i64;
        format!("{}:{:02}/km", s / 60, s % 60)
    };
    match (cadence, speed) {
        (_, Some(v)) if v > FASTEST_RUN_MPS => Judged::NotARun {
            reason: format!(
                "{reason_why}, and its median speed ({:.1} km/h) is faster than running: \
                 taken as a ride",
                v * 3.6
            ),
        },
        (Some(c), _) if c < LOWEST_RUN_CADENCE_SPM => Judged::NotARun {
            reason: format!("{reason_why}, and its median cadence ({c:.0} steps/min) is a walk's"),
        },
        (None, Some(v)) if v < SLOWEST_RUN_MPS => Judged::NotARun {
            reason: format!(
                "{reason_why}, and its median pace ({}) is a walk's",
                pace(v)
            ),
        },
        (Some(c), Some(v)) => Judged::Run {
            note: format!(
                "{note_why}: judged a run from its cadence ({c:.0} steps/min) and pace ({})",
                pace(v)
            ),
        },
        (Some(c), None) => Judged::Run {
            note: format!("{note_why}: judged a run from its cadence ({c:.0} steps/min)"),
        },
        (None, Some(v)) => Judged::Run {
            note: format!("{note_why}: judged a run from its pace ({})", pace(v)),
        },
        (None, None) => Judged::Run {
            note: format!("{note_why} and no speed or cadence to judge by: imported as a run"),
        },
    }
}

/// What a sport label in a file (a GPX `<type>`, a TCX `Sport`) says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sport {
    /// A run of any kind: road, trail, track, treadmill, virtual.
    Run,
    /// Another sport, by the name to tell the runner ("cycling", "swimming").
    Other(String),
    /// No sport: empty, `Other`, `generic`, `unknown`. Judge the samples.
    Unnamed,
    /// A label Strideguard does not know (a Strava code not in the table, an app's own word).
    /// Judge the samples, and say which label it was.
    Unknown(String),
}

/// Strava writes its activity type as a number in exported GPX `<trk><type>`. The codes are not
/// documented by Strava; these are the ones open-source readers of Strava exports agree on
/// (TomFryers/activate `activate/load_activity.py`: 1 Ride, 2 Ski, 9 Run, 10 Walk, 16 Swim,
/// 23 Row; 4 Hike as other Strava-export readers have it). Any other number is judged.
const STRAVA_CODES: [(&str, Option<&str>); 7] = [
    ("1", Some("cycling")),
    ("2", Some("skiing")),
    ("4", Some("hiking")),
    ("9", None),
    ("10", Some("walking")),
    ("16", Some("swimming")),
    ("23", Some("rowing")),
];

/// Words in a label that name a sport which is not running, checked before the running words so
/// that a swimrun or a "run/bike" brick is never taken for a run, and the name to give it.
const NOT_RUNNING: [(&str, &str); 17] = [
    ("swim", "swimming"),
    ("cycl", "cycling"),
    ("bik", "biking"),
    ("ride", "cycling"),
    ("velo", "cycling"),
    ("spin", "cycling"),
    ("ski", "skiing"),
    ("snowboard", "snowboarding"),
    ("skat", "skating"),
    ("row", "rowing"),
    ("paddl", "paddling"),
    ("kayak", "paddling"),
    ("canoe", "paddling"),
    ("surf", "surfing"),
    ("elliptical", "elliptical training"),
    ("wheelchair", "wheelchair"),
    ("handcycle", "cycling"),
];

/// Words of running, after the other sports: `running`, `Run`, `TrailRun`, `trail_running`,
/// `VirtualRun`, `treadmill`, `jogging`.
const RUNNING: [&str; 3] = ["run", "treadmill", "jog"];

/// Words of other on-foot sports, after the running words (a "run_walk" session is a run).
const ON_FOOT: [(&str, &str); 5] = [
    ("walk", "walking"),
    ("hik", "hiking"),
    ("mountaineer", "mountaineering"),
    ("snowshoe", "snowshoeing"),
    ("climb", "climbing"),
];

/// Labels that name no sport at all.
const UNNAMED: [&str; 6] = ["", "other", "generic", "unknown", "none", "all"];

/// Reads a sport label in any of the spellings apps write: case, spaces, `_` and `-` do not
/// matter (`Run`, `running`, `TrailRun`, `trail_running`, `Biking`, `cycling`), and Strava's
/// numeric codes are read by [`STRAVA_CODES`].
pub fn sport_of(label: &str) -> Sport {
    let trimmed = label.trim();
    if let Some((code, sport)) = STRAVA_CODES.iter().find(|(c, _)| *c == trimmed) {
        return match sport {
            None => Sport::Run,
            Some(name) => Sport::Other(format!("{name} (Strava type {code})")),
        };
    }
    let key: String = trimmed
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect();
    if UNNAMED.contains(&key.as_str()) {
        return Sport::Unnamed;
    }
    if let Some((_, name)) = NOT_RUNNING.iter().find(|(w, _)| key.contains(w)) {
        return Sport::Other((*name).to_string());
    }
    if RUNNING.iter().any(|w| key.contains(w)) {
        return Sport::Run;
    }
    if let Some((_, name)) = ON_FOOT.iter().find(|(w, _)| key.contains(w)) {
        return Sport::Other((*name).to_string());
    }
    Sport::Unknown(trimmed.to_string())
}

/// The entry for an activity whose samples are read: a run or a skip as its label says, and a
/// file that names no sport (or one Strideguard does not know) judged from its samples.
pub fn by_sport(
    sport: &Sport,
    run: Run,
    samples: Vec<Sample>,
    unlabelled: super::Unlabelled,
) -> super::Parsed {
    use super::Parsed;
    let judged = match sport {
        Sport::Run => {
            return Parsed::Run {
                run,
                samples,
                note: None,
            };
        }
        Sport::Other(name) => {
            return Parsed::NotARun {
                reason: not_a_run(name),
            };
        }
        Sport::Unnamed => judge_unlabelled(&samples, None, unlabelled),
        Sport::Unknown(label) => judge_unlabelled(&samples, Some(label), unlabelled),
    };
    match judged {
        Judged::Run { note } => Parsed::Run {
            run,
            samples,
            note: Some(note),
        },
        Judged::NotARun { reason } => Parsed::NotARun { reason },
    }
}

/// Why an activity of another sport is skipped.
pub fn not_a_run(sport: &str) -> String {
    format!("the activity is {sport}, not a run")
}
#[cfg(test)]
mod tests {
    use super::*;

    fn alt(v: &[f64]) -> Vec<Sample> {
        v.iter()
            .enumerate()
            .map(|(i, a)| Sample {
                t_s: i as f64,
                altitude_m: Some(*a),
                ..Sample::default()
            })
            .collect()
    }

    #[test]
    fn haversine_matches_a_known_distance() {
        // One degree of latitude is about 111.2 km.
        let d = haversine_m((52.0, 13.0), (53.0, 13.0));
        assert!((d - 111_195.0).abs() < 5.0, "{d}");
        assert_eq!(haversine_m((1.0, 2.0), (1.0, 2.0)), 0.0);
    }

    #[test]
    fn gps_noise_adds_no_climb_but_a_real_hill_does() {
        let noise = alt(&[30.0, 31.5, 29.2, 30.8, 29.9, 31.9, 30.1, 29.0, 30.5]);
        assert_eq!(elevation_gain_loss(&noise, 3.0), Some((0.0, 0.0)));
        let hill: Vec<f64> = (0..=40)
            .map(|i| 30.0 + i as f64 * 0.5)
            .chain((0..=40).map(|i| 50.0 - i as f64 * 0.5))
            .collect();
        let (gain, loss) = elevation_gain_loss(&alt(&hill), 3.0).unwrap();
        assert!(
            (gain - 18.0).abs() <= 3.0 && (loss - 18.0).abs() <= 3.0,
            "{gain} {loss}"
        );
    }

    #[test]
    fn one_foot_cadence_is_doubled_and_both_feet_kept() {
        let stream = |cad: f64| -> Vec<Sample> {
            (0..10)
                .map(|i| Sample {
                    t_s: i as f64,
                    speed_mps: Some(3.0),
                    cadence_spm: Some(cad),
                    ..Sample::default()
                })
                .collect()
        };
        let mut one_foot = stream(86.0);
        normalise_cadence(&mut one_foot);
        assert!(one_foot.iter().all(|s| s.cadence_spm == Some(172.0)));
        let mut both = stream(172.0);
        normalise_cadence(&mut both);
        assert!(both.iter().all(|s| s.cadence_spm == Some(172.0)));
    }

    #[test]
    fn a_stream_without_a_sport_is_judged_by_cadence_and_speed() {
        let stream = |cad: Option<f64>, speed: Option<f64>| -> Vec<Sample> {
            (0..60)
                .map(|i| Sample {
                    t_s: i as f64,
                    speed_mps: speed,
                    cadence_spm: cad,
                    ..Sample::default()
                })
                .collect()
        };
        assert!(matches!(
            judge_sport(&stream(Some(172.0), Some(3.2))),
            Judged::Run { note } if note.contains("172 steps/min") && note.contains("5:13/km")
        ));
        assert!(matches!(
            judge_sport(&stream(Some(110.0), Some(1.4))),
            Judged::NotARun { reason } if reason.contains("walk")
        ));
        // A ride read as steps: the cadence looks like running, the speed cannot be.
        assert!(matches!(
            judge_sport(&stream(Some(170.0), Some(8.5))),
            Judged::NotARun { reason } if reason.contains("ride")
        ));
        assert!(matches!(
            judge_sport(&stream(None, Some(1.2))),
            Judged::NotARun { reason } if reason.contains("walk")
        ));
        assert!(matches!(
            judge_sport(&stream(None, None)),
            Judged::Run { .. }
        ));
    }

    #[test]
    fn distance_and_speed_in_one_pass_are_the_same_as_in_two() {
        let track: Vec<Sample> = (0..50)
            .map(|i| Sample {
                t_s: (i / 2) as f64,
                lat_deg: (i % 7 != 3).then_some(52.0 + i as f64 * 0.0001),
                lon_deg: Some(13.0 + (i % 3) as f64 * 0.00005),
                ..Sample::default()
            })
            .collect();
        let breaks = [10, 11, 30];
        let mut two = track.clone();
        fill_distance(&mut two, &breaks);
        fill_speed(&mut two);
        let mut one = track;
        fill_distance_and_speed(&mut one, &breaks);
        assert_eq!(one, two);
    }

    #[test]
    fn distance_and_speed_are_derived_when_missing() {
        let mut s: Vec<Sample> = (0..3)
            .map(|i| Sample {
                t_s: i as f64 * 10.0,
                lat_deg: Some(52.0 + i as f64 * 0.0003),
                lon_deg: Some(13.0),
                ..Sample::default()
            })
            .collect();
        fill_distance(&mut s, &[]);
        fill_speed(&mut s);
        let d = s[2].distance_m.unwrap();
        assert!((d - 66.7).abs() < 0.5, "{d}");
        assert!((s[1].speed_mps.unwrap() - 3.34).abs() < 0.05);
        assert_eq!(s[0].speed_mps, None);
    }
}
