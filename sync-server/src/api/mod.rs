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
use axum::handler::Handler;
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{MethodFilter, MethodRouter, on};
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

/// One served (path, method) and its handler. [`router`] is built from [`routes`] and the
/// OpenAPI test reads the same list through [`endpoints`], so a route cannot be added without
/// the document's test noticing.
struct Route {
    path: &'static str,
    method: Method,
    handler: MethodRouter<Shared>,
}

/// A route whose method is named once: the handler is registered for exactly that method.
fn route<H, T>(path: &'static str, method: Method, handler: H) -> Route
where
    H: Handler<T, Shared>,
    T: 'static,
{
    let filter = MethodFilter::try_from(method.clone()).expect("a method axum can route");
    Route {
        path,
        method,
        handler: on(filter, handler),
    }
}

/// Every route the server answers.
fn routes() -> Vec<Route> {
    vec![
        route("/health", Method::GET, service::health),
        route("/metrics", Method::GET, service::metrics),
        route("/v1/openapi.json", Method::GET, service::openapi),
        route("/v1/limits", Method::GET, service::limits),
        route("/v1/accounts", Method::POST, accounts::register),
        route("/v1/accounts", Method::DELETE, accounts::delete),
        route("/v1/accounts/{user}/kdf", Method::GET, accounts::kdf),
        route("/v1/sessions", Method::POST, sessions::login),
        route("/v1/sessions", Method::DELETE, sessions::logout),
        route("/v1/keys", Method::GET, keys::get),
        route("/v1/keys", Method::PUT, keys::put),
        route("/v1/records", Method::GET, records::get),
        route("/v1/records", Method::POST, records::post),
        route("/v2/records", Method::GET, records::get_v2),
        route("/v2/records", Method::POST, records::post_v2),
        route("/v1/devices", Method::GET, devices::list),
        route("/v1/devices", Method::POST, devices::add),
        route("/v1/devices/{id}", Method::DELETE, devices::revoke),
    ]
}

/// Every (path, method) the router serves, as OpenAPI spells them (`/v1/keys`, `put`).
pub fn endpoints() -> Vec<(&'static str, String)> {
    routes()
        .into_iter()
        .map(|r| (r.path, r.method.as_str().to_ascii_lowercase()))
        .collect()
}

/// The whole API.
pub fn router(state: Shared) -> Router {
    // Routes on one path merge into one method router (axum joins repeated `route` calls).
    routes()
        .into_iter()
        .fold(Router::new(), |app, r| app.route(r.path, r.handler))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), track))
        .fallback(service::not_found)
        .layer(axum::middleware::from_fn(errors::json_errors))
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(state)
}
