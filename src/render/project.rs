//! Host of `shaders/project.wgsl`: projection, depth keys, tile counts and intersection emit.

use std::sync::Arc;

use crate::gpu::{compute_pipeline, GpuContext};

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
        let p = |key, entry| {
            ctx.pipeline(key, |d| {
                compute_pipeline(d, "project.wgsl", SOURCE, None, entry)
            })
        };
        Self {
            project: p("project.project", "project"),
            gather_counts: p("project.gather_counts", "gather_counts"),
            write_total: p("project.write_total", "write_total"),
            emit: p("project.emit", "emit"),
        }
    }
}
