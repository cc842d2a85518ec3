//! GPX 1.0 and 1.1 tracks, read in one streaming pass with quick-xml (no document tree: a
//! 10-hour track is read as fast per byte as TCX).
//!
//! What real files hold, and how it is read:
//! - Points stay in file order. A clock that jitters back keeps the point in its place (it takes
//!   the time of the point before): sorting by time zig-zags between neighbours and once made a
//!   track three times its length.
//! - Each `<trk>` and `<trkseg>` is a piece of the recording: no distance or moving time is
//!   counted from the end of one to the start of the next.
//! - A point at an impossible place (some apps mark a pause with latitude 100) is a pause: it
//!   has no position and breaks the distance like a new segment.
//! - Everything else valid GPX may hold in a point (`course`, `magvar`, `sat`, `hdop`, `name`,
//!   `link`, ...), routes, waypoints and extensions in any namespace are read or skipped, never
//!   an error. Heart rate, cadence, speed and power come from every common extension spelling:
//!   Garmin's TrackPointExtension v1/v2 (`hr`, `cad`, `speed`), Cluetrust's `gpxdata:hr` and
//!   `gpxdata:cadence`, `heartrate`, `RunCadence`, `power`, `PowerInWatts`, with or without a
//!   namespace prefix; GPX 1.0's `<speed>` in the point itself.
//! - The sport is the track's (or the metadata's) `<type>`, in any spelling apps write and as
//!   Strava's numeric codes (see [`super::stream::sport_of`]). A file with no type is judged from
//!   its samples, and the run's note says so.
//! - A bad time or position is an error naming the line and the elements open there; a sensor
//!   value that is not a number is one lost reading, and is skipped.

use chrono::{DateTime, Utc};
use quick_xml::events::{BytesStart, Event};

use super::stream::{
    Sport, by_sport, fill_distance, fill_distance_and_speed, local_start, moving_time,
    normalise_cadence, place_in_time, sport_of, summarise,
};
use super::xml::{self, Step, Xml};
use super::{Context, ImportError, Parsed};
use crate::model::{RunSource, Sample};

/// What an open element is to the reader.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Tag {
    Gpx,
    Metadata,
    Trk,
    Trkseg,
    Trkpt,
    /// `<type>` of the track or of the metadata.
    Type,
    Time,
    Ele,
    Speed,
    /// `<extensions>` of a point, and any container inside it.
    Ext,
    Hr,
    Cad,
    Power,
    /// Anything else: read past, with everything inside it.
    Other,
}

/// Which channel an extension element holds, by its local name in any case.
fn extension_tag(local: &str) -> Tag {
    const HR: [&str; 4] = ["hr", "heartrate", "heart_rate", "heartratebpm"];
    const CAD: [&str; 3] = ["cad", "cadence", "runcadence"];
    const POWER: [&str; 3] = ["power", "powerinwatts", "watts"];
    // Garmin's spelling first: nearly every file has it on every point.
    match local {
        "hr" => return Tag::Hr,
        "cad" => return Tag::Cad,
        "TrackPointExtension" => return Tag::Ext,
        _ => {}
    }
    let is = |names: &[&str]| names.iter().any(|n| n.eq_ignore_ascii_case(local));
    if is(&HR) {
        Tag::Hr
    } else if is(&CAD) {
        Tag::Cad
    } else if local.eq_ignore_ascii_case("speed") {
        Tag::Speed
    } else if is(&POWER) {
        Tag::Power
    } else {
        Tag::Ext
    }
}

/// The kind of an element named `local` inside `parent`.
fn classify(parent: Option<Tag>, local: &str) -> Tag {
    match (parent, local) {
        (None, "gpx") => Tag::Gpx,
        (Some(Tag::Gpx), "metadata") => Tag::Metadata,
        (Some(Tag::Gpx), "trk") => Tag::Trk,
        (Some(Tag::Metadata | Tag::Trk), "type") => Tag::Type,
        (Some(Tag::Trk), "trkseg") => Tag::Trkseg,
        (Some(Tag::Trkseg), "trkpt") => Tag::Trkpt,
        (Some(Tag::Trkpt), "time") => Tag::Time,
        (Some(Tag::Trkpt), "ele") => Tag::Ele,
        (Some(Tag::Trkpt), "speed") => Tag::Speed,
        (Some(Tag::Trkpt), "extensions") => Tag::Ext,
        (Some(Tag::Ext), name) => extension_tag(name),
        _ => Tag::Other,
    }
}

/// The point being read.
struct Open {
    at: Option<DateTime<Utc>>,
    /// Does not continue from the point before (a new track or segment, a pause either side).
    breaks: bool,
}

/// What the pass has read so far. The samples are kept as read, their times beside them, so
/// that nothing is copied again at the end.
#[derive(Default)]
struct Reading {
    samples: Vec<Sample>,
    /// The time of each sample.
    times: Vec<DateTime<Utc>>,
    /// The indices of samples that do not continue from the one before.
    breaks: Vec<usize>,
    point: Option<Open>,
    /// Every `<type>` of a track or the metadata, as written.
    types: Vec<String>,
    /// The next point starts a new piece of the recording.
    new_piece: bool,
    /// `<trkpt>` elements seen, with a time or without.
    trkpts: usize,
    /// Some point has a speed of its own: the others' are not derived.
    has_speed: bool,
    /// The steps of the point being read by a plain scan (kept to reuse their room).
    steps: Vec<Step>,
}

pub(super) fn parse(bytes: &[u8], cx: Context) -> Result<Vec<Parsed>, ImportError> {
    parse_with(bytes, cx, true)
}

/// [`parse`], with the plain scan of points on or off: the tests check that both read every
/// file alike.
pub(super) fn parse_with(
    bytes: &[u8],
    cx: Context,
    plain_scan: bool,
) -> Result<Vec<Parsed>, ImportError> {
    let text = xml::text("GPX", bytes)?;
    let mut xml: Xml<Tag> = Xml::new("GPX", text);
    let mut r = Reading {
        samples: Vec::with_capacity(bytes.len() / 200),
        times: Vec::with_capacity(bytes.len() / 200),
        ..Reading::default()
    };
    let mut saw_root = false;
    loop {
        match xml.next()? {
            Event::Start(e) => {
                let tag = open(&mut xml, &mut r, &e)?;
                saw_root |= tag == Tag::Gpx;
                if tag == Tag::Trkpt && plain_scan {
                    read_point(&mut xml, &mut r)?;
                }
            }
            Event::Empty(e) => {
                let tag = open(&mut xml, &mut r, &e)?;
                saw_root |= tag == Tag::Gpx;
                close(&mut xml, &mut r);
            }
            Event::End(e) => {
                xml.expect_end(e.name().as_ref())?;
                close(&mut xml, &mut r);
            }
            Event::Text(t) => value(&xml, &mut r, &t)?,
            Event::CData(t) => value(&xml, &mut r, &t)?,
            Event::GeneralRef(g) => {
                // Only a type's text can hold an entity worth keeping ("Run &amp; Walk").
                if xml.top() == Some(Tag::Type)
                    && let Some(t) = r.types.last_mut()
                {
                    t.push_str(match &*g {
                        "amp" => "&",
                        "lt" => "<",
                        "gt" => ">",
                        "quot" => "\"",
                        "apos" => "'",
                        _ => "",
                    });
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
        return Err(xml.whole("no <gpx> element"));
    }
    finish(&xml, r, cx)
}

/// Opens an element: reads a point's position from its attributes, and marks where a new
/// track or segment begins.
fn open(xml: &mut Xml<Tag>, r: &mut Reading, e: &BytesStart) -> Result<Tag, ImportError> {
    let parent = xml.top();
    if parent.is_none() && xml_local(e) != "gpx" {
        return Err(xml.error(&format!(
            "the document is <{}>, not <gpx>",
            e.name().as_ref()
        )));
    }
    let tag = kind(parent, xml_local(e));
    xml.open(tag, e.name().as_ref().len());
    match tag {
        Tag::Trk | Tag::Trkseg => r.new_piece = true,
        Tag::Type => r.types.push(String::new()),
        Tag::Trkpt => {
            r.trkpts += 1;
            let (lat, lon) = position(xml, e)?;
            let on_earth = xml::on_earth(lat, lon);
            let mut sample = Sample::default();
            if on_earth {
                sample.lat_deg = Some(lat);
                sample.lon_deg = Some(lon);
            }
            // A pause marker breaks the track on both sides.
            let after_pause = r.samples.last().is_some_and(|p| p.lat_deg.is_none());
            r.samples.push(sample);
            r.point = Some(Open {
                at: None,
                breaks: std::mem::take(&mut r.new_piece) || !on_earth || after_pause,
            });
        }
        _ => {}
    }
    Ok(tag)
}

/// The kind of an element named `local` opened inside `parent`.
fn kind(parent: Option<Tag>, local: &str) -> Tag {
    match parent {
        // Inside anything the reader skips, everything is skipped without a look.
        Some(Tag::Other | Tag::Hr | Tag::Cad | Tag::Power | Tag::Speed | Tag::Time | Tag::Ele) => {
            Tag::Other
        }
        _ => classify(parent, local),
    }
}

/// The rest of a `<trkpt>` just opened, through its end tag: by a plain scan when it is plain
/// XML (nearly every point is), replayed through the same steps as events would be; otherwise
/// left to the event reader.
fn read_point(xml: &mut Xml<Tag>, r: &mut Reading) -> Result<(), ImportError> {
    let mut steps = std::mem::take(&mut r.steps);
    let read = xml.plain_content(&mut steps);
    let replayed = match read {
        Some(_) => replay(xml, r, &steps),
        None => Ok(()),
    };
    r.steps = steps;
    replayed?;
    if let Some(end) = read {
        xml.resume_at(end);
    }
    Ok(())
}

/// What the events of a plain stretch would have done. Inside a point, elements only hold
/// values: opening one has no effect but its place on the stack.
fn replay(xml: &mut Xml<Tag>, r: &mut Reading, steps: &[Step]) -> Result<(), ImportError> {
    for step in steps {
        match *step {
            Step::Open {
                at,
                name_at,
                name_len,
                empty,
            } => {
                xml.replaying_at(at);
                let local = xml::local_name(xml.slice(name_at, name_at + name_len));
                let tag = kind(xml.top(), local);
                debug_assert!(!matches!(
                    tag,
                    Tag::Trk | Tag::Trkseg | Tag::Trkpt | Tag::Type
                ));
                xml.open_named(tag, name_at, name_len);
                if empty {
                    close(xml, r);
                }
            }
            Step::Text { at, from, to } => {
                xml.replaying_at(at);
                value(xml, r, xml.slice(from, to))?;
            }
            Step::Close { at } => {
                xml.replaying_at(at);
                close(xml, r);
            }
        }
    }
    Ok(())
}

fn xml_local<'e>(e: &'e BytesStart) -> &'e str {
    xml::local_name(e.name().0)
}

/// A point's `lat` and `lon`: both required, both numbers.
fn position(xml: &Xml<Tag>, e: &BytesStart) -> Result<(f64, f64), ImportError> {
    let (mut lat, mut lon) = (None, None);
    // Nearly every point is `<trkpt lat="..." lon="...">`: read by a plain scan, with no
    // attribute iterator. Anything the scan does not follow goes to quick-xml's reader, which
    // names what is wrong.
    let Some(pairs) = plain_attributes(e.attributes_raw()) else {
        return position_checked(xml, e);
    };
    for (key, value) in pairs {
        let (slot, what) = match xml::local_name(key) {
            "lat" => (&mut lat, "latitude"),
            "lon" => (&mut lon, "longitude"),
            _ => continue,
        };
        *slot = Some(coordinate(xml, what, value)?);
    }
    located(xml, lat, lon)
}

/// The attributes of a start tag as `name="value"` pairs, or `None` for anything else (an
/// entity in a value, a missing quote), which quick-xml's iterator then reads or refuses.
fn plain_attributes(raw: &str) -> Option<impl Iterator<Item = (&str, &str)>> {
    let b = raw.as_bytes();
    let mut pairs = [("", ""); 4];
    let (mut n, mut i) = (0, 0);
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i == b.len() || &b[i..] == b"/" {
            break;
        }
        let key_at = i;
        while i < b.len() && b[i] != b'=' && !b[i].is_ascii_whitespace() {
            i += 1;
        }
        let key = &raw[key_at..i];
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i + 1 >= b.len() || b[i] != b'=' {
            return None;
        }
        i += 1;
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let quote = *b.get(i).filter(|q| **q == b'"' || **q == b'\'')?;
        let value_at = i + 1;
        let len = b[value_at..].iter().position(|c| *c == quote)?;
        let value = &raw[value_at..value_at + len];
        if key.is_empty() || n == pairs.len() || value.as_bytes().contains(&b'&') {
            return None;
        }
        pairs[n] = (key, value);
        n += 1;
        i = value_at + len + 1;
    }
    Some(pairs.into_iter().take(n))
}

/// [`position`] through quick-xml's attribute iterator, for the tags the plain scan does not
/// follow.
fn position_checked(xml: &Xml<Tag>, e: &BytesStart) -> Result<(f64, f64), ImportError> {
    let (mut lat, mut lon) = (None, None);
    let mut attributes = e.attributes();
    // Of a repeated `lat`, the last one counts, as in the plain scan.
    attributes.with_checks(false);
    for a in attributes {
        let a = a.map_err(|err| xml.error(&err.to_string()))?;
        let (slot, what) = match a.key.local_name().as_ref() {
            "lat" => (&mut lat, "latitude"),
            "lon" => (&mut lon, "longitude"),
            _ => continue,
        };
        *slot = Some(coordinate(xml, what, &a.value)?);
    }
    located(xml, lat, lon)
}

fn coordinate(xml: &Xml<Tag>, what: &str, value: &str) -> Result<f64, ImportError> {
    xml::number(value).ok_or_else(|| xml.error(&format!("{what} \"{value}\" is not a number")))
}

fn located(xml: &Xml<Tag>, lat: Option<f64>, lon: Option<f64>) -> Result<(f64, f64), ImportError> {
    match (lat, lon) {
        (Some(lat), Some(lon)) => Ok((lat, lon)),
        (None, _) => Err(xml.error("the point has no latitude (lat)")),
        (_, None) => Err(xml.error("the point has no longitude (lon)")),
    }
}

fn close(xml: &mut Xml<Tag>, r: &mut Reading) {
    if xml.close() != Some(Tag::Trkpt) {
        return;
    }
    let Some(point) = r.point.take() else { return };
    match point.at {
        Some(at) => {
            if point.breaks && !r.times.is_empty() {
                r.breaks.push(r.times.len());
            }
            r.times.push(at);
        }
        None => {
            // A point without a time cannot be placed in the run (route points converted to a
            // track have none): it is left out, and the next one continues the track.
            r.samples.pop();
            r.new_piece |= point.breaks;
        }
    }
}

/// The text of the innermost element.
fn value(xml: &Xml<Tag>, r: &mut Reading, text: &str) -> Result<(), ImportError> {
    let Some(tag) = xml.top() else {
        return Ok(());
    };
    if tag == Tag::Type {
        if let Some(t) = r.types.last_mut() {
            t.push_str(text);
        }
        return Ok(());
    }
    let in_point = match tag {
        Tag::Time | Tag::Ele => xml.parent(1) == Some(Tag::Trkpt),
        Tag::Speed | Tag::Hr | Tag::Cad | Tag::Power => true,
        _ => return Ok(()),
    };
    let (Some(p), Some(s)) = (r.point.as_mut(), r.samples.last_mut()) else {
        return Ok(());
    };
    if !in_point {
        return Ok(());
    }
    match tag {
        Tag::Time => {
            let t = xml::time(text).ok_or_else(|| {
                xml.error(&format!("time \"{}\" is not a date and time", text.trim()))
            })?;
            p.at = Some(t);
        }
        Tag::Ele => s.altitude_m = xml::number(text).or(s.altitude_m),
        Tag::Speed => {
            s.speed_mps = xml::number(text).filter(|v| *v >= 0.0).or(s.speed_mps);
            r.has_speed |= s.speed_mps.is_some();
        }
        Tag::Hr => {
            s.hr_bpm = xml::number(text)
                .filter(|h| (1.0..=255.0).contains(h))
                .map(|h| h.round() as u8)
                .or(s.hr_bpm)
        }
        Tag::Cad => s.cadence_spm = xml::number(text).filter(|c| *c >= 0.0).or(s.cadence_spm),
        Tag::Power => s.power_w = xml::number(text).filter(|w| *w >= 0.0).or(s.power_w),
        _ => {}
    }
    Ok(())
}

/// The run (or the skip) from the points read.
fn finish(xml: &Xml<Tag>, r: Reading, cx: Context) -> Result<Vec<Parsed>, ImportError> {
    // Any track of another sport makes the file that sport: a ride is never imported as a run.
    let sports: Vec<Sport> = r.types.iter().map(|t| sport_of(t)).collect();
    let sport = sports
        .iter()
        .find(|s| matches!(s, Sport::Other(_)))
        .or_else(|| sports.iter().find(|s| **s == Sport::Run))
        .or_else(|| sports.iter().find(|s| matches!(s, Sport::Unknown(_))))
        .cloned()
        .unwrap_or(Sport::Unnamed);
    if let Sport::Other(name) = &sport {
        return Ok(vec![Parsed::NotARun {
            reason: super::stream::not_a_run(name),
        }]);
    }
    if r.trkpts == 0 {
        return Err(xml.whole("the file has no track points"));
    }
    let Some(&start) = r.times.first() else {
        return Err(xml.whole(format!("none of the {} track points has a time", r.trkpts)));
    };
    let (mut samples, breaks) = (r.samples, r.breaks);
    place_in_time(&mut samples, &r.times, start);
    if r.has_speed {
        fill_distance(&mut samples, &breaks);
    } else {
        fill_distance_and_speed(&mut samples, &breaks);
    }
    normalise_cadence(&mut samples);
    let mut run = summarise(&samples, local_start(start, cx.zone), RunSource::Gpx);
    if run.duration_s <= 0.0 {
        return Err(xml.whole("the track has no duration (one point, or all at one time)"));
    }
    run.moving_time_s = Some(moving_time(&samples, &breaks));
    Ok(vec![by_sport(&sport, run, samples, cx.unlabelled)])
}
