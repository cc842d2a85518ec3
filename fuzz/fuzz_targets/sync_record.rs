#![no_main]
//! The client's side of a downloaded sync record: the envelope opened with the data key
//! (`DataKey::open`, `DataKey::unwrap`), the plaintext decoded into a `Record`
//! (`sync::engine::decode_plaintext`, as `Engine` opens a download with `open_record`), and the
//! record merged into a store and applied to its tables (`Store::sync_merge_remote`).
//! Properties:
//!
//! - mode 0, plaintext: any bytes decode, as either envelope format's plaintext (JSON, or the
//!   compressed binary encoding), to a record or an error; a decoded record encodes and
//!   decodes back bit-exactly (every f64 by its bits), its stamps read back from their text, and
//!   merging it with itself changes nothing;
//! - mode 1, ciphertext: arbitrary envelopes, downloads and wrapped keys under a fixed key are
//!   errors, never a panic; a sealed record with any byte changed does not open;
//! - mode 2, round trip: a record made from the input, sealed as the engine uploads it and opened
//!   as the engine downloads it, comes back bit-exactly, under the right tag and id, padded to
//!   a Padmé size;
//! - mode 3, store: records made from the input (any values, stamps, ids) merged into a fresh
//!   store (a copy of an empty one, in /dev/shm) give stats or an error, never a panic.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use libfuzzer_sys::arbitrary::{Arbitrary, Result as AResult, Unstructured};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use strideguard_core::clock::ManualClock;
use strideguard_core::crypto::{
    DataKey, ENVELOPE_V1, ENVELOPE_V2, KdfParams, MasterKey, padme,
};
use strideguard_core::hlc::Stamp;
use strideguard_core::store::collections::{COLLECTIONS, SyncCollection};
use strideguard_core::store::{IncomingRecord, OutgoingRecord, Store};
use strideguard_core::sync::engine::{
    decode_plaintext, encode_plaintext, open_record, seal_record,
};
use strideguard_core::sync::wire::RecordDownload;
use strideguard_core::sync::{Field, Record, merge};

const KEY: [u8; 32] = [0x5a; 32];

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let key = DataKey::from_bytes(KEY);
    match mode % 4 {
        0 => plaintext(rest),
        1 => ciphertext(&key, rest),
        2 => {
            let _ = round_trip(&key, &mut Unstructured::new(rest));
        }
        _ => {
            let _ = apply(&mut Unstructured::new(rest));
        }
    }
});

/// Bit-exact equality of JSON values: numbers of the same kind, floats by their bits.
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if x.is_f64() || y.is_f64() {
                x.is_f64()
                    && y.is_f64()
                    && x.as_f64().map(f64::to_bits) == y.as_f64().map(f64::to_bits)
            } else {
                x == y
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_value(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((ka, va), (kb, vb))| ka == kb && same_value(va, vb))
        }
        _ => a == b,
    }
}

fn same_record(a: &Record, b: &Record) -> bool {
    a.deleted == b.deleted
        && a.fields.len() == b.fields.len()
        && a.fields.iter().zip(&b.fields).all(|((ka, fa), (kb, fb))| {
            ka == kb && fa.stamp == fb.stamp && same_value(&fa.value, &fb.value)
        })
}

fn check_stamps(r: &Record) {
    for s in r.fields.values().map(|f| f.stamp).chain(r.deleted) {
        let text = s.to_string();
        assert_eq!(text.parse::<Stamp>().ok(), Some(s), "stamp {text}");
    }
}

fn plaintext(data: &[u8]) {
    // The first byte picks the envelope format whose plaintext the rest is read as.
    let Some((&format, plain)) = data.split_first() else {
        return;
    };
    let envelope = if format % 2 == 0 {
        ENVELOPE_V1
    } else {
        ENVELOPE_V2
    };
    let Ok((c, id, record)) = decode_plaintext(envelope, plain) else {
        return;
    };
    check_stamps(&record);
    let _ = record.is_deleted();
    let _ = record.latest_stamp();
    let encoded = encode_plaintext(&c, &id, &record);
    let (c2, id2, again) =
        decode_plaintext(ENVELOPE_V2, &encoded).expect("an encoded record decodes");
    assert_eq!((&c2, &id2), (&c, &id));
    assert!(
        same_record(&again, &record),
        "{record:?} came back as {again:?}"
    );
    assert!(same_record(&merge(&record, &record), &record));
}

fn collection(u: &mut Unstructured) -> AResult<&'static dyn SyncCollection> {
    Ok(*u.choose(COLLECTIONS)?)
}

fn ciphertext(key: &DataKey, data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(col) = collection(&mut u) else { return };
    let id = String::arbitrary(&mut u).unwrap_or_default();
    let version = u32::arbitrary(&mut u).unwrap_or(1);
    let tamper = bool::arbitrary(&mut u).unwrap_or(false);
    let bytes = u.take_rest();
    if tamper {
        // A record sealed with the key, with the input xored in from some offset.
        let (offset, mask) = bytes.split_first().map_or((0, &[][..]), |(o, m)| (*o, m));
        let record = Record::default();
        let rec = OutgoingRecord {
            collection: col.name(),
            local_id: id.clone(),
            record,
            server_seq: 0,
            stored: String::new(),
        };
        let up = seal_record(key, "tag", &rec).expect("sealing works");
        let mut payload = up.payload.clone();
        let start = usize::from(offset) % payload.len();
        let mut changed = false;
        for (p, m) in payload[start..].iter_mut().zip(mask) {
            *p ^= m;
            changed |= *m != 0;
        }
        let down = RecordDownload {
            collection: up.collection,
            id: up.id,
            seq: 1,
            deleted: false,
            updated_at_ms: 0,
            payload,
        };
        let opened = open_record(key, col, &down);
        if changed {
            assert!(opened.is_err(), "a changed record opened: {opened:?}");
        } else {
            assert_eq!(opened.map(|r| r.local_id), Ok(id));
        }
        return;
    }
    let down = RecordDownload {
        collection: String::new(),
        id: id.clone(),
        seq: 1,
        deleted: false,
        updated_at_ms: 0,
        payload: bytes.to_vec(),
    };
    assert!(open_record(key, col, &down).is_err());
    assert!(key.open(col.name(), &id, version, bytes).is_err());
    let wrap = MasterKey::derive("fuzz", "fuzz", KdfParams { iterations: 1 })
        .expect("one iteration")
        .wrap_key();
    assert!(DataKey::unwrap(bytes, &wrap).is_err());
}

fn value(u: &mut Unstructured, depth: u32) -> AResult<Value> {
    Ok(match u.int_in_range(0..=9u8)? {
        0 => Value::Null,
        1 => Value::Bool(bool::arbitrary(u)?),
        2 => Value::from(i64::arbitrary(u)?),
        3 => Value::from(u64::arbitrary(u)?),
        // Any bits: non-finite ones have no JSON number and are null.
        4 | 5 => Value::from(f64::arbitrary(u)?),
        6 => Value::String(String::arbitrary(u)?),
        7 if depth > 0 => {
            let n = u.int_in_range(0..=3)?;
            Value::Array(
                (0..n)
                    .map(|_| value(u, depth - 1))
                    .collect::<AResult<_>>()?,
            )
        }
        8 if depth > 0 => {
            let n = u.int_in_range(0..=3)?;
            let mut m = serde_json::Map::new();
            for _ in 0..n {
                m.insert(String::arbitrary(u)?, value(u, depth - 1)?);
            }
            Value::Object(m)
        }
        _ => {
            use base64::Engine as _;
            let bytes = <Vec<u8>>::arbitrary(u)?;
            serde_json::json!({ "b64": base64::engine::general_purpose::STANDARD.encode(bytes) })
        }
    })
}

fn stamp(u: &mut Unstructured) -> AResult<Stamp> {
    Ok(Stamp {
        wall_ms: u64::arbitrary(u)?,
        counter: u32::arbitrary(u)?,
        node: uuid::Uuid::from_bytes(<[u8; 16]>::arbitrary(u)?),
    })
}

/// A record from the input, with field names often the collections' own.
fn record(u: &mut Unstructured) -> AResult<Record> {
    const NAMES: &[&str] = &[
        "units",
        "time_zone",
        "cadence_target",
        "thresholds",
        "name",
        "default",
        "retired",
        "distance_m",
        "duration_s",
        "start_unix_ms",
        "shoe_id",
        "kind",
        "rpe",
        "notes",
        "sample_count",
        "data",
        "answers",
        "logged_at_ms",
        "plan_for",
        "day",
    ];
    let mut fields = BTreeMap::new();
    for _ in 0..u.int_in_range(0..=6)? {
        let name = if bool::arbitrary(u)? {
            u.choose(NAMES)?.to_string()
        } else {
            String::arbitrary(u)?
        };
        fields.insert(
            name,
            Field {
                value: value(u, 2)?,
                stamp: stamp(u)?,
            },
        );
    }
    let deleted = if bool::arbitrary(u)? {
        Some(stamp(u)?)
    } else {
        None
    };
    Ok(Record { fields, deleted })
}

fn round_trip(key: &DataKey, u: &mut Unstructured) -> AResult<()> {
    let col = collection(u)?;
    let local_id = String::arbitrary(u)?;
    let record = record(u)?;
    let server_seq = i64::arbitrary(u)?;
    let rec = OutgoingRecord {
        collection: col.name(),
        local_id: local_id.clone(),
        record: record.clone(),
        server_seq,
        stored: String::new(),
    };
    let tag = key.collection_tag(col.name());
    let up = seal_record(key, &tag, &rec).expect("a record seals");
    assert_eq!(up.collection, tag);
    assert_eq!(up.id, key.record_id(col.name(), &local_id));
    assert_eq!(up.deleted, record.is_deleted());
    assert_eq!(up.if_seq, Some(server_seq));
    // Schema version, envelope version, nonce, padded plaintext, tag.
    let sealed_len = up.payload.len() - 2 - 1 - 12 - 16;
    assert_eq!(up.payload[2], ENVELOPE_V2);
    assert_eq!(padme(sealed_len), sealed_len, "padded to a Padmé size");
    let down = RecordDownload {
        collection: up.collection.clone(),
        id: up.id.clone(),
        seq: 7,
        deleted: up.deleted,
        updated_at_ms: 0,
        payload: up.payload,
    };
    let inc = open_record(key, col, &down).expect("a sealed record opens");
    assert_eq!(inc.collection, col.name());
    assert_eq!(inc.local_id, local_id);
    assert_eq!(inc.server_seq, 7);
    assert!(
        same_record(&inc.record, &record),
        "{record:?} came back as {:?}",
        inc.record
    );
    // Sealed under another record's id, it does not open as this one.
    let other = RecordDownload {
        id: key.record_id(col.name(), &format!("{local_id}x")),
        ..down
    };
    assert!(open_record(key, col, &other).is_err());
    Ok(())
}

fn apply(u: &mut Unstructured) -> AResult<()> {
    let mut incoming = Vec::new();
    for _ in 0..u.int_in_range(1..=3)? {
        let col = collection(u)?;
        incoming.push(IncomingRecord {
            collection: col.name(),
            local_id: String::arbitrary(u)?,
            record: record(u)?,
            server_seq: i64::arbitrary(u)?,
            old_encoding: bool::arbitrary(u)?,
        });
    }
    let now = i64::arbitrary(u)?;
    let mut store = fresh_store(now);
    let _ = store.sync_merge_remote(&incoming, Some(1));
    Ok(())
}

/// A new, empty store for each input: a copy of one migrated once (migrating each time would
/// cost 30 ms an input), so every input starts from the same state and a crash replays.
fn fresh_store(now_ms: i64) -> Store {
    static TEMPLATE: OnceLock<PathBuf> = OnceLock::new();
    let dir = TEMPLATE.get_or_init(|| {
        let shm = std::path::Path::new("/dev/shm");
        let base = if shm.is_dir() {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!("strideguard-fuzz-sync-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary folder");
        let _ = std::fs::remove_file(dir.join("template.db"));
        drop(Store::open(dir.join("template.db")).expect("a new store"));
        dir
    });
    let work = dir.join("work.db");
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(dir.join(format!("work.db{suffix}")));
    }
    std::fs::copy(dir.join("template.db"), &work).expect("copying the template");
    Store::open_with_clock(&work, Arc::new(ManualClock::new(now_ms))).expect("the copied store")
}
