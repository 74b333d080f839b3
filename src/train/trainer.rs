//! The training loop: every iteration renders one training view, takes the L1 + D-SSIM loss
//! against its photo, runs the backward passes and an Adam step, and densifies on the 3DGS
//! schedule — all recorded into GPU submissions that never wait for the CPU, except the
//! periodic densification (which reads back one count) and the loss readings a caller asks for.
//!
//! The protocol is gsplat's (`../shared/peers/gsplat_train.py`): a uniformly random training
//! view per iteration, black background, SH degree raised every 1000 iterations up to 3, the
//! 3DGS learning rates with the position rate decaying to 1 % over the run, and gsplat's
//! DefaultStrategy densification. The view and the split noise of iteration `s` are functions
//! of (seed, s) alone, so a run resumed from a checkpoint makes the same choices.

use std::collections::HashMap;

use glam::Vec3;

use super::adam::{
    Adam, AdamBindings, AdamConfig, AdamMoments, LearningRates, SplatBuffers, SplatData,
};
use super::backward::{BackwardKernel, BackwardPass, SPLAT_GRAD_FLOATS};
use super::checkpoint::Checkpoint;
use super::dataset::{TrainDataset, TrainView};
use super::densify::{Densifier, DensifyConfig, RefineStats, VisibleFlags};
use super::loss::{ImageQuality, LossKernel, LossPlan, LossValue};
use super::SH_FLOATS;
use crate::formats::GaussianScene;
use crate::gpu::{storage_buffer, storage_buffer_init, GpuContext, GpuError, SubmissionFence};
use crate::render::{Camera, GpuScene, Renderer};

/// What a training run does.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    pub iterations: u32,
    /// The SH degree rises by one every this many iterations (gsplat: 1000).
    pub sh_degree_every: u32,
    pub max_sh_degree: u32,
    pub densify: DensifyConfig,
    pub adam: AdamConfig,
    pub background: [f32; 3],
    /// Picks the views and the split noise.
    pub seed: u64,
}

impl Default for TrainConfig {
    /// gsplat's protocol at 7000 iterations.
    fn default() -> Self {
        Self {
            iterations: 7000,
            sh_degree_every: 1000,
            max_sh_degree: 3,
            densify: DensifyConfig::default(),
            adam: AdamConfig::default(),
            background: [0.0; 3],
            seed: 0,
        }
    }
}

/// What one call to [`Trainer::step`] reports.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepReport {
    /// Iterations done.
    pub step: u32,
    pub splats: u32,
    /// Set when this iteration densified.
    pub refined: Option<RefineStats>,
}

/// Held-out quality: means over the views.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Evaluation {
    pub psnr: f32,
    pub ssim: f32,
    pub views: usize,
}

/// Why training could not go on.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("GPU: {0}")]
    Gpu(#[from] GpuError),
    #[error("nothing to train on: {0}")]
    NoData(String),
    #[error("checkpoint: {0}")]
    Checkpoint(String),
}

/// A training photo on the GPU.
struct GpuView {
    camera: Camera,
    target: wgpu::Buffer,
}

/// Per image size: the loss plan and the buffer of dL/d(pixel).
struct SizeBuffers {
    loss: LossPlan,
    v_rgb: wgpu::Buffer,
}

/// A training run on one GPU.
pub struct Trainer {
    ctx: GpuContext,
    config: TrainConfig,
    lrs: LearningRates,
    views: Vec<GpuView>,
    params: SplatBuffers,
    grads: SplatBuffers,
    moments: AdamMoments,
    adam: Adam,
    adam_bindings: AdamBindings,
    backward_kernel: BackwardKernel,
    backward: BackwardPass,
    loss_kernel: LossKernel,
    sizes: HashMap<(u32, u32), SizeBuffers>,
    densifier: Densifier,
    renderer: Renderer,
    step: u32,
    last_size: (u32, u32),
    /// Submissions of the latest iterations, oldest first: at most [`IN_FLIGHT`] run ahead of
    /// the CPU, so the queue (and every per-iteration bind group) stays bounded.
    in_flight: std::collections::VecDeque<SubmissionFence>,
    /// Per-stage times when profiling ([`Trainer::profile_stages`]).
    profile: Option<StageTimes>,
}

/// Seconds each stage of the iterations took while profiling. Each stage is submitted and
/// waited for on its own, so stages do not overlap and the sum exceeds a normal iteration's
/// time; the split shows where the time goes. Native only (it reads the CPU clock).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct StageTimes {
    pub iterations: u32,
    /// Projection, tile sort and rasterization of the training view.
    pub render_s: f64,
    /// L1 + D-SSIM and its gradient.
    pub loss_s: f64,
    /// Rasterization, SH and projection backward passes.
    pub backward_s: f64,
    /// Densification statistics and the Adam step.
    pub optimizer_s: f64,
    /// Periodic densification (split, clone, prune) and the rebuild after it.
    pub refine_s: f64,
}

/// Seconds on a monotonic clock (profiling only).
fn clock_s() -> f64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_secs_f64()
}

/// Iterations the CPU may record ahead of the GPU.
const IN_FLIGHT: usize = 2;

/// SplitMix64: the per-iteration choices as a pure function of (seed, step, stream).
fn mix(seed: u64, step: u32, stream: u64) -> u64 {
    let mut z = seed
        .wrapping_add((step as u64) << 8 | stream)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn upload_views(ctx: &GpuContext, views: &[TrainView]) -> Vec<GpuView> {
    views
        .iter()
        .map(|v| GpuView {
            camera: v.camera,
            target: storage_buffer_init(ctx, "training photo", &v.rgba),
        })
        .collect()
}

impl Trainer {
    /// Starts a run on `dataset`'s training views from `init` (e.g.
    /// [`super::dataset::init_splats`] of its points).
    pub fn new(
        ctx: &GpuContext,
        dataset: &TrainDataset,
        init: &SplatData,
        config: TrainConfig,
    ) -> Result<Self, TrainError> {
        let moments = AdamMoments::zeroed(ctx, init.len() as u32)?;
        Self::assemble(ctx, dataset, init, moments, None, 0, config)
    }

    /// Continues a run from `checkpoint` (written by [`Trainer::checkpoint`] with the same
    /// dataset and config): the same parameters, moments, statistics and step.
    pub fn resume(
        ctx: &GpuContext,
        dataset: &TrainDataset,
        checkpoint: &Checkpoint,
        config: TrainConfig,
    ) -> Result<Self, TrainError> {
        let moments = AdamMoments {
            m: SplatBuffers::upload(ctx, "adam m", &checkpoint.m)?,
            v: SplatBuffers::upload(ctx, "adam v", &checkpoint.v)?,
        };
        Self::assemble(
            ctx,
            dataset,
            &checkpoint.params,
            moments,
            Some((&checkpoint.grad2d, &checkpoint.visits)),
            checkpoint.step,
            config,
        )
    }

    fn assemble(
        ctx: &GpuContext,
        dataset: &TrainDataset,
        init: &SplatData,
        moments: AdamMoments,
        stats: Option<(&[f32], &[u32])>,
        step: u32,
        config: TrainConfig,
    ) -> Result<Self, TrainError> {
        if dataset.train.is_empty() {
            return Err(TrainError::NoData(
                "the dataset has no training views".into(),
            ));
        }
        if init.is_empty() {
            return Err(TrainError::NoData("no initial splats".into()));
        }
        let n = init.len() as u32;
        let params = SplatBuffers::upload(ctx, "splats", init)?;
        let grads = SplatBuffers::zeroed(ctx, "grads", n)?;
        let adam = Adam::new(ctx, config.adam);
        let adam_bindings = adam.bind(ctx, &params, &grads, &moments)?;
        let mut densifier = Densifier::new(ctx, config.densify, dataset.scene_scale, n)?;
        if let Some((grad2d, visits)) = stats {
            densifier.set_stats(ctx, grad2d, visits)?;
        }
        let renderer = Renderer::new(ctx, Self::gpu_scene(&params, 0))?;
        Ok(Self {
            ctx: ctx.clone(),
            lrs: LearningRates::gsplat(dataset.scene_scale),
            views: upload_views(ctx, &dataset.train),
            params,
            grads,
            moments,
            adam,
            adam_bindings,
            backward_kernel: BackwardKernel::new(ctx),
            backward: BackwardPass::new(ctx, n),
            loss_kernel: LossKernel::new(ctx),
            sizes: HashMap::new(),
            densifier,
            renderer,
            step,
            last_size: (0, 0),
            in_flight: Default::default(),
            profile: None,
            config,
        })
    }

    fn gpu_scene(params: &SplatBuffers, sh_degree: u32) -> GpuScene {
        GpuScene::from_buffers(
            params.count,
            sh_degree,
            SH_FLOATS as u32,
            [
                &params.means,
                &params.log_scales,
                &params.rotations,
                &params.sh,
            ],
        )
    }

    /// Iterations done so far.
    pub fn step_count(&self) -> u32 {
        self.step
    }

    /// Splats now.
    pub fn splats(&self) -> u32 {
        self.params.count
    }

    /// Starts timing each stage of every following iteration (slower: no overlap between
    /// stages). Native only.
    pub fn profile_stages(&mut self) {
        self.profile = Some(StageTimes::default());
    }

    /// The stage times so far, if profiling.
    pub fn stage_times(&self) -> Option<StageTimes> {
        self.profile
    }

    /// When profiling: waits for the GPU and adds the time since `*mark` to the stage `pick`
    /// selects, then moves `mark` on.
    async fn lap(
        &mut self,
        mark: &mut f64,
        pick: fn(&mut StageTimes) -> &mut f64,
    ) -> Result<(), TrainError> {
        if self.profile.is_none() {
            return Ok(());
        }
        self.ctx.finish().await?;
        let now = clock_s();
        if let Some(p) = self.profile.as_mut() {
            *pick(p) += now - *mark;
        }
        *mark = now;
        Ok(())
    }

    /// The run's configuration.
    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    fn sh_degree(&self) -> u32 {
        (self.step / self.config.sh_degree_every.max(1)).min(self.config.max_sh_degree)
    }

    fn size_buffers(&mut self, width: u32, height: u32) -> Result<(), TrainError> {
        if !self.sizes.contains_key(&(width, height)) {
            let loss = LossPlan::new(&self.ctx, &self.loss_kernel, width, height)?;
            let v_rgb = storage_buffer(
                &self.ctx,
                "pixel gradients",
                width as u64 * height as u64 * 16,
            );
            self.sizes
                .insert((width, height), SizeBuffers { loss, v_rgb });
        }
        Ok(())
    }

    /// One iteration. Records and submits GPU work; waits only when it densifies.
    pub async fn step(&mut self) -> Result<StepReport, TrainError> {
        let step = self.step;
        let view_index = (mix(self.config.seed, step, 1) % self.views.len() as u64) as usize;
        let camera = self.views[view_index].camera;
        let (w, h) = (camera.width, camera.height);
        self.size_buffers(w, h)?;
        self.last_size = (w, h);
        let mut mark = if self.profile.is_some() {
            self.ctx.finish().await?;
            clock_s()
        } else {
            0.0
        };
        self.renderer.set_sh_degree(self.sh_degree());
        self.renderer
            .render(&camera, Vec3::from(self.config.background))
            .await?;
        self.lap(&mut mark, |p| &mut p.render_s).await?;

        let ctx = &self.ctx.clone();
        let profiling = self.profile.is_some();
        let size = &self.sizes[&(w, h)];
        let frame = self
            .renderer
            .frame_buffers()
            .ok_or_else(|| GpuError::Device("the frame's buffers are missing".into()))?;
        let mut enc = ctx.device.create_command_encoder(&Default::default());
        size.loss.encode(
            ctx,
            &mut enc,
            frame.rgba,
            &self.views[view_index].target,
            &size.v_rgb,
        )?;
        let mut staged = Vec::new();
        if profiling {
            staged.push(std::mem::replace(
                &mut enc,
                ctx.device.create_command_encoder(&Default::default()),
            ));
        }
        self.backward.encode(
            ctx,
            &self.backward_kernel,
            &mut enc,
            &frame,
            &self.params,
            &self.grads,
            &size.v_rgb,
            self.params.count,
            (w, h),
        );
        if profiling {
            staged.push(std::mem::replace(
                &mut enc,
                ctx.device.create_command_encoder(&Default::default()),
            ));
        }
        {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("optimizer"),
                timestamp_writes: None,
            });
            if self.config.densify.accumulates(step) {
                self.densifier.record_accumulate(
                    ctx,
                    &mut pass,
                    &self.backward.v_splat,
                    SPLAT_GRAD_FLOATS as u32,
                    VisibleFlags::projected(frame.projected),
                    w,
                    h,
                )?;
            }
            let lrs = self.lrs.at_step(step, self.config.iterations);
            self.adam
                .record(&ctx.queue, &mut pass, &self.adam_bindings, &lrs, step + 1);
        }
        if self.in_flight.len() >= IN_FLIGHT {
            if let Some(oldest) = self.in_flight.pop_front() {
                oldest.wait(ctx).await?;
            }
        }
        if profiling {
            let stages: [fn(&mut StageTimes) -> &mut f64; 2] =
                [|p| &mut p.loss_s, |p| &mut p.backward_s];
            for (encoder, pick) in staged.into_iter().zip(stages) {
                ctx.queue.submit([encoder.finish()]);
                self.lap(&mut mark, pick).await?;
            }
        }
        let index = ctx.queue.submit([enc.finish()]);
        self.in_flight.push_back(ctx.fence(index));
        self.lap(&mut mark, |p| &mut p.optimizer_s).await?;

        let mut refined = None;
        if self.config.densify.refines(step) {
            let seed = mix(self.config.seed, step, 2) as u32;
            let stats = self
                .densifier
                .refine(ctx, &mut self.params, &mut self.moments, step, seed)
                .await?;
            self.rebuild()?;
            refined = Some(stats);
        }
        self.lap(&mut mark, |p| &mut p.refine_s).await?;
        if let Some(p) = self.profile.as_mut() {
            p.iterations += 1;
        }
        if self.config.densify.resets_opacity(step) {
            self.densifier
                .reset_opacity(ctx, &self.params, &self.moments)?;
        }
        self.step += 1;
        Ok(StepReport {
            step: self.step,
            splats: self.params.count,
            refined,
        })
    }

    /// After densification changed the splat count: new gradient buffers, bindings and frame
    /// buffers for it.
    fn rebuild(&mut self) -> Result<(), TrainError> {
        let n = self.params.count;
        self.grads = SplatBuffers::zeroed(&self.ctx, "grads", n)?;
        self.adam_bindings = self
            .adam
            .bind(&self.ctx, &self.params, &self.grads, &self.moments)?;
        if self.backward.capacity < n {
            self.backward = BackwardPass::new(&self.ctx, n.max(self.backward.capacity * 5 / 4));
        }
        self.renderer = Renderer::new(&self.ctx, Self::gpu_scene(&self.params, self.sh_degree()))?;
        Ok(())
    }

    /// The loss of the latest iteration (waits for the GPU).
    pub async fn read_loss(&self) -> Result<Option<LossValue>, TrainError> {
        match self.sizes.get(&self.last_size) {
            Some(s) => Ok(Some(s.loss.read_loss(&self.ctx).await?)),
            None => Ok(None),
        }
    }

    /// PSNR and SSIM over `views` (held-out photos), rendered at the full SH degree in use,
    /// clamped to [0, 1] as the peer protocol does.
    pub async fn evaluate(&mut self, views: &[TrainView]) -> Result<Evaluation, TrainError> {
        let mut psnr = 0.0f64;
        let mut ssim = 0.0f64;
        let degree = self.sh_degree();
        self.renderer.set_sh_degree(degree);
        for view in views {
            let (w, h) = (view.camera.width, view.camera.height);
            self.size_buffers(w, h)?;
            self.renderer
                .render(&view.camera, Vec3::from(self.config.background))
                .await?;
            let target = storage_buffer_init(&self.ctx, "test photo", &view.rgba);
            let frame = self
                .renderer
                .frame_buffers()
                .ok_or_else(|| GpuError::Device("the frame's buffers are missing".into()))?;
            let q: ImageQuality = self.sizes[&(w, h)]
                .loss
                .evaluate(&self.ctx, frame.rgba, &target)
                .await?;
            psnr += q.psnr as f64;
            ssim += q.ssim as f64;
        }
        let n = views.len().max(1) as f64;
        Ok(Evaluation {
            psnr: (psnr / n) as f32,
            ssim: (ssim / n) as f32,
            views: views.len(),
        })
    }

    /// The splats now (waits for the GPU).
    pub async fn read_splats(&self) -> Result<SplatData, TrainError> {
        Ok(self.params.read(&self.ctx).await?)
    }

    /// The splats as a degree-3 scene for PLY / SPZ export.
    pub async fn scene(&self) -> Result<GaussianScene, TrainError> {
        Ok(self.read_splats().await?.to_scene())
    }

    /// Everything a run needs to continue elsewhere (waits for the GPU).
    pub async fn checkpoint(&self) -> Result<Checkpoint, TrainError> {
        let (grad2d, visits) = self.densifier.read_stats(&self.ctx).await?;
        Ok(Checkpoint {
            step: self.step,
            seed: self.config.seed,
            iterations: self.config.iterations,
            params: self.params.read(&self.ctx).await?,
            m: self.moments.m.read(&self.ctx).await?,
            v: self.moments.v.read(&self.ctx).await?,
            grad2d,
            visits,
        })
    }
}

#[cfg(test)]
#[path = "trainer_tests.rs"]
mod tests;
