//! Server errors, mapped to HTTP responses in one place.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use splatpod::api::ErrorBody;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Gpu(#[from] splatpod::gpu::GpuError),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("JSON error: {0}")]
    Json(#[from] serde_json::Error),
    #[error(transparent)]
    Format(#[from] splatpod::formats::FormatError),
    #[error("image encoding failed: {0}")]
    Image(#[from] image::ImageError),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("storage error: {0}")]
    Blob(#[from] object_store::Error),
    #[error(transparent)]
    Train(#[from] splatpod::train::trainer::TrainError),
    #[error(transparent)]
    Video(#[from] crate::video::VideoError),
    #[error(transparent)]
    Render(#[from] crate::thumbnail::RenderError),
    #[error("{0}")]
    BadInput(String),
    #[error("{0}")]
    NotFound(String),
    #[error("missing or invalid API key, or an expired or revoked pairing token (send `Authorization: Bearer KEY`)")]
    Unauthorized,
    /// Authenticated, but this credential (a pairing token) may not do this.
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(String),
    /// Existed once but is gone for good (an expired resumable upload).
    #[error("{0}")]
    Gone(String),
    /// Busy with another request (a resumable upload still receiving on another connection).
    #[error("{0}")]
    Locked(String),
    /// A protocol version the server does not speak (tus `Tus-Resumable`).
    #[error("{0}")]
    Precondition(String),
    /// The request body stopped before its end (a resumable upload keeps what arrived).
    #[error("{0}")]
    Incomplete(String),
    /// The received bytes do not have the declared SHA-256 (tus' 460 Checksum Mismatch).
    #[error("{0}")]
    Checksum(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    UnsupportedMedia(String),
    #[error("rate limit exceeded; retry in {retry_after_s} s")]
    RateLimited { retry_after_s: u64 },
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Internal(String),
}

impl ServerError {
    pub fn status(&self) -> StatusCode {
        use crate::video::VideoError;
        match self {
            ServerError::Unavailable(_) | ServerError::Video(VideoError::NoDecoder(_)) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ServerError::Video(VideoError::Unreadable(_)) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ServerError::Video(VideoError::Timeout(_)) => StatusCode::PAYLOAD_TOO_LARGE,
            ServerError::Format(_) | ServerError::BadInput(_) | ServerError::Json(_) => {
                StatusCode::BAD_REQUEST
            }
            ServerError::NotFound(_) => StatusCode::NOT_FOUND,
            ServerError::Unauthorized => StatusCode::UNAUTHORIZED,
            ServerError::Forbidden(_) => StatusCode::FORBIDDEN,
            ServerError::Conflict(_) => StatusCode::CONFLICT,
            ServerError::Gone(_) => StatusCode::GONE,
            ServerError::Incomplete(_) => StatusCode::REQUEST_TIMEOUT,
            ServerError::Locked(_) => StatusCode::LOCKED,
            ServerError::Precondition(_) => StatusCode::PRECONDITION_FAILED,
            ServerError::Checksum(_) => {
                StatusCode::from_u16(460).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY)
            }
            ServerError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ServerError::UnsupportedMedia(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ServerError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ServerError {
    fn into_response(self) -> Response {
        let status = self.status();
        // Server faults keep their detail (database, storage, file paths) in the log, under a
        // request id the client can quote; the client sees only that id.
        let body = if status.is_server_error() && status != StatusCode::SERVICE_UNAVAILABLE {
            let request_id = uuid::Uuid::new_v4().to_string();
            tracing::error!(request_id = %request_id, "{self}");
            ErrorBody {
                error: format!("internal server error (request id {request_id})"),
                status: status.as_u16(),
                request_id: Some(request_id),
            }
        } else {
            ErrorBody {
                error: self.to_string(),
                status: status.as_u16(),
                request_id: None,
            }
        };
        let mut res = (status, Json(body)).into_response();
        match &self {
            ServerError::RateLimited { retry_after_s } => {
                if let Ok(v) = HeaderValue::from_str(&retry_after_s.to_string()) {
                    res.headers_mut().insert(header::RETRY_AFTER, v);
                }
            }
            ServerError::Precondition(_) => {
                res.headers_mut()
                    .insert("tus-version", HeaderValue::from_static("1.0.0"));
            }
            ServerError::Unauthorized => {
                res.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"splatpod\""),
                );
            }
            _ => {}
        }
        res
    }
}
