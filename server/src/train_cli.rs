//! `splatpod-server train DATASET --iterations 7000 --out scene.ply`: Gaussian-splat training on
//! a COLMAP or `transforms.json` folder with a progress bar (iteration, loss, splats, PSNR), an
//! evaluation on the held-out views, PLY / SPZ export, checkpoints and a JSON report.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use splatpod::formats::{save_ply, save_spz};
use splatpod::gpu::GpuContext;
use splatpod::train::checkpoint::Checkpoint;
use splatpod::train::dataset::{init_splats, LoadOptions, TrainDataset};
use splatpod::train::trainer::{Evaluation, StageTimes, TrainConfig, Trainer};

use crate::error::ServerError;

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// A COLMAP folder (sparse/0 + images/) or a folder with transforms.json.
    pub dataset: PathBuf,
    /// Iterations to train.
    #[arg(long, default_value_t = 7000)]
    pub iterations: u32,
    /// Where the trained scene goes (.ply; a .spz beside it with --spz).
    #[arg(long)]
    pub out: PathBuf,
    /// Also write the scene as SPZ here.
    #[arg(long)]
    pub spz: Option<PathBuf>,
    /// Integer downscale of the photos.
    #[arg(long, default_value_t = 1)]
    pub downscale: u32,
    /// Downscale further so the longer side is at most this.
    #[arg(long)]
    pub max_side: Option<u32>,
    /// Train on every view (default: every 8th is held out for evaluation).
    #[arg(long)]
    pub no_holdout: bool,
    /// Random initial points when the dataset has none.
    #[arg(long, default_value_t = 100_000)]
    pub random_points: usize,
    /// Seed of the initial points, the view order and the split noise.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Evaluate on the held-out views every N iterations (0: only at the end).
    #[arg(long, default_value_t = 0)]
    pub eval_every: u32,
    /// Write a checkpoint here every --checkpoint-every iterations and at the end.
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    #[arg(long, default_value_t = 1000)]
    pub checkpoint_every: u32,
    /// Continue from this checkpoint.
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// Cap on the splat count.
    #[arg(long)]
    pub max_splats: Option<u32>,
    /// Write a JSON report (timings, quality, splats, memory) here.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Time each stage of every iteration (waits for the GPU after each: slower overall) and
    /// put the split in the report.
    #[arg(long)]
    pub profile: bool,
}

/// The JSON report.
#[derive(Debug, Serialize)]
pub struct TrainReport {
    pub dataset: String,
    pub device: String,
    pub iterations: u32,
    pub train_views: usize,
    pub test_views: usize,
    pub resolution: [u32; 2],
    pub load_s: f64,
    pub train_wall_s: f64,
    pub it_per_s: f64,
    pub splats: u32,
    pub peak_gpu_buffer_gib: Option<f64>,
    pub psnr_test: Option<f32>,
    pub ssim_test: Option<f32>,
    /// Evaluations during training: (iteration, PSNR, SSIM).
    pub curve: Vec<(u32, f32, f32)>,
    pub final_loss: Option<f32>,
    /// Per-stage seconds with `--profile`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stages: Option<StageTimes>,
}

pub async fn run(args: TrainArgs) -> Result<(), ServerError> {
    let t0 = Instant::now();
    let options = LoadOptions {
        downscale: args.downscale,
        max_side: args.max_side,
        holdout_every: (!args.no_holdout).then_some(8),
        random_points: args.random_points,
        seed: args.seed,
    };
    let dataset = TrainDataset::load(&args.dataset, &options)
        .map_err(|e| ServerError::BadInput(e.to_string()))?;
    let load_s = t0.elapsed().as_secs_f64();
    let ctx = GpuContext::new_for_large_scenes().await?;
    let mut config = TrainConfig {
        iterations: args.iterations,
        seed: args.seed,
        ..TrainConfig::default()
    };
    config.densify.max_splats = args.max_splats;
    let mut trainer = match &args.resume {
        Some(path) => {
            let checkpoint = Checkpoint::from_bytes(&std::fs::read(path)?)
                .map_err(|e| ServerError::BadInput(format!("{}: {e}", path.display())))?;
            Trainer::resume(&ctx, &dataset, &checkpoint, config)?
        }
        None => {
            let init = init_splats(&dataset.points, &dataset.colors, args.seed);
            Trainer::new(&ctx, &dataset, &init, config)?
        }
    };
    if args.profile {
        trainer.profile_stages();
    }
    let bar = ProgressBar::new(args.iterations as u64);
    if let Ok(style) =
        ProgressStyle::with_template("{elapsed:>4} training [{bar:30}] {pos}/{len} {per_sec} {msg}")
    {
        bar.set_style(style);
    }
    bar.set_position(trainer.step_count() as u64);
    let mut curve = Vec::new();
    let mut peak = ctx.buffer_memory();
    let t_train = Instant::now();
    let start_step = trainer.step_count();
    let mut psnr_msg = String::new();
    while trainer.step_count() < args.iterations {
        let report = trainer.step().await?;
        peak = peak.max(ctx.buffer_memory());
        bar.set_position(report.step as u64);
        if report.step % 100 == 0 || report.step == args.iterations {
            let loss = trainer
                .read_loss()
                .await?
                .map(|l| l.total)
                .unwrap_or(f32::NAN);
            bar.set_message(format!(
                "loss {loss:.4} · {} splats{psnr_msg}",
                report.splats
            ));
        }
        if args.eval_every > 0 && report.step % args.eval_every == 0 && !dataset.test.is_empty() {
            let e = trainer.evaluate(&dataset.test).await?;
            curve.push((report.step, e.psnr, e.ssim));
            psnr_msg = format!(" · PSNR {:.2}", e.psnr);
            // The curve so far, so a run stopped early still leaves its figures.
            if let Some(path) = &args.report {
                let partial = serde_json::json!({
                    "partial": true,
                    "iterations": report.step,
                    "train_wall_s": t_train.elapsed().as_secs_f64(),
                    "splats": report.splats,
                    "curve": curve,
                });
                std::fs::write(path, partial.to_string())?;
            }
        }
        if let Some(path) = &args.checkpoint {
            if report.step % args.checkpoint_every.max(1) == 0 {
                write_checkpoint(&trainer, path).await?;
            }
        }
    }
    let train_wall_s = t_train.elapsed().as_secs_f64();
    bar.finish();
    let final_loss = trainer.read_loss().await?.map(|l| l.total);
    let eval: Option<Evaluation> = if dataset.test.is_empty() {
        None
    } else {
        Some(trainer.evaluate(&dataset.test).await?)
    };
    if let Some(path) = &args.checkpoint {
        write_checkpoint(&trainer, path).await?;
    }
    let scene = trainer.scene().await?;
    std::fs::write(
        &args.out,
        save_ply(&scene).map_err(|e| ServerError::Internal(e.to_string()))?,
    )?;
    if let Some(spz) = &args.spz {
        std::fs::write(
            spz,
            save_spz(&scene).map_err(|e| ServerError::Internal(e.to_string()))?,
        )?;
    }
    let done = trainer.step_count() - start_step;
    let report = TrainReport {
        dataset: args.dataset.display().to_string(),
        device: ctx.summary().name.clone(),
        iterations: trainer.step_count(),
        train_views: dataset.train.len(),
        test_views: dataset.test.len(),
        resolution: dataset
            .train
            .first()
            .map_or([0, 0], |v| [v.camera.width, v.camera.height]),
        load_s,
        train_wall_s,
        it_per_s: done as f64 / train_wall_s.max(1e-9),
        splats: trainer.splats(),
        peak_gpu_buffer_gib: peak.map(|b| b as f64 / (1u64 << 30) as f64),
        psnr_test: eval.map(|e| e.psnr),
        ssim_test: eval.map(|e| e.ssim),
        curve,
        final_loss,
        stages: trainer.stage_times(),
    };
    let json =
        serde_json::to_string_pretty(&report).map_err(|e| ServerError::Internal(e.to_string()))?;
    println!("{json}");
    if let Some(path) = &args.report {
        std::fs::write(path, json)?;
    }
    Ok(())
}

async fn write_checkpoint(trainer: &Trainer, path: &PathBuf) -> Result<(), ServerError> {
    let bytes = trainer.checkpoint().await?.to_bytes();
    // Write beside and rename, so a kill mid-write leaves the previous checkpoint whole.
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}
