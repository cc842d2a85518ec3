//! What operators and client authors read: health, Prometheus metrics, the OpenAPI document,
//! the advertised limits, and the answer for unknown paths.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use strideguard_proto::wire::Limits;

use super::errors::ApiError;
use super::{Shared, store};

pub async fn limits(State(s): State<Shared>) -> Json<Limits> {
    Json(s.config.limits)
}

pub async fn health(State(s): State<Shared>) -> Result<Json<serde_json::Value>, ApiError> {
    store(&s, |st| st.totals()).await?;
    Ok(Json(serde_json::json!({ "status": "ok" })))
}

pub async fn metrics(State(s): State<Shared>) -> Result<Response, ApiError> {
    let totals = store(&s, |st| st.totals()).await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        s.metrics.render(totals),
    )
        .into_response())
}

pub async fn openapi(State(s): State<Shared>) -> Json<serde_json::Value> {
    Json(crate::openapi::document(&s.config.limits))
}

pub async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint")
}
