//! `strideguard live`: notifications (simulated or replayed) through the sensor bridge into the
//! cadence coach, cues on the terminal, and the session saved as a run at the end.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, FixedOffset, Utc};
use serde::Serialize;
use strideguard_core::Store;
use strideguard_core::coach::{CadenceCoach, CoachConfig, Cue, CueKind, Reading};
use strideguard_core::model::{CadenceTarget, Run, RunKind, RunSource};
use strideguard_core::units::{format_distance, format_duration, format_pace};
use strideguard_sensor::ble::{self, Backoff, SessionItem};
use strideguard_sensor::replay::{format_replay, parse_replay};
use strideguard_sensor::simulate::simulate;
use strideguard_sensor::{Bridge, BridgeEvent, Notification, PacketStats};
use uuid::Uuid;

use crate::args::{CadenceUnitArg, LiveArgs};

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// Ctrl-C ends the session (and saves it) instead of killing the process.
fn catch_ctrl_c() {
    #[cfg(unix)]
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, on_sigint as *const () as libc::sighandler_t);
    }
}

/// The coaching target: the flag, else the profile's fixed target, else its automatic target
/// from the report, else 170.
fn target(store: &Store, flag: Option<u16>) -> Result<(f64, &'static str)> {
    if let Some(t) = flag {
        return Ok((f64::from(t), "--target"));
    }
    let profile = store.profile()?;
    if let CadenceTarget::Fixed { spm } = profile.cadence_target {
        return Ok((spm, "your fixed target"));
    }
    let today = Utc::now().with_timezone(&profile.zone()).date_naive();
    let report = store.report(today, 8, &profile.thresholds)?;
    Ok(match report.cadence.target_spm {
        Some(t) => (
            t.round(),
            "your easy-pace baseline + the profile's increase",
        ),
        None => (
            170.0,
            "a default of 170 (no baseline yet: import runs with cadence)",
        ),
    })
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Line<'a> {
    Reading(&'a Reading),
    Cue(&'a Cue),
    Event(&'a BridgeEvent),
}

/// What a session amounted to.
#[derive(Debug, Serialize)]
pub struct SessionSummary {
    pub run_id: Option<Uuid>,
    pub duration_s: f64,
    pub distance_m: f64,
    pub avg_cadence_spm: Option<f64>,
    pub target_spm: f64,
    /// Share of running readings within the tolerance band.
    pub in_band_pct: Option<f64>,
    pub cues: std::collections::BTreeMap<&'static str, u32>,
    pub packets: PacketStats,
}

pub struct SessionOptions {
    pub target_spm: f64,
    pub unit: Option<strideguard_sensor::CadenceUnit>,
    pub realtime: bool,
    pub json: bool,
    pub beep: bool,
    pub quiet: bool,
    /// The run's id and start, for reproducible sessions (the demo); default new and now.
    pub run_id: Option<Uuid>,
    pub start: Option<DateTime<FixedOffset>>,
}

/// Sensors remembered between sessions, beside the database: the last footpod used and the
/// cadence unit learnt for each sensor.
#[derive(Debug, Default, Serialize, serde::Deserialize)]
pub struct Remembered {
    pub last_device: Option<String>,
    #[serde(default)]
    pub units: std::collections::BTreeMap<String, strideguard_sensor::CadenceUnit>,
}

fn remembered_path(db: &Path) -> PathBuf {
    db.with_file_name("sensors.json")
}

fn load_remembered(db: &Path) -> Remembered {
    std::fs::read_to_string(remembered_path(db))
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default()
}

fn save_remembered(db: &Path, r: &Remembered) -> Result<()> {
    let path = remembered_path(db);
    std::fs::write(&path, serde_json::to_string_pretty(r)?)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// `strideguard scan`.
pub fn scan(json: bool, seconds: u64) -> Result<()> {
    let rt = tokio::runtime::Runtime::new()?;
    if !json {
        println!("Scanning for {seconds} s for heart-rate straps and footpods...");
    }
    let devices = rt.block_on(ble::scan(Duration::from_secs(seconds)))?;
    if json {
        return crate::output::print_json(&devices);
    }
    if devices.is_empty() {
        println!("Nothing found. Is the sensor awake (footpods wake when you move them)?");
        return Ok(());
    }
    let mut t = crate::output::table(&["Name", "Address", "RSSI", "Services"], &[2]);
    for d in &devices {
        t.add_row(vec![
            d.name.clone().unwrap_or_else(|| "-".into()),
            d.address.clone(),
            d.rssi
                .map(|r| format!("{r} dBm"))
                .unwrap_or_else(|| "-".into()),
            d.services.join(", "),
        ]);
    }
    println!("{t}");
    println!("Connect with `strideguard live --device NAME` (or the address).");
    Ok(())
}

pub fn run(store: &mut Store, db: &Path, a: LiveArgs) -> Result<()> {
    let (target_spm, why) = target(store, a.target)?;
    let mut remembered = load_remembered(db);
    let forced = match a.cadence_unit {
        CadenceUnitArg::Auto => None,
        CadenceUnitArg::Fixed(u) => Some(u),
    };
    let mut options = SessionOptions {
        target_spm,
        unit: forced,
        realtime: a.realtime,
        json: a.json,
        beep: a.beep,
        quiet: false,
        run_id: None,
        start: None,
    };
    catch_ctrl_c();
    let (device, outcome) = match (&a.simulate, &a.replay) {
        (Some(s), _) => {
            let device = format!("simulated runner ({})", s.as_str());
            say(&a, &device, target_spm, why);
            (
                device,
                session(
                    store,
                    from_notifications(simulate(*s, target_spm)),
                    &options,
                )?,
            )
        }
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let replay = parse_replay(&text)
                .with_context(|| format!("{} is not a notification recording", path.display()))?;
            let device = replay.device.unwrap_or_else(|| path.display().to_string());
            say(&a, &device, target_spm, why);
            (
                device,
                session(store, from_notifications(replay.notifications), &options)?,
            )
        }
        (None, None) => {
            let Some(device) = a.device.clone().or_else(|| remembered.last_device.clone()) else {
                bail!(
                    "no sensor given: use --device NAME|ADDR (see `strideguard scan`), or --simulate or --replay"
                );
            };
            if forced.is_none() {
                options.unit = remembered.units.get(&device).copied();
            }
            // Sensors run in real time: show the live status line on a terminal.
            options.realtime = true;
            say(&a, &device, target_spm, why);
            let rt = tokio::runtime::Runtime::new()?;
            let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
            let stop = Arc::new(AtomicBool::new(false));
            for selector in std::iter::once(device.clone()).chain(a.hr.clone()) {
                let (tx, stop) = (tx.clone(), stop.clone());
                rt.spawn(async move {
                    if let Err(e) = ble::stream(&selector, tx, stop, Backoff::default()).await {
                        eprintln!("error: {selector}: {e}");
                    }
                });
            }
            drop(tx);
            let started = Instant::now();
            let input = std::iter::from_fn(|| {
                if STOP.load(Ordering::SeqCst) {
                    stop.store(true, Ordering::SeqCst);
                    return None;
                }
                match rt.block_on(async {
                    tokio::time::timeout(Duration::from_secs(1), rx.recv()).await
                }) {
                    Ok(Some(item)) => Some(Input::Item(item)),
                    Ok(None) => None,
                    Err(_) => Some(Input::Tick(started.elapsed().as_secs_f64())),
                }
            });
            let outcome = session(store, input, &options)?;
            stop.store(true, Ordering::SeqCst);
            remembered.last_device = Some(device.clone());
            if let Some(u) = outcome.unit {
                remembered.units.insert(device.clone(), u);
            }
            save_remembered(db, &remembered)?;
            (device, outcome)
        }
    };
    if let Some(path) = &a.record {
        std::fs::write(path, format_replay(Some(&device), &outcome.notifications))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if a.json {
        println!(
            "{}",
            serde_json::to_string(
                &serde_json::json!({"type": "summary", "summary": outcome.summary})
            )?
        );
    } else {
        print_summary(store, &outcome.summary)?;
    }
    Ok(())
}

fn say(a: &LiveArgs, device: &str, target_spm: f64, why: &str) {
    if !a.json {
        println!("Live coaching from {device}, target {target_spm:.0} steps/min ({why}).");
    }
}

/// What a session consumes: items from a sensor session (or a replay), and the passing of time
/// when nothing arrives (so a dropout is noticed while it lasts).
pub enum Input {
    Item(SessionItem),
    Tick(f64),
}

/// Wraps recorded or simulated notifications as session input.
pub fn from_notifications(n: Vec<Notification>) -> impl Iterator<Item = Input> {
    n.into_iter()
        .map(|n| Input::Item(SessionItem::Notification(n)))
}

/// What a session leaves besides the run: the notifications (for `--record`) and the footpod's
/// cadence unit, once known (to remember for the sensor).
pub struct SessionOutcome {
    pub summary: SessionSummary,
    pub notifications: Vec<Notification>,
    pub unit: Option<strideguard_sensor::CadenceUnit>,
}

/// Runs the input through the bridge and the coach, prints as it goes, saves the run.
pub fn session(
    store: &mut Store,
    input: impl IntoIterator<Item = Input>,
    o: &SessionOptions,
) -> Result<SessionOutcome> {
    let mut bridge = Bridge::new(o.unit);
    let mut coach = CadenceCoach::new(CoachConfig::new(o.target_spm));
    let tolerance = coach.config().tolerance_spm;
    let started = Instant::now();
    let live_view = o.realtime && !o.json && std::io::stdout().is_terminal();
    let mut cues_by_kind = std::collections::BTreeMap::new();
    let (mut running, mut in_band) = (0u32, 0u32);
    let mut last_cue: Option<CueKind> = None;
    let mut last_t = 0.0;
    let mut out = std::io::stdout().lock();
    let mut recorded = Vec::new();
    for input in input {
        if STOP.load(Ordering::SeqCst) {
            break;
        }
        let n = match input {
            Input::Tick(t) => {
                for c in coach.tick(t) {
                    *cues_by_kind.entry(c.kind.as_str()).or_insert(0) += 1;
                    if o.json {
                        writeln!(out, "{}", serde_json::to_string(&Line::Cue(&c))?)?;
                    } else if !o.quiet {
                        writeln!(out, "[{}] {}", format_duration(c.t_s), c.kind.text())?;
                    }
                }
                continue;
            }
            Input::Item(SessionItem::Notification(n)) => n,
            Input::Item(other) => {
                if o.json {
                    writeln!(out, "{}", serde_json::to_string(&other)?)?;
                } else if !o.quiet {
                    match other {
                        SessionItem::Connected {
                            name,
                            address,
                            manufacturer,
                            model,
                        } => writeln!(
                            out,
                            "Connected to {} ({address}{}).",
                            name.unwrap_or_else(|| "the sensor".into()),
                            [manufacturer, model]
                                .into_iter()
                                .flatten()
                                .map(|s| format!(", {s}"))
                                .collect::<String>()
                        )?,
                        SessionItem::Disconnected { t_s } => writeln!(
                            out,
                            "[{}] The sensor disconnected: reconnecting...",
                            format_duration(t_s)
                        )?,
                        SessionItem::Reconnected { t_s, attempt } => writeln!(
                            out,
                            "[{}] Reconnected (attempt {attempt}).",
                            format_duration(t_s)
                        )?,
                        SessionItem::Notification(_) => {}
                    }
                }
                continue;
            }
        };
        let n = &n;
        recorded.push(n.clone());
        if o.realtime {
            let due = started + Duration::from_secs_f64(n.t_s);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
        last_t = n.t_s;
        let mut cues = coach.tick(n.t_s);
        let (reading, events) = bridge.handle(n);
        for e in &events {
            if o.json {
                writeln!(out, "{}", serde_json::to_string(&Line::Event(e))?)?;
            } else if !o.quiet {
                let text = match e {
                    BridgeEvent::CadenceUnit { unit } => {
                        format!("footpod counts {}", unit.as_str())
                    }
                    BridgeEvent::BatteryLow { percent } => {
                        format!("sensor battery low: {percent}%")
                    }
                    BridgeEvent::BadPacket { reason, .. } => {
                        format!("skipped a bad packet: {reason}")
                    }
                };
                writeln!(out, "[{}] {text}", format_duration(n.t_s))?;
            }
        }
        if let Some(r) = reading {
            if o.json {
                writeln!(out, "{}", serde_json::to_string(&Line::Reading(&r))?)?;
            }
            cues.extend(coach.feed(r));
            if r.speed_mps
                .is_some_and(|v| v >= coach.config().min_running_speed_mps)
                && let Some(s) = coach.smoothed_spm()
            {
                running += 1;
                if (s - o.target_spm).abs() <= tolerance {
                    in_band += 1;
                }
            }
            if live_view {
                let pace = r
                    .speed_mps
                    .map(|v| format_pace(v, 1.0, strideguard_core::Units::Km))
                    .unwrap_or_default();
                write!(
                    out,
                    "\r{}  cadence {:>3.0} / {:.0}  HR {:>3}  {:.1} m/s ({pace})  {}  last: {:<12}",
                    format_duration(n.t_s),
                    coach.smoothed_spm().unwrap_or(0.0),
                    o.target_spm,
                    r.hr_bpm
                        .map(|h| h.to_string())
                        .unwrap_or_else(|| "-".into()),
                    r.speed_mps.unwrap_or(0.0),
                    format_distance(coach.distance_m(), strideguard_core::Units::Km),
                    last_cue.map(|c| c.as_str()).unwrap_or("-"),
                )?;
                out.flush()?;
            }
        }
        for c in &cues {
            *cues_by_kind.entry(c.kind.as_str()).or_insert(0) += 1;
            last_cue = Some(c.kind);
            if o.json {
                writeln!(out, "{}", serde_json::to_string(&Line::Cue(c))?)?;
            } else if !o.quiet {
                if live_view {
                    writeln!(out)?;
                }
                writeln!(
                    out,
                    "[{}] {}{}{}",
                    format_duration(c.t_s),
                    c.kind.text(),
                    c.current_spm
                        .map(|s| format!(" ({s:.0} -> {:.0} steps/min)", c.target_spm))
                        .unwrap_or_default(),
                    if o.beep { "\x07" } else { "" }
                )?;
            }
        }
    }
    if live_view {
        writeln!(out)?;
    }
    drop(out);

    let samples = coach.samples().to_vec();
    let cadences: Vec<f64> = samples
        .iter()
        .filter_map(|s| s.cadence_spm)
        .filter(|c| *c > 0.0)
        .collect();
    let hrs: Vec<f64> = samples
        .iter()
        .filter_map(|s| s.hr_bpm.map(f64::from))
        .collect();
    let mean = |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
    let distance = coach.distance_m();
    let mut summary = SessionSummary {
        run_id: None,
        duration_s: last_t,
        distance_m: distance,
        avg_cadence_spm: mean(&cadences),
        target_spm: o.target_spm,
        in_band_pct: (running > 0).then(|| f64::from(in_band) / f64::from(running) * 100.0),
        cues: cues_by_kind,
        packets: bridge.stats,
    };
    let outcome = |summary| SessionOutcome {
        summary,
        notifications: recorded,
        unit: bridge.unit(),
    };
    if samples.is_empty() || last_t <= 0.0 {
        return Ok(outcome(summary));
    }
    let start = o.start.unwrap_or_else(|| {
        let tz = store.profile().map(|p| p.zone()).unwrap_or(chrono_tz::UTC);
        (Utc::now() - chrono::Duration::milliseconds((last_t * 1000.0) as i64))
            .with_timezone(&tz)
            .fixed_offset()
    });
    let mut run = Run::new(
        o.run_id.unwrap_or_else(Uuid::new_v4),
        start,
        distance,
        last_t,
    );
    run.source = RunSource::Live;
    run.kind = RunKind::Unknown;
    run.avg_cadence_spm = summary.avg_cadence_spm;
    run.avg_hr_bpm = mean(&hrs);
    run.max_hr_bpm = hrs.iter().copied().reduce(f64::max);
    run.shoe_id = store.default_shoe()?.map(|s| s.id);
    run.notes = Some(format!(
        "live session; cues: {}",
        summary
            .cues
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    store.add_run(&run, &samples)?;
    summary.run_id = Some(run.id);
    Ok(outcome(summary))
}

pub fn print_summary(store: &Store, s: &SessionSummary) -> Result<()> {
    let units = store.profile()?.units;
    println!();
    println!(
        "Session: {} over {} ({}), cadence {} against a target of {:.0}{}.",
        format_distance(s.distance_m, units),
        format_duration(s.duration_s),
        format_pace(s.distance_m, s.duration_s, units),
        s.avg_cadence_spm
            .map(|c| format!("{c:.0} steps/min"))
            .unwrap_or_else(|| "unknown".into()),
        s.target_spm,
        s.in_band_pct
            .map(|p| format!(", {p:.0}% of the running time on target"))
            .unwrap_or_default()
    );
    if !s.cues.is_empty() {
        println!(
            "Cues: {}.",
            s.cues
                .iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if s.packets.bad > 0 {
        println!("{} bad packets were skipped.", s.packets.bad);
    }
    match s.run_id {
        Some(id) => println!(
            "Saved as run {} (see `strideguard run show {}`).",
            id,
            &id.to_string()[..8]
        ),
        None => println!("No readings: nothing saved."),
    }
    Ok(())
}
