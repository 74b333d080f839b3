//! Arguments of the GPU kernel benchmarks ([`crate::kernels`]).

use std::path::PathBuf;

use clap::Args;

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
    /// Time only the native CPU matcher (a machine whose adapter is a software one).
    #[arg(long)]
    pub cpu_only: bool,
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
