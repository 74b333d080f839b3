//! 3DGS densification on the GPU with gsplat 1.5.3 `DefaultStrategy` semantics — kernel
//! `shaders/densify.wgsl`.
//!
//! After every backward pass [`Densifier::accumulate`] adds each visible splat's screen-space
//! mean-gradient norm to its running statistics. Every `refine_every` steps between
//! `refine_start_iter` and `refine_stop_iter`, [`Densifier::refine`] duplicates small splats with a
//! high average gradient, splits large ones into two samples of themselves with scales / 1.6,
//! prunes the grown set (transparent splats, and after the first opacity reset, splats too big
//! for the scene), and rebuilds the parameter and Adam moment buffers at the new count (copies and
//! split children get zero moments). Every `reset_every` steps [`Densifier::reset_opacity`] clamps
//! opacities to `2 · prune_opa` and zeroes their moments.
//!
//! A refine step is classify → exclusive scan of the per-splat output counts → one readback of
//! the total (every 100 iterations, so the stall is acceptable) → new buffers → scatter.
//! Outputs keep source order with each splat's outputs adjacent, where gsplat appends new splats
//! at the end: the same set of splats in another order.

mod cpu;
#[cfg(test)]
mod tests;

pub use cpu::{
    accumulate_cpu, budget_threshold, classify_cpu, pcg_hash, refine_cpu, reset_opacity_cpu,
    rotate, split_normals, Action, RefinedCpu,
};

use std::sync::Arc;

use crate::gpu::{
    bind_derived, derived_pipelines, dispatch_size, read_buffer, record, storage_buffer,
    storage_buffer_init, uniform_buffer, GpuContext, GpuError,
};
use crate::scan::ScanKernel;
use crate::train::adam::{AdamMoments, ParamGroup, SplatBuffers};

const SOURCE: &str = include_str!("../../../shaders/densify.wgsl");

/// Threads per workgroup of every entry point (`@workgroup_size` in `densify.wgsl`).
const WORKGROUP: u32 = 256;

/// Record modes of `scatter_records` (constants `MODE_*` in `densify.wgsl`).
const MODE_COPY: u32 = 0;
const MODE_LOG_SCALE: u32 = 1;
const MODE_MOMENT: u32 = 2;

/// Host mirror of `DensifyParams` in `densify.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, bytemuck::Pod, bytemuck::Zeroable)]
pub struct DensifyParams {
    /// Splats in (accumulate, classify, scatters, reset).
    pub n: u32,
    /// vec4s per record (`scatter_records`).
    pub stride: u32,
    /// `MODE_*` of `scatter_records`.
    pub mode: u32,
    /// Seed of the split samples' hash.
    pub seed: u32,
    /// Image width / 2, height / 2 (`accumulate`).
    pub half_size: [f32; 2],
    pub grad_threshold: f32,
    pub log_grow_scale: f32,
    pub log_prune_scale: f32,
    /// 1 when too-big splats are pruned (after the first opacity reset).
    pub prune_big: u32,
    pub prune_logit: f32,
    pub reset_logit: f32,
    /// ln 1.6: split children's scales are the parent's / 1.6.
    pub log_split: f32,
    /// Words per splat and the word read in the visibility buffer (`accumulate`).
    pub visible_stride: u32,
    pub visible_offset: u32,
    pub _pad0: u32,
}

/// Where `accumulate` reads whether each splat was visible: a non-zero u32 word at
/// `stride · i + offset`.
#[derive(Clone, Copy, Debug)]
pub struct VisibleFlags<'a> {
    pub buffer: &'a wgpu::Buffer,
    pub stride: u32,
    pub offset: u32,
}

impl<'a> VisibleFlags<'a> {
    /// One word per splat (e.g. tile counts: visible when > 0).
    pub fn words(buffer: &'a wgpu::Buffer) -> Self {
        Self {
            buffer,
            stride: 1,
            offset: 0,
        }
    }

    /// The renderer's `Projected` records: visible when the 3-sigma visibility radius is
    /// non-zero (set by `project.wgsl` for every splat in the view, also those whose opacity-aware
    /// bounds cover no tile — as the classic 3DGS statistics count them).
    pub fn projected(buffer: &'a wgpu::Buffer) -> Self {
        Self {
            buffer,
            stride: PROJECTED_WORDS,
            offset: PROJECTED_RADIUS_WORD,
        }
    }
}

/// Size of WGSL `Projected` in u32 words, and the word of its `radius`.
const PROJECTED_WORDS: u32 = 16;
const PROJECTED_RADIUS_WORD: u32 = 7;

/// gsplat `DefaultStrategy` settings (its defaults), plus an optional splat budget.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DensifyConfig {
    /// Average screen-space gradient (normalised device units) above which a splat grows.
    pub grow_grad2d: f32,
    /// Largest max scale, relative to the scene scale, of a splat that duplicates (larger split).
    pub grow_scale3d: f32,
    /// Splats with opacity below this are pruned; reset clamps opacities to twice it.
    pub prune_opa: f32,
    /// Max scale, relative to the scene scale, above which splats are pruned (after the first
    /// opacity reset).
    pub prune_scale3d: f32,
    pub refine_start_iter: u32,
    pub refine_stop_iter: u32,
    pub refine_every: u32,
    pub reset_every: u32,
    /// Optional cap on the splat count. When growth would exceed it, only the candidates with the
    /// highest average gradient grow: the host reads the statistics back and raises the gradient
    /// threshold to the cut (see [`budget_threshold`]). Pruning never raises the count, so a set
    /// within the budget stays within it.
    pub max_splats: Option<u32>,
}

impl Default for DensifyConfig {
    fn default() -> Self {
        Self {
            grow_grad2d: 0.0002,
            grow_scale3d: 0.01,
            prune_opa: 0.005,
            prune_scale3d: 0.1,
            refine_start_iter: 500,
            refine_stop_iter: 15_000,
            refine_every: 100,
            reset_every: 3000,
            max_splats: None,
        }
    }
}

impl DensifyConfig {
    /// Whether the statistics are accumulated after the backward pass of `step` (gsplat stops
    /// everything at `refine_stop_iter`).
    pub fn accumulates(&self, step: u32) -> bool {
        step < self.refine_stop_iter
    }

    /// Whether `step` refines: `refine_start_iter < step < refine_stop_iter` and a multiple of
    /// `refine_every`.
    pub fn refines(&self, step: u32) -> bool {
        self.accumulates(step)
            && step > self.refine_start_iter
            && self.refine_every > 0
            && step.is_multiple_of(self.refine_every)
    }

    /// Whether `step` resets opacities (after refining, when both fall on it): every
    /// `reset_every` steps, not at step 0, and not from `refine_stop_iter` on.
    pub fn resets_opacity(&self, step: u32) -> bool {
        self.accumulates(step)
            && step > 0
            && self.reset_every > 0
            && step.is_multiple_of(self.reset_every)
    }

    /// The thresholds of a refine at `step` for a scene of extent `scene_scale`, moved into the
    /// domain the kernel compares in (log scales, opacity logits).
    pub fn rule(&self, scene_scale: f32, step: u32) -> RefineRule {
        let scene_scale = scene_scale as f64;
        RefineRule {
            grad_threshold: self.grow_grad2d,
            log_grow_scale: (self.grow_scale3d as f64 * scene_scale).ln() as f32,
            log_prune_scale: (self.prune_scale3d as f64 * scene_scale).ln() as f32,
            prune_big: step > self.reset_every,
            prune_logit: logit(self.prune_opa as f64),
            log_split: 1.6f64.ln() as f32,
        }
    }

    /// The opacity logit a reset clamps to: logit(2 · prune_opa).
    pub fn reset_logit(&self) -> f32 {
        logit(2.0 * self.prune_opa as f64)
    }
}

fn logit(p: f64) -> f32 {
    (p / (1.0 - p)).ln() as f32
}

/// The comparisons of one refine step (shared by the kernel's uniform and the CPU reference).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RefineRule {
    /// A splat grows when `grad2d > grad_threshold · max(visits, 1)`.
    pub grad_threshold: f32,
    /// It duplicates when its max log scale is `<=` this, else splits.
    pub log_grow_scale: f32,
    /// With `prune_big`, outputs whose max log scale is `>` this are pruned.
    pub log_prune_scale: f32,
    pub prune_big: bool,
    /// Outputs whose opacity logit is `<` this are pruned.
    pub prune_logit: f32,
    /// Subtracted from split children's log scales.
    pub log_split: f32,
}

/// What one refine step did (gsplat's counts: duplicated and split before pruning, pruned out of
/// the grown set).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RefineStats {
    pub before: u32,
    pub duplicated: u32,
    pub split: u32,
    pub pruned: u32,
    pub after: u32,
}

/// The densification kernels' pipelines, and the running gradient statistics of the current
/// splat set.
pub struct Densifier {
    accumulate: Arc<wgpu::ComputePipeline>,
    classify: Arc<wgpu::ComputePipeline>,
    scatter_means: Arc<wgpu::ComputePipeline>,
    scatter_records: Arc<wgpu::ComputePipeline>,
    reset_opacity: Arc<wgpu::ComputePipeline>,
    scan: ScanKernel,
    config: DensifyConfig,
    scene_scale: f32,
    /// Σ screen-space gradient norms per splat (`array<f32>`).
    grad2d: wgpu::Buffer,
    /// Frames each splat was visible in (`array<u32>`).
    visits: wgpu::Buffer,
    count: u32,
    max_dim: u32,
}

/// A bind group for a pipeline whose layout was derived from its entry point.
fn bind(
    ctx: &GpuContext,
    pipeline: &wgpu::ComputePipeline,
    entries: &[(u32, &wgpu::Buffer)],
) -> wgpu::BindGroup {
    bind_derived(&ctx.device, "densify", pipeline, 0, entries)
}

impl Densifier {
    /// Kernels and zeroed statistics for `count` splats of a scene of extent `scene_scale` (the
    /// radius gsplat normalises the 3D scale thresholds and the position learning rate by).
    pub fn new(
        ctx: &GpuContext,
        config: DensifyConfig,
        scene_scale: f32,
        count: u32,
    ) -> Result<Self, GpuError> {
        if !(scene_scale.is_finite() && scene_scale > 0.0) {
            return Err(GpuError::Unsupported(format!(
                "scene scale {scene_scale} must be positive"
            )));
        }
        let [accumulate, classify, scatter_means, scatter_records, reset_opacity] =
            derived_pipelines(
                ctx,
                "densify",
                SOURCE,
                [
                    "accumulate",
                    "classify",
                    "scatter_means",
                    "scatter_records",
                    "reset_opacity",
                ],
            );
        Ok(Self {
            accumulate,
            classify,
            scatter_means,
            scatter_records,
            reset_opacity,
            scan: ScanKernel::new(ctx),
            config,
            scene_scale,
            grad2d: storage_buffer(ctx, "densify grad2d", count as u64 * 4),
            visits: storage_buffer(ctx, "densify visits", count as u64 * 4),
            count,
            max_dim: ctx.device.limits().max_compute_workgroups_per_dimension,
        })
    }

    pub fn config(&self) -> &DensifyConfig {
        &self.config
    }

    /// The scene extent the thresholds are relative to.
    pub fn scene_scale(&self) -> f32 {
        self.scene_scale
    }

    /// Number of splats the statistics cover.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// Zeroed statistics for `count` splats (a new splat set).
    pub fn reset_stats(&mut self, ctx: &GpuContext, count: u32) {
        self.grad2d = storage_buffer(ctx, "densify grad2d", count as u64 * 4);
        self.visits = storage_buffer(ctx, "densify visits", count as u64 * 4);
        self.count = count;
    }

    /// Replaces the statistics (e.g. when resuming a run).
    pub fn set_stats(
        &mut self,
        ctx: &GpuContext,
        grad2d: &[f32],
        visits: &[u32],
    ) -> Result<(), GpuError> {
        if grad2d.len() != visits.len() {
            return Err(GpuError::Unsupported(format!(
                "{} gradient sums but {} visit counts",
                grad2d.len(),
                visits.len()
            )));
        }
        let count = u32::try_from(grad2d.len())
            .map_err(|_| GpuError::TooLarge(format!("{} splats", grad2d.len())))?;
        self.grad2d = storage_buffer_init(ctx, "densify grad2d", grad2d);
        self.visits = storage_buffer_init(ctx, "densify visits", visits);
        self.count = count;
        Ok(())
    }

    /// The statistics: per-splat sums of gradient norms and visible-frame counts.
    pub async fn read_stats(&self, ctx: &GpuContext) -> Result<(Vec<f32>, Vec<u32>), GpuError> {
        let n = self.count as usize;
        Ok((
            read_buffer(ctx, &self.grad2d, n).await?,
            read_buffer(ctx, &self.visits, n).await?,
        ))
    }

    fn dispatch(
        &self,
        pass: &mut wgpu::ComputePass<'_>,
        pipeline: &wgpu::ComputePipeline,
        bind_group: &wgpu::BindGroup,
        threads: u32,
    ) {
        let grid = dispatch_size(threads.div_ceil(WORKGROUP), self.max_dim);
        if !grid.is_empty() {
            record(pass, pipeline, bind_group, grid);
        }
    }

    /// Records the statistics update of one camera's backward pass: `grad_xy` holds each splat's
    /// (at `grad_stride` floats per splat: 2 for packed pairs, 12 for the backward pass's
    /// per-splat record)
    /// dLoss/d(pixel-space 2D mean) as `array<vec2<f32>>`, `visible` whether it was visible in
    /// a `width` × `height` image. Each call makes its own small uniform, so several cameras may
    /// be recorded into one submission.
    #[allow(clippy::too_many_arguments)]
    pub fn record_accumulate(
        &self,
        ctx: &GpuContext,
        pass: &mut wgpu::ComputePass<'_>,
        grad_xy: &wgpu::Buffer,
        grad_stride: u32,
        visible: VisibleFlags<'_>,
        width: u32,
        height: u32,
    ) -> Result<(), GpuError> {
        let n = self.count as u64;
        let visible_words = n * u64::from(visible.stride.max(1));
        if grad_stride < 2
            || grad_xy.size() < n * grad_stride as u64 * 4
            || visible.offset >= visible.stride.max(1)
            || visible.buffer.size() < visible_words * 4
        {
            return Err(GpuError::Unsupported(format!(
                "accumulate needs {n} 2D gradients and visibility flags"
            )));
        }
        let params = DensifyParams {
            n: self.count,
            stride: grad_stride,
            half_size: [width as f32 / 2.0, height as f32 / 2.0],
            visible_stride: visible.stride.max(1),
            visible_offset: visible.offset,
            ..Default::default()
        };
        let uniform = uniform_buffer(ctx, "densify accumulate", &params);
        let bind_group = bind(
            ctx,
            &self.accumulate,
            &[
                (0, &uniform),
                (1, grad_xy),
                (2, visible.buffer),
                (3, &self.grad2d),
                (4, &self.visits),
            ],
        );
        self.dispatch(pass, &self.accumulate, &bind_group, self.count);
        Ok(())
    }

    /// [`Densifier::record_accumulate`] in a submission of its own.
    #[allow(clippy::too_many_arguments)]
    pub fn accumulate(
        &self,
        ctx: &GpuContext,
        grad_xy: &wgpu::Buffer,
        grad_stride: u32,
        visible: VisibleFlags<'_>,
        width: u32,
        height: u32,
    ) -> Result<(), GpuError> {
        ctx.try_submit_pass("densify accumulate", |pass| {
            self.record_accumulate(ctx, pass, grad_xy, grad_stride, visible, width, height)
        })
    }

    /// Records the opacity reset of `params` (opacity logits clamped to
    /// [`DensifyConfig::reset_logit`], their Adam moments zeroed).
    pub fn record_reset_opacity(
        &self,
        ctx: &GpuContext,
        pass: &mut wgpu::ComputePass<'_>,
        params: &SplatBuffers,
        moments: &AdamMoments,
    ) -> Result<(), GpuError> {
        check_counts(params, moments)?;
        let uniform = uniform_buffer(
            ctx,
            "densify reset",
            &DensifyParams {
                n: params.count,
                reset_logit: self.config.reset_logit(),
                ..Default::default()
            },
        );
        let bind_group = bind(
            ctx,
            &self.reset_opacity,
            &[
                (0, &uniform),
                (14, &params.means),
                (15, &moments.m.means),
                (16, &moments.v.means),
            ],
        );
        self.dispatch(pass, &self.reset_opacity, &bind_group, params.count);
        Ok(())
    }

    /// [`Densifier::record_reset_opacity`] in a submission of its own.
    pub fn reset_opacity(
        &self,
        ctx: &GpuContext,
        params: &SplatBuffers,
        moments: &AdamMoments,
    ) -> Result<(), GpuError> {
        ctx.try_submit_pass("densify reset", |pass| {
            self.record_reset_opacity(ctx, pass, params, moments)
        })
    }

    /// gsplat's `step_post_backward` after the statistics were accumulated: refines when
    /// [`DensifyConfig::refines`] says so, then resets opacities when
    /// [`DensifyConfig::resets_opacity`] does. Returns the refine's counts when it ran.
    pub async fn post_backward(
        &mut self,
        ctx: &GpuContext,
        params: &mut SplatBuffers,
        moments: &mut AdamMoments,
        step: u32,
        seed: u32,
    ) -> Result<Option<RefineStats>, GpuError> {
        let stats = if self.config.refines(step) {
            Some(self.refine(ctx, params, moments, step, seed).await?)
        } else {
            None
        };
        if self.config.resets_opacity(step) {
            self.reset_opacity(ctx, params, moments)?;
        }
        Ok(stats)
    }

    /// One refine step at `step` (which decides whether too-big splats are pruned): grows and
    /// prunes `params`, rebuilds them and both Adam moments at the new count, and zeroes the
    /// statistics. `seed` seeds the split samples (hashed with the splat index).
    ///
    /// The buffers in `params` and `moments` are replaced: rebind Adam, and give the gradients a
    /// new zeroed set of `params.count` splats.
    pub async fn refine(
        &mut self,
        ctx: &GpuContext,
        params: &mut SplatBuffers,
        moments: &mut AdamMoments,
        step: u32,
        seed: u32,
    ) -> Result<RefineStats, GpuError> {
        check_counts(params, moments)?;
        let n = params.count;
        if self.count != n {
            return Err(GpuError::Unsupported(format!(
                "statistics cover {} splats, the parameters {n}",
                self.count
            )));
        }
        if n > u32::MAX / 2 {
            return Err(GpuError::TooLarge(format!("{n} splats may double")));
        }
        if n == 0 {
            return Ok(RefineStats::default());
        }
        let mut rule = self.config.rule(self.scene_scale, step);
        if let Some(max) = self.config.max_splats {
            // Growth at most doubles the set: only a set that could pass the budget pays the
            // readback.
            if n as u64 * 2 > max as u64 {
                let (grad2d, visits) = self.read_stats(ctx).await?;
                rule.grad_threshold =
                    budget_threshold(&grad2d, &visits, rule.grad_threshold, max.saturating_sub(n));
            }
        }

        // Classify, then scan the n + 1 output counts (the last, 0, becomes the total).
        let offsets = storage_buffer(ctx, "densify offsets", (n as u64 + 1) * 4);
        let actions = storage_buffer(ctx, "densify actions", n as u64 * 4);
        let counters = storage_buffer(ctx, "densify counters", 16);
        let base = DensifyParams {
            n,
            seed,
            grad_threshold: rule.grad_threshold,
            log_grow_scale: rule.log_grow_scale,
            log_prune_scale: rule.log_prune_scale,
            prune_big: rule.prune_big as u32,
            prune_logit: rule.prune_logit,
            reset_logit: self.config.reset_logit(),
            log_split: rule.log_split,
            ..Default::default()
        };
        let uniform = uniform_buffer(ctx, "densify classify", &base);
        let classify = bind(
            ctx,
            &self.classify,
            &[
                (0, &uniform),
                (3, &self.grad2d),
                (4, &self.visits),
                (5, &params.means),
                (6, &params.log_scales),
                (7, &offsets),
                (8, &actions),
                (9, &counters),
            ],
        );
        let plan = self.scan.plan(ctx, &offsets, n + 1);
        let mut encoder = ctx.encode_pass("densify classify", |pass| {
            self.dispatch(pass, &self.classify, &classify, n);
            plan.record(pass);
        });
        encoder.copy_buffer_to_buffer(&offsets, n as u64 * 4, &counters, 8, 4);
        ctx.queue.submit([encoder.finish()]);
        let counts: Vec<u32> = read_buffer(ctx, &counters, 3).await?;
        let [duplicated, split, total] = counts[..] else {
            return Err(GpuError::Readback(format!(
                "{} refine counters",
                counts.len()
            )));
        };
        let grown = n as u64 + duplicated as u64 + split as u64;
        if total as u64 > grown {
            return Err(GpuError::Readback(format!(
                "refine counted {total} outputs from {grown} grown splats"
            )));
        }

        // Scatter every record into buffers of the new count.
        let new_params = SplatBuffers::zeroed(ctx, "splats", total)?;
        let new_moments = AdamMoments::zeroed(ctx, total)?;
        let mut bind_groups = Vec::new();
        let means_group = bind(
            ctx,
            &self.scatter_means,
            &[
                (0, &uniform),
                (5, &params.means),
                (6, &params.log_scales),
                (7, &offsets),
                (8, &actions),
                (10, &params.rotations),
                (11, &new_params.means),
            ],
        );
        let old: &SplatBuffers = params;
        let jobs = [
            (ParamGroup::LogScales, old, &new_params, MODE_LOG_SCALE),
            (ParamGroup::Rotations, old, &new_params, MODE_COPY),
            (ParamGroup::Sh, old, &new_params, MODE_COPY),
        ]
        .into_iter()
        .chain(ParamGroup::ALL.into_iter().flat_map(|g| {
            [
                (g, &moments.m, &new_moments.m, MODE_MOMENT),
                (g, &moments.v, &new_moments.v, MODE_MOMENT),
            ]
        }));
        for (group, src, dst, mode) in jobs {
            let stride = group.stride() / 4;
            let uniform = uniform_buffer(
                ctx,
                "densify scatter",
                &DensifyParams {
                    stride,
                    mode,
                    ..base
                },
            );
            let bind_group = bind(
                ctx,
                &self.scatter_records,
                &[
                    (0, &uniform),
                    (7, &offsets),
                    (8, &actions),
                    (12, src.buffer(group)),
                    (13, dst.buffer(group)),
                ],
            );
            bind_groups.push((bind_group, n * stride));
        }
        ctx.submit_pass("densify scatter", |pass| {
            self.dispatch(pass, &self.scatter_means, &means_group, n);
            for (bind_group, threads) in &bind_groups {
                self.dispatch(pass, &self.scatter_records, bind_group, *threads);
            }
        });

        *params = new_params;
        *moments = new_moments;
        self.reset_stats(ctx, total);
        Ok(RefineStats {
            before: n,
            duplicated,
            split,
            pruned: (grown - total as u64) as u32,
            after: total,
        })
    }
}

/// Parameters and moments must describe the same splats.
fn check_counts(params: &SplatBuffers, moments: &AdamMoments) -> Result<(), GpuError> {
    if moments.m.count != params.count || moments.v.count != params.count {
        return Err(GpuError::Unsupported(format!(
            "{} splats but Adam moments for {} / {}",
            params.count, moments.m.count, moments.v.count
        )));
    }
    Ok(())
}
