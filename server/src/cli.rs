//! Command-line interface. Every option can also come from an environment variable.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "splatpod-server",
    version,
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
    /// Serve the API and the PWA.
    Serve(ServeArgs),
    /// Run a GPU benchmark and write its JSON under bench/results/.
    Bench(BenchArgs),
    /// Print the GPU adapter the server would use.
    GpuInfo,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// TCP port to listen on.
    #[arg(long, env = "SPLATPOD_PORT", default_value_t = 8080)]
    pub port: u16,
    /// Address to bind.
    #[arg(long, env = "SPLATPOD_HOST", default_value = "127.0.0.1")]
    pub host: std::net::IpAddr,
    /// Folder for the database and stored files (created if missing).
    #[arg(long, env = "SPLATPOD_DATA_DIR", default_value = "splatpod-data")]
    pub data_dir: PathBuf,
    /// Folder holding the built PWA (Trunk's `dist/`).
    #[arg(long, env = "SPLATPOD_DIST_DIR", default_value = "dist")]
    pub dist_dir: PathBuf,
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
