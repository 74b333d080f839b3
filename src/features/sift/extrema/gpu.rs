//! Host of `shaders/extrema.wgsl`: DoG extrema on the GPU, equal to
//! [`find_extrema_cpu`](super::find_extrema_cpu) on the same scale space.

use crate::features::sift::GpuScaleSpace;
use crate::features::sift::{Extremum, SiftParams, IMG_BORDER};
use crate::gpu::{
    read_buffers, storage_buffer, uniform_buffer, GpuContext, GpuError, SingleEntryKernel,
    WorkgroupGrid, READ, READ_WRITE, UNIFORM,
};

const SOURCE: &str = include_str!("../../../../shaders/extrema.wgsl");

/// Host mirror of `ExtremaParams` in `extrema.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct ExtremaParams {
    pub width: u32,
    pub height: u32,
    pub border: u32,
    pub threshold: f32,
    pub octave: u32,
    pub scale: u32,
    pub capacity: u32,
    pub _pad: u32,
}

/// Owns the extrema pipeline and its bind-group layout.
pub struct ExtremaKernel {
    kernel: SingleEntryKernel,
}

impl ExtremaKernel {
    pub fn new(ctx: &GpuContext) -> Self {
        let bindings = &[UNIFORM, READ, READ, READ, READ_WRITE, READ_WRITE];
        let kernel = SingleEntryKernel::new(ctx, "extrema", SOURCE, bindings, "find_extrema");
        Self { kernel }
    }

    /// All DoG extrema of `space`, ordered by octave, scale, row, column (as the CPU reference).
    pub async fn find(
        &self,
        ctx: &GpuContext,
        space: &GpuScaleSpace,
        params: &SiftParams,
    ) -> Result<Vec<Extremum>, GpuError> {
        let mut capacity = 1u32 << 16;
        loop {
            let (hits, count) = self.run(ctx, space, params, capacity).await?;
            if count <= capacity {
                let mut out: Vec<Extremum> = hits[..count as usize]
                    .iter()
                    .map(|h| Extremum {
                        octave: h[2] >> 16,
                        scale: h[2] & 0xffff,
                        x: h[0],
                        y: h[1],
                        value: f32::from_bits(h[3]),
                    })
                    .collect();
                out.sort_by_key(|e| (e.octave, e.scale, e.y, e.x));
                return Ok(out);
            }
            capacity = count;
        }
    }

    async fn run(
        &self,
        ctx: &GpuContext,
        space: &GpuScaleSpace,
        params: &SiftParams,
        capacity: u32,
    ) -> Result<(Vec<[u32; 4]>, u32), GpuError> {
        let hits = storage_buffer(ctx, "extrema", capacity as u64 * 16);
        let count = storage_buffer(ctx, "extrema count", 4);
        let threshold = 0.5 * params.contrast_threshold / params.scales_per_octave as f32;
        let mut steps = Vec::new();
        for (o, oct) in space.octaves.iter().enumerate() {
            if oct.width <= 2 * IMG_BORDER || oct.height <= 2 * IMG_BORDER {
                continue;
            }
            for s in 1..=params.scales_per_octave as usize {
                let uniform = uniform_buffer(
                    ctx,
                    "extrema params",
                    &ExtremaParams {
                        width: oct.width,
                        height: oct.height,
                        border: IMG_BORDER,
                        threshold,
                        octave: o as u32,
                        scale: s as u32,
                        capacity,
                        _pad: 0,
                    },
                );
                let buffers = [
                    &uniform,
                    &oct.dogs[s - 1],
                    &oct.dogs[s],
                    &oct.dogs[s + 1],
                    &hits,
                    &count,
                ];
                let bind_group = self.kernel.bind(ctx, &buffers);
                // 16 x 16 pixels per workgroup.
                let grid = WorkgroupGrid {
                    x: oct.width.div_ceil(16),
                    y: oct.height.div_ceil(16),
                };
                steps.push((bind_group, grid));
            }
        }
        ctx.submit_pass("sift extrema", |pass| {
            for (bind_group, grid) in &steps {
                self.kernel.record(pass, bind_group, *grid);
            }
        });
        // The count and the whole capacity in one round trip (1 MiB at the first capacity),
        // rather than the count first and then exactly the hits.
        let parts = read_buffers(ctx, &[(&count, 4), (&hits, capacity as u64 * 16)]).await?;
        let n = parts[0]
            .get(..4)
            .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        let found = (n.min(capacity) as usize) * 16;
        let hits: Vec<[u32; 4]> = bytemuck::pod_collect_to_vec(&parts[1][..found]);
        Ok((hits, n))
    }
}
