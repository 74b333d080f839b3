//! Host of `shaders/sift_refine.wgsl`: Newton refinement, contrast and edge tests of DoG extrema
//! on the GPU, equal to [`refine_extremum_cpu`](crate::features::sift::refine_extremum_cpu) and
//! [`localize_keypoints_cpu`](crate::features::sift::localize_keypoints_cpu).

use crate::features::sift::{Extremum, Keypoint, SiftParams, IMG_BORDER, MAX_INTERP_STEPS};
use crate::features::GpuScaleSpace;
use crate::gpu::{
    read_buffer, storage_buffer, storage_buffer_init, uniform_buffer, GpuContext, GpuError,
    SingleEntryKernel, READ, READ_WRITE, UNIFORM,
};

const SOURCE: &str = include_str!("../../../../shaders/sift_refine.wgsl");

/// DoG slots of `sift_refine.wgsl`: `S + 2` images for `S` scales per octave, each bound on its
/// own so that no binding exceeds one image. Lowe, OpenCV and COLMAP all use `S = 3`.
const DOG_SLOTS: usize = 5;

/// Most scales per octave the GPU refinement (and so [`SiftGpu`](crate::features::sift::SiftGpu)) handles.
pub const MAX_GPU_SCALES_PER_OCTAVE: u32 = DOG_SLOTS as u32 - 2;

/// Host mirror of `RefineParams` in `sift_refine.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, bytemuck::Pod, bytemuck::Zeroable)]
pub struct RefineParams {
    pub width: u32,
    pub height: u32,
    pub border: u32,
    pub scales: u32,
    pub first: u32,
    pub count: u32,
    pub max_steps: u32,
    pub _pad0: u32,
    pub contrast_threshold: f32,
    pub edge_threshold: f32,
    pub sigma0: f32,
    pub octave_factor: f32,
}

/// Owns the refinement pipeline and its bind-group layout.
pub struct RefineKernel {
    kernel: SingleEntryKernel,
}

impl RefineKernel {
    pub fn new(ctx: &GpuContext) -> Self {
        let bindings = &[UNIFORM, READ, READ, READ, READ, READ, READ, READ_WRITE];
        let kernel = SingleEntryKernel::new(ctx, "sift_refine", SOURCE, bindings, "refine");
        Self { kernel }
    }

    /// Refines every extremum (e.g. from [`crate::features::ExtremaKernel::find`]), result `i`
    /// for extremum `i`: `None` where the CPU reference rejects, else the keypoint (orientation
    /// 0) and its final integer sample `(x, y, s)`.
    pub async fn refine(
        &self,
        ctx: &GpuContext,
        space: &GpuScaleSpace,
        extrema: &[Extremum],
        params: &SiftParams,
    ) -> Result<Vec<Option<(Keypoint, (u32, u32, u32))>>, GpuError> {
        if extrema.is_empty() {
            return Ok(Vec::new());
        }
        if params.scales_per_octave > MAX_GPU_SCALES_PER_OCTAVE {
            return Err(GpuError::Unsupported(format!(
                "{} scales per octave (the GPU refinement handles at most {MAX_GPU_SCALES_PER_OCTAVE})",
                params.scales_per_octave
            )));
        }
        // Grouped by octave for one dispatch per octave (stable: `find` already orders them).
        let mut order: Vec<usize> = (0..extrema.len()).collect();
        order.sort_by_key(|&i| extrema[i].octave);
        let sorted: Vec<Extremum> = order.iter().map(|&i| extrema[i]).collect();
        let extrema = &sorted[..];
        let raw: Vec<[u32; 4]> = extrema.iter().map(|e| [e.x, e.y, e.scale, 0]).collect();
        let input = storage_buffer_init(ctx, "sift_refine extrema", &raw);
        let output = storage_buffer(ctx, "sift_refine out", extrema.len() as u64 * 32);
        ctx.try_submit_pass("sift_refine", |pass| {
            let mut first = 0usize;
            while first < extrema.len() {
                let o = extrema[first].octave;
                let count = extrema[first..]
                    .iter()
                    .take_while(|e| e.octave == o)
                    .count();
                let oct = space.octaves.get(o as usize).ok_or_else(|| {
                    GpuError::Unsupported(format!("extremum octave {o} not in the scale space"))
                })?;
                let last = oct.dogs.last().ok_or_else(|| {
                    GpuError::Unsupported(format!("octave {o} has no DoG images"))
                })?;
                let dogs: [&wgpu::Buffer; DOG_SLOTS] =
                    std::array::from_fn(|s| oct.dogs.get(s).unwrap_or(last));
                let uniform = uniform_buffer(
                    ctx,
                    "sift_refine params",
                    &RefineParams {
                        width: oct.width,
                        height: oct.height,
                        border: IMG_BORDER,
                        scales: params.scales_per_octave,
                        first: first as u32,
                        count: count as u32,
                        max_steps: MAX_INTERP_STEPS,
                        _pad0: 0,
                        contrast_threshold: params.contrast_threshold,
                        edge_threshold: params.edge_threshold,
                        sigma0: params.sigma0,
                        octave_factor: params.octave_factor(o),
                    },
                );
                let bind_group = self.kernel.bind(
                    ctx,
                    &[
                        &uniform, &input, dogs[0], dogs[1], dogs[2], dogs[3], dogs[4], &output,
                    ],
                );
                let groups = (count as u32).div_ceil(64);
                self.kernel.dispatch(pass, &bind_group, groups);
                first += count;
            }
            Ok(())
        })?;
        let out: Vec<[u32; 8]> = read_buffer(ctx, &output, extrema.len()).await?;
        let mut result = vec![None; extrema.len()];
        for ((r, e), &i) in out.iter().zip(extrema).zip(&order) {
            result[i] = (r[4] != 0).then(|| {
                (
                    Keypoint {
                        x: f32::from_bits(r[0]),
                        y: f32::from_bits(r[1]),
                        sigma: f32::from_bits(r[2]),
                        orientation: 0.0,
                        response: f32::from_bits(r[3]),
                        octave: e.octave,
                        scale: r[7],
                    },
                    (r[5], r[6], r[7]),
                )
            });
        }
        Ok(result)
    }

    /// [`Self::refine`] then, as `localize_keypoints_cpu`, the kept keypoints in extremum order,
    /// each final sample (octave, scale, row, column) once.
    pub async fn localize(
        &self,
        ctx: &GpuContext,
        space: &GpuScaleSpace,
        extrema: &[Extremum],
        params: &SiftParams,
    ) -> Result<Vec<Keypoint>, GpuError> {
        let mut seen = std::collections::HashSet::new();
        Ok(self
            .refine(ctx, space, extrema, params)
            .await?
            .into_iter()
            .flatten()
            .filter(|(k, sample)| seen.insert((k.octave, *sample)))
            .map(|(k, _)| k)
            .collect())
    }
}
