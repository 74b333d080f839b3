//! Adam on the GPU with `torch.optim.Adam`'s semantics — kernel `shaders/adam.wgsl` — and the
//! learning rates 3DGS / gsplat train with (defaults and the exponential position decay).
//!
//! Each of the four parameter buffers ([`ParamGroup`]) is updated in place by one dispatch that
//! also zeroes the gradient it consumed, so the next backward pass can accumulate into it. Two
//! learning rates per buffer are picked by the float's position inside the per-splat record
//! (`j % stride < split`): means xyz vs. opacity logit, log scales xyz vs. the unused w (rate 0),
//! the DC SH term vs. the higher bands.
//!
//! The step count `t` is shared by every splat, as in gsplat: densification gives new splats zero
//! moments but does not restart `t`.

mod cpu;
mod splats;
#[cfg(test)]
mod tests;

pub use cpu::adam_step_cpu;
pub use splats::{SplatBuffers, SplatData};

use std::sync::Arc;

use bytemuck::Zeroable;

use crate::gpu::{uniform_buffer, GpuContext, GpuError, Kernel, READ_WRITE, UNIFORM};
use crate::train::SH_FLOATS;

const SOURCE: &str = include_str!("../../../shaders/adam.wgsl");

/// Threads per workgroup (must match `@workgroup_size` in `adam.wgsl`).
const WORKGROUP: u32 = 256;

/// Host mirror of `AdamParams` in `adam.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct AdamParams {
    /// Floats in the buffer (a multiple of 4).
    pub count: u32,
    /// Floats per splat record.
    pub stride: u32,
    /// Floats `j` with `j % stride < split` use `lr_a`, the others `lr_b`.
    pub split: u32,
    pub _pad0: u32,
    pub lr_a: f32,
    pub lr_b: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    /// `1 - beta1^t`.
    pub bias1: f32,
    /// `sqrt(1 - beta2^t)`.
    pub bias2_sqrt: f32,
    pub _pad1: u32,
}

/// Adam's hyper-parameters other than the learning rate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamConfig {
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
}

impl Default for AdamConfig {
    /// torch's betas and the 3DGS / gsplat epsilon (1e-15, far below any gradient's scale).
    fn default() -> Self {
        Self {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-15,
        }
    }
}

impl AdamConfig {
    /// `(1 - beta1^t, sqrt(1 - beta2^t))`, in f64 then rounded; `t` counts from 1 (0 is taken
    /// as 1).
    pub fn bias_corrections(&self, t: u32) -> (f32, f32) {
        let t = t.max(1) as i32;
        let bias1 = 1.0 - (self.beta1 as f64).powi(t);
        let bias2 = 1.0 - (self.beta2 as f64).powi(t);
        (bias1 as f32, bias2.sqrt() as f32)
    }
}

/// One of the four parameter buffers of the training layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamGroup {
    Means,
    LogScales,
    Rotations,
    Sh,
}

impl ParamGroup {
    /// The four groups in buffer order.
    pub const ALL: [ParamGroup; 4] = [
        ParamGroup::Means,
        ParamGroup::LogScales,
        ParamGroup::Rotations,
        ParamGroup::Sh,
    ];

    /// Floats per splat in this group's buffer.
    pub fn stride(self) -> u32 {
        match self {
            ParamGroup::Sh => SH_FLOATS as u32,
            _ => 4,
        }
    }

    /// Floats of each record that take the group's first learning rate (the rest take the
    /// second): means xyz, log scales xyz, the whole quaternion, the three DC SH floats.
    pub fn split(self) -> u32 {
        match self {
            ParamGroup::Rotations => 4,
            _ => 3,
        }
    }
}

/// Learning rates per parameter, as gsplat's `simple_trainer` sets them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LearningRates {
    pub means: f32,
    pub scales: f32,
    pub quats: f32,
    pub opacities: f32,
    /// DC SH term.
    pub sh0: f32,
    /// SH bands 1–3.
    pub sh_rest: f32,
}

impl LearningRates {
    /// gsplat / 3DGS defaults: means 1.6e-4 × `scene_scale` (the position rate is relative to
    /// the scene's extent), scales 5e-3, quaternions 1e-3, opacities 5e-2, SH DC 2.5e-3 and the
    /// higher bands 20× lower.
    pub fn gsplat(scene_scale: f32) -> Self {
        Self {
            means: 1.6e-4 * scene_scale,
            scales: 5e-3,
            quats: 1e-3,
            opacities: 5e-2,
            sh0: 2.5e-3,
            sh_rest: 2.5e-3 / 20.0,
        }
    }

    /// The rates for iteration `step` (0-based) of `total_steps`: the position rate decays
    /// exponentially to 1 % (see [`exponential_decay`]); the others are constant.
    pub fn at_step(&self, step: u32, total_steps: u32) -> Self {
        Self {
            means: exponential_decay(self.means, step, total_steps),
            ..*self
        }
    }

    /// `(lr_a, lr_b)` of `group`, in the order of [`ParamGroup::split`]. The log scales' unused
    /// w takes rate 0, so it stays 0.
    pub fn for_group(&self, group: ParamGroup) -> (f32, f32) {
        match group {
            ParamGroup::Means => (self.means, self.opacities),
            ParamGroup::LogScales => (self.scales, 0.0),
            ParamGroup::Rotations => (self.quats, self.quats),
            ParamGroup::Sh => (self.sh0, self.sh_rest),
        }
    }
}

/// `lr0 · 0.01^(step / total_steps)`: gsplat's position schedule, torch `ExponentialLR` with
/// `gamma = 0.01^(1 / total_steps)` stepped after each iteration (so `step` is the number of
/// iterations already done). `total_steps` 0 returns `lr0`.
pub fn exponential_decay(lr0: f32, step: u32, total_steps: u32) -> f32 {
    if total_steps == 0 {
        return lr0;
    }
    (lr0 as f64 * 0.01f64.powf(step as f64 / total_steps as f64)) as f32
}

/// Adam's first and second moments for every parameter buffer, in the parameters' layout.
pub struct AdamMoments {
    pub m: SplatBuffers,
    pub v: SplatBuffers,
}

impl AdamMoments {
    /// Zero moments for `count` splats (the state before the first step).
    pub fn zeroed(ctx: &GpuContext, count: u32) -> Result<Self, GpuError> {
        Ok(Self {
            m: SplatBuffers::zeroed(ctx, "adam m", count)?,
            v: SplatBuffers::zeroed(ctx, "adam v", count)?,
        })
    }

    /// Number of splats the moments cover.
    pub fn count(&self) -> u32 {
        self.m.count
    }
}

/// The Adam kernel's bind group and uniform for one (parameter, gradient, m, v) buffer quadruple.
///
/// Its uniform is rewritten by [`Adam::record_buffer`] with `queue.write_buffer`, which lands at
/// the next submission: record each binding at most once per submission.
pub struct AdamBinding {
    uniform: wgpu::Buffer,
    bind_group: wgpu::BindGroup,
    count: u32,
    stride: u32,
    split: u32,
}

/// The four [`AdamBinding`]s of one splat set (one per [`ParamGroup`], in `ParamGroup::ALL`
/// order). Rebind after densification replaces the buffers.
pub struct AdamBindings {
    groups: [AdamBinding; 4],
    count: u32,
}

impl AdamBindings {
    /// Number of splats bound.
    pub fn count(&self) -> u32 {
        self.count
    }
}

/// Owns the Adam kernel's bind-group layout and pipeline, and Adam's hyper-parameters.
pub struct Adam {
    kernel: Kernel,
    pipeline: Arc<wgpu::ComputePipeline>,
    config: AdamConfig,
}

impl Adam {
    pub fn new(ctx: &GpuContext, config: AdamConfig) -> Self {
        let (kernel, [pipeline]) = Kernel::new(
            ctx,
            "adam",
            SOURCE,
            &[UNIFORM, READ_WRITE, READ_WRITE, READ_WRITE, READ_WRITE],
            ["adam"],
        );
        Self {
            kernel,
            pipeline,
            config,
        }
    }

    /// The hyper-parameters every step uses.
    pub fn config(&self) -> AdamConfig {
        self.config
    }

    /// Binds one buffer of `count` floats (records of `stride` floats, the first `split` of each
    /// taking `lr_a`) with its gradient and moments. The four buffers must be distinct and hold
    /// `count` floats; `count` and `stride` must be multiples of 4.
    #[allow(clippy::too_many_arguments)]
    pub fn bind_buffer(
        &self,
        ctx: &GpuContext,
        param: &wgpu::Buffer,
        grad: &wgpu::Buffer,
        m: &wgpu::Buffer,
        v: &wgpu::Buffer,
        count: u32,
        stride: u32,
        split: u32,
    ) -> Result<AdamBinding, GpuError> {
        if !count.is_multiple_of(4) || stride == 0 || !stride.is_multiple_of(4) {
            return Err(GpuError::Unsupported(format!(
                "Adam works on vec4s: {count} floats in records of {stride}"
            )));
        }
        let bytes = count as u64 * 4;
        if [param, grad, m, v].iter().any(|b| b.size() < bytes) {
            return Err(GpuError::Unsupported(format!(
                "Adam buffers must hold {count} floats"
            )));
        }
        let uniform = uniform_buffer(ctx, "adam params", &AdamParams::zeroed());
        let bind_group = self.kernel.bind(ctx, &[&uniform, param, grad, m, v]);
        Ok(AdamBinding {
            uniform,
            bind_group,
            count,
            stride,
            split,
        })
    }

    /// Binds the four parameter buffers of a splat set with their gradients and moments (all of
    /// the same splat count).
    pub fn bind(
        &self,
        ctx: &GpuContext,
        params: &SplatBuffers,
        grads: &SplatBuffers,
        moments: &AdamMoments,
    ) -> Result<AdamBindings, GpuError> {
        let count = params.count;
        if grads.count != count || moments.m.count != count || moments.v.count != count {
            return Err(GpuError::Unsupported(format!(
                "Adam needs one splat count: params {count}, grads {}, m {}, v {}",
                grads.count, moments.m.count, moments.v.count
            )));
        }
        let bind = |group: ParamGroup| {
            self.bind_buffer(
                ctx,
                params.buffer(group),
                grads.buffer(group),
                moments.m.buffer(group),
                moments.v.buffer(group),
                count * group.stride(),
                group.stride(),
                group.split(),
            )
        };
        Ok(AdamBindings {
            groups: [
                bind(ParamGroup::Means)?,
                bind(ParamGroup::LogScales)?,
                bind(ParamGroup::Rotations)?,
                bind(ParamGroup::Sh)?,
            ],
            count,
        })
    }

    /// Records Adam step `t` (1 for the first step) of one buffer into `pass`, with learning rates
    /// `lr_a` / `lr_b`. Writes the binding's uniform through `queue` (no sync; lands at the next
    /// submission).
    pub fn record_buffer(
        &self,
        queue: &wgpu::Queue,
        pass: &mut wgpu::ComputePass<'_>,
        binding: &AdamBinding,
        lr_a: f32,
        lr_b: f32,
        t: u32,
    ) {
        let (bias1, bias2_sqrt) = self.config.bias_corrections(t);
        let params = AdamParams {
            count: binding.count,
            stride: binding.stride,
            split: binding.split,
            _pad0: 0,
            lr_a,
            lr_b,
            beta1: self.config.beta1,
            beta2: self.config.beta2,
            eps: self.config.eps,
            bias1,
            bias2_sqrt,
            _pad1: 0,
        };
        queue.write_buffer(&binding.uniform, 0, bytemuck::bytes_of(&params));
        let workgroups = (binding.count / 4).div_ceil(WORKGROUP);
        if workgroups > 0 {
            self.kernel
                .dispatch(pass, &self.pipeline, &binding.bind_group, workgroups);
        }
    }

    /// Records Adam step `t` of all four parameter buffers with the rates `lrs` (already
    /// scheduled, see [`LearningRates::at_step`]).
    pub fn record(
        &self,
        queue: &wgpu::Queue,
        pass: &mut wgpu::ComputePass<'_>,
        bindings: &AdamBindings,
        lrs: &LearningRates,
        t: u32,
    ) {
        for (group, binding) in ParamGroup::ALL.iter().zip(&bindings.groups) {
            let (lr_a, lr_b) = lrs.for_group(*group);
            self.record_buffer(queue, pass, binding, lr_a, lr_b, t);
        }
    }

    /// Runs Adam step `t` on all four buffers in a submission of its own.
    pub fn step(&self, ctx: &GpuContext, bindings: &AdamBindings, lrs: &LearningRates, t: u32) {
        ctx.submit_pass("adam", |pass| {
            self.record(&ctx.queue, pass, bindings, lrs, t);
        });
    }
}
