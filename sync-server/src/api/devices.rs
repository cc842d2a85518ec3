//! `/v1/devices`: list the account's devices, add one (with its own session), revoke one (its
//! sessions, and those of every device it added, end at once).

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use strideguard_proto::wire::{Device, DevicesResponse, NewDeviceRequest};

use super::auth::{Authed, new_session};
use super::errors::ApiError;
use super::validation::{self, json_body};
use super::{Shared, store};

pub async fn list(
    State(s): State<Shared>,
    auth: Authed,
) -> Result<Json<DevicesResponse>, ApiError> {
    let user_id = auth.user_id;
    let rows = store(&s, move |st| st.devices(user_id)).await?;
    Ok(Json(DevicesResponse {
        devices: rows
            .into_iter()
            .map(|d| Device {
                current: d.id == auth.device_id,
                id: d.id,
                name: d.name,
                created_at_ms: d.created_at_ms,
                last_seen_ms: d.last_seen_ms,
                revoked: d.revoked,
            })
            .collect(),
    }))
}

pub async fn add(
    State(s): State<Shared>,
    auth: Authed,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let req: NewDeviceRequest = json_body(&s, &headers, body).await?;
    let name = validation::device_name(&req.name)?;
    let session = new_session(&s, auth.user_id, name, Some(auth.device_id)).await?;
    Ok((StatusCode::CREATED, Json(session)).into_response())
}

pub async fn revoke(
    State(s): State<Shared>,
    auth: Authed,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let id = validation::path_segment(id)?;
    let now = s.clock.now_ms();
    let user_id = auth.user_id;
    let found = store(&s, move |st| st.revoke_device(user_id, &id, now)).await?;
    if !found {
        return Err(ApiError::not_found("no such device on this account"));
    }
    Ok(Json(serde_json::json!({})))
}
