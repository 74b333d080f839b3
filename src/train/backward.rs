//! Host of `shaders/backward.wgsl`: the rasterizer's backward passes (per-pixel blending →
//! per-splat 2D gradients → 3D parameters and SH), for one rendered frame.

use std::sync::Arc;

use super::adam::SplatBuffers;
use crate::gpu::{bind_derived, derived_pipelines, dispatch_size, storage_buffer, GpuContext};
use crate::render::FrameBuffers;

const SOURCE_SUBGROUP: &str = concat!(
    include_str!("../../shaders/backward_sum_subgroup.wgsl"),
    include_str!("../../shaders/backward.wgsl")
);
const SOURCE_BASELINE: &str = concat!(
    include_str!("../../shaders/backward_sum_cas.wgsl"),
    include_str!("../../shaders/backward.wgsl")
);

/// Floats of `v_splat` per splat (mean xy, opacity, _, conic, _, colour, _).
pub const SPLAT_GRAD_FLOATS: u64 = 12;

/// How per-splat gradients are summed over a tile's pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accumulation {
    /// Subgroup sums and one f32 atomic add per subgroup (native devices that have both).
    Subgroup,
    /// Compare-and-swap per pixel on the f32's bits (the WebGPU baseline).
    Baseline,
}

impl Accumulation {
    /// The fastest variant `ctx`'s device supports.
    pub fn best(ctx: &GpuContext) -> Self {
        let needs = wgpu::Features::SUBGROUP | wgpu::Features::SHADER_FLOAT32_ATOMIC;
        if !cfg!(target_arch = "wasm32") && ctx.device.features().contains(needs) {
            Self::Subgroup
        } else {
            Self::Baseline
        }
    }
}

/// The backward pipelines (layouts derived per entry point).
pub struct BackwardKernel {
    pub accumulation: Accumulation,
    rasterize: Arc<wgpu::ComputePipeline>,
    sh: Arc<wgpu::ComputePipeline>,
    project: Arc<wgpu::ComputePipeline>,
}

impl BackwardKernel {
    /// The pipelines of the fastest variant the device supports.
    pub fn new(ctx: &GpuContext) -> Self {
        Self::with_accumulation(ctx, Accumulation::best(ctx))
    }

    /// The pipelines of a given variant (tests run both where the device allows).
    pub fn with_accumulation(ctx: &GpuContext, accumulation: Accumulation) -> Self {
        let entries = ["rasterize_backward", "sh_backward", "project_backward"];
        let [rasterize, sh, project] = match accumulation {
            Accumulation::Subgroup => {
                derived_pipelines(ctx, "backward_subgroup", SOURCE_SUBGROUP, entries)
            }
            Accumulation::Baseline => {
                derived_pipelines(ctx, "backward_baseline", SOURCE_BASELINE, entries)
            }
        };
        Self {
            accumulation,
            rasterize,
            sh,
            project,
        }
    }
}

/// Scratch of the backward pass for up to `capacity` splats: the per-splat 2D gradients.
pub struct BackwardPass {
    pub capacity: u32,
    /// `SPLAT_GRAD_FLOATS` floats per splat, summed over the frame's pixels.
    pub v_splat: wgpu::Buffer,
}

impl BackwardPass {
    pub fn new(ctx: &GpuContext, capacity: u32) -> Self {
        Self {
            capacity,
            v_splat: storage_buffer(
                ctx,
                "splat 2d gradients",
                capacity.max(1) as u64 * SPLAT_GRAD_FLOATS * 4,
            ),
        }
    }

    /// Records the backward pass of the frame in `frame` (rendered from `params` at
    /// `width × height`): `v_rgb` holds dL/d(pixel rgb) as `vec4<f32>` per pixel; `grads` are
    /// overwritten with dL/d(parameters) for all `num_splats` splats.
    #[allow(clippy::too_many_arguments)]
    pub fn encode(
        &self,
        ctx: &GpuContext,
        kernel: &BackwardKernel,
        enc: &mut wgpu::CommandEncoder,
        frame: &FrameBuffers<'_>,
        params: &SplatBuffers,
        grads: &SplatBuffers,
        v_rgb: &wgpu::Buffer,
        num_splats: u32,
        (width, height): (u32, u32),
    ) {
        let d = &ctx.device;
        let raster_bg = bind_derived(
            d,
            "backward",
            &kernel.rasterize,
            0,
            &[
                (0, frame.params),
                (9, &self.v_splat),
                (10, frame.ranges),
                (11, frame.tile_splats),
                (12, frame.projected),
                (13, frame.rgba),
                (14, frame.last),
                (15, v_rgb),
            ],
        );
        let sh_bg = bind_derived(
            d,
            "backward",
            &kernel.sh,
            0,
            &[
                (0, frame.params),
                (1, &params.means),
                (4, &params.sh),
                (5, &grads.means),
                (8, &grads.sh),
                (9, &self.v_splat),
            ],
        );
        let project_bg = bind_derived(
            d,
            "backward",
            &kernel.project,
            0,
            &[
                (0, frame.params),
                (1, &params.means),
                (2, &params.log_scales),
                (3, &params.rotations),
                (5, &grads.means),
                (6, &grads.log_scales),
                (7, &grads.rotations),
                (9, &self.v_splat),
            ],
        );
        enc.clear_buffer(&self.v_splat, 0, None);
        let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("backward"),
            timestamp_writes: None,
        });
        pass.set_pipeline(&kernel.rasterize);
        pass.set_bind_group(0, &raster_bg, &[]);
        pass.dispatch_workgroups(width.div_ceil(16), height.div_ceil(16), 1);
        let max_dim = d.limits().max_compute_workgroups_per_dimension;
        let grid = dispatch_size(num_splats.div_ceil(256), max_dim);
        if grid.x > 0 {
            pass.set_pipeline(&kernel.sh);
            pass.set_bind_group(0, &sh_bg, &[]);
            pass.dispatch_workgroups(grid.x, grid.y, 1);
            pass.set_pipeline(&kernel.project);
            pass.set_bind_group(0, &project_bg, &[]);
            pass.dispatch_workgroups(grid.x, grid.y, 1);
        }
    }
}

#[cfg(test)]
#[path = "backward_tests.rs"]
mod tests;
