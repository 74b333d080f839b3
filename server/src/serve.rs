//! `splatpod-server serve`: the API and the PWA over HTTP, with an in-process job worker pool
//! (unless `--no-worker`), until SIGTERM or Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

use crate::error::ServerError;
use crate::net::HostGuard;
use crate::node::{persistent_token, shutdown_signal, StoreArgs};
use crate::ratelimit::RateLimits;
use crate::state::{AppState, Config};
use crate::worker::{job_service, JobArgs};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// TCP port to listen on.
    #[arg(long, env = "SPLATPOD_PORT", default_value_t = 8080)]
    pub port: u16,
    /// Address to bind.
    #[arg(long, env = "SPLATPOD_HOST", default_value = "127.0.0.1")]
    pub host: std::net::IpAddr,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub jobs: JobArgs,
    /// Run no jobs here: an API-only node in front of `worker` processes sharing its
    /// PostgreSQL database and blob store.
    #[arg(long, env = "SPLATPOD_NO_WORKER")]
    pub no_worker: bool,
    /// Folder holding the built PWA (Trunk's `dist/`).
    #[arg(long, env = "SPLATPOD_DIST_DIR", default_value = "dist")]
    pub dist_dir: PathBuf,
    /// Attempts after the first for a job that fails for a transient reason.
    #[arg(long, env = "SPLATPOD_JOB_RETRIES", default_value_t = 2)]
    pub job_retries: i64,
    /// Default execution timeout of a job in seconds (a request's policy.executionTimeout wins).
    #[arg(long, env = "SPLATPOD_JOB_TIMEOUT_S", default_value_t = 3600)]
    pub job_timeout_s: u64,
    /// Longest a `runsync` call waits before answering with the job's current state.
    #[arg(long, env = "SPLATPOD_RUNSYNC_WAIT_S", default_value_t = 90)]
    pub runsync_wait_s: u64,
    /// Job submissions per minute per API key and per client IP.
    #[arg(long, env = "SPLATPOD_JOB_RATE_PER_MIN", default_value_t = 20)]
    pub job_rate_per_min: u32,
    /// Most files in one upload request.
    #[arg(long, env = "SPLATPOD_MAX_FILES_PER_UPLOAD", default_value_t = 500)]
    pub max_files_per_upload: usize,
    /// Largest upload request body in bytes.
    #[arg(long, env = "SPLATPOD_MAX_UPLOAD_BYTES", default_value_t = 2 << 30)]
    pub max_upload_bytes: usize,
    /// The ffmpeg that turns uploaded videos into frames (Debian's `ffmpeg` package).
    #[arg(long, env = "SPLATPOD_FFMPEG", default_value = "ffmpeg")]
    pub ffmpeg: PathBuf,
    /// The ffprobe that measures uploaded videos (installed with ffmpeg).
    #[arg(long, env = "SPLATPOD_FFPROBE", default_value = "ffprobe")]
    pub ffprobe: PathBuf,
    /// Longest time reading one uploaded video may take, in seconds (probe and decode).
    #[arg(long, env = "SPLATPOD_VIDEO_TIMEOUT_S", default_value_t = 600)]
    pub video_timeout_s: u64,
    /// How long an unfinished resumable upload is kept after its last request, in seconds.
    #[arg(long, env = "SPLATPOD_UPLOAD_EXPIRY_S", default_value_t = 86_400)]
    pub upload_expiry_s: u64,
    /// Origins allowed to call the API from a browser (comma-separated); none by default,
    /// i.e. same-origin only.
    #[arg(long, env = "SPLATPOD_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,
    /// Base URL used in share links (default: from the request's Host header).
    #[arg(long, env = "SPLATPOD_PUBLIC_URL")]
    pub public_url: Option<String>,
}

/// Starts the server and runs until SIGTERM or Ctrl-C, finishing in-flight requests.
pub async fn serve(args: ServeArgs) -> Result<(), ServerError> {
    let data_dir = &args.store.data_dir;
    if !args.dist_dir.join("index.html").is_file() {
        tracing::warn!(
            dist = %args.dist_dir.display(),
            "no built PWA found (run `trunk build --release`); the API still works"
        );
    }
    let (db, blobs) = args.store.open().await?;
    let guard = HostGuard::new(&args.jobs.allow_hosts).map_err(ServerError::BadInput)?;
    let node_id = persistent_token(&data_dir.join("node-id"))?;
    let gpu = crate::gpu::start();
    let jobs = job_service(
        &args.jobs,
        data_dir,
        format!("node-{}", &node_id[..16.min(node_id.len())]),
        db.clone(),
        blobs.clone(),
        gpu.clone(),
        guard.clone(),
    )?;
    jobs.start(!args.no_worker).await?;
    let config = Config {
        endpoint: args.jobs.endpoint.clone(),
        max_image_bytes: args.jobs.max_image_bytes,
        max_files_per_upload: args.max_files_per_upload,
        max_url_images: args.jobs.max_url_images,
        runsync_wait_s: args.runsync_wait_s,
        public_url: args.public_url.clone(),
        job_timeout_ms: (args.job_timeout_s.max(1) * 1000) as i64,
        max_attempts: 1 + args.job_retries.clamp(0, 20),
        video: crate::video::VideoTools {
            ffmpeg: args.ffmpeg.clone(),
            ffprobe: args.ffprobe.clone(),
            timeout: std::time::Duration::from_secs(args.video_timeout_s.max(1)),
            work_dir: data_dir.join("tmp"),
        },
        max_upload_bytes: args.max_upload_bytes,
        upload_dir: data_dir.join("uploads"),
        upload_expiry_ms: (args.upload_expiry_s.clamp(1, 30 * 86_400) * 1000) as i64,
    };
    let limits = RateLimits::new(args.job_rate_per_min);
    let shrink = limits.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(60)).await;
            shrink.shrink();
        }
    });
    let state = AppState::new(config, db, blobs, limits, jobs, guard, gpu);

    let app = crate::routes::router(
        state,
        &args.dist_dir,
        args.max_upload_bytes,
        &args.cors_origins,
    );
    let addr = SocketAddr::new(args.host, args.port);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(url = %format!("http://{}", listener.local_addr()?), "splatpod-server listening");
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await?;
    tracing::info!("shut down cleanly");
    Ok(())
}
