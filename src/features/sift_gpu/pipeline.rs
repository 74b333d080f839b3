//! [`SiftGpu`]: the whole SIFT pipeline on the GPU (pyramid, extrema, refinement, orientation,
//! the `max_features` cap on the host, descriptors), as
//! [`detect_and_describe_cpu`](crate::features::sift::detect_and_describe_cpu).

use super::{DescribeKernel, OrientKernel, RefineKernel, StackedScaleSpace};
use crate::features::sift::{retain_strongest, Keypoint, SiftParams};
use crate::features::{Descriptors, ExtremaKernel, PyramidKernel, DESCRIPTOR_BYTES};
use crate::gpu::{GpuContext, GpuError};

/// Every SIFT kernel, compiled once.
pub struct SiftGpu {
    pyramid: PyramidKernel,
    extrema: ExtremaKernel,
    refine: RefineKernel,
    orient: OrientKernel,
    describe: DescribeKernel,
}

impl SiftGpu {
    pub fn new(ctx: &GpuContext) -> Self {
        Self {
            pyramid: PyramidKernel::new(ctx),
            extrema: ExtremaKernel::new(ctx),
            refine: RefineKernel::new(ctx),
            orient: OrientKernel::new(ctx),
            describe: DescribeKernel::new(ctx),
        }
    }

    /// Keypoints and quantised descriptors of a `w × h` gray image (values in 0..1); keypoint
    /// `i` has descriptor `i`, ordered as `detect_and_describe_cpu` orders them.
    pub async fn detect_and_describe(
        &self,
        ctx: &GpuContext,
        gray: &[f32],
        w: u32,
        h: u32,
        params: &SiftParams,
    ) -> Result<(Vec<Keypoint>, Descriptors), GpuError> {
        let (keypoints, _, descriptors) = self
            .detect_and_describe_float(ctx, gray, w, h, params)
            .await?;
        Ok((keypoints, descriptors))
    }

    /// [`Self::detect_and_describe`] with the float (unit-norm) descriptors too.
    pub async fn detect_and_describe_float(
        &self,
        ctx: &GpuContext,
        gray: &[f32],
        w: u32,
        h: u32,
        params: &SiftParams,
    ) -> Result<(Vec<Keypoint>, Vec<[f32; DESCRIPTOR_BYTES]>, Descriptors), GpuError> {
        check_stack_fits(ctx, w, h, params)?;
        let space = self.pyramid.build(ctx, gray, w, h, params)?;
        let extrema = self.extrema.find(ctx, &space, params).await?;
        let stacked = StackedScaleSpace::new(ctx, &space);
        drop(space);
        let located = self
            .refine
            .localize(ctx, &stacked, &extrema, params)
            .await?;
        let mut keypoints = self.orient.assign(ctx, &stacked, &located, params).await?;
        if let Some(max) = params.max_features {
            retain_strongest(&mut keypoints, max as usize);
        }
        let (floats, descriptors) = self
            .describe
            .describe(ctx, &stacked, &keypoints, params)
            .await?;
        Ok((keypoints, floats, descriptors))
    }
}

/// The orientation and descriptor kernels bind all Gaussian images of an octave as one buffer;
/// refuse up front (instead of a validation error later) when octave 0's stack exceeds the
/// device's storage-binding limit: 128 MiB in the WebGPU baseline, i.e. about 1600 × 1200
/// pixels with the doubled first octave, or 3200 × 2400 without it.
fn check_stack_fits(ctx: &GpuContext, w: u32, h: u32, params: &SiftParams) -> Result<(), GpuError> {
    let factor = if params.upsample { 2 } else { 1 };
    let levels = params.scales_per_octave as u64 + 3;
    let need = (w as u64 * factor) * (h as u64 * factor) * levels * 4;
    let limit = ctx.summary().limits.max_storage_buffer_binding_size;
    if need > limit {
        return Err(GpuError::TooLarge(format!(
            "a {w}x{h} image{} needs a {need}-byte scale-space stack, over this device's \
             {limit}-byte storage binding limit; use a smaller max side{}",
            if params.upsample {
                " with the doubled first octave"
            } else {
                ""
            },
            if params.upsample {
                " or no upsampling"
            } else {
                ""
            },
        )));
    }
    Ok(())
}
