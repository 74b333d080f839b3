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
    /// Render a splat scene (PLY, SPZ or .splat) to a PNG, e.g. a project thumbnail.
    Render(RenderArgs),
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
    /// Frame time of the splat rasterizer on procedural scenes, split by stage.
    Render(RenderBenchArgs),
    /// Descriptor matching (nearest two, ratio and mutual checks) per image pair.
    Match(MatchBenchArgs),
    /// SIFT extraction time per image on the GPU (photos downscaled to --max-side).
    Extract(ExtractBenchArgs),
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
