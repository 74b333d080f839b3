//! 3D Gaussian-splat rendering: a GPU tile rasterizer (`shaders/project.wgsl`,
//! `shaders/rasterize.wgsl`) with the standard 3DGS semantics, and its CPU reference.
//!
//! A frame: project every splat → stable radix sort by depth → tile counts in depth order →
//! scan → emit (tile, splat) pairs → stable radix sort on the tile id's bits (depth order survives
//! inside each tile) → tile ranges → per-tile blending, in one submission: the tile sort and the
//! tile ranges take the intersection count from the GPU, within lists sized from counts read back
//! in the background (the first frame reads it first).

mod blit;
mod camera;
mod cpu;
mod orbit;
mod procedural;
mod project;
mod rasterize;
mod renderer;
mod sparse;
mod start_view;
#[cfg(test)]
mod tests;

pub use blit::{blit_cpu, blit_pixel_cpu, BlitKernel, BlitParams};
pub use camera::{percentile_box, Camera, TILE_SIZE};
pub use cpu::{
    eval_sh, project_splat, render_cpu, render_cpu_f64, ProjectedCpu, RenderedImage,
    RenderedImage64,
};
pub use orbit::{framing_forward, OrbitCamera, VIEWER_BACKGROUND, VIEWER_FOV_Y};
pub use procedural::procedural_scene;
pub use project::ProjectKernel;
pub use rasterize::RasterizeKernel;
pub use renderer::{FrameBuffers, FrameStats, GpuScene, Renderer, StageTimes};
pub use sparse::{sparse_scene, CameraMarker, PointCloud, SparseScene, SPLATS_PER_CAMERA};
pub use start_view::start_view;

/// Near plane of the reference implementation: splats closer than this are culled.
pub const NEAR_PLANE: f32 = 0.2;

/// Host mirror of `RenderParams` in `splat_types.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct RenderParams {
    pub view: [[f32; 4]; 4],
    pub cam_pos: [f32; 4],
    pub focal: [f32; 2],
    pub principal: [f32; 2],
    pub image_size: [u32; 2],
    pub tiles: [u32; 2],
    pub num_splats: u32,
    pub sh_degree: u32,
    pub near: f32,
    pub num_intersections: u32,
    pub background: [f32; 4],
    pub sh_floats: u32,
    pub _pad0: u32,
    pub _pad1: u32,
    pub _pad2: u32,
}

/// Host mirror of `Projected` in `splat_types.wgsl` (64 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct ProjectedSplat {
    pub xy: [f32; 2],
    pub depth: f32,
    pub opacity: f32,
    pub conic: [f32; 3],
    pub radius: f32,
    pub color: [f32; 4],
    pub rect: [u32; 4],
}

/// Builds a bind group for `group` of a pipeline with a derived layout from `(binding, buffer)`.
pub(crate) fn bind(
    device: &wgpu::Device,
    pipeline: &wgpu::ComputePipeline,
    group: u32,
    entries: &[(u32, &wgpu::Buffer)],
) -> wgpu::BindGroup {
    crate::gpu::bind_derived(device, "render", pipeline, group, entries)
}
