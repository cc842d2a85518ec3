//! `strideguard pain ...`: log a pain (flags, or questions on a terminal) and list the log.

use std::io::IsTerminal;

use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use dialoguer::{Confirm, Input, MultiSelect, Select};
use strideguard_core::Store;
use strideguard_core::ranges::PAIN_SEVERITY;
use strideguard_core::triage::{
    Aggravator, Answers, Character, Location, RedFlag, RedFlags, Side, Timing,
};
use strideguard_core::units::parse_time;

use crate::output::{OutputArgs, print_json, table};
use crate::values;

#[derive(Debug, Subcommand)]
pub enum PainCommand {
    /// Log a pain. Flags answer the questions; on a terminal, what is missing is asked.
    Log(PainLogArgs),
    /// List the pain log, oldest first.
    List {
        #[command(flatten)]
        out: OutputArgs,
    },
}

#[derive(Debug, Args)]
pub struct PainLogArgs {
    /// knee_front, knee_outer, knee_inner, knee_back, achilles, heel, shin_inner, shin_outer,
    /// ankle, foot, hip or other.
    #[arg(long, value_parser = values::answer::<Location>)]
    pub location: Option<Location>,
    /// left, right or both.
    #[arg(long, value_parser = values::answer::<Side>)]
    pub side: Option<Side>,
    /// 0 (none) to 10 (worst imaginable).
    #[arg(long, value_parser = values::in_range(PAIN_SEVERITY))]
    pub severity: Option<u8>,
    /// dull_ache, sharp, burning, stiffness, throbbing (repeat or separate with commas).
    #[arg(long, value_delimiter = ',', value_parser = values::answer::<Character>)]
    pub character: Vec<Character>,
    /// morning, start_of_run_eases, consistent_point_in_run, after_run, lingering, at_rest.
    #[arg(long, value_delimiter = ',', value_parser = values::answer::<Timing>)]
    pub timing: Vec<Timing>,
    /// stairs, squatting, prolonged_sitting, downhill, uphill, hopping.
    #[arg(long = "aggravator", alias = "aggravators", value_delimiter = ',', value_parser = values::answer::<Aggravator>)]
    pub aggravators: Vec<Aggravator>,
    /// There is visible swelling.
    #[arg(long)]
    pub swelling: bool,
    /// A red flag that applies: cannot_bear_weight, deformity, numbness_or_shooting_pain,
    /// severe_unrelenting (repeat or separate with commas).
    #[arg(long = "red-flag", value_delimiter = ',', value_parser = values::answer::<RedFlag>)]
    pub red_flags: Vec<RedFlag>,
    /// When it started: RFC 3339, or YYYY-MM-DD[THH:MM] in the profile's time zone (default now).
    #[arg(long)]
    pub onset: Option<String>,
    /// Getting better since it started: yes, no or unknown.
    #[arg(long, value_parser = improving)]
    pub improving: Option<Improving>,
    #[command(flatten)]
    pub out: OutputArgs,
}

/// The answer to "is it improving?": yes, no, or not known.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Improving(pub Option<bool>);

fn improving(s: &str) -> Result<Improving, String> {
    values::yes_no_unknown(s).map(Improving)
}

pub fn run(store: &mut Store, cmd: PainCommand) -> Result<()> {
    match cmd {
        PainCommand::Log(a) => log(store, a),
        PainCommand::List { out } => {
            let entries = store.pain_entries()?;
            if out.json {
                return print_json(&entries);
            }
            if entries.is_empty() {
                println!("No pain logged. Log one with `strideguard pain log`.");
                return Ok(());
            }
            let zone = store.profile()?.zone();
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
                        .with_timezone(&zone)
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

/// The questions a red flag answers, asked on a terminal.
const RED_FLAG_QUESTIONS: [(RedFlag, &str); 4] = [
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
];

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
    let zone = store.profile()?.zone();
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
            .validate_with(|v: &u8| {
                if PAIN_SEVERITY.contains(*v) {
                    Ok(())
                } else {
                    Err("0 to 10")
                }
            })
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
        for (flag, question) in RED_FLAG_QUESTIONS {
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
        (Some(s), _) => parse_time(s, zone)?,
        (None, true) => {
            let s: String = Input::new()
                .with_prompt("When did it start? (YYYY-MM-DD or YYYY-MM-DDTHH:MM)")
                .default(store.now_local()?.format("%Y-%m-%dT%H:%M").to_string())
                .interact_text()?;
            parse_time(&s, zone)?
        }
        (None, false) => store.now_local()?,
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
    let entry = store.log_pain(Answers {
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
    })?;
    if a.out.json {
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
