//! Shared server state: configuration, database, blob store, GPU context, job service.

use std::sync::Arc;

use axum::extract::FromRef;
use splatpod::gpu::AdapterSummary;

use crate::auth::KeyCache;
use crate::blob::BlobStore;
use crate::db::Db;
use crate::gpu::{read_gpu, GpuState, SharedGpu};
use crate::jobs::JobService;
use crate::net::HostGuard;
use crate::ratelimit::RateLimits;

/// Settings the handlers need (from `ServeArgs`).
#[derive(Debug, Clone)]
pub struct Config {
    pub endpoint: String,
    pub max_image_bytes: usize,
    pub max_files_per_upload: usize,
    pub max_url_images: usize,
    pub runsync_wait_s: u64,
    pub public_url: Option<String>,
    pub job_timeout_ms: i64,
    pub max_attempts: i64,
    /// The video decoders and their limits.
    pub video: crate::video::VideoTools,
    /// Largest request body, and largest resumable upload.
    pub max_upload_bytes: usize,
    /// Where resumable uploads keep the bytes received so far.
    pub upload_dir: std::path::PathBuf,
    /// How long an unfinished resumable upload lives after its last request.
    pub upload_expiry_ms: i64,
}

#[derive(Clone)]
pub struct AppState {
    gpu: SharedGpu,
    pub config: Arc<Config>,
    pub db: Db,
    pub blobs: BlobStore,
    pub keys: KeyCache,
    pub limits: RateLimits,
    pub jobs: JobService,
    pub guard: HostGuard,
    /// One writer at a time per resumable upload.
    pub uploads: crate::resumable::Locks,
}

impl AppState {
    pub fn new(
        config: Config,
        db: Db,
        blobs: BlobStore,
        limits: RateLimits,
        jobs: JobService,
        guard: HostGuard,
        gpu: SharedGpu,
    ) -> Self {
        Self {
            keys: KeyCache::new(db.clone()),
            gpu,
            config: Arc::new(config),
            db,
            blobs,
            limits,
            jobs,
            guard,
            uploads: crate::resumable::Locks::default(),
        }
    }

    pub fn gpu(&self) -> GpuState {
        read_gpu(&self.gpu)
    }

    /// The adapter summary once the GPU is up.
    pub fn adapter(&self) -> Result<AdapterSummary, String> {
        match self.gpu() {
            GpuState::Ready(ctx) => Ok(ctx.summary().clone()),
            GpuState::Starting => Err("GPU context is starting".into()),
            GpuState::Failed(e) => Err(format!("GPU unavailable: {e}")),
        }
    }
}

/// The API-key cache, for the [`crate::auth`] extractors.
impl FromRef<AppState> for KeyCache {
    fn from_ref(state: &AppState) -> Self {
        state.keys.clone()
    }
}
