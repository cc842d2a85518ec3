//! `/v1/keys`: the wrapped data key, and re-wrapping it on a passphrase change.

use std::net::SocketAddr;

use axum::Json;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use strideguard_proto::KdfParams;
use strideguard_proto::wire::{KeysResponse, PutKeysRequest};

use super::auth::{Authed, client_ip, hash_auth_key, proven_user};
use super::errors::ApiError;
use super::validation::{self, json_body};
use super::{Shared, store};
use crate::storage::NewKeys;

pub async fn get(State(s): State<Shared>, auth: Authed) -> Result<Json<KeysResponse>, ApiError> {
    let user = store(&s, move |st| st.user_by_id(auth.user_id))
        .await?
        .ok_or_else(|| ApiError::unauthorized("the account is gone"))?;
    Ok(Json(KeysResponse {
        wrapped_key: user.wrapped_key,
        kdf: KdfParams {
            iterations: user.kdf_iterations,
        },
    }))
}

pub async fn put(
    State(s): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    auth: Authed,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<serde_json::Value>, ApiError> {
    let req: PutKeysRequest = json_body(&s, &headers, body).await?;
    validation::auth_key(&req.old_auth_key, "old_auth_key")?;
    validation::auth_key(&req.new_auth_key, "new_auth_key")?;
    validation::kdf(&s, req.kdf)?;
    validation::wrapped_key(&req.wrapped_key)?;
    let user_id = auth.user_id;
    let ip = client_ip(&s, &peer, &headers);
    let user = proven_user(&s, ip, &auth, &req.old_auth_key).await?;
    let (salt, hash) = hash_auth_key(&req.new_auth_key);
    let keys = NewKeys {
        auth_salt: salt,
        auth_hash: hash,
        kdf_iterations: req.kdf.iterations,
        wrapped_key: req.wrapped_key,
        only_session: req.sign_out_others.then(|| auth.token_hash.clone()),
    };
    let signed_out = store(&s, move |st| st.set_keys(user_id, &keys)).await?;
    tracing::info!(user = %user.username, signed_out, "passphrase changed");
    Ok(Json(
        serde_json::json!({ "signed_out_sessions": signed_out }),
    ))
}
