//! What a runner sees on a device ([`View`], read through the store's public API), and the
//! reference model that predicts it: a plain map of every write any device of the account made,
//! merged by the rules of sync-protocol.md without any of the sync code.
//!
//! Values are kept as text: `Debug` of the typed value, with every `f64` also written as its
//! bits, so two views are equal only when every number is bit for bit the same.

use std::collections::{BTreeMap, BTreeSet};

use strideguard_core::hlc::Stamp;
use strideguard_core::model::{Profile, Run, Sample, Shoe};
use strideguard_core::store::PainEntry;
use strideguard_core::{Store, StoreError};
use uuid::Uuid;

/// A record's field values by field name (the names of the change log).
pub type Fields = BTreeMap<String, String>;

/// The synced collections, by the names of the change log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Col {
    Profile,
    Shoes,
    Runs,
    /// A run's sample stream: all its chunks are written and deleted together, so the model
    /// keeps them as one record keyed by the run (as the change log does).
    Samples,
    Pain,
    Plans,
    Ticks,
}

impl Col {
    pub fn from_name(name: &str) -> Option<Col> {
        Some(match name {
            "profile" => Col::Profile,
            "shoes" => Col::Shoes,
            "runs" => Col::Runs,
            "run_samples" => Col::Samples,
            "pain_entries" => Col::Pain,
            "plans" => Col::Plans,
            "plan_ticks" => Col::Ticks,
            _ => return None,
        })
    }
}

fn exact(v: f64) -> String {
    format!("{v:?} (bits {:016x})", v.to_bits())
}

fn opt_exact(v: Option<f64>) -> String {
    v.map_or("None".to_string(), exact)
}

fn fields<const N: usize>(pairs: [(&str, String); N]) -> Fields {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

pub fn run_fields(r: &Run) -> Fields {
    fields([
        ("start_unix_ms", r.start.timestamp_millis().to_string()),
        (
            "utc_offset_s",
            r.start.offset().local_minus_utc().to_string(),
        ),
        ("duration_s", exact(r.duration_s)),
        ("moving_time_s", opt_exact(r.moving_time_s)),
        ("distance_m", exact(r.distance_m)),
        ("elevation_gain_m", opt_exact(r.elevation_gain_m)),
        ("elevation_loss_m", opt_exact(r.elevation_loss_m)),
        ("avg_hr_bpm", opt_exact(r.avg_hr_bpm)),
        ("max_hr_bpm", opt_exact(r.max_hr_bpm)),
        ("avg_cadence_spm", opt_exact(r.avg_cadence_spm)),
        ("kind", format!("{:?}", r.kind)),
        ("rpe", format!("{:?}", r.rpe)),
        ("shoe_id", format!("{:?}", r.shoe_id)),
        ("notes", format!("{:?}", r.notes)),
        ("source", format!("{:?}", r.source)),
        ("source_fingerprint", format!("{:?}", r.source_fingerprint)),
    ])
}

pub fn shoe_fields(s: &Shoe) -> Fields {
    fields([
        ("name", format!("{:?}", s.name)),
        ("brand", format!("{:?}", s.brand)),
        ("model", format!("{:?}", s.model)),
        ("start_distance_m", exact(s.start_distance_m)),
        ("wear_at_m", exact(s.wear_at_m)),
        ("replace_at_m", exact(s.replace_at_m)),
        ("retired", format!("{:?}", s.retired)),
        ("default", format!("{:?}", s.is_default)),
    ])
}

pub fn profile_fields(p: &Profile) -> Fields {
    fields([
        ("units", format!("{:?}", p.units)),
        ("time_zone", format!("{:?}", p.time_zone)),
        // Debug of an f64 is its shortest exact form: equal text, equal bits.
        ("cadence_target", format!("{:?}", p.cadence_target)),
        ("resting_hr_bpm", format!("{:?}", p.resting_hr_bpm)),
        ("max_hr_bpm", format!("{:?}", p.max_hr_bpm)),
        ("height_m", opt_exact(p.height_m)),
        ("thresholds", format!("{:?}", p.thresholds)),
    ])
}

fn pain_fields(e: &PainEntry) -> Fields {
    fields([
        ("logged_at_ms", e.logged_at.timestamp_millis().to_string()),
        ("answers", format!("{:?}", e.answers)),
    ])
}

pub fn samples_text(samples: &[Sample]) -> String {
    format!("{} samples {samples:?}", samples.len())
}

/// Everything a runner sees, in a form to compare bit for bit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct View {
    pub profile: Fields,
    pub shoes: BTreeMap<String, Fields>,
    pub runs: BTreeMap<String, Fields>,
    /// The samples of every run shown.
    pub samples: BTreeMap<String, String>,
    pub pain: BTreeMap<String, Fields>,
    pub plans: BTreeMap<String, Fields>,
    pub active_plan: Option<String>,
    /// `plan:day:exercise`.
    pub ticks: BTreeSet<String>,
}

fn uuid_of(id: &str) -> Result<Uuid, String> {
    Uuid::parse_str(id).map_err(|e| format!("'{id}' is not a uuid: {e}"))
}

fn plans_of(store: &Store) -> Result<BTreeMap<String, Fields>, String> {
    // The store lists only the active plan; the others are read from its file directly.
    let conn = rusqlite::Connection::open_with_flags(
        store.path(),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .map_err(|e| e.to_string())?;
    let mut stmt = conn
        .prepare("SELECT id, created_at_ms, plan_for FROM plans")
        .map_err(|e| e.to_string())?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
            ))
        })
        .map_err(|e| e.to_string())?;
    let mut out = BTreeMap::new();
    for row in rows {
        let (id, created, plan_for) = row.map_err(|e| e.to_string())?;
        out.insert(
            id,
            fields([
                ("created_at_ms", created.to_string()),
                ("plan_for", plan_for),
            ]),
        );
    }
    Ok(out)
}

fn err(e: StoreError) -> String {
    format!("the store failed: {e}")
}

/// What the device shows.
pub fn observe(store: &Store) -> Result<View, String> {
    let mut v = View {
        profile: profile_fields(&store.profile().map_err(err)?),
        ..View::default()
    };
    for r in store.runs().map_err(err)? {
        v.samples.insert(
            r.id.to_string(),
            samples_text(&store.samples(r.id).map_err(err)?),
        );
        v.runs.insert(r.id.to_string(), run_fields(&r));
    }
    for u in store.shoes().map_err(err)? {
        v.shoes.insert(u.shoe.id.to_string(), shoe_fields(&u.shoe));
    }
    for e in store.pain_entries().map_err(err)? {
        v.pain.insert(e.id.to_string(), pain_fields(&e));
    }
    v.plans = plans_of(store)?;
    for id in v.plans.keys() {
        for (day, exercise) in store.plan_ticks(uuid_of(id)?).map_err(err)? {
            v.ticks.insert(format!("{id}:{day}:{exercise}"));
        }
    }
    v.active_plan = store.active_plan().map_err(err)?.map(|p| p.id.to_string());
    Ok(v)
}

/// One record as the device shows it now, or `None` when it is not there.
pub fn observe_record(store: &Store, col: Col, id: &str) -> Result<Option<Fields>, String> {
    Ok(match col {
        Col::Profile => Some(profile_fields(&store.profile().map_err(err)?)),
        Col::Shoes => store
            .shoe(uuid_of(id)?)
            .map_err(err)?
            .map(|s| shoe_fields(&s)),
        Col::Runs => store
            .run(uuid_of(id)?)
            .map_err(err)?
            .map(|r| run_fields(&r)),
        Col::Samples => {
            let run = uuid_of(id)?;
            match store.run(run).map_err(err)? {
                Some(_) => Some(fields([(
                    "samples",
                    samples_text(&store.samples(run).map_err(err)?),
                )])),
                None => None,
            }
        }
        Col::Pain => store
            .pain_entries()
            .map_err(err)?
            .iter()
            .find(|e| e.id.to_string() == id)
            .map(pain_fields),
        Col::Plans => plans_of(store)?.remove(id),
        Col::Ticks => {
            let mut parts = id.splitn(3, ':');
            let (Some(plan), Some(day), Some(exercise)) =
                (parts.next(), parts.next(), parts.next())
            else {
                return Err(format!("'{id}' is not a tick id"));
            };
            let ticked = store
                .plan_ticks(uuid_of(plan)?)
                .map_err(err)?
                .iter()
                .any(|(d, x)| d.to_string() == day && x == exercise);
            ticked.then(|| fields([("tick", "done".to_string())]))
        }
    })
}

/// One record of the model: every field's latest write and the latest delete.
#[derive(Debug, Clone, Default)]
pub struct MRecord {
    pub fields: BTreeMap<String, (String, Stamp)>,
    pub deleted: Option<Stamp>,
}

impl MRecord {
    /// Deleted only if the tombstone is later than every write (an edit after a delete brings
    /// the record back, whole).
    pub fn alive(&self) -> bool {
        match self.deleted {
            None => !self.fields.is_empty(),
            Some(d) => self.fields.values().any(|(_, s)| *s > d),
        }
    }

    fn value(&self, field: &str) -> Option<&str> {
        self.fields.get(field).map(|(v, _)| v.as_str())
    }

    fn values(&self) -> Fields {
        self.fields
            .iter()
            .map(|(k, (v, _))| (k.clone(), v.clone()))
            .collect()
    }
}

/// Every write the devices of one account made: the reference the devices must converge on.
#[derive(Debug, Default)]
pub struct Model {
    pub records: BTreeMap<(Col, String), MRecord>,
    pub writes: usize,
    /// Every write of each record, for a failure's report.
    pub history: BTreeMap<String, Vec<String>>,
}

/// A stamp in few characters: milliseconds after T0, counter, node prefix.
pub fn short(s: Stamp) -> String {
    format!(
        "{}.{}@{}",
        s.wall_ms as i64 - super::T0,
        s.counter,
        &s.node.to_string()[..4]
    )
}

impl Model {
    /// A write of `field` at `stamp`: the later stamp wins, field by field.
    pub fn put(&mut self, who: &str, col: Col, id: &str, field: &str, value: String, stamp: Stamp) {
        self.writes += 1;
        self.history
            .entry(id.to_string())
            .or_default()
            .push(format!(
                "{who}: {col:?} {field} = {} at {}",
                value.chars().take(60).collect::<String>(),
                short(stamp)
            ));
        let rec = self.records.entry((col, id.to_string())).or_default();
        match rec.fields.get(field) {
            Some((_, s)) if *s >= stamp => {}
            _ => {
                rec.fields.insert(field.to_string(), (value, stamp));
            }
        }
    }

    pub fn delete(&mut self, who: &str, col: Col, id: &str, stamp: Stamp) {
        self.writes += 1;
        self.history
            .entry(id.to_string())
            .or_default()
            .push(format!("{who}: {col:?} deleted at {}", short(stamp)));
        let rec = self.records.entry((col, id.to_string())).or_default();
        rec.deleted = Some(rec.deleted.map_or(stamp, |d| d.max(stamp)));
    }

    fn alive(&self, col: Col) -> impl Iterator<Item = (&String, &MRecord)> {
        self.records
            .iter()
            .filter(move |((c, _), r)| *c == col && r.alive())
            .map(|((_, id), r)| (id, r))
    }

    fn is_alive(&self, col: Col, id: &str) -> bool {
        self.records
            .get(&(col, id.to_string()))
            .is_some_and(MRecord::alive)
    }

    /// What every device must show once all writes reached all devices.
    pub fn expected(&self) -> View {
        let mut v = View {
            profile: profile_fields(&Profile::default()),
            ..View::default()
        };
        if let Some(p) = self.records.get(&(Col::Profile, "profile".to_string())) {
            v.profile.extend(p.values());
        }
        // One default shoe at most: the latest choice (by the stamp of its `default` field),
        // and none if that shoe is deleted or retired.
        let winner = self
            .records
            .iter()
            .filter(|((c, _), r)| *c == Col::Shoes && r.value("default") == Some("true"))
            .max_by_key(|(_, r)| r.fields["default"].1)
            .map(|((_, id), _)| id.clone());
        for (id, r) in self.alive(Col::Shoes) {
            let mut f = r.values();
            let is_default =
                winner.as_deref() == Some(id.as_str()) && r.value("retired") == Some("false");
            f.insert("default".into(), format!("{is_default:?}"));
            v.shoes.insert(id.clone(), f);
        }
        for (id, r) in self.alive(Col::Runs) {
            let mut f = r.values();
            // A run on a deleted shoe is on no shoe.
            if let Some(shoe) = f
                .get("shoe_id")
                .and_then(|s| s.strip_prefix("Some("))
                .and_then(|s| s.strip_suffix(')'))
                && !self.is_alive(Col::Shoes, shoe)
            {
                f.insert("shoe_id".into(), "None".into());
            }
            v.runs.insert(id.clone(), f);
            let samples = self
                .records
                .get(&(Col::Samples, id.clone()))
                .filter(|s| s.alive())
                .and_then(|s| s.value("samples").map(str::to_string))
                .unwrap_or_else(|| samples_text(&[]));
            v.samples.insert(id.clone(), samples);
        }
        for (id, r) in self.alive(Col::Pain) {
            v.pain.insert(id.clone(), r.values());
        }
        for (id, r) in self.alive(Col::Plans) {
            v.plans.insert(id.clone(), r.values());
        }
        // The active plan: the latest started, the smaller id on a tie.
        v.active_plan = v
            .plans
            .iter()
            .max_by(|(ia, a), (ib, b)| {
                let at = |f: &Fields| f["created_at_ms"].parse::<i64>().unwrap_or(i64::MIN);
                at(a).cmp(&at(b)).then(ib.cmp(ia))
            })
            .map(|(id, _)| id.clone());
        for (id, _) in self.alive(Col::Ticks) {
            v.ticks.insert(id.clone());
        }
        v
    }
}

fn diff_maps<T: std::fmt::Debug + PartialEq>(
    out: &mut Vec<String>,
    what: &str,
    want: &BTreeMap<String, T>,
    got: &BTreeMap<String, T>,
) {
    for (id, w) in want {
        match got.get(id) {
            None => out.push(format!("{what} {id}: missing")),
            Some(g) if g != w => out.push(format!("{what} {id}: expected {w:?}, got {g:?}")),
            _ => {}
        }
    }
    for (id, g) in got {
        if !want.contains_key(id) {
            out.push(format!("{what} {id}: not expected ({g:?})"));
        }
    }
}

fn diff_fields(out: &mut Vec<String>, what: &str, want: &Fields, got: &Fields) {
    for (k, w) in want {
        match got.get(k) {
            Some(g) if g == w => {}
            Some(g) => out.push(format!("{what}.{k}: expected {w}, got {g}")),
            None => out.push(format!("{what}.{k}: expected {w}, got nothing")),
        }
    }
}

/// The differences, one a line (at most `max`).
pub fn diff(want: &View, got: &View, max: usize) -> String {
    let mut out = Vec::new();
    diff_fields(&mut out, "profile", &want.profile, &got.profile);
    for (what, w, g) in [
        ("shoe", &want.shoes, &got.shoes),
        ("run", &want.runs, &got.runs),
        ("pain", &want.pain, &got.pain),
        ("plan", &want.plans, &got.plans),
    ] {
        for (id, wf) in w {
            match g.get(id) {
                Some(gf) => diff_fields(&mut out, &format!("{what} {id}"), wf, gf),
                None => out.push(format!("{what} {id}: missing")),
            }
        }
        for id in g.keys().filter(|id| !w.contains_key(*id)) {
            out.push(format!("{what} {id}: not expected"));
        }
    }
    let short = |m: &BTreeMap<String, String>| -> BTreeMap<String, String> {
        m.iter()
            .map(|(k, v)| (k.clone(), v.chars().take(80).collect()))
            .collect()
    };
    let (ws, gs) = (short(&want.samples), short(&got.samples));
    let mut sample_diffs = Vec::new();
    diff_maps(
        &mut sample_diffs,
        "samples of run",
        &want.samples,
        &got.samples,
    );
    if !sample_diffs.is_empty() {
        diff_maps(&mut out, "samples of run", &ws, &gs);
        if ws == gs {
            out.push("samples differ after their first 80 characters".into());
        }
    }
    if want.active_plan != got.active_plan {
        out.push(format!(
            "active plan: expected {:?}, got {:?}",
            want.active_plan, got.active_plan
        ));
    }
    for t in want.ticks.difference(&got.ticks) {
        out.push(format!("tick {t}: missing"));
    }
    for t in got.ticks.difference(&want.ticks) {
        out.push(format!("tick {t}: not expected"));
    }
    let n = out.len();
    out.truncate(max);
    if n > max {
        out.push(format!("... and {} more", n - max));
    }
    out.join("\n")
}
