//! `strideguard`: the runner's command line. A thin adapter over `strideguard-core`: each
//! command module (`command/*.rs`) owns its clap types, parses, calls core, and prints tables
//! or JSON through `output`.

// The doc comments on the clap types are the `--help` text, written for a terminal: a bare URL,
// `YYYY-MM-DD[THH:MM]` or `<start>.<format>` there is meant literally, not as rustdoc markup.
#![allow(
    rustdoc::bare_urls,
    rustdoc::broken_intra_doc_links,
    rustdoc::invalid_html_tags
)]

mod command;
mod interrupt;
mod output;
mod values;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use strideguard_core::Store;
use strideguard_core::clock::{Clock, ManualClock, SystemClock};
use strideguard_core::sync::{SyncError, TransportError};
use strideguard_core::units::parse_time_zone;

use crate::command::*;

#[derive(Debug, Parser)]
#[command(
    name = "strideguard",
    version,
    about = "Keep your knees and ankles healthy: track load, shoes and cadence.",
    long_about = "Strideguard watches your training load (\"too much, too soon\"), your shoes and your \
                  stride. Runs and shoes live in a local SQLite database.\n\n\
                  Start with `strideguard demo` to see a 16-week example history.",
    after_help = "Environment: STRIDEGUARD_DB (the database), STRIDEGUARD_NOW (act as if it were \
                  this RFC 3339 time: for reproducible scripts and tests)."
)]
struct Cli {
    /// The database file. Default: the platform data dir, e.g.
    /// ~/.local/share/strideguard/strideguard.db
    #[arg(long, global = true, env = "STRIDEGUARD_DB", value_name = "PATH")]
    db: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Add, list, show, edit, export and delete runs.
    #[command(subcommand)]
    Run(run::RunCommand),
    /// Track shoes and the distance on them.
    #[command(subcommand)]
    Shoe(shoe::ShoeCommand),
    /// Units, time zone, cadence target, heart-rate range and the rules' thresholds.
    #[command(subcommand)]
    Profile(profile::ProfileCommand),
    /// Import FIT, GPX and TCX files or folders of them, skipping duplicates.
    Import(import::ImportArgs),
    /// Write runs as FIT, GPX, TCX or CSV files into a folder.
    Export(export::ExportArgs),
    /// Training load, the 10% and 30% rules, ACWR, shoes and cadence, with warnings.
    Report(report::ReportArgs),
    /// Log knee, ankle and shin pain; list the log.
    #[command(subcommand)]
    Pain(pain::PainCommand),
    /// What your latest pain (or an answers file) most likely is, how urgent, what to do now.
    Triage(triage::TriageArgs),
    /// Your strength and mobility plan: show it, tick exercises off.
    #[command(subcommand)]
    Plan(plan::PlanCommand),
    /// List heart-rate straps and footpods in range.
    Scan(live::ScanArgs),
    /// Live cadence coaching from a footpod (and HR strap), a simulated runner or a recorded
    /// stream; the session is saved as a run.
    Live(live::LiveArgs),
    /// Create a fresh database with a realistic 16-week history and show it.
    Demo(demo::DemoArgs),
    /// Run the sync server: it stores and orders encrypted records it cannot read.
    Serve(strideguard_server::ServeArgs),
    /// Create, log in to, leave or delete a sync account; change its passphrase.
    #[command(subcommand)]
    Account(account::AccountCommand),
    /// Sync with your account: upload this device's changes, download and merge the others'.
    Sync(sync::SyncArgs),
    /// Your account's devices: list them, revoke a lost one.
    #[command(subcommand)]
    Device(sync::DeviceCommand),
}

fn main() -> ExitCode {
    restore_sigpipe();
    let cli = Cli::parse();
    match dispatch(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            if let Some(h) = hint(&e) {
                eprintln!("hint: {h}");
            }
            if e.downcast_ref::<interrupt::Interrupted>().is_some() {
                return ExitCode::from(interrupt::EXIT_CODE);
            }
            ExitCode::FAILURE
        }
    }
}

/// What to type next, for the errors whose fix is another command. Core's messages name no
/// command (the phone apps show them too); the command line adds its own.
fn hint(e: &anyhow::Error) -> Option<&'static str> {
    let sync = e.chain().find_map(|c| c.downcast_ref::<SyncError>());
    let transport = e.chain().find_map(|c| c.downcast_ref::<TransportError>());
    match (sync, transport) {
        (Some(SyncError::NotLinked), _) => Some(
            "link this database first: `strideguard account register` (a new account) or `strideguard account login`",
        ),
        (Some(SyncError::AlreadyLinked { .. }), _) => Some("`strideguard account logout` first"),
        (Some(SyncError::Transport(TransportError::Unauthorized(_))), _)
        | (_, Some(TransportError::Unauthorized(_))) => {
            Some("log in again: `strideguard account logout`, then `strideguard account login`")
        }
        (Some(SyncError::NoSuchDevice(_)), _) => Some("`strideguard device list` shows the ids"),
        (_, Some(TransportError::Rejected { code, .. })) if code == "device_limit" => Some(
            "`strideguard device list` shows the account's devices; `strideguard device revoke ID` frees a place",
        ),
        _ => None,
    }
}

/// Rust ignores SIGPIPE, so `strideguard run list | head` would panic on the closed pipe. A
/// command-line tool should end quietly instead, as `ls | head` does.
#[allow(unsafe_code)]
fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called first thing in main, before any thread exists; SIG_DFL is a valid handler.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn dispatch(cli: Cli) -> Result<()> {
    let db = cli.db;
    match cli.command {
        Command::Demo(a) => demo::run(a),
        Command::Serve(a) => {
            strideguard_server::init_logging();
            strideguard_server::run(&a)
        }
        Command::Scan(a) => live::scan(&a),
        Command::Account(c) => account::run(&mut open_store(db)?, c),
        Command::Sync(a) => sync::sync(&mut open_store(db)?, &a),
        Command::Device(c) => sync::device(&mut open_store(db)?, c),
        Command::Import(a) => import::run(&mut open_store(db)?, &a),
        Command::Export(a) => export::run(&mut open_store(db)?, &a),
        Command::Pain(c) => pain::run(&mut open_store(db)?, c),
        Command::Triage(a) => triage::run(&db_path(db)?, &a),
        Command::Plan(c) => plan::run(&mut open_store(db)?, c),
        Command::Live(a) => {
            let db = db_path(db)?;
            live::run(&mut open_or_create(&db)?, &db, a)
        }
        Command::Report(a) => report::run(&open_store(db)?, &a),
        Command::Run(c) => run::run(&mut open_store(db)?, c),
        Command::Shoe(c) => shoe::run(&mut open_store(db)?, c),
        Command::Profile(c) => profile::run(&mut open_store(db)?, c),
    }
}

/// Where the database lives when neither `--db` nor `STRIDEGUARD_DB` says.
fn default_db_path() -> Result<PathBuf> {
    let base = dirs::data_dir().context(
        "cannot find a data directory for this user (is HOME set?); pass --db PATH or set STRIDEGUARD_DB",
    )?;
    Ok(base.join("strideguard").join("strideguard.db"))
}

/// The clock every "now" and "today" comes from: the system's, or the time `STRIDEGUARD_NOW`
/// names (RFC 3339), so a script or a test can replay a day exactly.
pub fn clock() -> Result<Arc<dyn Clock>> {
    match std::env::var("STRIDEGUARD_NOW") {
        Ok(s) if !s.trim().is_empty() => {
            let t = chrono::DateTime::parse_from_rfc3339(s.trim()).with_context(|| {
                format!(
                    "STRIDEGUARD_NOW='{s}' is not an RFC 3339 time (e.g. 2026-03-14T07:30:00+01:00)"
                )
            })?;
            Ok(Arc::new(ManualClock::new(t.timestamp_millis())))
        }
        _ => Ok(Arc::new(SystemClock)),
    }
}

/// Opens the database, creating it (and its folder) on first use. A new database takes the
/// computer's time zone, so "2026-03-14T07:30" means what the runner's watch said.
fn open_store(db: Option<PathBuf>) -> Result<Store> {
    open_or_create(&db_path(db)?)
}

fn db_path(db: Option<PathBuf>) -> Result<PathBuf> {
    match db {
        Some(p) => Ok(p),
        None => default_db_path(),
    }
}

pub fn open_or_create(path: &Path) -> Result<Store> {
    if path.is_dir() {
        anyhow::bail!(
            "{} is a directory; --db takes the database file, e.g. {}",
            path.display(),
            path.join("strideguard.db").display()
        );
    }
    let is_new = !path.exists();
    if is_new && let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create the folder {}", parent.display()))?;
    }
    let mut store = Store::open_with_clock(path, clock()?)?;
    if is_new
        && let Ok(tz) = iana_time_zone::get_timezone()
        && parse_time_zone(&tz).is_ok()
    {
        store.set_default_time_zone(&tz)?;
    }
    Ok(store)
}
