//! `/v1/accounts`: register, the public KDF parameters, and deleting an account for good.

use std::net::SocketAddr;

use axum::Json;
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use strideguard_proto::KdfParams;
use strideguard_proto::wire::{DeleteAccountRequest, KdfResponse, RegisterRequest};

use super::auth::{Authed, hash_auth_key, login_rate, proven_user};
use super::errors::ApiError;
use super::validation::{self, json_body};
use super::{Shared, store};
use crate::metrics::Metrics;
use crate::storage::NewUser;

pub async fn register(
    State(s): State<Shared>,
    ConnectInfo(ip): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    login_rate(&s, &ip, None)?;
    let req: RegisterRequest = json_body(&s, &headers, body).await?;
    validation::username(&req.username)?;
    validation::auth_key(&req.auth_key, "auth_key")?;
    validation::kdf(&s, req.kdf)?;
    validation::wrapped_key(&req.wrapped_key)?;
    let (auth_salt, auth_hash) = hash_auth_key(&req.auth_key);
    let user = NewUser {
        auth_hash,
        auth_salt,
        username: req.username.clone(),
        kdf_iterations: req.kdf.iterations,
        wrapped_key: req.wrapped_key,
        now_ms: s.clock.now_ms(),
    };
    store(&s, move |st| st.create_user(&user)).await?;
    tracing::info!(user = %req.username, "account registered");
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({ "username": req.username })),
    )
        .into_response())
}

pub async fn kdf(
    State(s): State<Shared>,
    Path(user): Path<String>,
) -> Result<Json<KdfResponse>, ApiError> {
    let found = store(&s, move |st| st.user(&user)).await?;
    // Unknown users get the defaults, so the answer does not tell who has an account.
    let kdf = found.map_or_else(KdfParams::default, |u| KdfParams {
        iterations: u.kdf_iterations,
    });
    Ok(Json(KdfResponse { kdf }))
}

/// Deletes the account: every record, device and session, then the account itself. The auth
/// key must come with the session, so a stolen token alone cannot wipe a history.
pub async fn delete(
    State(s): State<Shared>,
    ConnectInfo(ip): ConnectInfo<SocketAddr>,
    auth: Authed,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<serde_json::Value>, ApiError> {
    let req: DeleteAccountRequest = json_body(&s, &headers, body).await?;
    validation::auth_key(&req.auth_key, "auth_key")?;
    let user_id = auth.user_id;
    let user = proven_user(&s, &ip, user_id, &req.auth_key).await?;
    let deleted = store(&s, move |st| st.delete_user(user_id)).await?;
    Metrics::add(&s.metrics.accounts_deleted, 1);
    tracing::info!(user = %user.username, records = deleted.records, devices = deleted.devices, "account deleted");
    Ok(Json(serde_json::json!({
        "deleted": true,
        "records": deleted.records,
        "devices": deleted.devices,
    })))
}
