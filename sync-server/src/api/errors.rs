//! Error answers: every one is JSON with a stable `error` code and a sentence; a broken limit
//! also names the limit and its value, and a rate limit says when to retry.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use strideguard_proto::wire::ErrorBody;

use super::Shared;
use crate::storage::StorageError;

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

    /// 400: the request itself is wrong; the message names the field.
    pub fn bad(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn unauthorized(message: &str) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
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
        resp
    }
}
