//! The binary body of `/v2/records` (sync-protocol v2): records as length-prefixed frames, so
//! payloads travel as bytes instead of base64 inside JSON. Uploads, pages and 409 answers share
//! one layout:
//!
//! ```text
//! body   = magic "SGF2" | kind u8 | count u32 | [page: next i64, done u8] | frame * count
//! frame  = len u32 | content (len bytes) | crc32(content) u32
//! upload = flags u8 (1: deleted, 2: if_seq given) | if_seq i64 | collection [32] | id [16] | payload
//! record = flags u8 (1: deleted) | seq i64 | updated_at_ms i64 | collection [32] | id [16] | payload
//! ```
//!
//! Integers are big-endian. The collection tag travels as its 32 raw bytes and the id as its
//! 16 UUID bytes, so neither has a second spelling. Each frame carries a CRC-32 of its content:
//! the payload is sealed and the client would notice a flipped bit there, but a flipped bit in
//! an id would store the record under another name, so the server checks every frame before it
//! stores anything. The declared count must match the frames present exactly.
//!
//! Decoding never panics, reserves room only for as many frames as the body could hold, and
//! names the frame and the byte offset in every error.

use crate::wire::{RecordDownload, RecordUpload, RecordsPage};

/// The media type of a frames body.
pub const CONTENT_TYPE: &str = "application/x-strideguard-frames";

const MAGIC: &[u8; 4] = b"SGF2";
const KIND_UPLOAD: u8 = 1;
const KIND_PAGE: u8 = 2;
const KIND_CONFLICT: u8 = 3;

const UPLOAD_HEAD: usize = 1 + 8 + 32 + 16;
const RECORD_HEAD: usize = 1 + 8 + 8 + 32 + 16;
/// Bytes around each frame's content: its length and its checksum.
pub const FRAME_OVERHEAD: usize = 8;

/// Bytes a body of `count` upload frames adds to their payloads.
pub fn upload_overhead(count: usize) -> usize {
    4 + 1 + 4 + count * (FRAME_OVERHEAD + UPLOAD_HEAD)
}

/// What is wrong with a frames body. `frame` counts from 0; `offset` is in the body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("the body is not a Strideguard frames body (it does not start with \"SGF2\")")]
    NotFrames,
    #[error("the body is a {found}, where a {expected} was expected")]
    WrongKind {
        expected: &'static str,
        found: &'static str,
    },
    #[error("frame kind {0} is not known to this version of Strideguard")]
    UnknownKind(u8),
    #[error("the body declares {declared} frames; at most {max} are allowed")]
    TooManyFrames { declared: u64, max: usize },
    #[error("the body is cut off in {where_} at byte {offset} (it declares {declared} frames)")]
    Truncated {
        where_: String,
        offset: usize,
        declared: u32,
    },
    #[error("frame {frame} at byte {offset} is {len} bytes; a frame may be at most {max}")]
    Oversized {
        frame: usize,
        offset: usize,
        len: usize,
        max: usize,
    },
    #[error("frame {frame} at byte {offset} is {len} bytes, shorter than its {min}-byte header")]
    Short {
        frame: usize,
        offset: usize,
        len: usize,
        min: usize,
    },
    #[error("frame {frame} at byte {offset} fails its checksum: it was altered on the way")]
    Checksum { frame: usize, offset: usize },
    #[error("frame {frame} at byte {offset} has unknown flags {flags:#04x}")]
    Flags {
        frame: usize,
        offset: usize,
        flags: u8,
    },
    #[error("frame {frame} at byte {offset}: {what}")]
    Invalid {
        frame: usize,
        offset: usize,
        what: &'static str,
    },
    #[error("the body declares {declared} frames but {extra} more bytes follow the last of them")]
    Trailing { declared: u32, extra: usize },
}

impl FrameError {
    /// True when the error is a frame over the size limit (a 413, not a 400).
    pub fn is_oversized(&self) -> bool {
        matches!(self, FrameError::Oversized { .. })
    }
}

fn kind_name(kind: u8) -> &'static str {
    match kind {
        KIND_UPLOAD => "upload batch",
        KIND_PAGE => "records page",
        KIND_CONFLICT => "conflict answer",
        _ => "body of unknown kind",
    }
}

fn hex_to_raw(tag: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = tag
            .get(2 * i..2 * i + 2)
            .and_then(|h| u8::from_str_radix(h, 16).ok())
            .unwrap_or(0);
    }
    out
}

fn raw_to_hex(raw: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(raw.len() * 2);
    for b in raw {
        s.push(HEX[usize::from(b >> 4)] as char);
        s.push(HEX[usize::from(b & 15)] as char);
    }
    s
}

fn uuid_to_raw(id: &str) -> Option<[u8; 16]> {
    let hex: String = id.chars().filter(|c| *c != '-').collect();
    if hex.len() != 32 || id.len() != 36 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

fn raw_to_uuid(raw: &[u8]) -> String {
    let h = raw_to_hex(raw);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Why an upload cannot be written as a frame (the sender's own bug, not the network's).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("record {0}: its collection is not a 64-digit hex tag")]
    Collection(String),
    #[error("record {0}: its id is not a UUID")]
    Id(String),
    #[error("record {0}: its payload is larger than 4 GiB")]
    TooLarge(String),
}

fn is_tag(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

struct Writer {
    out: Vec<u8>,
}

impl Writer {
    fn new(kind: u8, count: usize, capacity: usize) -> Writer {
        let mut out = Vec::with_capacity(capacity);
        out.extend_from_slice(MAGIC);
        out.push(kind);
        out.extend_from_slice(&(count as u32).to_be_bytes());
        Writer { out }
    }

    /// Appends one frame whose content `fill` writes.
    fn frame(&mut self, fill: impl FnOnce(&mut Vec<u8>)) -> usize {
        let at = self.out.len();
        self.out.extend_from_slice(&[0; 4]);
        fill(&mut self.out);
        let len = self.out.len() - at - 4;
        self.out[at..at + 4].copy_from_slice(&(len as u32).to_be_bytes());
        let crc = crc32fast::hash(&self.out[at + 4..]);
        self.out.extend_from_slice(&crc.to_be_bytes());
        len
    }
}

/// An upload batch as a frames body.
pub fn encode_upload(records: &[RecordUpload]) -> Result<Vec<u8>, EncodeError> {
    let payload: usize = records.iter().map(|r| r.payload.len()).sum();
    let mut w = Writer::new(
        KIND_UPLOAD,
        records.len(),
        upload_overhead(records.len()) + payload,
    );
    for r in records {
        if !is_tag(&r.collection) {
            return Err(EncodeError::Collection(r.id.clone()));
        }
        let id = uuid_to_raw(&r.id).ok_or_else(|| EncodeError::Id(r.id.clone()))?;
        if u32::try_from(UPLOAD_HEAD + r.payload.len()).is_err() {
            return Err(EncodeError::TooLarge(r.id.clone()));
        }
        w.frame(|out| {
            let flags = u8::from(r.deleted) | (u8::from(r.if_seq.is_some()) << 1);
            out.push(flags);
            out.extend_from_slice(&r.if_seq.unwrap_or(0).to_be_bytes());
            out.extend_from_slice(&hex_to_raw(&r.collection));
            out.extend_from_slice(&id);
            out.extend_from_slice(&r.payload);
        });
    }
    Ok(w.out)
}

fn encode_records(kind: u8, records: &[RecordDownload], page: Option<(i64, bool)>) -> Vec<u8> {
    let payload: usize = records.iter().map(|r| r.payload.len()).sum();
    let mut w = Writer::new(
        kind,
        records.len(),
        32 + payload + records.len() * (FRAME_OVERHEAD + RECORD_HEAD),
    );
    if let Some((next, done)) = page {
        w.out.extend_from_slice(&next.to_be_bytes());
        w.out.push(u8::from(done));
    }
    for r in records {
        w.frame(|out| {
            out.push(u8::from(r.deleted));
            out.extend_from_slice(&r.seq.to_be_bytes());
            out.extend_from_slice(&r.updated_at_ms.to_be_bytes());
            out.extend_from_slice(&hex_to_raw(&r.collection));
            // The server only stores canonical UUIDs, so this never falls back.
            out.extend_from_slice(&uuid_to_raw(&r.id).unwrap_or_default());
            out.extend_from_slice(&r.payload);
        });
    }
    w.out
}

/// A page of records as a frames body.
pub fn encode_page(page: &RecordsPage) -> Vec<u8> {
    encode_records(KIND_PAGE, &page.records, Some((page.next, page.done)))
}

/// The records of a 409 answer as a frames body.
pub fn encode_conflict(current: &[RecordDownload]) -> Vec<u8> {
    encode_records(KIND_CONFLICT, current, None)
}

/// Reads a body, frame by frame.
struct Reader<'a> {
    body: &'a [u8],
    pos: usize,
    declared: u32,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, where_: impl FnOnce() -> String) -> Result<&'a [u8], FrameError> {
        match self.body.get(self.pos..self.pos.saturating_add(n)) {
            Some(s) => {
                self.pos += n;
                Ok(s)
            }
            None => Err(FrameError::Truncated {
                where_: where_(),
                offset: self.body.len(),
                declared: self.declared,
            }),
        }
    }

    /// The header: magic, kind and count, refusing a count over `max` before reading on.
    fn open(body: &'a [u8], expected: u8, max: usize) -> Result<Reader<'a>, FrameError> {
        if body.len() < 4 || &body[..4] != MAGIC {
            return Err(FrameError::NotFrames);
        }
        let mut r = Reader {
            body,
            pos: 4,
            declared: 0,
        };
        let kind = r.take(1, || "the header".into())?[0];
        if !(KIND_UPLOAD..=KIND_CONFLICT).contains(&kind) {
            return Err(FrameError::UnknownKind(kind));
        }
        if kind != expected {
            return Err(FrameError::WrongKind {
                expected: kind_name(expected),
                found: kind_name(kind),
            });
        }
        let count = u32::from_be_bytes(
            r.take(4, || "the header".into())?
                .try_into()
                .expect("4 bytes"),
        );
        if count as u64 > max as u64 {
            return Err(FrameError::TooManyFrames {
                declared: count.into(),
                max,
            });
        }
        r.declared = count;
        Ok(r)
    }

    /// The next frame's content, its checksum checked; `max` bounds its length.
    fn frame(&mut self, i: usize, min: usize, max: usize) -> Result<(&'a [u8], usize), FrameError> {
        let offset = self.pos;
        let len_bytes = self.take(4, || format!("the length of frame {i}"))?;
        let len = u32::from_be_bytes(len_bytes.try_into().expect("4 bytes")) as usize;
        if len > max {
            return Err(FrameError::Oversized {
                frame: i,
                offset,
                len,
                max,
            });
        }
        if len < min {
            return Err(FrameError::Short {
                frame: i,
                offset,
                len,
                min,
            });
        }
        let content = self.take(len, || format!("frame {i}"))?;
        let crc = self.take(4, || format!("the checksum of frame {i}"))?;
        if crc32fast::hash(content) != u32::from_be_bytes(crc.try_into().expect("4 bytes")) {
            return Err(FrameError::Checksum { frame: i, offset });
        }
        Ok((content, offset))
    }

    fn finish(&self) -> Result<(), FrameError> {
        let extra = self.body.len() - self.pos;
        if extra > 0 {
            return Err(FrameError::Trailing {
                declared: self.declared,
                extra,
            });
        }
        Ok(())
    }
}

fn be_i64(b: &[u8]) -> i64 {
    i64::from_be_bytes(b.try_into().expect("8 bytes"))
}

/// Reads an upload batch: at most `max_records` frames, each payload at most `max_payload`
/// bytes. Nothing is returned unless the whole body is sound.
pub fn decode_upload(
    body: &[u8],
    max_records: usize,
    max_payload: usize,
) -> Result<Vec<RecordUpload>, FrameError> {
    let mut r = Reader::open(body, KIND_UPLOAD, max_records)?;
    let room = body.len() / (FRAME_OVERHEAD + UPLOAD_HEAD);
    let mut out = Vec::with_capacity((r.declared as usize).min(room));
    for i in 0..r.declared as usize {
        let (c, offset) = r.frame(i, UPLOAD_HEAD, UPLOAD_HEAD.saturating_add(max_payload))?;
        let flags = c[0];
        if flags & !3 != 0 {
            return Err(FrameError::Flags {
                frame: i,
                offset,
                flags,
            });
        }
        let if_seq = be_i64(&c[1..9]);
        if flags & 2 == 0 && if_seq != 0 {
            return Err(FrameError::Invalid {
                frame: i,
                offset,
                what: "an if_seq without the flag that says it is given",
            });
        }
        out.push(RecordUpload {
            collection: raw_to_hex(&c[9..41]),
            id: raw_to_uuid(&c[41..57]),
            if_seq: (flags & 2 != 0).then_some(if_seq),
            deleted: flags & 1 != 0,
            payload: c[UPLOAD_HEAD..].to_vec(),
        });
    }
    r.finish()?;
    Ok(out)
}

fn decode_records(
    r: &mut Reader<'_>,
    max_payload: usize,
) -> Result<Vec<RecordDownload>, FrameError> {
    let mut out = Vec::with_capacity(r.declared as usize);
    for i in 0..r.declared as usize {
        let (c, offset) = r.frame(i, RECORD_HEAD, RECORD_HEAD.saturating_add(max_payload))?;
        let flags = c[0];
        if flags & !1 != 0 {
            return Err(FrameError::Flags {
                frame: i,
                offset,
                flags,
            });
        }
        out.push(RecordDownload {
            deleted: flags & 1 != 0,
            seq: be_i64(&c[1..9]),
            updated_at_ms: be_i64(&c[9..17]),
            collection: raw_to_hex(&c[17..49]),
            id: raw_to_uuid(&c[49..65]),
            payload: c[RECORD_HEAD..].to_vec(),
        });
    }
    r.finish()?;
    Ok(out)
}

/// Reads a page of records, each payload at most `max_payload` bytes.
pub fn decode_page(body: &[u8], max_payload: usize) -> Result<RecordsPage, FrameError> {
    // A page's frames are bounded by its bytes: each is at least a header long.
    let mut r = Reader::open(body, KIND_PAGE, body.len() / (FRAME_OVERHEAD + RECORD_HEAD))?;
    let head = r.take(9, || "the page header".into())?;
    let next = be_i64(&head[..8]);
    let done = match head[8] {
        0 => false,
        1 => true,
        _ => {
            return Err(FrameError::Invalid {
                frame: 0,
                offset: 4 + 1 + 4 + 8,
                what: "the page's done flag is neither 0 nor 1",
            });
        }
    };
    let records = decode_records(&mut r, max_payload)?;
    Ok(RecordsPage {
        records,
        next,
        done,
    })
}

/// Reads the records of a 409 answer.
pub fn decode_conflict(body: &[u8], max_payload: usize) -> Result<Vec<RecordDownload>, FrameError> {
    let mut r = Reader::open(
        body,
        KIND_CONFLICT,
        body.len() / (FRAME_OVERHEAD + RECORD_HEAD),
    )?;
    decode_records(&mut r, max_payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upload(i: u8, payload: usize) -> RecordUpload {
        RecordUpload {
            collection: format!("{:02x}", i).repeat(32),
            id: format!("0000000{i:x}-0000-4000-8000-00000000000{:x}", i % 16),
            if_seq: i.is_multiple_of(2).then_some(i64::from(i) * 1000),
            deleted: i.is_multiple_of(3),
            payload: vec![i; payload],
        }
    }

    fn download(i: u8) -> RecordDownload {
        let u = upload(i, 10 + usize::from(i));
        RecordDownload {
            collection: u.collection,
            id: u.id,
            seq: i64::from(i) + 1,
            deleted: u.deleted,
            updated_at_ms: 1_700_000_000_000 + i64::from(i),
            payload: u.payload,
        }
    }

    #[test]
    fn uploads_and_pages_read_back_as_written() {
        let ups: Vec<_> = (0..5)
            .map(|i| upload(i, 100 * usize::from(i) + 1))
            .collect();
        let body = encode_upload(&ups).unwrap();
        let payload: usize = ups.iter().map(|u| u.payload.len()).sum();
        assert_eq!(body.len(), upload_overhead(ups.len()) + payload);
        assert_eq!(decode_upload(&body, 100, 1 << 20).unwrap(), ups);

        let page = RecordsPage {
            records: (0..4).map(download).collect(),
            next: 42,
            done: true,
        };
        let back = decode_page(&encode_page(&page), 1 << 20).unwrap();
        assert_eq!(back.records, page.records);
        assert_eq!((back.next, back.done), (42, true));
        let empty = decode_page(
            &encode_page(&RecordsPage {
                records: vec![],
                next: 7,
                done: false,
            }),
            10,
        )
        .unwrap();
        assert!(empty.records.is_empty() && empty.next == 7 && !empty.done);
        let conflict = encode_conflict(&page.records);
        assert_eq!(decode_conflict(&conflict, 1 << 20).unwrap(), page.records);
        assert!(matches!(
            decode_page(&conflict, 1 << 20),
            Err(FrameError::WrongKind { .. })
        ));
    }

    #[test]
    fn a_flipped_bit_anywhere_in_a_frame_is_refused() {
        let body = encode_upload(&[upload(1, 50), upload(2, 50)]).unwrap();
        let header = 9;
        for byte in 0..body.len() {
            for bit in 0..8 {
                let mut bad = body.clone();
                bad[byte] ^= 1 << bit;
                assert!(
                    decode_upload(&bad, 100, 1 << 20).is_err(),
                    "flipping bit {bit} of byte {byte} went unnoticed"
                );
            }
        }
        let mut bad = body.clone();
        bad[header + 4 + 20] ^= 4;
        assert_eq!(
            decode_upload(&bad, 100, 1 << 20),
            Err(FrameError::Checksum {
                frame: 0,
                offset: header
            })
        );
    }

    #[test]
    fn truncated_oversized_and_lying_bodies_are_refused_by_name() {
        let ups = [upload(1, 50), upload(2, 60), upload(3, 70)];
        let body = encode_upload(&ups).unwrap();
        for cut in 0..body.len() {
            assert!(
                decode_upload(&body[..cut], 100, 1 << 20).is_err(),
                "cut at {cut}"
            );
        }
        let err = decode_upload(&body[..body.len() - 10], 100, 1 << 20).unwrap_err();
        assert!(err.to_string().contains("cut off in frame 2"), "{err}");
        // Oversized: over the payload limit.
        let err = decode_upload(&body, 100, 55).unwrap_err();
        assert!(err.is_oversized(), "{err}");
        assert!(err.to_string().contains("frame 1"), "{err}");
        // A count that says more frames than there are.
        let mut more = body.clone();
        more[5..9].copy_from_slice(&4u32.to_be_bytes());
        let err = decode_upload(&more, 100, 1 << 20).unwrap_err();
        assert!(err.to_string().contains("declares 4 frames"), "{err}");
        // Fewer: the rest is trailing.
        let mut fewer = body.clone();
        fewer[5..9].copy_from_slice(&2u32.to_be_bytes());
        let err = decode_upload(&fewer, 100, 1 << 20).unwrap_err();
        assert!(
            matches!(err, FrameError::Trailing { declared: 2, .. }),
            "{err}"
        );
        // A count far past the limit is refused before anything is read or allocated.
        let mut huge = body.clone();
        huge[5..9].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(
            decode_upload(&huge, 100, 1 << 20),
            Err(FrameError::TooManyFrames { max: 100, .. })
        ));
        assert_eq!(
            decode_upload(b"{\"records\": []}", 100, 10),
            Err(FrameError::NotFrames)
        );
    }

    #[test]
    fn uploads_that_cannot_be_framed_say_which_record() {
        let mut bad = upload(1, 5);
        bad.collection = "runs".into();
        assert!(matches!(
            encode_upload(&[bad]),
            Err(EncodeError::Collection(_))
        ));
        let mut bad = upload(1, 5);
        bad.id = "profile".into();
        assert!(matches!(encode_upload(&[bad]), Err(EncodeError::Id(_))));
    }
}
