//! `/v1/records` and `/v2/records`: pages of the user's records in server order, and atomic
//! upload batches with `if_seq` conflicts. The two differ only in their bodies: JSON with
//! base64 payloads on `/v1`, length-prefixed frames with the payloads as bytes on `/v2`
//! (`strideguard_proto::frames`). Every limit, and every answer's meaning, is the same.

use axum::Json;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::Deserialize;
use strideguard_proto::frames;
use strideguard_proto::wire::{
    ConflictResponse, PostRecordsRequest, PostRecordsResponse, RecordUpload, RecordsPage,
};

use super::auth::Authed;
use super::errors::ApiError;
use super::validation::{self, frames_body, json_body};
use super::{Shared, store};
use crate::metrics::Metrics;
use crate::storage::PutOutcome;

#[derive(Deserialize)]
pub struct RecordsQuery {
    #[serde(default)]
    since: i64,
    limit: Option<usize>,
    collection: Option<String>,
}

/// A page of the user's records after `since`. At most `max_concurrent_pulls` pages are held
/// at once, from assembly until the last byte left: the server's memory stays near one page
/// per pull in flight however many devices pull. Others wait their turn (503 with
/// Retry-After if that takes longer than a body may).
pub async fn get(
    State(s): State<Shared>,
    auth: Authed,
    query: Result<Query<RecordsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    page(s, auth, query, Wire::Json).await
}

/// `GET /v2/records`: the same page as frames.
pub async fn get_v2(
    State(s): State<Shared>,
    auth: Authed,
    query: Result<Query<RecordsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    page(s, auth, query, Wire::Frames).await
}

/// The body format of a records endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wire {
    Json,
    Frames,
}

impl Wire {
    fn media(self) -> &'static str {
        match self {
            Wire::Json => "application/json",
            Wire::Frames => frames::CONTENT_TYPE,
        }
    }

    fn page(self, page: &RecordsPage) -> Result<Vec<u8>, crate::storage::StorageError> {
        match self {
            Wire::Frames => Ok(frames::encode_page(page)),
            Wire::Json => {
                // Sized for base64 and the fields up front, so the buffer never doubles past it.
                let payload: usize = page.records.iter().map(|r| r.payload.len()).sum();
                let mut json = Vec::with_capacity(payload / 3 * 4 + page.records.len() * 256 + 64);
                serde_json::to_writer(&mut json, page)
                    .map_err(|e| crate::storage::StorageError::Backend(e.to_string()))?;
                Ok(json)
            }
        }
    }
}

async fn page(
    s: Shared,
    auth: Authed,
    query: Result<Query<RecordsQuery>, axum::extract::rejection::QueryRejection>,
    wire: Wire,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::bad(format!("invalid query: {e}")))?;
    if q.since < 0 {
        return Err(ApiError::bad("since must be 0 or more"));
    }
    let l = s.config.limits;
    let limit = q.limit.unwrap_or(l.page_records).clamp(1, l.page_records);
    let permit = tokio::time::timeout(s.config.body_timeout, s.pulls.clone().acquire_owned())
        .await
        .map_err(|_| {
            s.metrics.limited("max_concurrent_pulls");
            tracing::warn!("pulls queued longer than the body timeout: answered 503");
            ApiError::busy(5)
        })?
        .map_err(|_| ApiError::internal())?;
    let (json, served) = store(&s, move |st| {
        let page = st.records(
            auth.user_id,
            q.since,
            q.collection.as_deref(),
            limit,
            l.page_bytes,
        )?;
        let served = page.records.len();
        let body = wire.page(&page)?;
        drop(page);
        Ok((body, served))
    })
    .await?;
    Metrics::add(&s.metrics.records_served, served as u64);
    Ok((
        [
            (header::CONTENT_TYPE, wire.media().to_string()),
            (header::CONTENT_LENGTH, json.len().to_string()),
        ],
        held_until_sent(bytes::Bytes::from(json), permit, s.config.body_timeout),
    )
        .into_response())
}

pub async fn post(
    State(s): State<Shared>,
    auth: Authed,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let req: PostRecordsRequest = json_body(&s, &headers, body).await?;
    store_batch(s, auth, req.records, Wire::Json).await
}

/// `POST /v2/records`: an upload batch as frames. The acknowledgements are JSON (they are
/// small); a 409's records come back as frames.
pub async fn post_v2(
    State(s): State<Shared>,
    auth: Authed,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let body = frames_body(&s, &headers, body).await?;
    let records = validation::frames_batch(&s, &body)?;
    drop(body);
    store_batch(s, auth, records, Wire::Frames).await
}

async fn store_batch(
    s: Shared,
    auth: Authed,
    records: Vec<RecordUpload>,
    wire: Wire,
) -> Result<Response, ApiError> {
    validation::batch(&s, &records)?;
    let now = s.clock.now_ms();
    let quota = s.config.limits.quota_bytes;
    let outcome = store(&s, move |st| {
        st.put_records(auth.user_id, &auth.device_id, records, now, quota)
    })
    .await?;
    match outcome {
        PutOutcome::Accepted(accepted) => {
            Metrics::add(&s.metrics.records_accepted, accepted.len() as u64);
            Ok(Json(PostRecordsResponse { accepted }).into_response())
        }
        PutOutcome::Conflict(current) if wire == Wire::Frames => {
            Metrics::add(&s.metrics.conflicts, 1);
            Ok((
                StatusCode::CONFLICT,
                [(header::CONTENT_TYPE, frames::CONTENT_TYPE)],
                frames::encode_conflict(&current),
            )
                .into_response())
        }
        PutOutcome::Conflict(current) => {
            Metrics::add(&s.metrics.conflicts, 1);
            Ok((
                StatusCode::CONFLICT,
                Json(ConflictResponse {
                    error: "conflict".into(),
                    message: format!(
                        "{} record(s) changed since the writer last saw them; merge and retry",
                        current.len()
                    ),
                    current,
                }),
            )
                .into_response())
        }
        PutOutcome::OverQuota { used, quota } => Err(ApiError::too_large(
            &s,
            "quota_bytes",
            quota,
            format!("the account uses {used} of its {quota} bytes; this batch does not fit"),
        )),
    }
}

/// The body in 64 KiB pieces, with `permit` kept until the last one has been taken or a body
/// timeout has passed (a client reading slowly must not keep others from being served; the
/// connection limit and the page size bound what it holds meanwhile).
fn held_until_sent(
    json: bytes::Bytes,
    permit: tokio::sync::OwnedSemaphorePermit,
    longest: std::time::Duration,
) -> Body {
    const PIECE: usize = 64 * 1024;
    let (sent, sending) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = tokio::time::timeout(longest, sending).await;
        drop(permit);
    });
    let pieces = (0..json.len().div_ceil(PIECE)).map(move |i| {
        Ok::<_, std::convert::Infallible>(json.slice(i * PIECE..((i + 1) * PIECE).min(json.len())))
    });
    let mut sent = Some(sent);
    let stream =
        futures_util::stream::iter(pieces).chain(futures_util::stream::poll_fn(move |_| {
            if let Some(tx) = sent.take() {
                let _ = tx.send(());
            }
            std::task::Poll::Ready(None)
        }));
    Body::from_stream(stream)
}
