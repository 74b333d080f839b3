//! Host of `shaders/project.wgsl`: projection, depth keys, tile counts and intersection emit.

use std::sync::Arc;

use crate::gpu::{derived_pipelines, GpuContext};

const SOURCE: &str = include_str!("../../shaders/project.wgsl");

/// The projection kernel's pipelines (layouts derived per entry point).
pub struct ProjectKernel {
    pub project: Arc<wgpu::ComputePipeline>,
    pub gather_counts: Arc<wgpu::ComputePipeline>,
    pub write_total: Arc<wgpu::ComputePipeline>,
    pub emit: Arc<wgpu::ComputePipeline>,
}

impl ProjectKernel {
    pub fn new(ctx: &GpuContext) -> Self {
        let [project, gather_counts, write_total, emit] = derived_pipelines(
            ctx,
            "project",
            SOURCE,
            ["project", "gather_counts", "write_total", "emit"],
        );
        Self {
            project,
            gather_counts,
            write_total,
            emit,
        }
    }
}
