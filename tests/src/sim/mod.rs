//! A seeded, in-process simulation of many devices syncing through one server, with faults.
//! `tests/tests/simulation.rs` runs it over many seeds and explains the design; this module is
//! the machinery:
//!
//! - [`rng`]: the one seeded random stream everything is drawn from;
//! - [`net`]: the real server's router and storage without a socket, the faulty network in
//!   front of it, and the oracle of what the server acknowledged;
//! - [`model`]: what a device shows, and the reference model that predicts it;
//! - here: the devices (each the real store in its own SQLite file, with its own clock), the
//!   edits they make through the store's API, the steps of a run and the final convergence.

pub mod model;
pub mod net;
pub mod rng;

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use strideguard_core::cancel::Cancel;
use strideguard_core::clock::ManualClock;
use strideguard_core::crypto::{DataKey, KdfParams};
use strideguard_core::hlc::Stamp;
use strideguard_core::model::{CadenceTarget, Run, RunKind, RunSource, Sample, Shoe, Units};
use strideguard_core::plan::{PlanFor, exercises_for};
use strideguard_core::store::{ChangeOp, PainEntry, RunEdit, ShoeChoice, ShoeEdit, StoreAccess};
use strideguard_core::sync::account::{login, register};
use strideguard_core::sync::http::HttpClient;
use strideguard_core::sync::{Engine, SyncError, SyncEvent, SyncSummary, TransportError};
use strideguard_core::triage::Answers;
use strideguard_core::{Store, StoreError};
use strideguard_server::ServerConfig;
use uuid::Uuid;

use model::{Col, Model};
use net::{Link, Net, Oracle, Server};
use rng::Rng;

/// A temporary folder for a database. On Linux in `/dev/shm` when there is one: the stores
/// sync every commit to disk (`synchronous=FULL`), which on a disk costs far more than the
/// simulation itself, and a crash here is simulated by copying files, not by losing the page
/// cache. `STRIDEGUARD_SIM_TMP` chooses another folder.
pub fn temp_dir() -> tempfile::TempDir {
    let base = std::env::var_os("STRIDEGUARD_SIM_TMP")
        .map(PathBuf::from)
        .or_else(|| {
            let shm = std::path::Path::new("/dev/shm");
            shm.is_dir().then(|| shm.to_path_buf())
        })
        .unwrap_or_else(std::env::temp_dir);
    tempfile::Builder::new()
        .prefix("strideguard-sim-")
        .tempdir_in(base)
        .expect("a temporary folder")
}

/// When the simulated world starts (2026-05-28).
pub const T0: i64 = 1_780_000_000_000;
const PASS: &str = "correct horse battery staple";
/// Few PBKDF2 iterations: keys derive in microseconds.
const FAST: KdfParams = KdfParams { iterations: 1_000 };

/// The server's configuration: the protocol's limits, except small batches and pages so that
/// a sync takes many requests (and a fault can fall between any two), and no request limit.
pub fn config() -> ServerConfig {
    let mut c = ServerConfig::default();
    c.limits.min_kdf_iterations = FAST.iterations;
    c.limits.batch_records = 5;
    c.limits.page_records = 7;
    c.limits.requests_per_minute_per_user = 1_000_000;
    c
}

/// How long a run is and how hard it pushes.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Steps with faults before each convergence.
    pub steps: usize,
    /// Rounds of (faulty steps, convergence).
    pub epochs: usize,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            steps: 40,
            epochs: 2,
        }
    }
}

/// What a run did, for the summary line.
#[derive(Debug, Default)]
pub struct Outcome {
    pub devices: usize,
    pub steps: usize,
    pub syncs: usize,
    pub failed_syncs: usize,
    pub writes: usize,
    pub records: usize,
    pub faults: BTreeMap<&'static str, u64>,
}

/// A device's bookkeeping beside its store.
struct DevState {
    idx: usize,
    user: usize,
    node: Uuid,
    /// The change-log position the model has read up to.
    log_seq: i64,
    last_stamp: Stamp,
    /// The newest stamp among the records this device merged in syncs that finished.
    seen: Option<Stamp>,
    /// How fast its clock runs, in parts per thousand off.
    drift: i64,
}

struct Device {
    _dir: tempfile::TempDir,
    path: PathBuf,
    clock: Arc<ManualClock>,
    store: Store,
    st: DevState,
    key: [u8; 32],
    token: String,
}

pub struct World {
    seed: u64,
    rng: Rng,
    net: RefCell<Net>,
    devices: Vec<Device>,
    models: Vec<Model>,
    fresh: u64,
    trace: VecDeque<String>,
    /// Lines of history a failure shows (all with `STRIDEGUARD_SIM_TRACE=1`).
    trace_len: usize,
    step: usize,
    outcome: Outcome,
}

/// Errors a store flow may give for an edit that does not make sense on this device now (a
/// name taken, a retired shoe); anything else is a bug.
fn expected_refusal(e: &StoreError) -> bool {
    matches!(
        e,
        StoreError::NotFound { .. }
            | StoreError::Invalid { .. }
            | StoreError::OutOfRange(_)
            | StoreError::DuplicateShoeName(_)
            | StoreError::NotInPlan { .. }
    )
}

fn text(rng: &mut Rng, fresh: &mut u64) -> String {
    *fresh += 1;
    let words = [
        "tempo",
        "easy",
        "windy",
        "Elbe",
        "hills",
        "Mia",
        "sore calf",
        "ätsch",
        "🏃",
        "long",
    ];
    let a = rng.pick(&words).copied().unwrap_or_default();
    let b = rng.pick(&words).copied().unwrap_or_default();
    format!("{a} {b} #{fresh}")
}

fn opt(rng: &mut Rng, p: f64, lo: f64, hi: f64) -> Option<f64> {
    if rng.chance(p) {
        Some(rng.real(lo, hi))
    } else {
        None
    }
}

fn samples(rng: &mut Rng) -> Vec<Sample> {
    // Sample chunks are sealed in 64 KiB: few runs have them, or they would be most of the
    // bytes every request moves.
    let n = match rng.below(80) {
        0..=71 => 0,
        72..=78 => rng.range(1, 200) as usize,
        // More than one chunk (3,600 samples each).
        _ => rng.range(3_601, 3_700) as usize,
    };
    let mut distance = 0.0;
    (0..n)
        .map(|i| {
            distance += rng.real(1.5, 4.5);
            Sample {
                t_s: i as f64,
                hr_bpm: Some(110 + rng.below(80) as u8),
                cadence_spm: Some(rng.real(150.0, 195.0)),
                distance_m: Some(distance),
                altitude_m: opt(rng, 0.5, 0.0, 600.0),
                ..Sample::default()
            }
        })
        .collect()
}

#[derive(Debug, Clone, Copy)]
enum Op {
    AddRun,
    EditRun,
    AssignShoe,
    DeleteRun,
    AddShoe,
    EditShoe,
    DefaultShoe,
    RetireShoe,
    DeleteShoe,
    Profile,
    Pain,
    StartPlan,
    Tick,
}

/// One edit through the store's API, chosen at random: what it was and what the store said.
fn edit(s: &mut Store, rng: &mut Rng, fresh: &mut u64) -> (String, Result<(), StoreError>) {
    let op = rng.weighted(&[
        (Op::AddRun, 14),
        (Op::EditRun, 14),
        (Op::AssignShoe, 5),
        (Op::DeleteRun, 5),
        (Op::AddShoe, 5),
        (Op::EditShoe, 7),
        (Op::DefaultShoe, 4),
        (Op::RetireShoe, 2),
        (Op::DeleteShoe, 3),
        (Op::Profile, 4),
        (Op::Pain, 4),
        (Op::StartPlan, 2),
        (Op::Tick, 4),
    ]);
    let runs: Vec<Uuid> = match s.runs() {
        Ok(r) => r.iter().map(|r| r.id).collect(),
        Err(e) => return ("list runs".into(), Err(e)),
    };
    let shoes: Vec<Shoe> = match s.shoes() {
        Ok(u) => u.into_iter().map(|u| u.shoe).collect(),
        Err(e) => return ("list shoes".into(), Err(e)),
    };
    let run = rng.pick(&runs).copied();
    let shoe = rng.pick(&shoes).cloned();
    let skip = |what: &str| (format!("{what}: nothing to do"), Ok(()));
    match op {
        Op::AddRun => {
            let id = rng.uuid();
            let offset = FixedOffset::east_opt(rng.range(-48, 56) as i32 * 900).expect("an offset");
            let start = DateTime::from_timestamp_millis(T0 - rng.range(0, 90 * 86_400_000))
                .expect("a time")
                .with_timezone(&offset);
            let mut r = Run::new(
                id,
                start,
                rng.real(500.0, 42_000.0),
                rng.real(300.0, 14_000.0),
            );
            r.moving_time_s = opt(rng, 0.5, 300.0, 14_000.0);
            r.elevation_gain_m = opt(rng, 0.7, 0.0, 900.0);
            r.elevation_loss_m = opt(rng, 0.5, 0.0, 900.0);
            r.avg_hr_bpm = opt(rng, 0.6, 100.0, 180.0);
            r.max_hr_bpm = opt(rng, 0.4, 150.0, 205.0);
            r.avg_cadence_spm = opt(rng, 0.6, 150.0, 195.0);
            r.kind = *rng.pick(&RunKind::ALL).expect("kinds");
            r.rpe = rng.chance(0.5).then(|| rng.below(11) as u8);
            r.notes = rng.chance(0.5).then(|| text(rng, fresh));
            r.source = *rng
                .pick(&[
                    RunSource::Manual,
                    RunSource::Fit,
                    RunSource::Gpx,
                    RunSource::Live,
                ])
                .expect("sources");
            r.source_fingerprint = rng.chance(0.3).then(|| format!("{:016x}", rng.next_u64()));
            let samples = samples(rng);
            let choice = match (rng.below(3), &shoe) {
                (0, _) => ShoeChoice::Default,
                (1, Some(s)) => ShoeChoice::Shoe(s.id),
                _ => ShoeChoice::None,
            };
            (
                format!("add run {id} ({} samples, {choice:?})", samples.len()),
                s.add_run_on(&r, &samples, choice).map(|_| ()),
            )
        }
        Op::EditRun => {
            let Some(run) = run else {
                return skip("edit run");
            };
            let mut e = RunEdit::default();
            while e == RunEdit::default() {
                if rng.chance(0.4) {
                    e.kind = rng.pick(&RunKind::ALL).copied();
                }
                if rng.chance(0.4) {
                    e.rpe = Some(rng.chance(0.8).then(|| rng.below(11) as u8));
                }
                if rng.chance(0.5) {
                    e.notes = Some(rng.chance(0.85).then(|| text(rng, fresh)));
                }
            }
            (
                format!("edit run {run}: {e:?}"),
                s.edit_run(run, &e).map(|_| ()),
            )
        }
        Op::AssignShoe => {
            let Some(run) = run else {
                return skip("assign shoe");
            };
            let to = shoe.filter(|_| rng.chance(0.8)).map(|s| s.id);
            (
                format!("put run {run} on shoe {to:?}"),
                s.assign_shoe(run, to),
            )
        }
        Op::DeleteRun => {
            let Some(run) = run else {
                return skip("delete run");
            };
            (format!("delete run {run}"), s.delete_run(run))
        }
        Op::AddShoe => {
            *fresh += 1;
            let mut sh = Shoe::new(rng.uuid(), format!("Shoe {fresh}"));
            sh.brand = rng.chance(0.5).then(|| text(rng, fresh));
            sh.model = rng.chance(0.3).then(|| text(rng, fresh));
            sh.start_distance_m = rng.real(0.0, 300_000.0);
            sh.wear_at_m = rng.real(300_000.0, 600_000.0);
            sh.replace_at_m = sh.wear_at_m + rng.real(0.0, 400_000.0);
            sh.retired = rng.chance(0.05);
            sh.is_default = !sh.retired && rng.chance(0.3);
            (
                format!("add shoe {} (default {})", sh.id, sh.is_default),
                s.add_shoe(&sh).map(|_| ()),
            )
        }
        Op::EditShoe => {
            let Some(sh) = shoe else {
                return skip("edit shoe");
            };
            let mut e = ShoeEdit::default();
            while e == ShoeEdit::default() {
                if rng.chance(0.3) {
                    *fresh += 1;
                    e.name = Some(format!("Shoe {fresh}"));
                }
                if rng.chance(0.3) {
                    e.brand = Some(rng.chance(0.8).then(|| text(rng, fresh)));
                }
                if rng.chance(0.2) {
                    e.model = Some(rng.chance(0.8).then(|| text(rng, fresh)));
                }
                if rng.chance(0.3) {
                    e.start_distance_m = Some(rng.real(0.0, 300_000.0));
                }
                if rng.chance(0.2) {
                    e.wear_at_m = Some(rng.real(100_000.0, sh.replace_at_m));
                }
                if rng.chance(0.2) {
                    e.replace_at_m = Some(sh.wear_at_m + rng.real(0.0, 400_000.0));
                }
            }
            (
                format!("edit shoe {}: {e:?}", sh.id),
                s.edit_shoe(sh.id, &e).map(|_| ()),
            )
        }
        Op::DefaultShoe => {
            let Some(sh) = shoe else {
                return skip("default shoe");
            };
            (
                format!("make shoe {} the default", sh.id),
                s.set_default_shoe(sh.id),
            )
        }
        Op::RetireShoe => {
            let Some(sh) = shoe else {
                return skip("retire shoe");
            };
            (format!("retire shoe {}", sh.id), s.retire_shoe(sh.id))
        }
        Op::DeleteShoe => {
            let Some(sh) = shoe else {
                return skip("delete shoe");
            };
            (
                format!("delete shoe {}", sh.id),
                s.delete_shoe(sh.id).map(|_| ()),
            )
        }
        Op::Profile => {
            let mut p = match s.profile() {
                Ok(p) => p,
                Err(e) => return ("read profile".into(), Err(e)),
            };
            let before = p.clone();
            while p == before {
                match rng.below(6) {
                    0 => {
                        p.units = if p.units == Units::Km {
                            Units::Mi
                        } else {
                            Units::Km
                        }
                    }
                    1 => {
                        p.time_zone = rng
                            .pick(&["UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo"])
                            .expect("zones")
                            .to_string()
                    }
                    2 => {
                        p.cadence_target = if rng.chance(0.5) {
                            CadenceTarget::Auto {
                                increase_pct: rng.real(0.0, 20.0),
                            }
                        } else {
                            CadenceTarget::Fixed {
                                spm: rng.real(150.0, 200.0),
                            }
                        }
                    }
                    3 => p.resting_hr_bpm = rng.chance(0.8).then(|| 40 + rng.below(30) as u8),
                    4 => p.max_hr_bpm = rng.chance(0.8).then(|| 170 + rng.below(35) as u8),
                    _ => p.height_m = opt(rng, 0.8, 1.5, 2.0),
                }
            }
            (format!("set profile {p:?}"), s.set_profile(&p))
        }
        Op::Pain => {
            let location = *rng
                .pick(&["achilles", "knee_front", "shin_inner", "knee_outer"])
                .expect("locations");
            let side = *rng.pick(&["left", "right"]).expect("sides");
            let json = format!(
                r#"{{"location": "{location}", "side": "{side}", "severity": {},
                    "character": ["stiffness"], "timing": ["morning"],
                    "onset": "2026-05-06T07:00:00+01:00", "improving": false, "red_flags": {{}}}}"#,
                1 + rng.below(9)
            );
            let answers = Answers::from_json(&json).expect("the answers parse");
            let at = s.now().timestamp_millis() - rng.range(0, 3 * 3_600_000);
            let entry = PainEntry {
                id: rng.uuid(),
                logged_at: Utc.timestamp_millis_opt(at).single().expect("a time"),
                answers,
            };
            (format!("log pain {}", entry.id), s.add_pain_entry(&entry))
        }
        Op::StartPlan => {
            let p = *rng
                .pick(&[
                    PlanFor::Prevention,
                    PlanFor::AchillesTendinopathy,
                    PlanFor::PatellofemoralPain,
                    PlanFor::ItBandSyndrome,
                ])
                .expect("plans");
            let now = s.now();
            (
                format!("start plan {p:?}"),
                s.start_plan(p, now).map(|_| ()),
            )
        }
        Op::Tick => {
            let plan = match s.active_plan() {
                Ok(Some(p)) => p,
                Ok(None) => return skip("tick"),
                Err(e) => return ("read plan".into(), Err(e)),
            };
            let exercises = exercises_for(plan.plan_for);
            let e = *rng.pick(&exercises).expect("a plan has exercises");
            let day = match s.today() {
                Ok(d) => d - chrono::Days::new(rng.below(10)),
                Err(e) => return ("today".into(), Err(e)),
            };
            (
                format!("tick {} on {day} in plan {}", e.id, plan.id),
                s.tick_exercise(plan.id, day, e.id).map(|_| ()),
            )
        }
    }
}

/// Reads what the device's last edits wrote from its change log into the model: each field
/// with the value the device shows right after the edit and the stamp the store gave it.
fn record(store: &Store, st: &mut DevState, model: &mut Model) -> Result<usize, String> {
    let changes = store
        .changes_since(st.log_seq, 1_000_000)
        .map_err(|e| format!("the change log: {e}"))?;
    let who = format!("dev{}", st.idx);
    for c in &changes {
        if c.stamp.node != st.node {
            return Err(format!(
                "dev{}: change {} is stamped by node {}, not this device",
                st.idx, c.seq, c.stamp.node
            ));
        }
        if c.stamp <= st.last_stamp {
            return Err(format!(
                "dev{}: change {} is stamped {}, not after the device's previous {}",
                st.idx, c.seq, c.stamp, st.last_stamp
            ));
        }
        if let Some(seen) = st.seen
            && c.stamp <= seen
        {
            return Err(format!(
                "dev{}: change {} is stamped {}, before {} which the device had merged: \
                 the edit would lose to a write it has already seen",
                st.idx, c.seq, c.stamp, seen
            ));
        }
        st.last_stamp = c.stamp;
        st.log_seq = c.seq;
        let col = Col::from_name(&c.collection)
            .ok_or_else(|| format!("the change log names collection '{}'", c.collection))?;
        match c.op {
            ChangeOp::Delete => model.delete(&who, col, &c.record_id, c.stamp),
            ChangeOp::Put => {
                let now = model::observe_record(store, col, &c.record_id)?.ok_or_else(|| {
                    format!(
                        "dev{}: change {} wrote {} {}, which the device does not show",
                        st.idx, c.seq, c.collection, c.record_id
                    )
                })?;
                let names: Vec<String> = if c.fields.iter().any(|f| f == "*") {
                    now.keys().cloned().collect()
                } else {
                    c.fields.clone()
                };
                for f in names {
                    let v = now.get(&f).ok_or_else(|| {
                        format!("change {} names field '{f}' of {}", c.seq, c.collection)
                    })?;
                    model.put(&who, col, &c.record_id, &f, v.clone(), c.stamp);
                }
            }
        }
    }
    Ok(changes.len())
}

/// An edit, taken into the model; the line for the trace.
fn edit_and_record(
    store: &mut Store,
    st: &mut DevState,
    model: &mut Model,
    rng: &mut Rng,
    fresh: &mut u64,
) -> Result<String, String> {
    let (what, result) = edit(store, rng, fresh);
    let n = record(store, st, model)?;
    match result {
        Ok(()) => Ok(format!("dev{}: {what} ({n} changes)", st.idx)),
        Err(e) if expected_refusal(&e) => {
            if n > 0 {
                return Err(format!(
                    "dev{}: {what} was refused ({e}) yet logged {n} changes",
                    st.idx
                ));
            }
            Ok(format!("dev{}: {what}: refused: {e}", st.idx))
        }
        Err(e) => Err(format!("dev{}: {what} failed: {e}", st.idx)),
    }
}

/// A new database, migrated once per process and copied: a device starts from this file with
/// its own id written in (migrating every device's database took a tenth of the run).
fn fresh_database(path: &std::path::Path) -> Result<(), String> {
    static TEMPLATE: std::sync::OnceLock<Result<Vec<u8>, String>> = std::sync::OnceLock::new();
    let template = TEMPLATE.get_or_init(|| {
        let dir = temp_dir();
        let path = dir.path().join("template.db");
        let store = Store::open_with_clock(&path, Arc::new(ManualClock::new(T0)))
            .map_err(|e| e.to_string())?;
        // Closing the only connection checkpoints the log into the file.
        drop(store);
        std::fs::read(&path).map_err(|e| format!("reading the new database: {e}"))
    });
    let template = template.as_ref().map_err(Clone::clone)?;
    std::fs::write(path, template).map_err(|e| format!("writing the new database: {e}"))
}

fn new_device(idx: usize, user: usize, rng: &mut Rng) -> Result<Device, String> {
    let dir = temp_dir();
    let path = dir.path().join("strideguard.db");
    let clock = Arc::new(ManualClock::new(T0 + rng.range(-120_000, 120_000)));
    fresh_database(&path)?;
    // The device id orders concurrent edits (the HLC's node); drawn from the seed so a run
    // replays exactly.
    let node = rng.uuid();
    rusqlite::Connection::open(&path)
        .and_then(|c| {
            c.execute(
                "UPDATE meta SET value = ?1 WHERE key = 'device_id'",
                [node.to_string()],
            )
        })
        .map_err(|e| e.to_string())?;
    let store = Store::open_with_clock(&path, clock.clone()).map_err(|e| e.to_string())?;
    assert_eq!(store.device_id(), node);
    Ok(Device {
        _dir: dir,
        path,
        clock,
        store,
        st: DevState {
            idx,
            user,
            node,
            log_seq: 0,
            last_stamp: Stamp::ZERO,
            seen: None,
            drift: rng.range(-50, 50),
        },
        key: [0; 32],
        token: String::new(),
    })
}

impl World {
    /// Devices (5 to 7, of two accounts), some with history from before they were linked,
    /// registered and logged in with core's account flows over 127.0.0.1.
    pub fn new(seed: u64) -> Result<World, String> {
        let mut rng = Rng::new(seed);
        let server = Server::start(config(), Arc::new(ManualClock::new(T0)));
        let n = 5 + rng.below(3) as usize;
        let users = 2;
        let mut devices = Vec::new();
        let mut models: Vec<Model> = (0..users).map(|_| Model::default()).collect();
        let mut fresh = 0;
        let mut trace = VecDeque::new();
        for i in 0..n {
            let user = if i < n - 2 { 0 } else { 1 };
            let mut d = new_device(i, user, &mut rng)?;
            for _ in 0..rng.below(4) {
                let line = edit_and_record(
                    &mut d.store,
                    &mut d.st,
                    &mut models[user],
                    &mut rng,
                    &mut fresh,
                )?;
                trace.push_back(format!("before linking: {line}"));
            }
            devices.push(d);
        }
        let running = server.on_socket();
        let client = HttpClient::new(&running.url()).map_err(|e| e.to_string())?;
        let mut oracles: Vec<Option<Oracle>> = (0..users).map(|_| None).collect();
        for d in &mut devices {
            let name = format!("runner{}", d.st.user);
            let device_name = format!("device {}", d.st.idx);
            let access = RefCell::new(&mut d.store);
            let account = if oracles[d.st.user].is_none() {
                register(&access, &client, &name, PASS, FAST, &device_name)
            } else {
                login(&access, &client, &name, PASS, &device_name)
            }
            .map_err(|e| format!("dev{}: linking failed: {e}", d.st.idx))?;
            d.key = account.data_key;
            d.token = account.token.clone();
            oracles[d.st.user].get_or_insert_with(|| {
                Oracle::new(account.token.clone(), DataKey::from_bytes(account.data_key))
            });
        }
        // The client's pooled connection closes first, so the server stops at once.
        drop(client);
        running.stop();
        let oracles = oracles
            .into_iter()
            .map(|o| o.expect("every account has a device"));
        let net = Net::new(server, rng.fork(), oracles.collect());
        Ok(World {
            seed,
            rng,
            net: RefCell::new(net),
            devices,
            models,
            fresh,
            trace,
            trace_len: if std::env::var_os("STRIDEGUARD_SIM_TRACE").is_some() {
                usize::MAX
            } else {
                120
            },
            step: 0,
            outcome: Outcome {
                devices: n,
                ..Outcome::default()
            },
        })
    }

    fn note(&mut self, line: String) {
        for l in self.net.get_mut().log.drain(..) {
            self.trace.push_back(l);
        }
        self.trace.push_back(format!("[{}] {line}", self.step));
        while self.trace.len() > self.trace_len {
            self.trace.pop_front();
        }
    }

    /// The failure with the run's recent history.
    fn failure(&mut self, msg: &str) -> String {
        self.note("failed".into());
        let trace: Vec<&str> = self.trace.iter().map(String::as_str).collect();
        format!(
            "seed {} failed at step {}: {msg}\n--- the last steps ---\n{}",
            self.seed,
            self.step,
            trace.join("\n")
        )
    }

    fn check_net(&mut self) -> Result<(), String> {
        let failures = std::mem::take(&mut self.net.get_mut().failures);
        if failures.is_empty() {
            Ok(())
        } else {
            Err(failures.join("\n"))
        }
    }

    /// Syncs device `d` with the real engine over its link. With `chaos` the device also edits
    /// between the engine's steps (as an app does while a sync runs) and may be stopped midway.
    fn sync(&mut self, d: usize, chaos: bool) -> Result<Result<SyncSummary, SyncError>, String> {
        let World {
            rng,
            net,
            devices,
            models,
            fresh,
            trace,
            step,
            ..
        } = self;
        let Device {
            store,
            st,
            key,
            token,
            ..
        } = &mut devices[d];
        let model = &mut models[st.user];
        let key = DataKey::from_bytes(*key);
        net.borrow_mut().read.remove(&d);
        let mut link = Link {
            net,
            device: d,
            user: st.user,
            token: token.clone(),
        };
        let access = RefCell::new(store);
        let cancel = Cancel::new();
        let mut broken = None;
        let result = {
            let mut on_event = |_: SyncEvent| {
                if !chaos || broken.is_some() {
                    return;
                }
                if rng.chance(0.1) {
                    match access.with_store(|s| edit_and_record(s, st, model, rng, fresh)) {
                        Ok(line) => trace.push_back(format!("[{step}]   during the sync: {line}")),
                        Err(e) => broken = Some(e),
                    }
                }
                if rng.chance(0.03) {
                    trace.push_back(format!("[{step}]   the app stops the sync"));
                    cancel.cancel();
                }
            };
            Engine::new(&access, &key, &mut link).run(&mut on_event, &cancel)
        };
        if let Some(e) = broken {
            return Err(e);
        }
        if result.is_ok()
            && let Some(s) = net.borrow().read.get(&d)
        {
            st.seen = st.seen.max(Some(*s));
        }
        Ok(result)
    }

    fn local_edit(&mut self, d: usize) -> Result<(), String> {
        let World {
            rng,
            devices,
            models,
            fresh,
            ..
        } = self;
        let dev = &mut devices[d];
        let user = dev.st.user;
        let line = edit_and_record(&mut dev.store, &mut dev.st, &mut models[user], rng, fresh)?;
        self.note(line);
        Ok(())
    }

    fn faulty_sync(&mut self, d: usize) -> Result<(), String> {
        self.note(format!("dev{d} syncs"));
        let res = self.sync(d, true)?;
        self.outcome.syncs += 1;
        match res {
            Ok(s) => {
                if !s.rejected.is_empty() {
                    return Err(format!("dev{d}: records refused: {:?}", s.rejected));
                }
                self.note(format!(
                    "dev{d} synced: up {} down {} merged {} conflicts {}",
                    s.uploaded, s.downloaded, s.merged, s.conflicts_resolved
                ));
            }
            Err(
                e @ (SyncError::Transport(TransportError::Network(_) | TransportError::Protocol(_))
                | SyncError::Cancelled
                | SyncError::ConflictLoop(_)),
            ) => {
                self.outcome.failed_syncs += 1;
                self.note(format!("dev{d} sync stopped: {e}"));
            }
            Err(e) => return Err(format!("dev{d}: the sync failed: {e}")),
        }
        Ok(())
    }

    /// Every device's clock moves on, each at its own rate.
    fn tick_clocks(&mut self) {
        for d in &self.devices {
            let ms = self.rng.range(200, 4_000);
            d.clock.advance(ms + ms * d.st.drift / 1000);
        }
        self.net.get_mut().server.clock.advance(1_000);
    }

    fn one_step(&mut self) -> Result<(), String> {
        self.step += 1;
        self.outcome.steps += 1;
        self.tick_clocks();
        let d = self.rng.below(self.devices.len() as u64) as usize;
        match self.rng.below(100) {
            0..=44 => self.local_edit(d)?,
            45..=77 => self.faulty_sync(d)?,
            78..=82 => {
                let held = self.net.get_mut().held();
                self.net.get_mut().deliver_held();
                self.note(format!("the network delivers a late request ({held} held)"));
            }
            83..=86 => {
                self.net.get_mut().crash();
                self.note("the server crashed".into());
            }
            87..=92 => {
                let c = &self.devices[d].clock;
                let jump = if self.rng.chance(0.6) {
                    -self.rng.range(1, 600_000)
                } else {
                    self.rng.range(1, 6 * 3_600_000)
                };
                c.advance(jump);
                self.note(format!("dev{d}'s clock jumps {jump} ms"));
            }
            93..=95 => {
                let dev = &mut self.devices[d];
                dev.store = Store::open_with_clock(&dev.path, dev.clock.clone())
                    .map_err(|e| format!("dev{d} reopens: {e}"))?;
                if dev.store.device_id() != dev.st.node {
                    return Err(format!("dev{d} has another device id after a restart"));
                }
                self.note(format!("dev{d}'s app restarts"));
            }
            _ => self.note("nothing happens".into()),
        }
        self.check_net()?;
        if self.rng.chance(0.2) {
            // From any cursor, or (cheaper, and where the action is) from one near the end.
            let user = self.rng.below(self.models.len() as u64) as usize;
            let top = self.net.get_mut().users[user].max_seq;
            let since = if self.rng.chance(0.3) {
                self.rng.range(0, top)
            } else {
                self.rng.range((top - 20).max(0), top)
            };
            self.net.get_mut().audit(user, since, "an audit");
            self.check_net()?;
        }
        Ok(())
    }

    /// Pending records a device still cannot apply (waiting for a record they reference).
    fn stuck(&self, d: usize) -> Result<Vec<String>, String> {
        rusqlite::Connection::open_with_flags(
            &self.devices[d].path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .and_then(|c| {
            c.prepare("SELECT collection || ' ' || local_id FROM sync_records WHERE applied = 0")?
                .query_map([], |r| r.get(0))?
                .collect()
        })
        .map_err(|e| e.to_string())
    }

    /// Faults stop, the network delivers what it held, every device syncs until nothing moves;
    /// then every device must show what the reference model predicts, bit for bit.
    fn converge(&mut self) -> Result<(), String> {
        self.note("faults stop; every device syncs until quiet".into());
        self.net.get_mut().faults = false;
        while self.net.get_mut().held() > 0 {
            self.net.get_mut().deliver_held();
        }
        self.check_net()?;
        let mut quiet = false;
        for round in 0..12 {
            let mut moved = 0;
            for d in 0..self.devices.len() {
                let s = self.sync(d, false)?.map_err(|e| {
                    format!("dev{d}: a sync without faults failed (round {round}): {e}")
                })?;
                self.check_net()?;
                if !s.rejected.is_empty() {
                    return Err(format!("dev{d}: records refused: {:?}", s.rejected));
                }
                moved += s.uploaded + s.downloaded;
                self.note(format!(
                    "round {round}: dev{d} up {} down {} merged {} conflicts {}",
                    s.uploaded, s.downloaded, s.merged, s.conflicts_resolved
                ));
            }
            if moved == 0 {
                quiet = true;
                break;
            }
        }
        if !quiet {
            return Err("the devices never stopped syncing records".into());
        }
        for u in 0..self.models.len() {
            self.net.get_mut().audit(u, 0, "at quiescence");
        }
        self.check_net()?;
        for d in 0..self.devices.len() {
            let status = self.devices[d]
                .store
                .sync_status()
                .map_err(|e| e.to_string())?;
            if status.pending_changes != 0 {
                return Err(format!(
                    "dev{d}: {} changes still wait to upload after syncing until quiet",
                    status.pending_changes
                ));
            }
            let stuck = self.stuck(d)?;
            if !stuck.is_empty() {
                let u = self.devices[d].st.user;
                let mut history = String::new();
                for (id, writes) in &self.models[u].history {
                    if stuck.iter().any(|s| s.contains(id.as_str())) {
                        history += &format!("writes of {id}:\n  {}\n", writes.join("\n  "));
                    }
                }
                return Err(format!(
                    "dev{d}: merged records still wait to be applied after syncing until quiet: \
                     {stuck:?}\n{history}"
                ));
            }
        }
        for u in 0..self.models.len() {
            let want = self.models[u].expected();
            let devices: Vec<usize> = (0..self.devices.len())
                .filter(|d| self.devices[*d].st.user == u)
                .collect();
            let views = devices
                .iter()
                .map(|d| model::observe(&self.devices[*d].store))
                .collect::<Result<Vec<_>, _>>()?;
            for (i, got) in views.iter().enumerate() {
                if *got == want {
                    continue;
                }
                let diff = model::diff(&want, got, 12);
                let same: Vec<String> = devices
                    .iter()
                    .zip(&views)
                    .filter(|(_, v)| *v == got)
                    .map(|(d, _)| format!("dev{d}"))
                    .collect();
                let mut history = String::new();
                // Which shoe is the default depends on every shoe's record.
                let defaults = diff.contains(".default:");
                for (col, id) in self.models[u].records.keys() {
                    let writes = &self.models[u].history[id];
                    if diff.contains(id.as_str()) || (defaults && *col == Col::Shoes) {
                        history += &format!("writes of {id}:\n  {}\n", writes.join("\n  "));
                    }
                }
                return Err(format!(
                    "dev{} (user {u}) differs from the reference model ({} of {} devices \
                     show the same: {}):\n{diff}\n{history}",
                    devices[i],
                    same.len(),
                    devices.len(),
                    same.join(", ")
                ));
            }
        }
        self.note("converged".into());
        Ok(())
    }

    /// The whole run: `budget.epochs` times, faulty steps then convergence.
    pub fn run(mut self, budget: Budget) -> Result<Outcome, String> {
        for _ in 0..budget.epochs {
            self.net.get_mut().faults = true;
            for _ in 0..budget.steps {
                if let Err(e) = self.one_step() {
                    return Err(self.failure(&e));
                }
            }
            if let Err(e) = self.converge() {
                return Err(self.failure(&e));
            }
        }
        let net = self.net.get_mut();
        self.outcome.faults = net.counts.clone();
        self.outcome.records = net.users.iter().map(Oracle::records).sum();
        self.outcome.writes = self.models.iter().map(|m| m.writes).sum();
        Ok(self.outcome)
    }
}

/// Runs one seed; a panic anywhere in the code under test is a failure of that seed.
pub fn run_seed(seed: u64, budget: Budget) -> Result<Outcome, String> {
    let result = std::panic::catch_unwind(|| World::new(seed)?.run(budget));
    match result {
        Ok(r) => r,
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "a panic".into());
            Err(format!("seed {seed} panicked: {msg}"))
        }
    }
}
