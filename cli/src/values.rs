//! Clap value parsers over core's parsers and ranges: a bad distance, date or RPE is refused
//! with core's reason before the database is even opened.

use chrono::NaiveDate;
use strideguard_core::model::{RunKind, Units};
use strideguard_core::ranges::Accepted;
use strideguard_core::triage::AnswerError;
use strideguard_core::units;

pub fn distance(s: &str) -> Result<f64, String> {
    units::parse_distance(s).map_err(|e| e.to_string())
}

/// A duration longer than zero.
pub fn duration(s: &str) -> Result<f64, String> {
    let d = units::parse_duration(s).map_err(|e| e.to_string())?;
    if d <= 0.0 {
        return Err(format!(
            "duration '{s}' is zero: a run lasts longer than that"
        ));
    }
    Ok(d)
}

pub fn height(s: &str) -> Result<f64, String> {
    let h = units::parse_height(s).map_err(|e| e.to_string())?;
    strideguard_core::ranges::HEIGHT_M
        .check(h)
        .map_err(|e| e.to_string())
}

pub fn kind(s: &str) -> Result<RunKind, String> {
    s.parse()
        .map_err(|e: strideguard_core::model::UnknownName| e.to_string())
}

pub fn units(s: &str) -> Result<Units, String> {
    s.parse()
        .map_err(|e: strideguard_core::model::UnknownName| e.to_string())
}

pub fn time_zone(s: &str) -> Result<String, String> {
    units::parse_time_zone(s)
        .map(|tz| tz.name().to_string())
        .map_err(|e| e.to_string())
}

pub fn day(s: &str) -> Result<NaiveDate, String> {
    units::parse_day(s).map_err(|e| e.to_string())
}

pub fn answer<T: std::str::FromStr<Err = AnswerError>>(s: &str) -> Result<T, String> {
    s.parse().map_err(|e: AnswerError| e.to_string())
}

/// A whole number within one of core's accepted ranges.
pub fn in_range<T>(range: Accepted<T>) -> impl Fn(&str) -> Result<T, String> + Clone
where
    T: std::str::FromStr + PartialOrd + Copy + std::fmt::Display + Send + Sync + 'static,
{
    move |s: &str| {
        let v: T = s
            .trim()
            .parse()
            .map_err(|_| format!("'{s}' is not a number"))?;
        range.check(v).map_err(|e| e.to_string())
    }
}

/// `NAME=VALUE` for `profile set --threshold`.
pub fn threshold(s: &str) -> Result<(String, f64), String> {
    let (name, value) = s
        .split_once('=')
        .ok_or_else(|| format!("'{s}' is not NAME=VALUE (e.g. weekly_increase_pct=8)"))?;
    let v: f64 = value
        .trim()
        .parse()
        .map_err(|_| format!("'{value}' is not a number"))?;
    Ok((name.trim().to_string(), v))
}

/// Yes, no or not known.
pub fn yes_no_unknown(s: &str) -> Result<Option<bool>, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "yes" | "y" | "true" => Ok(Some(true)),
        "no" | "n" | "false" => Ok(Some(false)),
        "unknown" | "not sure" | "null" => Ok(None),
        _ => Err(format!("'{s}' is not yes, no or unknown")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strideguard_core::ranges::RPE;

    #[test]
    fn ranges_come_from_core() {
        let rpe = in_range(RPE);
        assert_eq!(rpe("7"), Ok(7));
        assert_eq!(rpe("11").unwrap_err(), "RPE: 11 is outside 0-10");
        assert_eq!(rpe("x").unwrap_err(), "'x' is not a number");
    }
}
