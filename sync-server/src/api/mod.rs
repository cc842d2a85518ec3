//! The HTTP API (sync-protocol.md) on axum. One module per resource (`accounts`, `sessions`,
//! `keys`, `records`, `devices`, `service`), with what they share in `auth` (tokens, auth keys,
//! rate limits), `validation` (bodies and fields) and `errors` (the JSON error answers). Every
//! storage call runs on a blocking thread, never on the async runtime.

mod accounts;
mod auth;
mod devices;
mod errors;
mod keys;
mod records;
mod service;
mod sessions;
pub mod validation;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{delete, get, post};
use strideguard_proto::clock::Clock;

pub use errors::ApiError;

use crate::config::ServerConfig;
use crate::metrics::Metrics;
use crate::rate::RateLimiter;
use crate::storage::{Storage, StorageError};

/// Shared by every request.
pub struct AppState {
    pub storage: Arc<dyn Storage>,
    pub config: ServerConfig,
    pub clock: Arc<dyn Clock>,
    pub limiter: RateLimiter,
    pub metrics: Metrics,
    /// One permit per pull being assembled or sent: bounds the pages held in memory.
    pub pulls: Arc<tokio::sync::Semaphore>,
    /// The accounts' spread of KDF iterations (refreshed every few minutes), for the answers
    /// to unknown usernames.
    pub kdf_spread: std::sync::Mutex<Option<accounts::KdfSpread>>,
}

type Shared = Arc<AppState>;

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
        .route("/health", get(service::health))
        .route("/metrics", get(service::metrics))
        .route("/v1/openapi.json", get(service::openapi))
        .route("/v1/limits", get(service::limits))
        .route(
            "/v1/accounts",
            post(accounts::register).delete(accounts::delete),
        )
        .route("/v1/accounts/{user}/kdf", get(accounts::kdf))
        .route(
            "/v1/sessions",
            post(sessions::login).delete(sessions::logout),
        )
        .route("/v1/keys", get(keys::get).put(keys::put))
        .route("/v1/records", get(records::get).post(records::post))
        .route("/v1/devices", get(devices::list).post(devices::add))
        .route("/v1/devices/{id}", delete(devices::revoke))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), track))
        .fallback(service::not_found)
        .layer(axum::middleware::from_fn(errors::json_errors))
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(state)
}
