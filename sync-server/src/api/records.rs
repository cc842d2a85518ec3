//! `/v1/records`: pages of the user's records in server order, and atomic upload batches with
//! `if_seq` conflicts.

use axum::Json;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
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
    let page = store(&s, move |st| {
        st.records(
            auth.user_id,
            q.since,
            q.collection.as_deref(),
            limit,
            l.page_bytes,
        )
    })
    .await?;
    Metrics::add(&s.metrics.records_served, page.records.len() as u64);
    Ok(Json(page).into_response())
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
