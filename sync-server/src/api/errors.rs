//! Error answers: every one is JSON with a stable `error` code and a sentence; a broken limit
//! also names the limit and its value, and a rate limit says when to retry.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use strideguard_proto::wire::ErrorBody;

use super::Shared;
use crate::storage::StorageError;

/// How long a client is asked to wait when the storage is full (an operator has to act).
const STORAGE_FULL_RETRY_S: u64 = 300;
/// Seconds a client waits when the database is unreachable: long enough for a reconnect or a
/// failover to a standby, short enough that a sync goes on soon after.
const DATABASE_RETRY_S: u64 = 2;

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    body: ErrorBody,
    retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> ApiError {
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

    /// The HTTP status of the answer.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The JSON body of the answer: its stable code, sentence and broken limit.
    pub fn body(&self) -> &ErrorBody {
        &self.body
    }

    /// 400: the request itself is wrong; the message names the field.
    pub fn bad(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 401, with `WWW-Authenticate: Bearer` as RFC 6750 asks.
    pub fn unauthorized(message: &str) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 415: the body is not JSON, or comes compressed.
    pub fn unsupported_media(message: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            message,
        )
    }

    /// 408: the body did not arrive in time.
    pub fn body_timeout(secs: u64) -> ApiError {
        ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            format!("the request body did not arrive within {secs} s"),
        )
    }

    /// 503: the server is busy; try again in `wait_s`.
    pub fn busy(wait_s: u64) -> ApiError {
        let mut e = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            format!("the server is busy; retry in {wait_s} s"),
        );
        e.retry_after = Some(wait_s);
        e
    }

    /// 507: the server's storage is full; nothing was written.
    pub fn storage_full() -> ApiError {
        let mut e = ApiError::new(
            StatusCode::INSUFFICIENT_STORAGE,
            "insufficient_storage",
            "the server's storage is full; nothing was written, try again later",
        );
        e.retry_after = Some(STORAGE_FULL_RETRY_S);
        e
    }

    pub fn not_found(message: &str) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn internal() -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the server failed to store or read data",
        )
    }

    /// 413 for a size limit (counted in the metrics).
    pub fn too_large(s: &Shared, limit: &'static str, max: u64, message: String) -> ApiError {
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
    pub fn too_many(limit: &'static str, max: u32, wait_s: u64) -> ApiError {
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
            StorageError::Full => {
                tracing::error!("storage full: refusing writes until space is freed");
                ApiError::storage_full()
            }
            StorageError::DeviceLimit { max } => ApiError {
                status: StatusCode::FORBIDDEN,
                body: ErrorBody {
                    error: "device_limit".into(),
                    message: format!(
                        "the account already has {max} devices; revoke one it no longer uses first"
                    ),
                    limit: Some("devices_per_account".into()),
                    max: Some(max as u64),
                },
                retry_after: None,
            },
            StorageError::CreatorRevoked => {
                ApiError::unauthorized("this device was revoked; it can no longer add devices")
            }
            StorageError::Unavailable(msg) => {
                tracing::warn!(error = %msg, "database unavailable");
                let mut e = ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the server's database is unavailable for a moment; nothing was done, \
                     retry shortly",
                );
                e.retry_after = Some(DATABASE_RETRY_S);
                e
            }
            StorageError::Backend(msg) => {
                tracing::error!(error = %msg, "storage failure");
                ApiError::internal()
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
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"strideguard\""),
            );
        }
        resp
    }
}

/// Gives every error answer a JSON body, whoever made it: the router's 405 and the
/// extractors' rejections (a bad path, a malformed query) answer in plain text otherwise. A
/// `/v2` 409 is frames on purpose (the records as the server holds them) and passes as it is.
pub async fn json_errors(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.starts_with("application/json")
                || (status == StatusCode::CONFLICT
                    && v.starts_with(strideguard_proto::frames::CONTENT_TYPE))
        });
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let code = match status {
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::PAYLOAD_TOO_LARGE => "limit_exceeded",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        s if s.is_server_error() => "internal",
        _ => "bad_request",
    };
    let message = if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("the request failed")
            .to_lowercase()
    } else {
        text
    };
    let mut out = ApiError::new(status, code, message).into_response();
    for name in [header::ALLOW, header::RETRY_AFTER] {
        if let Some(v) = parts.headers.get(&name) {
            out.headers_mut().insert(name, v.clone());
        }
    }
    out
}
