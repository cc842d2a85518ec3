//! A Strava bulk export's `activities.csv`: what the runner called each activity, its type, its
//! gear and the perceived exertion, keyed by the activity file it names (`Filename`,
//! `activities/123.fit.gz`). Pure: bytes in, rows out.
//!
//! The CSV is RFC 4180: quoted fields hold commas, doubled quotes and newlines (descriptions
//! often do). Newer exports repeat column names (`Distance`, `Elapsed Time`, `Max Heart Rate`,
//! `Commute` appear twice: once as shown in the app, once in SI units further right); the
//! columns read here are taken from the first of each name.

use std::collections::HashMap;

use crate::ranges;

/// The file every Strava export has at its top.
pub const CSV_NAME: &str = "activities.csv";
/// The folder of activity files in a Strava export; other folders (`routes/`, `media/`) hold
/// no activities.
pub const ACTIVITIES_FOLDER: &str = "activities/";
/// The most `activities.csv` may be: a row is well under a kilobyte with its description, so
/// this is far beyond a lifetime of activities.
pub const MAX_CSV_BYTES: u64 = 256 << 20;

/// One row of `activities.csv` that names a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StravaActivity {
    /// `Activity ID`.
    pub id: String,
    /// `Activity Name`, when not empty.
    pub name: Option<String>,
    /// `Activity Description`, when not empty.
    pub description: Option<String>,
    /// `Activity Type` as Strava spells it (`Run`, `Trail Run`, `Ride`...), empty when missing.
    pub activity_type: String,
    /// `Activity Gear`: the shoe (or bike) name, when not empty.
    pub gear: Option<String>,
    /// `Perceived Exertion` on Strava's 1-10 scale, when given and within [`ranges::RPE`].
    pub rpe: Option<u8>,
    /// `Filename` as written (`activities/123.fit.gz`).
    pub filename: String,
}

/// What Strava's type says about an activity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sport {
    /// `Run`, `Trail Run`, `Virtual Run` (and their API spellings `TrailRun`, `VirtualRun`).
    Run,
    /// Anything else (`Ride`, `Walk`, `Swim`...): not a run, whatever the file says.
    Other(String),
    /// No type: the file decides.
    Unknown,
}

impl StravaActivity {
    pub fn sport(&self) -> Sport {
        let t = self.activity_type.trim();
        if t.is_empty() {
            return Sport::Unknown;
        }
        let squashed: String = t
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_lowercase();
        match squashed.as_str() {
            "run" | "trailrun" | "virtualrun" => Sport::Run,
            _ => Sport::Other(t.to_string()),
        }
    }

    /// The run's notes: the name, then the description after a blank line, cut to
    /// [`ranges::NOTES_MAX_CHARS`] (the store refuses longer notes, and a long description is
    /// no reason to lose the run).
    pub fn notes(&self) -> Option<String> {
        let text = match (&self.name, &self.description) {
            (None, None) => return None,
            (Some(n), None) => n.clone(),
            (None, Some(d)) => d.clone(),
            (Some(n), Some(d)) => format!("{n}\n\n{d}"),
        };
        Some(text.chars().take(ranges::NOTES_MAX_CHARS).collect())
    }
}

/// Why `activities.csv` could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StravaError {
    #[error("activities.csv is not UTF-8 text (byte {0})")]
    NotText(usize),
    #[error("activities.csv is empty")]
    Empty,
    #[error("activities.csv has no \"{0}\" column; is it a Strava export?")]
    MissingColumn(&'static str),
    #[error("activities.csv: a quoted field opened on line {0} never closes")]
    UnclosedQuote(usize),
}

/// The rows of `activities.csv` that name a file, found by that file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StravaIndex {
    rows: Vec<StravaActivity>,
    by_file: HashMap<String, usize>,
}

impl StravaIndex {
    /// The row naming `path` (relative to the export's top, `/` or `\` separated, any case).
    pub fn get(&self, path: &str) -> Option<&StravaActivity> {
        self.by_file.get(&key(path)).map(|&i| &self.rows[i])
    }

    /// Every row with a file, in CSV order.
    pub fn rows(&self) -> &[StravaActivity] {
        &self.rows
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

/// How a file's path is looked up: `./Activities\123.FIT.GZ` and `activities/123.fit.gz` are
/// the same file.
fn key(path: &str) -> String {
    let p = path.trim().replace('\\', "/").to_lowercase();
    let mut p = p.as_str();
    while let Some(rest) = p.strip_prefix("./") {
        p = rest;
    }
    p.trim_start_matches('/').to_string()
}

/// Whether `path` (relative to the export's top) is in its activities folder.
pub fn in_activities_folder(path: &str) -> bool {
    key(path).starts_with(ACTIVITIES_FOLDER)
}

/// Parses `activities.csv`. Rows without a `Filename` (activities typed in on Strava) are left
/// out: there is no file to import. A row shorter than the header reads its missing fields as
/// empty.
pub fn parse_csv(bytes: &[u8]) -> Result<StravaIndex, StravaError> {
    let text = std::str::from_utf8(bytes).map_err(|e| StravaError::NotText(e.valid_up_to()))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut records = Records::new(text);
    let header = records.next().ok_or(StravaError::Empty)??;
    let column = |name: &str| {
        header
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(name))
    };
    let filename = column("Filename").ok_or(StravaError::MissingColumn("Filename"))?;
    let id = column("Activity ID").ok_or(StravaError::MissingColumn("Activity ID"))?;
    let name = column("Activity Name");
    let description = column("Activity Description");
    let activity_type = column("Activity Type");
    let gear = column("Activity Gear");
    let rpe = column("Perceived Exertion");
    let mut index = StravaIndex::default();
    for record in records {
        let record = record?;
        let field = |i: Option<usize>| {
            i.and_then(|i| record.get(i))
                .map(|s| s.trim())
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let Some(file) = field(Some(filename)) else {
            continue;
        };
        let row = StravaActivity {
            id: field(Some(id)).unwrap_or_default(),
            name: field(name),
            description: field(description),
            activity_type: field(activity_type).unwrap_or_default(),
            gear: field(gear),
            rpe: field(rpe).and_then(|r| parse_rpe(&r)),
            filename: file.clone(),
        };
        // A file named twice keeps its first row, as the columns keep their first name.
        index.by_file.entry(key(&file)).or_insert(index.rows.len());
        index.rows.push(row);
    }
    Ok(index)
}

/// Strava's perceived exertion (1-10, written `7` or `7.0`) as an RPE; anything outside
/// [`ranges::RPE`] is left out rather than guessed.
fn parse_rpe(text: &str) -> Option<u8> {
    let v: f64 = text.parse().ok()?;
    if !v.is_finite() {
        return None;
    }
    let r = v.round();
    if !(0.0..=255.0).contains(&r) {
        return None;
    }
    ranges::RPE.check(r as u8).ok()
}

/// The records of a CSV text, each a list of fields.
struct Records<'a> {
    text: &'a str,
    pos: usize,
    line: usize,
}

impl<'a> Records<'a> {
    fn new(text: &'a str) -> Self {
        Records {
            text,
            pos: 0,
            line: 1,
        }
    }
}

impl Iterator for Records<'_> {
    type Item = Result<Vec<String>, StravaError>;

    fn next(&mut self) -> Option<Self::Item> {
        let bytes = self.text.as_bytes();
        // Blank lines between records carry nothing.
        while self.pos < bytes.len() && (bytes[self.pos] == b'\n' || bytes[self.pos] == b'\r') {
            if bytes[self.pos] == b'\n' {
                self.line += 1;
            }
            self.pos += 1;
        }
        if self.pos >= bytes.len() {
            return None;
        }
        let mut fields = Vec::new();
        let mut field = String::new();
        loop {
            if self.pos >= bytes.len() {
                fields.push(field);
                return Some(Ok(fields));
            }
            match bytes[self.pos] {
                b'"' if field.is_empty() => {
                    let opened = self.line;
                    self.pos += 1;
                    loop {
                        let Some(rel) = self.text[self.pos..].find('"') else {
                            self.pos = bytes.len();
                            return Some(Err(StravaError::UnclosedQuote(opened)));
                        };
                        let chunk = &self.text[self.pos..self.pos + rel];
                        self.line += chunk.matches('\n').count();
                        field.push_str(chunk);
                        self.pos += rel + 1;
                        if bytes.get(self.pos) == Some(&b'"') {
                            field.push('"');
                            self.pos += 1;
                        } else {
                            break;
                        }
                    }
                    // Anything between the closing quote and the next comma is kept, as
                    // spreadsheets do.
                }
                b',' => {
                    fields.push(std::mem::take(&mut field));
                    self.pos += 1;
                }
                b'\r' if bytes.get(self.pos + 1) == Some(&b'\n') => {
                    self.pos += 2;
                    self.line += 1;
                    fields.push(field);
                    return Some(Ok(fields));
                }
                b'\n' => {
                    self.pos += 1;
                    self.line += 1;
                    fields.push(field);
                    return Some(Ok(fields));
                }
                _ => {
                    let rest = &self.text[self.pos..];
                    let end = rest.find([',', '\n', '\r', '"']).unwrap_or(rest.len());
                    // A quote inside an unquoted field, or a lone carriage return, is taken
                    // as text (both are one byte, so the cut stays on a character boundary).
                    let end = if end == 0 { 1 } else { end };
                    field.push_str(&rest[..end]);
                    self.pos += end;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "Activity ID,Activity Date,Activity Name,Activity Type,Activity Description,Elapsed Time,Distance,Max Heart Rate,Relative Effort,Commute,Activity Private Note,Activity Gear,Filename,Athlete Weight,Bike Weight,Elapsed Time,Moving Time,Distance,Max Speed,Perceived Exertion,Prefer Perceived Exertion,Commute";

    #[test]
    fn quoted_fields_with_commas_quotes_and_newlines() {
        let csv = format!(
            "\u{feff}{HEADER}\r\n\
             101,\"Mar 1, 2024, 7:00:00 AM\",\"Easy, slow\",Run,\"line one\nline \"\"two\"\"\",3600,10.0,170,40,false,,Pegasus 39,activities/101.fit.gz,,,3600,3500,10000.0,4.0,7.0,false,false\r\n\
             102,\"Mar 2, 2024, 7:00:00 AM\",Spin,Ride,,3600,30.0,150,20,false,,Bike,activities/102.gpx.gz,,,,,,,,,\r\n\
             103,\"Mar 3, 2024, 7:00:00 AM\",Typed in,Run,,600,2.0,,,,,,,,,,,,,,,\n"
        );
        let index = parse_csv(csv.as_bytes()).unwrap();
        assert_eq!(index.len(), 2, "the row without a file is left out");
        let run = index.get("Activities/101.FIT.GZ").unwrap();
        assert_eq!(run.id, "101");
        assert_eq!(run.name.as_deref(), Some("Easy, slow"));
        assert_eq!(run.description.as_deref(), Some("line one\nline \"two\""));
        assert_eq!(run.gear.as_deref(), Some("Pegasus 39"));
        assert_eq!(run.rpe, Some(7));
        assert_eq!(run.sport(), Sport::Run);
        assert_eq!(
            run.notes().as_deref(),
            Some("Easy, slow\n\nline one\nline \"two\"")
        );
        let ride = index.get("./activities/102.gpx.gz").unwrap();
        assert_eq!(ride.sport(), Sport::Other("Ride".into()));
        assert_eq!(ride.rpe, None);
    }

    #[test]
    fn the_run_types_strava_has() {
        let row = |t: &str| StravaActivity {
            id: String::new(),
            name: None,
            description: None,
            activity_type: t.into(),
            gear: None,
            rpe: None,
            filename: String::new(),
        };
        for t in ["Run", "Trail Run", "Virtual Run", "VirtualRun", "trail run"] {
            assert_eq!(row(t).sport(), Sport::Run, "{t}");
        }
        assert_eq!(row("Walk").sport(), Sport::Other("Walk".into()));
        assert_eq!(row(" ").sport(), Sport::Unknown);
    }

    #[test]
    fn exertion_outside_the_scale_is_left_out() {
        assert_eq!(parse_rpe("10"), Some(10));
        assert_eq!(parse_rpe("6.6"), Some(7));
        assert_eq!(parse_rpe("11"), None);
        assert_eq!(parse_rpe("-1"), None);
        assert_eq!(parse_rpe("NaN"), None);
        assert_eq!(parse_rpe("1e300"), None);
    }

    #[test]
    fn broken_files_say_what_is_wrong() {
        assert_eq!(parse_csv(b""), Err(StravaError::Empty));
        assert_eq!(
            parse_csv(b"Activity ID,Name\n1,x\n"),
            Err(StravaError::MissingColumn("Filename"))
        );
        assert_eq!(
            parse_csv(b"Activity ID,Filename\n1,\"a.fit\n2,b.fit\n"),
            Err(StravaError::UnclosedQuote(2))
        );
        assert_eq!(parse_csv(b"\xff\xfe"), Err(StravaError::NotText(0)));
    }

    #[test]
    fn short_rows_and_stray_quotes() {
        let index = parse_csv(b"Activity ID,Filename,Activity Gear\n7,activities/7.fit\n8,activities/8\"x.fit,\"G\"x\n").unwrap();
        assert_eq!(index.get("activities/7.fit").unwrap().gear, None);
        assert_eq!(
            index.get("activities/8\"x.fit").unwrap().gear.as_deref(),
            Some("Gx")
        );
        assert!(in_activities_folder("Activities\\1.fit"));
        assert!(!in_activities_folder("routes/1.gpx"));
    }
}
