#![no_main]
//! The JSON request bodies the sync server reads, through the strict decoder the handlers use
//! (`validation::parse_json`) and the field checks each handler then runs. Properties:
//!
//! - decoding never panics; a body it takes is UTF-8 and one JSON value with nothing after it
//!   but whitespace (trailing data is refused), and it writes back to JSON that decodes to the
//!   same request;
//! - every refusal is a 400 with the `bad_request` code;
//! - each field check accepts exactly what its rule says: usernames (and every name the
//!   client's normalisation makes is accepted unless it is empty, too long, or holds '/' or a
//!   control character), 32-byte auth keys, KDF iterations within the limits, 32-1024-byte
//!   wrapped keys, device names (trimmed, 1-100 printable characters, and a checked name checks
//!   the same again), and upload batches (the limits answer 413 naming the limit).
//!
//! Input: the first byte picks the request type, the rest is the body.

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use serde::de::DeserializeOwned;
use strideguard_proto::account::{MAX_ITERATIONS, normalize_username};
use strideguard_proto::wire::{
    DeleteAccountRequest, LoginRequest, NewDeviceRequest, PostRecordsRequest, PutKeysRequest,
    RecordUpload, RegisterRequest,
};
use strideguard_proto::{KdfParams, ManualClock};
use strideguard_server::api::validation::{self, parse_json};
use strideguard_server::api::{ApiError, AppState};
use strideguard_server::{ServerConfig, SqliteStorage};

/// The checks that read the limits need the app state: one, on an empty database in a
/// temporary folder, for the whole run.
fn state() -> &'static Arc<AppState> {
    static STATE: OnceLock<Arc<AppState>> = OnceLock::new();
    STATE.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("strideguard-fuzz-{}", std::process::id()));
        let storage = SqliteStorage::open(&dir).expect("a database in the temporary folder");
        strideguard_server::state(
            Arc::new(storage),
            ServerConfig::default(),
            Arc::new(ManualClock::new(1_700_000_000_000)),
        )
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&kind, body)) = data.split_first() else {
        return;
    };
    match kind % 7 {
        0 => {
            if let Some(r) = decode::<RegisterRequest>(body) {
                check_username(&r.username);
                check_auth_key(&r.auth_key, "auth_key");
                check_kdf(r.kdf);
                check_wrapped_key(&r.wrapped_key);
            }
        }
        1 => {
            if let Some(r) = decode::<LoginRequest>(body) {
                check_username(&r.username);
                check_auth_key(&r.auth_key, "auth_key");
                check_device_name(&r.device_name);
            }
        }
        2 => {
            if let Some(r) = decode::<PutKeysRequest>(body) {
                check_auth_key(&r.old_auth_key, "old_auth_key");
                check_auth_key(&r.new_auth_key, "new_auth_key");
                check_kdf(r.kdf);
                check_wrapped_key(&r.wrapped_key);
            }
        }
        3 => {
            if let Some(r) = decode::<PostRecordsRequest>(body) {
                check_batch(&r.records);
            }
        }
        4 => {
            if let Some(r) = decode::<NewDeviceRequest>(body) {
                check_device_name(&r.name);
            }
        }
        5 => {
            if let Some(r) = decode::<DeleteAccountRequest>(body) {
                check_auth_key(&r.auth_key, "auth_key");
            }
        }
        _ => {
            // The body as any JSON: the strict decoder takes exactly one whole JSON text.
            let strict = parse_json::<serde_json::Value>(body);
            let whole = std::str::from_utf8(body)
                .ok()
                .and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok());
            assert_eq!(strict.as_ref().ok(), whole.as_ref(), "{body:02x?}");
        }
    }
});

fn assert_bad(e: &ApiError) {
    assert_eq!(e.status().as_u16(), 400, "{e:?}");
    assert_eq!(e.body().error, "bad_request");
    assert!(!e.body().message.is_empty());
}

/// Decodes `body` as the handler would; checks what an accepted body is.
fn decode<T: DeserializeOwned + Serialize>(body: &[u8]) -> Option<T> {
    let req = match parse_json::<T>(body) {
        Ok(r) => r,
        Err(e) => {
            assert_bad(&e);
            return None;
        }
    };
    let text = std::str::from_utf8(body).expect("an accepted body is UTF-8");
    serde_json::from_str::<serde_json::Value>(text).expect("an accepted body is one JSON value");
    // Trailing data is refused, trailing whitespace is not.
    let mut trailing = body.to_vec();
    trailing.extend_from_slice(b" \n\t");
    assert!(parse_json::<T>(&trailing).is_ok(), "trailing whitespace");
    for tail in [&b"x"[..], b"{}", b"0", b"\"\""] {
        let mut trailing = body.to_vec();
        trailing.extend_from_slice(tail);
        assert!(
            parse_json::<T>(&trailing).is_err(),
            "trailing {tail:?} taken"
        );
    }
    // What it decoded writes back to a body that decodes to the same request.
    let written = serde_json::to_vec(&req).expect("requests serialise");
    let again: T = parse_json(&written).expect("a written request reads back");
    assert_eq!(
        serde_json::to_vec(&again).expect("requests serialise"),
        written,
        "round trip of {text}"
    );
    Some(req)
}

fn check_username(name: &str) {
    let count = name.chars().count();
    let expected_ok = (1..=64).contains(&count)
        && name == normalize_username(name)
        && !name.chars().any(|c| c.is_control() || c == '/');
    let got = validation::username(name);
    if let Err(e) = &got {
        assert_bad(e);
    }
    assert_eq!(got.is_ok(), expected_ok, "username {name:?}");
    // What a client sends, normalised, is refused only for a reason the client can tell.
    let n = normalize_username(name);
    let told =
        n.is_empty() || n.chars().count() > 64 || n.chars().any(|c| c.is_control() || c == '/');
    assert_eq!(
        validation::username(&n).is_ok(),
        !told,
        "normalised username {n:?} (from {name:?})"
    );
}

fn check_auth_key(key: &[u8], field: &str) {
    let got = validation::auth_key(key, field);
    assert_eq!(
        got.is_ok(),
        key.len() == 32,
        "{field} of {} bytes",
        key.len()
    );
    if let Err(e) = got {
        assert_bad(&e);
        assert!(e.body().message.contains(field));
    }
}

fn check_kdf(kdf: KdfParams) {
    let min = state().config.limits.min_kdf_iterations;
    let got = validation::kdf(state(), kdf);
    assert_eq!(
        got.is_ok(),
        (min..=MAX_ITERATIONS).contains(&kdf.iterations),
        "{kdf:?}"
    );
    if let Err(e) = got {
        assert_bad(&e);
    }
}

fn check_wrapped_key(key: &[u8]) {
    let got = validation::wrapped_key(key);
    assert_eq!(
        got.is_ok(),
        (32..=1024).contains(&key.len()),
        "{}",
        key.len()
    );
    if let Err(e) = got {
        assert_bad(&e);
    }
}

fn check_device_name(name: &str) {
    let trimmed = name.trim();
    let expected_ok =
        (1..=100).contains(&trimmed.chars().count()) && !trimmed.chars().any(char::is_control);
    match validation::device_name(name) {
        Ok(kept) => {
            assert!(expected_ok, "device name {name:?} taken");
            assert_eq!(kept, trimmed);
            assert_eq!(validation::device_name(&kept).ok(), Some(kept.clone()));
        }
        Err(e) => {
            assert!(!expected_ok, "device name {name:?} refused: {e:?}");
            assert_bad(&e);
        }
    }
}

/// What `batch` must answer: `None` for a batch it takes, else the status and the limit named.
fn batch_model(records: &[RecordUpload]) -> Option<(u16, Option<&'static str>)> {
    let l = state().config.limits;
    if records.len() > l.batch_records {
        return Some((413, Some("batch_records")));
    }
    let mut seen = HashSet::new();
    let mut total = 0;
    for r in records {
        if r.payload.len() > l.record_payload_bytes {
            return Some((413, Some("record_payload_bytes")));
        }
        total += r.payload.len();
        let tag = r.collection.len() == 64
            && r.collection
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !tag || uuid::Uuid::parse_str(&r.id).is_err() || r.payload.is_empty() {
            return Some((400, None));
        }
        if !seen.insert((r.collection.as_str(), r.id.as_str())) {
            return Some((400, None));
        }
    }
    (total > l.batch_bytes).then_some((413, Some("batch_bytes")))
}

fn check_batch(records: &[RecordUpload]) {
    let got = validation::batch(state(), records);
    let expected = batch_model(records);
    match (&got, expected) {
        (Ok(()), None) => {}
        (Err(e), Some((status, limit))) => {
            assert_eq!(e.status().as_u16(), status, "{e:?}");
            assert_eq!(e.body().limit.as_deref(), limit);
            if status == 413 {
                assert_eq!(e.body().error, "limit_exceeded");
                assert!(e.body().max.is_some());
            } else {
                assert_bad(e);
            }
        }
        (got, expected) => panic!("batch gave {got:?}; the rules say {expected:?}"),
    }
}
