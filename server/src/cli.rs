//! Command-line interface. Every option can also come from an environment variable.

use clap::{Parser, Subcommand};
use splatpod_server::{admin, render_cli, runpod, serve, sfm_cli, train_cli, worker};

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
    Serve(Box<serve::ServeArgs>),
    /// Run jobs from the shared queue (PostgreSQL + S3 for a fleet) without serving HTTP.
    Worker(Box<worker::WorkerArgs>),
    /// A RunPod serverless worker: takes jobs from RunPod's control plane (`RUNPOD_*`
    /// variables), stores on the network volume or PostgreSQL + S3.
    RunpodWorker(Box<runpod::RunpodWorkerArgs>),
    /// Print the GPU adapter the server would use.
    GpuInfo,
    /// Structure-from-Motion on a folder of photos: COLMAP model, transforms.json, points.ply.
    Sfm(sfm_cli::SfmArgs),
    /// Train Gaussian splats on a COLMAP or transforms.json folder: PLY/SPZ, checkpoints, report.
    Train(train_cli::TrainArgs),
    /// Render a splat scene (PLY, SPZ or .splat) to a PNG, e.g. a project thumbnail.
    Render(render_cli::RenderArgs),
    /// Manage API keys (`keys create --name N` prints a new key once).
    Keys(admin::KeysArgs),
    /// Inspect and cancel jobs.
    Jobs(admin::JobsArgs),
}
