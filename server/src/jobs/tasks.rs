//! The engine tasks jobs run: all real GPU work through the `splatpod` engine.

use serde_json::Value;
use splatpod::features::{
    select_pairs, write_features, MatchOptions, PairMatcher, PairMode, SiftGpu, PAIRS_PER_BATCH,
};
use splatpod::gpu::GpuContext;
use splatpod::images::{decode_image, DecodeOptions, DecodedImage};
use tokio_util::sync::CancellationToken;

use super::input::{JobInput, PairModeName, Task};
use super::JobService;
use crate::db::jobs::Job;
use crate::db::{artifacts, images, projects};
use crate::error::ServerError;
use crate::ingest::{ingest_image, Ingested};
use crate::thumbnail::{self, RenderError};
use splatpod::api::{FeaturesOutput, MatchesArtifact, PairMatches, RenderOutput};
use splatpod::render::VIEWER_BACKGROUND;

/// Why a task stopped early.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// Bad input or data: retrying cannot help.
    #[error("{0}")]
    Permanent(String),
    /// GPU, storage or database trouble: worth another attempt.
    #[error("{0}")]
    Transient(String),
    #[error("cancelled")]
    Cancelled,
}

impl From<ServerError> for TaskError {
    fn from(e: ServerError) -> Self {
        match e {
            ServerError::BadInput(m)
            | ServerError::NotFound(m)
            | ServerError::TooLarge(m)
            | ServerError::UnsupportedMedia(m) => TaskError::Permanent(m),
            ServerError::Format(f) => TaskError::Permanent(f.to_string()),
            other => TaskError::Transient(other.to_string()),
        }
    }
}

impl From<RenderError> for TaskError {
    fn from(e: RenderError) -> Self {
        match e {
            RenderError::Scene(e) => TaskError::Permanent(e.to_string()),
            RenderError::Gpu(e) => e.into(),
            other => TaskError::Transient(other.to_string()),
        }
    }
}

impl From<sqlx::Error> for TaskError {
    fn from(e: sqlx::Error) -> Self {
        TaskError::Transient(format!("database: {e}"))
    }
}

impl From<splatpod::gpu::GpuError> for TaskError {
    /// Inputs over the device's limits and validation errors are deterministic: retrying the
    /// same input cannot help. A lost device or a failed readback may recover.
    fn from(e: splatpod::gpu::GpuError) -> Self {
        use splatpod::gpu::GpuError::*;
        match e {
            TooLarge(_) | Unsupported(_) | Validation(_) => {
                TaskError::Permanent(format!("GPU: {e}"))
            }
            _ => TaskError::Transient(format!("GPU: {e}")),
        }
    }
}

/// What a running task can touch.
pub(super) struct Run<'a> {
    pub svc: &'a JobService,
    pub ctx: &'a GpuContext,
    pub job: &'a Job,
    pub cancel: CancellationToken,
    /// The job's percent range this step's 0–100 maps to (a task that runs another as its
    /// first part narrows it).
    pub span: std::sync::Mutex<(f64, f64)>,
}

impl Run<'_> {
    /// Records stage + percent (and a stream chunk); fails with `Cancelled` when asked to stop.
    pub async fn progress(
        &self,
        stage: &str,
        percent: f64,
        message: &str,
    ) -> Result<(), TaskError> {
        if self.cancel.is_cancelled() {
            return Err(TaskError::Cancelled);
        }
        let (lo, hi) = self.span();
        let percent = lo + (hi - lo) * percent.clamp(0.0, 100.0) / 100.0;
        super::fenced::report(self.svc, self.job, stage, percent, message).await
    }

    /// The job's percent range this step's 0–100 maps to.
    pub fn span(&self) -> (f64, f64) {
        *self.span.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Narrows (or moves) the range later progress maps to.
    pub fn set_span(&self, span: (f64, f64)) {
        *self.span.lock().unwrap_or_else(|p| p.into_inner()) = span;
    }

    /// The project's photos, for a stage (`what`) that needs at least two (a permanent error
    /// otherwise).
    pub async fn photos_for(
        &self,
        project_id: &str,
        what: &str,
    ) -> Result<Vec<crate::db::images::Image>, TaskError> {
        let imgs = images::list(&self.svc.inner.db, project_id).await?;
        if imgs.len() < 2 {
            return Err(TaskError::Permanent(format!(
                "{what} needs at least two photos; project {project_id} has {}",
                imgs.len()
            )));
        }
        Ok(imgs)
    }

    /// A stored photo decoded off the async threads, its longer side at most `max_side`.
    pub async fn decode_photo(
        &self,
        img: &crate::db::images::Image,
        max_side: u32,
    ) -> Result<DecodedImage, TaskError> {
        let bytes = self.svc.inner.blobs.get(&img.blob_key).await?;
        let name = img.file_name.clone();
        tokio::task::spawn_blocking(move || {
            let opts = DecodeOptions {
                max_side: Some(max_side),
                ..DecodeOptions::default()
            };
            decode_image(&bytes, Some(&name), &opts)
        })
        .await
        .map_err(|e| TaskError::Transient(format!("decoder thread: {e}")))?
        .map_err(|e| TaskError::Permanent(format!("{}: {e}", img.file_name)))
    }

    pub async fn put_artifact(
        &self,
        project_id: &str,
        name: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> Result<(), TaskError> {
        super::fenced::put_artifact(self.svc, self.job, project_id, name, content_type, bytes).await
    }
}

pub async fn run(
    svc: &JobService,
    ctx: &GpuContext,
    job: &Job,
    input: &JobInput,
    cancel: CancellationToken,
) -> Result<Value, TaskError> {
    let run = Run {
        svc,
        ctx,
        job,
        cancel,
        span: std::sync::Mutex::new((0.0, 100.0)),
    };
    let project_id = match (&input.project_id, &input.image_urls) {
        (Some(p), _) => p.clone(),
        (None, Some(urls)) => fetch_photos(&run, urls).await?,
        (None, None) => job.project_id.clone().ok_or_else(|| {
            TaskError::Permanent("the job names no project and no image_urls".into())
        })?,
    };
    if projects::get(&svc.inner.db, &project_id).await?.is_none() {
        return Err(TaskError::Permanent(format!(
            "project {project_id} does not exist (deleted?)"
        )));
    }
    match input.task {
        Task::Features => to_value(features(&run, &project_id, input).await?),
        Task::Render => to_value(render(&run, &project_id, input).await?),
        Task::Sfm => to_value(super::sfm_task::sfm(&run, &project_id, input).await?),
        Task::Train => to_value(super::train_task::train(&run, &project_id, input).await?),
        Task::Reconstruct => {
            to_value(super::reconstruct_task::reconstruct(&run, &project_id, input).await?)
        }
        // The runner runs it without a GPU context; it never reaches here.
        Task::Sleep => Err(TaskError::Permanent(
            "the sleep task runs in the job runner, not as a GPU task".into(),
        )),
    }
}

/// The part `lo..hi` (percent) of the range `outer`: how a task run as a stage of another maps
/// its own 0–100 into the job's timeline.
pub(super) fn sub_span(outer: (f64, f64), lo: f64, hi: f64) -> (f64, f64) {
    let at = |p: f64| outer.0 + (outer.1 - outer.0) * p / 100.0;
    (at(lo), at(hi))
}

/// A task's typed output as the JSON the job stores.
fn to_value(output: impl serde::Serialize) -> Result<Value, TaskError> {
    serde_json::to_value(output).map_err(|e| TaskError::Permanent(format!("job output: {e}")))
}

/// Downloads `image_urls` into the job's project (created on the first attempt): `http(s)`
/// URLs through the SSRF guard, `s3://` objects where this worker reads them (RunPod workers),
/// each size-capped. A later attempt that finds them all fetched skips the downloads; one cut
/// short fetches again (stored photos are recognised by their hash).
async fn fetch_photos(run: &Run<'_>, urls: &[String]) -> Result<String, TaskError> {
    let inner = &run.svc.inner;
    let project_id = match &run.job.project_id {
        Some(p) => p.clone(),
        None => {
            let project = projects::create(&inner.db, &format!("job {}", run.job.id)).await?;
            sqlx::query("UPDATE jobs SET project_id = $1 WHERE id = $2")
                .bind(&project.id)
                .bind(&run.job.id)
                .execute(&inner.db.pool)
                .await?;
            project.id
        }
    };
    if images::list(&inner.db, &project_id).await?.len() >= urls.len() {
        return Ok(project_id);
    }
    for (i, url) in urls.iter().enumerate() {
        let name = url
            .rsplit('/')
            .next()
            .filter(|n| !n.is_empty())
            .unwrap_or("image");
        run.progress(
            "download",
            10.0 * i as f64 / urls.len() as f64,
            &format!("fetching image {} of {}", i + 1, urls.len()),
        )
        .await?;
        let limit = inner.settings.max_image_bytes;
        let bytes = if url.starts_with("s3://") && inner.settings.s3_inputs {
            crate::blob::read_object_url(url, limit).await?
        } else {
            inner
                .guard
                .fetch(url, limit)
                .await
                .map_err(|e| TaskError::Permanent(e.to_string()))?
        };
        match ingest_image(&inner.db, &inner.blobs, &project_id, name, bytes, limit).await? {
            Ingested::Stored(_) | Ingested::Duplicate(_) => {}
        }
    }
    Ok(project_id)
}

pub(super) async fn features(
    run: &Run<'_>,
    project_id: &str,
    input: &JobInput,
) -> Result<FeaturesOutput, TaskError> {
    let inner = &run.svc.inner;
    let imgs = images::list(&inner.db, project_id).await?;
    if imgs.is_empty() {
        return Err(TaskError::Permanent(format!(
            "project {project_id} has no images to extract features from"
        )));
    }
    let max_side = inner
        .settings
        .caps
        .image_side(input.max_side.unwrap_or(splatpod::images::DEFAULT_MAX_SIDE));
    let params = super::input::sift_params(input);
    let sift = SiftGpu::new(run.ctx);
    let n = imgs.len();
    let mut all = Vec::with_capacity(n);
    let mut counts = Vec::with_capacity(n);
    for (i, img) in imgs.iter().enumerate() {
        run.progress(
            "features",
            10.0 + 60.0 * i as f64 / n as f64,
            &format!("extracting features from image {} of {n}", i + 1),
        )
        .await?;
        let decoded = run.decode_photo(img, max_side).await?;
        let feats = splatpod::sfm::pipeline::extract(run.ctx, &sift, &decoded, &params).await?;
        run.put_artifact(
            project_id,
            &format!("features-{}.spf", img.id),
            "application/octet-stream",
            write_features(&feats),
        )
        .await?;
        counts.push(feats.keypoints.len() as u64);
        all.push(feats);
    }

    let mode = PairModeName::resolve(input.pair_mode, n, input.overlap.unwrap_or(10));
    let pairs =
        select_pairs(n as u32, mode, 20_000).map_err(|e| TaskError::Permanent(e.to_string()))?;
    let mut pair_out = Vec::with_capacity(pairs.len());
    let mut per_pair = Vec::with_capacity(pairs.len());
    let sets: Vec<&splatpod::features::Descriptors> = all.iter().map(|f| &f.descriptors).collect();
    let matcher = PairMatcher::new(run.ctx, &sets)?;
    for batch in pairs.chunks(PAIRS_PER_BATCH) {
        let done = pair_out.len();
        run.progress(
            "matching",
            70.0 + 29.0 * done as f64 / pairs.len().max(1) as f64,
            &format!(
                "matching pairs {} to {} of {}",
                done + 1,
                done + batch.len(),
                pairs.len()
            ),
        )
        .await?;
        let matches = matcher
            .match_batch(run.ctx, batch, &MatchOptions::default())
            .await?;
        for (&(a, b), m) in batch.iter().zip(matches) {
            per_pair.push(m.len() as u64);
            pair_out.push(PairMatches {
                a: imgs[a as usize].id.clone(),
                b: imgs[b as usize].id.clone(),
                matches: m.iter().map(|m| [m.query, m.train]).collect(),
            });
        }
    }
    let matches = MatchesArtifact { pairs: pair_out };
    run.put_artifact(
        project_id,
        "matches.json",
        "application/json",
        serde_json::to_vec(&matches).map_err(|e| TaskError::Transient(e.to_string()))?,
    )
    .await?;
    projects::touch(&inner.db, project_id).await?;
    Ok(FeaturesOutput {
        project_id: project_id.to_owned(),
        images: n as u64,
        features_per_image: counts,
        pairs: pairs.len() as u64,
        matches_per_pair: per_pair,
        pair_mode: match mode {
            PairMode::Exhaustive => PairModeName::Exhaustive,
            PairMode::Sequential { .. } => PairModeName::Sequential,
        },
        artifacts: vec!["matches.json".into(), "features-<image id>.spf".into()],
    })
}

/// Scene artifact names the render task looks for, in order.
pub const SCENE_NAMES: [&str; 3] = ["scene.ply", "scene.spz", "scene.splat"];

/// A `w × h` PNG of `scene` (project thumbnails), from [`crate::thumbnail::thumbnail_camera`].
pub(super) async fn thumbnail_png(
    run: &Run<'_>,
    project_id: &str,
    scene: &splatpod::formats::GaussianScene,
    w: u32,
    h: u32,
) -> Result<Vec<u8>, TaskError> {
    let inner = &run.svc.inner;
    let start = crate::start_view::resolve(&inner.db, &inner.blobs, project_id).await?;
    let cam = thumbnail::thumbnail_camera(&start, &scene.positions, w, h);
    let frame = thumbnail::render_png(run.ctx, scene, &cam, VIEWER_BACKGROUND).await?;
    Ok(frame.png)
}

async fn render(
    run: &Run<'_>,
    project_id: &str,
    input: &JobInput,
) -> Result<RenderOutput, TaskError> {
    let inner = &run.svc.inner;
    let mut found = None;
    for name in SCENE_NAMES {
        if let Some(a) = artifacts::get(&inner.db, project_id, name).await? {
            found = Some(a);
            break;
        }
    }
    let art = found.ok_or_else(|| {
        TaskError::Permanent(format!(
            "project {project_id} has no scene artifact to render ({})",
            SCENE_NAMES.join(", ")
        ))
    })?;
    run.progress("render", 10.0, "loading the scene").await?;
    let bytes = inner.blobs.get(&art.blob_key).await?;
    let name = art.name.clone();
    let scene =
        tokio::task::spawn_blocking(move || splatpod::formats::load_scene(&bytes, Some(&name)))
            .await
            .map_err(|e| TaskError::Transient(format!("loader thread: {e}")))?
            .map_err(|e| TaskError::Permanent(e.to_string()))?;
    let (w, h) = (input.width.unwrap_or(512), input.height.unwrap_or(512));
    run.progress("render", 40.0, "rendering").await?;
    let png = thumbnail_png(run, project_id, &scene, w, h).await?;
    run.put_artifact(project_id, "thumbnail.png", "image/png", png)
        .await?;
    projects::touch(&inner.db, project_id).await?;
    Ok(RenderOutput {
        project_id: project_id.to_owned(),
        splats: scene.len() as u64,
        width: w,
        height: h,
        artifact: "thumbnail.png".into(),
    })
}
