//! The `Strideguard` object: one per database file, safe to call from any thread.
//!
//! Reads go through their own read-only connections (WAL lets them read the last commit while
//! a write is in progress), so they never wait for a sync or an import. Local writes take the
//! writing connection for one transaction. Sync, import and the account calls are async (run on
//! a blocking thread pool) and borrow the writing connection only per step, never across
//! network IO or key derivation. Every write starts with the database's write lock taken at
//! once and a busy timeout, so two objects, a widget and the app, or two processes can share
//! one file.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use strideguard_core::clock::{Clock, SystemClock};
use strideguard_core::model as core;
use strideguard_core::ranges::{MAX_HR_BPM, REPORT_WEEKS, RESTING_HR_BPM, RPE};
use strideguard_core::store::{RunEdit, ShoeChoice, ShoeEdit};
use strideguard_core::units::{parse_day, parse_time_zone};
use strideguard_core::{Store, StoreError};
use uuid::Uuid;

use crate::error::StrideguardError;
use crate::listeners::{AppClock, Failures, WallClock};
use crate::records::*;
use crate::report::Report;

/// Reading connections per object: a list, a chart and a report can read at once.
const READERS: usize = 2;

#[derive(uniffi::Object)]
pub struct Strideguard {
    clock: Arc<dyn Clock>,
    pub(crate) clock_failures: Arc<Failures>,
    writer: Mutex<Store>,
    readers: Vec<Mutex<Store>>,
    /// One sync or account call at a time per object (a second waits for the first).
    pub(crate) sync_gate: Mutex<()>,
    /// The cancellation of the sync or import running now, for `cancel_sync`.
    pub(crate) running: Mutex<Vec<strideguard_core::cancel::Cancel>>,
}

impl Strideguard {
    /// The writing connection, for one step.
    pub(crate) fn writer(&self) -> &Mutex<Store> {
        &self.writer
    }

    pub(crate) fn write<T>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, StrideguardError>,
    ) -> Result<T, StrideguardError> {
        let mut guard = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }

    /// A free reading connection, or the first in turn.
    fn reader(&self) -> MutexGuard<'_, Store> {
        for r in &self.readers {
            if let Ok(g) = r.try_lock() {
                return g;
            }
        }
        self.readers[0].lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Core's report for `report` and `report_html`, from a reading connection.
    fn core_report(
        &self,
        as_of: Option<String>,
        weeks: i32,
    ) -> Result<strideguard_core::analysis::Report, StrideguardError> {
        let n = self::weeks(weeks)?;
        let as_of = as_of.map(|d| day("as_of", &d)).transpose()?;
        self.read(|s| {
            let day = match as_of {
                Some(d) => d,
                None => s.today()?,
            };
            let thresholds = s.profile()?.thresholds;
            Ok(s.report(day, n, &thresholds)?)
        })
    }

    pub(crate) fn read<T>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, StrideguardError>,
    ) -> Result<T, StrideguardError> {
        f(&self.reader())
    }
}

fn weeks(weeks: i32) -> Result<usize, StrideguardError> {
    let w = u16::try_from(weeks)
        .ok()
        .filter(|w| REPORT_WEEKS.contains(*w))
        .ok_or_else(|| {
            StrideguardError::invalid(
                "weeks",
                format!(
                    "weeks: {weeks} is outside {}-{}",
                    REPORT_WEEKS.min, REPORT_WEEKS.max
                ),
            )
        })?;
    Ok(usize::from(w))
}

pub(crate) fn day(field: &str, s: &str) -> Result<chrono::NaiveDate, StrideguardError> {
    parse_day(s).map_err(|e| StrideguardError::invalid(field, format!("{field}: {e}")))
}

fn shoe_choice(store: &Store, key: Option<&str>) -> Result<ShoeChoice, StrideguardError> {
    Ok(match key {
        Some(k) => ShoeChoice::Shoe(store.find_shoe(k)?.id),
        None => ShoeChoice::Default,
    })
}

#[uniffi::export]
impl Strideguard {
    /// Opens (creating and migrating) the database at `path`. A new database starts in
    /// `time_zone` (the device's IANA zone, e.g. `TimeZone.getDefault().id`); that is a device
    /// default, which the zone the runner chose on another device replaces through sync.
    /// `clock` replaces the system clock (for an app's tests and "as of" screens).
    #[uniffi::constructor(default(time_zone = None, clock = None))]
    pub fn open(
        path: String,
        time_zone: Option<String>,
        clock: Option<Arc<dyn WallClock>>,
    ) -> Result<Arc<Self>, StrideguardError> {
        let failures = Arc::new(Failures::default());
        let clock: Arc<dyn Clock> = match clock {
            Some(c) => Arc::new(AppClock {
                clock: c,
                failures: failures.clone(),
            }),
            None => Arc::new(SystemClock),
        };
        let path = PathBuf::from(path);
        let zone = time_zone
            .map(|z| {
                parse_time_zone(&z)
                    .map(|tz| tz.name().to_string())
                    .map_err(|e| StrideguardError::invalid("time_zone", e.to_string()))
            })
            .transpose()?;
        let is_new = !path.exists();
        let mut writer = Store::open_with_clock(&path, clock.clone())?;
        if is_new && let Some(z) = zone {
            writer.set_default_time_zone(&z)?;
        }
        let readers = (0..READERS)
            .map(|_| Store::open_read_only(&path, clock.clone()).map(Mutex::new))
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(Arc::new(Strideguard {
            clock,
            clock_failures: failures,
            writer: Mutex::new(writer),
            readers,
            sync_gate: Mutex::new(()),
            running: Mutex::new(Vec::new()),
        }))
    }

    /// Now by this object's clock, Unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Today in the runner's time zone, `YYYY-MM-DD`.
    pub fn today(&self) -> Result<String, StrideguardError> {
        self.read(|s| Ok(s.today()?.to_string()))
    }

    /// How many times the app's clock threw (its time was replaced by the system's).
    pub fn clock_errors(&self) -> i64 {
        self.clock_failures.count()
    }

    // Runs.

    /// Every run, oldest first.
    pub fn runs(&self) -> Result<Vec<Run>, StrideguardError> {
        self.read(|s| Ok(Run::list(&s.runs()?, &s.sample_counts()?)))
    }

    /// Runs newest first: `limit` of them after skipping the `offset` most recent.
    #[uniffi::method(default(offset = 0, limit = 50))]
    pub fn runs_page(&self, offset: i64, limit: i64) -> Result<RunsPage, StrideguardError> {
        let offset = u64::try_from(offset)
            .map_err(|_| StrideguardError::invalid("offset", "offset must be 0 or more"))?;
        let limit = u64::try_from(limit)
            .map_err(|_| StrideguardError::invalid("limit", "a page holds 1 run or more"))?;
        self.read(|s| {
            let runs = s.runs_page(offset, limit)?;
            Ok(RunsPage {
                runs: Run::list(&runs, &s.sample_counts()?),
                total: s.run_count()? as i64,
            })
        })
    }

    /// How many runs there are.
    pub fn run_count(&self) -> Result<i64, StrideguardError> {
        self.read(|s| Ok(s.run_count()? as i64))
    }

    /// One run (by id or a unique id prefix of 4+ characters) with its samples, for charts.
    pub fn run(&self, id: String) -> Result<RunDetail, StrideguardError> {
        self.read(|s| {
            let run = s.find_run(&id)?;
            let samples = s.samples(run.id)?;
            Ok(RunDetail {
                run: Run::new(&run, samples.len() as u64),
                samples: Samples::from(samples.as_slice()),
            })
        })
    }

    /// Records a run by hand; without a shoe it goes on the default one (a retired shoe is
    /// refused).
    pub fn add_run(&self, run: NewRun) -> Result<Run, StrideguardError> {
        self.write(|s| {
            let zone = s.profile()?.zone();
            let start =
                chrono::DateTime::from_timestamp_millis(run.start_unix_ms).ok_or_else(|| {
                    StrideguardError::invalid("start_unix_ms", "start_unix_ms is out of range")
                })?;
            let start = match run.utc_offset_seconds {
                Some(o) => {
                    let offset = chrono::FixedOffset::east_opt(o).ok_or_else(|| {
                        StrideguardError::invalid(
                            "utc_offset_seconds",
                            "utc_offset_seconds is out of range",
                        )
                    })?;
                    start.with_timezone(&offset)
                }
                None => start.with_timezone(&zone).fixed_offset(),
            };
            let mut r = core::Run::new(
                Uuid::new_v4(),
                start,
                run.distance_meters,
                run.duration_seconds,
            );
            r.kind = run.kind.map(Into::into).unwrap_or_default();
            r.rpe = run.rpe.map(|v| in_range(RPE, "rpe", v)).transpose()?;
            r.notes = run.notes.filter(|n| !n.trim().is_empty());
            r.avg_hr_bpm = run.avg_heart_rate_bpm;
            r.avg_cadence_spm = run.avg_cadence_spm;
            r.elevation_gain_m = run.elevation_gain_meters;
            let shoe = shoe_choice(s, run.shoe.as_deref())?;
            let saved = s.add_manual_run(&r, shoe)?;
            Ok(Run::new(&saved, 0))
        })
    }

    /// Changes a run's kind, RPE or notes (`None` leaves a field; `clear_rpe` removes the RPE;
    /// an empty note removes the notes).
    #[uniffi::method(default(kind = None, rpe = None, clear_rpe = false, notes = None))]
    pub fn edit_run(
        &self,
        id: String,
        kind: Option<RunKind>,
        rpe: Option<i32>,
        clear_rpe: bool,
        notes: Option<String>,
    ) -> Result<Run, StrideguardError> {
        let rpe = match (rpe, clear_rpe) {
            (Some(_), true) => {
                return Err(StrideguardError::invalid(
                    "rpe",
                    "give an RPE or clear it, not both",
                ));
            }
            (Some(v), false) => Some(Some(in_range(RPE, "rpe", v)?)),
            (None, true) => Some(None),
            (None, false) => None,
        };
        let edit = RunEdit {
            kind: kind.map(Into::into),
            rpe,
            notes: notes.map(|n| (!n.trim().is_empty()).then_some(n)),
        };
        self.write(|s| {
            let run = s.find_run(&id)?;
            let run = s.edit_run(run.id, &edit)?;
            let n = s.samples(run.id)?.len() as u64;
            Ok(Run::new(&run, n))
        })
    }

    /// Deletes a run and its samples (on every device, through sync).
    pub fn delete_run(&self, id: String) -> Result<(), StrideguardError> {
        self.write(|s| {
            let run = s.find_run(&id)?;
            Ok(s.delete_run(run.id)?)
        })
    }

    /// The run as a FIT, GPX or TCX file, for another app, a coach or a backup.
    pub fn export_run(
        &self,
        id: String,
        format: ActivityFormat,
    ) -> Result<Vec<u8>, StrideguardError> {
        self.read(|s| {
            let run = s.find_run(&id)?;
            Ok(s.export_run(run.id, strideguard_core::import::Format::from(format))?)
        })
    }

    // Shoes.

    /// Every shoe with its distance and wear state: active shoes first, then by name.
    pub fn shoes(&self) -> Result<Vec<Shoe>, StrideguardError> {
        self.read(|s| Ok(s.shoes()?.iter().map(Into::into).collect()))
    }

    /// Adds a pair of shoes; the first one becomes the default.
    pub fn add_shoe(&self, shoe: NewShoe) -> Result<Shoe, StrideguardError> {
        let mut new = core::Shoe::new(Uuid::new_v4(), shoe.name);
        new.brand = shoe.brand.filter(|b| !b.trim().is_empty());
        new.model = shoe.model.filter(|m| !m.trim().is_empty());
        new.start_distance_m = shoe.start_distance_meters;
        if let Some(m) = shoe.wear_at_meters {
            new.wear_at_m = m;
        }
        if let Some(m) = shoe.replace_at_meters {
            new.replace_at_m = m;
        }
        new.is_default = shoe.make_default;
        self.write(|s| {
            let added = s.add_shoe(&new)?;
            Ok((&s.shoe_usage(added.id)?).into())
        })
    }

    /// Changes a shoe (by id, id prefix or name): name, brand, model, start distance, marks.
    pub fn edit_shoe(&self, shoe: String, changes: ShoeChanges) -> Result<Shoe, StrideguardError> {
        let blank =
            |v: Option<String>| v.map(|v| Some(v.trim().to_string()).filter(|v| !v.is_empty()));
        let edit = ShoeEdit {
            name: changes.name,
            brand: blank(changes.brand),
            model: blank(changes.model),
            start_distance_m: changes.start_distance_meters,
            wear_at_m: changes.wear_at_meters,
            replace_at_m: changes.replace_at_meters,
        };
        self.write(|s| {
            let found = s.find_shoe(&shoe)?;
            s.edit_shoe(found.id, &edit)?;
            Ok((&s.shoe_usage(found.id)?).into())
        })
    }

    /// Retires a shoe: it keeps its history, takes no new runs, stops being the default.
    pub fn retire_shoe(&self, shoe: String) -> Result<Shoe, StrideguardError> {
        self.write(|s| {
            let found = s.find_shoe(&shoe)?;
            s.retire_shoe(found.id)?;
            Ok((&s.shoe_usage(found.id)?).into())
        })
    }

    /// Makes a shoe the default for new runs.
    pub fn set_default_shoe(&self, shoe: String) -> Result<Shoe, StrideguardError> {
        self.write(|s| {
            let found = s.find_shoe(&shoe)?;
            s.set_default_shoe(found.id)?;
            Ok((&s.shoe_usage(found.id)?).into())
        })
    }

    /// Puts a run on a shoe, or (`None`) on none.
    #[uniffi::method(default(shoe = None))]
    pub fn assign_shoe(
        &self,
        run_id: String,
        shoe: Option<String>,
    ) -> Result<Run, StrideguardError> {
        self.write(|s| {
            let run = s.find_run(&run_id)?;
            let shoe = shoe.map(|k| s.find_shoe(&k)).transpose()?;
            s.assign_shoe(run.id, shoe.map(|x| x.id))?;
            let run = s.find_run(&run.id.to_string())?;
            let n = s.samples(run.id)?.len() as u64;
            Ok(Run::new(&run, n))
        })
    }

    /// Deletes a shoe; its runs stay, on no shoe.
    pub fn delete_shoe(&self, shoe: String) -> Result<(), StrideguardError> {
        self.write(|s| {
            let found = s.find_shoe(&shoe)?;
            s.delete_shoe(found.id)?;
            Ok(())
        })
    }

    // Profile and thresholds.

    pub fn profile(&self) -> Result<Profile, StrideguardError> {
        self.read(|s| Ok((&s.profile()?).into()))
    }

    /// Saves the profile (only what changed is synced); the thresholds are left as they are.
    pub fn set_profile(&self, p: Profile) -> Result<Profile, StrideguardError> {
        let resting = p
            .resting_heart_rate_bpm
            .map(|v| in_range(RESTING_HR_BPM, "resting_heart_rate_bpm", v))
            .transpose()?;
        let max = p
            .max_heart_rate_bpm
            .map(|v| in_range(MAX_HR_BPM, "max_heart_rate_bpm", v))
            .transpose()?;
        let zone = parse_time_zone(&p.time_zone)
            .map_err(|e| StrideguardError::invalid("time_zone", e.to_string()))?;
        self.write(|s| {
            let mut profile = s.profile()?;
            profile.units = p.units.into();
            profile.time_zone = zone.name().to_string();
            profile.cadence_target = match p.fixed_cadence_spm {
                Some(spm) => core::CadenceTarget::Fixed { spm },
                None => core::CadenceTarget::Auto {
                    increase_pct: p.cadence_increase_pct,
                },
            };
            profile.resting_hr_bpm = resting;
            profile.max_hr_bpm = max;
            profile.height_m = p.height_meters;
            s.set_profile(&profile).map_err(|e| {
                StrideguardError::from(e).renamed("target_spm", "fixed_cadence_spm")
            })?;
            Ok((&s.profile()?).into())
        })
    }

    /// The analysis rules' numbers with their defaults.
    pub fn thresholds(&self) -> Result<Vec<Threshold>, StrideguardError> {
        self.read(|s| Ok(thresholds(&s.profile()?.thresholds)))
    }

    /// Changes one threshold by its name (see `thresholds()` for the names).
    pub fn set_threshold(
        &self,
        name: String,
        value: f64,
    ) -> Result<Vec<Threshold>, StrideguardError> {
        self.write(|s| {
            let mut profile = s.profile()?;
            profile.thresholds.set(&name, value).map_err(|e| {
                let field = match e {
                    core::ThresholdError::Unknown { .. } => "name",
                    core::ThresholdError::Value { .. } => "value",
                };
                StrideguardError::invalid(field, e.to_string())
            })?;
            s.set_profile(&profile)?;
            Ok(thresholds(&profile.thresholds))
        })
    }

    /// Puts every threshold back to domain.md's defaults.
    pub fn reset_thresholds(&self) -> Result<Vec<Threshold>, StrideguardError> {
        self.write(|s| {
            let mut profile = s.profile()?;
            profile.thresholds = core::Thresholds::default();
            s.set_profile(&profile)?;
            Ok(thresholds(&profile.thresholds))
        })
    }

    // The report.

    /// The training report of the `weeks` weeks up to `as_of` (`YYYY-MM-DD`; default today).
    #[uniffi::method(default(as_of = None, weeks = 8))]
    pub fn report(&self, as_of: Option<String>, weeks: i32) -> Result<Report, StrideguardError> {
        Ok((&self.core_report(as_of, weeks)?).into())
    }

    /// The report as one self-contained HTML page with its charts (no scripts, no network), to
    /// show in a web view or share.
    #[uniffi::method(default(as_of = None, weeks = 8))]
    pub fn report_html(
        &self,
        as_of: Option<String>,
        weeks: i32,
    ) -> Result<String, StrideguardError> {
        Ok(strideguard_core::html::page(
            &self.core_report(as_of, weeks)?,
        ))
    }
}
