//! The `Strideguard` object: one per database file, safe to call from any thread (calls take
//! turns on the database). Importing and sync are async: their work runs on tokio's blocking
//! pool, so an app's UI thread never waits on the disk or the network.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone, Utc};
use strideguard_core::crypto::KdfParams;
use strideguard_core::import::Format;
use strideguard_core::store::{DuplicateReason, ImportFailed, Imported, PainEntry, RunEdit};
use strideguard_core::sync::{SyncError, account, http::HttpClient};
use strideguard_core::{Store, model};
use uuid::Uuid;

use crate::StrideguardError;
use crate::records::*;

#[derive(uniffi::Object)]
pub struct Strideguard {
    store: Mutex<Store>,
}

fn parse_id(what: &str, id: &str) -> Result<Uuid, StrideguardError> {
    Uuid::parse_str(id.trim())
        .map_err(|_| StrideguardError::invalid(format!("{what} id '{id}' is not a UUID")))
}

fn parse_time(field: &str, s: &str) -> Result<DateTime<FixedOffset>, StrideguardError> {
    DateTime::parse_from_rfc3339(s.trim()).map_err(|e| {
        StrideguardError::invalid(format!("{field}: '{s}' is not an RFC 3339 time ({e})"))
    })
}

fn parse_day(field: &str, s: &str) -> Result<NaiveDate, StrideguardError> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| StrideguardError::invalid(format!("{field}: '{s}' is not a YYYY-MM-DD date")))
}

/// Runs blocking work off the caller's thread.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StrideguardError> + Send + 'static,
) -> Result<T, StrideguardError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StrideguardError::Store {
            message: format!("the background task failed: {e}"),
        })?
}

impl Strideguard {
    fn db(&self) -> MutexGuard<'_, Store> {
        // A panic inside a call leaves SQLite consistent (transactions roll back): carry on.
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn linked(&self) -> Result<strideguard_core::store::SyncAccount, StrideguardError> {
        Ok(self.db().sync_account()?.ok_or(SyncError::NotLinked)?)
    }

    fn today(&self) -> Result<NaiveDate, StrideguardError> {
        let zone = self.db().profile()?.zone();
        Ok(Utc::now().with_timezone(&zone).date_naive())
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl Strideguard {
    /// Opens (creating and migrating) the database at `path`.
    #[uniffi::constructor]
    pub fn open(path: String) -> Result<Arc<Self>, StrideguardError> {
        Ok(Arc::new(Strideguard {
            store: Mutex::new(Store::open(&path)?),
        }))
    }

    /// Every run, oldest first.
    pub fn runs(&self) -> Result<Vec<RunInfo>, StrideguardError> {
        Ok(self.db().runs()?.iter().map(Into::into).collect())
    }

    /// How many runs there are: a cheap call.
    pub fn run_count(&self) -> Result<u64, StrideguardError> {
        Ok(self.db().runs()?.len() as u64)
    }

    pub fn add_run(&self, run: NewRun) -> Result<RunInfo, StrideguardError> {
        let offset = FixedOffset::east_opt(run.utc_offset_s)
            .ok_or_else(|| StrideguardError::invalid("utc_offset_s is out of range"))?;
        let start = offset
            .timestamp_millis_opt(run.start_unix_ms)
            .single()
            .ok_or_else(|| StrideguardError::invalid("start_unix_ms is out of range"))?;
        let mut r = model::Run::new(Uuid::new_v4(), start, run.distance_m, run.duration_s);
        r.kind = run.kind.into();
        r.rpe = run.rpe;
        r.notes = run.notes;
        let mut db = self.db();
        r.shoe_id = match run.shoe_id {
            Some(s) => Some(parse_id("shoe", &s)?),
            None => db.default_shoe()?.map(|s| s.id),
        };
        db.add_run(&r, &[])?;
        Ok((&r).into())
    }

    /// Changes kind, RPE and notes (`None` leaves a field; an empty note removes it).
    pub fn edit_run(
        &self,
        id: String,
        kind: Option<RunKind>,
        rpe: Option<u8>,
        notes: Option<String>,
    ) -> Result<RunInfo, StrideguardError> {
        let edit = RunEdit {
            kind: kind.map(Into::into),
            rpe: rpe.map(Some),
            notes: notes.map(|n| (!n.trim().is_empty()).then_some(n)),
        };
        let run = self.db().edit_run(parse_id("run", &id)?, &edit)?;
        Ok((&run).into())
    }

    pub fn delete_run(&self, id: String) -> Result<(), StrideguardError> {
        Ok(self.db().delete_run(parse_id("run", &id)?)?)
    }

    pub fn shoes(&self) -> Result<Vec<ShoeInfo>, StrideguardError> {
        Ok(self.db().shoes()?.iter().map(Into::into).collect())
    }

    /// Adds a pair of shoes with the default wear (300 mi) and replacement (500 mi) distances.
    pub fn add_shoe(
        &self,
        name: String,
        brand: Option<String>,
        make_default: bool,
    ) -> Result<ShoeInfo, StrideguardError> {
        let mut db = self.db();
        let mut shoe = model::Shoe::new(Uuid::new_v4(), name);
        shoe.brand = brand;
        shoe.is_default = make_default || db.default_shoe()?.is_none();
        db.add_shoe(&shoe)?;
        let usage = db
            .shoes()?
            .into_iter()
            .find(|u| u.shoe.id == shoe.id)
            .ok_or_else(|| StrideguardError::Store {
                message: "the new shoe was not found after saving".into(),
            })?;
        Ok((&usage).into())
    }

    pub fn profile(&self) -> Result<ProfileInfo, StrideguardError> {
        Ok((&self.db().profile()?).into())
    }

    pub fn set_profile(&self, p: ProfileInfo) -> Result<(), StrideguardError> {
        let mut db = self.db();
        let mut profile = db.profile()?;
        profile.units = match p.units {
            Units::Km => model::Units::Km,
            Units::Mi => model::Units::Mi,
        };
        profile.time_zone = strideguard_core::units::parse_time_zone(&p.time_zone)
            .map_err(|e| StrideguardError::invalid(e.to_string()))?
            .name()
            .to_string();
        profile.cadence_target = match p.fixed_cadence_spm {
            Some(spm) => model::CadenceTarget::Fixed { spm },
            None => model::CadenceTarget::Auto {
                increase_pct: p.cadence_increase_pct,
            },
        };
        profile.resting_hr_bpm = p.resting_hr_bpm;
        profile.max_hr_bpm = p.max_hr_bpm;
        profile.height_m = p.height_m;
        Ok(db.set_profile(&profile)?)
    }

    /// Imports a FIT, GPX or TCX file; the same file or activity twice is recognised.
    pub async fn import_file(
        self: Arc<Self>,
        path: String,
    ) -> Result<ImportOutcome, StrideguardError> {
        blocking(move || {
            let p = Path::new(&path);
            let format = Format::from_path(p).ok_or_else(|| StrideguardError::Import {
                message: format!("{path}: not a .fit, .gpx or .tcx file"),
            })?;
            let bytes = std::fs::read(p).map_err(|e| StrideguardError::Import {
                message: format!("cannot read {path}: {e}"),
            })?;
            let mut db = self.db();
            let zone = db.profile()?.zone();
            let shoe = db.default_shoe()?.map(|s| s.id);
            let imported = db
                .import_activity(format, &bytes, zone, shoe)
                .map_err(|e| match e {
                    ImportFailed::Store(e) => e.into(),
                    ImportFailed::Parse(e) => StrideguardError::Import {
                        message: format!("{path}: {e}"),
                    },
                })?;
            Ok(match imported {
                Imported::Run { run, .. } => ImportOutcome {
                    imported: Some((&run).into()),
                    duplicate_of: None,
                    reason: None,
                },
                Imported::Duplicate(d) => ImportOutcome {
                    imported: None,
                    duplicate_of: Some(d.run_id.to_string()),
                    reason: Some(format!(
                        "the same {} as a stored run",
                        match d.reason {
                            DuplicateReason::SameFile => "file",
                            DuplicateReason::SameActivity => "activity",
                        }
                    )),
                },
                Imported::NotARun { reason } => ImportOutcome {
                    imported: None,
                    duplicate_of: None,
                    reason: Some(reason),
                },
            })
        })
        .await
    }

    /// The report of the `weeks` weeks up to `as_of` (`YYYY-MM-DD`; default today).
    pub fn report(&self, as_of: Option<String>, weeks: u32) -> Result<Report, StrideguardError> {
        if !(1..=104).contains(&weeks) {
            return Err(StrideguardError::invalid("weeks must be 1 to 104"));
        }
        let day = match as_of {
            Some(d) => parse_day("as_of", &d)?,
            None => self.today()?,
        };
        let db = self.db();
        let thresholds = db.profile()?.thresholds;
        Ok((&db.report(day, weeks as usize, &thresholds)?).into())
    }

    /// For measuring the bindings' overhead: builds the same report `repeat` times inside Rust
    /// (no conversion, no crossing) and returns the mean time in nanoseconds.
    pub fn report_native_ns(
        &self,
        as_of: String,
        weeks: u32,
        repeat: u32,
    ) -> Result<u64, StrideguardError> {
        let day = parse_day("as_of", &as_of)?;
        let db = self.db();
        let thresholds = db.profile()?.thresholds;
        let start = std::time::Instant::now();
        for _ in 0..repeat.max(1) {
            std::hint::black_box(db.report(day, weeks as usize, &thresholds)?);
        }
        Ok((start.elapsed().as_nanos() / u128::from(repeat.max(1))) as u64)
    }

    /// Logs a pain; returns the entry's id.
    pub fn log_pain(&self, answers: PainAnswers) -> Result<String, StrideguardError> {
        let entry = PainEntry {
            id: Uuid::new_v4(),
            logged_at: Utc::now(),
            answers: answers.to_core()?,
        };
        self.db().add_pain_entry(&entry)?;
        Ok(entry.id.to_string())
    }

    pub fn pain_entries(&self) -> Result<Vec<PainEntryInfo>, StrideguardError> {
        Ok(self.db().pain_entries()?.iter().map(Into::into).collect())
    }

    /// Triages the latest pain episode as of `now` (RFC 3339; default now) and makes the
    /// fitting plan active. `None` when nothing is logged.
    pub fn triage(&self, now: Option<String>) -> Result<Option<TriageResult>, StrideguardError> {
        let now = match now {
            Some(s) => parse_time("now", &s)?,
            None => Utc::now().fixed_offset(),
        };
        Ok(self.db().triage_log(now)?.as_ref().map(Into::into))
    }

    /// The active plan with today's ticks.
    pub fn plan(&self) -> Result<Option<PlanInfo>, StrideguardError> {
        let today = self.today()?;
        let db = self.db();
        let Some(plan) = db.active_plan()? else {
            return Ok(None);
        };
        let ticks: Vec<String> = db
            .plan_ticks(plan.id)?
            .into_iter()
            .filter(|(d, _)| *d == today)
            .map(|(_, e)| e)
            .collect();
        Ok(Some(plan_info(&plan, &ticks)))
    }

    /// Ticks an exercise of the active plan off on `day` (`YYYY-MM-DD`); false if it already was.
    pub fn tick_exercise(
        &self,
        exercise_id: String,
        day: String,
    ) -> Result<bool, StrideguardError> {
        let day = parse_day("day", &day)?;
        let mut db = self.db();
        let plan = db
            .active_plan()?
            .ok_or_else(|| StrideguardError::NotFound {
                message: "there is no active plan: triage a pain first".into(),
            })?;
        Ok(db.tick_exercise(plan.id, day, &exercise_id)?)
    }

    /// The linked sync account, if any.
    pub fn account(&self) -> Result<Option<AccountInfo>, StrideguardError> {
        Ok(self.db().sync_account()?.as_ref().map(Into::into))
    }

    /// Creates a sync account and links this database (`kdf_iterations`: default 600,000).
    pub async fn register(
        self: Arc<Self>,
        server: String,
        username: String,
        passphrase: String,
        device_name: String,
        kdf_iterations: Option<u32>,
    ) -> Result<AccountInfo, StrideguardError> {
        blocking(move || {
            let client = HttpClient::new(&server).map_err(SyncError::from)?;
            let kdf = kdf_iterations
                .map_or_else(KdfParams::default, |iterations| KdfParams { iterations });
            let a = account::register(
                &mut self.db(),
                &client,
                &username,
                &passphrase,
                kdf,
                &device_name,
            )?;
            Ok((&a).into())
        })
        .await
    }

    /// Logs this database in to an existing account as a new device.
    pub async fn login(
        self: Arc<Self>,
        server: String,
        username: String,
        passphrase: String,
        device_name: String,
    ) -> Result<AccountInfo, StrideguardError> {
        blocking(move || {
            let client = HttpClient::new(&server).map_err(SyncError::from)?;
            let a = account::login(
                &mut self.db(),
                &client,
                &username,
                &passphrase,
                &device_name,
            )?;
            Ok((&a).into())
        })
        .await
    }

    /// Uploads this device's changes and merges the others'.
    pub async fn sync_now(self: Arc<Self>) -> Result<SyncSummary, StrideguardError> {
        blocking(move || Ok(account::sync_now(&mut self.db(), &mut |_| {})?.into())).await
    }

    /// The account's devices, this one marked `current`.
    pub async fn devices(self: Arc<Self>) -> Result<Vec<DeviceInfo>, StrideguardError> {
        blocking(move || {
            let a = self.linked()?;
            let client = HttpClient::new(&a.server).map_err(SyncError::from)?;
            let devices = client.devices(&a.token).map_err(SyncError::from)?;
            Ok(devices.iter().map(Into::into).collect())
        })
        .await
    }

    /// Revokes a device of the account (a lost phone): its sessions end at once.
    pub async fn revoke_device(self: Arc<Self>, device_id: String) -> Result<(), StrideguardError> {
        blocking(move || {
            let a = self.linked()?;
            let client = HttpClient::new(&a.server).map_err(SyncError::from)?;
            client
                .revoke_device(&a.token, &device_id)
                .map_err(SyncError::from)?;
            Ok(())
        })
        .await
    }

    /// Ends the session and unlinks the database; the data stays.
    pub async fn logout(self: Arc<Self>) -> Result<(), StrideguardError> {
        blocking(move || {
            account::logout(&mut self.db())?;
            Ok(())
        })
        .await
    }
}
