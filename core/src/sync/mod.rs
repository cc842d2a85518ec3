//! Sync, the pure part: how records from different devices merge (sync-protocol.md, "Records and
//! merge rules"). Every field carries the hybrid-logical-clock stamp of its last write, and the
//! later stamp wins field by field, so edits to different fields on two devices both survive.
//! Deletion is a tombstone that wins over older writes. Merging is commutative, associative and
//! idempotent: applying the same records twice, or in any order, gives the same state.
//!
//! Around the merge: [`engine`] (the state machine that moves records over a [`Transport`]),
//! [`http`] (the HTTP transport and account calls), [`wire`] (the JSON of the API, shared with
//! the server), [`encoding`] (a record's plaintext inside its envelope) and [`account`]
//! (register, login, passphrase change, sync now).

pub mod account;
pub mod encoding;
pub mod engine;
pub mod http;
/// The API's JSON bodies, shared with the server (they live in `strideguard-proto`).
pub use strideguard_proto::wire;

pub use engine::{
    Engine, PushReply, SyncError, SyncEvent, SyncSummary, Transport, TransportError, sync,
};

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::hlc::Stamp;

/// A blob (a run's sample chunk) as the record model holds it: `{"b64": standard base64}`.
/// Every blob on its way between a table and a record passes through here or
/// [`blob_bytes`], so their base64 is SIMD code: a 10-year history moves 265 MB of chunks
/// through these two on a first sync, and the `base64` crate's engine took about a fifth of
/// the device's time in an upload (perf: 11% encoding, 9% decoding). The text is the same as
/// that engine's.
pub(crate) fn blob_value(bytes: &[u8]) -> serde_json::Value {
    serde_json::json!({ "b64": base64_simd::STANDARD.encode_to_string(bytes) })
}

/// The bytes of a blob's text, which must be canonical standard base64 (padded, no stray
/// bits), as [`blob_value`] writes it.
pub(crate) fn blob_bytes(text: &str) -> Result<Vec<u8>, String> {
    base64_simd::STANDARD.decode_to_vec(text).map_err(|_| {
        format!(
            "the blob's {} characters are not canonical base64",
            text.len()
        )
    })
}

/// One field's value and the stamp of the write that set it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Field {
    pub value: serde_json::Value,
    #[serde(with = "stamp_text")]
    pub stamp: Stamp,
}

/// A record as devices exchange it (inside the encrypted payload).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Record {
    pub fields: BTreeMap<String, Field>,
    /// When it was deleted, if it was.
    #[serde(
        default,
        with = "opt_stamp_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub deleted: Option<Stamp>,
}

impl Record {
    /// A tombstone wins over every write older than it.
    pub fn is_deleted(&self) -> bool {
        match self.deleted {
            Some(d) => self.fields.values().all(|f| f.stamp < d),
            None => false,
        }
    }

    /// The newest stamp in the record: what the device's clock must observe after merging it.
    pub fn latest_stamp(&self) -> Option<Stamp> {
        self.fields
            .values()
            .map(|f| f.stamp)
            .chain(self.deleted)
            .max()
    }
}

/// Merges `other` into `mine`: per field the later stamp wins; the later tombstone is kept.
pub fn merge(mine: &Record, other: &Record) -> Record {
    let mut out = mine.clone();
    for (name, theirs) in &other.fields {
        match out.fields.get(name) {
            Some(ours) if ours.stamp >= theirs.stamp => {}
            _ => {
                out.fields.insert(name.clone(), theirs.clone());
            }
        }
    }
    out.deleted = match (mine.deleted, other.deleted) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    out
}

mod stamp_text {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::hlc::Stamp;

    pub fn serialize<S: Serializer>(s: &Stamp, ser: S) -> Result<S::Ok, S::Error> {
        ser.collect_str(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(de: D) -> Result<Stamp, D::Error> {
        let s = String::deserialize(de)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

mod opt_stamp_text {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::hlc::Stamp;

    pub fn serialize<S: Serializer>(s: &Option<Stamp>, ser: S) -> Result<S::Ok, S::Error> {
        match s {
            Some(s) => ser.collect_str(s),
            None => ser.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(de: D) -> Result<Option<Stamp>, D::Error> {
        Option::<String>::deserialize(de)?
            .map(|s| s.parse().map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use uuid::Uuid;

    proptest! {
        /// Blobs written before the SIMD base64 (by the `base64` crate) read back the same,
        /// and new ones are the same text; text that crate refuses (bad characters, missing
        /// padding, stray bits in the last character) is refused here too.
        #[test]
        fn blob_text_is_the_base64_crates(
            bytes in proptest::collection::vec(any::<u8>(), 0..300),
            text in "[A-Za-z0-9+/=]{0,12}|[ -~]{0,12}",
        ) {
            use base64::Engine as _;
            let b64 = base64::engine::general_purpose::STANDARD;
            let value = blob_value(&bytes);
            prop_assert_eq!(value["b64"].as_str().unwrap(), b64.encode(&bytes));
            prop_assert_eq!(blob_bytes(&b64.encode(&bytes)).unwrap(), bytes);
            prop_assert_eq!(blob_bytes(&text).ok(), b64.decode(&text).ok(), "text {:?}", text);
        }

        /// The same on texts long enough for the SIMD loop (a chunk's are kilobytes): one
        /// character of a valid text changed to any ASCII byte, anywhere.
        #[test]
        fn long_blob_text_with_one_character_changed_is_judged_as_the_base64_crate_does(
            bytes in proptest::collection::vec(any::<u8>(), 100..700),
            at in any::<proptest::sample::Index>(),
            to in 0u8..128,
        ) {
            use base64::Engine as _;
            let b64 = base64::engine::general_purpose::STANDARD;
            let mut text = b64.encode(&bytes).into_bytes();
            let i = at.index(text.len());
            text[i] = to;
            let text = String::from_utf8(text).unwrap();
            prop_assert_eq!(blob_bytes(&text).ok(), b64.decode(&text).ok(), "at {} to {}", i, to);
        }
    }

    #[test]
    fn blob_text_that_is_not_canonical_base64_is_refused() {
        for bad in [
            "====", "AB==", "AAB=", "AAAA\n", " AAAA", "AA=A", "AA", "A", "AAAAA", "AA==AA==",
        ] {
            assert!(blob_bytes(bad).is_err(), "{bad:?} was accepted");
        }
        assert_eq!(blob_bytes("").unwrap(), Vec::<u8>::new());
        assert_eq!(blob_bytes("AA==").unwrap(), vec![0]);
        assert_eq!(blob_bytes("AAA=").unwrap(), vec![0, 0]);
        assert_eq!(blob_value(&[0xfb, 0xff])["b64"], "+/8=");
    }

    fn stamp(wall_ms: u64, node: u8) -> Stamp {
        Stamp {
            wall_ms,
            counter: 0,
            node: Uuid::from_bytes([node; 16]),
        }
    }

    fn rec(fields: &[(&str, i64, u64, u8)]) -> Record {
        Record {
            fields: fields
                .iter()
                .map(|(k, v, t, n)| {
                    (
                        k.to_string(),
                        Field {
                            value: serde_json::json!(v),
                            stamp: stamp(*t, *n),
                        },
                    )
                })
                .collect(),
            deleted: None,
        }
    }

    #[test]
    fn edits_to_different_fields_on_two_devices_both_survive() {
        let base = rec(&[("kind", 1, 10, 1), ("rpe", 4, 10, 1)]);
        let phone = merge(&base, &rec(&[("kind", 2, 20, 1)]));
        let watch = merge(&base, &rec(&[("rpe", 7, 25, 2)]));
        let a = merge(&phone, &watch);
        let b = merge(&watch, &phone);
        assert_eq!(a, b);
        assert_eq!(a.fields["kind"].value, 2);
        assert_eq!(a.fields["rpe"].value, 7);
    }

    #[test]
    fn the_later_write_wins_and_equal_times_break_by_device() {
        let x = rec(&[("notes", 1, 30, 1)]);
        let y = rec(&[("notes", 2, 30, 2)]);
        assert_eq!(merge(&x, &y).fields["notes"].value, 2);
        assert_eq!(merge(&y, &x).fields["notes"].value, 2);
    }

    #[test]
    fn a_tombstone_wins_over_older_writes_only() {
        let del = Record {
            deleted: Some(stamp(50, 1)),
            ..Record::default()
        };
        let older = rec(&[("kind", 1, 40, 2)]);
        assert!(merge(&older, &del).is_deleted());
        assert!(merge(&del, &older).is_deleted());
        let newer = rec(&[("kind", 1, 60, 2)]);
        assert!(
            !merge(&del, &newer).is_deleted(),
            "an edit after the delete brings it back"
        );
        assert_eq!(merge(&del, &newer).latest_stamp(), Some(stamp(60, 2)));
    }

    #[test]
    fn records_travel_as_json() {
        let mut r = rec(&[("kind", 1, 40, 2)]);
        r.deleted = Some(stamp(50, 1));
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<Record>(&json).unwrap(), r);
    }

    /// Found by the `sync_record` fuzz target: serde_json's default float parser read
    /// 1.398043286108377e-76 back as 1.3980432861083768e-76 (one ULP off), so a value synced
    /// from another device was not the one written there. The exact plaintext bytes, decoded
    /// as a downloaded record is, and the round trip.
    #[test]
    fn fuzz_record_f64_reads_back_bit_exactly() {
        let plain = br#"{"c":"runs","id":"r1","r":{"fields":{"distance_m":{"value":1.398043286108377e-76,"stamp":"00303085ab1c9330-00000000-00000000-0000-0000-0000-000000000000"}}}}"#;
        let (_, _, record) = engine::decode_plaintext(crate::crypto::ENVELOPE_V1, plain).unwrap();
        let value = record.fields["distance_m"].value.as_f64().unwrap();
        assert_eq!(value.to_bits(), 1.398043286108377e-76_f64.to_bits());
        let again = engine::encode_plaintext("runs", "r1", &record);
        let (_, _, back) = engine::decode_plaintext(crate::crypto::ENVELOPE_V2, &again).unwrap();
        let back = back.fields["distance_m"].value.as_f64().unwrap();
        assert_eq!(back.to_bits(), value.to_bits());
    }

    fn arb_record() -> impl Strategy<Value = Record> {
        (
            proptest::collection::vec((0..4usize, 0..20u64, 1..4u8), 0..5),
            proptest::option::of((0..20u64, 1..4u8)),
        )
            .prop_map(|(fields, del)| {
                let names = ["kind", "rpe", "notes", "shoe_id"];
                let mut r = Record::default();
                for (k, t, n) in fields {
                    // A stamp names one write: the same field and stamp always hold one value.
                    let value =
                        serde_json::json!(k as i64 * 1_000_000 + (t as i64) * 1000 + i64::from(n));
                    let f = Field {
                        value,
                        stamp: stamp(t, n),
                    };
                    let keep = r.fields.get(names[k]).is_none_or(|old| old.stamp < f.stamp);
                    if keep {
                        r.fields.insert(names[k].to_string(), f);
                    }
                }
                r.deleted = del.map(|(t, n)| stamp(t, n));
                r
            })
    }

    proptest! {
        #[test]
        fn any_order_and_duplicates_give_the_same_state(
            records in proptest::collection::vec(arb_record(), 1..6),
            order in any::<prop::sample::Index>(),
        ) {
            let forward = records.iter().fold(Record::default(), |acc, r| merge(&acc, r));
            let mut shuffled = records.clone();
            let k = order.index(shuffled.len());
            shuffled.rotate_left(k);
            shuffled.reverse();
            // Deliver some twice.
            shuffled.extend(records.iter().take(2).cloned());
            let other = shuffled.iter().fold(Record::default(), |acc, r| merge(&acc, r));
            prop_assert_eq!(&forward, &other);
            prop_assert_eq!(merge(&forward, &forward), forward.clone());
        }
    }
}
