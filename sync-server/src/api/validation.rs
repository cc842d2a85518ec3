//! What a request must look like before it reaches storage: bodies within the size limit and
//! parsed with the failing field named, usernames, keys, KDF parameters, device names and
//! record batches within their limits.

use std::collections::HashSet;

use axum::body::Body;
use axum::extract::Path;
use axum::extract::rejection::PathRejection;
use axum::http::{HeaderMap, header};
use serde::de::DeserializeOwned;
use strideguard_proto::KdfParams;
use strideguard_proto::account::{MAX_ITERATIONS, username_problem};
use strideguard_proto::frames::{self, FrameError};
use strideguard_proto::wire::RecordUpload;

use super::Shared;
use super::errors::ApiError;

/// Reads a JSON body: `Content-Type: application/json`, not compressed, within the body
/// limit and the body timeout, one JSON value and nothing after it. Errors name the field
/// at fault.
pub async fn json_body<T: DeserializeOwned>(
    s: &Shared,
    headers: &HeaderMap,
    body: Body,
) -> Result<T, ApiError> {
    content_type(headers, "application/json", "the JSON")?;
    parse_json(&limited_body(s, headers, body).await?)
}

/// Reads a frames body (`/v2/records`): its media type, within the body limit and timeout.
pub async fn frames_body(
    s: &Shared,
    headers: &HeaderMap,
    body: Body,
) -> Result<bytes::Bytes, ApiError> {
    content_type(headers, frames::CONTENT_TYPE, "the frames body")?;
    limited_body(s, headers, body).await
}

/// A whole body, refused with 413 past `body_bytes` (by its Content-Length before a byte is
/// read) and with 408 past the body timeout.
async fn limited_body(
    s: &Shared,
    headers: &HeaderMap,
    body: Body,
) -> Result<bytes::Bytes, ApiError> {
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
    let wait = s.config.body_timeout;
    let bytes = match tokio::time::timeout(wait, axum::body::to_bytes(body, max)).await {
        Err(_) => {
            s.metrics.limited("body_timeout");
            tracing::warn!(secs = wait.as_secs(), "request body too slow: answered 408");
            return Err(ApiError::body_timeout(wait.as_secs()));
        }
        Ok(Err(e)) => {
            // Over the limit, or the client went away mid-body.
            return Err(if is_length_limit(&e) {
                too_large()
            } else {
                ApiError::bad(format!("the request body could not be read: {e}"))
            });
        }
        Ok(Ok(b)) => b,
    };
    Ok(bytes)
}

/// An upload batch from a frames body, every frame's checksum and length checked; a frame
/// or a count past the limits is a 413 naming the limit.
pub fn frames_batch(s: &Shared, body: &[u8]) -> Result<Vec<RecordUpload>, ApiError> {
    let l = s.config.limits;
    frames::decode_upload(body, l.batch_records, l.record_payload_bytes).map_err(|e| match e {
        FrameError::Oversized { .. } => ApiError::too_large(
            s,
            "record_payload_bytes",
            l.record_payload_bytes as u64,
            e.to_string(),
        ),
        FrameError::TooManyFrames { .. } => {
            ApiError::too_large(s, "batch_records", l.batch_records as u64, e.to_string())
        }
        other => ApiError::bad(format!("invalid frames body: {other}")),
    })
}

fn is_length_limit(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = err.source();
    }
    false
}

/// Bodies must say they are of the `expected` media type (415 otherwise); compressed ones
/// are refused rather than read as garbage.
fn content_type(headers: &HeaderMap, expected: &str, what: &str) -> Result<(), ApiError> {
    if let Some(enc) = headers.get(header::CONTENT_ENCODING) {
        let enc = enc.to_str().unwrap_or("?").trim();
        if !enc.eq_ignore_ascii_case("identity") {
            return Err(ApiError::unsupported_media(format!(
                "Content-Encoding '{enc}' is not accepted; send {what} uncompressed"
            )));
        }
    }
    let ct = headers
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or("?"));
    let essence = ct.map(|v| {
        v.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    });
    match essence.as_deref() {
        Some(e) if e == expected => Ok(()),
        None => Err(ApiError::unsupported_media(format!(
            "the request has a body but no Content-Type; send {expected}"
        ))),
        Some(_) => Err(ApiError::unsupported_media(format!(
            "Content-Type '{}' is not accepted; send {expected}",
            ct.unwrap_or_default()
        ))),
    }
}

/// Parses one JSON value and refuses anything after it but whitespace (a second object would
/// otherwise be dropped unseen). Errors name the field at fault.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut *de).map_err(|e| {
        let path = e.path().to_string();
        ApiError::bad(format!("invalid request body at '{path}': {}", e.inner()))
    })?;
    de.end().map_err(|e| {
        ApiError::bad(format!(
            "the request body holds more than one JSON value: {e}"
        ))
    })?;
    Ok(value)
}

/// A path segment (`{user}`, `{id}`), or a JSON 400 when it does not decode (percent-encoded
/// bytes that are not UTF-8): axum's own rejection would answer in plain text, unlike every
/// other error of the API.
pub fn path_segment(segment: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    segment
        .map(|Path(s)| s)
        .map_err(|e| ApiError::bad(format!("invalid path: {}", e.body_text())))
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

/// A UUID spelled one way only (lower-case, hyphenated): five spellings of one UUID must not
/// make five records.
pub fn is_canonical_uuid(s: &str) -> bool {
    uuid::Uuid::parse_str(s).is_ok_and(|u| u.hyphenated().to_string() == s)
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
        if !is_canonical_uuid(&r.id) {
            return Err(ApiError::bad(format!(
                "records[{i}].id must be a UUID in its canonical form \
                 (lower-case hex, 8-4-4-4-12, as the apps send it)"
            )));
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
