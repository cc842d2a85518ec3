//! Parsing what runners type (`10km`, `6.2mi`, `1:02:30`, `2026-03-14T07:30`) and formatting
//! stored SI values back for display. Pure functions, so the CLI, the FFI and the importers all
//! accept and print the same spellings.

use chrono::{DateTime, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use chrono_tz::Tz;

use crate::model::{METRES_PER_MILE, Units};

/// Why a typed value could not be understood. Each message quotes the input and shows a valid
/// spelling, because the runner reading it is usually at a terminal mid-command.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParseError {
    #[error("distance '{0}' has no unit: write it like 10km, 6.2mi or 10000m")]
    MissingDistanceUnit(String),
    #[error(
        "distance '{input}' has an unknown unit '{unit}': use km, mi or m (e.g. 10km, 6.2mi, 10000m)"
    )]
    UnknownDistanceUnit { input: String, unit: String },
    #[error("distance '{0}' is not a number followed by a unit (e.g. 10km, 6.2mi, 10000m)")]
    BadDistance(String),
    #[error("distance '{0}' is negative: a distance must be 0 or more")]
    NegativeDistance(String),
    #[error("duration '{0}' is not HH:MM:SS or MM:SS (e.g. 1:02:30 or 45:00)")]
    BadDuration(String),
    #[error("duration '{input}': {field} must be below 60")]
    DurationFieldOutOfRange { input: String, field: &'static str },
    #[error("height '{0}' is not understood: write it like 178cm, 1.78m or 70in")]
    BadHeight(String),
    #[error(
        "date '{0}' is not YYYY-MM-DD or YYYY-MM-DDTHH:MM (e.g. 2026-03-14 or 2026-03-14T07:30)"
    )]
    BadDate(String),
    #[error("date '{0}' is not YYYY-MM-DD (e.g. 2026-03-14)")]
    BadDay(String),
    #[error(
        "time zone '{0}' is unknown: use an IANA name such as Europe/Berlin or America/New_York"
    )]
    UnknownTimeZone(String),
    #[error("{input} does not exist in {tz}: the clocks skipped that hour (daylight saving time)")]
    NonexistentLocalTime { input: String, tz: String },
}

/// Parses `10km`, `6.2mi`, `10000m`, `10 k`, `3 miles` into metres.
pub fn parse_distance(input: &str) -> Result<f64, ParseError> {
    let s = input.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let number = number.trim();
    let unit = unit.trim().to_ascii_lowercase();
    if number.is_empty() {
        return Err(ParseError::BadDistance(input.to_string()));
    }
    let value: f64 = number
        .parse()
        .map_err(|_| ParseError::BadDistance(input.to_string()))?;
    if !value.is_finite() {
        return Err(ParseError::BadDistance(input.to_string()));
    }
    if value < 0.0 {
        return Err(ParseError::NegativeDistance(input.to_string()));
    }
    let factor = match unit.as_str() {
        "" => return Err(ParseError::MissingDistanceUnit(input.to_string())),
        "km" | "k" | "kms" | "kilometre" | "kilometres" | "kilometer" | "kilometers" => 1000.0,
        "mi" | "mile" | "miles" => METRES_PER_MILE,
        "m" | "metre" | "metres" | "meter" | "meters" => 1.0,
        _ => {
            return Err(ParseError::UnknownDistanceUnit {
                input: input.to_string(),
                unit,
            });
        }
    };
    Ok(value * factor)
}

/// Parses `HH:MM:SS` or `MM:SS` (seconds may have a fraction) into seconds.
pub fn parse_duration(input: &str) -> Result<f64, ParseError> {
    let bad = || ParseError::BadDuration(input.to_string());
    let parts: Vec<&str> = input.trim().split(':').collect();
    if !(2..=3).contains(&parts.len()) || parts.iter().any(|p| p.is_empty()) {
        return Err(bad());
    }
    let whole = |p: &str| -> Result<u64, ParseError> {
        if p.bytes().all(|b| b.is_ascii_digit()) {
            p.parse().map_err(|_| bad())
        } else {
            Err(bad())
        }
    };
    let secs_str = parts[parts.len() - 1];
    if !secs_str.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(bad());
    }
    let secs: f64 = secs_str.parse().map_err(|_| bad())?;
    if secs >= 60.0 {
        return Err(ParseError::DurationFieldOutOfRange {
            input: input.to_string(),
            field: "seconds",
        });
    }
    let (hours, minutes) = if parts.len() == 3 {
        let m = whole(parts[1])?;
        if m >= 60 {
            return Err(ParseError::DurationFieldOutOfRange {
                input: input.to_string(),
                field: "minutes",
            });
        }
        (whole(parts[0])?, m)
    } else {
        // MM:SS may run past an hour ("75:00"), as stopwatches print it.
        (0, whole(parts[0])?)
    };
    Ok(hours as f64 * 3600.0 + minutes as f64 * 60.0 + secs)
}

/// Parses a height such as `178cm`, `1.78m` or `70in` into metres.
pub fn parse_height(input: &str) -> Result<f64, ParseError> {
    let s = input.trim().to_ascii_lowercase();
    let (number, factor) = if let Some(n) = s.strip_suffix("cm") {
        (n, 0.01)
    } else if let Some(n) = s.strip_suffix("in") {
        (n, 0.0254)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 1.0)
    } else {
        return Err(ParseError::BadHeight(input.to_string()));
    };
    let v: f64 = number
        .trim()
        .parse()
        .map_err(|_| ParseError::BadHeight(input.to_string()))?;
    let metres = v * factor;
    if !(0.5..=2.8).contains(&metres) {
        return Err(ParseError::BadHeight(input.to_string()));
    }
    Ok(metres)
}

/// Looks up an IANA time zone name.
pub fn parse_time_zone(name: &str) -> Result<Tz, ParseError> {
    name.trim()
        .parse::<Tz>()
        .map_err(|_| ParseError::UnknownTimeZone(name.to_string()))
}

/// Parses `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM[:SS]` as a local time in `tz`. A bare date means
/// 12:00 local: noon exists on every day in every zone, unlike midnight on some DST days.
/// In the repeated hour of a DST change the earlier instant is taken.
pub fn parse_local_datetime(input: &str, tz: Tz) -> Result<DateTime<FixedOffset>, ParseError> {
    let s = input.trim();
    let naive = if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        d.and_time(NaiveTime::from_hms_opt(12, 0, 0).expect("noon is a valid time"))
    } else {
        let s2 = s.replacen(' ', "T", 1);
        NaiveDateTime::parse_from_str(&s2, "%Y-%m-%dT%H:%M")
            .or_else(|_| NaiveDateTime::parse_from_str(&s2, "%Y-%m-%dT%H:%M:%S"))
            .map_err(|_| ParseError::BadDate(input.to_string()))?
    };
    match tz.from_local_datetime(&naive) {
        LocalResult::Single(t) => Ok(t.fixed_offset()),
        LocalResult::Ambiguous(earliest, _) => Ok(earliest.fixed_offset()),
        LocalResult::None => Err(ParseError::NonexistentLocalTime {
            input: input.to_string(),
            tz: tz.name().to_string(),
        }),
    }
}

/// Parses a point in time as runners and apps write it: RFC 3339 (`2026-03-14T07:30:00+01:00`),
/// or a local `YYYY-MM-DD[THH:MM]` in `tz` as [`parse_local_datetime`] reads it.
pub fn parse_time(input: &str, tz: Tz) -> Result<DateTime<FixedOffset>, ParseError> {
    match DateTime::parse_from_rfc3339(input.trim()) {
        Ok(t) => Ok(t),
        Err(_) => parse_local_datetime(input, tz),
    }
}

/// Parses a calendar day, `YYYY-MM-DD`.
pub fn parse_day(input: &str) -> Result<NaiveDate, ParseError> {
    NaiveDate::parse_from_str(input.trim(), "%Y-%m-%d")
        .map_err(|_| ParseError::BadDay(input.to_string()))
}

/// A distance in the runner's units with two decimals, e.g. `10.00 km`.
pub fn format_distance(metres: f64, units: Units) -> String {
    format!("{:.2} {}", metres / units.metres(), units.as_str())
}

/// `H:MM:SS` (or `M:SS` under an hour), rounded to the second.
pub fn format_duration(seconds: f64) -> String {
    let total = seconds.max(0.0).round() as u64;
    let (h, m, s) = (total / 3600, (total / 60) % 60, total % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// Pace per display unit, e.g. `5:12 /km`; `-` when there is no distance.
pub fn format_pace(distance_m: f64, seconds: f64, units: Units) -> String {
    if distance_m <= 0.0 || seconds <= 0.0 {
        return "-".to_string();
    }
    let per_unit = seconds / (distance_m / units.metres());
    format!("{} /{}", format_duration(per_unit), units.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_in_every_unit() {
        assert_eq!(parse_distance("10km").unwrap(), 10_000.0);
        assert_eq!(parse_distance("10 km").unwrap(), 10_000.0);
        assert_eq!(parse_distance("10000m").unwrap(), 10_000.0);
        assert!((parse_distance("6.2mi").unwrap() - 9_977.932_8).abs() < 1e-6);
        assert_eq!(parse_distance("0km").unwrap(), 0.0);
        assert_eq!(parse_distance("21.1K").unwrap(), 21_100.0);
    }

    #[test]
    fn bad_distances_say_what_is_wrong() {
        assert_eq!(
            parse_distance("-5km").unwrap_err(),
            ParseError::NegativeDistance("-5km".into())
        );
        assert_eq!(
            parse_distance("10").unwrap_err(),
            ParseError::MissingDistanceUnit("10".into())
        );
        assert!(matches!(
            parse_distance("10furlongs").unwrap_err(),
            ParseError::UnknownDistanceUnit { unit, .. } if unit == "furlongs"
        ));
        assert!(matches!(
            parse_distance("ten km"),
            Err(ParseError::BadDistance(_))
        ));
        assert!(matches!(
            parse_distance("1.2.3km"),
            Err(ParseError::BadDistance(_))
        ));
        assert!(matches!(
            parse_distance(""),
            Err(ParseError::BadDistance(_))
        ));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1:02:30").unwrap(), 3750.0);
        assert_eq!(parse_duration("45:00").unwrap(), 2700.0);
        assert_eq!(parse_duration("75:30").unwrap(), 4530.0);
        assert_eq!(parse_duration("0:45:30.5").unwrap(), 2730.5);
        assert!(matches!(
            parse_duration("1:60:00"),
            Err(ParseError::DurationFieldOutOfRange {
                field: "minutes",
                ..
            })
        ));
        assert!(matches!(
            parse_duration("45:61"),
            Err(ParseError::DurationFieldOutOfRange {
                field: "seconds",
                ..
            })
        ));
        for bad in ["45", "1:2:3:4", "a:00", ":30", "-1:00", "1:-5:00"] {
            assert!(
                matches!(parse_duration(bad), Err(ParseError::BadDuration(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn heights() {
        assert!((parse_height("178cm").unwrap() - 1.78).abs() < 1e-9);
        assert!((parse_height("1.78m").unwrap() - 1.78).abs() < 1e-9);
        assert!((parse_height("70in").unwrap() - 1.778).abs() < 1e-9);
        assert!(parse_height("178").is_err());
        assert!(parse_height("17.8m").is_err());
    }

    #[test]
    fn dates_are_local_to_the_profile_zone_with_their_offset() {
        let berlin = parse_time_zone("Europe/Berlin").unwrap();
        let t = parse_local_datetime("2026-03-14T07:30", berlin).unwrap();
        assert_eq!(t.to_rfc3339(), "2026-03-14T07:30:00+01:00");
        let summer = parse_local_datetime("2026-07-14", berlin).unwrap();
        assert_eq!(summer.to_rfc3339(), "2026-07-14T12:00:00+02:00");
        assert!(matches!(
            parse_local_datetime("2026-03-29T02:30", berlin),
            Err(ParseError::NonexistentLocalTime { .. })
        ));
        for bad in [
            "14/03/2026",
            "2026-13-01",
            "2026-02-30",
            "yesterday",
            "2026-03-14T25:00",
        ] {
            assert!(
                matches!(
                    parse_local_datetime(bad, berlin),
                    Err(ParseError::BadDate(_))
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            parse_time_zone("Mars/Olympus"),
            Err(ParseError::UnknownTimeZone(_))
        ));
    }

    #[test]
    fn formatting() {
        assert_eq!(format_distance(10_000.0, Units::Km), "10.00 km");
        assert_eq!(format_distance(METRES_PER_MILE * 3.1, Units::Mi), "3.10 mi");
        assert_eq!(format_duration(3750.4), "1:02:30");
        assert_eq!(format_duration(2700.0), "45:00");
        assert_eq!(format_pace(10_000.0, 3000.0, Units::Km), "5:00 /km");
        assert_eq!(format_pace(0.0, 3000.0, Units::Km), "-");
    }
}
