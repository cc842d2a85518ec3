//! Training Center XML: Activities/Activity/Lap/Track/Trackpoint, read in one streaming pass with
//! quick-xml.
//!
//! - Every `<Activity>` is one entry, in file order (a file of several activities, or a
//!   multisport session's legs), with its own laps, trackpoints and totals, and its own `Sport`:
//!   `Running` is a run, `Biking` (or any other sport named) a skip that says so, and `Other` or
//!   none is judged from the samples.
//! - Trackpoints stay in file order (a time that jitters back takes the time before it), and a
//!   new `<Track>` (written after a pause) starts a new piece: no distance or moving time from the
//!   end of one to the start of the next.
//! - Heart rate from `HeartRateBpm/Value`, cadence from `Cadence` or the activity extension's
//!   `RunCadence`, speed from its `Speed`, power from its `Watts`. The laps' `TotalTimeSeconds`
//!   (the watch's timer) is the moving time when there is one; without, it is counted from the
//!   samples.
//! - A bad time or position is an error naming the line and the elements open there.

use chrono::{DateTime, Utc};
use quick_xml::events::{BytesStart, Event};

use super::stream::{
    Sport, by_sport, fill_distance, fill_speed, local_start, moving_time, normalise_cadence,
    place_in_time, sport_of, summarise,
};
use super::xml::{self, Xml};
use super::{Context, ImportError, Parsed};
use crate::model::{RunSource, Sample};

/// What an open element is to the reader.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Tag {
    Root,
    Activity,
    /// The activity's `<Id>` (its start time).
    Id,
    Lap,
    LapTime,
    LapDistance,
    LapMaxHr,
    LapMaxHrValue,
    Track,
    Trackpoint,
    Time,
    Position,
    Lat,
    Lon,
    Altitude,
    Distance,
    Hr,
    HrValue,
    Cadence,
    /// A trackpoint's `<Extensions>`, and any container inside it.
    Ext,
    Speed,
    RunCadence,
    Watts,
    /// Anything else outside an activity (`Activities`, `MultiSportSession`, `Courses`...):
    /// an `<Activity>` may be inside.
    Outside,
    /// Anything else: read past, with everything inside it.
    Other,
}

fn classify(parent: Option<Tag>, local: &str) -> Tag {
    use Tag::*;
    match (parent, local) {
        (None, "TrainingCenterDatabase") => Root,
        // Activities/Activity, and MultiSportSession/FirstSport/Activity.
        (Some(Root | Outside), "Activity") => Activity,
        (Some(Root | Outside), "Courses" | "Workouts" | "Author" | "Folders") => Other,
        (Some(Root | Outside), _) => Outside,
        (Some(Activity), "Id") => Id,
        (Some(Activity), "Lap") => Lap,
        (Some(Lap), "TotalTimeSeconds") => LapTime,
        (Some(Lap), "DistanceMeters") => LapDistance,
        (Some(Lap), "MaximumHeartRateBpm") => LapMaxHr,
        (Some(LapMaxHr), "Value") => LapMaxHrValue,
        (Some(Lap), "Track") => Track,
        (Some(Track), "Trackpoint") => Trackpoint,
        (Some(Trackpoint), "Time") => Time,
        (Some(Trackpoint), "Position") => Position,
        (Some(Position), "LatitudeDegrees") => Lat,
        (Some(Position), "LongitudeDegrees") => Lon,
        (Some(Trackpoint), "AltitudeMeters") => Altitude,
        (Some(Trackpoint), "DistanceMeters") => Distance,
        (Some(Trackpoint), "HeartRateBpm") => Hr,
        (Some(Hr), "Value") => HrValue,
        (Some(Trackpoint), "Cadence") => Cadence,
        (Some(Trackpoint), "Extensions") => Ext,
        (Some(Ext), "Speed") => Speed,
        (Some(Ext), "RunCadence") => RunCadence,
        (Some(Ext), "Watts") => Watts,
        (Some(Ext), _) => Ext,
        _ => Other,
    }
}

fn local_name<'e>(e: &'e BytesStart) -> &'e str {
    xml::local_name(e.name().0)
}

/// A trackpoint as read, with its absolute time.
struct Point {
    at: Option<DateTime<Utc>>,
    sample: Sample,
    /// Has a `<Position>` whose numbers are no place on Earth: a pause marker.
    off_earth: bool,
    /// Starts a new `<Track>`.
    breaks: bool,
}

/// One `<Activity>` as read.
struct Activity {
    sport: Sport,
    id: Option<DateTime<Utc>>,
    lap_start: Option<DateTime<Utc>>,
    laps: usize,
    time_s: f64,
    distance_m: f64,
    max_hr: Option<f64>,
    points: Vec<Point>,
    new_track: bool,
}

impl Activity {
    fn new(e: &BytesStart) -> Activity {
        let sport = attribute(e, "Sport").map_or(Sport::Unnamed, |s| sport_of(&s));
        Activity {
            sport,
            id: None,
            lap_start: None,
            laps: 0,
            time_s: 0.0,
            distance_m: 0.0,
            max_hr: None,
            points: Vec::new(),
            new_track: false,
        }
    }
}

fn attribute(e: &BytesStart, name: &str) -> Option<String> {
    e.try_get_attribute(name).ok().flatten().and_then(|a| {
        a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .ok()
            .map(|v| v.into_owned())
    })
}

fn max_opt(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    }
}

pub(super) fn parse(bytes: &[u8], cx: Context) -> Result<Vec<Parsed>, ImportError> {
    let text = xml::text("TCX", bytes)?;
    let mut xml: Xml<Tag> = Xml::new("TCX", text);
    let mut done: Vec<Parsed> = Vec::new();
    let mut current: Option<Activity> = None;
    let mut saw_root = false;
    loop {
        match xml.next()? {
            Event::Start(e) => {
                let tag = open(&mut xml, &mut current, &e)?;
                saw_root |= tag == Tag::Root;
            }
            Event::Empty(e) => {
                let tag = open(&mut xml, &mut current, &e)?;
                saw_root |= tag == Tag::Root;
                close(&xml, &mut current, &mut done, cx)?;
                xml.close();
            }
            Event::End(e) => {
                xml.expect_end(e.name().as_ref())?;
                close(&xml, &mut current, &mut done, cx)?;
                xml.close();
            }
            Event::Text(t) => {
                if let Some(a) = current.as_mut() {
                    value(&xml, a, &t)?;
                }
            }
            Event::CData(t) => {
                if let Some(a) = current.as_mut() {
                    value(&xml, a, &t)?;
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if xml.depth() > 0 {
        return Err(xml.unfinished());
    }
    if !saw_root {
        return Err(xml.whole("no <TrainingCenterDatabase> element"));
    }
    if done.is_empty() {
        return Err(xml.whole("no <Activity> element"));
    }
    Ok(done)
}

fn open(
    xml: &mut Xml<Tag>,
    current: &mut Option<Activity>,
    e: &BytesStart,
) -> Result<Tag, ImportError> {
    let parent = xml.top();
    let local = local_name(e);
    if parent.is_none() && local != "TrainingCenterDatabase" {
        return Err(xml.error(&format!(
            "the document is <{}>, not <TrainingCenterDatabase>",
            e.name().0
        )));
    }
    let tag = match parent {
        Some(Tag::Other) => Tag::Other,
        _ => classify(parent, local),
    };
    xml.open(tag, e.name().0.len());
    match tag {
        Tag::Activity => *current = Some(Activity::new(e)),
        Tag::Lap => {
            if let Some(a) = current.as_mut() {
                a.laps += 1;
                if a.lap_start.is_none() {
                    a.lap_start = attribute(e, "StartTime").and_then(|t| xml::time(&t));
                }
            }
        }
        Tag::Track => {
            if let Some(a) = current.as_mut() {
                a.new_track = true;
            }
        }
        Tag::Trackpoint => {
            if let Some(a) = current.as_mut() {
                let after_pause = a.points.last().is_some_and(|p| p.off_earth);
                let breaks = std::mem::take(&mut a.new_track) || after_pause;
                a.points.push(Point {
                    at: None,
                    sample: Sample::default(),
                    off_earth: false,
                    breaks,
                });
            }
        }
        _ => {}
    }
    Ok(tag)
}

/// Closes the innermost element (before [`Xml::close`] pops it): a trackpoint's position is
/// checked, and a finished activity becomes its entry.
fn close(
    xml: &Xml<Tag>,
    current: &mut Option<Activity>,
    done: &mut Vec<Parsed>,
    cx: Context,
) -> Result<(), ImportError> {
    match xml.top() {
        Some(Tag::Position) => {
            if let Some(p) = current.as_mut().and_then(|a| a.points.last_mut()) {
                let s = &mut p.sample;
                match (s.lat_deg, s.lon_deg) {
                    (Some(lat), Some(lon)) if xml::on_earth(lat, lon) => {}
                    (Some(_), Some(_)) => {
                        // A pause marker: no position, and the track breaks on both sides.
                        s.lat_deg = None;
                        s.lon_deg = None;
                        p.off_earth = true;
                        p.breaks = true;
                    }
                    // Half a position is none.
                    _ => {
                        s.lat_deg = None;
                        s.lon_deg = None;
                    }
                }
            }
        }
        Some(Tag::Trackpoint) => {
            // A trackpoint without a time cannot be placed in the run: left out.
            if let Some(a) = current.as_mut()
                && a.points.last().is_some_and(|p| p.at.is_none())
                && let Some(p) = a.points.pop()
                && p.breaks
            {
                a.new_track = true;
            }
        }
        Some(Tag::Activity) => {
            if let Some(a) = current.take() {
                done.push(finish(xml, a, done.len() + 1, cx)?);
            }
        }
        _ => {}
    }
    Ok(())
}

/// The text of the innermost element of the activity being read.
fn value(xml: &Xml<Tag>, a: &mut Activity, text: &str) -> Result<(), ImportError> {
    let Some(tag) = xml.top() else {
        return Ok(());
    };
    match tag {
        Tag::Id => a.id = xml::time(text),
        Tag::LapTime => a.time_s += xml::number(text).filter(|t| *t > 0.0).unwrap_or(0.0),
        Tag::LapDistance => a.distance_m += xml::number(text).filter(|d| *d > 0.0).unwrap_or(0.0),
        Tag::LapMaxHrValue => a.max_hr = max_opt(a.max_hr, xml::number(text)),
        Tag::Time
        | Tag::Lat
        | Tag::Lon
        | Tag::Altitude
        | Tag::Distance
        | Tag::HrValue
        | Tag::Cadence
        | Tag::Speed
        | Tag::RunCadence
        | Tag::Watts => {
            let Some(p) = a.points.last_mut() else {
                return Ok(());
            };
            let s = &mut p.sample;
            let num = || xml::number(text);
            let coordinate = |what: &str| {
                num().ok_or_else(|| {
                    xml.error(&format!("{what} \"{}\" is not a number", text.trim()))
                })
            };
            match tag {
                Tag::Time => {
                    p.at = Some(xml::time(text).ok_or_else(|| {
                        xml.error(&format!("time \"{}\" is not a date and time", text.trim()))
                    })?)
                }
                Tag::Lat => s.lat_deg = Some(coordinate("latitude")?),
                Tag::Lon => s.lon_deg = Some(coordinate("longitude")?),
                Tag::Altitude => s.altitude_m = num().or(s.altitude_m),
                Tag::Distance => s.distance_m = num().filter(|d| *d >= 0.0).or(s.distance_m),
                Tag::HrValue => {
                    s.hr_bpm = num()
                        .filter(|h| (1.0..=255.0).contains(h))
                        .map(|h| h.round() as u8)
                        .or(s.hr_bpm)
                }
                Tag::Cadence | Tag::RunCadence => {
                    s.cadence_spm = num().filter(|c| *c >= 0.0).or(s.cadence_spm)
                }
                Tag::Speed => s.speed_mps = num().filter(|v| *v >= 0.0).or(s.speed_mps),
                Tag::Watts => s.power_w = num().filter(|w| *w >= 0.0).or(s.power_w),
                _ => {}
            }
        }
        _ => {}
    }
    Ok(())
}

/// The entry for one activity (`n` counts from 1, for errors).
fn finish(xml: &Xml<Tag>, a: Activity, n: usize, cx: Context) -> Result<Parsed, ImportError> {
    if let Sport::Other(name) = &a.sport {
        return Ok(Parsed::NotARun {
            reason: super::stream::not_a_run(name),
        });
    }
    let start = a
        .lap_start
        .or(a.id)
        .or_else(|| a.points.iter().find_map(|p| p.at))
        .ok_or_else(|| {
            xml.error(&format!(
                "activity {n} has no start time (no Lap StartTime, Id or Trackpoint Time)"
            ))
        })?;
    let times: Vec<DateTime<Utc>> = a.points.iter().filter_map(|p| p.at).collect();
    let mut breaks = Vec::new();
    let mut samples: Vec<Sample> = Vec::with_capacity(a.points.len());
    for (i, p) in a.points.into_iter().enumerate() {
        if p.breaks && i > 0 {
            breaks.push(i);
        }
        samples.push(p.sample);
    }
    place_in_time(&mut samples, &times, start);
    fill_distance(&mut samples, &breaks);
    fill_speed(&mut samples);
    normalise_cadence(&mut samples);
    let mut run = summarise(&samples, local_start(start, cx.zone), RunSource::Tcx);
    // Lap totals that add up past any real number (a damaged file) are not totals.
    if a.distance_m > 0.0 && a.distance_m.is_finite() {
        run.distance_m = a.distance_m;
    }
    if a.time_s > 0.0 && a.time_s.is_finite() {
        // The watch's own timer, which stops in its pauses.
        run.moving_time_s = Some(a.time_s);
        run.duration_s = run.duration_s.max(a.time_s);
    } else {
        run.moving_time_s = Some(moving_time(&samples, &breaks));
    }
    run.max_hr_bpm = max_opt(run.max_hr_bpm, a.max_hr);
    if run.duration_s <= 0.0 {
        return Err(xml.error(&format!(
            "activity {n} has no duration ({} laps, {} trackpoints)",
            a.laps,
            samples.len()
        )));
    }
    Ok(by_sport(&a.sport, run, samples, cx.unlabelled))
}
