//! `splatpod-server worker`: a job worker without HTTP. Many of them, on many machines, share one
//! PostgreSQL queue and one S3 bucket with API-only `serve --no-worker` nodes; `serve` builds its
//! in-process pool through the same [`job_service`].

use std::path::Path;

use clap::Args;

use crate::blob::BlobStore;
use crate::db::Db;
use crate::error::ServerError;
use crate::gpu::SharedGpu;
use crate::jobs::input::JobCaps;
use crate::jobs::{JobService, JobSettings};
use crate::net::HostGuard;
use crate::node::{persistent_token, shutdown_signal, StoreArgs};

/// `worker`: runs jobs from the shared queue without serving HTTP.
#[derive(Debug, Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub jobs: JobArgs,
    /// This worker's name in the registry and in job records; default: host name plus a random
    /// suffix (unique per process). A stable name lets a restarted worker requeue its own
    /// interrupted jobs at once.
    #[arg(long, env = "SPLATPOD_WORKER_ID")]
    pub worker_id: Option<String>,
}

/// How jobs run: shared by `serve` (its in-process worker pool) and `worker`.
#[derive(Debug, Clone, Args)]
pub struct JobArgs {
    /// Endpoint name of the RunPod-compatible API (`/v2/NAME/run`); workers take jobs of it.
    #[arg(long, env = "SPLATPOD_ENDPOINT", default_value = "splatpod")]
    pub endpoint: String,
    /// Jobs run at once; default: one per 8 GiB of GPU memory (from nvidia-smi), 1 to 4; 1 on a
    /// CPU/software adapter; 2 where the memory is unknown.
    #[arg(long, env = "SPLATPOD_MAX_CONCURRENT_JOBS")]
    pub max_concurrent_jobs: Option<usize>,
    /// Backoff before the first retry in milliseconds (doubles each attempt).
    #[arg(long, env = "SPLATPOD_RETRY_BACKOFF_MS", default_value_t = 2000)]
    pub retry_backoff_ms: i64,
    /// GPU price used to estimate each job's cost (USD per GPU-hour).
    #[arg(long, env = "SPLATPOD_GPU_PRICE_PER_HOUR", default_value_t = 0.0)]
    pub gpu_price_per_hour: f64,
    /// Most images a job may fetch from `image_urls` (checked when it is submitted, or handed
    /// over by RunPod).
    #[arg(long, env = "SPLATPOD_MAX_URL_IMAGES", default_value_t = 200)]
    pub max_url_images: usize,
    /// Largest accepted image file in bytes.
    #[arg(long, env = "SPLATPOD_MAX_IMAGE_BYTES", default_value_t = 64 << 20)]
    pub max_image_bytes: usize,
    /// Hosts or IP networks that `image_urls` and webhooks may reach even though they are
    /// private, loopback or link-local (comma-separated: `localhost,10.0.0.0/8`).
    #[arg(long, env = "SPLATPOD_ALLOW_HOSTS", value_delimiter = ',')]
    pub allow_hosts: Vec<String>,
    /// Secret for webhook signatures (HMAC-SHA256); default: generated once and kept in
    /// --data-dir/webhook-secret. Give every node of a fleet the same one.
    #[arg(long, env = "SPLATPOD_WEBHOOK_SECRET")]
    pub webhook_secret: Option<String>,
    /// Lease of a running job in seconds; a worker that stops renewing it loses the job to
    /// the queue (and its later writes for that job are refused).
    #[arg(long, env = "SPLATPOD_JOB_LEASE_S", default_value_t = 30)]
    pub job_lease_s: u64,
    /// Most training iterations any job runs, whatever its input or preset asks (a shared or
    /// small server bounds what one job costs).
    #[arg(long, env = "SPLATPOD_MAX_JOB_ITERATIONS")]
    pub max_job_iterations: Option<u32>,
    /// Longest photo side (pixels) any job extracts features or trains at, whatever its input
    /// or preset asks.
    #[arg(long, env = "SPLATPOD_MAX_JOB_IMAGE_SIDE")]
    pub max_job_image_side: Option<u32>,
    /// JSON file listing remote backends (other Splatpod servers) that `reconstruct` jobs are
    /// forwarded to when this node has no GPU or they wait past --remote-after-s: `[{"name",
    /// "url", "endpoint", "api_key", "gpu_price_per_hour", "max_jobs"}]`.
    #[arg(long, env = "SPLATPOD_REMOTE_BACKENDS")]
    pub remote_backends: Option<std::path::PathBuf>,
    /// Seconds a job waits for a local GPU slot before it may go to a remote backend.
    #[arg(long, env = "SPLATPOD_REMOTE_AFTER_S", default_value_t = 30)]
    pub remote_after_s: u64,
    /// Jobs may read `s3://` photo URLs with this node's `AWS_*` settings: set by
    /// `runpod-worker` (its control plane is the operator's), never by a flag.
    #[arg(skip)]
    pub s3_inputs: bool,
}

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
            s3_inputs: args.s3_inputs,
            remotes: match &args.remote_backends {
                Some(path) => crate::remote::load(path)?,
                None => Vec::new(),
            },
            remote_after_ms: (args.remote_after_s * 1000) as i64,
        },
    ))
}

/// Runs jobs until SIGTERM or Ctrl-C; then requeues its running jobs and leaves the registry.
pub async fn run(args: WorkerArgs) -> Result<(), ServerError> {
    let data_dir = &args.store.data_dir;
    let (db, blobs) = args.store.open().await?;
    let guard = HostGuard::new(&args.jobs.allow_hosts).map_err(ServerError::BadInput)?;
    let worker_id = match &args.worker_id {
        Some(id) if !id.trim().is_empty() => id.trim().to_owned(),
        _ => {
            let suffix = crate::db::new_id();
            format!("{}-{}", crate::jobs::hostname(), &suffix[..8])
        }
    };
    let gpu = crate::gpu::start();
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
