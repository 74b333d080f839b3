//! The `train` task: Gaussian-splat training on a project's SfM model (the `sfm` job's
//! `sparse/0/*.bin`) and photos, on the server's GPU. Checkpoints go to the blob store every
//! [`CHECKPOINT_EVERY`] iterations, so a job whose server died (SIGKILL, a lost pod) resumes from
//! its last checkpoint when it runs again instead of from zero; each checkpoint also refreshes
//! the `scene.ply` preview the viewer shows while the job runs. Artifacts: `scene.ply`,
//! `scene.spz`, `thumbnail.png`, `train.json`.

use splatpod::api::{JobInput, Quality, TrainOutput};
use splatpod::formats::{save_ply, save_spz, GaussianScene};
use splatpod::sfm::colmap;
use splatpod::train::checkpoint::Checkpoint;
use splatpod::train::dataset::{init_splats, LoadOptions, TrainDataset};
use splatpod::train::trainer::{Evaluation, TrainConfig, Trainer};

use super::tasks::{sub_span, Run, TaskError};
use crate::db::{artifacts, images, projects};

/// Iterations between checkpoints (and preview refreshes) unless `SPLATPOD_TRAIN_CHECKPOINT_EVERY`
/// says otherwise (tests kill a job between two close checkpoints).
pub const CHECKPOINT_EVERY: u32 = 1000;

fn checkpoint_every() -> u32 {
    std::env::var("SPLATPOD_TRAIN_CHECKPOINT_EVERY")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|v| *v > 0)
        .unwrap_or(CHECKPOINT_EVERY)
}

/// Iterations by quality preset when the input gives none.
pub fn default_iterations(quality: Quality) -> u32 {
    match quality {
        Quality::Low => 2000,
        Quality::Medium => 7000,
        Quality::High => 30_000,
    }
}

/// Longer side of the training photos by preset (full size up to this).
fn max_side(quality: Quality) -> u32 {
    match quality {
        Quality::Low => 1000,
        Quality::Medium => 1600,
        Quality::High => 3200,
    }
}

fn permanent(what: &str) -> impl Fn(String) -> TaskError + '_ {
    move |e| TaskError::Permanent(format!("{what}: {e}"))
}

async fn artifact_bytes(run: &Run<'_>, project_id: &str, name: &str) -> Result<Vec<u8>, TaskError> {
    let inner = &run.svc.inner;
    let art = artifacts::get(&inner.db, project_id, name)
        .await?
        .ok_or_else(|| {
            TaskError::Permanent(format!(
                "project {project_id} has no {name}: run the sfm job first"
            ))
        })?;
    Ok(inner.blobs.get(&art.blob_key).await?.to_vec())
}

/// The `train` task: [`train_scene`] on the job's first 97 %, then [`export`].
pub(super) async fn train(
    run: &Run<'_>,
    project_id: &str,
    input: &JobInput,
) -> Result<TrainOutput, TaskError> {
    let outer = run.span();
    run.set_span(sub_span(outer, 0.0, 97.0));
    let trained = train_scene(run, project_id, input).await?;
    run.set_span(sub_span(outer, 97.0, 100.0));
    export(run, project_id, trained).await
}

/// A trained scene and what [`export`] reports about it.
pub(super) struct Trained {
    scene: GaussianScene,
    eval: Option<Evaluation>,
    iterations: u32,
    resumed_from: u32,
    train_views: u64,
    test_views: u64,
    train_s: f64,
}

/// Trains on the project's SfM model and photos, from this job's last checkpoint when an earlier
/// attempt left one, and evaluates on the held-out photos.
pub(super) async fn train_scene(
    run: &Run<'_>,
    project_id: &str,
    input: &JobInput,
) -> Result<Trained, TaskError> {
    let inner = &run.svc.inner;
    let quality = input.quality.unwrap_or_default();
    let caps = inner.settings.caps;
    let iterations = caps.iterations(
        input
            .iterations
            .unwrap_or_else(|| default_iterations(quality)),
    );
    run.progress("loading", 0.0, "reading the SfM model and photos")
        .await?;
    let rec = colmap::read_binary(
        &artifact_bytes(run, project_id, "sparse/0/cameras.bin").await?,
        &artifact_bytes(run, project_id, "sparse/0/images.bin").await?,
        &artifact_bytes(run, project_id, "sparse/0/points3D.bin").await?,
    )
    .map_err(|e| permanent("COLMAP model")(e.to_string()))?;
    let imgs = images::list(&inner.db, project_id).await?;
    let mut photos = Vec::with_capacity(rec.images.len());
    for img in &imgs {
        // Model names are `{image id}.{format}` (see the sfm task).
        let name = format!("{}.{}", img.id, img.format);
        if rec.images.values().any(|im| im.name == name) {
            // Decoded at full size: the model's cameras are in the original pixels.
            photos.push((name, run.decode_photo(img, u32::MAX).await?));
        }
    }
    let options = LoadOptions {
        max_side: Some(caps.image_side(input.max_side.unwrap_or_else(|| max_side(quality)))),
        ..LoadOptions::default()
    };
    let dataset = tokio::task::spawn_blocking(move || {
        TrainDataset::from_reconstruction(&rec, &photos, &options)
    })
    .await
    .map_err(|e| TaskError::Transient(format!("dataset thread: {e}")))?
    .map_err(|e| permanent("training data")(e.to_string()))?;

    let config = TrainConfig {
        iterations,
        ..TrainConfig::default()
    };
    // The checkpoint the job's last claim recorded (fenced: see `fenced::put_checkpoint`).
    let saved = match run.job.checkpoint_key.as_deref() {
        Some(key) => inner.blobs.get(key).await.ok(),
        None => None,
    };
    let mut trainer = match saved {
        Some(bytes) => {
            let checkpoint = Checkpoint::from_bytes(&bytes)
                .map_err(|e| permanent("checkpoint")(e.to_string()))?;
            Trainer::resume(run.ctx, &dataset, &checkpoint, config)
                .map_err(|e| TaskError::Transient(e.to_string()))?
        }
        None => {
            let init = init_splats(&dataset.points, &dataset.colors, 0);
            Trainer::new(run.ctx, &dataset, &init, config)
                .map_err(|e| TaskError::Transient(e.to_string()))?
        }
    };
    let resumed_from = trainer.step_count();
    let every = checkpoint_every();
    let report_every = every.min(100);
    let started = std::time::Instant::now();
    while trainer.step_count() < iterations {
        let report = trainer
            .step()
            .await
            .map_err(|e| TaskError::Transient(e.to_string()))?;
        if report.step % report_every == 0 || report.step == iterations {
            let loss = trainer
                .read_loss()
                .await
                .map_err(|e| TaskError::Transient(e.to_string()))?
                .map_or(f32::NAN, |l| l.total);
            run.progress(
                "training",
                5.0 + 90.0 * report.step as f64 / iterations.max(1) as f64,
                &format!(
                    "iteration {}/{iterations} · loss {loss:.4} · {} splats",
                    report.step, report.splats
                ),
            )
            .await?;
        }
        if report.step % every == 0 && report.step < iterations {
            let checkpoint = trainer
                .checkpoint()
                .await
                .map_err(|e| TaskError::Transient(e.to_string()))?;
            let preview = checkpoint.params.to_scene();
            super::fenced::put_checkpoint(run.svc, run.job, checkpoint.to_bytes()).await?;
            put_scene_ply(run, project_id, &preview).await?;
        }
    }
    run.progress("evaluation", 95.0, "held-out views").await?;
    let eval = if dataset.test.is_empty() {
        None
    } else {
        Some(
            trainer
                .evaluate(&dataset.test)
                .await
                .map_err(|e| TaskError::Transient(e.to_string()))?,
        )
    };
    let scene = trainer
        .scene()
        .await
        .map_err(|e| TaskError::Transient(e.to_string()))?;
    Ok(Trained {
        scene,
        eval,
        iterations,
        resumed_from,
        train_views: dataset.train.len() as u64,
        test_views: dataset.test.len() as u64,
        train_s: started.elapsed().as_secs_f64(),
    })
}

/// Writes `scene.ply`, `scene.spz`, `thumbnail.png` and (last, so its presence means the export
/// finished) `train.json`, then drops the job's checkpoint.
pub(super) async fn export(
    run: &Run<'_>,
    project_id: &str,
    trained: Trained,
) -> Result<TrainOutput, TaskError> {
    let inner = &run.svc.inner;
    let Trained {
        scene,
        eval,
        iterations,
        resumed_from,
        train_views,
        test_views,
        train_s,
    } = trained;
    run.progress(
        "export",
        0.0,
        "writing scene.ply, scene.spz and the thumbnail",
    )
    .await?;
    put_scene_ply(run, project_id, &scene).await?;
    let spz = save_spz(&scene).map_err(|e| permanent("scene.spz")(e.to_string()))?;
    run.put_artifact(project_id, "scene.spz", "application/octet-stream", spz)
        .await?;
    let png = super::tasks::thumbnail_png(run, project_id, &scene, 512, 512).await?;
    run.put_artifact(project_id, "thumbnail.png", "image/png", png)
        .await?;
    let output = TrainOutput {
        project_id: project_id.to_owned(),
        iterations,
        resumed_from,
        train_views,
        test_views,
        splats: scene.len() as u64,
        psnr: eval.map(|e| e.psnr),
        ssim: eval.map(|e| e.ssim),
        train_s,
        artifacts: vec![
            "scene.ply".into(),
            "scene.spz".into(),
            "thumbnail.png".into(),
            "train.json".into(),
        ],
    };
    let summary =
        serde_json::to_vec_pretty(&output).map_err(|e| permanent("train.json")(e.to_string()))?;
    run.put_artifact(project_id, "train.json", "application/json", summary)
        .await?;
    inner
        .blobs
        .delete(&super::fenced::checkpoint_key(run.job))
        .await?;
    if let Some(old) = run.job.checkpoint_key.as_deref() {
        inner.blobs.delete(old).await?;
    }
    projects::touch(&inner.db, project_id).await?;
    Ok(output)
}

async fn put_scene_ply(
    run: &Run<'_>,
    project_id: &str,
    scene: &GaussianScene,
) -> Result<(), TaskError> {
    let ply = save_ply(scene).map_err(|e| permanent("scene.ply")(e.to_string()))?;
    run.put_artifact(project_id, "scene.ply", "application/octet-stream", ply)
        .await
}
