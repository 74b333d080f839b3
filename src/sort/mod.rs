//! Stable key-value radix sort (u32 keys, u32 values) on the GPU — kernel `shaders/sort.wgsl`.
//!
//! Sorts on the low `bits` bits of the key (4 bits per pass), as depth and tile-id sorts need.
//! [`SortPlan`] owns the temporaries for one pair of buffers so it can run every frame without
//! allocating. The result always ends up back in the caller's buffers.

mod cpu;
#[cfg(test)]
mod tests;

pub use cpu::sort_pairs_cpu;

use std::sync::{Arc, Mutex};

use bytemuck::Zeroable;

use crate::gpu::{
    dispatch_size, read_buffer, record, storage_buffer, storage_buffer_init, uniform_buffer,
    GpuContext, GpuError, Kernel, WorkgroupGrid, READ, READ_WRITE, UNIFORM,
};
use crate::scan::{ScanKernel, ScanPlan};

const SOURCE: &str = include_str!("../../shaders/sort.wgsl");

/// Keys ranked by one workgroup scan (must match `CHUNK` in `sort.wgsl`).
pub const SORT_CHUNK: u32 = 1024;
/// Most chunks one workgroup handles.
pub const MAX_CHUNKS_PER_BLOCK: u32 = 8;
/// Key bits consumed per pass (16 bins).
pub const BITS_PER_PASS: u32 = 4;

/// Host mirror of `SortParams` in `sort.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct SortParams {
    pub n: u32,
    pub shift: u32,
    pub mask: u32,
    pub num_blocks: u32,
    pub chunks_per_block: u32,
    pub _pad: [u32; 3],
}

/// Chunks per workgroup for `n` keys. Measured on an H100 (bench/results/sort.json, sweep in the
/// issue note): one chunk per workgroup won at 1M, 4M and 16M keys — more workgroups in flight
/// beat a smaller digit table to scan — so larger blocks stay available for tuning only.
pub fn default_chunks_per_block(_n: u32) -> u32 {
    1
}

/// Owns the sort kernel's bind-group layout and pipelines (and the scan it builds on).
pub struct RadixSort {
    kernel: Kernel,
    count: Arc<wgpu::ComputePipeline>,
    scatter: Arc<wgpu::ComputePipeline>,
    scan: ScanKernel,
}

impl RadixSort {
    pub fn new(ctx: &GpuContext) -> Self {
        let (kernel, [count, scatter]) = Kernel::new(
            ctx,
            "sort",
            SOURCE,
            &[
                UNIFORM, READ, READ, READ_WRITE, READ_WRITE, READ_WRITE, READ,
            ],
            ["count", "scatter"],
        );
        Self {
            kernel,
            count,
            scatter,
            scan: ScanKernel::new(ctx),
        }
    }

    /// Plans a stable sort of the first `n` pairs in (`keys`, `values`) on the low `bits` key
    /// bits (0..=32; 0 leaves the order unchanged).
    pub fn plan(
        &self,
        ctx: &GpuContext,
        keys: &wgpu::Buffer,
        values: &wgpu::Buffer,
        n: u32,
        bits: u32,
    ) -> Result<SortPlan, GpuError> {
        self.plan_with_blocks(ctx, keys, values, n, bits, default_chunks_per_block(n))
    }

    /// As [`RadixSort::plan`], with an explicit block size of `chunks_per_block` × 1024 keys
    /// (1..=8), for tuning and tests.
    pub fn plan_with_blocks(
        &self,
        ctx: &GpuContext,
        keys: &wgpu::Buffer,
        values: &wgpu::Buffer,
        n: u32,
        bits: u32,
        chunks_per_block: u32,
    ) -> Result<SortPlan, GpuError> {
        if !(1..=MAX_CHUNKS_PER_BLOCK).contains(&chunks_per_block) {
            return Err(GpuError::TooLarge(format!(
                "{chunks_per_block} chunks per block (1..={MAX_CHUNKS_PER_BLOCK})"
            )));
        }
        if bits > 32 {
            return Err(GpuError::TooLarge(format!("{bits} key bits (at most 32)")));
        }
        let limit = ctx.device.limits().max_storage_buffer_binding_size;
        if n as u64 * 4 > limit {
            return Err(GpuError::TooLarge(format!(
                "{n} keys exceed the storage binding limit of {limit} bytes"
            )));
        }
        let num_blocks = n.div_ceil(SORT_CHUNK * chunks_per_block);
        let passes = bits.div_ceil(BITS_PER_PASS);
        let tmp_keys = storage_buffer(ctx, "sort tmp keys", n as u64 * 4);
        let tmp_values = storage_buffer(ctx, "sort tmp values", n as u64 * 4);
        let counts = storage_buffer(ctx, "sort digit counts", num_blocks as u64 * 16 * 4);
        let scan = self.scan.plan(ctx, &counts, num_blocks * 16);
        let len_limit = storage_buffer_init(ctx, "sort length limit", &[u32::MAX]);
        let mut pass_params = Vec::new();
        let bind_groups = (0..passes)
            .map(|p| {
                let params = uniform_buffer(ctx, "sort params", &SortParams::zeroed());
                let (src_k, src_v, dst_k, dst_v) = if p % 2 == 0 {
                    (keys, values, &tmp_keys, &tmp_values)
                } else {
                    (&tmp_keys, &tmp_values, keys, values)
                };
                let bg = self.kernel.bind(
                    ctx,
                    &[&params, src_k, src_v, dst_k, dst_v, &counts, &len_limit],
                );
                pass_params.push(params);
                bg
            })
            .collect();
        let plan = SortPlan {
            count: self.count.clone(),
            scatter: self.scatter.clone(),
            state: Mutex::new(PlanState {
                len: 0,
                grid: WorkgroupGrid { x: 0, y: 0 },
            }),
            bits,
            capacity: n,
            chunks_per_block,
            max_dim: ctx.device.limits().max_compute_workgroups_per_dimension,
            bind_groups,
            pass_params,
            scan,
            copy_back: (passes % 2 == 1).then(|| CopyBack {
                keys: (tmp_keys.clone(), keys.clone()),
                values: (tmp_values.clone(), values.clone()),
            }),
            len_limit,
            _buffers: [tmp_keys, tmp_values, counts],
        };
        plan.set_len(&ctx.queue, n);
        Ok(plan)
    }
}

struct CopyBack {
    keys: (wgpu::Buffer, wgpu::Buffer),
    values: (wgpu::Buffer, wgpu::Buffer),
}

struct PlanState {
    len: u32,
    grid: WorkgroupGrid,
}

/// A planned sort of one pair of buffers; record it as often as needed.
pub struct SortPlan {
    count: Arc<wgpu::ComputePipeline>,
    scatter: Arc<wgpu::ComputePipeline>,
    state: Mutex<PlanState>,
    bits: u32,
    capacity: u32,
    chunks_per_block: u32,
    max_dim: u32,
    bind_groups: Vec<wgpu::BindGroup>,
    pass_params: Vec<wgpu::Buffer>,
    scan: ScanPlan,
    copy_back: Option<CopyBack>,
    /// The GPU-side bound on the sorted length (`u32::MAX` unless [`SortPlan::encode_counted`]
    /// copied a count in).
    len_limit: wgpu::Buffer,
    _buffers: [wgpu::Buffer; 3],
}

impl SortPlan {
    /// Number of 4-bit passes this plan runs.
    pub fn passes(&self) -> usize {
        self.bind_groups.len()
    }

    /// Most pairs this plan can sort.
    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    /// Sets how many pairs the next submission sorts (clamped to the capacity), e.g. this
    /// frame's tile intersections. The parameters reach the GPU with the next `queue.submit`.
    pub fn set_len(&self, queue: &wgpu::Queue, n: u32) {
        let n = n.min(self.capacity);
        let num_blocks = n.div_ceil(SORT_CHUNK * self.chunks_per_block);
        for (p, buffer) in self.pass_params.iter().enumerate() {
            let shift = p as u32 * BITS_PER_PASS;
            let width = (self.bits - shift).min(BITS_PER_PASS);
            let params = SortParams {
                n,
                shift,
                mask: (1u32 << width) - 1,
                num_blocks,
                chunks_per_block: self.chunks_per_block,
                _pad: [0; 3],
            };
            queue.write_buffer(buffer, 0, bytemuck::bytes_of(&params));
        }
        queue.write_buffer(&self.len_limit, 0, bytemuck::bytes_of(&u32::MAX));
        self.scan.set_len(queue, num_blocks * 16);
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.len = n;
        state.grid = dispatch_size(num_blocks, self.max_dim);
    }

    /// Records a sort of as many pairs as the first u32 of `count` says (clamped to the capacity),
    /// a value an earlier kernel of the same submission wrote: nothing waits for the CPU. The
    /// dispatch covers the capacity; blocks past the count return at once. Pairs past the count
    /// are left unspecified (an odd pass count copies the whole capacity back).
    pub fn encode_counted(
        &self,
        queue: &wgpu::Queue,
        encoder: &mut wgpu::CommandEncoder,
        count: &wgpu::Buffer,
        timestamp_writes: Option<wgpu::ComputePassTimestampWrites<'_>>,
    ) {
        let len = self.state.lock().unwrap_or_else(|p| p.into_inner()).len;
        if len != self.capacity {
            self.set_len(queue, self.capacity);
        }
        encoder.copy_buffer_to_buffer(count, 0, &self.len_limit, 0, 4);
        self.encode(encoder, timestamp_writes);
    }

    /// Records the sort: one compute pass (with optional timestamps at its start and end), then a
    /// copy back into the caller's buffers when the pass count is odd.
    pub fn encode(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        timestamp_writes: Option<wgpu::ComputePassTimestampWrites<'_>>,
    ) {
        let (len, grid) = {
            let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            (state.len, state.grid)
        };
        // One element (or none) is already sorted; still open the pass for its timestamps.
        let active = len > 1 && !grid.is_empty();
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("radix sort"),
                timestamp_writes,
            });
            if active {
                for bind_group in &self.bind_groups {
                    record(&mut pass, &self.count, bind_group, grid);
                    self.scan.record(&mut pass);
                    record(&mut pass, &self.scatter, bind_group, grid);
                }
            }
        }
        if let (true, Some(c)) = (active, &self.copy_back) {
            let bytes = len as u64 * 4;
            encoder.copy_buffer_to_buffer(&c.keys.0, 0, &c.keys.1, 0, bytes);
            encoder.copy_buffer_to_buffer(&c.values.0, 0, &c.values.1, 0, bytes);
        }
    }
}

/// Sorts (`keys`, `values`) on the GPU by the low `bits` key bits, stably, and returns both.
/// A convenience for tests and tools; hot paths keep a [`SortPlan`].
pub async fn sort_pairs(
    ctx: &GpuContext,
    keys: &[u32],
    values: &[u32],
    bits: u32,
) -> Result<(Vec<u32>, Vec<u32>), GpuError> {
    let chunks = u32::try_from(keys.len()).map_or(MAX_CHUNKS_PER_BLOCK, default_chunks_per_block);
    sort_pairs_with_blocks(ctx, keys, values, bits, chunks).await
}

/// As [`sort_pairs`], with an explicit block size (see [`RadixSort::plan_with_blocks`]).
pub async fn sort_pairs_with_blocks(
    ctx: &GpuContext,
    keys: &[u32],
    values: &[u32],
    bits: u32,
    chunks_per_block: u32,
) -> Result<(Vec<u32>, Vec<u32>), GpuError> {
    if keys.len() != values.len() {
        return Err(GpuError::TooLarge(format!(
            "{} keys but {} values",
            keys.len(),
            values.len()
        )));
    }
    let n = u32::try_from(keys.len())
        .map_err(|_| GpuError::TooLarge(format!("{} keys", keys.len())))?;
    let sorter = RadixSort::new(ctx);
    let key_buf = storage_buffer_init(ctx, "sort keys", keys);
    let value_buf = storage_buffer_init(ctx, "sort values", values);
    let plan = sorter.plan_with_blocks(ctx, &key_buf, &value_buf, n, bits, chunks_per_block)?;
    let mut encoder = ctx
        .device
        .create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("sort"),
        });
    plan.encode(&mut encoder, None);
    ctx.queue.submit([encoder.finish()]);
    let k = read_buffer(ctx, &key_buf, keys.len()).await?;
    let v = read_buffer(ctx, &value_buf, values.len()).await?;
    Ok((k, v))
}
