//! Who is asking: bearer tokens (random 256 bits, stored only as their SHA-256), auth keys
//! (stored only as a salted SHA-256, compared in constant time), sessions, and the rate limits
//! on everything that tries a secret.

use std::net::{IpAddr, SocketAddr};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use ring::digest;
use ring::rand::{SecureRandom, SystemRandom};
use strideguard_proto::wire::SessionResponse;
use subtle::ConstantTimeEq;

use super::errors::ApiError;
use super::{Shared, store};
use crate::storage::NewDevice;

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    SystemRandom::new()
        .fill(&mut b)
        .expect("the system random generator works");
    b
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn sha256(parts: &[&[u8]]) -> Vec<u8> {
    let mut ctx = digest::Context::new(&digest::SHA256);
    for p in parts {
        ctx.update(p);
    }
    ctx.finish().as_ref().to_vec()
}

/// A fresh random salt and the salted hash of `auth_key` under it: all the server keeps.
pub fn hash_auth_key(auth_key: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let salt = random_bytes::<16>().to_vec();
    let hash = sha256(&[&salt, auth_key]);
    (salt, hash)
}

/// Checks `auth_key` against the stored salted hash, in constant time.
pub fn auth_matches(salt: &[u8], hash: &[u8], auth_key: &[u8]) -> bool {
    bool::from(sha256(&[salt, auth_key]).ct_eq(hash))
}

/// Counts one attempt on `key` against `per_minute`, refusing it past the limit. On a
/// storage every server shares ([`crate::storage::Storage::counts_shared`]) the count is the
/// database's, so N servers together allow the limit, not N times it; this process's own count
/// comes first, so a flood it sees alone is refused without a query (it never exceeds the
/// shared count, which includes it).
pub async fn rate(
    s: &Shared,
    limit: &'static str,
    key: String,
    per_minute: u32,
) -> Result<(), ApiError> {
    let now = s.clock.now_ms();
    let too_many = |wait| {
        s.metrics.limited(limit);
        ApiError::too_many(limit, per_minute, wait)
    };
    s.limiter.check(&key, per_minute, now).map_err(too_many)?;
    if s.storage.counts_shared() {
        let count = store(s, move |st| st.shared_count(&key, minute_of(now), 1)).await?;
        if count.is_some_and(|n| n > per_minute) {
            return Err(too_many(crate::rate::RateLimiter::wait_s(now)));
        }
    }
    Ok(())
}

/// The address a request comes from, for the per-IP limits: the peer's, or, when the peer is
/// a trusted proxy and the server was told its header, the client address the proxy wrote
/// (the last entry of `X-Forwarded-For`: the one the trusted proxy added itself).
pub fn client_ip(s: &Shared, peer: &SocketAddr, headers: &HeaderMap) -> IpAddr {
    let peer_ip = peer.ip().to_canonical();
    let Some(name) = s.config.client_ip_header.as_deref() else {
        return peer_ip;
    };
    if !s.config.trusted_proxies.contains(&peer_ip) {
        return peer_ip;
    }
    headers
        .get_all(name)
        .iter()
        .next_back()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .and_then(|v| v.trim().parse::<IpAddr>().ok())
        .map_or(peer_ip, |ip| ip.to_canonical())
}

/// Counts an attempt at a secret from `ip` (login, registration, passphrase change, account
/// deletion, KDF lookup) against the per-IP limit.
pub async fn ip_rate(s: &Shared, ip: IpAddr) -> Result<(), ApiError> {
    rate(
        s,
        "logins_per_minute_per_ip",
        format!("ip:{ip}"),
        s.config.limits.logins_per_minute_per_ip,
    )
    .await
}

/// Refuses a login for `username` once it failed `logins_per_minute_per_user` times this
/// minute. Only failures count, and a request that also proves a live session of the
/// account passes anyway: someone guessing cannot lock the runner's own devices out. The
/// failures are counted where every server sees them when the storage is shared
/// ([`crate::storage::Storage::shared_count`]), else in this server's memory.
pub async fn user_backoff(s: &Shared, username: &str) -> Result<(), ApiError> {
    let per_minute = s.config.limits.logins_per_minute_per_user;
    let now = s.clock.now_ms();
    let key = format!("fail:{username}");
    let shared = if s.storage.counts_shared() {
        let key = key.clone();
        super::store(s, move |st| st.shared_count(&key, minute_of(now), 0)).await?
    } else {
        None
    };
    let refused = match shared {
        Some(failures) if failures >= per_minute => Err(crate::rate::RateLimiter::wait_s(now)),
        Some(_) => Ok(()),
        None => s.limiter.exhausted(&key, per_minute, now),
    };
    refused.map_err(|wait| {
        s.metrics.limited("logins_per_minute_per_user");
        ApiError::too_many("logins_per_minute_per_user", per_minute, wait)
    })
}

/// Counts a failed login for `username`.
pub async fn login_failed(s: &Shared, username: &str) -> Result<(), ApiError> {
    crate::metrics::Metrics::add(&s.metrics.login_failures, 1);
    let now = s.clock.now_ms();
    let key = format!("fail:{username}");
    let shared = if s.storage.counts_shared() {
        let key = key.clone();
        super::store(s, move |st| st.shared_count(&key, minute_of(now), 1)).await?
    } else {
        None
    };
    if shared.is_none() {
        s.limiter.count(&key, now);
    }
    Ok(())
}

/// The minute of the clock (since the epoch) a rate-limit count is for.
fn minute_of(now_ms: i64) -> i64 {
    now_ms.div_euclid(crate::rate::WINDOW_MS)
}

/// The account of an authenticated request whose `auth_key` proves its passphrase: what a
/// passphrase change and an account deletion need besides the session. Counted per IP and
/// per session (a stolen token cannot guess fast), never against the account's login
/// back-off.
pub async fn proven_user(
    s: &Shared,
    ip: IpAddr,
    auth: &Authed,
    auth_key: &[u8],
) -> Result<crate::storage::User, ApiError> {
    ip_rate(s, ip).await?;
    rate(
        s,
        "logins_per_minute_per_user",
        format!("proof:{}", hex(&auth.token_hash)),
        s.config.limits.logins_per_minute_per_user,
    )
    .await?;
    let user_id = auth.user_id;
    let user = store(s, move |st| st.user_by_id(user_id))
        .await?
        .ok_or_else(|| ApiError::unauthorized("the account is gone"))?;
    if !auth_matches(&user.auth_salt, &user.auth_hash, auth_key) {
        crate::metrics::Metrics::add(&s.metrics.login_failures, 1);
        return Err(ApiError::unauthorized("the passphrase is wrong"));
    }
    Ok(user)
}

/// A request with a valid bearer token.
pub struct Authed {
    pub user_id: i64,
    pub device_id: String,
    pub token_hash: Vec<u8>,
    last_seen_ms: Option<i64>,
}

impl FromRequestParts<Shared> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, s: &Shared) -> Result<Self, Self::Rejection> {
        let auth = authenticate(&parts.headers, s).await?;
        // Every authenticated request counts as the device being seen (a device that only
        // downloads shows in the device list too); written at most once a minute.
        let now = s.clock.now_ms();
        if auth
            .last_seen_ms
            .is_none_or(|t| now - t >= LAST_SEEN_EVERY_MS)
        {
            let (user, device) = (auth.user_id, auth.device_id.clone());
            if let Err(e) = store(s, move |st| st.touch_device(user, &device, now)).await {
                tracing::warn!(error = ?e, "could not note the device as seen");
            }
        }
        Ok(auth)
    }
}

/// How stale a device's `last_seen` may get before a request rewrites it.
const LAST_SEEN_EVERY_MS: i64 = 60_000;

/// The SHA-256 of the request's bearer token, if it has one.
fn bearer_hash(headers: &HeaderMap) -> Option<Vec<u8>> {
    let token = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")?
        .trim();
    Some(sha256(&[token.as_bytes()]))
}

/// The live session with this token hash: not logged out, its device not revoked, not
/// expired.
async fn live_session(s: &Shared, hash: &[u8]) -> Result<crate::storage::SessionRow, ApiError> {
    let lookup = hash.to_vec();
    let session = store(s, move |st| st.session(&lookup))
        .await?
        .ok_or_else(|| {
            ApiError::unauthorized("the token is not valid (logged out, or the device was revoked)")
        })?;
    if !bool::from(session.token_hash.ct_eq(hash)) {
        return Err(ApiError::unauthorized("the token is not valid"));
    }
    if session.device_revoked {
        return Err(ApiError::unauthorized("this device was revoked"));
    }
    if session.expires_at_ms <= s.clock.now_ms() {
        return Err(ApiError::unauthorized("the session expired"));
    }
    Ok(session)
}

/// The request's session, counted against the account's request rate.
async fn authenticate(headers: &HeaderMap, s: &Shared) -> Result<Authed, ApiError> {
    let hash =
        bearer_hash(headers).ok_or_else(|| ApiError::unauthorized("missing bearer token"))?;
    let session = live_session(s, &hash).await?;
    rate(
        s,
        "requests_per_minute_per_user",
        format!("req:{}", session.user_id),
        s.config.limits.requests_per_minute_per_user,
    )
    .await?;
    Ok(Authed {
        user_id: session.user_id,
        device_id: session.device_id,
        token_hash: hash,
        last_seen_ms: session.device_last_seen_ms,
    })
}

/// The device of the request's live session when it belongs to the account `user_id` (a
/// signed-in device of it), without counting it against any limit.
pub async fn signed_in_device(
    headers: &HeaderMap,
    s: &Shared,
    user_id: Option<i64>,
) -> Option<String> {
    let (hash, user_id) = (bearer_hash(headers)?, user_id?);
    live_session(s, &hash)
        .await
        .ok()
        .filter(|row| row.user_id == user_id)
        .map(|row| row.device_id)
}

/// A new device of the user with a session for it (within the account's device limit);
/// `created_by` is the device that added it, whose revocation ends this one too.
pub async fn new_session(
    s: &Shared,
    user_id: i64,
    device_name: String,
    created_by: Option<String>,
) -> Result<SessionResponse, ApiError> {
    let token = hex(&random_bytes::<32>());
    let now = s.clock.now_ms();
    let expires = now + s.config.token_ttl_ms;
    let new = NewDevice {
        user_id,
        name: device_name,
        now_ms: now,
        created_by,
        max_devices: s.config.limits.devices_per_account,
        token_hash: sha256(&[token.as_bytes()]),
        expires_at_ms: expires,
    };
    let device_id = store(s, move |st| st.add_device_session(&new)).await?;
    Ok(SessionResponse {
        token,
        device_id,
        expires_at_ms: expires,
    })
}
