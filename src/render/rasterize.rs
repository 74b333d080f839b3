//! Host of `shaders/rasterize.wgsl`: tile ranges and per-tile blending.

use std::sync::Arc;

use crate::gpu::{derived_pipelines, GpuContext};

const SOURCE: &str = include_str!("../../shaders/rasterize.wgsl");

/// The rasterization kernel's pipelines (layouts derived per entry point).
pub struct RasterizeKernel {
    pub tile_ranges: Arc<wgpu::ComputePipeline>,
    pub rasterize: Arc<wgpu::ComputePipeline>,
}

impl RasterizeKernel {
    pub fn new(ctx: &GpuContext) -> Self {
        let [tile_ranges, rasterize] =
            derived_pipelines(ctx, "rasterize", SOURCE, ["tile_ranges", "rasterize"]);
        Self {
            tile_ranges,
            rasterize,
        }
    }
}
