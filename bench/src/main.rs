//! `splatpod-bench`: Splatpod's benchmarks, outside the product binary. The GPU kernel
//! benchmarks run the engine in-process; the API, jobs and queue benchmarks drive a throw-away
//! `splatpod-server` (built beside this binary) or its job queue. Each writes (or merges into)
//! its JSON under `bench/results/`.

mod api;
mod args;
mod error;
mod jobs;
mod kernels;
mod queue;
mod results;
mod server;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "splatpod-bench",
    version,
    about = "Splatpod benchmarks: each writes its JSON under bench/results/"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Key-value radix sort throughput, beside torch.sort (CUB) when python3 has torch.
    Sort(args::SortBenchArgs),
    /// Frame time of the splat rasterizer on procedural scenes, split by stage.
    Render(args::RenderBenchArgs),
    /// Descriptor matching (nearest two, ratio and mutual checks) per image pair.
    Match(args::MatchBenchArgs),
    /// SIFT extraction time per image on the GPU (photos downscaled to --max-side).
    Extract(args::ExtractBenchArgs),
    /// The capture page's per-photo check (CaptureAnalyzer) on 12-MP JPEGs: decode + GPU time.
    Capture(args::CaptureBenchArgs),
    /// Matching quality on the Strecha scenes (ground-truth epipolar geometry), beside COLMAP's
    /// SIFT when python3 has pycolmap.
    Strecha(args::StrechaBenchArgs),
    /// Load-test status polling on loopback and write bench/results/api.json.
    Api(api::LoadTestArgs),
    /// Time a features job through the API (upload, GPU SIFT, matching) -> bench/results/jobs.json.
    Jobs(jobs::JobBenchArgs),
    /// Claims per second through the job queue with no-op jobs and N workers
    /// -> bench/results/queue.json.
    Queue(queue::QueueBenchArgs),
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,wgpu_core=warn,wgpu_hal=warn,naga=warn".into());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Command::Sort(a) => kernels::sort(a).await,
        Command::Render(a) => kernels::render(a).await,
        Command::Match(a) => kernels::match_pairs(a).await,
        Command::Extract(a) => kernels::extract(a).await,
        Command::Capture(a) => kernels::capture(a).await,
        Command::Strecha(a) => kernels::strecha(a).await,
        Command::Api(a) => api::run(a).await,
        Command::Jobs(a) => jobs::run(a).await,
        Command::Queue(a) => queue::run(a).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
