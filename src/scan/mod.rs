//! Exclusive prefix sum (u32, wrapping) on the GPU — kernel `shaders/scan.wgsl`.
//!
//! Used by the radix sort (digit offsets), and later by the rasterizer (tile ranges) and the
//! matcher (compaction). [`ScanPlan`] owns the per-level temporaries and bind groups for one
//! buffer, so it can be recorded into a compute pass many times without allocating.

mod cpu;
#[cfg(test)]
mod tests;

pub use cpu::exclusive_scan_cpu;

use std::sync::{Arc, Mutex};

use bytemuck::Zeroable;

use crate::gpu::{
    dispatch_size, read_buffer, record, storage_buffer, storage_buffer_init, uniform_buffer,
    GpuContext, GpuError, Kernel, WorkgroupGrid, READ_WRITE, UNIFORM,
};

const SOURCE: &str = include_str!("../../shaders/scan.wgsl");

/// Elements scanned by one workgroup (must match `BLOCK` in `scan.wgsl`).
pub const SCAN_BLOCK: u32 = 1024;

/// Host mirror of `ScanParams` in `scan.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct ScanParams {
    pub n: u32,
    pub num_blocks: u32,
    pub _pad0: u32,
    pub _pad1: u32,
}

/// Owns the scan kernel's bind-group layout and pipelines.
pub struct ScanKernel {
    kernel: Kernel,
    scan_blocks: Arc<wgpu::ComputePipeline>,
    add_offsets: Arc<wgpu::ComputePipeline>,
}

impl ScanKernel {
    pub fn new(ctx: &GpuContext) -> Self {
        let (kernel, [scan_blocks, add_offsets]) = Kernel::new(
            ctx,
            "scan",
            SOURCE,
            &[UNIFORM, READ_WRITE, READ_WRITE],
            ["scan_blocks", "add_offsets"],
        );
        Self {
            kernel,
            scan_blocks,
            add_offsets,
        }
    }

    /// Plans an in-place exclusive scan of the first `n` u32 values of `data`.
    ///
    /// `n` is also the plan's capacity: [`ScanPlan::set_len`] may shrink and regrow the scanned
    /// length up to it without reallocating.
    pub fn plan(&self, ctx: &GpuContext, data: &wgpu::Buffer, n: u32) -> ScanPlan {
        let mut levels = Vec::new();
        let mut count = n;
        loop {
            let num_blocks = count.div_ceil(SCAN_BLOCK);
            if num_blocks == 0 {
                break;
            }
            let sums = storage_buffer(ctx, "scan block sums", num_blocks as u64 * 4);
            let target = levels.last().map_or(data, |l: &ScanLevel| &l.sums);
            let params = uniform_buffer(ctx, "scan params", &ScanParams::zeroed());
            let bind_group = self.kernel.bind(ctx, &[&params, target, &sums]);
            levels.push(ScanLevel {
                bind_group,
                params,
                sums,
            });
            if num_blocks == 1 {
                break;
            }
            count = num_blocks;
        }
        let plan = ScanPlan {
            scan_blocks: self.scan_blocks.clone(),
            add_offsets: self.add_offsets.clone(),
            grids: Mutex::new(vec![WorkgroupGrid { x: 0, y: 0 }; levels.len()]),
            levels,
            capacity: n,
            max_dim: ctx.device.limits().max_compute_workgroups_per_dimension,
        };
        plan.set_len(&ctx.queue, n);
        plan
    }
}

struct ScanLevel {
    bind_group: wgpu::BindGroup,
    params: wgpu::Buffer,
    sums: wgpu::Buffer,
}

/// A recorded-once, run-many exclusive scan of one buffer.
pub struct ScanPlan {
    scan_blocks: Arc<wgpu::ComputePipeline>,
    add_offsets: Arc<wgpu::ComputePipeline>,
    levels: Vec<ScanLevel>,
    grids: Mutex<Vec<WorkgroupGrid>>,
    capacity: u32,
    max_dim: u32,
}

impl ScanPlan {
    /// Most elements this plan can scan.
    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    /// Sets how many elements the next submission scans (clamped to the capacity). The new
    /// parameters reach the GPU with the next `queue.submit`, so record one length per submission.
    pub fn set_len(&self, queue: &wgpu::Queue, n: u32) {
        let mut count = n.min(self.capacity);
        let mut grids = self.grids.lock().unwrap_or_else(|p| p.into_inner());
        for (level, grid) in self.levels.iter().zip(grids.iter_mut()) {
            let num_blocks = count.div_ceil(SCAN_BLOCK);
            let params = ScanParams {
                n: count,
                num_blocks,
                _pad0: 0,
                _pad1: 0,
            };
            queue.write_buffer(&level.params, 0, bytemuck::bytes_of(&params));
            *grid = dispatch_size(num_blocks, self.max_dim);
            count = num_blocks;
        }
    }

    /// Records the scan into `pass`. Dispatches in one pass are ordered, so later dispatches in
    /// the same pass see the result.
    pub fn record(&self, pass: &mut wgpu::ComputePass<'_>) {
        let grids = self.grids.lock().unwrap_or_else(|p| p.into_inner());
        for (level, grid) in self.levels.iter().zip(grids.iter()) {
            if !grid.is_empty() {
                record(pass, &self.scan_blocks, &level.bind_group, *grid);
            }
        }
        // The top level holds a single block: its result is final. Push offsets down.
        for (level, grid) in self.levels.iter().zip(grids.iter()).rev().skip(1) {
            if !grid.is_empty() {
                record(pass, &self.add_offsets, &level.bind_group, *grid);
            }
        }
    }
}

/// Exclusive scan of `values` on the GPU, returned to the CPU. A convenience for tests, tools and
/// one-off use; hot paths keep a [`ScanPlan`].
pub async fn exclusive_scan(ctx: &GpuContext, values: &[u32]) -> Result<Vec<u32>, GpuError> {
    let n = u32::try_from(values.len())
        .map_err(|_| GpuError::TooLarge(format!("{} elements", values.len())))?;
    let kernel = ScanKernel::new(ctx);
    let buffer = storage_buffer_init(ctx, "scan data", values);
    let plan = kernel.plan(ctx, &buffer, n);
    ctx.submit_pass("scan", |pass| {
        plan.record(pass);
    });
    read_buffer(ctx, &buffer, values.len()).await
}
