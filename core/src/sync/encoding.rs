//! The plaintext of a sealed record, as devices exchange it inside envelope format 2: a compact
//! binary encoding of the collection, the local id and the record (every field's value and
//! hybrid-logical-clock stamp), compressed with zstd when that makes it smaller. Envelope
//! format 1 held the same as JSON ([`decode_json`]), with blobs as base64 inside it.
//!
//! ```text
//! plaintext = method u8 (0: stored, 1: zstd) | body, compressed by that method
//! body      = 1 u8 | str collection | str local id | count varint | field * count | deleted
//! field     = str name | stamp | value
//! deleted   = 0 u8 | 1 u8 stamp
//! stamp     = wall_ms varint | counter varint | node [16]
//! value     = 0 null | 1 false | 2 true | 3 int (zigzag varint) | 4 uint (varint, above
//!             i64::MAX) | 5 float (f64, 8 bytes big-endian) | 6 text (str) | 7 bytes (len
//!             varint, raw) | 8 list (count varint, values) | 9 object (count varint, (str,
//!             value) pairs)
//! str       = len varint | UTF-8
//! ```
//!
//! A blob (in the record model, an object `{"b64": "..."}`) is encoded as bytes, so a sample
//! chunk is sealed as its own bytes and never as base64. Decoding checks every length against
//! the bytes left and bounds nesting and the decompressed size, and never panics.

use std::cell::RefCell;
use std::collections::BTreeMap;

use serde_json::Value;
use uuid::Uuid;

use super::{Field, Record};
use crate::hlc::Stamp;

const STORED: u8 = 0;
const ZSTD: u8 = 1;
const BODY_V1: u8 = 1;

/// zstd's fastest regular level: sample chunks are already delta-coded, and the upload of a
/// whole history must stay near the speed of writing it.
const LEVEL: i32 = 1;
/// Bodies shorter than this are stored: zstd's frame header would eat the gain.
const MIN_COMPRESS: usize = 64;
/// A record's body never decompresses past this (a sample chunk is well under 1 MiB), so a
/// small hostile payload cannot claim gigabytes.
pub const MAX_BODY: usize = 16 * 1024 * 1024;
/// Lists and objects nest at most this deep.
const MAX_DEPTH: usize = 32;

/// What is wrong with a record's plaintext.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodingError {
    #[error("unknown compression method {0}")]
    UnknownMethod(u8),
    #[error("the compressed content is corrupt: {0}")]
    Compression(String),
    #[error("the content would be {0} bytes decompressed, over the {MAX_BODY}-byte limit")]
    TooLarge(u64),
    #[error("unknown content format {0}")]
    UnknownFormat(u8),
    #[error("unreadable content at byte {offset}: {what}")]
    Corrupt { offset: usize, what: &'static str },
    #[error("unreadable content: {0}")]
    Json(String),
}

thread_local! {
    static COMPRESSOR: RefCell<Option<zstd::bulk::Compressor<'static>>> = const { RefCell::new(None) };
    static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
}

/// The plaintext of a record in envelope format 2.
pub fn encode(collection: &str, local_id: &str, record: &Record) -> Vec<u8> {
    let mut body = Vec::with_capacity(64 + approx_len(record));
    body.push(BODY_V1);
    put_str(&mut body, collection);
    put_str(&mut body, local_id);
    put_varint(&mut body, record.fields.len() as u64);
    for (name, field) in &record.fields {
        put_str(&mut body, name);
        put_stamp(&mut body, &field.stamp);
        put_value(&mut body, &field.value);
    }
    match &record.deleted {
        None => body.push(0),
        Some(s) => {
            body.push(1);
            put_stamp(&mut body, s);
        }
    }
    if body.len() >= MIN_COMPRESS
        && let Some(compressed) = compress(&body)
        && compressed.len() + 1 < body.len() + 1
    {
        let mut out = Vec::with_capacity(1 + compressed.len());
        out.push(ZSTD);
        out.extend_from_slice(&compressed);
        return out;
    }
    let mut out = Vec::with_capacity(1 + body.len());
    out.push(STORED);
    out.extend_from_slice(&body);
    out
}

fn compress(body: &[u8]) -> Option<Vec<u8>> {
    COMPRESSOR.with(|c| {
        let mut c = c.borrow_mut();
        if c.is_none() {
            *c = zstd::bulk::Compressor::new(LEVEL).ok();
        }
        c.as_mut()?.compress(body).ok()
    })
}

fn decompress(data: &[u8]) -> Result<Vec<u8>, EncodingError> {
    let size = zstd::zstd_safe::get_frame_content_size(data)
        .map_err(|_| EncodingError::Compression("not a zstd frame".into()))?
        .ok_or_else(|| EncodingError::Compression("the frame does not state its size".into()))?;
    if size > MAX_BODY as u64 {
        return Err(EncodingError::TooLarge(size));
    }
    DECOMPRESSOR.with(|d| {
        let mut d = d.borrow_mut();
        if d.is_none() {
            *d = Some(
                zstd::bulk::Decompressor::new()
                    .map_err(|e| EncodingError::Compression(e.to_string()))?,
            );
        }
        let d = d.as_mut().expect("set above");
        let out = d
            .decompress(data, size as usize)
            .map_err(|e| EncodingError::Compression(e.to_string()))?;
        if out.len() as u64 != size {
            return Err(EncodingError::Compression(
                "the frame is shorter than it states".into(),
            ));
        }
        Ok(out)
    })
}

/// Reads a plaintext written by [`encode`]: (collection, local id, record).
pub fn decode(plain: &[u8]) -> Result<(String, String, Record), EncodingError> {
    let (&method, data) = plain.split_first().ok_or(EncodingError::Corrupt {
        offset: 0,
        what: "empty",
    })?;
    let owned;
    let body = match method {
        STORED => data,
        ZSTD => {
            owned = decompress(data)?;
            &owned[..]
        }
        other => return Err(EncodingError::UnknownMethod(other)),
    };
    let mut r = Reader { b: body, pos: 0 };
    let format = r.byte()?;
    if format != BODY_V1 {
        return Err(EncodingError::UnknownFormat(format));
    }
    let collection = r.str()?.to_string();
    let local_id = r.str()?.to_string();
    let count = r.count(1)?;
    let mut fields = BTreeMap::new();
    for _ in 0..count {
        let at = r.pos;
        let name = r.str()?.to_string();
        let stamp = r.stamp()?;
        let value = r.value(0)?;
        if fields.insert(name, Field { value, stamp }).is_some() {
            return Err(EncodingError::Corrupt {
                offset: at,
                what: "a field named twice",
            });
        }
    }
    let deleted = match r.byte()? {
        0 => None,
        1 => Some(r.stamp()?),
        _ => {
            return Err(EncodingError::Corrupt {
                offset: r.pos - 1,
                what: "the deleted flag is neither 0 nor 1",
            });
        }
    };
    if r.pos != body.len() {
        return Err(EncodingError::Corrupt {
            offset: r.pos,
            what: "bytes after the record",
        });
    }
    Ok((collection, local_id, Record { fields, deleted }))
}

/// The plaintext of envelope format 1: the same triple as JSON, written by the first release.
#[derive(serde::Serialize, serde::Deserialize)]
struct Sealed {
    c: String,
    id: String,
    r: Record,
}

/// Format 1's plaintext, as the first release wrote it (for tests of old records).
pub fn encode_json(collection: &str, local_id: &str, record: &Record) -> Vec<u8> {
    serde_json::to_vec(&Sealed {
        c: collection.to_string(),
        id: local_id.to_string(),
        r: record.clone(),
    })
    .expect("records serialise")
}

/// Reads format 1's plaintext.
pub fn decode_json(plain: &[u8]) -> Result<(String, String, Record), EncodingError> {
    let sealed: Sealed =
        serde_json::from_slice(plain).map_err(|e| EncodingError::Json(e.to_string()))?;
    Ok((sealed.c, sealed.id, sealed.r))
}

fn approx_len(record: &Record) -> usize {
    record
        .fields
        .iter()
        .map(|(k, f)| {
            k.len()
                + 32
                + match &f.value {
                    Value::String(s) => s.len(),
                    Value::Object(o) => o
                        .get("b64")
                        .and_then(Value::as_str)
                        .map_or(64, |s| s.len() / 4 * 3),
                    _ => 9,
                }
        })
        .sum()
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

fn put_stamp(out: &mut Vec<u8>, s: &Stamp) {
    put_varint(out, s.wall_ms);
    put_varint(out, u64::from(s.counter));
    out.extend_from_slice(s.node.as_bytes());
}

/// The bytes of a blob object, when `o` is exactly `{"b64": canonical base64}` (then
/// encoding them again gives back the same text, so the record reads back unchanged).
fn blob(o: &serde_json::Map<String, Value>) -> Option<Vec<u8>> {
    if o.len() != 1 {
        return None;
    }
    super::blob_bytes(o.get("b64")?.as_str()?).ok()
}

fn put_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => out.push(0),
        Value::Bool(false) => out.push(1),
        Value::Bool(true) => out.push(2),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                out.push(3);
                put_varint(out, ((i << 1) ^ (i >> 63)) as u64);
            } else if let Some(u) = n.as_u64() {
                out.push(4);
                put_varint(out, u);
            } else {
                out.push(5);
                out.extend_from_slice(&n.as_f64().unwrap_or(0.0).to_be_bytes());
            }
        }
        Value::String(s) => {
            out.push(6);
            put_str(out, s);
        }
        Value::Array(a) => {
            out.push(8);
            put_varint(out, a.len() as u64);
            for x in a {
                put_value(out, x);
            }
        }
        Value::Object(o) => match blob(o) {
            Some(bytes) => {
                out.push(7);
                put_varint(out, bytes.len() as u64);
                out.extend_from_slice(&bytes);
            }
            None => {
                out.push(9);
                put_varint(out, o.len() as u64);
                for (k, x) in o {
                    put_str(out, k);
                    put_value(out, x);
                }
            }
        },
    }
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn corrupt(&self, what: &'static str) -> EncodingError {
        EncodingError::Corrupt {
            offset: self.pos,
            what,
        }
    }

    fn byte(&mut self) -> Result<u8, EncodingError> {
        let b = *self.b.get(self.pos).ok_or(self.corrupt("cut off"))?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], EncodingError> {
        let s = self
            .b
            .get(self.pos..self.pos.saturating_add(n))
            .ok_or(self.corrupt("a length past the end"))?;
        self.pos += n;
        Ok(s)
    }

    fn varint(&mut self) -> Result<u64, EncodingError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            if shift == 63 && b > 1 {
                return Err(self.corrupt("a number past 64 bits"));
            }
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(self.corrupt("a number past 64 bits"))
    }

    /// A count of items at least `min_item` bytes each: never more than the bytes left.
    fn count(&mut self, min_item: usize) -> Result<usize, EncodingError> {
        let n = self.varint()?;
        let left = (self.b.len() - self.pos) / min_item.max(1);
        if n > left as u64 {
            return Err(self.corrupt("a count past the end"));
        }
        Ok(n as usize)
    }

    fn str(&mut self) -> Result<&'a str, EncodingError> {
        let n = self.count(1)?;
        let at = self.pos;
        std::str::from_utf8(self.take(n)?).map_err(|_| EncodingError::Corrupt {
            offset: at,
            what: "text that is not UTF-8",
        })
    }

    fn stamp(&mut self) -> Result<Stamp, EncodingError> {
        let wall_ms = self.varint()?;
        let counter = u32::try_from(self.varint()?)
            .map_err(|_| self.corrupt("a stamp counter past 32 bits"))?;
        let node = Uuid::from_slice(self.take(16)?).expect("16 bytes");
        Ok(Stamp {
            wall_ms,
            counter,
            node,
        })
    }

    fn value(&mut self, depth: usize) -> Result<Value, EncodingError> {
        if depth > MAX_DEPTH {
            return Err(self.corrupt("values nested too deep"));
        }
        Ok(match self.byte()? {
            0 => Value::Null,
            1 => Value::Bool(false),
            2 => Value::Bool(true),
            3 => {
                let z = self.varint()?;
                Value::from(((z >> 1) as i64) ^ -((z & 1) as i64))
            }
            4 => Value::from(self.varint()?),
            5 => {
                let f = f64::from_be_bytes(self.take(8)?.try_into().expect("8 bytes"));
                serde_json::Number::from_f64(f)
                    .map(Value::Number)
                    .ok_or(self.corrupt("a number that is not finite"))?
            }
            6 => Value::String(self.str()?.to_string()),
            7 => {
                let n = self.count(1)?;
                super::blob_value(self.take(n)?)
            }
            8 => {
                let n = self.count(1)?;
                // Each item is at least a byte, but nested lists would multiply a claim of
                // that many: grow as items arrive.
                let mut a = Vec::with_capacity(n.min(64));
                for _ in 0..n {
                    a.push(self.value(depth + 1)?);
                }
                Value::Array(a)
            }
            9 => {
                let n = self.count(2)?;
                let mut o = serde_json::Map::new();
                for _ in 0..n {
                    let k = self.str()?.to_string();
                    let v = self.value(depth + 1)?;
                    o.insert(k, v);
                }
                Value::Object(o)
            }
            _ => return Err(self.corrupt("an unknown value type")),
        })
    }
}

#[cfg(test)]
mod tests {
    // The tests write blobs with the `base64` crate: the record model's text must not change.
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD as B64;
    use proptest::prelude::*;

    fn stamp(wall_ms: u64, counter: u32, node: u8) -> Stamp {
        Stamp {
            wall_ms,
            counter,
            node: Uuid::from_bytes([node; 16]),
        }
    }

    fn sample_record() -> Record {
        let mut fields = BTreeMap::new();
        let values = [
            ("null", Value::Null),
            ("yes", Value::Bool(true)),
            ("no", Value::Bool(false)),
            ("neg", serde_json::json!(-42)),
            ("big", serde_json::json!(u64::MAX)),
            ("min", serde_json::json!(i64::MIN)),
            ("pi", serde_json::json!(std::f64::consts::PI)),
            ("tiny", serde_json::json!(1.398043286108377e-76)),
            ("text", serde_json::json!("Brooks Ghost 15 — ünïcode")),
            (
                "data",
                serde_json::json!({ "b64": B64.encode((0..=255u8).collect::<Vec<_>>()) }),
            ),
            ("list", serde_json::json!([1, "two", [3.5, null]])),
            ("obj", serde_json::json!({"b64": "not base64!", "x": 1})),
            ("odd", serde_json::json!({"b64": "AA=="})),
        ];
        for (i, (k, v)) in values.into_iter().enumerate() {
            fields.insert(
                k.to_string(),
                Field {
                    value: v,
                    stamp: stamp(1_700_000_000_000 + i as u64, i as u32, i as u8),
                },
            );
        }
        Record {
            fields,
            deleted: Some(stamp(1_800_000_000_000, 3, 9)),
        }
    }

    #[test]
    fn every_kind_of_value_reads_back_exactly() {
        let r = sample_record();
        let plain = encode("runs", "r-1", &r);
        let (c, id, back) = decode(&plain).unwrap();
        assert_eq!((c.as_str(), id.as_str()), ("runs", "r-1"));
        assert_eq!(back, r);
        let tiny = back.fields["tiny"].value.as_f64().unwrap();
        assert_eq!(tiny.to_bits(), 1.398043286108377e-76_f64.to_bits());
    }

    #[test]
    fn a_blob_travels_as_its_bytes_compressed_and_not_as_base64() {
        let chunk: Vec<u8> = (0..5000u32).map(|i| (i % 7) as u8).collect();
        let mut r = Record::default();
        r.fields.insert(
            "data".into(),
            Field {
                value: serde_json::json!({ "b64": B64.encode(&chunk) }),
                stamp: stamp(1, 0, 1),
            },
        );
        let plain = encode("run_samples", "run:0", &r);
        assert_eq!(plain[0], ZSTD);
        assert!(plain.len() < 500, "{} bytes", plain.len());
        let json = encode_json("run_samples", "run:0", &r);
        assert!(json.len() > 6600);
        assert_eq!(decode(&plain).unwrap().2, r);
        // Incompressible bytes are stored, no bigger than they are (plus the framing).
        let noise: Vec<u8> = (0..5000u64)
            .map(|i| (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8)
            .collect();
        r.fields.get_mut("data").unwrap().value = serde_json::json!({ "b64": B64.encode(&noise) });
        let plain = encode("run_samples", "run:0", &r);
        assert!(plain.len() < 5000 + 64, "{}", plain.len());
        assert_eq!(decode(&plain).unwrap().2, r);
    }

    #[test]
    fn damaged_content_is_an_error_never_a_panic() {
        let plain = encode("runs", "r-1", &sample_record());
        let stored = {
            let (_, body) = plain.split_first().unwrap();
            let mut s = vec![STORED];
            s.extend(if plain[0] == ZSTD {
                zstd::bulk::decompress(body, MAX_BODY).unwrap()
            } else {
                body.to_vec()
            });
            s
        };
        for cut in 0..stored.len() {
            assert!(decode(&stored[..cut]).is_err(), "cut at {cut}");
        }
        for cut in 0..plain.len() {
            assert!(decode(&plain[..cut]).is_err(), "cut at {cut}");
        }
        assert_eq!(decode(&[7, 1]), Err(EncodingError::UnknownMethod(7)));
        assert_eq!(decode(&[STORED, 2]), Err(EncodingError::UnknownFormat(2)));
        // A count that claims more fields than there are bytes.
        let lie = [STORED, BODY_V1, 1, b'c', 1, b'i', 0xff, 0xff, 0xff, 0x0f];
        assert!(matches!(decode(&lie), Err(EncodingError::Corrupt { .. })));
        // A small frame that claims a huge size.
        let bomb = zstd::bulk::compress(&vec![0u8; MAX_BODY + 1], 1).unwrap();
        let mut p = vec![ZSTD];
        p.extend(bomb);
        assert_eq!(
            decode(&p),
            Err(EncodingError::TooLarge(MAX_BODY as u64 + 1))
        );
    }

    fn arb_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            ".{0,20}".prop_map(Value::String),
            proptest::collection::vec(any::<u8>(), 0..100)
                .prop_map(|b| serde_json::json!({ "b64": B64.encode(b) })),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map(".{0,5}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn any_record_reads_back_as_written(
            fields in proptest::collection::btree_map(".{0,12}", (arb_value(), any::<u64>(), any::<u32>(), any::<u8>()), 0..6),
            deleted in proptest::option::of((any::<u64>(), any::<u32>(), any::<u8>())),
            collection in ".{0,12}",
            local_id in ".{0,40}",
        ) {
            let record = Record {
                fields: fields
                    .into_iter()
                    .map(|(k, (value, w, c, n))| (k, Field { value, stamp: stamp(w, c, n) }))
                    .collect(),
                deleted: deleted.map(|(w, c, n)| stamp(w, c, n)),
            };
            let plain = encode(&collection, &local_id, &record);
            let (c, id, back) = decode(&plain).unwrap();
            prop_assert_eq!(c, collection);
            prop_assert_eq!(id, local_id);
            prop_assert_eq!(back, record);
        }

        #[test]
        fn any_bytes_decode_to_a_record_or_an_error(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode(&bytes);
            let mut stored = vec![STORED, BODY_V1];
            stored.extend(&bytes);
            let _ = decode(&stored);
        }
    }
}
