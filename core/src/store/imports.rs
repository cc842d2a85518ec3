//! Importing activity files into the store: one file from its bytes, or whole exports (files,
//! folders, `.gz` files, zips with zips inside, a Strava export with its `activities.csv`) with
//! progress and cancellation.
//!
//! A batch is a pipeline. One thread walks the sources in name order (reading archives), a
//! pool of workers (one per core) inflates and parses the files, and the calling thread, the
//! only one that touches the store, saves each activity in its own transaction, in the order
//! the sources were found, so a batch imports the same way every time. At most
//! [`IN_FLIGHT_PER_WORKER`] files per worker are between the walk and the store, so memory
//! stays bounded however large the export. A broken file never leaves half a run and the rest
//! of the batch goes on.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use chrono_tz::Tz;
use serde::Serialize;
use uuid::Uuid;

use super::{DuplicateReason, ImportFailed, Imported, ShoeChoice, Store, StoreAccess, StoreError};
use crate::cancel::Cancel;
use crate::import::archive::{self, Kind, Payload};
use crate::import::strava::{self, Sport, StravaActivity, StravaIndex};
use crate::import::{self, Format, Parsed};
use crate::model::Shoe;

/// What happened to one file (the `status` of `import --json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum FileOutcome {
    Imported {
        run_id: Uuid,
        /// RFC 3339 with the runner's offset at the start.
        start: String,
        distance_m: f64,
        samples: usize,
        /// How the sport was decided, for a file that names none ("no sport in the file;
        /// judged a run from ..."). Absent when the file says it is a run.
        #[serde(skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    Duplicate {
        run_id: Uuid,
        reason: DuplicateReason,
    },
    /// A valid file without a run (another sport), or a file that is not an activity file.
    Skipped {
        reason: String,
    },
    Failed {
        reason: String,
    },
}

/// One file and what happened to it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileReport {
    pub path: PathBuf,
    #[serde(flatten)]
    pub outcome: FileOutcome,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ImportTotals {
    pub imported: usize,
    pub duplicates: usize,
    pub skipped: usize,
    pub failed: usize,
}

impl ImportTotals {
    fn add(&mut self, o: &FileOutcome) {
        match o {
            FileOutcome::Imported { .. } => self.imported += 1,
            FileOutcome::Duplicate { .. } => self.duplicates += 1,
            FileOutcome::Skipped { .. } => self.skipped += 1,
            FileOutcome::Failed { .. } => self.failed += 1,
        }
    }

    pub fn files(&self) -> usize {
        self.imported + self.duplicates + self.skipped + self.failed
    }
}

/// What a batch did (`import --json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ImportReport {
    pub files: Vec<FileReport>,
    pub totals: ImportTotals,
    /// Stopped before the end; the files listed were handled, the rest not touched.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub cancelled: bool,
    /// Where the time went (for the bench and `--verbose` tools; not part of the JSON).
    #[serde(skip)]
    pub timings: ImportTimings,
}

/// Time spent in each stage of a batch, summed over the threads that did it (so with several
/// workers the parts add up to more than the wall time).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ImportTimings {
    /// Reading files and archives (the walk, nested archives inflated to be read).
    pub read: Duration,
    /// Inflating entries and `.gz` files, on the workers.
    pub inflate: Duration,
    /// Parsing the activity files, on the workers.
    pub decode: Duration,
    /// Checking for duplicates and saving, on the writer.
    pub write: Duration,
    pub wall: Duration,
}

/// Progress after each file: how many files have been reported and how far through the bytes of
/// the sources the batch is (archives count by their size on disk, which is what a runner sees
/// and what a bar can measure before the archive is opened).
#[derive(Debug, Clone, Copy)]
pub struct ImportProgress<'a> {
    pub done: usize,
    /// The files and archives collected, or `done` when an archive held more.
    pub total: usize,
    pub bytes_done: u64,
    pub bytes_total: u64,
    pub file: &'a FileReport,
}

/// What a collected source is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// A `.fit`, `.gpx` or `.tcx` file.
    File(Format),
    /// One of them gzipped (`.fit.gz`...).
    Gzip(Format),
    /// A `.zip` (a Garmin or Strava export, or any zip of activity files).
    Zip,
}

/// A file of a Strava export folder, with the export's `activities.csv`.
#[derive(Debug, Clone)]
pub struct StravaFile {
    pub index: Arc<StravaIndex>,
    /// The file's path inside the export (`activities/123.fit.gz`).
    pub relative: String,
}

/// A file to import.
#[derive(Debug, Clone)]
pub struct Source {
    pub path: PathBuf,
    pub kind: SourceKind,
    /// Its size on disk, for progress.
    pub bytes: u64,
    /// Set when the file belongs to a Strava export folder.
    pub strava: Option<StravaFile>,
}

/// A source to import, or a file already known to be skipped or failed.
pub type Found = Result<Source, FileReport>;

/// Files in flight per worker between the walk and the store: enough to keep every core busy
/// while the writer commits, few enough that a batch holds a few dozen files in memory.
pub const IN_FLIGHT_PER_WORKER: usize = 4;

/// The sources under `paths`, in name order, folders searched recursively. A file named
/// directly that is not an activity file (`.fit`, `.gpx`, `.tcx`, each possibly `.gz`) or a
/// `.zip` is reported as skipped; inside folders such files are passed over; an unreadable
/// folder is reported as failed. A folder with an `activities.csv` is a Strava export: only its
/// `activities/` folder is read, each file with its row, and a row whose file is missing is
/// reported as failed.
pub fn collect_files(paths: &[PathBuf]) -> Vec<Found> {
    let mut out = Vec::new();
    for p in paths {
        collect(p, true, None, &mut out);
    }
    out
}

/// The Strava export a walk is inside: its index, its top folder, and the rows met so far.
struct StravaFolder {
    index: Arc<StravaIndex>,
    root: PathBuf,
}

fn collect(path: &Path, named: bool, strava: Option<&StravaFolder>, out: &mut Vec<Found>) {
    let failed = |path: &Path, reason: String| {
        Err(FileReport {
            path: path.to_path_buf(),
            outcome: FileOutcome::Failed { reason },
        })
    };
    let meta = match std::fs::metadata(path) {
        Ok(m) => Some(m),
        Err(e) if named => {
            out.push(failed(
                path,
                match e.kind() {
                    std::io::ErrorKind::NotFound => "it does not exist".into(),
                    _ => format!("cannot read it: {}", io_reason(&e)),
                },
            ));
            return;
        }
        // A broken link inside a folder: taken as a file, so reading it reports why.
        Err(_) => None,
    };
    if meta.as_ref().is_some_and(|m| m.is_dir()) {
        let entries = match std::fs::read_dir(path) {
            Ok(e) => e,
            Err(e) => {
                out.push(failed(
                    path,
                    format!("cannot read the folder: {}", io_reason(&e)),
                ));
                return;
            }
        };
        let mut children: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        children.sort();
        // A folder holding `activities.csv` is a Strava export (unless already inside one).
        let mut own = None;
        if strava.is_none()
            && let Some(csv) = children.iter().find(|c| {
                c.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.eq_ignore_ascii_case(strava::CSV_NAME))
                    && c.is_file()
            })
        {
            match read_strava_csv(csv) {
                Ok(index) => {
                    own = Some(StravaFolder {
                        index: Arc::new(index),
                        root: path.to_path_buf(),
                    })
                }
                // The files are still imported, without their names and gear.
                Err(reason) => out.push(failed(csv, reason)),
            }
        }
        let inside = own.as_ref().or(strava);
        let first = out.len();
        for child in children {
            // A link to a folder inside a folder is not walked: it may point back up (a loop)
            // or across the whole disk. Links to files are read.
            let linked_folder = std::fs::symlink_metadata(&child)
                .is_ok_and(|m| m.file_type().is_symlink())
                && child.is_dir();
            if !linked_folder {
                collect(&child, false, inside, out);
            }
        }
        if let Some(folder) = &own {
            let mut found: HashSet<String> = out[first..]
                .iter()
                .filter_map(|f| f.as_ref().ok())
                .filter_map(|s| s.strava.as_ref())
                .map(|s| relative_key(&s.relative))
                .collect();
            for row in folder.index.rows() {
                // `insert` is false for a file already found (or a row naming it again).
                if found.insert(relative_key(&row.filename)) {
                    out.push(failed(
                        &folder.root.join(&row.filename),
                        missing_reason(row),
                    ));
                }
            }
        }
        return;
    }
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let strava_file = strava.and_then(|f| {
        let relative = path
            .strip_prefix(&f.root)
            .ok()?
            .to_str()?
            .replace('\\', "/");
        Some(StravaFile {
            index: f.index.clone(),
            relative,
        })
    });
    // Inside a Strava export only its activities are read: `routes/` holds GPX routes, not
    // runs.
    if let Some(s) = &strava_file
        && !strava::in_activities_folder(&s.relative)
    {
        return;
    }
    let kind = match Kind::of_name(name) {
        Some(Kind::Activity(f)) => SourceKind::File(f),
        Some(Kind::Gzip(f)) => SourceKind::Gzip(f),
        Some(Kind::Zip) => SourceKind::Zip,
        None => {
            if named {
                out.push(Err(FileReport {
                    path: path.to_path_buf(),
                    outcome: FileOutcome::Skipped {
                        reason: ImportFailed::NotAnActivityFile.to_string(),
                    },
                }));
            }
            return;
        }
    };
    out.push(Ok(Source {
        path: path.to_path_buf(),
        kind,
        bytes: meta.map_or(0, |m| m.len()),
        strava: strava_file,
    }));
}

fn relative_key(p: &str) -> String {
    p.trim()
        .replace('\\', "/")
        .trim_start_matches("./")
        .to_lowercase()
}

fn missing_reason(row: &StravaActivity) -> String {
    format!(
        "activities.csv lists it (activity {}) but the export does not hold the file",
        row.id
    )
}

fn read_strava_csv(path: &Path) -> Result<StravaIndex, String> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(strava::MAX_CSV_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|e| format!("cannot read it: {}", io_reason(&e)))?;
    if bytes.len() as u64 > strava::MAX_CSV_BYTES {
        return Err(format!(
            "activities.csv is larger than {} MiB; the export's names and gear were not read",
            strava::MAX_CSV_BYTES >> 20
        ));
    }
    strava::parse_csv(&bytes).map_err(|e| e.to_string())
}

/// Imports one named file, its type from its name (`.fit`, `.gpx`, `.tcx`, each possibly
/// `.gz`): what [`import_files`] does for each file, for an app that imports the one file the
/// runner picked. (A zip is a batch: give it to [`import_files`].)
pub fn import_path(
    store: &impl StoreAccess,
    path: &Path,
    shoe: ShoeChoice,
) -> Result<Vec<Imported>, ImportFailed> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let (format, gzip) = match Kind::of_name(name) {
        Some(Kind::Activity(f)) => (f, false),
        Some(Kind::Gzip(f)) => (f, true),
        _ => return Err(ImportFailed::NotAnActivityFile),
    };
    let bytes = std::fs::read(path).map_err(|e| ImportFailed::Unreadable(io_reason(&e)))?;
    let bytes = if gzip {
        archive::gunzip(&bytes).map_err(|e| ImportFailed::Unreadable(e.to_string()))?
    } else {
        bytes
    };
    import_bytes(store, &bytes, format, shoe)
}

/// Imports one file from its bytes (`format` as the file's type says): parsed without the
/// store, then checked for a duplicate and saved on `shoe` in one transaction.
pub fn import_bytes(
    store: &impl StoreAccess,
    bytes: &[u8],
    format: Format,
    shoe: ShoeChoice,
) -> Result<Vec<Imported>, ImportFailed> {
    let zone = store.with_store(|s| s.profile().map(|p| p.zone()))?;
    import::parse(format, bytes, zone)?
        .into_iter()
        .map(|parsed| store.with_store(|s| s.save_parsed(parsed, shoe)))
        .collect()
}

/// What a worker is given: where a file's bytes are and what the export says of it.
struct Job {
    seq: u64,
    path: PathBuf,
    /// How far through all the sources' bytes the batch is once this file is done.
    position: u64,
    work: Work,
}

enum Work {
    /// Already decided (a ride in a Strava export, a damaged entry...).
    Ready(FileOutcome),
    /// A file on disk.
    Disk {
        format: Format,
        gzip: bool,
        row: Option<StravaActivity>,
    },
    /// An entry of an archive.
    Entry {
        format: Format,
        gzip: bool,
        payload: Payload,
        row: Option<StravaActivity>,
    },
}

/// What a worker hands the writer.
struct Done {
    seq: u64,
    path: PathBuf,
    position: u64,
    result: Decoded,
}

enum Decoded {
    Ready(FileOutcome),
    /// Parsed; the Strava gear names the shoe.
    Parsed {
        parsed: Vec<Parsed>,
        gear: Option<String>,
    },
}

/// How many files may be between the walk and the store: the walk waits for a slot, the
/// writer frees one per file saved; closing it stops the walk.
struct Window {
    state: Mutex<(usize, bool)>,
    freed: Condvar,
}

impl Window {
    fn new(slots: usize) -> Window {
        Window {
            state: Mutex::new((slots, false)),
            freed: Condvar::new(),
        }
    }

    /// Takes a slot; false once closed.
    fn take(&self) -> bool {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        while s.0 == 0 && !s.1 {
            s = self.freed.wait(s).unwrap_or_else(|p| p.into_inner());
        }
        if s.1 {
            return false;
        }
        s.0 -= 1;
        true
    }

    fn free(&self) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.0 += 1;
        self.freed.notify_one();
    }

    fn close(&self) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.1 = true;
        self.freed.notify_all();
    }

    fn closed(&self) -> bool {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).1
    }
}

/// Nanoseconds spent, summed across threads.
#[derive(Default)]
struct Clocks {
    read: AtomicU64,
    inflate: AtomicU64,
    decode: AtomicU64,
}

fn add_time(counter: &AtomicU64, since: Instant) {
    counter.fetch_add(since.elapsed().as_nanos() as u64, Ordering::Relaxed);
}

/// Imports `sources` (from [`collect_files`]), each activity in its own transaction, calling
/// `progress` after every file and stopping early when `cancel` is set.
///
/// Files are inflated and parsed on every core (see the module's doc); the store is touched
/// only from the calling thread. A file whose bytes are exactly those of a stored run's file is
/// reported as the same file without being parsed, so an interrupted import run again goes
/// quickly through what already landed. Strava exports give each run its name (the notes),
/// perceived exertion (the RPE) and gear: a shoe of that name (found ignoring case, created
/// when there is none, retired or not: the run was in it); runs without gear go on `shoe`.
/// A store error that is not about one file (the database cannot be written) stops the batch.
pub fn import_files(
    store: &impl StoreAccess,
    sources: Vec<Found>,
    shoe: ShoeChoice,
    progress: &mut dyn FnMut(ImportProgress<'_>),
    cancel: &Cancel,
) -> Result<ImportReport, StoreError> {
    let started = Instant::now();
    // The shoe is checked once, before any file is read, and the default fixed (see
    // `Writer::shoe`).
    let shoe = match store.with_store(|s| s.shoe_for_new_run(shoe))? {
        Some(id) => ShoeChoice::Shoe(id),
        None => ShoeChoice::None,
    };
    let zone = store.with_store(|s| s.profile().map(|p| p.zone()))?;
    let known = Arc::new(store.with_store(|s| s.fingerprints())?);
    let durable = BatchDurability::begin(store)?;
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let slots = workers * IN_FLIGHT_PER_WORKER;
    let count = sources.len();
    let bytes_total: u64 = sources
        .iter()
        .map(|f| f.as_ref().map_or(0, |s| s.bytes))
        .sum();
    let window = Window::new(slots);
    let clocks = Clocks::default();
    let (job_tx, job_rx) = sync_channel::<Job>(slots);
    let (done_tx, done_rx) = sync_channel::<Done>(slots);
    let job_rx = Mutex::new(job_rx);
    let mut report = ImportReport::default();
    let mut write_time = Duration::ZERO;

    let result = std::thread::scope(|scope| {
        let (window, clocks, job_rx) = (&window, &clocks, &job_rx);
        let walk = scope.spawn(move || walk_sources(sources, job_tx, window, clocks, cancel));
        for _ in 0..workers {
            let done_tx = done_tx.clone();
            let known = known.clone();
            scope.spawn(move || work(job_rx, done_tx, &known, zone, window, clocks, cancel));
        }
        drop(done_tx);
        let mut writer = Writer { store, shoe };
        let outcome = write_in_order(&done_rx, window, cancel, &mut |done: Done| -> Result<
            (),
            StoreError,
        > {
            let t = Instant::now();
            let outcomes = writer.save(done.result)?;
            write_time += t.elapsed();
            for outcome in outcomes {
                report.totals.add(&outcome);
                report.files.push(FileReport {
                    path: done.path.clone(),
                    outcome,
                });
                // Once cancelled, the app is not called again: the report says what was
                // done.
                if !cancel.is_cancelled() {
                    progress(ImportProgress {
                        done: report.files.len(),
                        total: count.max(report.files.len()),
                        bytes_done: done.position.min(bytes_total),
                        bytes_total,
                        file: report.files.last().expect("just pushed"),
                    });
                }
            }
            Ok(())
        });
        // Stop the walk and the workers (they finish what they hold and see the window shut).
        window.close();
        drop(done_rx);
        let walked_all = walk.join().unwrap_or(false);
        outcome.map(|stopped| stopped || !walked_all)
    });
    // Cancelled only if something was left undone (a cancel during the last file is not).
    report.cancelled = cancel.is_cancelled() && result.as_ref().is_ok_and(|left| *left);
    report.timings = ImportTimings {
        read: Duration::from_nanos(clocks.read.load(Ordering::Relaxed)),
        inflate: Duration::from_nanos(clocks.inflate.load(Ordering::Relaxed)),
        decode: Duration::from_nanos(clocks.decode.load(Ordering::Relaxed)),
        write: write_time,
        wall: started.elapsed(),
    };
    durable.end(store)?;
    result.map(|_| report)
}

/// A batch commits each activity without waiting for the disk, and makes them all durable
/// once at its end. With `synchronous=FULL` every one of thousands of small transactions
/// waits for an fsync (about 8 ms each here: more than a whole run takes to decode with a
/// fast decoder); in WAL mode `NORMAL` still commits atomically, so a power cut mid-batch can
/// only lose the last runs saved, whole, never corrupt the file, and running the import again
/// brings them back (their files are still there). The end of the batch checkpoints, which
/// syncs the log first, so when the report comes back everything in it is on disk, as a
/// single `FULL` write would be.
struct BatchDurability;

impl BatchDurability {
    fn begin(store: &impl StoreAccess) -> Result<BatchDurability, StoreError> {
        store.with_store(|s| s.conn.pragma_update(None, "synchronous", "NORMAL"))?;
        Ok(BatchDurability)
    }

    fn end(self, store: &impl StoreAccess) -> Result<(), StoreError> {
        store.with_store(|s| {
            // PASSIVE: never waits for the apps' readers; the log is synced before it copies.
            s.conn
                .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
            s.conn.pragma_update(None, "synchronous", "FULL")?;
            Ok(())
        })
    }
}

/// Hands `save` the workers' results in the order the walk found them, freeing a window slot
/// after each; returns when all are saved, on cancel (true: files were left), or on the first
/// error. Every job the walk sends comes back (a worker never drops one), so the next in order
/// always arrives.
fn write_in_order(
    done_rx: &Receiver<Done>,
    window: &Window,
    cancel: &Cancel,
    save: &mut dyn FnMut(Done) -> Result<(), StoreError>,
) -> Result<bool, StoreError> {
    let mut next = 0u64;
    let mut waiting: BTreeMap<u64, Done> = BTreeMap::new();
    loop {
        while let Some(done) = waiting.remove(&next) {
            if cancel.is_cancelled() {
                return Ok(true);
            }
            save(done)?;
            next += 1;
            window.free();
        }
        match done_rx.recv() {
            Ok(done) => {
                waiting.insert(done.seq, done);
            }
            // Every worker is gone: everything sent was saved.
            Err(_) => return Ok(false),
        }
    }
}

/// The walk: each source in turn, archives entry by entry, as jobs for the workers. False
/// when it stopped before the end (cancelled, or the writer stopped).
fn walk_sources(
    sources: Vec<Found>,
    job_tx: SyncSender<Job>,
    window: &Window,
    clocks: &Clocks,
    cancel: &Cancel,
) -> bool {
    let mut sender = Sender {
        seq: 0,
        job_tx,
        window,
        cancel,
        waited: Duration::ZERO,
    };
    let mut base = 0u64;
    for found in sources {
        let (bytes, flow) = match found {
            Err(r) => (0, sender.send(r.path, base, Work::Ready(r.outcome))),
            Ok(source) => {
                let end = base + source.bytes;
                let row = source
                    .strava
                    .as_ref()
                    .and_then(|s| s.index.get(&s.relative).cloned());
                let flow = match (source.kind, row) {
                    // Strava says what it was: a ride is not read at all.
                    (_, Some(row)) if !matches!(row.sport(), Sport::Run | Sport::Unknown) => {
                        sender.send(source.path, end, Work::Ready(not_a_run(&row)))
                    }
                    (SourceKind::File(format), row) | (SourceKind::Gzip(format), row) => sender
                        .send(
                            source.path,
                            end,
                            Work::Disk {
                                format,
                                gzip: matches!(source.kind, SourceKind::Gzip(_)),
                                row,
                            },
                        ),
                    (SourceKind::Zip, _) => {
                        let t = Instant::now();
                        let waited = sender.waited;
                        let flow = walk_zip(&source.path, base, end, &mut sender);
                        // The walk's own time, less the time it waited for the workers.
                        let spent = t.elapsed().saturating_sub(sender.waited - waited);
                        clocks
                            .read
                            .fetch_add(spent.as_nanos() as u64, Ordering::Relaxed);
                        flow
                    }
                };
                (source.bytes, flow)
            }
        };
        if flow.is_break() {
            return false;
        }
        base += bytes;
    }
    true
}

/// Hands jobs to the workers in walk order, waiting for a free slot in the window.
struct Sender<'a> {
    seq: u64,
    job_tx: SyncSender<Job>,
    window: &'a Window,
    cancel: &'a Cancel,
    waited: Duration,
}

impl Sender<'_> {
    fn send(&mut self, path: PathBuf, position: u64, work: Work) -> ControlFlow<()> {
        let t = Instant::now();
        let open = !self.cancel.is_cancelled() && self.window.take();
        self.waited += t.elapsed();
        if !open {
            return ControlFlow::Break(());
        }
        let job = Job {
            seq: self.seq,
            path,
            position,
            work,
        };
        self.seq += 1;
        match self.job_tx.send(job) {
            Ok(()) => ControlFlow::Continue(()),
            Err(_) => ControlFlow::Break(()),
        }
    }
}

fn not_a_run(row: &StravaActivity) -> FileOutcome {
    FileOutcome::Skipped {
        reason: format!(
            "Strava lists activity {} as a {}, not a run",
            row.id, row.activity_type
        ),
    }
}

/// Where the Strava export sits in a zip: the folder holding `activities.csv` nearest the top
/// (`""`, or `export_123/` when the export was zipped with its folder).
fn strava_prefix(names: &[String]) -> Option<String> {
    names
        .iter()
        .filter_map(|n| {
            let (folder, file) = match n.rsplit_once('/') {
                Some((folder, file)) => (format!("{folder}/"), file),
                None => (String::new(), n.as_str()),
            };
            file.eq_ignore_ascii_case(strava::CSV_NAME)
                .then(|| (folder.matches('/').count(), folder, n.clone()))
        })
        .min()
        .map(|(_, folder, _)| folder)
}

/// One zip: a Strava export when it holds `activities.csv`, otherwise any archive of activity
/// files (Garmin's, with its part zips inside).
fn walk_zip(path: &Path, base: u64, end: u64, sender: &mut Sender<'_>) -> ControlFlow<()> {
    let shown = archive::printable(&path.display().to_string()).into_owned();
    let open = || {
        std::fs::File::open(path)
            .map(std::io::BufReader::new)
            .map_err(|e| format!("cannot read it: {}", io_reason(&e)))
    };
    let failed = |reason: String| Work::Ready(FileOutcome::Failed { reason });
    let names = match open().and_then(|f| archive::names(f).map_err(|e| e.to_string())) {
        Ok(n) => n,
        Err(reason) => return sender.send(path.to_path_buf(), end, failed(reason)),
    };
    let mut visitor = ZipVisitor {
        sender,
        base,
        strava: None,
        found: HashSet::new(),
        flow: ControlFlow::Continue(()),
    };
    if let Some(prefix) = strava_prefix(&names) {
        let csv_name = format!("{prefix}{}", names_case(&names, &prefix));
        let csv = open().and_then(|f| {
            archive::read_named(f, &csv_name, strava::MAX_CSV_BYTES)
                .map_err(|e| e.to_string())
                .and_then(|b| strava::parse_csv(&b.unwrap_or_default()).map_err(|e| e.to_string()))
        });
        match csv {
            Ok(index) => visitor.strava = Some((prefix, index)),
            Err(reason) => {
                visitor.sender.send(
                    format!("{shown}{}{csv_name}", archive::SEPARATOR).into(),
                    base,
                    failed(reason),
                )?;
            }
        }
    }
    let len = end - base;
    let walked = match open() {
        Ok(f) => archive::walk(f, &shown, len, &mut visitor).map_err(|e| e.to_string()),
        Err(reason) => Err(reason),
    };
    if let Err(reason) = walked {
        return visitor.sender.send(path.to_path_buf(), end, failed(reason));
    }
    visitor.flow?;
    // The rows whose files the archive does not hold.
    if let Some((prefix, index)) = &visitor.strava {
        for row in index.rows() {
            if visitor.found.insert(relative_key(&row.filename)) {
                visitor.sender.send(
                    format!("{shown}{}{prefix}{}", archive::SEPARATOR, row.filename).into(),
                    end,
                    failed(missing_reason(row)),
                )?;
            }
        }
    }
    ControlFlow::Continue(())
}

/// `activities.csv` as the archive spells it under `prefix`.
fn names_case(names: &[String], prefix: &str) -> String {
    names
        .iter()
        .filter_map(|n| n.strip_prefix(prefix))
        .find(|n| n.eq_ignore_ascii_case(strava::CSV_NAME))
        .unwrap_or(strava::CSV_NAME)
        .to_string()
}

struct ZipVisitor<'s, 'w> {
    sender: &'s mut Sender<'w>,
    base: u64,
    /// The export's folder in the zip and its `activities.csv`.
    strava: Option<(String, StravaIndex)>,
    /// The Strava files met (their keys), to tell the rows whose file is missing.
    found: HashSet<String>,
    flow: ControlFlow<()>,
}

impl ZipVisitor<'_, '_> {
    /// The Strava row of an entry, and whether the entry is part of the export's activities.
    fn row(&self, name: &str) -> (Option<&StravaActivity>, bool) {
        match &self.strava {
            None => (None, true),
            Some((prefix, index)) => match name.strip_prefix(prefix.as_str()) {
                Some(rel) if strava::in_activities_folder(rel) => (index.get(rel), true),
                _ => (None, false),
            },
        }
    }

    fn note(&mut self, flow: ControlFlow<()>) -> ControlFlow<()> {
        self.flow = flow;
        flow
    }
}

impl archive::Visitor for ZipVisitor<'_, '_> {
    fn wants(&mut self, name: &str, display: &str, position: u64) -> bool {
        let (row, part) = self.row(name);
        if !part {
            return false;
        }
        let row = row.cloned();
        if let Some((prefix, _)) = &self.strava {
            let rel = name.strip_prefix(prefix.as_str()).unwrap_or(name);
            self.found.insert(relative_key(rel));
        }
        match row {
            Some(row) if !matches!(row.sport(), Sport::Run | Sport::Unknown) => {
                let flow = self.sender.send(
                    display.into(),
                    self.base + position,
                    Work::Ready(not_a_run(&row)),
                );
                // A stop is seen at the next entry, whose send breaks too.
                let _ = self.note(flow);
                false
            }
            _ => true,
        }
    }

    fn entry(&mut self, e: archive::Entry) -> ControlFlow<()> {
        let row = self.row(&e.name).0.cloned();
        let flow = self.sender.send(
            e.display.into(),
            self.base + e.position,
            Work::Entry {
                format: e.format,
                gzip: e.gzip,
                payload: e.payload,
                row,
            },
        );
        self.note(flow)
    }

    fn problem(&mut self, p: archive::Problem) -> ControlFlow<()> {
        let flow = self.sender.send(
            p.display.into(),
            self.base + p.position,
            Work::Ready(FileOutcome::Failed {
                reason: p.error.to_string(),
            }),
        );
        self.note(flow)
    }
}

/// A worker: reads, inflates and parses the files it is given until the walk is over.
fn work(
    job_rx: &Mutex<Receiver<Job>>,
    done_tx: SyncSender<Done>,
    known: &HashMap<String, Uuid>,
    zone: Tz,
    window: &Window,
    clocks: &Clocks,
    cancel: &Cancel,
) {
    loop {
        let job = match job_rx.lock().unwrap_or_else(|p| p.into_inner()).recv() {
            Ok(job) => job,
            Err(_) => return,
        };
        // Stopped: the writer saves nothing more, so nothing more is worth parsing; the job
        // still goes back, so the writer never waits for one that will not come.
        let result = if cancel.is_cancelled() || window.closed() {
            Decoded::Ready(FileOutcome::Skipped {
                reason: "the import was cancelled".into(),
            })
        } else {
            decode(job.work, &job.path, known, zone, clocks)
        };
        let done = Done {
            seq: job.seq,
            path: job.path,
            position: job.position,
            result,
        };
        if done_tx.send(done).is_err() {
            return;
        }
    }
}

fn decode(
    work: Work,
    path: &Path,
    known: &HashMap<String, Uuid>,
    zone: Tz,
    clocks: &Clocks,
) -> Decoded {
    let failed = |reason: String| Decoded::Ready(FileOutcome::Failed { reason });
    let (format, opened, row) = match work {
        Work::Ready(o) => return Decoded::Ready(o),
        Work::Disk { format, gzip, row } => {
            let t = Instant::now();
            let read = std::fs::read(path)
                .map_err(|e| ImportFailed::Unreadable(io_reason(&e)).to_string());
            add_time(&clocks.read, t);
            let t = Instant::now();
            let opened = match read {
                Ok(b) if gzip => archive::gunzip(&b).map_err(|e| e.to_string()),
                other => other,
            };
            add_time(&clocks.inflate, t);
            (format, opened, row)
        }
        Work::Entry {
            format,
            gzip,
            payload,
            row,
        } => {
            let t = Instant::now();
            let opened = payload.open(gzip).map_err(|e| e.to_string());
            add_time(&clocks.inflate, t);
            (format, opened, row)
        }
    };
    let bytes = match opened {
        Ok(b) => b,
        Err(reason) => return failed(reason),
    };
    let t = Instant::now();
    // The very file of a stored run: nothing to parse (an interrupted import run again).
    if let Some(&run_id) = known.get(&import::fingerprint(&bytes)) {
        add_time(&clocks.decode, t);
        return Decoded::Ready(FileOutcome::Duplicate {
            run_id,
            reason: DuplicateReason::SameFile,
        });
    }
    // Strava's list calls it a run: a file that names no sport is taken at its word.
    let unlabelled = match &row {
        Some(row) if row.sport() == Sport::Run => import::Unlabelled::Run,
        _ => import::Unlabelled::Judge,
    };
    let parsed = import::parse_as(format, &bytes, zone, unlabelled);
    add_time(&clocks.decode, t);
    match parsed {
        Err(e) => failed(ImportFailed::Parse(e).to_string()),
        Ok(mut parsed) => {
            if let Some(row) = &row {
                for p in &mut parsed {
                    if let Parsed::Run { run, .. } = p {
                        if let Some(notes) = row.notes() {
                            run.notes = Some(notes);
                        }
                        if row.rpe.is_some() {
                            run.rpe = row.rpe;
                        }
                    }
                }
            }
            Decoded::Parsed {
                parsed,
                gear: row.and_then(|r| r.gear),
            }
        }
    }
}

/// The one thread that saves: each activity in its own transaction.
struct Writer<'a, S> {
    store: &'a S,
    /// Where runs without gear go, fixed when the batch starts (a shoe created for Strava gear
    /// may become the default meanwhile; the runs without gear keep going where the first did).
    shoe: ShoeChoice,
}

impl<S: StoreAccess> Writer<'_, S> {
    fn save(&mut self, decoded: Decoded) -> Result<Vec<FileOutcome>, StoreError> {
        let (parsed, gear) = match decoded {
            Decoded::Ready(o) => return Ok(vec![o]),
            Decoded::Parsed { parsed, gear } => (parsed, gear),
        };
        let mut out = Vec::with_capacity(parsed.len());
        for p in parsed {
            let result = self.store.with_store(|s| match &gear {
                Some(g) => s.save_parsed_on_gear(p, g),
                None => s.save_parsed(p, self.shoe),
            });
            match result {
                Err(ImportFailed::Store(e)) if !is_about_the_file(&e) => return Err(e),
                r => out.push(outcome(r)),
            }
        }
        Ok(out)
    }
}

impl Store {
    /// The source fingerprints of the stored runs, with their runs: how a batch knows a file it
    /// already imported without parsing it.
    fn fingerprints(&self) -> Result<HashMap<String, Uuid>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT source_fingerprint, id FROM runs WHERE source_fingerprint IS NOT NULL",
        )?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows
            .into_iter()
            .filter_map(|(fp, id)| Uuid::parse_str(&id).ok().map(|id| (fp, id)))
            .collect())
    }

    /// The shoe a Strava export's gear names: the stored shoe of that name (ignoring case, as
    /// shoe names are unique; a retired one too, since the run was in it), or a new shoe of
    /// that name, cut to [`crate::ranges::NAME_MAX_CHARS`]. A new shoe's id comes from the
    /// name, as a run's comes from its file: two devices importing the same export make the
    /// same shoe, which sync merges instead of keeping two pairs of one name (and a shoe made
    /// so and renamed since still gets its gear's runs).
    pub fn shoe_for_gear(&mut self, gear: &str) -> Result<Uuid, StoreError> {
        let name: String = gear
            .trim()
            .chars()
            .take(crate::ranges::NAME_MAX_CHARS)
            .collect();
        let name = name.trim().to_string();
        let existing: Option<String> = rusqlite::OptionalExtension::optional(self.conn.query_row(
            "SELECT id FROM shoes WHERE name = ?1 COLLATE NOCASE ORDER BY retired LIMIT 1",
            [&name],
            |r| r.get(0),
        ))?;
        if let Some(id) = existing.and_then(|id| Uuid::parse_str(&id).ok()) {
            return Ok(id);
        }
        let id = gear_shoe_id(&name);
        if self.shoe(id)?.is_some() {
            return Ok(id);
        }
        Ok(self.add_shoe(&Shoe::new(id, name))?.id)
    }

    /// Saves a run of a Strava export on the shoe its gear names (created only when the run is
    /// new, so a duplicate makes no shoe).
    fn save_parsed_on_gear(
        &mut self,
        parsed: Parsed,
        gear: &str,
    ) -> Result<Imported, ImportFailed> {
        let (mut run, samples, note) = match parsed {
            Parsed::Run { run, samples, note } => (run, samples, note),
            Parsed::NotARun { reason } => return Ok(Imported::NotARun { reason }),
        };
        if let Some(d) = self.find_duplicate(&run)? {
            return Ok(Imported::Duplicate(d));
        }
        run.shoe_id = Some(self.shoe_for_gear(gear)?);
        self.add_run(&run, &samples)?;
        Ok(Imported::Run {
            samples: samples.len(),
            run,
            note,
        })
    }
}

/// The id of the shoe made for a Strava gear name: a hash of the name in lower case (shoe
/// names are unique ignoring case), which says nothing of the name, as ids must not.
fn gear_shoe_id(name: &str) -> Uuid {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new()
        .chain_update(b"strideguard strava gear\0")
        .chain_update(name.to_lowercase().as_bytes())
        .finalize();
    let mut id = [0u8; 16];
    id.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(id).into_uuid()
}

/// An IO error in words, without the OS error number.
pub(super) fn io_reason(e: &std::io::Error) -> String {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::NotFound => "it does not exist".into(),
        K::PermissionDenied => "permission denied".into(),
        K::IsADirectory => "it is a folder".into(),
        _ => {
            let text = e.to_string();
            match text.find(" (os error") {
                Some(i) => text[..i].to_string(),
                None => text,
            }
        }
    }
}

fn outcome(result: Result<Imported, ImportFailed>) -> FileOutcome {
    match result {
        Ok(Imported::Run { run, samples, note }) => FileOutcome::Imported {
            run_id: run.id,
            start: run.start.to_rfc3339(),
            distance_m: run.distance_m,
            samples,
            note,
        },
        Ok(Imported::Duplicate(d)) => FileOutcome::Duplicate {
            run_id: d.run_id,
            reason: d.reason,
        },
        Ok(Imported::NotARun { reason }) => FileOutcome::Skipped { reason },
        Err(e) => FileOutcome::Failed {
            reason: e.to_string(),
        },
    }
}

/// Whether a store error while saving a file is that file's fault (its run is invalid), not
/// the database's.
fn is_about_the_file(e: &StoreError) -> bool {
    matches!(
        e,
        StoreError::Invalid { .. } | StoreError::OutOfRange(_) | StoreError::Samples { .. }
    )
}
