//! What a request must look like before it reaches storage: bodies within the size limit and
//! parsed with the failing field named, usernames, keys, KDF parameters, device names and
//! record batches within their limits.

use std::collections::HashSet;

use axum::body::Body;
use axum::http::{HeaderMap, header};
use serde::de::DeserializeOwned;
use strideguard_proto::KdfParams;
use strideguard_proto::account::{MAX_ITERATIONS, username_problem};
use strideguard_proto::wire::RecordUpload;

use super::Shared;
use super::errors::ApiError;

/// Reads a JSON body within the body limit; errors name the field at fault.
pub async fn json_body<T: DeserializeOwned>(
    s: &Shared,
    headers: &HeaderMap,
    body: Body,
) -> Result<T, ApiError> {
    let max = s.config.limits.body_bytes;
    let too_large = || {
        ApiError::too_large(
            s,
            "body_bytes",
            max as u64,
            format!("the request body is larger than the {max}-byte limit"),
        )
    };
    if headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .is_some_and(|n| n > max)
    {
        return Err(too_large());
    }
    let bytes = axum::body::to_bytes(body, max)
        .await
        .map_err(|_| too_large())?;
    let de = &mut serde_json::Deserializer::from_slice(&bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        ApiError::bad(format!("invalid request body at '{path}': {}", e.inner()))
    })
}

/// Usernames as the client normalises them (trimmed, lower case), 1-64 printable characters
/// without '/'.
pub fn username(name: &str) -> Result<(), ApiError> {
    match username_problem(name) {
        None => Ok(()),
        Some(why) => Err(ApiError::bad(format!("invalid username: {why}"))),
    }
}

pub fn auth_key(key: &[u8], field: &str) -> Result<(), ApiError> {
    if key.len() == 32 {
        Ok(())
    } else {
        Err(ApiError::bad(format!("{field} must be 32 bytes")))
    }
}

pub fn kdf(s: &Shared, kdf: KdfParams) -> Result<(), ApiError> {
    let min = s.config.limits.min_kdf_iterations;
    if kdf.iterations < min || kdf.iterations > MAX_ITERATIONS {
        return Err(ApiError::bad(format!(
            "kdf.iterations must be between {min} and {MAX_ITERATIONS}"
        )));
    }
    Ok(())
}

pub fn wrapped_key(key: &[u8]) -> Result<(), ApiError> {
    if (32..=1024).contains(&key.len()) {
        Ok(())
    } else {
        Err(ApiError::bad("wrapped_key must be 32 to 1024 bytes"))
    }
}

/// A device's name, trimmed (the rule is the wire crate's, shared with the clients).
pub fn device_name(name: &str) -> Result<String, ApiError> {
    strideguard_proto::account::device_name(name)
        .map(str::to_string)
        .map_err(ApiError::bad)
}

/// A collection tag: an HMAC-SHA256 in lower-case hex.
fn is_tag(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// An upload batch within the record, batch and byte limits, every record well-formed and
/// named once.
pub fn batch(s: &Shared, records: &[RecordUpload]) -> Result<(), ApiError> {
    let l = s.config.limits;
    if records.len() > l.batch_records {
        return Err(ApiError::too_large(
            s,
            "batch_records",
            l.batch_records as u64,
            format!(
                "{} records in one batch; at most {} are allowed",
                records.len(),
                l.batch_records
            ),
        ));
    }
    let mut total = 0;
    let mut seen = HashSet::new();
    for (i, r) in records.iter().enumerate() {
        if r.payload.len() > l.record_payload_bytes {
            return Err(ApiError::too_large(
                s,
                "record_payload_bytes",
                l.record_payload_bytes as u64,
                format!(
                    "records[{i}] is {} bytes; a record may be at most {}",
                    r.payload.len(),
                    l.record_payload_bytes
                ),
            ));
        }
        total += r.payload.len();
        if !is_tag(&r.collection) {
            return Err(ApiError::bad(format!(
                "records[{i}].collection must be 64 lower-case hex digits"
            )));
        }
        if uuid::Uuid::parse_str(&r.id).is_err() {
            return Err(ApiError::bad(format!("records[{i}].id must be a UUID")));
        }
        if r.payload.is_empty() {
            return Err(ApiError::bad(format!("records[{i}].payload is empty")));
        }
        if !seen.insert((&r.collection, &r.id)) {
            return Err(ApiError::bad(format!(
                "records[{i}] repeats a record earlier in the batch"
            )));
        }
    }
    if total > l.batch_bytes {
        return Err(ApiError::too_large(
            s,
            "batch_bytes",
            l.batch_bytes as u64,
            format!(
                "the batch holds {total} payload bytes; at most {} are allowed",
                l.batch_bytes
            ),
        ));
    }
    Ok(())
}
