//! Server errors, mapped to HTTP responses in one place.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

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
    #[error("{0}")]
    BadInput(String),
    #[error("benchmark failed: {0}")]
    Bench(String),
    #[error("{0}")]
    Unavailable(String),
}

impl ServerError {
    fn status(&self) -> StatusCode {
        match self {
            ServerError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ServerError::Format(_) | ServerError::BadInput(_) => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ServerError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = serde_json::json!({ "error": self.to_string(), "status": status.as_u16() });
        (status, Json(body)).into_response()
    }
}
