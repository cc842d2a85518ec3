//! `/v1/accounts`: register, the public KDF parameters, and deleting an account for good.

use std::net::SocketAddr;

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use strideguard_proto::KdfParams;
use strideguard_proto::wire::{DeleteAccountRequest, KdfResponse, RegisterRequest};

use super::auth::{Authed, client_ip, hash_auth_key, ip_rate, proven_user, rate};
use super::errors::ApiError;
use super::validation::{self, json_body};
use super::{Shared, store};
use crate::metrics::Metrics;
use crate::storage::NewUser;

pub async fn register(
    State(s): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    ip_rate(&s, client_ip(&s, &peer, &headers)).await?;
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

/// The KDF parameters to log in with. An unknown username gets parameters as stable and as
/// likely as a real account's: picked by an HMAC of the name under the server's secret from
/// the spread the accounts actually use. Rate-limited per address, so nobody can sweep
/// names.
pub async fn kdf(
    State(s): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<KdfResponse>, ApiError> {
    let ip = client_ip(&s, &peer, &headers);
    rate(
        &s,
        "kdf_lookups_per_minute_per_ip",
        format!("kdf:{ip}"),
        s.config.limits.kdf_lookups_per_minute_per_ip,
    )
    .await?;
    let user = validation::path_segment(path)?;
    validation::username(&user)?;
    let name = user.clone();
    let found = store(&s, move |st| st.user(&name)).await?;
    let kdf = match found {
        Some(u) => KdfParams {
            iterations: u.kdf_iterations,
        },
        None => stand_in(&s, &user).await?,
    };
    Ok(Json(KdfResponse { kdf }))
}

/// How many accounts use each iteration count, and when that was read.
pub struct KdfSpread {
    read_at_ms: i64,
    secret: Vec<u8>,
    counts: Vec<(u32, u64)>,
}

/// The spread is read again after this long (accounts come and go slowly).
const SPREAD_TTL_MS: i64 = 5 * 60_000;

/// The parameters an unknown `username` is answered with.
async fn stand_in(s: &Shared, username: &str) -> Result<KdfParams, ApiError> {
    let now = s.clock.now_ms();
    let cached = {
        let g = s.kdf_spread.lock().unwrap_or_else(|p| p.into_inner());
        g.as_ref()
            .filter(|c| now - c.read_at_ms < SPREAD_TTL_MS)
            .map(|c| (c.secret.clone(), c.counts.clone()))
    };
    let (secret, counts) = match cached {
        Some(c) => c,
        None => {
            let (secret, counts) = store(s, |st| {
                Ok((st.server_secret()?, st.kdf_iteration_counts()?))
            })
            .await?;
            *s.kdf_spread.lock().unwrap_or_else(|p| p.into_inner()) = Some(KdfSpread {
                read_at_ms: now,
                secret: secret.clone(),
                counts: counts.clone(),
            });
            (secret, counts)
        }
    };
    let total: u64 = counts.iter().map(|(_, n)| n).sum();
    if total == 0 {
        return Ok(KdfParams {
            iterations: KdfParams::default()
                .iterations
                .max(s.config.limits.min_kdf_iterations),
        });
    }
    let tag = ring::hmac::sign(
        &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &secret),
        format!("kdf stand-in/{username}").as_bytes(),
    );
    let mut pick = u64::from_be_bytes(tag.as_ref()[..8].try_into().expect("8 bytes")) % total;
    for (iterations, n) in counts {
        if pick < n {
            return Ok(KdfParams { iterations });
        }
        pick -= n;
    }
    unreachable!("the pick is below the total")
}

/// Deletes the account: every record, device and session, then the account itself. The auth
/// key must come with the session, so a stolen token alone cannot wipe a history.
pub async fn delete(
    State(s): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    auth: Authed,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<serde_json::Value>, ApiError> {
    let req: DeleteAccountRequest = json_body(&s, &headers, body).await?;
    validation::auth_key(&req.auth_key, "auth_key")?;
    let user_id = auth.user_id;
    let user = proven_user(&s, client_ip(&s, &peer, &headers), &auth, &req.auth_key).await?;
    let deleted = store(&s, move |st| st.delete_user(user_id)).await?;
    Metrics::add(&s.metrics.accounts_deleted, 1);
    tracing::info!(user = %user.username, records = deleted.records, devices = deleted.devices, "account deleted");
    Ok(Json(serde_json::json!({
        "deleted": true,
        "records": deleted.records,
        "devices": deleted.devices,
    })))
}
