//! `strideguard profile ...`

use anyhow::Result;
use strideguard_core::Store;
use strideguard_core::model::CadenceTarget;

use crate::args::{ProfileCommand, ProfileSetArgs, TargetArg};
use crate::output::{ProfileJson, print_json, print_pairs, profile_lines};

pub fn run(store: &mut Store, cmd: ProfileCommand) -> Result<()> {
    match cmd {
        ProfileCommand::Show { json } => show(store, json),
        ProfileCommand::Set(a) => {
            let json = a.json;
            set(store, a)?;
            show(store, json)
        }
    }
}

fn show(store: &Store, json: bool) -> Result<()> {
    let p = store.profile()?;
    if json {
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
        p.thresholds.set(name, *value).map_err(anyhow::Error::msg)?;
    }
    store.set_profile(&p)?;
    Ok(())
}
