//! Host of `shaders/rasterize.wgsl`: tile ranges and per-tile blending.

use std::sync::Arc;

use crate::gpu::{compute_pipeline, GpuContext};

const SOURCE: &str = include_str!("../../shaders/rasterize.wgsl");

/// The rasterization kernel's pipelines (layouts derived per entry point).
pub struct RasterizeKernel {
    pub tile_ranges: Arc<wgpu::ComputePipeline>,
    pub rasterize: Arc<wgpu::ComputePipeline>,
}

impl RasterizeKernel {
    pub fn new(ctx: &GpuContext) -> Self {
        let p = |key, entry| {
            ctx.pipeline(key, |d| {
                compute_pipeline(d, "rasterize.wgsl", SOURCE, None, entry)
            })
        };
        Self {
            tile_ranges: p("rasterize.tile_ranges", "tile_ranges"),
            rasterize: p("rasterize.rasterize", "rasterize"),
        }
    }
}
