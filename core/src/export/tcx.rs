//! Training Center XML (TCX) with the ActivityExtension v2 `TPX` speed and run cadence.

use std::fmt::Write;

use chrono::{Duration, SecondsFormat, Utc};

use crate::model::{Run, Sample};

/// Writes `run` as a TCX activity with one lap. `sport` is TCX's `Running`, `Biking` or `Other`.
pub fn write(run: &Run, samples: &[Sample], sport: &str) -> Vec<u8> {
    let mut s = String::with_capacity(400 + samples.len() * 400);
    let start = run.start.with_timezone(&Utc);
    let id = start.to_rfc3339_opts(SecondsFormat::Secs, true);
    s.push_str(concat!(
        r#"<?xml version="1.0" encoding="UTF-8"?>"#,
        "\n",
        r#"<TrainingCenterDatabase xmlns="http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2" "#,
        r#"xmlns:ns3="http://www.garmin.com/xmlschemas/ActivityExtension/v2">"#,
        "\n"
    ));
    let _ = writeln!(s, " <Activities><Activity Sport=\"{sport}\"><Id>{id}</Id>");
    let _ = writeln!(s, "  <Lap StartTime=\"{id}\">");
    let _ = writeln!(
        s,
        "   <TotalTimeSeconds>{:.3}</TotalTimeSeconds><DistanceMeters>{:.2}</DistanceMeters>",
        run.moving_time_s.unwrap_or(run.duration_s),
        run.distance_m
    );
    if let Some(hr) = run.avg_hr_bpm {
        let _ = write!(
            s,
            "   <AverageHeartRateBpm><Value>{}</Value></AverageHeartRateBpm>",
            hr.round()
        );
    }
    if let Some(hr) = run.max_hr_bpm {
        let _ = write!(
            s,
            "<MaximumHeartRateBpm><Value>{}</Value></MaximumHeartRateBpm>",
            hr.round()
        );
    }
    s.push_str(
        "\n   <Intensity>Active</Intensity><TriggerMethod>Manual</TriggerMethod>\n   <Track>\n",
    );
    for p in samples {
        let t = start + Duration::milliseconds((p.t_s * 1000.0).round() as i64);
        let _ = write!(
            s,
            "    <Trackpoint><Time>{}</Time>",
            t.to_rfc3339_opts(SecondsFormat::Millis, true)
        );
        if let (Some(lat), Some(lon)) = (p.lat_deg, p.lon_deg) {
            let _ = write!(
                s,
                "<Position><LatitudeDegrees>{lat:.7}</LatitudeDegrees><LongitudeDegrees>{lon:.7}</LongitudeDegrees></Position>"
            );
        }
        if let Some(a) = p.altitude_m {
            let _ = write!(s, "<AltitudeMeters>{a:.2}</AltitudeMeters>");
        }
        if let Some(d) = p.distance_m {
            let _ = write!(s, "<DistanceMeters>{d:.2}</DistanceMeters>");
        }
        if let Some(hr) = p.hr_bpm {
            let _ = write!(s, "<HeartRateBpm><Value>{hr}</Value></HeartRateBpm>");
        }
        if p.speed_mps.is_some() || p.cadence_spm.is_some() {
            s.push_str("<Extensions><ns3:TPX>");
            if let Some(v) = p.speed_mps {
                let _ = write!(s, "<ns3:Speed>{v:.3}</ns3:Speed>");
            }
            if let Some(c) = p.cadence_spm {
                let _ = write!(s, "<ns3:RunCadence>{}</ns3:RunCadence>", (c / 2.0).round());
            }
            s.push_str("</ns3:TPX></Extensions>");
        }
        s.push_str("</Trackpoint>\n");
    }
    s.push_str("   </Track>\n  </Lap>\n </Activity></Activities>\n</TrainingCenterDatabase>\n");
    s.into_bytes()
}
