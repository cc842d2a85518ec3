//! `/v1/sessions`: log in (a new device with its session) and log out (end this session).

use std::net::SocketAddr;

use axum::Json;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use strideguard_proto::wire::LoginRequest;

use super::auth::{
    Authed, auth_matches, client_ip, ip_rate, login_failed, new_session, signed_in_device,
    user_backoff,
};
use super::errors::ApiError;
use super::validation::{self, json_body};
use super::{Shared, store};

/// Logs in: a new device of the account with its session. Failed attempts count against the
/// address and the account; a request that also carries a live session of the account (a
/// device already signed in, adding another) passes the account's back-off, so someone
/// guessing cannot lock the runner out.
pub async fn login(
    State(s): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    ip_rate(&s, client_ip(&s, &peer, &headers)).await?;
    let req: LoginRequest = json_body(&s, &headers, body).await?;
    validation::username(&req.username)?;
    validation::auth_key(&req.auth_key, "auth_key")?;
    let name = validation::device_name(&req.device_name)?;
    let username = req.username.clone();
    let user = store(&s, move |st| st.user(&username)).await?;
    let vouched_by = signed_in_device(&headers, &s, user.as_ref().map(|u| u.id)).await;
    if vouched_by.is_none() {
        user_backoff(&s, &req.username).await?;
    }
    let ok = match &user {
        Some(u) => auth_matches(&u.auth_salt, &u.auth_hash, &req.auth_key),
        None => {
            // The same work as for a real account, so timing does not tell either.
            let _ = auth_matches(&[0; 16], &[0; 32], &req.auth_key);
            false
        }
    };
    let Some(user) = user.filter(|_| ok) else {
        login_failed(&s, &req.username).await?;
        return Err(ApiError::unauthorized("wrong username or passphrase"));
    };
    let session = new_session(&s, user.id, name, vouched_by).await?;
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
