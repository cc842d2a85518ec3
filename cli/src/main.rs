//! `strideguard`: the runner's command line. A thin adapter: it parses arguments, opens the
//! store, calls into `strideguard-core` and prints tables or JSON.

mod args;
mod demo;
mod html;
mod import_cmd;
mod live_cmd;
mod output;
mod pain_cmd;
mod profile_cmd;
mod report_cmd;
mod run_cmd;
mod shoe_cmd;
mod sync_cmd;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;
use strideguard_core::Store;
use strideguard_core::units::parse_time_zone;

use crate::args::{Cli, Command};

fn main() -> ExitCode {
    restore_sigpipe();
    let cli = Cli::parse();
    match dispatch(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Rust ignores SIGPIPE, so `strideguard run list | head` would panic on the closed pipe. A
/// command-line tool should end quietly instead, as `ls | head` does.
fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called first thing in main, before any thread exists; SIG_DFL is a valid handler.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn dispatch(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Demo(a) => demo::run(a),
        Command::Serve(a) => sync_cmd::serve(&a),
        Command::Account(c) => sync_cmd::account(&mut open_store(cli.db)?, c),
        Command::Sync { json } => sync_cmd::sync(&mut open_store(cli.db)?, json),
        Command::Device(c) => sync_cmd::device(&open_store(cli.db)?, c),
        Command::Import(a) => import_cmd::run(&mut open_store(cli.db)?, a),
        Command::Pain(c) => pain_cmd::pain(&mut open_store(cli.db)?, c),
        Command::Triage(a) => pain_cmd::triage_cmd(&db_path(cli.db)?, a),
        Command::Plan(c) => pain_cmd::plan_cmd(&mut open_store(cli.db)?, c),
        Command::Scan { json, seconds } => live_cmd::scan(json, seconds),
        Command::Live(a) => {
            let db = db_path(cli.db)?;
            live_cmd::run(&mut open_or_create(&db)?, &db, a)
        }
        Command::Report(a) => report_cmd::run(&open_store(cli.db)?, &a),
        Command::Run(c) => run_cmd::run(&mut open_store(cli.db)?, c),
        Command::Shoe(c) => shoe_cmd::run(&mut open_store(cli.db)?, c),
        Command::Profile(c) => profile_cmd::run(&mut open_store(cli.db)?, c),
    }
}

/// Where the database lives when neither `--db` nor `STRIDEGUARD_DB` says.
pub fn default_db_path() -> Result<PathBuf> {
    let base = dirs::data_dir().context(
        "cannot find a data directory for this user (is HOME set?); pass --db PATH or set STRIDEGUARD_DB",
    )?;
    Ok(base.join("strideguard").join("strideguard.db"))
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
    let mut store = Store::open(path)?;
    if is_new
        && let Ok(tz) = iana_time_zone::get_timezone()
        && parse_time_zone(&tz).is_ok()
    {
        store.set_default_time_zone(&tz)?;
    }
    Ok(store)
}
