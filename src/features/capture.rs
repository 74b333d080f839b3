//! Capture-quality signals for the PWA's capture screen: is this photo sharp, does it have
//! texture, does it overlap the previous one?

use super::sift::SiftParams;
use super::{match_descriptors, Descriptors, MatchOptions, SharpnessKernel, SiftGpu};
use crate::gpu::{GpuContext, GpuError};

/// What the capture screen shows for one frame.
#[derive(Debug, Clone)]
pub struct CaptureQuality {
    /// Variance of the Laplacian of the gray image (higher is sharper; compare within a capture).
    pub sharpness: f32,
    /// SIFT features found.
    pub feature_count: usize,
    /// Mutual, ratio-tested matches with the previous photo (`None` for the first photo).
    pub matches_to_previous: Option<usize>,
    /// This frame's descriptors, to pass as `previous` for the next one.
    pub descriptors: Descriptors,
}

/// The GPU kernels the signals need, compiled once per capture session.
pub struct CaptureAnalyzer {
    sharpness: SharpnessKernel,
    sift: SiftGpu,
    params: SiftParams,
}

impl CaptureAnalyzer {
    /// At most `max_features` features per frame (a few thousand keeps phones responsive).
    pub fn new(ctx: &GpuContext, max_features: u32) -> Self {
        Self {
            sharpness: SharpnessKernel::new(ctx),
            sift: SiftGpu::new(ctx),
            params: Self::sift_params(max_features),
        }
    }

    /// The SIFT settings of the check: plain SIFT (no upsampling) with a feature cap, on frames
    /// the capture page has downscaled to [`crate::images::DEFAULT_MAX_SIDE`].
    pub fn sift_params(max_features: u32) -> SiftParams {
        SiftParams {
            max_features: Some(max_features),
            ..SiftParams::default()
        }
    }

    /// Only the sharpness signal (the blur check), e.g. to pick the sharpest of several video
    /// frames with the same kernel the photo check uses.
    pub async fn sharpness(
        &self,
        ctx: &GpuContext,
        gray: &[f32],
        w: u32,
        h: u32,
    ) -> Result<f32, GpuError> {
        self.sharpness.variance_of_laplacian(ctx, gray, w, h).await
    }

    /// All three signals for a `w × h` gray frame (values in 0..1, e.g.
    /// `images::decode_image(..).gray`), on the GPU.
    pub async fn analyze(
        &self,
        ctx: &GpuContext,
        gray: &[f32],
        w: u32,
        h: u32,
        previous: Option<&Descriptors>,
    ) -> Result<CaptureQuality, GpuError> {
        let sharpness = self
            .sharpness
            .variance_of_laplacian(ctx, gray, w, h)
            .await?;
        let (keypoints, descriptors) = self
            .sift
            .detect_and_describe(ctx, gray, w, h, &self.params)
            .await?;
        let matches_to_previous = match previous {
            Some(prev) => Some(
                match_descriptors(ctx, &descriptors, prev, &MatchOptions::default())
                    .await?
                    .len(),
            ),
            None => None,
        };
        Ok(CaptureQuality {
            sharpness,
            feature_count: keypoints.len(),
            matches_to_previous,
            descriptors,
        })
    }
}
