//! Who is asking: bearer tokens (random 256 bits, stored only as their SHA-256), auth keys
//! (stored only as a salted SHA-256, compared in constant time), sessions, and the rate limits
//! on everything that tries a secret.

use std::net::SocketAddr;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use ring::digest;
use ring::rand::{SecureRandom, SystemRandom};
use strideguard_proto::wire::SessionResponse;
use subtle::ConstantTimeEq;

use super::errors::ApiError;
use super::{Shared, store};

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    SystemRandom::new()
        .fill(&mut b)
        .expect("the system random generator works");
    b
}

fn hex(bytes: &[u8]) -> String {
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

pub fn rate(s: &Shared, limit: &'static str, key: String, per_minute: u32) -> Result<(), ApiError> {
    s.limiter
        .check(&key, per_minute, s.clock.now_ms())
        .map_err(|wait| {
            s.metrics.limited(limit);
            ApiError::too_many(limit, per_minute, wait)
        })
}

/// Counts an attempt at a secret (login, registration, passphrase change, account deletion)
/// against the per-IP and per-user limits.
pub fn login_rate(s: &Shared, ip: &SocketAddr, username: Option<&str>) -> Result<(), ApiError> {
    let l = &s.config.limits;
    rate(
        s,
        "logins_per_minute_per_ip",
        format!("ip:{}", ip.ip()),
        l.logins_per_minute_per_ip,
    )?;
    if let Some(u) = username {
        rate(
            s,
            "logins_per_minute_per_user",
            format!("user:{u}"),
            l.logins_per_minute_per_user,
        )?;
    }
    Ok(())
}

/// The account of an authenticated request whose `auth_key` proves its passphrase: what a
/// passphrase change and an account deletion need besides the session. Counted as a login
/// attempt.
pub async fn proven_user(
    s: &Shared,
    ip: &SocketAddr,
    user_id: i64,
    auth_key: &[u8],
) -> Result<crate::storage::User, ApiError> {
    let user = store(s, move |st| st.user_by_id(user_id))
        .await?
        .ok_or_else(|| ApiError::unauthorized("the account is gone"))?;
    login_rate(s, ip, Some(&user.username))?;
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
}

impl FromRequestParts<Shared> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, s: &Shared) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| ApiError::unauthorized("missing bearer token"))?
            .trim()
            .to_string();
        let hash = sha256(&[token.as_bytes()]);
        let lookup = hash.clone();
        let session = store(s, move |st| st.session(&lookup))
            .await?
            .ok_or_else(|| {
                ApiError::unauthorized(
                    "the token is not valid (logged out, or the device was revoked)",
                )
            })?;
        if !bool::from(session.token_hash.ct_eq(&hash)) {
            return Err(ApiError::unauthorized("the token is not valid"));
        }
        if session.device_revoked {
            return Err(ApiError::unauthorized("this device was revoked"));
        }
        if session.expires_at_ms <= s.clock.now_ms() {
            return Err(ApiError::unauthorized("the session expired"));
        }
        rate(
            s,
            "requests_per_minute_per_user",
            format!("req:{}", session.user_id),
            s.config.limits.requests_per_minute_per_user,
        )?;
        Ok(Authed {
            user_id: session.user_id,
            device_id: session.device_id,
            token_hash: hash,
        })
    }
}

/// A new device of the user with a session for it.
pub async fn new_session(
    s: &Shared,
    user_id: i64,
    device_name: String,
) -> Result<SessionResponse, ApiError> {
    let token = hex(&random_bytes::<32>());
    let hash = sha256(&[token.as_bytes()]);
    let now = s.clock.now_ms();
    let expires = now + s.config.token_ttl_ms;
    let device_id = store(s, move |st| {
        let id = st.add_device(user_id, &device_name, now)?;
        st.add_session(&hash, user_id, &id, expires)?;
        Ok(id)
    })
    .await?;
    Ok(SessionResponse {
        token,
        device_id,
        expires_at_ms: expires,
    })
}
