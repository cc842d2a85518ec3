//! `/v1/sessions`: log in (a new device with its session) and log out (end this session).

use std::net::SocketAddr;

use axum::Json;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use strideguard_proto::wire::LoginRequest;

use super::auth::{Authed, auth_matches, login_rate, new_session};
use super::errors::ApiError;
use super::validation::{self, json_body};
use super::{Shared, store};
use crate::metrics::Metrics;

pub async fn login(
    State(s): State<Shared>,
    ConnectInfo(ip): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let req: LoginRequest = json_body(&s, &headers, body).await?;
    login_rate(&s, &ip, Some(&req.username))?;
    validation::auth_key(&req.auth_key, "auth_key")?;
    let name = validation::device_name(&req.device_name)?;
    let username = req.username.clone();
    let user = store(&s, move |st| st.user(&username)).await?;
    let ok = match &user {
        Some(u) => auth_matches(&u.auth_salt, &u.auth_hash, &req.auth_key),
        None => {
            // The same work as for a real account, so timing does not tell either.
            let _ = auth_matches(&[0; 16], &[0; 32], &req.auth_key);
            false
        }
    };
    let Some(user) = user.filter(|_| ok) else {
        Metrics::add(&s.metrics.login_failures, 1);
        return Err(ApiError::unauthorized("wrong username or passphrase"));
    };
    let session = new_session(&s, user.id, name).await?;
    tracing::info!(user = %user.username, device = %session.device_id, "logged in");
    Ok((StatusCode::CREATED, Json(session)).into_response())
}

pub async fn logout(
    State(s): State<Shared>,
    auth: Authed,
) -> Result<Json<serde_json::Value>, ApiError> {
    store(&s, move |st| st.delete_session(&auth.token_hash)).await?;
    Ok(Json(serde_json::json!({})))
}
