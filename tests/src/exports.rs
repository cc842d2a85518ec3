//! Small known exports of both layouts the bulk import reads, built from synthetic runs with
//! core's own writers: a Strava export (`activities.csv` with quoted fields and repeated column
//! names, `activities/*.fit.gz`, `*.gpx.gz`, `*.tcx.gz`, a ride, a typed-in activity, a route
//! that is no run) as a folder or a zip, and a Garmin Connect export (`DI_CONNECT/...` with the
//! uploaded files in part zips inside the zip).

use std::io::{Cursor, Write};
use std::path::Path;

use chrono::{DateTime, Duration, FixedOffset};
use strideguard_core::export;
use strideguard_core::model::{Run, Sample};
use uuid::Uuid;

/// A run of `minutes` at 1 Hz starting at `start` (RFC 3339), at `pace_mps`, with position,
/// heart rate and cadence, as a watch records it.
pub fn synthetic_run(start: &str, minutes: u32, pace_mps: f64) -> (Run, Vec<Sample>) {
    let start: DateTime<FixedOffset> = DateTime::parse_from_rfc3339(start).expect("a time");
    let n = minutes * 60;
    let samples: Vec<Sample> = (0..=n)
        .map(|i| {
            let t = f64::from(i);
            let d = t * pace_mps;
            Sample {
                t_s: t,
                lat_deg: Some(52.5 + d / 111_320.0),
                lon_deg: Some(13.4),
                altitude_m: Some(40.0 + (t / 60.0).sin() * 5.0),
                distance_m: Some(d),
                speed_mps: Some(pace_mps),
                hr_bpm: Some(140 + (i % 20) as u8),
                cadence_spm: Some(170.0 + f64::from(i % 6)),
                ..Sample::default()
            }
        })
        .collect();
    let mut run = Run::new(Uuid::new_v4(), start, f64::from(n) * pace_mps, f64::from(n));
    run.avg_hr_bpm = Some(149.5);
    run.avg_cadence_spm = Some(172.5);
    (run, samples)
}

pub fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).expect("in memory");
    e.finish().expect("in memory")
}

/// A zip of `files` (name, bytes), deflated.
pub fn zip(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(1));
    for (name, bytes) in files {
        w.start_file(name.as_str(), opts).expect("in memory");
        w.write_all(bytes).expect("in memory");
    }
    w.finish().expect("in memory").into_inner()
}

/// Writes `files` (relative names) under `dir`.
pub fn write_folder(dir: &Path, files: &[(String, Vec<u8>)]) {
    for (name, bytes) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("a folder");
        std::fs::write(path, bytes).expect("written");
    }
}

/// One activity of the known Strava export and what the import must make of it.
#[derive(Debug, Clone)]
pub struct StravaRun {
    pub id: u64,
    pub run: Run,
    pub samples: Vec<Sample>,
    /// The run's notes after the import.
    pub notes: &'static str,
    pub gear: Option<&'static str>,
    pub rpe: Option<u8>,
}

/// The known Strava export: its files, and the runs it must import.
pub struct StravaExport {
    pub files: Vec<(String, Vec<u8>)>,
    /// 101 (`.fit.gz`, Pegasus 40, RPE 6), 102 (`.gpx.gz`, Trail Run, "pegasus 40", RPE 8),
    /// 104 (`.tcx.gz`, Virtual Run, no gear), 105 (a plain `.fit`, Vaporfly, RPE 9).
    pub runs: Vec<StravaRun>,
    /// 103 is a ride whose GPX names no sport (and a rider's cadence would pass for a run's).
    pub ride_file: &'static str,
}

/// `activities.csv`'s header as newer exports write it: `Elapsed Time`, `Distance`,
/// `Max Heart Rate` and `Commute` appear twice.
pub const STRAVA_HEADER: &str = "Activity ID,Activity Date,Activity Name,Activity Type,Activity Description,Elapsed Time,Distance,Max Heart Rate,Relative Effort,Commute,Activity Private Note,Activity Gear,Filename,Athlete Weight,Bike Weight,Elapsed Time,Moving Time,Distance,Max Speed,Average Speed,Elevation Gain,Max Heart Rate,Average Heart Rate,Commute,Perceived Exertion,Prefer Perceived Exertion";

pub fn strava_export() -> StravaExport {
    let (r101, s101) = synthetic_run("2025-03-01T07:00:00+01:00", 30, 3.0);
    let (r102, s102) = synthetic_run("2025-03-02T08:00:00+01:00", 40, 2.5);
    let (r103, s103) = synthetic_run("2025-03-03T09:00:00+01:00", 20, 2.8);
    let (r104, s104) = synthetic_run("2025-03-04T18:30:00+01:00", 25, 3.2);
    let (r105, s105) = synthetic_run("2025-03-05T06:45:00+01:00", 15, 4.0);
    let csv = format!(
        "{STRAVA_HEADER}\n\
         101,\"Mar 1, 2025, 6:00:00 AM\",\"Easy, with Anna\",Run,\"Felt good.\nLegs fresh, \"\"finally\"\".\",1800,5.40,159,20,false,,Pegasus 40,activities/101.fit.gz,70,,1800,1790,5400.0,3.4,3.0,12,159,149,false,6.0,false\n\
         102,\"Mar 2, 2025, 7:00:00 AM\",Hill reps,Trail Run,,2400,6.00,159,50,false,,pegasus 40,activities/102.gpx.gz,70,,2400,2390,6000.0,3.0,2.5,80,159,149,false,8,true\n\
         103,\"Mar 3, 2025, 8:00:00 AM\",Commute,Ride,,1200,3.36,150,5,true,,Canyon,activities/103.gpx.gz,70,9,1200,1200,3360.0,3.5,2.8,5,150,140,true,,false\n\
         104,\"Mar 4, 2025, 5:30:00 PM\",Zwift,Virtual Run,,1500,4.80,159,25,false,,,activities/104.tcx.gz,70,,1500,1500,4800.0,3.5,3.2,0,159,149,false,,false\n\
         105,\"Mar 5, 2025, 5:45:00 AM\",Tempo,Run,,900,3.60,159,30,false,,Vaporfly,activities/105.fit,70,,900,900,3600.0,4.2,4.0,3,159,149,false,9,true\n\
         106,\"Mar 6, 2025, 6:00:00 AM\",Treadmill (typed in),Run,,1800,5.00,,,false,,Pegasus 40,,70,,1800,1800,5000.0,,,,,,false,,false\n"
    );
    let files = vec![
        ("activities.csv".to_string(), csv.into_bytes()),
        (
            "activities/101.fit.gz".into(),
            gz(&export::fit::write(&r101, &s101, 1)),
        ),
        (
            "activities/102.gpx.gz".into(),
            gz(&export::gpx::write(&r102, &s102, "running")),
        ),
        (
            "activities/103.gpx.gz".into(),
            gz(&export::gpx::write(&r103, &s103, "")),
        ),
        (
            "activities/104.tcx.gz".into(),
            gz(&export::tcx::write(&r104, &s104, "Running")),
        ),
        (
            "activities/105.fit".into(),
            export::fit::write(&r105, &s105, 1),
        ),
        // A planned route: a GPX track, but no activity of the runner's.
        (
            "routes/1.gpx".into(),
            export::gpx::write(&r101, &s101, "running"),
        ),
        ("profile.csv".into(), b"Athlete ID\n1\n".to_vec()),
    ];
    let runs = vec![
        StravaRun {
            id: 101,
            run: r101,
            samples: s101,
            notes: "Easy, with Anna\n\nFelt good.\nLegs fresh, \"finally\".",
            gear: Some("Pegasus 40"),
            rpe: Some(6),
        },
        StravaRun {
            id: 102,
            run: r102,
            samples: s102,
            notes: "Hill reps",
            gear: Some("Pegasus 40"),
            rpe: Some(8),
        },
        StravaRun {
            id: 104,
            run: r104,
            samples: s104,
            notes: "Zwift",
            gear: None,
            rpe: None,
        },
        StravaRun {
            id: 105,
            run: r105,
            samples: s105,
            notes: "Tempo",
            gear: Some("Vaporfly"),
            rpe: Some(9),
        },
    ];
    StravaExport {
        files,
        runs,
        ride_file: "activities/103.gpx.gz",
    }
}

/// Garmin Connect's layout: the uploaded FIT files in part zips under
/// `DI_CONNECT/DI-Connect-Uploaded-Files/`, beside the JSON of the account.
pub fn garmin_export(parts: &[Vec<(String, Vec<u8>)>]) -> Vec<u8> {
    let mut files = vec![
        (
            "DI_CONNECT/DI-Connect-Fitness/runner@example.com_0_summarizedActivities.json".into(),
            b"[{\"summarizedActivitiesExport\":[]}]".to_vec(),
        ),
        (
            "DI_CONNECT/DI-Connect-User/user_profile.json".into(),
            b"{}".to_vec(),
        ),
    ];
    for (i, part) in parts.iter().enumerate() {
        files.push((
            format!(
                "DI_CONNECT/DI-Connect-Uploaded-Files/UploadedFiles_0-_Part{}.zip",
                i + 1
            ),
            zip(part),
        ));
    }
    zip(&files)
}

/// The FIT files of `runs` named as Garmin names uploads.
pub fn garmin_part(runs: &[(Run, Vec<Sample>)], first_id: u64) -> Vec<(String, Vec<u8>)> {
    runs.iter()
        .enumerate()
        .map(|(i, (run, samples))| {
            (
                format!("runner@example.com_{}.fit", first_id + i as u64),
                export::fit::write(run, samples, 1),
            )
        })
        .collect()
}

/// `n` runs a day apart from `first` (RFC 3339), `minutes` each.
pub fn daily_runs(first: &str, n: usize, minutes: u32) -> Vec<(Run, Vec<Sample>)> {
    let start = DateTime::parse_from_rfc3339(first).expect("a time");
    (0..n)
        .map(|i| {
            let day = start + Duration::days(i as i64);
            synthetic_run(&day.to_rfc3339(), minutes, 2.8 + (i % 5) as f64 * 0.1)
        })
        .collect()
}
