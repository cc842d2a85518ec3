//! Training Center XML: Activities/Activity/Lap/Track/Trackpoint, read in one streaming pass with
//! quick-xml. Heart rate from `HeartRateBpm/Value`, cadence from `Cadence` or the activity
//! extension's `RunCadence`, speed from the extension's `Speed`.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use quick_xml::Reader;
use quick_xml::events::Event;

use super::stream::{
    fill_distance, fill_speed, local_start, non_running_sport, normalise_cadence, summarise,
};
use super::{ImportError, Parsed};
use crate::model::{RunSource, Sample};

fn malformed(reason: impl Into<String>) -> ImportError {
    ImportError::Malformed {
        format: "TCX",
        reason: reason.into(),
    }
}

fn time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn max_opt(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    }
}

/// A trackpoint as read, with its absolute time.
struct Point {
    at: Option<DateTime<Utc>>,
    sample: Sample,
}

#[derive(Default)]
struct Totals {
    lap_start: Option<DateTime<Utc>>,
    id: Option<DateTime<Utc>>,
    time_s: f64,
    distance_m: f64,
    max_hr: Option<f64>,
    laps: usize,
}

pub(super) fn parse(bytes: &[u8], zone: Tz) -> Result<Vec<Parsed>, ImportError> {
    let text = super::xml_text("TCX", bytes)?;
    let mut reader = Reader::from_str(text);
    let mut path: Vec<String> = Vec::new();
    let mut points: Vec<Point> = Vec::new();
    let mut totals = Totals::default();
    let mut sport: Option<String> = None;
    let mut saw_root = false;
    loop {
        let event = super::next_xml_event("TCX", &mut reader)?;
        match event {
            Event::Start(e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref().as_bytes()).into_owned();
                match name.as_str() {
                    "TrainingCenterDatabase" => saw_root = true,
                    "Activity" if sport.is_none() => {
                        sport = e.try_get_attribute("Sport").ok().flatten().and_then(|a| {
                            a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                                .ok()
                                .map(|v| v.into_owned())
                        });
                    }
                    "Lap" => {
                        totals.laps += 1;
                        if totals.lap_start.is_none() {
                            totals.lap_start = e
                                .try_get_attribute("StartTime")
                                .ok()
                                .flatten()
                                .and_then(|a| {
                                    a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                                        .ok()
                                        .and_then(|v| time(&v))
                                });
                        }
                    }
                    "Trackpoint" => points.push(Point {
                        at: None,
                        sample: Sample::default(),
                    }),
                    _ => {}
                }
                path.push(name);
            }
            Event::End(_) => {
                path.pop();
            }
            Event::Text(t) => {
                let value = t.trim();
                if value.is_empty() {
                    continue;
                }
                let n = path.len();
                let last = path.last().map(String::as_str).unwrap_or("");
                let parent = if n >= 2 { path[n - 2].as_str() } else { "" };
                let num = || value.parse::<f64>().ok().filter(|v| v.is_finite());
                let in_point = path.iter().any(|p| p == "Trackpoint");
                if in_point {
                    let Some(p) = points.last_mut() else { continue };
                    let s = &mut p.sample;
                    match (parent, last) {
                        (_, "Time") => p.at = time(value),
                        ("Position", "LatitudeDegrees") => s.lat_deg = num(),
                        ("Position", "LongitudeDegrees") => s.lon_deg = num(),
                        (_, "AltitudeMeters") => s.altitude_m = num(),
                        ("Trackpoint", "DistanceMeters") => s.distance_m = num(),
                        ("HeartRateBpm", "Value") => {
                            s.hr_bpm = num().filter(|h| (1.0..=255.0).contains(h)).map(|h| h as u8)
                        }
                        ("Trackpoint", "Cadence") | (_, "RunCadence") => s.cadence_spm = num(),
                        (_, "Speed") => s.speed_mps = num(),
                        _ => {}
                    }
                } else {
                    match (parent, last) {
                        ("Activity", "Id") => totals.id = time(value),
                        ("Lap", "TotalTimeSeconds") => totals.time_s += num().unwrap_or(0.0),
                        ("Lap", "DistanceMeters") => totals.distance_m += num().unwrap_or(0.0),
                        ("MaximumHeartRateBpm", "Value") => {
                            totals.max_hr = max_opt(totals.max_hr, num());
                        }
                        _ => {}
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !path.is_empty() {
        return Err(malformed(format!(
            "the file ends inside <{}>",
            path.join("><")
        )));
    }
    if !saw_root {
        return Err(malformed("no <TrainingCenterDatabase> element"));
    }
    let sport = sport.ok_or_else(|| malformed("no <Activity> element"))?;
    if non_running_sport(&sport) {
        return Ok(vec![Parsed::NotARun {
            reason: format!("the activity is {}, not a run", sport.to_ascii_lowercase()),
        }]);
    }
    let start = totals
        .lap_start
        .or(totals.id)
        .or_else(|| points.iter().find_map(|p| p.at))
        .ok_or_else(|| malformed("no start time (no Lap StartTime, Id or Trackpoint Time)"))?;
    let mut samples: Vec<Sample> = points
        .into_iter()
        .filter_map(|p| {
            let at = p.at?;
            let t_s = (at - start).num_milliseconds() as f64 / 1000.0;
            (t_s >= 0.0).then_some(Sample { t_s, ..p.sample })
        })
        .collect();
    samples.sort_by(|a, b| a.t_s.total_cmp(&b.t_s));
    fill_distance(&mut samples);
    fill_speed(&mut samples);
    normalise_cadence(&mut samples);
    let mut run = summarise(&samples, local_start(start, zone), RunSource::Tcx);
    if totals.distance_m > 0.0 {
        run.distance_m = totals.distance_m;
    }
    if totals.time_s > 0.0 {
        run.moving_time_s = Some(totals.time_s);
        run.duration_s = run.duration_s.max(totals.time_s);
    }
    run.max_hr_bpm = max_opt(run.max_hr_bpm, totals.max_hr);
    if run.duration_s <= 0.0 {
        return Err(malformed(format!(
            "the activity has no duration ({} laps, {} trackpoints)",
            totals.laps,
            samples.len()
        )));
    }
    Ok(vec![Parsed::Run {
        run,
        samples,
        note: None,
    }])
}
