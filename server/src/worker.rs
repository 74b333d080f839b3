//! `splatpod-server worker`: a job worker without HTTP. Many of them, on many machines, share one
//! PostgreSQL queue and one S3 bucket with API-only `serve --no-worker` nodes; `serve` builds its
//! in-process pool through the same [`job_service`].

use std::path::Path;
use std::sync::{Arc, RwLock};

use crate::blob::BlobStore;
use crate::cli::{JobArgs, WorkerArgs};
use crate::db::Db;
use crate::error::ServerError;
use crate::jobs::input::JobCaps;
use crate::jobs::{JobService, JobSettings};
use crate::net::HostGuard;
use crate::routes::{persistent_token, shutdown_signal, spawn_gpu_init};
use crate::state::{GpuState, SharedGpu};

/// The job service of a node: `worker_id` names it in the registry and in job records.
pub fn job_service(
    args: &JobArgs,
    data_dir: &Path,
    worker_id: String,
    db: Db,
    blobs: BlobStore,
    gpu: SharedGpu,
    guard: HostGuard,
) -> Result<JobService, ServerError> {
    let webhook_secret = match &args.webhook_secret {
        Some(s) if !s.is_empty() => s.clone(),
        _ => persistent_token(&data_dir.join("webhook-secret"))?,
    };
    Ok(JobService::new(
        db,
        blobs,
        gpu,
        guard,
        JobSettings {
            endpoint: args.endpoint.clone(),
            worker_id,
            max_concurrent: args.max_concurrent_jobs,
            lease_ms: (args.job_lease_s.max(1) * 1000) as i64,
            retry_backoff_ms: args.retry_backoff_ms.max(0),
            gpu_price_per_hour: args.gpu_price_per_hour.max(0.0),
            webhook_secret,
            max_image_bytes: args.max_image_bytes,
            caps: JobCaps {
                iterations: args.max_job_iterations,
                image_side: args.max_job_image_side,
            },
        },
    ))
}

/// Runs jobs until SIGTERM or Ctrl-C; then requeues its running jobs and leaves the registry.
pub async fn run(args: WorkerArgs) -> Result<(), ServerError> {
    let data_dir = &args.store.data_dir;
    tokio::fs::create_dir_all(data_dir).await?;
    let db = Db::open(args.store.database_url.as_deref(), data_dir).await?;
    let blobs = BlobStore::open(args.store.blob_url.as_deref(), data_dir)?;
    let guard = HostGuard::new(&args.jobs.allow_hosts).map_err(ServerError::BadInput)?;
    let worker_id = match &args.worker_id {
        Some(id) if !id.trim().is_empty() => id.trim().to_owned(),
        _ => {
            let suffix = crate::db::new_id();
            format!("{}-{}", crate::jobs::hostname(), &suffix[..8])
        }
    };
    let gpu: SharedGpu = Arc::new(RwLock::new(GpuState::Starting));
    spawn_gpu_init(gpu.clone());
    let jobs = job_service(
        &args.jobs,
        data_dir,
        worker_id.clone(),
        db,
        blobs,
        gpu,
        guard,
    )?;
    jobs.start(true).await?;
    tracing::info!(worker = %worker_id, endpoint = %args.jobs.endpoint, "worker started");
    shutdown_signal().await;
    jobs.stop_worker().await?;
    tracing::info!(worker = %worker_id, "worker stopped");
    Ok(())
}
