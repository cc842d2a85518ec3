//! GPX tracks. The `gpx` crate reads the points; it does not read extensions, so a second pass
//! with quick-xml collects heart rate, cadence and speed per `<trkpt>` from the spellings apps
//! use (Garmin's TrackPointExtension `hr`/`cad`, `heartrate`, `cadence`, `RunCadence`, `speed`).

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
        format: "GPX",
        reason: reason.into(),
    }
}

#[derive(Default, Clone, Copy)]
struct Ext {
    hr: Option<f64>,
    cad: Option<f64>,
    speed: Option<f64>,
}

pub(super) fn parse(bytes: &[u8], zone: Tz) -> Result<Vec<Parsed>, ImportError> {
    let text = super::xml_text("GPX", bytes)?;
    let doc = gpx::read(bytes).map_err(|e| malformed(e.to_string()))?;
    if let Some(kind) = doc
        .tracks
        .iter()
        .filter_map(|t| t.type_.as_deref())
        .find(|k| non_running_sport(k))
    {
        return Ok(vec![Parsed::NotARun {
            reason: format!(
                "the activity is {}, not a run",
                kind.trim().to_ascii_lowercase()
            ),
        }]);
    }
    let points: Vec<&gpx::Waypoint> = doc
        .tracks
        .iter()
        .flat_map(|t| &t.segments)
        .flat_map(|s| &s.points)
        .collect();
    if points.is_empty() {
        return Err(malformed("the file has no track points"));
    }
    let ext = extensions(text)?;
    if ext.len() != points.len() {
        return Err(malformed(format!(
            "found {} track points but {} <trkpt> elements",
            points.len(),
            ext.len()
        )));
    }
    let mut times = Vec::with_capacity(points.len());
    for (i, p) in points.iter().enumerate() {
        let t = p
            .time
            .as_ref()
            .and_then(|t| t.format().ok())
            .and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
            .ok_or_else(|| malformed(format!("track point {} has no time", i + 1)))?;
        times.push(t.with_timezone(&Utc));
    }
    let start = times[0];
    let mut samples: Vec<Sample> = points
        .iter()
        .zip(&ext)
        .zip(&times)
        .map(|((p, e), t)| {
            let pt = p.point();
            Sample {
                t_s: (*t - start).num_milliseconds() as f64 / 1000.0,
                lat_deg: Some(pt.y()),
                lon_deg: Some(pt.x()),
                altitude_m: p.elevation,
                distance_m: None,
                speed_mps: e.speed.or(p.speed),
                hr_bpm: e.hr.filter(|h| (1.0..=255.0).contains(h)).map(|h| h as u8),
                cadence_spm: e.cad,
                stride_m: None,
                ..Sample::default()
            }
        })
        .filter(|s| s.t_s >= 0.0)
        .collect();
    samples.sort_by(|a, b| a.t_s.total_cmp(&b.t_s));
    fill_distance(&mut samples);
    fill_speed(&mut samples);
    normalise_cadence(&mut samples);
    let run = summarise(&samples, local_start(start, zone), RunSource::Gpx);
    if run.duration_s <= 0.0 {
        return Err(malformed(
            "the track has no duration (one point, or no times)",
        ));
    }
    Ok(vec![Parsed::Run {
        run,
        samples,
        note: None,
    }])
}

/// The extension values of every `<trkpt>`, in document order.
fn extensions(text: &str) -> Result<Vec<Ext>, ImportError> {
    let mut reader = Reader::from_str(text);
    let mut out = Vec::new();
    let mut current: Option<Ext> = None;
    let mut field: Option<&'static str> = None;
    loop {
        let event = super::next_xml_event("GPX", &mut reader)?;
        match event {
            Event::Start(e) => {
                let name = e.local_name();
                let name = name.as_ref();
                if name == "trkpt" {
                    current = Some(Ext::default());
                } else if current.is_some() {
                    field = match name.to_ascii_lowercase().as_str() {
                        "hr" | "heartrate" | "heart_rate" => Some("hr"),
                        "cad" | "cadence" | "runcadence" => Some("cad"),
                        "speed" => Some("speed"),
                        _ => None,
                    };
                }
            }
            Event::Empty(e) if e.local_name().as_ref() == "trkpt" => out.push(Ext::default()),
            Event::Text(t) => {
                if let (Some(ext), Some(f)) = (current.as_mut(), field) {
                    let v = t.trim().parse::<f64>().ok().filter(|v| v.is_finite());
                    match f {
                        "hr" => ext.hr = v,
                        "cad" => ext.cad = v,
                        _ => ext.speed = v,
                    }
                }
            }
            Event::End(e) => {
                field = None;
                if e.local_name().as_ref() == "trkpt"
                    && let Some(ext) = current.take()
                {
                    out.push(ext);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(out)
}
