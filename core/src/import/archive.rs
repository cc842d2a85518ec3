//! Activity files inside compressed containers, as the services' exports ship them: `.gz` files
//! (Strava's `activities/123.fit.gz`) and `.zip` archives, zips inside zips included (Garmin
//! Connect's `DI_CONNECT/DI-Connect-Uploaded-Files/UploadedFiles_0-_Part1.zip`).
//!
//! Pure: bytes or a seekable reader in, entries out. Nothing is written to disk and the names
//! inside an archive are only names (never joined to a folder). An archive is hostile until
//! read: every entry is inflated under [`MAX_ENTRY_BYTES`], a whole archive under
//! [`MAX_ARCHIVE_BYTES`], archives nest at most [`MAX_DEPTH`] deep and hold at most
//! [`MAX_ENTRIES`] entries, so a zip bomb costs a bounded amount of memory and time and is
//! reported, never obeyed. An entry's own inflating is left to [`Payload::open`], so the
//! caller can do it on a worker thread.

use std::borrow::Cow;
use std::io::{Cursor, Read, Seek};
use std::ops::ControlFlow;

use flate2::read::{DeflateDecoder, MultiGzDecoder};
use zip::CompressionMethod;

use super::Format;

/// The most one activity file may inflate to. The longest recordings (a multi-day ultra at one
/// point a second) are tens of megabytes as GPX; a FIT of a day is a few. Past this the entry
/// is refused: it is a bomb or not an activity.
pub const MAX_ENTRY_BYTES: u64 = 64 << 20;
/// The most one archive, everything nested in it included, may inflate to in all: ten years of
/// a Garmin export are a few gigabytes.
pub const MAX_ARCHIVE_BYTES: u64 = 16 << 30;
/// The most an archive inside an archive may inflate to: it is held in memory to be read (a zip
/// needs to seek, and entries are never written to disk). Garmin's part files are well below.
pub const MAX_NESTED_ARCHIVE_BYTES: u64 = 2 << 30;
/// How deep archives may nest: the archive named is depth 1, Garmin's part zips inside it 2.
pub const MAX_DEPTH: usize = 3;
/// The most entries (nested ones counted) one archive may have.
pub const MAX_ENTRIES: usize = 200_000;
/// Between an archive's name and the name of an entry inside it in reports:
/// `export.zip!activities/123.fit.gz`.
pub const SEPARATOR: char = '!';

/// What a name says a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `.fit`, `.gpx`, `.tcx`.
    Activity(Format),
    /// `.fit.gz`, `.gpx.gz`, `.tcx.gz`: one activity file, gzipped.
    Gzip(Format),
    /// `.zip`.
    Zip,
}

impl Kind {
    /// The kind by the name's ending (case-insensitive); `None` for files Strideguard does not
    /// read.
    pub fn of_name(name: &str) -> Option<Kind> {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".zip") {
            return Some(Kind::Zip);
        }
        let (stem, gz) = match lower.strip_suffix(".gz") {
            Some(stem) => (stem, true),
            None => (lower.as_str(), false),
        };
        let ext = stem.rsplit_once('.')?.1;
        let format = Format::ALL.into_iter().find(|f| f.extension() == ext)?;
        Some(if gz {
            Kind::Gzip(format)
        } else {
            Kind::Activity(format)
        })
    }
}

/// Why an archive, or an entry in one, could not be read. Each names what was wrong in words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArchiveError {
    #[error("not a readable zip archive: {0}")]
    NotAZip(String),
    #[error("the entry is damaged: {0}")]
    Damaged(String),
    #[error("not a readable gzip file: {0}")]
    NotGzip(String),
    #[error("inflates to more than {} MiB, more than one activity file can be", MAX_ENTRY_BYTES >> 20)]
    EntryTooLarge,
    #[error(
        "the archive inflates to more than {} GiB in all; the rest of it was not read",
        MAX_ARCHIVE_BYTES >> 30
    )]
    ArchiveTooLarge,
    #[error(
        "an archive inside an archive inflates to more than {} GiB; it was not read",
        MAX_NESTED_ARCHIVE_BYTES >> 30
    )]
    NestedTooLarge,
    #[error("archives nested more than {MAX_DEPTH} deep; this one was not read")]
    TooDeep,
    #[error("the archive holds more than {MAX_ENTRIES} entries; the rest were not read")]
    TooManyEntries,
    #[error("the entry is encrypted")]
    Encrypted,
    #[error("compressed with {0}, which Strideguard does not read (only stored and deflate)")]
    Unsupported(String),
}

/// An entry's bytes as the archive holds them; [`Payload::open`] gives the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// Stored, or already inflated.
    Plain(Vec<u8>),
    /// Deflated in a zip, with what the archive says it inflates to.
    Deflated { raw: Vec<u8>, size: u64, crc32: u32 },
}

impl Payload {
    /// The entry's bytes, inflated (and un-gzipped when `gzip`), checked against the size and
    /// CRC the archive recorded, and never past [`MAX_ENTRY_BYTES`].
    pub fn open(self, gzip: bool) -> Result<Vec<u8>, ArchiveError> {
        let bytes = match self {
            Payload::Plain(b) => b,
            Payload::Deflated { raw, size, crc32 } => {
                let out = read_capped(DeflateDecoder::new(&raw[..]), MAX_ENTRY_BYTES)
                    .map_err(|e| e.or_damaged())?;
                check(&out, size, crc32)?;
                out
            }
        };
        if gzip { gunzip(&bytes) } else { Ok(bytes) }
    }

    /// The bytes the archive holds for it, for progress.
    pub fn stored_len(&self) -> u64 {
        match self {
            Payload::Plain(b) => b.len() as u64,
            Payload::Deflated { raw, .. } => raw.len() as u64,
        }
    }
}

/// A gzip file's content (every member, as `gzip -d` gives), at most [`MAX_ENTRY_BYTES`].
pub fn gunzip(bytes: &[u8]) -> Result<Vec<u8>, ArchiveError> {
    read_capped(MultiGzDecoder::new(bytes), MAX_ENTRY_BYTES).map_err(|e| match e {
        Capped::Io(m) => ArchiveError::NotGzip(m),
        Capped::TooLarge => ArchiveError::EntryTooLarge,
    })
}

enum Capped {
    Io(String),
    TooLarge,
}

impl Capped {
    fn or_damaged(self) -> ArchiveError {
        match self {
            Capped::Io(m) => ArchiveError::Damaged(m),
            Capped::TooLarge => ArchiveError::EntryTooLarge,
        }
    }
}

/// Reads all of `r`, refusing past `cap` bytes (one more is read to tell).
fn read_capped(r: impl Read, cap: u64) -> Result<Vec<u8>, Capped> {
    let mut out = Vec::new();
    r.take(cap + 1)
        .read_to_end(&mut out)
        .map_err(|e| Capped::Io(e.to_string()))?;
    if out.len() as u64 > cap {
        return Err(Capped::TooLarge);
    }
    Ok(out)
}

fn check(bytes: &[u8], size: u64, crc32: u32) -> Result<(), ArchiveError> {
    if bytes.len() as u64 != size {
        return Err(ArchiveError::Damaged(format!(
            "it inflates to {} bytes, the archive says {size}",
            bytes.len()
        )));
    }
    let mut crc = flate2::Crc::new();
    crc.update(bytes);
    if crc.sum() != crc32 {
        return Err(ArchiveError::Damaged("its checksum does not match".into()));
    }
    Ok(())
}

/// One activity file found in an archive, not yet inflated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Where it is, for reports: `export.zip!activities/123.fit.gz` (the archive's own name
    /// first, each nested archive after a [`SEPARATOR`]).
    pub display: String,
    /// Its name inside the archive named (for an entry of a nested archive, that archive's
    /// name inside it, then the entry's): how a Strava `activities.csv` names it.
    pub name: String,
    /// Its format, and whether it is gzipped.
    pub format: Format,
    pub gzip: bool,
    pub payload: Payload,
    /// How far through the archive named (in its own bytes) the walk is after this entry, for
    /// progress.
    pub position: u64,
}

/// An entry or archive that could not be read; the walk goes on past it unless it says the
/// rest of the archive was not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub display: String,
    pub error: ArchiveError,
    pub position: u64,
}

/// What a walk reports, in archive order.
pub trait Visitor {
    /// Whether to read the activity file `name` (see [`Entry::name`]); one not wanted is
    /// passed over unread (a visitor that tells the runner why does so itself).
    fn wants(&mut self, name: &str, display: &str, position: u64) -> bool {
        let _ = (name, display, position);
        true
    }
    fn entry(&mut self, entry: Entry) -> ControlFlow<()>;
    fn problem(&mut self, problem: Problem) -> ControlFlow<()>;
}

/// A name from an archive made safe to print: control characters (a terminal escape in a
/// hostile name) become `?`.
pub fn printable(name: &str) -> Cow<'_, str> {
    if name.chars().any(char::is_control) {
        Cow::Owned(
            name.chars()
                .map(|c| if c.is_control() { '?' } else { c })
                .collect(),
        )
    } else {
        Cow::Borrowed(name)
    }
}

/// Reads the zip `reader` (shown as `display`, `len` bytes long), telling `visitor` about each
/// activity file in archive order, nested archives walked where they stand. Entries that are
/// not activity files or archives (Garmin's JSON, Strava's media) are passed over. An error
/// is returned only when the archive itself cannot be opened; everything inside that goes
/// wrong is a [`Problem`] and the walk goes on.
pub fn walk<R: Read + Seek>(
    reader: R,
    display: &str,
    len: u64,
    visitor: &mut dyn Visitor,
) -> Result<(), ArchiveError> {
    let mut zip = zip::ZipArchive::new(reader).map_err(|e| ArchiveError::NotAZip(e.to_string()))?;
    let mut budget = Budget {
        inflated: 0,
        entries: 0,
    };
    let scale = Scale {
        start: 0,
        span: len,
        of: len.max(1),
    };
    let _ = walk_in(&mut zip, display, "", 1, scale, &mut budget, visitor);
    Ok(())
}

/// The same for an archive held in memory.
pub fn walk_bytes(
    bytes: &[u8],
    display: &str,
    visitor: &mut dyn Visitor,
) -> Result<(), ArchiveError> {
    walk(Cursor::new(bytes), display, bytes.len() as u64, visitor)
}

/// Reads one entry of the zip `reader` by its exact name (a Strava export's `activities.csv`),
/// inflated, at most `cap` bytes; `None` when there is none.
pub fn read_named<R: Read + Seek>(
    reader: R,
    name: &str,
    cap: u64,
) -> Result<Option<Vec<u8>>, ArchiveError> {
    let mut zip = zip::ZipArchive::new(reader).map_err(|e| ArchiveError::NotAZip(e.to_string()))?;
    let Some(index) = zip.index_for_name(name) else {
        return Ok(None);
    };
    let file = zip
        .by_index(index)
        .map_err(|e| ArchiveError::Damaged(e.to_string()))?;
    read_capped(file, cap).map(Some).map_err(|e| e.or_damaged())
}

/// The names in the zip `reader`, in archive order (to find a Strava export's
/// `activities.csv`, which may sit in a folder).
pub fn names<R: Read + Seek>(reader: R) -> Result<Vec<String>, ArchiveError> {
    let zip = zip::ZipArchive::new(reader).map_err(|e| ArchiveError::NotAZip(e.to_string()))?;
    Ok(zip
        .file_names()
        .filter_map(|n| n.ok().map(Cow::into_owned))
        .collect())
}

struct Budget {
    inflated: u64,
    entries: usize,
}

/// How positions in a nested archive map onto the bytes of the archive named: an archive of
/// `of` bytes stands for `span` bytes starting at `start`.
#[derive(Clone, Copy)]
struct Scale {
    start: u64,
    span: u64,
    of: u64,
}

impl Scale {
    fn at(self, pos: u64) -> u64 {
        let pos = pos.min(self.of);
        self.start + ((pos as u128 * self.span as u128) / self.of as u128) as u64
    }
}

fn walk_in<R: Read + Seek>(
    zip: &mut zip::ZipArchive<R>,
    display: &str,
    prefix: &str,
    depth: usize,
    scale: Scale,
    budget: &mut Budget,
    visitor: &mut dyn Visitor,
) -> ControlFlow<()> {
    let mut at = 0u64;
    for index in 0..zip.len() {
        budget.entries += 1;
        if budget.entries > MAX_ENTRIES {
            // Told once, by the archive that went past it; the walk ends there.
            let _ = visitor.problem(Problem {
                display: display.to_string(),
                error: ArchiveError::TooManyEntries,
                position: scale.at(scale.of),
            });
            return ControlFlow::Break(());
        }
        let listed = zip
            .name_for_index(index)
            .and_then(|n| n.ok())
            .map(|n| printable(&n).into_owned());
        let mut file = match zip.by_index_raw(index) {
            Ok(f) => f,
            Err(e) => {
                let name = listed.unwrap_or_else(|| format!("entry {}", index + 1));
                visitor.problem(Problem {
                    display: format!("{display}{SEPARATOR}{name}"),
                    error: ArchiveError::Damaged(e.to_string()),
                    position: scale.at(at),
                })?;
                continue;
            }
        };
        let raw_name = match file.name() {
            Ok(n) => n.into_owned(),
            Err(_) => String::from_utf8_lossy(file.name_raw()).into_owned(),
        };
        let before = at;
        at = at.saturating_add(file.compressed_size());
        if file.is_dir() || file.is_symlink() {
            continue;
        }
        let Some(kind) = Kind::of_name(&raw_name) else {
            continue;
        };
        let shown = format!("{display}{SEPARATOR}{}", printable(&raw_name));
        let name = format!("{prefix}{raw_name}");
        let position = scale.at(at);
        let problem = |error| Problem {
            display: shown.clone(),
            error,
            position,
        };
        if kind != Kind::Zip && !visitor.wants(&name, &shown, position) {
            continue;
        }
        if file.encrypted() {
            visitor.problem(problem(ArchiveError::Encrypted))?;
            continue;
        }
        let method = file.compression();
        if !matches!(
            method,
            CompressionMethod::Stored | CompressionMethod::Deflated
        ) {
            visitor.problem(problem(ArchiveError::Unsupported(format!("{method:?}"))))?;
            continue;
        }
        let size = file.size();
        let limit = if kind == Kind::Zip {
            MAX_NESTED_ARCHIVE_BYTES
        } else {
            MAX_ENTRY_BYTES
        };
        if size > limit {
            let error = if kind == Kind::Zip {
                ArchiveError::NestedTooLarge
            } else {
                ArchiveError::EntryTooLarge
            };
            visitor.problem(problem(error))?;
            continue;
        }
        budget.inflated = budget.inflated.saturating_add(size);
        if budget.inflated > MAX_ARCHIVE_BYTES {
            let _ = visitor.problem(problem(ArchiveError::ArchiveTooLarge));
            return ControlFlow::Break(());
        }
        // The stored bytes, at most what a deflated `limit` can take (deflate never grows
        // data by more than a few bytes a block).
        let raw = match read_capped(&mut file, limit + limit / 100 + 1024) {
            Ok(raw) => raw,
            Err(e) => {
                visitor.problem(problem(e.or_damaged()))?;
                continue;
            }
        };
        let crc32 = file.crc32();
        drop(file);
        let payload = match method {
            CompressionMethod::Stored => {
                if let Err(e) = check(&raw, size, crc32) {
                    visitor.problem(problem(e))?;
                    continue;
                }
                Payload::Plain(raw)
            }
            _ => Payload::Deflated { raw, size, crc32 },
        };
        match kind {
            Kind::Zip => {
                if depth >= MAX_DEPTH {
                    visitor.problem(problem(ArchiveError::TooDeep))?;
                    continue;
                }
                let bytes = match payload {
                    Payload::Plain(b) => b,
                    Payload::Deflated { raw, size, crc32 } => {
                        match read_capped(DeflateDecoder::new(&raw[..]), MAX_NESTED_ARCHIVE_BYTES)
                            .map_err(|e| match e {
                                Capped::TooLarge => ArchiveError::NestedTooLarge,
                                Capped::Io(m) => ArchiveError::Damaged(m),
                            })
                            .and_then(|b| check(&b, size, crc32).map(|()| b))
                        {
                            Ok(b) => b,
                            Err(e) => {
                                visitor.problem(problem(e))?;
                                continue;
                            }
                        }
                    }
                };
                let inner_len = bytes.len() as u64;
                let mut inner = match zip::ZipArchive::new(Cursor::new(bytes)) {
                    Ok(z) => z,
                    Err(e) => {
                        visitor.problem(problem(ArchiveError::NotAZip(e.to_string())))?;
                        continue;
                    }
                };
                let start = scale.at(before);
                let inner_scale = Scale {
                    start,
                    span: position.saturating_sub(start),
                    of: inner_len.max(1),
                };
                walk_in(
                    &mut inner,
                    &shown,
                    &format!("{name}{SEPARATOR}"),
                    depth + 1,
                    inner_scale,
                    budget,
                    visitor,
                )?;
            }
            Kind::Activity(format) | Kind::Gzip(format) => {
                visitor.entry(Entry {
                    display: shown.clone(),
                    name,
                    format,
                    gzip: matches!(kind, Kind::Gzip(_)),
                    payload,
                    position,
                })?;
            }
        }
    }
    ControlFlow::Continue(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// Each entry's display path with its bytes, or with why it could not be read.
    type Seen = Result<(String, Vec<u8>), (String, ArchiveError)>;

    struct Collect(Vec<Seen>);

    impl Visitor for Collect {
        fn entry(&mut self, e: Entry) -> ControlFlow<()> {
            let display = e.display.clone();
            let gzip = e.gzip;
            match e.payload.open(gzip) {
                Ok(b) => self.0.push(Ok((display, b))),
                Err(err) => self.0.push(Err((display, err))),
            }
            ControlFlow::Continue(())
        }
        fn problem(&mut self, p: Problem) -> ControlFlow<()> {
            self.0.push(Err((p.display, p.error)));
            ControlFlow::Continue(())
        }
    }

    fn zip_of(files: &[(&str, &[u8])], method: CompressionMethod) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default().compression_method(method);
        for (name, bytes) in files {
            w.start_file(*name, opts).unwrap();
            w.write_all(bytes).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn kinds_by_name() {
        assert_eq!(Kind::of_name("a/B.FIT"), Some(Kind::Activity(Format::Fit)));
        assert_eq!(Kind::of_name("1.gpx.gz"), Some(Kind::Gzip(Format::Gpx)));
        assert_eq!(Kind::of_name("x.Zip"), Some(Kind::Zip));
        assert_eq!(Kind::of_name("summary.json"), None);
        assert_eq!(Kind::of_name("notes.gz"), None);
        assert_eq!(Kind::of_name("fit"), None);
    }

    #[test]
    fn nested_zips_and_gzip_entries_are_read_in_order_with_their_paths() {
        let inner = zip_of(
            &[("a.fit", b"AAAA"), ("b.tcx.gz", &gz(b"BBBB"))],
            CompressionMethod::Deflated,
        );
        let outer = zip_of(
            &[
                ("DI_CONNECT/x.json", b"{}"),
                ("DI_CONNECT/Up/part1.zip", &inner),
                ("c.gpx", b"CCCC"),
            ],
            CompressionMethod::Stored,
        );
        let mut c = Collect(Vec::new());
        walk_bytes(&outer, "export.zip", &mut c).unwrap();
        assert_eq!(
            c.0,
            vec![
                Ok((
                    "export.zip!DI_CONNECT/Up/part1.zip!a.fit".into(),
                    b"AAAA".to_vec()
                )),
                Ok((
                    "export.zip!DI_CONNECT/Up/part1.zip!b.tcx.gz".into(),
                    b"BBBB".to_vec()
                )),
                Ok(("export.zip!c.gpx".into(), b"CCCC".to_vec())),
            ]
        );
    }

    #[test]
    fn a_bomb_entry_is_refused_and_the_rest_is_read() {
        let big = vec![0u8; (MAX_ENTRY_BYTES + 1) as usize];
        let z = zip_of(
            &[("bomb.fit", &big), ("ok.fit", b"OK")],
            CompressionMethod::Deflated,
        );
        let mut c = Collect(Vec::new());
        walk_bytes(&z, "e.zip", &mut c).unwrap();
        assert_eq!(
            c.0,
            vec![
                Err(("e.zip!bomb.fit".into(), ArchiveError::EntryTooLarge)),
                Ok(("e.zip!ok.fit".into(), b"OK".to_vec())),
            ]
        );
    }

    #[test]
    fn a_gzip_bomb_is_refused() {
        let big = gz(&vec![0u8; (MAX_ENTRY_BYTES + 1) as usize]);
        assert_eq!(gunzip(&big), Err(ArchiveError::EntryTooLarge));
        assert!(matches!(gunzip(b"not gzip"), Err(ArchiveError::NotGzip(_))));
    }

    #[test]
    fn archives_nest_only_so_deep() {
        let mut z = zip_of(&[("deep.fit", b"D")], CompressionMethod::Stored);
        for _ in 0..MAX_DEPTH {
            z = zip_of(&[("n.zip", &z)], CompressionMethod::Stored);
        }
        let mut c = Collect(Vec::new());
        walk_bytes(&z, "e.zip", &mut c).unwrap();
        assert_eq!(c.0.len(), 1);
        let Err((display, ArchiveError::TooDeep)) = &c.0[0] else {
            panic!("{:?}", c.0)
        };
        assert_eq!(display, "e.zip!n.zip!n.zip!n.zip");
    }

    #[test]
    fn a_corrupt_entry_is_reported_by_its_path_inside() {
        let mut z = zip_of(
            &[("bad.fit", b"0123456789abcdef"), ("good.fit", b"GOOD")],
            CompressionMethod::Stored,
        );
        // Flip a byte of the first entry's data: its CRC no longer matches.
        let at = z.windows(4).position(|w| w == b"0123").unwrap();
        z[at] = b'X';
        let mut c = Collect(Vec::new());
        walk_bytes(&z, "e.zip", &mut c).unwrap();
        assert!(matches!(&c.0[0], Err((d, ArchiveError::Damaged(_))) if d == "e.zip!bad.fit"));
        assert_eq!(c.0[1], Ok(("e.zip!good.fit".into(), b"GOOD".to_vec())));
    }

    #[test]
    fn hostile_names_print_without_control_characters() {
        assert_eq!(printable("a\u{1b}[2Jb.fit"), "a?[2Jb.fit");
        assert_eq!(printable("../../etc/x.fit"), "../../etc/x.fit");
    }

    #[test]
    fn not_a_zip_is_an_error() {
        let mut c = Collect(Vec::new());
        assert!(matches!(
            walk_bytes(b"PK nope", "e.zip", &mut c),
            Err(ArchiveError::NotAZip(_))
        ));
    }
}
