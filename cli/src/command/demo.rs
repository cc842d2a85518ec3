//! `strideguard demo`: a fresh database with the synthetic runner's 16 weeks, then a tour of
//! what is in it. Later capabilities (report, live coaching, sync) add their part here, so this
//! stays the one command that shows the whole product. It calls core (and the sensor bridge and
//! the server), and prints with the same helpers as the other commands.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use chrono::{Datelike, NaiveDate, TimeZone};
use clap::Args;
use strideguard_core::Store;
use strideguard_core::cancel::Cancel;
use strideguard_core::clock::SystemClock;
use strideguard_core::coach::CoachConfig;
use strideguard_core::crypto::KdfParams;
use strideguard_core::demo::{self, LOW_CADENCE_SPM};
use strideguard_core::export;
use strideguard_core::import::Format;
use strideguard_core::live::LiveSession;
use strideguard_core::model::RunKind;
use strideguard_core::ranges::DEFAULT_REPORT_WEEKS;
use strideguard_core::store::{RunEdit, ShoeChoice, ShoeEdit};
use strideguard_core::sync::account;
use strideguard_core::sync::http::HttpClient;
use strideguard_sensor::Bridge;
use strideguard_sensor::simulate::{Scenario, simulate};
use strideguard_server::{RunningServer, ServerConfig, SqliteStorage};

use super::run::shoe_names;
use super::{import, live, report};
use crate::output::{print_pairs, profile_lines, runs_table};
use crate::values;

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
    #[arg(long, value_parser = values::day)]
    pub end: Option<NaiveDate>,
}

pub fn run(a: DemoArgs) -> Result<()> {
    let dir = match a.dir {
        Some(d) => {
            std::fs::create_dir_all(&d)
                .with_context(|| format!("cannot create the folder {}", d.display()))?;
            d
        }
        None => tempfile::Builder::new()
            .prefix("strideguard-demo-")
            .tempdir()
            .context("cannot create a temporary folder")?
            .keep(),
    };
    let path: PathBuf = dir.join("strideguard.db");
    if path.exists() {
        anyhow::bail!(
            "{} already exists; the demo only writes a fresh database (choose another --dir)",
            path.display()
        );
    }
    // The demo runner lives in Berlin: "today" is the clock's day there.
    let end = match a.end {
        Some(d) => d,
        None => chrono::DateTime::from_timestamp_millis(crate::clock()?.now_ms())
            .context("the clock is out of range")?
            .with_timezone(&chrono_tz::Europe::Berlin)
            .date_naive(),
    };
    let history = demo::history(a.seed, end);

    println!(
        "Strideguard demo: a runner's last 16 weeks (seed {}).",
        a.seed
    );
    println!("Database: {}", path.display());
    println!();
    let mut store = Store::open_with_clock(&path, crate::clock()?)?;
    store.set_profile(&history.profile)?;
    for shoe in &history.shoes {
        store.add_shoe(shoe)?;
    }
    // The last week arrives the way a runner's history does: as files from the watch. They go
    // through the importer (FIT and TCX), and the long run exported again by another app (GPX)
    // is recognised as the same activity.
    let last_monday = history
        .runs
        .last()
        .map(|(r, _)| {
            let d = r.start.date_naive();
            d - chrono::Days::new(u64::from(d.weekday().num_days_from_monday()))
        })
        .unwrap_or(end);
    let mut samples_total = 0;
    let mut from_files = Vec::new();
    for (run, samples) in &history.runs {
        samples_total += samples.len();
        if samples.is_empty() || run.start.date_naive() < last_monday {
            store.add_run(run, samples)?;
        } else {
            from_files.push((run, samples));
        }
    }
    let import_dir = dir.join("imports");
    std::fs::create_dir_all(&import_dir)
        .with_context(|| format!("cannot create the folder {}", import_dir.display()))?;
    for (i, (run, samples)) in from_files.iter().enumerate() {
        let name = format!("{}-{}", run.start.format("%Y-%m-%d"), run.kind);
        let format = if i % 2 == 0 { Format::Fit } else { Format::Tcx };
        let file = format!("{name}.{}", format.extension());
        std::fs::write(import_dir.join(file), export::write(run, samples, format))?;
        if run.kind == RunKind::Long {
            let gpx = export::write(run, samples, Format::Gpx);
            std::fs::write(import_dir.join(format!("{name}.other-app.gpx")), gpx)?;
        }
    }
    println!(
        "Importing last week's watch files from {}",
        import_dir.display()
    );
    let report = import::import(
        &mut store,
        std::slice::from_ref(&import_dir),
        ShoeChoice::Default,
        false,
    )?;
    if report.totals.failed > 0 {
        anyhow::bail!("the demo's own files failed to import");
    }
    // What the runner adds by hand after a sync from the watch: kind, effort, notes, shoe.
    for (run, _) in &from_files {
        let Some(dup) = store.find_duplicate(run)? else {
            anyhow::bail!("the imported run of {} is missing", run.start);
        };
        store.edit_run(
            dup.run_id,
            &RunEdit {
                kind: Some(run.kind),
                rpe: Some(run.rpe),
                notes: Some(run.notes.clone()),
            },
        )?;
        store.assign_shoe(dup.run_id, run.shoe_id)?;
    }
    println!();

    let profile = store.profile()?;
    let units = profile.units;
    let runs = store.runs()?;
    println!("Profile");
    print_pairs(&profile_lines(&profile));

    println!();
    println!("Most recent runs");
    let recent = &runs[runs.len().saturating_sub(10)..];
    println!(
        "{}",
        runs_table(recent, units, &shoe_names(&store)?, &store.sample_counts()?)
    );
    let with_samples = history.runs.iter().filter(|(_, s)| !s.is_empty()).count();
    let low = history
        .runs
        .iter()
        .filter(|(r, s)| {
            !s.is_empty() && r.avg_cadence_spm.is_some_and(|c| c < LOW_CADENCE_SPM + 4.0)
        })
        .count();
    println!(
        "{} runs in all; {} carry 1 Hz sample streams ({} samples), {} of them at a low cadence (about {:.0} steps/min against about 170 before).",
        runs.len(),
        with_samples,
        samples_total,
        low,
        LOW_CADENCE_SPM
    );
    println!();
    println!("The report ({} weeks as of {}):", DEFAULT_REPORT_WEEKS, end);
    println!();
    let report = report::load(&store, Some(end), DEFAULT_REPORT_WEEKS)?;
    report::print_text(&report);
    let html = dir.join("report.html");
    std::fs::write(&html, strideguard_core::html::page(&report))
        .with_context(|| format!("cannot write {}", html.display()))?;
    println!();
    println!("HTML report with charts: {}", html.display());

    // A live session on the end date: a simulated footpod through the real parsers and coach.
    println!();
    println!("A live session (simulated footpod, a runner slipping to a low cadence, target 170):");
    let start = chrono_tz::Europe::Berlin
        .from_local_datetime(&end.and_hms_opt(7, 0, 0).expect("a valid time"))
        .earliest()
        .expect("07:00 exists")
        .fixed_offset();
    let driven = live::drive(
        LiveSession::new(CoachConfig::new(170.0)),
        Bridge::new(None),
        live::from_notifications(simulate(Scenario::LowCadence, 170.0)),
        &live::Display::default(),
    )?;
    // Reproducible for the same seed and end date, in the v4 format every id has.
    let run_id = uuid::Builder::from_random_bytes(
        (u128::from(a.seed).rotate_left(64)
            ^ u128::from(end.num_days_from_ce() as u32)
            ^ 0x5EED_0000_0000_0000_1111_2222_3333_4444)
            .to_le_bytes(),
    )
    .into_uuid();
    let mut summary = driven.session.summary();
    summary.run_id = store
        .save_live_session(&driven.session, Some(run_id), Some(start))?
        .map(|r| r.id);
    live::print_summary(&store, &summary, &driven.packets)?;

    sync_two_devices(&mut store, &dir)?;

    println!();
    println!("Explore it:");
    println!("  strideguard --db {} run list", path.display());
    println!("  strideguard --db {} shoe list --json", path.display());
    println!(
        "  strideguard --db {} run show {} --samples",
        path.display(),
        &recent[recent.len() - 1].id.to_string()[..8]
    );
    println!(
        "  strideguard --db {} run list   (the phone, synced)",
        dir.join("phone.db").display()
    );
    Ok(())
}

/// Sync, shown end to end: a server on 127.0.0.1 in this process, the demo database as the
/// laptop and a second database as the phone. Each edits something offline; after syncing both
/// hold the same history, and the server held only ciphertext.
fn sync_two_devices(laptop: &mut Store, dir: &Path) -> Result<()> {
    println!();
    println!("Sync between two devices, through a server on 127.0.0.1 that cannot read the data:");
    let storage = Arc::new(SqliteStorage::open(&dir.join("server"))?);
    let server = RunningServer::start(
        "127.0.0.1:0".parse().expect("an address"),
        storage,
        ServerConfig::default(),
        Arc::new(SystemClock),
    )
    .context("cannot start the demo sync server")?;
    let client = HttpClient::new(&server.url())?;
    let passphrase = "demo: a passphrase that never leaves the device";
    let laptop = RefCell::new(laptop);
    let sync = |store: &RefCell<&mut Store>| account::sync_now(store, &mut |_| {}, &Cancel::new());
    account::register(
        &laptop,
        &client,
        "demo-runner",
        passphrase,
        KdfParams::default(),
        "laptop",
    )?;
    let up = sync(&laptop)?;
    println!(
        "  laptop: registered 'demo-runner' on {}, uploaded {} encrypted records",
        server.url(),
        up.uploaded
    );
    let mut phone_store = Store::open_with_clock(dir.join("phone.db"), crate::clock()?)?;
    let phone = RefCell::new(&mut phone_store);
    account::login(&phone, &client, "demo-runner", passphrase, "phone")?;
    let down = sync(&phone)?;
    println!(
        "  phone:  logged in, downloaded {} records, {} runs",
        down.downloaded,
        phone.borrow().runs()?.len()
    );

    // Offline, each device changes something different.
    let last = phone
        .borrow()
        .runs()?
        .into_iter()
        .max_by_key(|r| r.start)
        .context("runs")?;
    phone.borrow_mut().edit_run(
        last.id,
        &RunEdit {
            notes: Some(Some(
                "Cadence drifted late; felt fine (noted on the phone)".into(),
            )),
            rpe: Some(Some(5)),
            ..RunEdit::default()
        },
    )?;
    let shoe = laptop.borrow().default_shoe()?.context("a default shoe")?;
    laptop.borrow_mut().edit_shoe(
        shoe.id,
        &ShoeEdit {
            replace_at_m: Some(shoe.replace_at_m + 100_000.0),
            ..ShoeEdit::default()
        },
    )?;
    println!(
        "  offline: the phone adds notes and RPE to the live run; the laptop moves a shoe's replacement distance"
    );
    let p1 = sync(&phone)?;
    let l1 = sync(&laptop)?;
    let p2 = sync(&phone)?;
    println!(
        "  synced: phone up {} / laptop up {}, down {} / phone down {}",
        p1.uploaded, l1.uploaded, l1.downloaded, p2.downloaded
    );
    let (l, p) = (laptop.borrow(), phone.borrow());
    let views = |s: &Store| -> anyhow::Result<[(&'static str, serde_json::Value); 3]> {
        Ok([
            ("runs", serde_json::to_value(s.runs()?)?),
            ("shoes", serde_json::to_value(s.shoes()?)?),
            ("profile", serde_json::to_value(s.profile()?)?),
        ])
    };
    for ((what, mine), (_, theirs)) in views(&l)?.into_iter().zip(views(&p)?) {
        if mine != theirs {
            anyhow::bail!(
                "the two devices disagree after syncing; this is a bug. {}",
                first_difference(what, &mine, &theirs)
            );
        }
    }
    println!(
        "  both devices agree: {} runs, {} shoes, the same profile and notes",
        l.runs()?.len(),
        l.shoes()?.len()
    );
    server.stop();
    let bytes = std::fs::metadata(dir.join("server/server.db"))
        .map(|m| m.len())
        .unwrap_or(0)
        + std::fs::metadata(dir.join("server/server.db-wal"))
            .map(|m| m.len())
            .unwrap_or(0);
    println!(
        "  the server kept {} KiB of sealed records in {} (no dates, distances, notes or names)",
        bytes / 1024,
        dir.join("server").display()
    );
    Ok(())
}

/// Where two JSON views first differ, for the bug report: the path and both values.
fn first_difference(path: &str, laptop: &serde_json::Value, phone: &serde_json::Value) -> String {
    use serde_json::Value;
    match (laptop, phone) {
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => a
            .iter()
            .zip(b)
            .enumerate()
            .find(|(_, (x, y))| x != y)
            .map(|(i, (x, y))| first_difference(&format!("{path}[{i}]"), x, y)),
        (Value::Object(a), Value::Object(b)) => a
            .iter()
            .find(|(k, v)| b.get(*k) != Some(v))
            .map(|(k, v)| first_difference(&format!("{path}.{k}"), v, &b[k])),
        _ => None,
    }
    .unwrap_or_else(|| format!("{path}: the laptop has {laptop}, the phone {phone}"))
}
