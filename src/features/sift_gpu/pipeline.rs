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
