//! The single profile row.

use super::{Store, StoreError, changes::ChangeOp, collection};
use crate::model::{CadenceTarget, Profile, Thresholds, Units};
use crate::ranges;
use crate::units::parse_time_zone;

impl Store {
    pub fn profile(&self) -> Result<Profile, StoreError> {
        let row = self.conn.query_row(
            "SELECT units, time_zone, cadence_mode, cadence_value, resting_hr_bpm, max_hr_bpm, height_m,
                    thresholds
             FROM profile WHERE id = 1",
            [],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, f64>(3)?,
                    r.get::<_, Option<u8>>(4)?,
                    r.get::<_, Option<u8>>(5)?,
                    r.get::<_, Option<f64>>(6)?,
                    r.get::<_, Option<String>>(7)?,
                ))
            },
        )?;
        let corrupt = |reason: String| StoreError::Corrupt {
            table: "profile",
            id: "profile".into(),
            reason,
        };
        let (units, time_zone, mode, value, resting_hr_bpm, max_hr_bpm, height_m, thresholds) = row;
        let thresholds = match thresholds {
            Some(json) => {
                serde_json::from_str(&json).map_err(|e| corrupt(format!("thresholds: {e}")))?
            }
            None => Thresholds::default(),
        };
        let units: Units = units
            .parse()
            .map_err(|e: crate::model::UnknownName| corrupt(e.to_string()))?;
        let cadence_target = match mode.as_str() {
            "auto" => CadenceTarget::Auto {
                increase_pct: value,
            },
            "fixed" => CadenceTarget::Fixed { spm: value },
            other => return Err(corrupt(format!("unknown cadence mode '{other}'"))),
        };
        Ok(Profile {
            units,
            time_zone,
            cadence_target,
            resting_hr_bpm,
            max_hr_bpm,
            height_m,
            thresholds,
        })
    }

    /// Sets the time zone a new database starts with (the device's own) without logging it as
    /// an edit: a device default must never override, through sync, the zone the runner chose
    /// on another device. A profile that arrives by sync replaces it.
    pub fn set_default_time_zone(&mut self, tz: &str) -> Result<(), StoreError> {
        let zone = parse_time_zone(tz).map_err(|e| StoreError::Invalid {
            field: "time zone",
            reason: e.to_string(),
        })?;
        self.conn.execute(
            "UPDATE profile SET time_zone = ?1 WHERE id = 1",
            [zone.name()],
        )?;
        Ok(())
    }

    /// Saves the profile, logging only the fields that changed (so an edit of the units on one
    /// device and of the time zone on another both survive a sync).
    pub fn set_profile(&mut self, p: &Profile) -> Result<(), StoreError> {
        validate_profile(p)?;
        let old = self.profile()?;
        let fields: Vec<&str> = [
            ("units", old.units != p.units),
            ("time_zone", old.time_zone != p.time_zone),
            ("cadence_target", old.cadence_target != p.cadence_target),
            ("resting_hr_bpm", old.resting_hr_bpm != p.resting_hr_bpm),
            ("max_hr_bpm", old.max_hr_bpm != p.max_hr_bpm),
            ("height_m", old.height_m != p.height_m),
            ("thresholds", old.thresholds != p.thresholds),
        ]
        .into_iter()
        .filter_map(|(field, changed)| changed.then_some(field))
        .collect();
        if fields.is_empty() {
            return Ok(());
        }
        let (mode, value) = match p.cadence_target {
            CadenceTarget::Auto { increase_pct } => ("auto", increase_pct),
            CadenceTarget::Fixed { spm } => ("fixed", spm),
        };
        self.write(|w| {
            w.tx.execute(
                "UPDATE profile SET units = ?1, time_zone = ?2, cadence_mode = ?3, cadence_value = ?4,
                 resting_hr_bpm = ?5, max_hr_bpm = ?6, height_m = ?7, thresholds = ?8 WHERE id = 1",
                rusqlite::params![
                    p.units.as_str(),
                    p.time_zone,
                    mode,
                    value,
                    p.resting_hr_bpm,
                    p.max_hr_bpm,
                    p.height_m,
                    (p.thresholds != Thresholds::default())
                        .then(|| serde_json::to_string(&p.thresholds).expect("thresholds serialise"))
                ],
            )?;
            w.log(collection::PROFILE, "profile", ChangeOp::Put, &fields)
        })
    }
}

fn validate_profile(p: &Profile) -> Result<(), StoreError> {
    let invalid = |field, reason: String| Err(StoreError::Invalid { field, reason });
    if parse_time_zone(&p.time_zone).is_err() {
        return invalid(
            "time zone",
            format!("'{}' is not an IANA time zone name", p.time_zone),
        );
    }
    match p.cadence_target {
        CadenceTarget::Auto { increase_pct } => {
            ranges::CADENCE_INCREASE_PCT.check(increase_pct)?;
        }
        CadenceTarget::Fixed { spm } => {
            ranges::TARGET_CADENCE_SPM.check(spm)?;
        }
    }
    if let (Some(rest), Some(max)) = (p.resting_hr_bpm, p.max_hr_bpm)
        && rest >= max
    {
        return invalid(
            "heart rate",
            format!("resting {rest} bpm must be below max {max} bpm"),
        );
    }
    if let Some(rest) = p.resting_hr_bpm {
        ranges::RESTING_HR_BPM.check(rest)?;
    }
    if let Some(max) = p.max_hr_bpm {
        ranges::MAX_HR_BPM.check(max)?;
    }
    if let Some(h) = p.height_m {
        ranges::HEIGHT_M.check(h)?;
    }
    Ok(())
}
