//! The benchmarks' errors.

use splatpod_local_server::LocalServerError;
use splatpod_server::error::ServerError;

/// Why a benchmark stopped.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(transparent)]
    Gpu(#[from] splatpod::gpu::GpuError),
    #[error(transparent)]
    Server(#[from] ServerError),
    #[error(transparent)]
    LocalServer(#[from] LocalServerError),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("JSON error: {0}")]
    Json(#[from] serde_json::Error),
    #[error("image error: {0}")]
    Image(#[from] image::ImageError),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("HTTP error: {0}")]
    Http(#[from] reqwest::Error),
    /// The arguments or the input files are unusable.
    #[error("{0}")]
    BadInput(String),
    /// The measured system misbehaved (a job failed, a count does not add up).
    #[error("benchmark failed: {0}")]
    Failed(String),
}
