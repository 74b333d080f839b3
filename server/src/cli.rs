//! Command-line interface. Every option can also come from an environment variable.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "splatpod-server",
    version,
    // `run.sh` passes defaults first; a repeated option (e.g. `./run.sh --port 9000`) wins.
    args_override_self = true,
    about = "Splatpod: photos to 3D Gaussian splats"
)]
pub struct Cli {
    /// Log as JSON lines instead of human-readable text.
    #[arg(long, global = true, env = "SPLATPOD_LOG_JSON")]
    pub log_json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API and the PWA (and run jobs, unless --no-worker).
    Serve(Box<ServeArgs>),
    /// Run jobs from the shared queue (PostgreSQL + S3 for a fleet) without serving HTTP.
    Worker(Box<WorkerArgs>),
    /// Run a GPU benchmark and write its JSON under bench/results/.
    Bench(BenchArgs),
    /// Print the GPU adapter the server would use.
    GpuInfo,
    /// Structure-from-Motion on a folder of photos: COLMAP model, transforms.json, points.ply.
    Sfm(crate::sfm_cli::SfmArgs),
    /// Train Gaussian splats on a COLMAP or transforms.json folder: PLY/SPZ, checkpoints, report.
    Train(crate::train_cli::TrainArgs),
    /// Render a splat scene (PLY, SPZ or .splat) to a PNG, e.g. a project thumbnail.
    Render(RenderArgs),
    /// Manage API keys (`keys create --name N` prints a new key once).
    Keys(KeysArgs),
    /// Inspect and cancel jobs.
    Jobs(JobsArgs),
    /// Load-test status polling on loopback and write bench/results/api.json.
    BenchApi(crate::loadtest::LoadTestArgs),
    /// Time a features job through the API (upload, GPU SIFT, matching) -> bench/results/jobs.json.
    BenchJobs(crate::jobbench::JobBenchArgs),
    /// Claims per second through the job queue with no-op jobs and N workers
    /// -> bench/results/queue.json.
    BenchQueue(crate::queuebench::QueueBenchArgs),
}

/// Where the server keeps its data; shared by every subcommand that touches it.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// Folder for the SQLite database, local blobs and the server's secrets (created if missing).
    #[arg(
        long,
        global = true,
        env = "SPLATPOD_DATA_DIR",
        default_value = "splatpod-data"
    )]
    pub data_dir: PathBuf,
    /// PostgreSQL URL (postgres://user:pass@host/db) instead of SQLite in --data-dir.
    #[arg(long, global = true, env = "SPLATPOD_DATABASE_URL")]
    pub database_url: Option<String>,
    /// S3-compatible blob store URL (s3://bucket/prefix; AWS_* variables give endpoint and
    /// credentials) instead of --data-dir/blobs.
    #[arg(long, global = true, env = "SPLATPOD_BLOB_URL")]
    pub blob_url: Option<String>,
}

#[derive(Debug, Args)]
pub struct KeysArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(subcommand)]
    pub action: KeysAction,
}

#[derive(Debug, Subcommand)]
pub enum KeysAction {
    /// Create a key and print it (only its hash is stored).
    Create {
        #[arg(long)]
        name: String,
    },
    /// List keys (id, name, prefix, created, revoked).
    List,
    /// Revoke a key by id or name.
    Revoke { key: String },
}

#[derive(Debug, Args)]
pub struct JobsArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(subcommand)]
    pub action: JobsAction,
}

#[derive(Debug, Subcommand)]
pub enum JobsAction {
    /// Most recent jobs first.
    List {
        #[arg(long, default_value_t = 50)]
        limit: i64,
        /// Full records as a JSON array (with worker and lease) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Live workers of an endpoint (id, GPU, host, slots, running jobs, heartbeat) as JSON.
    Workers {
        #[arg(long, env = "SPLATPOD_ENDPOINT", default_value = "splatpod")]
        endpoint: String,
    },
    /// One job's full record as JSON.
    Show { id: String },
    /// Cancel a queued or running job (a running one stops at its next check).
    Cancel { id: String },
}

/// Three comma-separated numbers.
fn parse_vec3(s: &str) -> Result<[f32; 3], String> {
    let v: Vec<f32> = s
        .split(',')
        .map(|p| p.trim().parse::<f32>().map_err(|e| format!("`{p}`: {e}")))
        .collect::<Result<_, _>>()?;
    <[f32; 3]>::try_from(v).map_err(|v| format!("expected 3 numbers, got {}", v.len()))
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// Scene file: 3DGS PLY, SPZ or antimatter15 .splat.
    pub scene: PathBuf,
    /// Output PNG.
    #[arg(long, default_value = "view.png")]
    pub out: PathBuf,
    #[arg(long, default_value_t = 1280)]
    pub width: u32,
    #[arg(long, default_value_t = 720)]
    pub height: u32,
    /// Camera position x,y,z; default: framing the scene from `--view-dir`.
    #[arg(long, value_parser = parse_vec3, allow_hyphen_values = true)]
    pub eye: Option<[f32; 3]>,
    /// Point looked at; default: the centre of the scene's bulk.
    #[arg(long, value_parser = parse_vec3, allow_hyphen_values = true)]
    pub target: Option<[f32; 3]>,
    /// Up direction in the image (3DGS/COLMAP scenes are y-down, so 0,-1,0).
    #[arg(long, value_parser = parse_vec3, allow_hyphen_values = true, default_value = "0,-1,0")]
    pub up: [f32; 3],
    /// Viewing direction used when framing automatically.
    #[arg(long, value_parser = parse_vec3, allow_hyphen_values = true, default_value = "0,0,1")]
    pub view_dir: [f32; 3],
    /// Vertical field of view in degrees.
    #[arg(long, default_value_t = 50.0)]
    pub fov_deg: f32,
    /// Background colour r,g,b in 0..1.
    #[arg(long, value_parser = parse_vec3, default_value = "0,0,0")]
    pub background: [f32; 3],
}

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
    /// Most images a job may fetch from `image_urls`.
    #[arg(long, env = "SPLATPOD_MAX_URL_IMAGES", default_value_t = 200)]
    pub max_url_images: usize,
    /// Origins allowed to call the API from a browser (comma-separated); none by default,
    /// i.e. same-origin only.
    #[arg(long, env = "SPLATPOD_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,
    /// Base URL used in share links (default: from the request's Host header).
    #[arg(long, env = "SPLATPOD_PUBLIC_URL")]
    pub public_url: Option<String>,
}

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
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub which: BenchKind,
}

#[derive(Debug, Subcommand)]
pub enum BenchKind {
    /// Key-value radix sort throughput, beside torch.sort (CUB) when python3 has torch.
    Sort(SortBenchArgs),
    /// Frame time of the splat rasterizer on procedural scenes, split by stage.
    Render(RenderBenchArgs),
    /// Descriptor matching (nearest two, ratio and mutual checks) per image pair.
    Match(MatchBenchArgs),
    /// SIFT extraction time per image on the GPU (photos downscaled to --max-side).
    Extract(ExtractBenchArgs),
    /// The capture page's per-photo check (CaptureAnalyzer) on 12-MP JPEGs: decode + GPU time.
    Capture(CaptureBenchArgs),
    /// Matching quality on the Strecha scenes (ground-truth epipolar geometry), beside COLMAP's
    /// SIFT when python3 has pycolmap.
    Strecha(StrechaBenchArgs),
}

#[derive(Debug, Args)]
pub struct ExtractBenchArgs {
    /// Folder of JPEG/PNG photos.
    #[arg(long, default_value = "../shared/datasets/strecha-fountain-P11/images")]
    pub images: PathBuf,
    /// Longer image side after downscaling.
    #[arg(long, default_value_t = 1600)]
    pub max_side: u32,
    /// Most features kept per image.
    #[arg(long, default_value_t = 8192)]
    pub max_features: u32,
    #[arg(long, default_value = "bench/results/features.json")]
    pub out: PathBuf,
    /// Commit being measured.
    #[arg(long, env = "SPLATPOD_COMMIT", default_value = "unknown")]
    pub commit: String,
}

#[derive(Debug, Args)]
pub struct CaptureBenchArgs {
    /// Folder of overlapping photos, upscaled to 4000x3000 (12 MP) JPEGs in memory.
    #[arg(long, default_value = "../shared/datasets/strecha-fountain-P11/images")]
    pub images: PathBuf,
    /// Features per frame, as the capture page uses.
    #[arg(long, default_value_t = 4096)]
    pub max_features: u32,
    #[arg(long, default_value = "bench/results/features.json")]
    pub out: PathBuf,
    /// Commit being measured.
    #[arg(long, env = "SPLATPOD_COMMIT", default_value = "unknown")]
    pub commit: String,
}

#[derive(Debug, Args)]
pub struct StrechaBenchArgs {
    /// Folder holding the strecha-* scenes.
    #[arg(long, default_value = "../shared/datasets")]
    pub datasets: PathBuf,
    /// Pairs as scene:i:j.
    #[arg(long, value_delimiter = ',', default_values_t = vec![
        "strecha-fountain-P11:4:5".to_string(),
        "strecha-Herz-Jesus-P8:2:3".to_string(),
        "strecha-entry-P10:3:4".to_string(),
    ])]
    pub pairs: Vec<String>,
    /// Longer image side after downscaling.
    #[arg(long, default_value_t = 768)]
    pub max_side: u32,
    /// Peer script (COLMAP SIFT through pycolmap); skipped when absent or failing.
    #[arg(long, default_value = "bench/colmap_match.py")]
    pub peer_script: PathBuf,
    #[arg(long, default_value = "bench/results/features.json")]
    pub out: PathBuf,
    /// Commit being measured.
    #[arg(long, env = "SPLATPOD_COMMIT", default_value = "unknown")]
    pub commit: String,
}

#[derive(Debug, Args)]
pub struct MatchBenchArgs {
    /// Descriptors per image.
    #[arg(long, default_value_t = 8192)]
    pub features: u32,
    /// Timed pairs (after one warm-up).
    #[arg(long, default_value_t = 10)]
    pub pairs: u32,
    #[arg(long, default_value = "bench/results/features.json")]
    pub out: PathBuf,
    /// Commit being measured.
    #[arg(long, env = "SPLATPOD_COMMIT", default_value = "unknown")]
    pub commit: String,
}

#[derive(Debug, Args)]
pub struct RenderBenchArgs {
    /// Scene sizes in millions of splats (procedural, SH degree 3).
    #[arg(long, value_delimiter = ',', default_values_t = vec![1.0f32, 3.0])]
    pub splats_m: Vec<f32>,
    #[arg(long, default_value_t = 1920)]
    pub width: u32,
    #[arg(long, default_value_t = 1080)]
    pub height: u32,
    /// Timed frames per size (after warm-up), each from a slightly different orbit position.
    #[arg(long, default_value_t = 30)]
    pub frames: u32,
    #[arg(long, default_value = "bench/results/render.json")]
    pub out: PathBuf,
    /// Commit being measured.
    #[arg(long, env = "SPLATPOD_COMMIT", default_value = "unknown")]
    pub commit: String,
}

#[derive(Debug, Args)]
pub struct SortBenchArgs {
    /// Pair counts to time, in millions of 2^20 (1 = 1,048,576).
    #[arg(long, value_delimiter = ',', default_values_t = vec![1u32, 4, 16])]
    pub sizes_m: Vec<u32>,
    /// Timed repetitions per size (after warm-up).
    #[arg(long, default_value_t = 20)]
    pub iterations: u32,
    /// Where to write the JSON result.
    #[arg(long, default_value = "bench/results/sort.json")]
    pub out: PathBuf,
    /// Peer script that prints torch.sort timings as JSON; skipped when absent.
    #[arg(long, default_value = "bench/torch_sort.py")]
    pub peer_script: PathBuf,
    /// Force the block size (chunks of 1024 keys per workgroup, 1..=8) instead of the heuristic.
    #[arg(long)]
    pub chunks_per_block: Option<u32>,
    /// Commit being measured (the device machine's copy has no .git).
    #[arg(long, env = "SPLATPOD_COMMIT", default_value = "unknown")]
    pub commit: String,
}
