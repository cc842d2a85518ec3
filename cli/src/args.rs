//! The command line, as clap derive types. Value parsers reuse `strideguard_core::units`, so a
//! bad distance or duration is rejected (with the reason) before the database is even opened.

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand};
use strideguard_core::model::{RunKind, Units};
use strideguard_core::triage::{
    Aggravator, AnswerError, Character, Location, RedFlag, Side, Timing,
};
use strideguard_core::units;
use strideguard_sensor::CadenceUnit;
use strideguard_sensor::simulate::Scenario;

#[derive(Debug, Parser)]
#[command(
    name = "strideguard",
    version,
    about = "Keep your knees and ankles healthy: track load, shoes and cadence.",
    long_about = "Strideguard watches your training load (\"too much, too soon\"), your shoes and your \
                  stride. Runs and shoes live in a local SQLite database.\n\n\
                  Start with `strideguard demo` to see a 16-week example history."
)]
pub struct Cli {
    /// The database file. Default: the platform data dir, e.g.
    /// ~/.local/share/strideguard/strideguard.db
    #[arg(long, global = true, env = "STRIDEGUARD_DB", value_name = "PATH")]
    pub db: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Add, list, show and delete runs.
    #[command(subcommand)]
    Run(RunCommand),
    /// Track shoes and the distance on them.
    #[command(subcommand)]
    Shoe(ShoeCommand),
    /// Units, time zone, cadence target and heart-rate range.
    #[command(subcommand)]
    Profile(ProfileCommand),
    /// Import FIT, GPX and TCX files or folders of them, skipping duplicates.
    Import(ImportArgs),
    /// Training load, the 10% and 30% rules, ACWR, shoes and cadence, with warnings.
    Report(ReportArgs),
    /// Log knee, ankle and shin pain; list the log.
    #[command(subcommand)]
    Pain(PainCommand),
    /// What your latest pain (or an answers file) most likely is, how urgent, what to do now.
    Triage(TriageArgs),
    /// Your strength and mobility plan: show it, tick exercises off.
    #[command(subcommand)]
    Plan(PlanCommand),
    /// List heart-rate straps and footpods in range.
    Scan {
        /// Print JSON (documented in the README) instead of text.
        #[arg(long)]
        json: bool,
        /// How long to listen.
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=60))]
        seconds: u64,
    },
    /// Live cadence coaching from a footpod (and HR strap), a simulated runner or a recorded
    /// stream; the session is saved as a run.
    Live(LiveArgs),
    /// Create a fresh database with a realistic 16-week history and show it.
    Demo(DemoArgs),
    /// Run the sync server: it stores and orders encrypted records it cannot read.
    Serve(strideguard_server::ServeArgs),
    /// Create, log in to or leave a sync account; change its passphrase.
    #[command(subcommand)]
    Account(AccountCommand),
    /// Sync with your account: upload this device's changes, download and merge the others'.
    Sync {
        /// Print the summary as JSON (documented in the README).
        #[arg(long)]
        json: bool,
    },
    /// Your account's devices: list them, revoke a lost one.
    #[command(subcommand)]
    Device(DeviceCommand),
}

/// Where the account lives. The passphrase is read without echo on a terminal, or from
/// STRIDEGUARD_PASSPHRASE in scripts; it never leaves this computer.
#[derive(Debug, Args)]
pub struct AccountArgs {
    /// The sync server, e.g. https://sync.example.org or http://127.0.0.1:8787.
    #[arg(long, env = "STRIDEGUARD_SERVER", value_name = "URL")]
    pub server: String,
    /// Your username (case and surrounding spaces do not matter).
    #[arg(long, env = "STRIDEGUARD_USER", value_name = "NAME")]
    pub user: String,
    /// What this device is called in `device list`. Default: the computer's host name.
    #[arg(long, value_name = "NAME")]
    pub device_name: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Create an account and link this database to it (its history is uploaded on `sync`).
    Register {
        #[command(flatten)]
        account: AccountArgs,
        /// PBKDF2 iterations for the passphrase (more is slower to guess and to log in).
        #[arg(long, default_value_t = strideguard_core::crypto::DEFAULT_ITERATIONS,
              value_parser = clap::value_parser!(u32).range(1_000..=100_000_000))]
        kdf_iterations: u32,
    },
    /// Link this database to an existing account, as a new device of it.
    Login {
        #[command(flatten)]
        account: AccountArgs,
    },
    /// End this device's session and unlink the database (your data stays here).
    Logout,
    /// Change the passphrase (old from STRIDEGUARD_PASSPHRASE, new from
    /// STRIDEGUARD_NEW_PASSPHRASE, or asked on a terminal). Records are not re-encrypted.
    Passwd {
        /// PBKDF2 iterations for the new passphrase. Default: as before.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1_000..=100_000_000))]
        kdf_iterations: Option<u32>,
    },
    /// Which account and server this database syncs with.
    Status {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum DeviceCommand {
    /// The account's devices, this one marked.
    List {
        /// Print JSON (documented in the README) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a device (by id or a unique prefix of 4+ characters): its sessions end now.
    Revoke {
        /// The device id from `device list`.
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum PainCommand {
    /// Log a pain. Flags answer the questions; on a terminal, what is missing is asked.
    Log(PainLogArgs),
    /// List the pain log, oldest first.
    List {
        /// Print JSON (documented in the README) instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct PainLogArgs {
    /// knee_front, knee_outer, knee_inner, knee_back, achilles, heel, shin_inner, shin_outer,
    /// ankle, foot, hip or other.
    #[arg(long, value_parser = parse_answer::<Location>)]
    pub location: Option<Location>,
    /// left, right or both.
    #[arg(long, value_parser = parse_answer::<Side>)]
    pub side: Option<Side>,
    /// 0 (none) to 10 (worst imaginable).
    #[arg(long, value_parser = clap::value_parser!(u8).range(0..=10))]
    pub severity: Option<u8>,
    /// dull_ache, sharp, burning, stiffness, throbbing (repeat or separate with commas).
    #[arg(long, value_delimiter = ',', value_parser = parse_answer::<Character>)]
    pub character: Vec<Character>,
    /// morning, start_of_run_eases, consistent_point_in_run, after_run, lingering, at_rest.
    #[arg(long, value_delimiter = ',', value_parser = parse_answer::<Timing>)]
    pub timing: Vec<Timing>,
    /// stairs, squatting, prolonged_sitting, downhill, uphill, hopping.
    #[arg(long = "aggravator", alias = "aggravators", value_delimiter = ',', value_parser = parse_answer::<Aggravator>)]
    pub aggravators: Vec<Aggravator>,
    /// There is visible swelling.
    #[arg(long)]
    pub swelling: bool,
    /// A red flag that applies: cannot_bear_weight, deformity, numbness_or_shooting_pain,
    /// severe_unrelenting (repeat or separate with commas).
    #[arg(long = "red-flag", value_delimiter = ',', value_parser = parse_answer::<RedFlag>)]
    pub red_flags: Vec<RedFlag>,
    /// When it started: RFC 3339, or YYYY-MM-DD[THH:MM] in the profile's time zone (default now).
    #[arg(long)]
    pub onset: Option<String>,
    /// Getting better since it started: yes, no or unknown.
    #[arg(long, value_parser = parse_yes_no)]
    pub improving: Option<Improving>,
    /// Print JSON (documented in the README) instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct TriageArgs {
    /// Check these answers (JSON, schema in the README) without logging them.
    #[arg(long, value_name = "FILE.json")]
    pub answers: Option<PathBuf>,
    /// The time to judge at: RFC 3339 or YYYY-MM-DD[THH:MM] in the profile's time zone
    /// (default now).
    #[arg(long)]
    pub now: Option<String>,
    /// Print JSON (documented in the README) instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum PlanCommand {
    /// The active plan, with today's ticks and the return-to-run rule.
    Show {
        /// Print JSON (documented in the README) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Tick an exercise off for today (or --date).
    Done {
        /// The exercise id, as `plan show` lists it (e.g. eccentric_heel_drops).
        exercise: String,
        /// The day it was done (default today).
        #[arg(long, value_parser = parse_date)]
        date: Option<NaiveDate>,
    },
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("source").args(["simulate", "replay", "device"])))]
pub struct LiveArgs {
    /// The footpod (or watch) by name or address, as `strideguard scan` lists it. Default: the
    /// one used last.
    #[arg(long, value_name = "NAME|ADDR")]
    pub device: Option<String>,
    /// A separate heart-rate strap, by name or address.
    #[arg(long, value_name = "NAME|ADDR")]
    pub hr: Option<String>,
    /// A synthetic runner: steady, low-cadence or dropout.
    #[arg(long, value_parser = parse_scenario)]
    pub simulate: Option<Scenario>,
    /// Replay recorded notifications: one a line, `<seconds> <2a37|2a53|2a19> <hex bytes>`.
    #[arg(long, value_name = "FILE")]
    pub replay: Option<PathBuf>,
    /// Play at the speed it happened (default: as fast as possible).
    #[arg(long)]
    pub realtime: bool,
    /// Target cadence in steps/min (default: the profile's target).
    #[arg(long, value_parser = clap::value_parser!(u16).range(100..=240))]
    pub target: Option<u16>,
    /// What the footpod's cadence counts: auto, steps (both feet) or strides (one foot).
    #[arg(long, default_value = "auto", value_parser = parse_cadence_unit)]
    pub cadence_unit: CadenceUnitArg,
    /// Also write the notifications to FILE in the replay format.
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
    /// Ring the terminal bell with every spoken cue.
    #[arg(long)]
    pub beep: bool,
    /// Print every reading, cue and event as one JSON line.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CadenceUnitArg {
    Auto,
    Fixed(CadenceUnit),
}

fn parse_cadence_unit(s: &str) -> Result<CadenceUnitArg, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "auto" => Ok(CadenceUnitArg::Auto),
        "steps" => Ok(CadenceUnitArg::Fixed(CadenceUnit::Steps)),
        "strides" => Ok(CadenceUnitArg::Fixed(CadenceUnit::Strides)),
        _ => Err(format!("'{s}' is not auto, steps or strides")),
    }
}

fn parse_scenario(s: &str) -> Result<Scenario, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "steady" => Ok(Scenario::Steady),
        "low-cadence" | "low_cadence" => Ok(Scenario::LowCadence),
        "dropout" => Ok(Scenario::Dropout),
        _ => Err(format!("'{s}' is not steady, low-cadence or dropout")),
    }
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// How many weeks the tables and charts cover.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=520))]
    pub weeks: u16,
    /// The day to report on (default: today in the profile's time zone).
    #[arg(long, value_parser = parse_date)]
    pub as_of: Option<NaiveDate>,
    /// Print JSON (documented in the README) instead of text.
    #[arg(long)]
    pub json: bool,
    /// Also write a self-contained HTML report with charts to FILE.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Files or folders (searched recursively for .fit, .gpx and .tcx files).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Shoe id or name for the new runs (default: the default shoe).
    #[arg(long)]
    pub shoe: Option<String>,
    /// Print JSON (documented in the README) instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum RunCommand {
    /// Record a run by hand.
    Add(RunAddArgs),
    /// List runs, oldest first.
    List {
        /// Print a JSON array (documented in the README) instead of a table.
        #[arg(long)]
        json: bool,
        /// Only the most recent N runs.
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
    },
    /// Show one run.
    Show {
        /// Run id, or a unique prefix of it (4+ characters).
        id: String,
        /// Print JSON (documented in the README) instead of text.
        #[arg(long)]
        json: bool,
        /// Include the sample stream (with --json: a `samples` array).
        #[arg(long)]
        samples: bool,
    },
    /// Change a run's kind, RPE or notes.
    Edit(RunEditArgs),
    /// Delete a run and its samples.
    Delete {
        /// Run id, or a unique prefix of it (4+ characters).
        id: String,
    },
}

#[derive(Debug, Args)]
pub struct RunAddArgs {
    /// Start date, local to the profile's time zone: YYYY-MM-DD or YYYY-MM-DDTHH:MM
    /// (a date alone means 12:00).
    #[arg(long)]
    pub date: String,
    /// Distance with its unit: 10km, 6.2mi or 10000m.
    #[arg(long, value_parser = parse_distance, allow_hyphen_values = true)]
    pub distance: f64,
    /// Elapsed time: HH:MM:SS or MM:SS.
    #[arg(long, value_parser = parse_duration)]
    pub duration: f64,
    /// easy, long, tempo, interval, hills, race or unknown.
    #[arg(long, default_value = "unknown", value_parser = parse_kind)]
    pub kind: RunKind,
    /// Session rating of perceived exertion, 0 (rest) to 10 (maximal).
    #[arg(long, value_parser = clap::value_parser!(u8).range(0..=10))]
    pub rpe: Option<u8>,
    /// Shoe id or name (default: the default shoe).
    #[arg(long)]
    pub shoe: Option<String>,
    /// Free text.
    #[arg(long)]
    pub notes: Option<String>,
    /// Average heart rate in bpm.
    #[arg(long, value_parser = clap::value_parser!(u8).range(30..=250))]
    pub avg_hr: Option<u8>,
    /// Average cadence in steps per minute (both feet).
    #[arg(long, value_parser = clap::value_parser!(u16).range(60..=260))]
    pub cadence: Option<u16>,
    /// Elevation gain, e.g. 120m.
    #[arg(long, value_parser = parse_distance, allow_hyphen_values = true)]
    pub elevation_gain: Option<f64>,
    /// Print JSON (documented in the README) instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RunEditArgs {
    /// Run id, or a unique prefix of it (4+ characters).
    pub id: String,
    /// easy, long, tempo, interval, hills, race or unknown.
    #[arg(long, value_parser = parse_kind)]
    pub kind: Option<RunKind>,
    /// Session rating of perceived exertion, 0 (rest) to 10 (maximal).
    #[arg(long, value_parser = clap::value_parser!(u8).range(0..=10), conflicts_with = "no_rpe")]
    pub rpe: Option<u8>,
    /// Remove the RPE.
    #[arg(long)]
    pub no_rpe: bool,
    /// Replace the notes (an empty string removes them).
    #[arg(long)]
    pub notes: Option<String>,
    /// Print JSON (documented in the README) instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ShoeCommand {
    /// Add a pair of shoes.
    Add(ShoeAddArgs),
    /// List shoes with their distance (start distance plus assigned runs).
    List {
        /// Print JSON (documented in the README) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Retire a shoe: it keeps its history, gets no new runs, stops being the default.
    Retire {
        /// Shoe id, id prefix or name.
        shoe: String,
    },
    /// Make a shoe the default for new runs.
    Default {
        /// Shoe id, id prefix or name.
        shoe: String,
    },
    /// Put a run on a shoe.
    Assign {
        /// Run id or unique prefix.
        run_id: String,
        /// Shoe id, id prefix or name.
        shoe: String,
    },
}

#[derive(Debug, Args)]
pub struct ShoeAddArgs {
    #[arg(long)]
    pub name: String,
    #[arg(long)]
    pub brand: Option<String>,
    #[arg(long)]
    pub model: Option<String>,
    /// Distance already on the shoe (bought used, or tracked elsewhere).
    #[arg(long, default_value = "0km", value_parser = parse_distance, allow_hyphen_values = true)]
    pub start_distance: f64,
    /// When to check the midsole for wear.
    #[arg(long, default_value = "300mi", value_parser = parse_distance, allow_hyphen_values = true)]
    pub wear_at: f64,
    /// When to replace the shoe.
    #[arg(long, default_value = "500mi", value_parser = parse_distance, allow_hyphen_values = true)]
    pub replace_at: f64,
    /// Make it the default shoe for new runs.
    #[arg(long)]
    pub default: bool,
    /// Print JSON (documented in the README) instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ProfileCommand {
    /// Show the profile.
    Show {
        /// Print JSON (documented in the README) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Change profile settings (only the ones given).
    Set(ProfileSetArgs),
}

#[derive(Debug, Args)]
pub struct ProfileSetArgs {
    /// Display units: km or mi.
    #[arg(long, value_parser = parse_units)]
    pub units: Option<Units>,
    /// IANA time zone, e.g. Europe/Berlin; weeks are counted in it.
    #[arg(long, value_parser = parse_tz)]
    pub tz: Option<String>,
    /// `auto` (your own baseline plus --cadence-increase) or a fixed number of steps/min.
    #[arg(long, value_parser = parse_target)]
    pub target_cadence: Option<TargetArg>,
    /// Percent above your baseline for the auto target (research supports 5-10).
    #[arg(long, value_name = "PCT")]
    pub cadence_increase: Option<f64>,
    /// Resting heart rate in bpm.
    #[arg(long)]
    pub resting_hr: Option<u8>,
    /// Maximum heart rate in bpm.
    #[arg(long)]
    pub max_hr: Option<u8>,
    /// Height: 178cm, 1.78m or 70in.
    #[arg(long, value_parser = parse_height)]
    pub height: Option<f64>,
    /// Change a rule's number, e.g. weekly_increase_pct=8 or small_base_m=15000 (repeatable;
    /// `profile show --json` lists them all under `thresholds`).
    #[arg(long = "threshold", value_name = "NAME=VALUE", value_parser = parse_threshold)]
    pub thresholds: Vec<(String, f64)>,
    /// Put every threshold back to domain.md's defaults.
    #[arg(long)]
    pub reset_thresholds: bool,
    /// Print JSON (documented in the README) instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TargetArg {
    Auto,
    Fixed(f64),
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Folder for the demo database (created if missing; must not already hold one).
    /// Default: a new temporary folder.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Seed of the synthetic runner: the same seed gives the same history.
    #[arg(long, default_value_t = strideguard_core::demo::DEFAULT_SEED)]
    pub seed: u64,
    /// The history covers the 16 full weeks before this date's week (default: today).
    #[arg(long, value_parser = parse_date)]
    pub end: Option<NaiveDate>,
}

fn parse_answer<T: std::str::FromStr<Err = AnswerError>>(s: &str) -> Result<T, String> {
    s.parse().map_err(|e: AnswerError| e.to_string())
}

/// The answer to "is it improving?": yes, no, or not known.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Improving(pub Option<bool>);

fn parse_yes_no(s: &str) -> Result<Improving, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "yes" | "y" | "true" => Ok(Improving(Some(true))),
        "no" | "n" | "false" => Ok(Improving(Some(false))),
        "unknown" | "not sure" | "null" => Ok(Improving(None)),
        _ => Err(format!("'{s}' is not yes, no or unknown")),
    }
}

fn parse_threshold(s: &str) -> Result<(String, f64), String> {
    let (name, value) = s
        .split_once('=')
        .ok_or_else(|| format!("'{s}' is not NAME=VALUE (e.g. weekly_increase_pct=8)"))?;
    let v: f64 = value
        .trim()
        .parse()
        .map_err(|_| format!("'{value}' is not a number"))?;
    Ok((name.trim().to_string(), v))
}

fn parse_distance(s: &str) -> Result<f64, String> {
    units::parse_distance(s).map_err(|e| e.to_string())
}

fn parse_duration(s: &str) -> Result<f64, String> {
    let d = units::parse_duration(s).map_err(|e| e.to_string())?;
    if d <= 0.0 {
        return Err(format!(
            "duration '{s}' is zero: a run lasts longer than that"
        ));
    }
    Ok(d)
}

fn parse_height(s: &str) -> Result<f64, String> {
    units::parse_height(s).map_err(|e| e.to_string())
}

fn parse_kind(s: &str) -> Result<RunKind, String> {
    s.parse()
        .map_err(|e: strideguard_core::model::UnknownName| e.to_string())
}

fn parse_units(s: &str) -> Result<Units, String> {
    s.parse()
        .map_err(|e: strideguard_core::model::UnknownName| e.to_string())
}

fn parse_tz(s: &str) -> Result<String, String> {
    units::parse_time_zone(s)
        .map(|tz| tz.name().to_string())
        .map_err(|e| e.to_string())
}

fn parse_target(s: &str) -> Result<TargetArg, String> {
    if s.eq_ignore_ascii_case("auto") {
        return Ok(TargetArg::Auto);
    }
    match s.trim().parse::<f64>() {
        Ok(v) if (100.0..=240.0).contains(&v) => Ok(TargetArg::Fixed(v)),
        Ok(v) => Err(format!("{v} steps/min is outside 100-240")),
        Err(_) => Err(format!(
            "'{s}' is neither `auto` nor a number of steps per minute"
        )),
    }
}

fn parse_date(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| format!("date '{s}' is not YYYY-MM-DD"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }
}
