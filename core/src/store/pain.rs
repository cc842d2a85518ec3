//! The pain log (append-only) and exercise plans with their daily ticks.

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone, Utc};
use rusqlite::OptionalExtension;
use serde::Serialize;
use uuid::Uuid;

use super::{Store, StoreError, changes::ChangeOp, collection};
use crate::plan::{self, Exercise, PlanFor, exercise};
use crate::triage::{self, Answers, Triage};

/// One logged answer set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PainEntry {
    pub id: Uuid,
    pub logged_at: DateTime<Utc>,
    #[serde(flatten)]
    pub answers: Answers,
}

/// A plan the runner follows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredPlan {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub plan_for: PlanFor,
}

fn corrupt(table: &'static str, id: &str, reason: impl ToString) -> StoreError {
    StoreError::Corrupt {
        table,
        id: id.to_string(),
        reason: reason.to_string(),
    }
}

fn utc_ms(ms: i64, table: &'static str, id: &str) -> Result<DateTime<Utc>, StoreError> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .ok_or_else(|| corrupt(table, id, "time out of range"))
}

fn validate_answers(a: &Answers) -> Result<(), StoreError> {
    a.validate().map_err(|e| StoreError::Invalid {
        field: "pain answers",
        reason: e.to_string(),
    })
}

fn insert_pain(w: &mut super::Writer<'_, '_>, entry: &PainEntry) -> Result<(), StoreError> {
    let json = serde_json::to_string(&entry.answers).expect("answers serialise");
    w.tx.execute(
        "INSERT INTO pain_entries (id, logged_at_ms, answers) VALUES (?1, ?2, ?3)",
        rusqlite::params![
            entry.id.to_string(),
            entry.logged_at.timestamp_millis(),
            json
        ],
    )?;
    w.log(
        collection::PAIN_ENTRIES,
        &entry.id.to_string(),
        ChangeOp::Put,
        &["*"],
    )
}

/// The latest episode of the pain log, triaged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogTriage {
    #[serde(flatten)]
    pub triage: Triage,
    /// The answers judged: the episode's last entry, with `improving` filled in.
    pub answers: Answers,
    /// How many log entries the episode has.
    pub episode_entries: usize,
    /// The plan that fits (now the active one); none when a professional must see it first.
    pub plan: Option<PlanFor>,
}

/// The active plan as of a day: each exercise with whether it was done that day and in the
/// week before (`plan show --json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanToday {
    pub id: Uuid,
    pub plan_for: PlanFor,
    pub started: DateTime<Utc>,
    pub today: NaiveDate,
    pub exercises: Vec<PlanExercise>,
    /// The pain-monitoring rule for going back to running.
    pub return_to_run: &'static str,
    pub disclaimer: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanExercise {
    #[serde(flatten)]
    pub exercise: &'static Exercise,
    pub done_today: bool,
    /// Days it was done in the 7 days up to today.
    pub done_last_7_days: usize,
}

/// An exercise ticked off.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Tick {
    pub exercise: &'static Exercise,
    pub day: NaiveDate,
    /// False when it was already ticked off that day.
    pub newly_done: bool,
}

impl Store {
    /// Logs a pain now (by the store's clock); returns the entry. It is logged after every
    /// entry before it, even within one millisecond, so the latest episode is always the one
    /// logged last.
    pub fn log_pain(&mut self, answers: Answers) -> Result<PainEntry, StoreError> {
        validate_answers(&answers)?;
        let now = self.now().timestamp_millis();
        self.write(|w| {
            // Read under the write lock, so two connections never log at the same time.
            let last: Option<i64> =
                w.tx.query_row("SELECT max(logged_at_ms) FROM pain_entries", [], |r| {
                    r.get(0)
                })?;
            let ms = now.max(last.map_or(i64::MIN, |l| l + 1));
            let entry = PainEntry {
                id: Uuid::new_v4(),
                // Stored to the millisecond: keep exactly what will be read back.
                logged_at: utc_ms(ms, "pain_entries", "new")?,
                answers,
            };
            insert_pain(w, &entry)?;
            Ok(entry)
        })
    }

    /// The plan followed now, started as general prevention if none was ever started (no pain
    /// triaged yet): every runner has one.
    pub fn current_plan(&mut self) -> Result<StoredPlan, StoreError> {
        match self.active_plan()? {
            Some(p) => Ok(p),
            None => self.start_plan(PlanFor::Prevention, self.now()),
        }
    }

    /// The current plan as of today (by the store's clock, in the runner's zone).
    pub fn plan_today(&mut self) -> Result<PlanToday, StoreError> {
        let plan = self.current_plan()?;
        let day = self.today()?;
        let ticks = self.plan_ticks(plan.id)?;
        let week_from = day - chrono::Days::new(6);
        let exercises = plan::exercises_for(plan.plan_for)
            .into_iter()
            .map(|e| PlanExercise {
                exercise: e,
                done_today: ticks.iter().any(|(d, x)| *d == day && x == e.id),
                done_last_7_days: ticks
                    .iter()
                    .filter(|(d, x)| *d >= week_from && *d <= day && x == e.id)
                    .count(),
            })
            .collect();
        Ok(PlanToday {
            id: plan.id,
            plan_for: plan.plan_for,
            started: plan.created_at,
            today: day,
            exercises,
            return_to_run: plan::RETURN_TO_RUN,
            disclaimer: plan::disclaimer(),
        })
    }

    /// Ticks off an exercise of the current plan on `day` (default today). The id may be
    /// written with dashes or spaces (`eccentric-heel-drops`); an exercise that is not in the
    /// plan is refused with the plan's exercises listed.
    pub fn tick_plan_exercise(
        &mut self,
        exercise_id: &str,
        day: Option<NaiveDate>,
    ) -> Result<Tick, StoreError> {
        let plan = self.current_plan()?;
        let key = exercise_id
            .trim()
            .to_ascii_lowercase()
            .replace(['-', ' '], "_");
        let exercises = plan::exercises_for(plan.plan_for);
        let Some(e) = exercises.iter().copied().find(|e| e.id == key) else {
            return Err(StoreError::NotInPlan {
                given: exercise_id.to_string(),
                plan: plan.plan_for.as_str(),
                expected: exercises
                    .iter()
                    .map(|e| e.id)
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        };
        let day = match day {
            Some(d) => d,
            None => self.today()?,
        };
        let newly_done = self.tick_exercise(plan.id, day, e.id)?;
        Ok(Tick {
            exercise: e,
            day,
            newly_done,
        })
    }

    /// Triages the latest episode of the pain log as of `now`, against this runner's training
    /// before the onset, and makes the fitting plan the active one. `None` when the log is empty.
    pub fn triage_log(
        &mut self,
        now: DateTime<FixedOffset>,
    ) -> Result<Option<LogTriage>, StoreError> {
        let log = self.pain_entries()?;
        let refs: Vec<&Answers> = log.iter().map(|e| &e.answers).collect();
        let Some((answers, episode_entries)) = triage::latest_episode(&refs) else {
            return Ok(None);
        };
        let result = self.triage_answers(&answers, now)?;
        let plan = result.plan();
        if let Some(p) = plan {
            self.start_plan(p, now.with_timezone(&Utc))?;
        }
        Ok(Some(LogTriage {
            triage: result,
            answers,
            episode_entries,
            plan,
        }))
    }

    /// Triages `answers` as of `now` against this history, storing nothing.
    pub fn triage_answers(
        &self,
        answers: &Answers,
        now: DateTime<FixedOffset>,
    ) -> Result<Triage, StoreError> {
        let profile = self.profile()?;
        let onset_day = answers.onset.with_timezone(&profile.zone()).date_naive();
        let notes = triage::data_notes(&self.runs()?, &self.shoes()?, &profile, onset_day);
        Ok(triage::triage(answers, now, &notes))
    }

    /// Appends a pain entry.
    pub fn add_pain_entry(&mut self, entry: &PainEntry) -> Result<(), StoreError> {
        validate_answers(&entry.answers)?;
        self.write(|w| insert_pain(w, entry))
    }

    /// Every pain entry, oldest first.
    pub fn pain_entries(&self) -> Result<Vec<PainEntry>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, logged_at_ms, answers FROM pain_entries ORDER BY logged_at_ms, id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, ms, json) = row?;
            out.push(PainEntry {
                id: Uuid::parse_str(&id).map_err(|e| corrupt("pain_entries", &id, e))?,
                logged_at: utc_ms(ms, "pain_entries", &id)?,
                answers: Answers::from_json(&json).map_err(|e| corrupt("pain_entries", &id, e))?,
            });
        }
        Ok(out)
    }

    /// The plan followed now: the most recently started one.
    pub fn active_plan(&self) -> Result<Option<StoredPlan>, StoreError> {
        let row: Option<(String, i64, String)> = self
            .conn
            .query_row(
                "SELECT id, created_at_ms, plan_for FROM plans ORDER BY created_at_ms DESC, id LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        row.map(|(id, ms, f)| {
            Ok(StoredPlan {
                id: Uuid::parse_str(&id).map_err(|e| corrupt("plans", &id, e))?,
                created_at: utc_ms(ms, "plans", &id)?,
                plan_for: PlanFor::parse(&f)
                    .ok_or_else(|| corrupt("plans", &id, format!("unknown plan '{f}'")))?,
            })
        })
        .transpose()
    }

    /// Makes `plan_for` the active plan, keeping the current one if it is already that.
    pub fn start_plan(
        &mut self,
        plan_for: PlanFor,
        now: DateTime<Utc>,
    ) -> Result<StoredPlan, StoreError> {
        if let Some(p) = self.active_plan()?
            && p.plan_for == plan_for
        {
            return Ok(p);
        }
        // Stored to the millisecond: keep exactly what will be read back.
        let now = utc_ms(now.timestamp_millis(), "plans", "new")?;
        let plan = StoredPlan {
            id: Uuid::new_v4(),
            created_at: now,
            plan_for,
        };
        self.write(|w| {
            w.tx.execute(
                "INSERT INTO plans (id, created_at_ms, plan_for) VALUES (?1, ?2, ?3)",
                rusqlite::params![
                    plan.id.to_string(),
                    now.timestamp_millis(),
                    plan_for.as_str()
                ],
            )?;
            w.log(
                collection::PLANS,
                &plan.id.to_string(),
                ChangeOp::Put,
                &["*"],
            )
        })?;
        Ok(plan)
    }

    /// Ticks off `exercise_id` of the plan on `day` (again on the same day changes nothing).
    pub fn tick_exercise(
        &mut self,
        plan: Uuid,
        day: NaiveDate,
        exercise_id: &str,
    ) -> Result<bool, StoreError> {
        let Some(e) = exercise(exercise_id) else {
            return Err(StoreError::NotFound {
                what: "exercise",
                key: exercise_id.to_string(),
            });
        };
        let key = format!("{plan}:{day}:{}", e.id);
        self.write(|w| {
            let n = w.tx.execute(
                "INSERT OR IGNORE INTO plan_ticks (plan_id, day, exercise) VALUES (?1, ?2, ?3)",
                rusqlite::params![plan.to_string(), day.to_string(), e.id],
            )?;
            if n > 0 {
                w.log(collection::PLAN_TICKS, &key, ChangeOp::Put, &["*"])?;
            }
            Ok(n > 0)
        })
    }

    /// The days each exercise of a plan was done: (day, exercise id), oldest first.
    pub fn plan_ticks(&self, plan: Uuid) -> Result<Vec<(NaiveDate, String)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT day, exercise FROM plan_ticks WHERE plan_id = ?1 ORDER BY day, exercise",
        )?;
        let rows = stmt.query_map([plan.to_string()], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (day, ex) = row?;
            let d = NaiveDate::parse_from_str(&day, "%Y-%m-%d")
                .map_err(|e| corrupt("plan_ticks", &day, e))?;
            out.push((d, ex));
        }
        Ok(out)
    }
}
