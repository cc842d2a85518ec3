//! `strideguard profile ...`: show and change the runner's settings.

use anyhow::Result;
use clap::{Args, Subcommand};
use strideguard_core::Store;
use strideguard_core::model::{CadenceTarget, Units};
use strideguard_core::ranges::{
    CADENCE_INCREASE_PCT, MAX_HR_BPM, RESTING_HR_BPM, TARGET_CADENCE_SPM,
};

use crate::output::{OutputArgs, ProfileJson, print_json, print_pairs, profile_lines};
use crate::values;

#[derive(Debug, Subcommand)]
pub enum ProfileCommand {
    /// Show the profile.
    Show {
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Change profile settings (only the ones given).
    Set(ProfileSetArgs),
}

#[derive(Debug, Args)]
pub struct ProfileSetArgs {
    /// Display units: km or mi.
    #[arg(long, value_parser = values::units)]
    pub units: Option<Units>,
    /// IANA time zone, e.g. Europe/Berlin; weeks are counted in it.
    #[arg(long, value_parser = values::time_zone)]
    pub tz: Option<String>,
    /// `auto` (your own baseline plus --cadence-increase) or a fixed number of steps/min.
    #[arg(long, value_parser = target)]
    pub target_cadence: Option<TargetArg>,
    /// Percent above your baseline for the auto target (research supports 5-10).
    #[arg(long, value_name = "PCT", value_parser = values::in_range(CADENCE_INCREASE_PCT))]
    pub cadence_increase: Option<f64>,
    /// Resting heart rate in bpm.
    #[arg(long, value_parser = values::in_range(RESTING_HR_BPM))]
    pub resting_hr: Option<u8>,
    /// Maximum heart rate in bpm.
    #[arg(long, value_parser = values::in_range(MAX_HR_BPM))]
    pub max_hr: Option<u8>,
    /// Height: 178cm, 1.78m or 70in.
    #[arg(long, value_parser = values::height)]
    pub height: Option<f64>,
    /// Change a rule's number, e.g. weekly_increase_pct=8 or small_base_m=15000 (repeatable;
    /// `profile show --json` lists them all under `thresholds`).
    #[arg(long = "threshold", value_name = "NAME=VALUE", value_parser = values::threshold)]
    pub thresholds: Vec<(String, f64)>,
    /// Put every threshold back to domain.md's defaults.
    #[arg(long)]
    pub reset_thresholds: bool,
    #[command(flatten)]
    pub out: OutputArgs,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TargetArg {
    Auto,
    Fixed(f64),
}

fn target(s: &str) -> Result<TargetArg, String> {
    if s.trim().eq_ignore_ascii_case("auto") {
        return Ok(TargetArg::Auto);
    }
    match s.trim().parse::<f64>() {
        Ok(v) => TARGET_CADENCE_SPM
            .check(v)
            .map(TargetArg::Fixed)
            .map_err(|e| e.to_string()),
        Err(_) => Err(format!(
            "'{s}' is neither `auto` nor a number of steps per minute"
        )),
    }
}

pub fn run(store: &mut Store, cmd: ProfileCommand) -> Result<()> {
    match cmd {
        ProfileCommand::Show { out } => show(store, out),
        ProfileCommand::Set(a) => {
            let out = a.out;
            set(store, a)?;
            show(store, out)
        }
    }
}

fn show(store: &Store, out: OutputArgs) -> Result<()> {
    let p = store.profile()?;
    if out.json {
        return print_json(&ProfileJson::new(&p));
    }
    print_pairs(&profile_lines(&p));
    Ok(())
}

fn set(store: &mut Store, a: ProfileSetArgs) -> Result<()> {
    let mut p = store.profile()?;
    if let Some(u) = a.units {
        p.units = u;
    }
    if let Some(tz) = a.tz {
        p.time_zone = tz;
    }
    let current_pct = match p.cadence_target {
        CadenceTarget::Auto { increase_pct } => increase_pct,
        CadenceTarget::Fixed { .. } => strideguard_core::Profile::DEFAULT_CADENCE_INCREASE_PCT,
    };
    match (a.target_cadence, a.cadence_increase) {
        (Some(TargetArg::Fixed(_)), Some(_)) => {
            anyhow::bail!(
                "--cadence-increase applies to `--target-cadence auto`, not to a fixed target"
            )
        }
        (Some(TargetArg::Fixed(spm)), None) => p.cadence_target = CadenceTarget::Fixed { spm },
        (Some(TargetArg::Auto), pct) => {
            p.cadence_target = CadenceTarget::Auto {
                increase_pct: pct.unwrap_or(current_pct),
            }
        }
        (None, Some(pct)) => p.cadence_target = CadenceTarget::Auto { increase_pct: pct },
        (None, None) => {}
    }
    if a.resting_hr.is_some() {
        p.resting_hr_bpm = a.resting_hr;
    }
    if a.max_hr.is_some() {
        p.max_hr_bpm = a.max_hr;
    }
    if a.height.is_some() {
        p.height_m = a.height;
    }
    if a.reset_thresholds {
        p.thresholds = strideguard_core::analysis::Thresholds::default();
    }
    for (name, value) in &a.thresholds {
        p.thresholds.set(name, *value)?;
    }
    store.set_profile(&p)?;
    Ok(())
}
