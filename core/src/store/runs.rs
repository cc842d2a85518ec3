//! Runs and their sample streams.

use std::collections::HashMap;

use chrono::{DateTime, FixedOffset, TimeZone};
use rusqlite::{OptionalExtension, Row};
use uuid::Uuid;

use super::{
    Store, StoreError, changes::ChangeOp, collection, finite, non_negative, unique_prefix,
};
use crate::model::{Run, RunKind, Sample};
use crate::samples::{CHUNK_LEN, decode_chunk, encode_chunk};

const RUN_COLUMNS: &str = "id, start_unix_ms, utc_offset_s, duration_s, moving_time_s, distance_m,
    elevation_gain_m, elevation_loss_m, avg_hr_bpm, max_hr_bpm, avg_cadence_spm, kind, rpe, shoe_id,
    notes, source, source_fingerprint, avg_power_w, avg_stance_time_s, avg_stance_balance_left_pct,
    avg_vertical_oscillation_m, avg_vertical_ratio_pct, avg_step_length_m";

fn run_from_row(r: &Row<'_>) -> rusqlite::Result<Result<Run, StoreError>> {
    let id: String = r.get(0)?;
    let start_ms: i64 = r.get(1)?;
    let offset_s: i32 = r.get(2)?;
    let kind: String = r.get(11)?;
    let shoe: Option<String> = r.get(13)?;
    let source: String = r.get(15)?;
    let build = || -> Result<Run, String> {
        let offset = FixedOffset::east_opt(offset_s).ok_or("UTC offset out of range")?;
        let start: DateTime<FixedOffset> = offset
            .timestamp_millis_opt(start_ms)
            .single()
            .ok_or("start time out of range")?;
        Ok(Run {
            id: Uuid::parse_str(&id).map_err(|e| e.to_string())?,
            start,
            duration_s: r.get(3).map_err(|e| e.to_string())?,
            moving_time_s: r.get(4).map_err(|e| e.to_string())?,
            distance_m: r.get(5).map_err(|e| e.to_string())?,
            elevation_gain_m: r.get(6).map_err(|e| e.to_string())?,
            elevation_loss_m: r.get(7).map_err(|e| e.to_string())?,
            avg_hr_bpm: r.get(8).map_err(|e| e.to_string())?,
            max_hr_bpm: r.get(9).map_err(|e| e.to_string())?,
            avg_cadence_spm: r.get(10).map_err(|e| e.to_string())?,
            kind: kind
                .parse()
                .map_err(|e: crate::model::UnknownName| e.to_string())?,
            rpe: r.get(12).map_err(|e| e.to_string())?,
            shoe_id: shoe
                .as_deref()
                .map(Uuid::parse_str)
                .transpose()
                .map_err(|e| e.to_string())?,
            notes: r.get(14).map_err(|e| e.to_string())?,
            source: source
                .parse()
                .map_err(|e: crate::model::UnknownName| e.to_string())?,
            source_fingerprint: r.get(16).map_err(|e| e.to_string())?,
            avg_power_w: r.get(17).map_err(|e| e.to_string())?,
            avg_stance_time_s: r.get(18).map_err(|e| e.to_string())?,
            avg_stance_balance_left_pct: r.get(19).map_err(|e| e.to_string())?,
            avg_vertical_oscillation_m: r.get(20).map_err(|e| e.to_string())?,
            avg_vertical_ratio_pct: r.get(21).map_err(|e| e.to_string())?,
            avg_step_length_m: r.get(22).map_err(|e| e.to_string())?,
        })
    };
    Ok(build().map_err(|reason| StoreError::Corrupt {
        table: "runs",
        id: id.clone(),
        reason,
    }))
}

/// The metadata a runner edits on a run; `None` leaves a field as it is. (Everything else about a
/// run is what the device recorded and does not change.)
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunEdit {
    pub kind: Option<RunKind>,
    pub rpe: Option<Option<u8>>,
    pub notes: Option<Option<String>>,
}

/// What [`Store::import_activity`] did with an activity of a file.
// One value per activity, moved once: the size difference between the variants costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Imported {
    /// A new run, saved with this many samples; `note` says how its sport was decided when
    /// the file names none (see [`crate::import::Parsed::Run`]).
    Run {
        run: Run,
        samples: usize,
        note: Option<String>,
    },
    /// The store already has it.
    Duplicate(Duplicate),
    /// A valid file that holds no run (a course, a bike ride...), and why.
    NotARun { reason: String },
}

impl Imported {
    /// Which of a file's activities speaks for the file when one answer is wanted (the
    /// bindings' `import_file`): the first run added, else the first duplicate, else the first
    /// skip. `None` only for no activities at all.
    pub fn headline(all: &[Imported]) -> Option<&Imported> {
        let rank = |i: &Imported| match i {
            Imported::Run { .. } => 0,
            Imported::Duplicate(_) => 1,
            Imported::NotARun { .. } => 2,
        };
        all.iter()
            .enumerate()
            .min_by_key(|(n, i)| (rank(i), *n))
            .map(|(_, i)| i)
    }
}

/// Why a file could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportFailed {
    #[error("not an activity file Strideguard reads (.fit, .gpx or .tcx)")]
    NotAnActivityFile,
    #[error("cannot read the file: {0}")]
    Unreadable(String),
    #[error(transparent)]
    Parse(#[from] crate::import::ImportError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why an incoming run is taken to be one the store already has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DuplicateReason {
    /// The very same file (same fingerprint) was imported before.
    SameFile,
    /// A run over the same time: the two overlap for at least [`SAME_ACTIVITY_OVERLAP`] of the
    /// shorter one's span. The same activity exported again or in another format (a watch's
    /// FIT and a service's GPX of one run differ in distance by a few percent, since each
    /// measures it its own way, but never in when the runner ran).
    SameActivity,
}

/// An existing run that an incoming one duplicates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Duplicate {
    pub run_id: Uuid,
    pub reason: DuplicateReason,
}

/// How much of the shorter run's span two runs must share to be one activity. Two files of
/// one run share all of it but for the seconds one device started or stopped before the other;
/// a runner cannot run two runs at once, and back-to-back runs (a warm-up, then a race) share
/// none.
pub const SAME_ACTIVITY_OVERLAP: f64 = 0.9;
/// The longest run looked back for when checking overlaps, so the check stays an index range:
/// a week covers the longest stage races run without stopping the watch.
const LONGEST_RUN_MS: i64 = 7 * 24 * 3600 * 1000;

/// The share of the shorter span that `[a0, a1)` and `[b0, b1)` (in ms) have in common; two
/// zero-length spans at one instant share all of it.
fn overlap_share(a0: i64, a1: i64, b0: i64, b1: i64) -> f64 {
    let shorter = (a1 - a0).min(b1 - b0);
    let common = a1.min(b1) - a0.max(b0);
    if shorter <= 0 {
        return if common >= 0 { 1.0 } else { 0.0 };
    }
    common.max(0) as f64 / shorter as f64
}

impl Store {
    /// The stored run that `run` duplicates, if any (see [`DuplicateReason`]): first the same
    /// file, then the stored run sharing the most of its time.
    pub fn find_duplicate(&self, run: &Run) -> Result<Option<Duplicate>, StoreError> {
        if let Some(fp) = &run.source_fingerprint {
            let same: Option<String> = self
                .conn
                .query_row(
                    "SELECT id FROM runs WHERE source_fingerprint = ?1 LIMIT 1",
                    [fp],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(id) = same.and_then(|id| Uuid::parse_str(&id).ok()) {
                return Ok(Some(Duplicate {
                    run_id: id,
                    reason: DuplicateReason::SameFile,
                }));
            }
        }
        let start = run.start.timestamp_millis();
        let end = start.saturating_add(span_ms(run.duration_s));
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, start_unix_ms, duration_s FROM runs
             WHERE start_unix_ms BETWEEN ?1 AND ?2 ORDER BY start_unix_ms",
        )?;
        let near = stmt
            .query_map([start.saturating_sub(LONGEST_RUN_MS), end], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, f64>(2)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let best = near
            .into_iter()
            .map(|(id, s, d)| {
                let share = overlap_share(start, end, s, s.saturating_add(span_ms(d)));
                (share, id)
            })
            .filter(|(share, _)| *share >= SAME_ACTIVITY_OVERLAP)
            .max_by(|a, b| a.0.total_cmp(&b.0));
        Ok(best
            .and_then(|(_, id)| Uuid::parse_str(&id).ok())
            .map(|run_id| Duplicate {
                run_id,
                reason: DuplicateReason::SameActivity,
            }))
    }

    /// Saves a run and its sample stream in one transaction: both land or neither does.
    pub fn add_run(&mut self, run: &Run, samples: &[Sample]) -> Result<(), StoreError> {
        validate_run(run)?;
        if let Some(shoe_id) = run.shoe_id {
            self.shoe(shoe_id)?.ok_or_else(|| StoreError::NotFound {
                what: "shoe",
                key: shoe_id.to_string(),
            })?;
        }
        let chunks = samples
            .chunks(CHUNK_LEN)
            .enumerate()
            .map(|(i, c)| {
                encode_chunk(c)
                    .map(|bytes| (i as u32, c.len(), bytes))
                    .map_err(|source| StoreError::Samples {
                        run_id: run.id,
                        chunk: i as u32,
                        source,
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let id = run.id.to_string();
        self.write(|w| {
            w.tx.execute(
                &format!(
                    "INSERT INTO runs ({RUN_COLUMNS}) VALUES
                     (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
                      ?18, ?19, ?20, ?21, ?22, ?23)"
                ),
                rusqlite::params![
                    id,
                    run.start.timestamp_millis(),
                    run.start.offset().local_minus_utc(),
                    run.duration_s,
                    run.moving_time_s,
                    run.distance_m,
                    run.elevation_gain_m,
                    run.elevation_loss_m,
                    run.avg_hr_bpm,
                    run.max_hr_bpm,
                    run.avg_cadence_spm,
                    run.kind.as_str(),
                    run.rpe,
                    run.shoe_id.map(|s| s.to_string()),
                    run.notes,
                    run.source.as_str(),
                    run.source_fingerprint,
                    run.avg_power_w,
                    run.avg_stance_time_s,
                    run.avg_stance_balance_left_pct,
                    run.avg_vertical_oscillation_m,
                    run.avg_vertical_ratio_pct,
                    run.avg_step_length_m
                ],
            )?;
            w.log(collection::RUNS, &id, ChangeOp::Put, &["*"])?;
            if !chunks.is_empty() {
                let mut stmt = w.tx.prepare_cached(
                    "INSERT INTO run_samples (run_id, chunk, sample_count, data) VALUES (?1, ?2, ?3, ?4)",
                )?;
                for (i, count, bytes) in &chunks {
                    stmt.execute(rusqlite::params![id, i, *count as i64, bytes])?;
                }
                w.log(collection::RUN_SAMPLES, &id, ChangeOp::Put, &["*"])?;
            }
            Ok(())
        })
    }

    pub fn run(&self, id: Uuid) -> Result<Option<Run>, StoreError> {
        self.conn
            .query_row(
                &format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1"),
                [id.to_string()],
                run_from_row,
            )
            .optional()?
            .transpose()
    }

    /// Adds a run the runner made (typed in, recorded live, imported): it goes on `shoe` (the
    /// default shoe unless another is chosen; a retired one is refused), with its samples, in
    /// one transaction. Returns the run as stored.
    pub fn add_run_on(
        &mut self,
        run: &Run,
        samples: &[Sample],
        shoe: super::ShoeChoice,
    ) -> Result<Run, StoreError> {
        let mut run = run.clone();
        run.shoe_id = self.shoe_for_new_run(shoe)?;
        self.add_run(&run, samples)?;
        Ok(run)
    }

    /// Adds a run typed in by hand: besides what every run must be, its heart rate and
    /// cadence must be in the ranges a person types ([`crate::ranges::RUN_HR_BPM`],
    /// [`crate::ranges::RUN_CADENCE_SPM`]); it goes on `shoe`.
    pub fn add_manual_run(
        &mut self,
        run: &Run,
        shoe: super::ShoeChoice,
    ) -> Result<Run, StoreError> {
        use crate::ranges::{RUN_CADENCE_SPM, RUN_HR_BPM};
        let outside = |what: &'static str, v: f64, min: f64, max: f64, unit: &'static str| {
            crate::ranges::OutOfRange {
                what,
                value: v.to_string(),
                min: min.to_string(),
                max: max.to_string(),
                unit,
            }
        };
        if let Some(hr) = run.avg_hr_bpm {
            let (min, max) = (f64::from(RUN_HR_BPM.min), f64::from(RUN_HR_BPM.max));
            if !(min..=max).contains(&hr) {
                return Err(outside(RUN_HR_BPM.what, hr, min, max, RUN_HR_BPM.unit).into());
            }
        }
        if let Some(c) = run.avg_cadence_spm {
            let (min, max) = (
                f64::from(RUN_CADENCE_SPM.min),
                f64::from(RUN_CADENCE_SPM.max),
            );
            if !(min..=max).contains(&c) {
                return Err(
                    outside(RUN_CADENCE_SPM.what, c, min, max, RUN_CADENCE_SPM.unit).into(),
                );
            }
        }
        self.add_run_on(run, &[], shoe)
    }

    /// How many runs there are.
    pub fn run_count(&self) -> Result<u64, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM runs", [], |r| r.get::<_, i64>(0))?
            .max(0) as u64)
    }

    /// A page of runs, newest first: `limit` runs after skipping the `offset` most recent. A
    /// phone's list scrolls through these instead of loading ten years at once.
    pub fn runs_page(&self, offset: u64, limit: u64) -> Result<Vec<Run>, StoreError> {
        crate::ranges::PAGE_RUNS.check(limit)?;
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {RUN_COLUMNS} FROM runs ORDER BY start_unix_ms DESC, id DESC LIMIT ?1 OFFSET ?2"
        ))?;
        let clamp = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        let rows = stmt.query_map([clamp(limit), clamp(offset)], run_from_row)?;
        let mut out = Vec::new();
        for row in rows {
            out.push(row??);
        }
        Ok(out)
    }

    /// The run's file in `format` (FIT, GPX, TCX or CSV), from its summary and samples: for
    /// another app, a coach, or a backup.
    pub fn export_run(
        &self,
        id: Uuid,
        format: impl Into<crate::export::ExportFormat>,
    ) -> Result<Vec<u8>, StoreError> {
        let run = self.run(id)?.ok_or_else(|| StoreError::NotFound {
            what: "run",
            key: id.to_string(),
        })?;
        let samples = self.samples(id)?;
        Ok(crate::export::write_as(&run, &samples, format.into())?)
    }

    /// Every run, oldest first.
    pub fn runs(&self) -> Result<Vec<Run>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {RUN_COLUMNS} FROM runs ORDER BY start_unix_ms, id"
        ))?;
        let rows = stmt.query_map([], run_from_row)?;
        let mut out = Vec::new();
        for row in rows {
            out.push(row??);
        }
        Ok(out)
    }

    /// The ids of the runs `keys` name (full ids or unique prefixes, see [`Store::find_run`]),
    /// in the order given; no keys at all means every run. What `export --all` and the
    /// bindings' `export_runs` with an empty list select.
    pub fn select_runs(&self, keys: &[String]) -> Result<Vec<Uuid>, StoreError> {
        if keys.is_empty() {
            return Ok(self.runs()?.into_iter().map(|r| r.id).collect());
        }
        keys.iter().map(|k| Ok(self.find_run(k)?.id)).collect()
    }

    /// Finds a run by full id or by a unique id prefix of 4+ characters.
    pub fn find_run(&self, key: &str) -> Result<Run, StoreError> {
        let key = key.trim();
        if let Ok(id) = Uuid::parse_str(key) {
            return self.run(id)?.ok_or_else(|| StoreError::NotFound {
                what: "run",
                key: key.to_string(),
            });
        }
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id FROM runs WHERE id LIKE ?1")?;
        let pattern = format!("{}%", key.to_ascii_lowercase().replace(['%', '_'], ""));
        let ids = stmt
            .query_map([pattern], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        let id = unique_prefix(
            "run",
            key,
            ids.into_iter().map(|i| (i.clone(), i)).collect(),
        )?;
        let uuid = Uuid::parse_str(&id).map_err(|e| StoreError::Corrupt {
            table: "runs",
            id: id.clone(),
            reason: e.to_string(),
        })?;
        self.run(uuid)?.ok_or(StoreError::NotFound {
            what: "run",
            key: id,
        })
    }

    /// The run's samples in time order (empty when it has no stream).
    pub fn samples(&self, run_id: Uuid) -> Result<Vec<Sample>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT chunk, data FROM run_samples WHERE run_id = ?1 ORDER BY chunk",
        )?;
        let rows = stmt.query_map([run_id.to_string()], |r| {
            Ok((r.get::<_, u32>(0)?, r.get::<_, Vec<u8>>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (chunk, data) = row?;
            out.extend(decode_chunk(&data).map_err(|source| StoreError::Samples {
                run_id,
                chunk,
                source,
            })?);
        }
        Ok(out)
    }

    /// How many samples each run with a stream has.
    pub fn sample_counts(&self) -> Result<HashMap<Uuid, u64>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT run_id, SUM(sample_count) FROM run_samples GROUP BY run_id")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
        let mut out = HashMap::new();
        for row in rows {
            let (id, n) = row?;
            if let Ok(id) = Uuid::parse_str(&id) {
                out.insert(id, n.max(0) as u64);
            }
        }
        Ok(out)
    }

    /// Puts a run on a shoe (or on none).
    pub fn assign_shoe(&mut self, run_id: Uuid, shoe_id: Option<Uuid>) -> Result<(), StoreError> {
        let run = self.run(run_id)?.ok_or_else(|| StoreError::NotFound {
            what: "run",
            key: run_id.to_string(),
        })?;
        if let Some(s) = shoe_id {
            self.shoe(s)?.ok_or_else(|| StoreError::NotFound {
                what: "shoe",
                key: s.to_string(),
            })?;
        }
        if run.shoe_id == shoe_id {
            return Ok(());
        }
        self.write(|w| {
            w.tx.execute(
                "UPDATE runs SET shoe_id = ?2 WHERE id = ?1",
                rusqlite::params![run_id.to_string(), shoe_id.map(|s| s.to_string())],
            )?;
            w.log(
                collection::RUNS,
                &run_id.to_string(),
                ChangeOp::Put,
                &["shoe_id"],
            )
        })
    }

    /// Changes a run's kind, RPE or notes, logging only the fields that changed.
    pub fn edit_run(&mut self, run_id: Uuid, edit: &RunEdit) -> Result<Run, StoreError> {
        let mut run = self.run(run_id)?.ok_or_else(|| StoreError::NotFound {
            what: "run",
            key: run_id.to_string(),
        })?;
        let mut fields = Vec::new();
        if let Some(kind) = edit.kind.filter(|k| *k != run.kind) {
            run.kind = kind;
            fields.push("kind");
        }
        if let Some(rpe) = edit.rpe.filter(|r| *r != run.rpe) {
            run.rpe = rpe;
            fields.push("rpe");
        }
        if let Some(notes) = edit.notes.clone().filter(|n| *n != run.notes) {
            run.notes = notes;
            fields.push("notes");
        }
        validate_run(&run)?;
        if fields.is_empty() {
            return Ok(run);
        }
        self.write(|w| {
            w.tx.execute(
                "UPDATE runs SET kind = ?2, rpe = ?3, notes = ?4 WHERE id = ?1",
                rusqlite::params![run_id.to_string(), run.kind.as_str(), run.rpe, run.notes],
            )?;
            w.log(
                collection::RUNS,
                &run_id.to_string(),
                ChangeOp::Put,
                &fields,
            )
        })?;
        Ok(run)
    }

    /// The report as of `as_of`: runs, shoes and the recent runs' sample streams from this
    /// database, through the pure `analysis::build_report`.
    pub fn report(
        &self,
        as_of: chrono::NaiveDate,
        weeks: usize,
        thresholds: &crate::analysis::Thresholds,
    ) -> Result<crate::analysis::Report, StoreError> {
        crate::ranges::REPORT_WEEKS.check(u16::try_from(weeks).unwrap_or(u16::MAX))?;
        let profile = self.profile()?;
        let tz = profile.zone();
        let runs = self.runs()?;
        let recent_from = as_of - chrono::Days::new(thresholds.recent_days as u64);
        let mut samples = HashMap::new();
        for r in &runs {
            let d = r.start.with_timezone(&tz).date_naive();
            if d > recent_from && d <= as_of {
                samples.insert(r.id, self.samples(r.id)?);
            }
        }
        let shoes = self.shoes()?;
        Ok(crate::analysis::build_report(
            &crate::analysis::ReportInput {
                runs: &runs,
                samples: &samples,
                shoes: &shoes,
                profile: &profile,
                as_of,
                weeks,
                thresholds,
            },
        ))
    }

    /// Imports one activity file: parses it (formats without a UTC offset take the profile's
    /// time zone), skips it when the store already has the same file or activity, otherwise
    /// saves the run on `shoe`.
    pub fn import_activity(
        &mut self,
        format: crate::import::Format,
        bytes: &[u8],
        shoe: super::ShoeChoice,
    ) -> Result<Vec<Imported>, ImportFailed> {
        let zone = self.profile()?.zone();
        crate::import::parse(format, bytes, zone)?
            .into_iter()
            .map(|parsed| self.save_parsed(parsed, shoe))
            .collect()
    }

    /// Saves what [`crate::import::parse`] read (the second half of [`Store::import_activity`],
    /// for callers that parse off the store's lock).
    pub fn save_parsed(
        &mut self,
        parsed: crate::import::Parsed,
        shoe: super::ShoeChoice,
    ) -> Result<Imported, ImportFailed> {
        let (run, samples, note) = match parsed {
            crate::import::Parsed::Run { run, samples, note } => (run, samples, note),
            crate::import::Parsed::NotARun { reason } => return Ok(Imported::NotARun { reason }),
        };
        if let Some(d) = self.find_duplicate(&run)? {
            return Ok(Imported::Duplicate(d));
        }
        let run = self.add_run_on(&run, &samples, shoe)?;
        Ok(Imported::Run {
            run,
            samples: samples.len(),
            note,
        })
    }

    /// Deletes a run and its samples; the change log keeps a tombstone for sync.
    pub fn delete_run(&mut self, run_id: Uuid) -> Result<(), StoreError> {
        let id = run_id.to_string();
        self.write(|w| {
            let had_samples: bool = w.tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM run_samples WHERE run_id = ?1)",
                [&id],
                |r| r.get(0),
            )?;
            super::sync_records::fold_pending(w.tx, collection::RUNS, &id)?;
            let n = w.tx.execute("DELETE FROM runs WHERE id = ?1", [&id])?;
            if n == 0 {
                return Err(StoreError::NotFound {
                    what: "run",
                    key: id.clone(),
                });
            }
            w.log(collection::RUNS, &id, ChangeOp::Delete, &["*"])?;
            if had_samples {
                w.log(collection::RUN_SAMPLES, &id, ChangeOp::Delete, &["*"])?;
            }
            Ok(())
        })
    }
}

/// A duration in whole milliseconds, for comparing spans (a corrupt row's NaN counts as 0).
fn span_ms(duration_s: f64) -> i64 {
    let ms = duration_s * 1000.0;
    if ms.is_finite() { ms.round() as i64 } else { 0 }
}

fn validate_run(run: &Run) -> Result<(), StoreError> {
    non_negative("distance", run.distance_m)?;
    finite("duration", run.duration_s)?;
    if run.duration_s <= 0.0 {
        return Err(StoreError::Invalid {
            field: "duration",
            reason: "a run must last longer than 0 seconds".into(),
        });
    }
    for (field, v) in [
        ("moving time", run.moving_time_s),
        ("elevation gain", run.elevation_gain_m),
        ("elevation loss", run.elevation_loss_m),
        ("average heart rate", run.avg_hr_bpm),
        ("max heart rate", run.max_hr_bpm),
        ("average cadence", run.avg_cadence_spm),
        ("average power", run.avg_power_w),
        ("average stance time", run.avg_stance_time_s),
        (
            "average stance time balance",
            run.avg_stance_balance_left_pct,
        ),
        (
            "average vertical oscillation",
            run.avg_vertical_oscillation_m,
        ),
        ("average vertical ratio", run.avg_vertical_ratio_pct),
        ("average step length", run.avg_step_length_m),
    ] {
        if let Some(v) = v {
            non_negative(field, v)?;
        }
    }
    if let Some(rpe) = run.rpe {
        crate::ranges::RPE.check(rpe)?;
    }
    super::text_within(
        "notes",
        run.notes.as_deref(),
        crate::ranges::NOTES_MAX_CHARS,
    )?;
    Ok(())
}
