//! `/v1/records`: pages of the user's records in server order, and atomic upload batches with
//! `if_seq` conflicts.

use axum::Json;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::Deserialize;
use strideguard_proto::wire::{ConflictResponse, PostRecordsRequest, PostRecordsResponse};

use super::auth::Authed;
use super::errors::ApiError;
use super::validation::{self, json_body};
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
        // Sized for base64 and the fields up front, so the buffer never doubles past it.
        let payload: usize = page.records.iter().map(|r| r.payload.len()).sum();
        let mut json = Vec::with_capacity(payload / 3 * 4 + served * 256 + 64);
        serde_json::to_writer(&mut json, &page)
            .map_err(|e| crate::storage::StorageError::Backend(e.to_string()))?;
        drop(page);
        Ok((json, served))
    })
    .await?;
    Metrics::add(&s.metrics.records_served, served as u64);
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_string()),
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
    validation::batch(&s, &req.records)?;
    let now = s.clock.now_ms();
    let quota = s.config.limits.quota_bytes;
    let records = req.records;
    let outcome = store(&s, move |st| {
        st.put_records(auth.user_id, &auth.device_id, records, now, quota)
    })
    .await?;
    match outcome {
        PutOutcome::Accepted(accepted) => {
            Metrics::add(&s.metrics.records_accepted, accepted.len() as u64);
            Ok(Json(PostRecordsResponse { accepted }).into_response())
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
