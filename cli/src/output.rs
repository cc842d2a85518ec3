//! How things look on the terminal and in `--json`. The JSON shapes here are a documented
//! contract (README, "JSON output"): add fields freely, never rename or remove one. Every value
//! comes from core; this module only arranges it.

use std::collections::HashMap;

use comfy_table::{CellAlignment, ContentArrangement, LineStyle, Table, TableStyle};
use serde::Serialize;
use strideguard_core::model::{CadenceTarget, Profile, Run, Sample, ShoeUsage, ShoeWear, Units};
use strideguard_core::units::{format_distance, format_duration, format_pace};
use uuid::Uuid;

/// Plain columns with one rule under the header: easy to read, easy to `grep`.
const STYLE: TableStyle =
    TableStyle::new().header_separator(LineStyle::none().fill('-').junction(' '));

/// A table with a header rule and right-aligned numeric columns.
pub fn table(header: &[&str], right_aligned: &[usize]) -> Table {
    let mut t = Table::new();
    t.load_style(STYLE)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(header.to_vec());
    for &i in right_aligned {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    t
}

/// The output choice every command that prints something shares.
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub struct OutputArgs {
    /// Print JSON (documented in the README) instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn print_json<T: Serialize + ?Sized>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

pub fn short_id(id: Uuid) -> String {
    id.to_string()[..8].to_string()
}

/// `run list --json` / `run show --json` item.
#[derive(Serialize)]
pub struct RunJson<'a> {
    #[serde(flatten)]
    pub run: &'a Run,
    pub sample_count: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub samples: Option<&'a [Sample]>,
}

/// `profile show --json`.
#[derive(Serialize)]
pub struct ProfileJson<'a> {
    pub units: Units,
    pub time_zone: &'a str,
    /// `"auto"` or a fixed number of steps per minute.
    pub target_cadence: serde_json::Value,
    pub cadence_increase_pct: Option<f64>,
    pub resting_hr_bpm: Option<u8>,
    pub max_hr_bpm: Option<u8>,
    pub height_m: Option<f64>,
    /// Every rule's number (domain.md's default unless changed).
    pub thresholds: &'a strideguard_core::analysis::Thresholds,
}

impl<'a> ProfileJson<'a> {
    pub fn new(p: &'a Profile) -> Self {
        let (target_cadence, cadence_increase_pct) = match p.cadence_target {
            CadenceTarget::Auto { increase_pct } => ("auto".into(), Some(increase_pct)),
            CadenceTarget::Fixed { spm } => (spm.into(), None),
        };
        ProfileJson {
            units: p.units,
            time_zone: &p.time_zone,
            target_cadence,
            cadence_increase_pct,
            resting_hr_bpm: p.resting_hr_bpm,
            max_hr_bpm: p.max_hr_bpm,
            height_m: p.height_m,
            thresholds: &p.thresholds,
        }
    }
}

pub fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "-".into())
}

/// The run table: local start time as the runner experienced it, in the profile's units.
pub fn runs_table(
    runs: &[Run],
    units: Units,
    shoe_names: &HashMap<Uuid, String>,
    sample_counts: &HashMap<Uuid, u64>,
) -> Table {
    let mut t = table(
        &[
            "ID", "Start", "Kind", "Distance", "Time", "Pace", "RPE", "HR", "Cadence", "Shoe",
            "Samples",
        ],
        &[3, 4, 5, 6, 7, 8, 10],
    );
    for r in runs {
        t.add_row(vec![
            short_id(r.id),
            r.start.format("%Y-%m-%d %H:%M").to_string(),
            r.kind.to_string(),
            format_distance(r.distance_m, units),
            format_duration(r.duration_s),
            format_pace(r.distance_m, r.moving_time_s.unwrap_or(r.duration_s), units),
            opt(r.rpe),
            opt(r.avg_hr_bpm.map(|h| format!("{h:.0}"))),
            opt(r.avg_cadence_spm.map(|c| format!("{c:.0}"))),
            r.shoe_id
                .and_then(|s| shoe_names.get(&s).cloned())
                .unwrap_or_else(|| "-".into()),
            sample_counts
                .get(&r.id)
                .map(|n| n.to_string())
                .unwrap_or_else(|| "-".into()),
        ]);
    }
    t
}

/// `shoe list --json` item: the shoe, its derived distance and its wear state.
#[derive(Serialize)]
pub struct ShoeJson<'a> {
    #[serde(flatten)]
    pub usage: &'a ShoeUsage,
    /// `ok`, `check_wear`, `replace` or `retired`.
    pub status: ShoeWear,
}

impl<'a> ShoeJson<'a> {
    pub fn new(usage: &'a ShoeUsage) -> Self {
        ShoeJson {
            usage,
            status: usage.wear(),
        }
    }
}

/// What a shoe's state means for the runner right now, in words.
pub fn shoe_status(s: &ShoeUsage) -> String {
    let state = match s.wear() {
        ShoeWear::Retired => return "retired".to_string(),
        ShoeWear::Replace => Some("REPLACE: past its replacement distance"),
        ShoeWear::CheckWear => Some("check wear"),
        ShoeWear::Ok => None,
    };
    s.shoe
        .is_default
        .then_some("default")
        .into_iter()
        .chain(state)
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn shoes_table(shoes: &[ShoeUsage], units: Units) -> Table {
    let mut t = table(
        &[
            "ID",
            "Name",
            "Brand",
            "Distance",
            "Runs",
            "Wear check",
            "Replace at",
            "Status",
        ],
        &[3, 4, 5, 6],
    );
    for s in shoes {
        t.add_row(vec![
            short_id(s.shoe.id),
            s.shoe.name.clone(),
            opt(s.shoe.brand.as_deref()),
            format_distance(s.distance_m, units),
            s.run_count.to_string(),
            format_distance(s.shoe.wear_at_m, units),
            format_distance(s.shoe.replace_at_m, units),
            shoe_status(s),
        ]);
    }
    t
}

pub fn profile_lines(p: &Profile) -> Vec<(String, String)> {
    let target = match p.cadence_target {
        CadenceTarget::Auto { increase_pct } => {
            format!("auto (your baseline + {increase_pct}%)")
        }
        CadenceTarget::Fixed { spm } => format!("{spm} steps/min"),
    };
    vec![
        ("Units".into(), p.units.to_string()),
        ("Time zone".into(), p.time_zone.clone()),
        ("Target cadence".into(), target),
        (
            "Resting HR".into(),
            opt(p.resting_hr_bpm.map(|h| format!("{h} bpm"))),
        ),
        (
            "Max HR".into(),
            opt(p.max_hr_bpm.map(|h| format!("{h} bpm"))),
        ),
        (
            "Height".into(),
            opt(p.height_m.map(|h| format!("{h:.2} m"))),
        ),
        ("Thresholds".into(), changed_thresholds(p)),
    ]
}

/// The thresholds that differ from domain.md's defaults, or a note that none do.
fn changed_thresholds(p: &Profile) -> String {
    let (now, defaults) = (
        serde_json::to_value(&p.thresholds).unwrap_or_default(),
        serde_json::to_value(strideguard_core::analysis::Thresholds::default()).unwrap_or_default(),
    );
    let changed: Vec<String> = now
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, v)| defaults.get(k.as_str()) != Some(*v))
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    if changed.is_empty() {
        "domain.md's defaults".into()
    } else {
        changed.join(", ")
    }
}

pub fn print_pairs(pairs: &[(String, String)]) {
    let width = pairs
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    for (k, v) in pairs {
        println!("{k:<width$}  {v}");
    }
}
