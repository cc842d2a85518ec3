//! GPX 1.1 with Garmin's TrackPointExtension v1 for heart rate and cadence (one-foot strides per
//! minute, as Garmin Connect exports it).

use std::fmt::Write;

use chrono::{Duration, SecondsFormat, Utc};

use crate::model::{Run, Sample};

/// Writes `run` as a GPX track. `kind` goes into `<trk><type>` (e.g. `running`, `cycling`).
pub fn write(run: &Run, samples: &[Sample], kind: &str) -> Vec<u8> {
    let mut s = String::with_capacity(200 + samples.len() * 220);
    let start = run.start.with_timezone(&Utc);
    s.push_str(concat!(
        r#"<?xml version="1.0" encoding="UTF-8"?>"#,
        "\n",
        r#"<gpx version="1.1" creator="Strideguard" xmlns="http://www.topografix.com/GPX/1/1" "#,
        r#"xmlns:gpxtpx="http://www.garmin.com/xmlschemas/TrackPointExtension/v1">"#,
        "\n"
    ));
    let _ = writeln!(
        s,
        " <metadata><time>{}</time></metadata>",
        start.to_rfc3339_opts(SecondsFormat::Secs, true)
    );
    let _ = writeln!(
        s,
        " <trk><name>Strideguard run</name><type>{kind}</type><trkseg>"
    );
    for p in samples {
        let (Some(lat), Some(lon)) = (p.lat_deg, p.lon_deg) else {
            continue;
        };
        let t = start + Duration::milliseconds((p.t_s * 1000.0).round() as i64);
        let _ = write!(s, "  <trkpt lat=\"{lat:.7}\" lon=\"{lon:.7}\">");
        if let Some(ele) = p.altitude_m {
            let _ = write!(s, "<ele>{ele:.2}</ele>");
        }
        let _ = write!(
            s,
            "<time>{}</time>",
            t.to_rfc3339_opts(SecondsFormat::Millis, true)
        );
        if p.hr_bpm.is_some() || p.cadence_spm.is_some() {
            s.push_str("<extensions><gpxtpx:TrackPointExtension>");
            if let Some(hr) = p.hr_bpm {
                let _ = write!(s, "<gpxtpx:hr>{hr}</gpxtpx:hr>");
            }
            if let Some(c) = p.cadence_spm {
                let _ = write!(s, "<gpxtpx:cad>{}</gpxtpx:cad>", (c / 2.0).round());
            }
            s.push_str("</gpxtpx:TrackPointExtension></extensions>");
        }
        s.push_str("</trkpt>\n");
    }
    s.push_str(" </trkseg></trk>\n</gpx>\n");
    s.into_bytes()
}
