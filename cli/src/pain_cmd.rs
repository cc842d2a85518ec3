//! `strideguard pain`, `triage` and `plan`: the pain log, the triage of its latest episode (or of
//! an answers file), and the exercise plan that follows from it.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, FixedOffset, Local, NaiveDate, Utc};
use dialoguer::{Confirm, Input, MultiSelect, Select};
use serde::Serialize;
use strideguard_core::Store;
use strideguard_core::plan::{self, PlanFor, RETURN_TO_RUN};
use strideguard_core::store::PainEntry;
use strideguard_core::triage::{
    self, Aggravator, Answers, Character, Location, RedFlag, RedFlags, Side, Timing, Triage,
    Urgency,
};
use strideguard_core::units::{parse_local_datetime, parse_time_zone};
use uuid::Uuid;

use crate::args::{PainCommand, PainLogArgs, PlanCommand, TriageArgs};
use crate::output::{print_json, table};

/// A time as the runner types it: RFC 3339, or a local date/time in the profile's zone.
fn parse_time(s: &str, store: &Store) -> Result<DateTime<FixedOffset>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s.trim()) {
        return Ok(t);
    }
    let tz = parse_time_zone(&store.profile()?.time_zone)?;
    Ok(parse_local_datetime(s, tz)?)
}

fn now_in(store: &Store) -> Result<DateTime<FixedOffset>> {
    let tz = store.profile()?.zone();
    Ok(Utc::now().with_timezone(&tz).fixed_offset())
}

pub fn pain(store: &mut Store, cmd: PainCommand) -> Result<()> {
    match cmd {
        PainCommand::Log(a) => log(store, a),
        PainCommand::List { json } => {
            let entries = store.pain_entries()?;
            if json {
                return print_json(&entries);
            }
            if entries.is_empty() {
                println!("No pain logged. Log one with `strideguard pain log`.");
                return Ok(());
            }
            let mut t = table(
                &[
                    "Logged",
                    "Where",
                    "Side",
                    "Severity",
                    "Onset",
                    "Character",
                    "Timing",
                    "Improving",
                ],
                &[3],
            );
            for e in &entries {
                let a = &e.answers;
                let list = |v: Vec<&str>| {
                    if v.is_empty() {
                        "-".to_string()
                    } else {
                        v.join(", ")
                    }
                };
                t.add_row(vec![
                    e.logged_at
                        .with_timezone(&Local)
                        .format("%Y-%m-%d %H:%M")
                        .to_string(),
                    a.location.to_string(),
                    a.side.to_string(),
                    format!("{}/10", a.severity),
                    a.onset.format("%Y-%m-%d %H:%M").to_string(),
                    list(a.character.iter().map(|c| c.as_str()).collect()),
                    list(a.timing.iter().map(|c| c.as_str()).collect()),
                    match a.improving {
                        Some(true) => "yes".into(),
                        Some(false) => "no".into(),
                        None => "-".into(),
                    },
                ]);
            }
            println!("{t}");
            Ok(())
        }
    }
}

fn pick<T: Copy + std::fmt::Display>(prompt: &str, all: &[T]) -> Result<T> {
    let items: Vec<String> = all.iter().map(|v| v.to_string()).collect();
    let i = Select::new()
        .with_prompt(prompt)
        .items(&items)
        .default(0)
        .interact()?;
    Ok(all[i])
}

fn pick_many<T: Copy + std::fmt::Display>(prompt: &str, all: &[T]) -> Result<Vec<T>> {
    let items: Vec<String> = all.iter().map(|v| v.to_string()).collect();
    let chosen = MultiSelect::new()
        .with_prompt(format!("{prompt} (space to choose, enter when done)"))
        .items(&items)
        .interact()?;
    Ok(chosen.into_iter().map(|i| all[i]).collect())
}

fn log(store: &mut Store, a: PainLogArgs) -> Result<()> {
    let missing: Vec<&str> = [
        (a.location.is_none(), "--location"),
        (a.side.is_none(), "--side"),
        (a.severity.is_none(), "--severity"),
    ]
    .into_iter()
    .filter_map(|(m, name)| m.then_some(name))
    .collect();
    let ask = !missing.is_empty();
    if ask && !std::io::stdin().is_terminal() {
        bail!(
            "missing answers: {} (give them as flags, or run on a terminal to be asked)",
            missing.join(", ")
        );
    }
    let location = match a.location {
        Some(l) => l,
        None => pick("Where does it hurt?", Location::ALL)?,
    };
    let side = match a.side {
        Some(s) => s,
        None => pick("Which side?", Side::ALL)?,
    };
    let severity = match a.severity {
        Some(s) => s,
        None => Input::<u8>::new()
            .with_prompt("How bad is it, 0 (none) to 10 (worst)?")
            .validate_with(|v: &u8| if *v <= 10 { Ok(()) } else { Err("0 to 10") })
            .interact()?,
    };
    let character = if a.character.is_empty() && ask {
        pick_many("What does it feel like?", Character::ALL)?
    } else {
        a.character
    };
    let timing = if a.timing.is_empty() && ask {
        pick_many("When does it hurt?", Timing::ALL)?
    } else {
        a.timing
    };
    let aggravators = if a.aggravators.is_empty() && ask {
        pick_many("What makes it worse?", Aggravator::ALL)?
    } else {
        a.aggravators
    };
    let swelling = a.swelling
        || (ask
            && Confirm::new()
                .with_prompt("Is it swollen?")
                .default(false)
                .interact()?);
    let mut red_flags = RedFlags::default();
    for f in &a.red_flags {
        red_flags.set(*f);
    }
    if ask {
        for (flag, question) in [
            (RedFlag::CannotBearWeight, "Can you NOT put weight on it?"),
            (RedFlag::Deformity, "Does the joint look deformed?"),
            (
                RedFlag::NumbnessOrShootingPain,
                "Any numbness or shooting pain?",
            ),
            (
                RedFlag::SevereUnrelenting,
                "Is the pain severe and unrelenting?",
            ),
        ] {
            if !a.red_flags.contains(&flag)
                && Confirm::new()
                    .with_prompt(question)
                    .default(false)
                    .interact()?
            {
                red_flags.set(flag);
            }
        }
    }
    let onset = match (&a.onset, ask) {
        (Some(s), _) => parse_time(s, store)?,
        (None, true) => {
            let s: String = Input::new()
                .with_prompt("When did it start? (YYYY-MM-DD or YYYY-MM-DDTHH:MM)")
                .default(now_in(store)?.format("%Y-%m-%dT%H:%M").to_string())
                .interact_text()?;
            parse_time(&s, store)?
        }
        (None, false) => now_in(store)?,
    };
    let improving = match (a.improving, ask) {
        (Some(i), _) => i.0,
        (None, true) => {
            match Select::new()
                .with_prompt("Is it getting better?")
                .items(["not sure", "yes", "no"])
                .default(0)
                .interact()?
            {
                1 => Some(true),
                2 => Some(false),
                _ => None,
            }
        }
        (None, false) => None,
    };
    let entry = PainEntry {
        id: Uuid::new_v4(),
        logged_at: Utc::now(),
        answers: Answers {
            location,
            side,
            severity,
            character,
            timing,
            aggravators,
            swelling,
            red_flags,
            onset,
            improving,
        },
    };
    store.add_pain_entry(&entry)?;
    if a.json {
        return print_json(&entry);
    }
    println!(
        "Logged {} {} pain, {}/10, since {}.",
        side,
        location.as_str().replace('_', " "),
        severity,
        onset.format("%Y-%m-%d %H:%M")
    );
    if !entry.answers.red_flags.raised().is_empty() {
        println!(
            "Red flag: stop running and see a doctor or physiotherapist now. `strideguard triage` has details."
        );
    } else {
        println!("Run `strideguard triage` for what it most likely is and what to do now.");
    }
    Ok(())
}

#[derive(Serialize)]
struct TriageJson<'a> {
    #[serde(flatten)]
    triage: &'a Triage,
    /// The answers judged (for the latest episode: its last entry, with `improving` filled in).
    answers: &'a Answers,
    /// How many log entries the episode has (1 for an answers file).
    episode_entries: usize,
    /// The plan that fits, to follow with `strideguard plan show`.
    plan: Option<&'static str>,
}

/// `triage`: the latest episode from the log, or `--answers FILE` without logging anything.
pub fn triage_cmd(db: &Path, a: TriageArgs) -> Result<()> {
    let Some(file) = &a.answers else {
        let mut store = crate::open_or_create(db)?;
        let now = match &a.now {
            Some(s) => parse_time(s, &store)?,
            None => now_in(&store)?,
        };
        let Some(t) = store.triage_log(now)? else {
            bail!(
                "the pain log is empty: log a pain with `strideguard pain log`, or check answers with `triage --answers FILE.json`"
            );
        };
        if a.json {
            return print_json(&TriageJson {
                triage: &t.triage,
                answers: &t.answers,
                episode_entries: t.episode_entries,
                plan: t.plan.map(|p| p.as_str()),
            });
        }
        print_triage(&t.triage, t.plan, true);
        return Ok(());
    };
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let answers = strideguard_core::triage::Answers::from_json(&text)
        .with_context(|| format!("{} is not a valid answers file", file.display()))?;
    // Stateless: the history is read when there is one, nothing is written.
    let store = if db.exists() {
        Some(Store::open(db)?)
    } else {
        None
    };
    let now = match (&a.now, &store) {
        (Some(s), Some(st)) => parse_time(s, st)?,
        (Some(s), None) => DateTime::parse_from_rfc3339(s.trim())
            .or_else(|_| parse_local_datetime(s, chrono_tz::UTC))
            .with_context(|| format!("--now '{s}' is not a time"))?,
        (None, Some(st)) => now_in(st)?,
        (None, None) => Utc::now().fixed_offset(),
    };
    let result = match &store {
        Some(st) => st.triage_answers(&answers, now)?,
        None => triage::triage(&answers, now, &[]),
    };
    let plan_for =
        (result.urgency != Urgency::SeeProfessionalNow).then(|| PlanFor::from(result.likely));
    if a.json {
        return print_json(&TriageJson {
            triage: &result,
            answers: &answers,
            episode_entries: 1,
            plan: plan_for.map(|p| p.as_str()),
        });
    }
    print_triage(&result, plan_for, false);
    Ok(())
}

fn print_triage(r: &Triage, plan_for: Option<PlanFor>, stored: bool) {
    let headline = match r.urgency {
        Urgency::SeeProfessionalNow => "SEE A PROFESSIONAL NOW",
        Urgency::BookPhysio => "Book a physiotherapist or sports medicine doctor",
        Urgency::SelfCare => "Self-care",
    };
    println!("{headline} ({})", r.urgency.as_str());
    println!("{}", r.reason);
    if !r.patterns.is_empty() {
        println!();
        println!("What it may be");
        for p in &r.patterns {
            let mark = if Some(p.id) == r.likely {
                "likely"
            } else {
                "possible"
            };
            println!(
                "  {} [{}] ({mark}, score {})",
                p.name,
                p.id.as_str(),
                p.score
            );
            println!("    fits: {}", p.fits.join("; "));
            if !p.against.is_empty() {
                println!("    against: {}", p.against.join("; "));
            }
        }
    }
    println!();
    println!("What to do now");
    for c in &r.immediate_care {
        println!("  - {c}");
    }
    if !r.your_data.is_empty() {
        println!();
        println!("What your training shows");
        for n in &r.your_data {
            println!("  - {}", n.text);
        }
    }
    if let Some(p) = plan_for {
        println!();
        println!(
            "Plan: {} exercises{}; see `strideguard plan show`.",
            p.as_str().replace('_', " "),
            if stored {
                " (now your active plan)"
            } else {
                ""
            }
        );
    }
    println!();
    println!("{}", r.disclaimer);
}

#[derive(Serialize)]
struct PlanExercise {
    #[serde(flatten)]
    exercise: &'static plan::Exercise,
    done_today: bool,
    /// Days done in the last 7 days.
    done_last_7_days: usize,
}

#[derive(Serialize)]
struct PlanJson {
    id: Uuid,
    plan_for: PlanFor,
    started: DateTime<Utc>,
    today: NaiveDate,
    exercises: Vec<PlanExercise>,
    return_to_run: &'static str,
    disclaimer: &'static str,
}

fn today(store: &Store) -> Result<NaiveDate> {
    Ok(now_in(store)?.date_naive())
}

pub fn plan_cmd(store: &mut Store, cmd: PlanCommand) -> Result<()> {
    let active = match store.active_plan()? {
        Some(p) => p,
        // No triage yet: general prevention.
        None => store.start_plan(PlanFor::Prevention, Utc::now())?,
    };
    let exercises = plan::exercises_for(active.plan_for);
    match cmd {
        PlanCommand::Done { exercise, date } => {
            let id = exercise
                .trim()
                .to_ascii_lowercase()
                .replace(['-', ' '], "_");
            let Some(e) = exercises.iter().find(|e| e.id == id) else {
                bail!(
                    "'{exercise}' is not in your {} plan: one of {}",
                    active.plan_for.as_str(),
                    exercises
                        .iter()
                        .map(|e| e.id)
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            };
            let day = match date {
                Some(d) => d,
                None => today(store)?,
            };
            if store.tick_exercise(active.id, day, e.id)? {
                println!("Done: {} on {day}.", e.name);
            } else {
                println!("{} was already ticked off on {day}.", e.name);
            }
            Ok(())
        }
        PlanCommand::Show { json } => {
            let day = today(store)?;
            let ticks = store.plan_ticks(active.id)?;
            let week_from = day - chrono::Days::new(6);
            let rows: Vec<PlanExercise> = exercises
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
            if json {
                return print_json(&PlanJson {
                    id: active.id,
                    plan_for: active.plan_for,
                    started: active.created_at,
                    today: day,
                    exercises: rows,
                    return_to_run: RETURN_TO_RUN,
                    disclaimer: plan::disclaimer(),
                });
            }
            println!(
                "Plan: {} (since {})",
                active.plan_for.as_str().replace('_', " "),
                active.created_at.with_timezone(&Local).format("%Y-%m-%d")
            );
            let mut t = table(
                &[
                    "Exercise",
                    "Id",
                    "Dose",
                    "Days/week",
                    "Target",
                    "Today",
                    "Last 7 days",
                ],
                &[3, 6],
            );
            for r in &rows {
                let e = r.exercise;
                let dose = match (e.reps, e.hold_s) {
                    (Some(reps), _) => format!("{} x {reps}", e.sets),
                    (None, Some(s)) => format!("{} x {s} s", e.sets),
                    _ => format!("{} sets", e.sets),
                };
                t.add_row(vec![
                    e.name.to_string(),
                    e.id.to_string(),
                    dose,
                    e.days_per_week.to_string(),
                    e.target.to_string(),
                    if r.done_today {
                        "done".into()
                    } else {
                        "-".into()
                    },
                    format!("{}/{}", r.done_last_7_days, e.days_per_week),
                ]);
            }
            println!("{t}");
            for r in &rows {
                println!("  {}: {}", r.exercise.name, r.exercise.cue);
            }
            println!();
            println!("{RETURN_TO_RUN}");
            println!();
            println!("{}", plan::disclaimer());
            Ok(())
        }
    }
}
