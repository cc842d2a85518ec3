//! The HTTP API (sync-protocol.md): routes, authentication, limits and error answers. Every
//! storage call runs on a blocking thread, never on the async runtime. Every error is JSON with
//! a stable `error` code; a broken limit also names the limit and its value.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use ring::digest;
use ring::rand::{SecureRandom, SystemRandom};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use strideguard_core::clock::Clock;
use strideguard_core::crypto::KdfParams;
use strideguard_core::sync::wire::{
    ConflictResponse, Device, DevicesResponse, ErrorBody, KdfResponse, KeysResponse, LoginRequest,
    NewDeviceRequest, PostRecordsRequest, PostRecordsResponse, PutKeysRequest, RegisterRequest,
    SessionResponse,
};
use subtle::ConstantTimeEq;

use crate::config::ServerConfig;
use crate::metrics::Metrics;
use crate::rate::RateLimiter;
use crate::storage::{NewUser, PutOutcome, Storage, StorageError};

/// Shared by every request.
pub struct AppState {
    pub storage: Arc<dyn Storage>,
    pub config: ServerConfig,
    pub clock: Arc<dyn Clock>,
    pub limiter: RateLimiter,
    pub metrics: Metrics,
}

type Shared = Arc<AppState>;

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    body: ErrorBody,
    retry_after: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, code: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            body: ErrorBody {
                error: code.to_string(),
                message: message.into(),
                limit: None,
                max: None,
            },
            retry_after: None,
        }
    }

    fn bad(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    fn unauthorized(message: &str) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 413 for a size limit (counted in the metrics).
    fn too_large(s: &Shared, limit: &'static str, max: u64, message: String) -> ApiError {
        s.metrics.limited(limit);
        ApiError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            body: ErrorBody {
                error: "limit_exceeded".into(),
                message,
                limit: Some(limit.into()),
                max: Some(max),
            },
            retry_after: None,
        }
    }

    /// 429 for a rate limit.
    fn too_many(limit: &'static str, max: u32, wait_s: u64) -> ApiError {
        ApiError {
            status: StatusCode::TOO_MANY_REQUESTS,
            body: ErrorBody {
                error: "rate_limited".into(),
                message: format!(
                    "too many requests: {limit} allows {max} a minute; retry in {wait_s} s"
                ),
                limit: Some(limit.into()),
                max: Some(u64::from(max)),
            },
            retry_after: Some(wait_s),
        }
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> ApiError {
        match e {
            StorageError::UserExists => {
                ApiError::new(StatusCode::CONFLICT, "username_taken", e.to_string())
            }
            StorageError::CursorExpired { .. } => {
                ApiError::new(StatusCode::GONE, "cursor_expired", e.to_string())
            }
            StorageError::Backend(msg) => {
                tracing::error!(error = %msg, "storage failure");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "the server failed to store or read data",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (self.status, Json(self.body)).into_response();
        if let Some(s) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        resp
    }
}

/// Runs a storage call on a blocking thread.
async fn store<T: Send + 'static>(
    s: &Shared,
    f: impl FnOnce(&dyn Storage) -> Result<T, StorageError> + Send + 'static,
) -> Result<T, ApiError> {
    let storage = s.storage.clone();
    tokio::task::spawn_blocking(move || f(&*storage))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "storage task failed");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the server failed",
            )
        })?
        .map_err(ApiError::from)
}

/// Reads a JSON body within the body limit; errors name the field at fault.
async fn json_body<T: DeserializeOwned>(
    s: &Shared,
    headers: &HeaderMap,
    body: Body,
) -> Result<T, ApiError> {
    let max = s.config.limits.body_bytes;
    let too_large = || {
        ApiError::too_large(
            s,
            "body_bytes",
            max as u64,
            format!("the request body is larger than the {max}-byte limit"),
        )
    };
    if headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .is_some_and(|n| n > max)
    {
        return Err(too_large());
    }
    let bytes = axum::body::to_bytes(body, max)
        .await
        .map_err(|_| too_large())?;
    let de = &mut serde_json::Deserializer::from_slice(&bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        ApiError::bad(format!("invalid request body at '{path}': {}", e.inner()))
    })
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    SystemRandom::new()
        .fill(&mut b)
        .expect("the system random generator works");
    b
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256(parts: &[&[u8]]) -> Vec<u8> {
    let mut ctx = digest::Context::new(&digest::SHA256);
    for p in parts {
        ctx.update(p);
    }
    ctx.finish().as_ref().to_vec()
}

/// Usernames as the client normalises them: trimmed, lower case, 1-64 printable characters
/// without '/'.
fn check_username(name: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.chars().count() <= 64
        && name == name.trim()
        && name == name.to_lowercase()
        && !name.chars().any(|c| c.is_control() || c == '/');
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad(
            "invalid username: 1 to 64 characters, lower case, no '/' or spaces around",
        ))
    }
}

fn check_auth_key(key: &[u8], field: &str) -> Result<(), ApiError> {
    if key.len() == 32 {
        Ok(())
    } else {
        Err(ApiError::bad(format!("{field} must be 32 bytes")))
    }
}

fn check_kdf(s: &Shared, kdf: KdfParams) -> Result<(), ApiError> {
    let min = s.config.limits.min_kdf_iterations;
    if kdf.iterations < min || kdf.iterations > 100_000_000 {
        return Err(ApiError::bad(format!(
            "kdf.iterations must be between {min} and 100000000"
        )));
    }
    Ok(())
}

fn check_wrapped_key(key: &[u8]) -> Result<(), ApiError> {
    if (32..=1024).contains(&key.len()) {
        Ok(())
    } else {
        Err(ApiError::bad("wrapped_key must be 32 to 1024 bytes"))
    }
}

fn rate(s: &Shared, limit: &'static str, key: String, per_minute: u32) -> Result<(), ApiError> {
    s.limiter
        .check(&key, per_minute, s.clock.now_ms())
        .map_err(|wait| {
            s.metrics.limited(limit);
            ApiError::too_many(limit, per_minute, wait)
        })
}

/// Counts a login-like attempt against the per-IP and per-user limits.
fn login_rate(s: &Shared, ip: &SocketAddr, username: Option<&str>) -> Result<(), ApiError> {
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

/// Checks `auth_key` against the stored salted hash, in constant time.
fn auth_matches(salt: &[u8], hash: &[u8], auth_key: &[u8]) -> bool {
    bool::from(sha256(&[salt, auth_key]).ct_eq(hash))
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
            return Err(ApiError::unauthorized("the session expired; log in again"));
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

async fn new_session(
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

fn device_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(ApiError::bad(
            "device_name must be 1 to 100 printable characters",
        ));
    }
    Ok(name.to_string())
}

async fn register(
    State(s): State<Shared>,
    ConnectInfo(ip): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    login_rate(&s, &ip, None)?;
    let req: RegisterRequest = json_body(&s, &headers, body).await?;
    check_username(&req.username)?;
    check_auth_key(&req.auth_key, "auth_key")?;
    check_kdf(&s, req.kdf)?;
    check_wrapped_key(&req.wrapped_key)?;
    let salt = random_bytes::<16>().to_vec();
    let user = NewUser {
        auth_hash: sha256(&[&salt, &req.auth_key]),
        auth_salt: salt,
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

async fn kdf(
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

async fn login(
    State(s): State<Shared>,
    ConnectInfo(ip): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let req: LoginRequest = json_body(&s, &headers, body).await?;
    login_rate(&s, &ip, Some(&req.username))?;
    check_auth_key(&req.auth_key, "auth_key")?;
    let name = device_name(&req.device_name)?;
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

async fn logout(
    State(s): State<Shared>,
    auth: Authed,
) -> Result<Json<serde_json::Value>, ApiError> {
    store(&s, move |st| st.delete_session(&auth.token_hash)).await?;
    Ok(Json(serde_json::json!({})))
}

async fn get_keys(State(s): State<Shared>, auth: Authed) -> Result<Json<KeysResponse>, ApiError> {
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

async fn put_keys(
    State(s): State<Shared>,
    ConnectInfo(ip): ConnectInfo<SocketAddr>,
    auth: Authed,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<serde_json::Value>, ApiError> {
    let req: PutKeysRequest = json_body(&s, &headers, body).await?;
    check_auth_key(&req.old_auth_key, "old_auth_key")?;
    check_auth_key(&req.new_auth_key, "new_auth_key")?;
    check_kdf(&s, req.kdf)?;
    check_wrapped_key(&req.wrapped_key)?;
    let user_id = auth.user_id;
    let user = store(&s, move |st| st.user_by_id(user_id))
        .await?
        .ok_or_else(|| ApiError::unauthorized("the account is gone"))?;
    login_rate(&s, &ip, Some(&user.username))?;
    if !auth_matches(&user.auth_salt, &user.auth_hash, &req.old_auth_key) {
        Metrics::add(&s.metrics.login_failures, 1);
        return Err(ApiError::unauthorized("the old passphrase is wrong"));
    }
    let salt = random_bytes::<16>().to_vec();
    let hash = sha256(&[&salt, &req.new_auth_key]);
    store(&s, move |st| {
        st.set_keys(user_id, &salt, &hash, req.kdf.iterations, &req.wrapped_key)
    })
    .await?;
    tracing::info!(user = %user.username, "passphrase changed");
    Ok(Json(serde_json::json!({})))
}

#[derive(Deserialize)]
struct RecordsQuery {
    #[serde(default)]
    since: i64,
    limit: Option<usize>,
    collection: Option<String>,
}

async fn get_records(
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

fn is_tag(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

async fn post_records(
    State(s): State<Shared>,
    auth: Authed,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let req: PostRecordsRequest = json_body(&s, &headers, body).await?;
    let l = s.config.limits;
    if req.records.len() > l.batch_records {
        return Err(ApiError::too_large(
            &s,
            "batch_records",
            l.batch_records as u64,
            format!(
                "{} records in one batch; at most {} are allowed",
                req.records.len(),
                l.batch_records
            ),
        ));
    }
    let mut total = 0;
    let mut seen = std::collections::HashSet::new();
    for (i, r) in req.records.iter().enumerate() {
        if r.payload.len() > l.record_payload_bytes {
            return Err(ApiError::too_large(
                &s,
                "record_payload_bytes",
                l.record_payload_bytes as u64,
                format!(
                    "records[{i}] is {} bytes; a record may be at most {}",
                    r.payload.len(),
                    l.record_payload_bytes
                ),
            ));
        }
        total += r.payload.len();
        if !is_tag(&r.collection) {
            return Err(ApiError::bad(format!(
                "records[{i}].collection must be 64 lower-case hex digits"
            )));
        }
        if uuid::Uuid::parse_str(&r.id).is_err() {
            return Err(ApiError::bad(format!("records[{i}].id must be a UUID")));
        }
        if r.payload.is_empty() {
            return Err(ApiError::bad(format!("records[{i}].payload is empty")));
        }
        if !seen.insert((&r.collection, &r.id)) {
            return Err(ApiError::bad(format!(
                "records[{i}] repeats a record earlier in the batch"
            )));
        }
    }
    if total > l.batch_bytes {
        return Err(ApiError::too_large(
            &s,
            "batch_bytes",
            l.batch_bytes as u64,
            format!(
                "the batch holds {total} payload bytes; at most {} are allowed",
                l.batch_bytes
            ),
        ));
    }
    let now = s.clock.now_ms();
    let quota = l.quota_bytes;
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

async fn list_devices(
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

async fn add_device(
    State(s): State<Shared>,
    auth: Authed,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let req: NewDeviceRequest = json_body(&s, &headers, body).await?;
    let name = device_name(&req.name)?;
    let session = new_session(&s, auth.user_id, name).await?;
    Ok((StatusCode::CREATED, Json(session)).into_response())
}

async fn revoke_device(
    State(s): State<Shared>,
    auth: Authed,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let now = s.clock.now_ms();
    let user_id = auth.user_id;
    let found = store(&s, move |st| st.revoke_device(user_id, &id, now)).await?;
    if !found {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such device on this account",
        ));
    }
    Ok(Json(serde_json::json!({})))
}

async fn limits(State(s): State<Shared>) -> Json<strideguard_core::sync::wire::Limits> {
    Json(s.config.limits)
}

async fn health(State(s): State<Shared>) -> Result<Json<serde_json::Value>, ApiError> {
    store(&s, |st| st.totals()).await?;
    Ok(Json(serde_json::json!({ "status": "ok" })))
}

async fn metrics(State(s): State<Shared>) -> Result<Response, ApiError> {
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

async fn openapi() -> Json<serde_json::Value> {
    Json(crate::openapi::document())
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
}

/// Counts and logs every request by its route.
async fn track(State(s): State<Shared>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched".to_string(), |m| m.as_str().to_string());
    let resp = next.run(req).await;
    let status = resp.status().as_u16();
    let secs = start.elapsed().as_secs_f64();
    s.metrics.request(&method, &route, status, secs);
    tracing::info!(%method, %route, status, ms = secs * 1000.0, "request");
    resp
}

/// The whole API.
pub fn router(state: Shared) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/v1/openapi.json", get(openapi))
        .route("/v1/limits", get(limits))
        .route("/v1/accounts", post(register))
        .route("/v1/accounts/{user}/kdf", get(kdf))
        .route("/v1/sessions", post(login).delete(logout))
        .route("/v1/keys", get(get_keys).put(put_keys))
        .route("/v1/records", get(get_records).post(post_records))
        .route("/v1/devices", get(list_devices).post(add_device))
        .route("/v1/devices/{id}", delete(revoke_device))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), track))
        .fallback(not_found)
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(state)
}
