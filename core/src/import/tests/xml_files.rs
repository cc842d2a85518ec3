//! GPX and TCX as real apps write them, each class of file written here by the test: what was
//! seen in files from Garmin, Suunto, Coros, Polar, Wahoo, Zwift, Strava, OpenTracks and
//! GoldenCheetah, and what a runner would check of the import.

use super::*;
use crate::import::stream::haversine_m;

const T0: &str = "2026-03-14T06:00:00Z";

fn at(seconds: f64) -> String {
    let t = chrono::DateTime::parse_from_rfc3339(T0).unwrap()
        + chrono::Duration::milliseconds((seconds * 1000.0).round() as i64);
    t.with_timezone(&chrono::Utc)
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A GPX 1.1 document around `body` (tracks, waypoints, routes), with the namespaces apps use.
fn gpx(body: &str) -> Vec<u8> {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<gpx version="1.1" creator="test" xmlns="http://www.topografix.com/GPX/1/1"
 xmlns:gpxtpx="http://www.garmin.com/xmlschemas/TrackPointExtension/v1"
 xmlns:gpxdata="http://www.cluetrust.com/XML/GPXDATA/1/0"
 xmlns:pwr="http://www.garmin.com/xmlschemas/PowerExtension/v1">
{body}
</gpx>
"#
    )
    .into_bytes()
}

/// A point `metres` north of 52.5N 13.4E, at `seconds`, with `inner` after its time.
fn pt(metres: f64, seconds: f64, inner: &str) -> String {
    let lat = 52.5 + metres / 111_195.0;
    format!(
        "<trkpt lat=\"{lat:.7}\" lon=\"13.4000000\"><time>{}</time>{inner}</trkpt>\n",
        at(seconds)
    )
}

/// Running at `speed` m/s for `n` points one second apart, from `from` metres and seconds.
fn running(n: usize, from_m: f64, from_s: f64, speed: f64, inner: &str) -> String {
    (0..n)
        .map(|i| pt(from_m + i as f64 * speed, from_s + i as f64, inner))
        .collect()
}

const CADENCE: &str = "<extensions><gpxtpx:TrackPointExtension><gpxtpx:cad>85</gpxtpx:cad></gpxtpx:TrackPointExtension></extensions>";

fn track(kind: &str, segments: &[String]) -> String {
    let segs: String = segments
        .iter()
        .map(|s| format!("<trkseg>\n{s}</trkseg>\n"))
        .collect();
    let kind = if kind.is_empty() {
        String::new()
    } else {
        format!("<type>{kind}</type>")
    };
    format!("<trk><name>Morning Run</name>{kind}\n{segs}</trk>\n")
}

fn all(format: Format, bytes: &[u8]) -> Vec<Parsed> {
    super::super::parse(format, bytes, chrono_tz::UTC).unwrap()
}

fn the_run(format: Format, bytes: &[u8]) -> (Run, Vec<Sample>, Option<String>) {
    match parse(format, bytes, chrono_tz::UTC).unwrap() {
        Parsed::Run { run, samples, note } => (run, samples, note),
        other => panic!("{other:?}"),
    }
}

fn skip_reason(format: Format, bytes: &[u8]) -> String {
    match parse(format, bytes, chrono_tz::UTC).unwrap() {
        Parsed::NotARun { reason } => reason,
        other => panic!("expected a skip: {other:?}"),
    }
}

fn error(format: Format, bytes: &[u8]) -> String {
    super::super::parse(format, bytes, chrono_tz::UTC)
        .unwrap_err()
        .to_string()
}

// --- GPX order ---------------------------------------------------------------------------------

#[test]
fn gpx_points_stay_in_file_order_when_their_times_jitter() {
    // 600 points 3 m apart, one a second; every tenth point's clock is 1.5 s behind the one
    // before (seen in phone recordings). Sorting by time would zig-zag.
    let mut body = String::new();
    for i in 0..600 {
        let t = if i % 10 == 5 {
            i as f64 - 2.5
        } else {
            i as f64
        };
        body.push_str(&pt(i as f64 * 3.0, t, CADENCE));
    }
    let (run, samples, _) = the_run(Format::Gpx, &gpx(&track("running", &[body])));
    assert_eq!(samples.len(), 600);
    assert!(
        (run.distance_m - 599.0 * 3.0).abs() < 1.0,
        "{} m for a 1797 m line",
        run.distance_m
    );
    // Each point where the file put it: latitudes only rise.
    assert!(samples.windows(2).all(|w| w[0].lat_deg < w[1].lat_deg));
    // The point whose time went back keeps its place and the time before it.
    assert_eq!(samples[5].t_s, samples[4].t_s);
    assert_eq!(samples[5].t_s, 4.0);
    assert!(samples.windows(2).all(|w| w[0].t_s <= w[1].t_s));
    assert_eq!(run.duration_s, 599.0);
    assert_eq!(run.avg_cadence_spm, Some(170.0));
}

#[test]
fn gpx_gaps_between_segments_and_tracks_add_no_distance_or_moving_time() {
    // Two segments of one track and a second track, each 100 s at 3 m/s; between them the
    // recording stopped for 5 minutes while the runner was carried 2 km (a ferry, a lift).
    let a = running(101, 0.0, 0.0, 3.0, "");
    let b = running(101, 2300.0, 400.0, 3.0, "");
    let c = running(101, 4600.0, 800.0, 3.0, "");
    let body = track("running", &[a, b]) + &track("running", &[c]);
    let (run, samples, _) = the_run(Format::Gpx, &gpx(&body));
    assert_eq!(samples.len(), 303);
    assert!(
        (run.distance_m - 900.0).abs() < 1.0,
        "three 300 m pieces: {}",
        run.distance_m
    );
    assert_eq!(run.duration_s, 900.0);
    assert_eq!(run.moving_time_s, Some(300.0));
    // The distance carries on across the gap rather than starting again.
    assert!((samples[101].distance_m.unwrap() - 300.0).abs() < 0.5);
}

#[test]
fn gpx_moving_time_leaves_out_a_standstill() {
    // 200 s running, 60 s standing at a crossing (the watch kept recording), 200 s running.
    let mut body = running(201, 0.0, 0.0, 3.0, "");
    body.push_str(&running(60, 600.0, 201.0, 0.0, ""));
    body.push_str(&running(200, 603.0, 261.0, 3.0, ""));
    let (run, _, _) = the_run(Format::Gpx, &gpx(&track("running", &[body])));
    assert_eq!(run.duration_s, 460.0);
    // 200 s, the step off the crossing (1 s), and 199 s.
    assert_eq!(run.moving_time_s, Some(400.0));
}

// --- Lenient GPX -------------------------------------------------------------------------------

#[test]
fn gpx_1_0_with_every_point_element_imports() {
    // GPX 1.0 as older apps and GPSBabel write it: speed and course in the point, and every
    // optional element the schema allows; a waypoint and a route around the track.
    let point = |i: usize| {
        format!(
            r#"<trkpt lat="{:.7}" lon="13.4"><ele>{}</ele><time>{}</time><course>12.5</course>
<speed>3.1</speed><magvar>2.0</magvar><geoidheight>40.1</geoidheight><name>P{i}</name>
<cmt>c</cmt><desc>d</desc><src>gps</src><url>http://x</url><urlname>x</urlname><sym>Dot</sym>
<type>pt</type><fix>3d</fix><sat>9</sat><hdop>0.9</hdop><vdop>1.1</vdop><pdop>1.3</pdop>
<ageofdgpsdata>2</ageofdgpsdata><dgpsid>7</dgpsid></trkpt>
"#,
            52.5 + i as f64 * 3.1 / 111_195.0,
            30 + i,
            at(i as f64)
        )
    };
    let pts: String = (0..120).map(point).collect();
    let doc = format!(
        r#"<?xml version="1.0"?>
<gpx version="1.0" creator="GPSBabel" xmlns="http://www.topografix.com/GPX/1/0">
<time>{T0}</time><bounds minlat="52" minlon="13" maxlat="53" maxlon="14"/>
<wpt lat="52.5" lon="13.4"><name>Start</name><sym>Flag</sym></wpt>
<rte><name>Plan</name><rtept lat="52.5" lon="13.4"><name>A</name></rtept></rte>
<trk><name>Run</name><number>1</number><type>Run</type><trkseg>
{pts}</trkseg></trk>
</gpx>"#
    );
    let (run, samples, note) = the_run(Format::Gpx, doc.as_bytes());
    assert_eq!(note, None);
    assert_eq!(samples.len(), 120);
    assert!(samples.iter().all(|s| s.speed_mps == Some(3.1)));
    assert_eq!(samples[10].altitude_m, Some(40.0));
    assert!(
        (run.distance_m - 119.0 * 3.1).abs() < 0.5,
        "{}",
        run.distance_m
    );
}

#[test]
fn gpx_1_1_with_links_colours_and_foreign_extensions_imports() {
    // GPX 1.1 with metadata links, extensions of the file, the track and the point in
    // namespaces the reader does not know (Garmin's display colour, OpenTracks', a vendor's),
    // routes and waypoints with extensions too.
    let inner = r#"<sat>7</sat><extensions><gpxx:TrackPointExtension xmlns:gpxx="urn:x"><gpxx:Depth>1</gpxx:Depth></gpxx:TrackPointExtension><ot:accuracy_horizontal xmlns:ot="urn:ot">4.2</ot:accuracy_horizontal><gpxtpx:TrackPointExtension><gpxtpx:atemp>21</gpxtpx:atemp><gpxtpx:hr>151</gpxtpx:hr><gpxtpx:cad>84</gpxtpx:cad></gpxtpx:TrackPointExtension><vendor:blob xmlns:vendor="urn:v"><vendor:inner a="1"/></vendor:blob></extensions>"#;
    let body = format!(
        r#"<metadata><name>x</name><link href="https://example.org"><text>t</text><type>text/html</type></link>
<author><name>me</name><email id="a" domain="b"/></author><time>{T0}</time>
<extensions><app:info xmlns:app="urn:a">v2</app:info></extensions></metadata>
<wpt lat="52.5" lon="13.4"><time>{T0}</time><extensions><x:y xmlns:x="urn:x">1</x:y></extensions></wpt>
<rte><rtept lat="52.5" lon="13.4"/><extensions><gpxx:RouteExtension xmlns:gpxx="urn:x"/></extensions></rte>
<trk><name>Run</name><link href="https://example.org"/><type>running</type>
<extensions><gpxx:TrackExtension xmlns:gpxx="urn:x"><gpxx:DisplayColor>Red</gpxx:DisplayColor></gpxx:TrackExtension><color>ff0000</color></extensions>
<trkseg><extensions><seg:x xmlns:seg="urn:s"/></extensions>
{}</trkseg></trk>"#,
        running(120, 0.0, 0.0, 3.0, inner)
    );
    let (run, samples, _) = the_run(Format::Gpx, &gpx(&body));
    assert_eq!(samples.len(), 120);
    assert!(samples.iter().all(|s| s.hr_bpm == Some(151)));
    assert!(samples.iter().all(|s| s.cadence_spm == Some(168.0)));
    assert_eq!(run.avg_hr_bpm, Some(151.0));
    assert!((run.distance_m - 357.0).abs() < 0.5);
}

#[test]
fn gpx_points_at_impossible_places_are_pauses() {
    // Some apps mark a pause with a point at latitude 100 (or longitude 200); the runner
    // resumed 500 m on, 2 minutes later.
    let mut body = running(101, 0.0, 0.0, 3.0, CADENCE);
    body.push_str(&format!(
        "<trkpt lat=\"100\" lon=\"13.4\"><time>{}</time></trkpt>\n",
        at(101.0)
    ));
    body.push_str(&format!(
        "<trkpt lat=\"52.5\" lon=\"200\"><time>{}</time></trkpt>\n",
        at(180.0)
    ));
    body.push_str(&running(101, 800.0, 220.0, 3.0, CADENCE));
    let (run, samples, _) = the_run(Format::Gpx, &gpx(&track("running", &[body])));
    assert_eq!(samples.len(), 204);
    assert_eq!(samples[101].lat_deg, None);
    assert_eq!(samples[102].lon_deg, None);
    assert!(
        (run.distance_m - 600.0).abs() < 1.0,
        "two 300 m pieces, nothing to the pause markers: {}",
        run.distance_m
    );
    assert_eq!(run.moving_time_s, Some(200.0));
    assert_eq!(run.duration_s, 320.0);
}

#[test]
fn gpx_heart_rate_cadence_speed_and_power_in_every_common_spelling() {
    // Each spelling apps write, one file each: the extension XML, then the heart rate, the
    // one-foot cadence, the speed and the power it holds.
    type Case = (
        &'static str,
        Option<u8>,
        Option<f64>,
        Option<f64>,
        Option<f64>,
    );
    let cases: [Case; 7] = [
        // Garmin TrackPointExtension v1 (Garmin Connect, Coros, Wahoo).
        (
            "<gpxtpx:TrackPointExtension><gpxtpx:atemp>19.0</gpxtpx:atemp><gpxtpx:hr>150</gpxtpx:hr><gpxtpx:cad>86</gpxtpx:cad></gpxtpx:TrackPointExtension>",
            Some(150),
            Some(86.0),
            None,
            None,
        ),
        // Garmin TrackPointExtension v2 with speed, under another prefix (Suunto, Polar).
        (
            "<ns3:TrackPointExtension xmlns:ns3=\"http://www.garmin.com/xmlschemas/TrackPointExtension/v2\"><ns3:hr>148</ns3:hr><ns3:cad>87</ns3:cad><ns3:speed>3.2</ns3:speed><ns3:course>90</ns3:course></ns3:TrackPointExtension>",
            Some(148),
            Some(87.0),
            Some(3.2),
            None,
        ),
        // Cluetrust gpxdata (older Mac and Linux tools).
        (
            "<gpxdata:hr>147</gpxdata:hr><gpxdata:cadence>88</gpxdata:cadence><gpxdata:temp>12</gpxdata:temp>",
            Some(147),
            Some(88.0),
            None,
            None,
        ),
        // No namespace at all, and Strava's power.
        (
            "<heartrate>146</heartrate><cadence>85</cadence><power>250</power>",
            Some(146),
            Some(85.0),
            None,
            Some(250.0),
        ),
        // RunCadence as TCX spells it, and Garmin's PowerExtension.
        (
            "<RunCadence>84</RunCadence><pwr:PowerInWatts>262</pwr:PowerInWatts><HeartRate>145</HeartRate>",
            Some(145),
            Some(84.0),
            None,
            Some(262.0),
        ),
        // OpenTracks: its own namespace for speed and power, Garmin's for heart rate and cadence.
        (
            "<opentracks:speed xmlns:opentracks=\"http://opentracksapp.com/xmlschemas/v1\">3.3</opentracks:speed><gpxtpx:TrackPointExtension><gpxtpx:hr>144</gpxtpx:hr><gpxtpx:cad>83</gpxtpx:cad></gpxtpx:TrackPointExtension><pwr:PowerInWatts>240</pwr:PowerInWatts>",
            Some(144),
            Some(83.0),
            Some(3.3),
            Some(240.0),
        ),
        // A sensor value that is not a number is one lost reading, not a broken file.
        (
            "<gpxtpx:TrackPointExtension><gpxtpx:hr>--</gpxtpx:hr><gpxtpx:cad>89</gpxtpx:cad></gpxtpx:TrackPointExtension>",
            None,
            Some(89.0),
            None,
            None,
        ),
    ];
    for (ext, hr, cad, speed, power) in cases {
        let inner = format!("<extensions>{ext}</extensions>");
        let bytes = gpx(&track("running", &[running(60, 0.0, 0.0, 3.0, &inner)]));
        let (run, samples, _) = the_run(Format::Gpx, &bytes);
        let s = &samples[30];
        assert_eq!(s.hr_bpm, hr, "{ext}");
        // One-foot cadence is doubled to steps per minute.
        assert_eq!(s.cadence_spm, cad.map(|c| c * 2.0), "{ext}");
        if let Some(v) = speed {
            assert_eq!(s.speed_mps, Some(v), "{ext}");
        } else {
            // Derived from the positions: 3 m a second.
            assert!((s.speed_mps.unwrap() - 3.0).abs() < 0.01, "{ext}");
        }
        assert_eq!(s.power_w, power, "{ext}");
        assert_eq!(run.avg_power_w, power, "{ext}");
        assert_eq!(run.avg_hr_bpm, hr.map(f64::from), "{ext}");
    }
}

// --- Sport labels ------------------------------------------------------------------------------

#[test]
fn gpx_sport_labels_in_every_spelling_and_strava_codes() {
    let runs = [
        "running",
        "Run",
        "run",
        "RUNNING",
        "TrailRun",
        "trail_running",
        "Trail Running",
        "VirtualRun",
        "treadmill",
        "treadmill_running",
        "street_running",
        "9",
    ];
    let body = |kind: &str| gpx(&track(kind, &[running(60, 0.0, 0.0, 3.0, CADENCE)]));
    for kind in runs {
        let (_, _, note) = the_run(Format::Gpx, &body(kind));
        assert_eq!(note, None, "{kind}");
    }
    let others = [
        ("Ride", "cycling"),
        ("cycling", "cycling"),
        ("biking", "biking"),
        ("VirtualRide", "cycling"),
        ("mountain_biking", "biking"),
        ("Walk", "walking"),
        ("walking", "walking"),
        ("Hike", "hiking"),
        ("hiking", "hiking"),
        ("swimming", "swimming"),
        ("Swim", "swimming"),
        ("open_water_swimming", "swimming"),
        ("AlpineSki", "skiing"),
        ("Rowing", "rowing"),
        ("1", "cycling (Strava type 1)"),
        ("4", "hiking (Strava type 4)"),
        ("10", "walking (Strava type 10)"),
        ("16", "swimming (Strava type 16)"),
    ];
    for (kind, sport) in others {
        assert_eq!(
            skip_reason(Format::Gpx, &body(kind)),
            format!("the activity is {sport}, not a run"),
            "{kind}"
        );
    }
    // The type of the metadata (some apps put it there) counts like the track's.
    let in_metadata = gpx(&format!(
        "<metadata><type>cycling</type></metadata>{}",
        track("", &[running(60, 0.0, 0.0, 3.0, CADENCE)])
    ));
    assert_eq!(
        skip_reason(Format::Gpx, &in_metadata),
        "the activity is cycling, not a run"
    );
    // A point's own <type> (a waypoint class) says nothing of the sport.
    let point_type = gpx(&track(
        "",
        &[running(60, 0.0, 0.0, 3.0, "<type>cycling</type>")],
    ));
    assert!(matches!(
        parse(Format::Gpx, &point_type, chrono_tz::UTC).unwrap(),
        Parsed::Run { .. }
    ));
}

#[test]
fn gpx_without_a_sport_is_judged_and_the_note_says_so() {
    // A phone app's track with no <type>: running cadence and pace.
    let (_, _, note) = the_run(
        Format::Gpx,
        &gpx(&track("", &[running(120, 0.0, 0.0, 3.0, CADENCE)])),
    );
    let note = note.expect("a note");
    assert!(
        note.starts_with("no sport in the file: judged a run"),
        "{note}"
    );
    assert!(note.contains("170 steps/min"), "{note}");
    // The same track at 9 m/s without cadence: a ride, never a run.
    let reason = skip_reason(
        Format::Gpx,
        &gpx(&track("", &[running(120, 0.0, 0.0, 9.0, "")])),
    );
    assert!(reason.contains("taken as a ride"), "{reason}");
    // A Strava code not in the table is judged, and named.
    let (_, _, note) = the_run(
        Format::Gpx,
        &gpx(&track("18", &[running(120, 0.0, 0.0, 3.0, CADENCE)])),
    );
    let note = note.expect("a note");
    assert!(
        note.starts_with("the file's sport \"18\" is not one Strideguard knows: judged a run"),
        "{note}"
    );
}

// --- TCX ---------------------------------------------------------------------------------------

/// A TCX activity of `sport` with one lap of `n` trackpoints at 3 m/s from `from_s` seconds.
fn tcx_activity(sport: &str, from_s: f64, n: usize, hr: u8) -> String {
    let mut s = format!(
        "<Activity Sport=\"{sport}\"><Id>{}</Id><Lap StartTime=\"{}\"><TotalTimeSeconds>{}</TotalTimeSeconds><DistanceMeters>{}</DistanceMeters><Track>\n",
        at(from_s),
        at(from_s),
        (n - 1) as f64,
        (n - 1) as f64 * 3.0
    );
    for i in 0..n {
        let lat = 52.5 + i as f64 * 3.0 / 111_195.0;
        s.push_str(&format!(
            "<Trackpoint><Time>{}</Time><Position><LatitudeDegrees>{lat:.7}</LatitudeDegrees><LongitudeDegrees>13.4</LongitudeDegrees></Position><DistanceMeters>{}</DistanceMeters><HeartRateBpm><Value>{hr}</Value></HeartRateBpm><Extensions><ns3:TPX><ns3:Speed>3.0</ns3:Speed><ns3:RunCadence>86</ns3:RunCadence><ns3:Watts>255</ns3:Watts></ns3:TPX></Extensions></Trackpoint>\n",
            at(from_s + i as f64),
            i as f64 * 3.0
        ));
    }
    s.push_str("</Track></Lap></Activity>\n");
    s
}

fn tcx(activities: &str) -> Vec<u8> {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<TrainingCenterDatabase xmlns="http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2" xmlns:ns3="http://www.garmin.com/xmlschemas/ActivityExtension/v2">
<Activities>
{activities}</Activities>
</TrainingCenterDatabase>
"#
    )
    .into_bytes()
}

#[test]
fn tcx_of_several_activities_gives_one_entry_each() {
    // A day's export: a run, a ride, and an evening run, each with its own laps and totals.
    let bytes = tcx(&(tcx_activity("Running", 0.0, 301, 140)
        + &tcx_activity("Biking", 3600.0, 200, 120)
        + &tcx_activity("Running", 36000.0, 601, 150)));
    let entries = all(Format::Tcx, &bytes);
    assert_eq!(entries.len(), 3);
    let Parsed::Run {
        run: first,
        samples: first_samples,
        note: None,
    } = &entries[0]
    else {
        panic!("{:?}", entries[0])
    };
    assert_eq!(
        entries[1],
        Parsed::NotARun {
            reason: "the activity is biking, not a run".into()
        }
    );
    let Parsed::Run {
        run: third,
        samples: third_samples,
        note: None,
    } = &entries[2]
    else {
        panic!("{:?}", entries[2])
    };
    assert_eq!(first_samples.len(), 301);
    assert_eq!(third_samples.len(), 601);
    assert_eq!(first.distance_m, 900.0);
    assert_eq!(third.distance_m, 1800.0);
    assert_eq!(first.moving_time_s, Some(300.0));
    assert_eq!(third.duration_s, 600.0);
    assert_eq!(first.avg_hr_bpm, Some(140.0));
    assert_eq!(third.avg_hr_bpm, Some(150.0));
    assert_eq!(third.avg_power_w, Some(255.0));
    assert_eq!(first.avg_cadence_spm, Some(172.0));
    assert_eq!(first.start.to_rfc3339(), "2026-03-14T06:00:00+00:00");
    assert_eq!(third.start.to_rfc3339(), "2026-03-14T16:00:00+00:00");
    assert_ne!(first.id, third.id);
    assert_ne!(first.source_fingerprint, third.source_fingerprint);
}

#[test]
fn tcx_sport_attribute_decides_and_other_is_judged() {
    let one = |sport: &str| tcx(&tcx_activity(sport, 0.0, 120, 140));
    assert!(matches!(
        parse(Format::Tcx, &one("Running"), chrono_tz::UTC).unwrap(),
        Parsed::Run { note: None, .. }
    ));
    assert_eq!(
        skip_reason(Format::Tcx, &one("Biking")),
        "the activity is biking, not a run"
    );
    let (_, _, note) = the_run(Format::Tcx, &one("Other"));
    let note = note.expect("a note");
    assert!(
        note.starts_with("no sport in the file: judged a run from its cadence (172 steps/min)"),
        "{note}"
    );
    // A multisport session: its legs are activities too.
    let multi = format!(
        "<MultiSportSession><Id>{T0}</Id><FirstSport>{}</FirstSport><NextSport><Transition><TotalTimeSeconds>60</TotalTimeSeconds></Transition>{}</NextSport></MultiSportSession>",
        tcx_activity("Biking", 0.0, 100, 120),
        tcx_activity("Running", 200.0, 100, 150)
    );
    let entries = all(Format::Tcx, &tcx(&multi));
    assert_eq!(entries.len(), 2);
    assert!(matches!(&entries[0], Parsed::NotARun { reason } if reason.contains("biking")));
    assert!(matches!(&entries[1], Parsed::Run { run, .. } if run.avg_hr_bpm == Some(150.0)));
}

#[test]
fn tcx_without_lap_totals_counts_moving_time_and_breaks_at_each_track() {
    // Two <Track>s in one lap (written after a pause), no lap totals, no distances: the
    // distance and moving time come from the positions, nothing across the pause.
    let points = |from_m: f64, from_s: f64| -> String {
        (0..101)
            .map(|i| {
                let lat = 52.5 + (from_m + i as f64 * 3.0) / 111_195.0;
                format!(
                    "<Trackpoint><Time>{}</Time><Position><LatitudeDegrees>{lat:.7}</LatitudeDegrees><LongitudeDegrees>13.4</LongitudeDegrees></Position></Trackpoint>\n",
                    at(from_s + i as f64)
                )
            })
            .collect()
    };
    let activity = format!(
        "<Activity Sport=\"Running\"><Id>{T0}</Id><Lap StartTime=\"{T0}\"><Track>{}</Track><Track>{}</Track></Lap></Activity>",
        points(0.0, 0.0),
        points(1000.0, 300.0)
    );
    let (run, samples, _) = the_run(Format::Tcx, &tcx(&activity));
    assert_eq!(samples.len(), 202);
    assert!((run.distance_m - 600.0).abs() < 1.0, "{}", run.distance_m);
    assert_eq!(run.moving_time_s, Some(200.0));
    assert_eq!(run.duration_s, 400.0);
}

// --- Errors ------------------------------------------------------------------------------------

#[test]
fn xml_errors_name_the_line_and_the_elements_open_there() {
    let body = track("running", &[running(10, 0.0, 0.0, 3.0, "")]);
    let good = String::from_utf8(gpx(&body)).unwrap();
    // Line 9 holds the second point (5 lines of header, then <trk> and <trkseg>).
    let line9 = good.lines().nth(8).unwrap().to_string();
    assert!(line9.starts_with("<trkpt"), "{line9}");
    let bad = good.replacen(&line9, &line9.replacen("lat=\"52.", "lat=\"abc", 1), 1);
    assert_eq!(
        error(Format::Gpx, bad.as_bytes()),
        "not a valid GPX file: line 9, in <gpx><trk><trkseg><trkpt>: latitude \"abc5000270\" is not a number"
    );
    let bad_time = good.replacen("<time>2026-03-14T06:00:01", "<time>noon", 1);
    assert!(
        error(Format::Gpx, bad_time.as_bytes()).starts_with(
            "not a valid GPX file: line 9, in <gpx><trk><trkseg><trkpt><time>: time \"noon"
        ),
        "{}",
        error(Format::Gpx, bad_time.as_bytes())
    );
    // Cut after the second point: the file ends inside the segment.
    let end_of_line9 = good.find(&line9).unwrap() + line9.len() + 1;
    assert_eq!(
        error(Format::Gpx, &good.as_bytes()[..end_of_line9]),
        "not a valid GPX file: line 10: the file ends inside <gpx><trk><trkseg>"
    );
    // An end tag that does not match.
    let crossed = good.replacen("</trkseg>", "</trk>", 1);
    let e = error(Format::Gpx, crossed.as_bytes());
    assert!(
        e.starts_with("not a valid GPX file: line 18, in <gpx><trk><trkseg>: "),
        "{e}"
    );
    // Not GPX at all.
    assert_eq!(
        error(Format::Gpx, &tcx(&tcx_activity("Running", 0.0, 3, 140))),
        "not a valid GPX file: line 2: the document is <TrainingCenterDatabase>, not <gpx>"
    );
    // TCX: the same words.
    let t = String::from_utf8(tcx(&tcx_activity("Running", 0.0, 5, 140))).unwrap();
    let bad = t.replacen(
        "<LongitudeDegrees>13.4</LongitudeDegrees>",
        "<LongitudeDegrees>east</LongitudeDegrees>",
        1,
    );
    assert_eq!(
        error(Format::Tcx, bad.as_bytes()),
        "not a valid TCX file: line 5, in <TrainingCenterDatabase><Activities><Activity><Lap><Track><Trackpoint><Position><LongitudeDegrees>: longitude \"east\" is not a number"
    );
    assert_eq!(
        error(
            Format::Tcx,
            &t.as_bytes()[..t.find("</Track>").unwrap() + 8]
        ),
        "not a valid TCX file: line 10: the file ends inside <TrainingCenterDatabase><Activities><Activity><Lap>"
    );
}

// --- Real files --------------------------------------------------------------------------------

#[test]
fn the_garmin_connect_gpx_export_imports_as_before() {
    let bytes = fixture("garmin-activity.gpx");
    let (run, samples, note) = the_run(Format::Gpx, &bytes);
    assert_eq!(note, None, "its type is running");
    assert_eq!(samples.len(), 988);
    assert_eq!(run.start.to_rfc3339(), "2017-07-29T14:46:35+00:00");
    assert_eq!(run.source, RunSource::Gpx);
    let cadence = run.avg_cadence_spm.unwrap();
    assert!((140.0..200.0).contains(&cadence), "{cadence}");
    assert!(run.avg_hr_bpm.unwrap() > 100.0);
    assert!(samples.windows(2).all(|w| w[0].t_s <= w[1].t_s));
    // The distance is the sum of the steps between the points, in file order.
    let steps: f64 = samples
        .windows(2)
        .map(|w| {
            haversine_m(
                (w[0].lat_deg.unwrap(), w[0].lon_deg.unwrap()),
                (w[1].lat_deg.unwrap(), w[1].lon_deg.unwrap()),
            )
        })
        .sum();
    assert!((run.distance_m - steps).abs() < 1e-6);
    let moving = run.moving_time_s.unwrap();
    assert!(moving > 0.0 && moving <= run.duration_s, "{moving}");
}

#[test]
fn tcx_lap_totals_past_any_real_number_are_not_totals() {
    // Two laps of 1e308 seconds and metres add up to infinity: the samples decide instead.
    let lap = |from_s: f64| {
        format!(
            "<Lap StartTime=\"{}\"><TotalTimeSeconds>1e308</TotalTimeSeconds><DistanceMeters>1e308</DistanceMeters><Track>{}</Track></Lap>",
            at(from_s),
            (0..11)
                .map(|i| format!(
                    "<Trackpoint><Time>{}</Time><DistanceMeters>{}</DistanceMeters></Trackpoint>",
                    at(from_s + i as f64),
                    (from_s + i as f64) * 3.0
                ))
                .collect::<String>()
        )
    };
    let activity = format!(
        "<Activity Sport=\"Running\"><Id>{T0}</Id>{}{}</Activity>",
        lap(0.0),
        lap(10.0)
    );
    let (run, samples, _) = the_run(Format::Tcx, &tcx(&activity));
    assert_eq!(samples.len(), 22);
    assert_eq!(run.duration_s, 20.0);
    assert_eq!(run.distance_m, 60.0);
    assert_eq!(run.moving_time_s, Some(20.0));
}

// --- The plain scan of points -------------------------------------------------------------------

/// A GPX file read with the plain scan of points and without it: the same runs, skips and
/// errors, to the letter.
fn both_scans_agree(bytes: &[u8]) {
    let read = |plain: bool| match gpx::parse_with(
        bytes,
        crate::import::Context {
            zone: chrono_tz::UTC,
            unlabelled: crate::import::Unlabelled::Judge,
        },
        plain,
    ) {
        Ok(mut all) => {
            for p in &mut all {
                if let Parsed::Run { run, .. } = p {
                    run.id = uuid::Uuid::nil();
                }
            }
            Ok(all)
        }
        Err(e) => Err(e.to_string()),
    };
    assert_eq!(
        read(true),
        read(false),
        "{}",
        String::from_utf8_lossy(&bytes[..bytes.len().min(600)])
    );
}

/// What a point may hold that the plain scan must read as the event reader does, or leave to
/// it: comments, CDATA, entities, processing instructions, quoted `>`, empty elements,
/// whitespace in end tags, deep or long content, crossed tags, values that are not values.
const POINT_CONTENT: &[&str] = &[
    "",
    "<ele>35.5</ele>",
    "<ele>\n  35.5\n</ele >",
    "<!-- a comment --><ele>35.5</ele>",
    "<ele><![CDATA[36.0]]></ele>",
    "<ele>3&#53;.0</ele>",
    "<name>Run &amp; Walk</name>",
    "<name>a > b</name>",
    "<?marker here?>",
    "<link href=\"https://x.test/?a=1&amp;b=2\"><text>x</text></link>",
    "<link href='a>b'><text>x</text></link>",
    "<sat/><hdop /><fix>3d</fix>",
    "<extensions><gpxtpx:TrackPointExtension><gpxtpx:hr>150</gpxtpx:hr><gpxtpx:cad>86</gpxtpx:cad></gpxtpx:TrackPointExtension></extensions>",
    "<extensions><ns3:TPX xmlns:ns3=\"x\"><ns3:HR>151</ns3:HR><ns3:RunCadence>87</ns3:RunCadence></ns3:TPX></extensions>",
    "<extensions><a><b><c><d><e><f><g><h><i>1</i></h></g></f></e></d></c></b></a></extensions>",
    "<speed>3.2</speed><course>180</course><magvar>2</magvar>",
    "<ele>high</ele>",
    "<ele>1</time>",
    "<ele>1</ele></extensions>",
    "<ele",
    "<extensions><power>250</power></extensions>",
    "<e\"x>\"</e\"x>\">",
    "</trkpt>\u{FEFF}<trkpt lat=\"52.6\" lon=\"13.4\"><time>2026-03-14T07:00:00Z</time>",
];

#[test]
fn the_plain_scan_reads_every_kind_of_point_as_the_event_reader_does() {
    for content in POINT_CONTENT {
        let point = |i: usize| {
            format!(
                "<trkpt lat=\"{:.7}\" lon=\"13.4\"><time>{}</time>{content}</trkpt>\n",
                52.5 + i as f64 * 3.0 / 111_195.0,
                at(i as f64)
            )
        };
        let points: String = (0..20).map(point).collect();
        both_scans_agree(&gpx(&track("running", &[points])));
        // Long content: more steps than one scan takes.
        let long = format!(
            "<trkpt lat=\"52.5\" lon=\"13.4\"><time>{}</time>{}</trkpt>\n{}",
            at(30.0),
            "<sat>4</sat>".repeat(200),
            (31..40).map(point).collect::<String>()
        );
        both_scans_agree(&gpx(&track("running", &[long])));
    }
    // A bad time in a point the scan reads names its line (the fifth point's: the first is on
    // line 8) and the elements open there.
    let bad = gpx(&track("running", &[running(10, 0.0, 0.0, 3.0, CADENCE)]))
        .replacen_bytes("T06:00:04.000Z", "noon");
    both_scans_agree(&bad);
    let e = error(Format::Gpx, &bad);
    assert!(
        e.contains("line 12, in <gpx><trk><trkseg><trkpt><time>"),
        "{e}"
    );
}

#[test]
fn a_byte_order_mark_before_the_document_is_not_content() {
    // Windows apps write one before `<?xml`.
    let plain = gpx(&track("running", &[running(10, 0.0, 0.0, 3.0, CADENCE)]));
    let with_bom = [b"\xEF\xBB\xBF".as_slice(), &plain].concat();
    both_scans_agree(&with_bom);
    let (run, samples, _) = the_run(Format::Gpx, &with_bom);
    assert_eq!((samples.len(), run.duration_s), (10, 9.0));
    let tcx_bom = [
        b"\xEF\xBB\xBF".as_slice(),
        &tcx(&tcx_activity("Running", 0.0, 5, 140)),
    ]
    .concat();
    assert_eq!(the_run(Format::Tcx, &tcx_bom).1.len(), 5);
}

trait ReplaceBytes {
    fn replacen_bytes(self, from: &str, to: &str) -> Vec<u8>;
}

impl ReplaceBytes for Vec<u8> {
    fn replacen_bytes(self, from: &str, to: &str) -> Vec<u8> {
        String::from_utf8(self)
            .unwrap()
            .replacen(from, to, 1)
            .into_bytes()
    }
}

mod plain_scan {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Points of any mix of contents, in a file cut anywhere: both readers agree.
        #[test]
        fn any_points_cut_anywhere(
            contents in proptest::collection::vec(0..POINT_CONTENT.len(), 1..12),
            cut in 0.0..1.0f64,
            pad in proptest::sample::select(vec!["", " ", "\n  ", "\t"]),
        ) {
            let points: String = contents
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    format!(
                        "<trkpt{pad}lat=\"{:.7}\"{pad}lon='13.4'{pad}>{pad}<time>{}</time>{pad}{}{pad}</trkpt{pad}>\n",
                        52.5 + i as f64 * 3.0 / 111_195.0,
                        at(i as f64),
                        POINT_CONTENT[*c]
                    )
                    .replace("<trkpt>", "<trkpt >")
                })
                .collect();
            let whole = gpx(&track("running", &[points]));
            both_scans_agree(&whole);
            let mut at = (whole.len() as f64 * cut) as usize;
            while std::str::from_utf8(&whole[..at]).is_err() {
                at -= 1;
            }
            both_scans_agree(&whole[..at]);
        }
    }
}
