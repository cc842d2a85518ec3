//! `strideguard scan` and `strideguard live`: notifications (from sensors over BLE, simulated or
//! replayed) through the sensor bridge into core's live session, cues on the terminal, and the
//! session saved as a run at the end.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use serde::Serialize;
use strideguard_core::Store;
use strideguard_core::coach::{CoachConfig, Cue, CueKind, Reading};
use strideguard_core::live::{LiveSession, LiveSummary};
use strideguard_core::ranges::{SCAN_SECONDS, TARGET_CADENCE_SPM};
use strideguard_core::units::{format_distance, format_duration, format_pace};
use strideguard_sensor::ble::{self, Backoff};
use strideguard_sensor::replay::{format_replay, parse_replay};
use strideguard_sensor::simulate::{Scenario, simulate};
use strideguard_sensor::{
    Bridge, BridgeEvent, CadenceUnit, Notification, PacketStats, SessionItem,
};

use crate::interrupt;
use crate::output::{OutputArgs, print_json, table};
use crate::values;

#[derive(Debug, Args)]
pub struct ScanArgs {
    #[command(flatten)]
    pub out: OutputArgs,
    /// How long to listen, in seconds.
    #[arg(long, default_value_t = 5, value_parser = values::in_range(SCAN_SECONDS))]
    pub seconds: u64,
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
    #[arg(long, value_parser = scenario)]
    pub simulate: Option<Scenario>,
    /// Replay recorded notifications: one a line, `<seconds> <2a37|2a53|2a19> <hex bytes>`.
    #[arg(long, value_name = "FILE")]
    pub replay: Option<PathBuf>,
    /// Play at the speed it happened (default: as fast as possible).
    #[arg(long)]
    pub realtime: bool,
    /// Target cadence in steps/min (default: the profile's target).
    #[arg(long, value_parser = values::in_range(TARGET_CADENCE_SPM))]
    pub target: Option<f64>,
    /// What the footpod's cadence counts: auto, steps (both feet) or strides (one foot).
    #[arg(long, default_value = "auto", value_parser = cadence_unit)]
    pub cadence_unit: UnitChoice,
    /// Also write the notifications to FILE in the replay format.
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
    /// Ring the terminal bell with every spoken cue.
    #[arg(long)]
    pub beep: bool,
    /// Print every reading, cue and event as one JSON line.
    #[command(flatten)]
    pub out: OutputArgs,
}

/// The footpod's cadence unit as the runner chose it; `None` detects it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnitChoice(pub Option<CadenceUnit>);

fn cadence_unit(s: &str) -> Result<UnitChoice, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "auto" => Ok(UnitChoice(None)),
        "steps" => Ok(UnitChoice(Some(CadenceUnit::Steps))),
        "strides" => Ok(UnitChoice(Some(CadenceUnit::Strides))),
        _ => Err(format!("'{s}' is not auto, steps or strides")),
    }
}

fn scenario(s: &str) -> Result<Scenario, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "steady" => Ok(Scenario::Steady),
        "low-cadence" | "low_cadence" => Ok(Scenario::LowCadence),
        "dropout" => Ok(Scenario::Dropout),
        _ => Err(format!("'{s}' is not steady, low-cadence or dropout")),
    }
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Line<'a> {
    Reading(&'a Reading),
    Cue(&'a Cue),
    Event(&'a BridgeEvent),
}

/// The `summary` of `live --json`: core's summary and the packets the bridge read.
#[derive(Serialize)]
pub struct SummaryJson<'a> {
    #[serde(flatten)]
    pub summary: &'a LiveSummary,
    pub packets: PacketStats,
}

/// How a session shows itself as it runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Display {
    /// Wait for each notification's time; show the live status line on a terminal.
    pub realtime: bool,
    pub json: bool,
    pub beep: bool,
}

/// Sensors remembered between sessions, beside the database: the last footpod used and the
/// cadence unit learnt for each sensor.
#[derive(Debug, Default, Serialize, serde::Deserialize)]
struct Remembered {
    last_device: Option<String>,
    #[serde(default)]
    units: std::collections::BTreeMap<String, CadenceUnit>,
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
pub fn scan(a: &ScanArgs) -> Result<()> {
    let rt = tokio::runtime::Runtime::new()?;
    if !a.out.json {
        println!(
            "Scanning for {} s for heart-rate straps and footpods...",
            a.seconds
        );
    }
    let devices = rt.block_on(ble::scan(Duration::from_secs(a.seconds)))?;
    if a.out.json {
        return print_json(&devices);
    }
    if devices.is_empty() {
        println!("Nothing found. Is the sensor awake (footpods wake when you move them)?");
        return Ok(());
    }
    let mut t = table(&["Name", "Address", "RSSI", "Services"], &[2]);
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
    let target = store.coach_target(a.target)?;
    let mut remembered = load_remembered(db);
    let mut display = Display {
        realtime: a.realtime,
        json: a.out.json,
        beep: a.beep,
    };
    let say = |device: &str| {
        if !a.out.json {
            println!(
                "Live coaching from {device}, target {:.0} steps/min ({}).",
                target.spm,
                target.source.describe()
            );
        }
    };
    // Ctrl-C ends the session (and saves it) instead of killing the process.
    interrupt::catch();
    let session = LiveSession::new(CoachConfig::new(target.spm));
    let (device, driven) = match (&a.simulate, &a.replay) {
        (Some(s), _) => {
            let device = format!("simulated runner ({})", s.as_str());
            say(&device);
            let input = from_notifications(simulate(*s, target.spm));
            (
                device,
                drive(session, Bridge::new(a.cadence_unit.0), input, &display)?,
            )
        }
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let replay = parse_replay(&text)
                .with_context(|| format!("{} is not a notification recording", path.display()))?;
            let device = replay.device.unwrap_or_else(|| path.display().to_string());
            say(&device);
            let input = from_notifications(replay.notifications);
            (
                device,
                drive(session, Bridge::new(a.cadence_unit.0), input, &display)?,
            )
        }
        (None, None) => {
            let Some(device) = a.device.clone().or_else(|| remembered.last_device.clone()) else {
                bail!(
                    "no sensor given: use --device NAME|ADDR (see `strideguard scan`), or --simulate or --replay"
                );
            };
            let unit = a
                .cadence_unit
                .0
                .or_else(|| remembered.units.get(&device).copied());
            // Sensors run in real time: show the live status line on a terminal.
            display.realtime = true;
            say(&device);
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
                if interrupt::requested() {
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
            let driven = drive(session, Bridge::new(unit), input, &display)?;
            stop.store(true, Ordering::SeqCst);
            remembered.last_device = Some(device.clone());
            if let Some(u) = driven.unit {
                remembered.units.insert(device.clone(), u);
            }
            save_remembered(db, &remembered)?;
            (device, driven)
        }
    };
    if let Some(path) = &a.record {
        std::fs::write(path, format_replay(Some(&device), &driven.notifications))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let mut summary = driven.session.summary();
    summary.run_id = store
        .save_live_session(&driven.session, None, None)?
        .map(|r| r.id);
    if a.out.json {
        let line = serde_json::json!({"type": "summary", "summary": SummaryJson {
            summary: &summary,
            packets: driven.packets,
        }});
        println!("{}", serde_json::to_string(&line)?);
    } else {
        print_summary(store, &summary, &driven.packets)?;
    }
    Ok(())
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

/// A session driven to its end, with what the bridge saw.
pub struct Driven {
    pub session: LiveSession,
    /// Every notification, for `--record`.
    pub notifications: Vec<Notification>,
    /// The footpod's cadence unit, once known (to remember for the sensor).
    pub unit: Option<CadenceUnit>,
    pub packets: PacketStats,
}

fn cue_line(c: &Cue, beep: bool) -> String {
    format!(
        "[{}] {}{}{}",
        format_duration(c.t_s),
        c.kind.text(),
        c.current_spm
            .map(|s| format!(" ({s:.0} -> {:.0} steps/min)", c.target_spm))
            .unwrap_or_default(),
        if beep { "\x07" } else { "" }
    )
}

/// Runs the input through the bridge into the session, printing as it goes.
pub fn drive(
    mut session: LiveSession,
    mut bridge: Bridge,
    input: impl IntoIterator<Item = Input>,
    d: &Display,
) -> Result<Driven> {
    let started = Instant::now();
    let live_view = d.realtime && !d.json && std::io::stdout().is_terminal();
    let target = session.coach().config().target_spm;
    let mut last_cue: Option<CueKind> = None;
    let mut out = std::io::stdout().lock();
    let mut recorded = Vec::new();
    for input in input {
        if interrupt::requested() {
            break;
        }
        let n = match input {
            Input::Tick(t) => {
                for c in session.tick(t) {
                    if d.json {
                        writeln!(out, "{}", serde_json::to_string(&Line::Cue(&c))?)?;
                    } else {
                        writeln!(out, "{}", cue_line(&c, d.beep))?;
                    }
                }
                continue;
            }
            Input::Item(SessionItem::Notification(n)) => n,
            Input::Item(other) => {
                if d.json {
                    writeln!(out, "{}", serde_json::to_string(&other)?)?;
                } else {
                    print_item(&mut out, other)?;
                }
                continue;
            }
        };
        recorded.push(n.clone());
        if d.realtime {
            let due = started + Duration::from_secs_f64(n.t_s);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
        let mut cues = session.tick(n.t_s);
        let (reading, events) = bridge.handle(&n);
        for e in &events {
            if d.json {
                writeln!(out, "{}", serde_json::to_string(&Line::Event(e))?)?;
            } else {
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
            if d.json {
                writeln!(out, "{}", serde_json::to_string(&Line::Reading(&r))?)?;
            }
            cues.extend(session.feed(r));
            if live_view {
                let pace = r
                    .speed_mps
                    .map(|v| format_pace(v, 1.0, strideguard_core::Units::Km))
                    .unwrap_or_default();
                write!(
                    out,
                    "\r{}  cadence {:>3.0} / {:.0}  HR {:>3}  {:.1} m/s ({pace})  {}  last: {:<12}",
                    format_duration(n.t_s),
                    session.coach().smoothed_spm().unwrap_or(0.0),
                    target,
                    r.hr_bpm
                        .map(|h| h.to_string())
                        .unwrap_or_else(|| "-".into()),
                    r.speed_mps.unwrap_or(0.0),
                    format_distance(session.coach().distance_m(), strideguard_core::Units::Km),
                    last_cue.map(|c| c.as_str()).unwrap_or("-"),
                )?;
                out.flush()?;
            }
        }
        for c in &cues {
            last_cue = Some(c.kind);
            if d.json {
                writeln!(out, "{}", serde_json::to_string(&Line::Cue(c))?)?;
            } else {
                if live_view {
                    writeln!(out)?;
                }
                writeln!(out, "{}", cue_line(c, d.beep))?;
            }
        }
    }
    if live_view {
        writeln!(out)?;
    }
    Ok(Driven {
        session,
        notifications: recorded,
        unit: bridge.unit(),
        packets: bridge.stats,
    })
}

fn print_item(out: &mut impl Write, item: SessionItem) -> Result<()> {
    match item {
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
    Ok(())
}

pub fn print_summary(store: &Store, s: &LiveSummary, packets: &PacketStats) -> Result<()> {
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
    if packets.bad > 0 {
        println!("{} bad packets were skipped.", packets.bad);
    }
    if s.rejected_readings > 0 {
        println!(
            "{} readings were dropped as not believable (a glitching sensor).",
            s.rejected_readings
        );
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
