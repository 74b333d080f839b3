//! Host of `shaders/sift_orient.wgsl`: keypoint orientations on the GPU, equal to
//! [`assign_orientations_cpu`](crate::features::sift::assign_orientations_cpu).

use std::f32::consts::TAU;

use crate::features::sift::gpu_frames::{dispatch_per_image, group_by_image};
use crate::features::sift::{Keypoint, SiftParams, ORI_BINS};
use crate::features::GpuScaleSpace;
use crate::gpu::{
    read_buffer, storage_buffer, GpuContext, GpuError, SingleEntryKernel, READ, READ_WRITE, UNIFORM,
};

const SOURCE: &str = include_str!("../../../../shaders/sift_orient.wgsl");

/// Most orientations one keypoint can get (strict local maxima of 36 circular bins).
pub const MAX_ORIENTATIONS: usize = ORI_BINS / 2;

/// Host mirror of `OrientParams` in `sift_orient.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, bytemuck::Pod, bytemuck::Zeroable)]
pub struct OrientParams {
    pub width: u32,
    pub height: u32,
    pub first: u32,
    pub count: u32,
    pub tau: f32,
    pub bins_per_rad: f32,
    pub rad_per_bin: f32,
    pub _pad0: u32,
}

/// Owns the orientation pipeline and its bind-group layout.
pub struct OrientKernel {
    kernel: SingleEntryKernel,
}

impl OrientKernel {
    pub fn new(ctx: &GpuContext) -> Self {
        let bindings = &[UNIFORM, READ, READ, READ_WRITE];
        let kernel = SingleEntryKernel::new(ctx, "sift_orient", SOURCE, bindings, "orient");
        Self { kernel }
    }

    /// The dominant orientations of each keypoint, in radians `[0, 2π)`, in bin order.
    pub async fn orientations(
        &self,
        ctx: &GpuContext,
        space: &GpuScaleSpace,
        keypoints: &[Keypoint],
        params: &SiftParams,
    ) -> Result<Vec<Vec<f32>>, GpuError> {
        if keypoints.is_empty() {
            return Ok(Vec::new());
        }
        let grouped = group_by_image(keypoints, params);
        let stride = MAX_ORIENTATIONS + 1;
        let output = storage_buffer(
            ctx,
            "sift_orient out",
            (keypoints.len() * stride * 4) as u64,
        );
        dispatch_per_image(
            ctx,
            &self.kernel,
            "sift_orient",
            space,
            &grouped,
            &[&output],
            |oct, g| OrientParams {
                width: oct.width,
                height: oct.height,
                first: g.first,
                count: g.count,
                tau: TAU,
                bins_per_rad: ORI_BINS as f32 / TAU,
                rad_per_bin: TAU / ORI_BINS as f32,
                _pad0: 0,
            },
        )?;
        let out: Vec<u32> = read_buffer(ctx, &output, keypoints.len() * stride).await?;
        let mut result = vec![Vec::new(); keypoints.len()];
        for (j, &i) in grouped.order.iter().enumerate() {
            let words = &out[j * stride..(j + 1) * stride];
            let n = (words[0] as usize).min(MAX_ORIENTATIONS);
            result[i] = words[1..=n].iter().map(|&b| f32::from_bits(b)).collect();
        }
        Ok(result)
    }

    /// One keypoint per dominant orientation of each input keypoint, in input order then bin
    /// order (as `assign_orientations_cpu`).
    pub async fn assign(
        &self,
        ctx: &GpuContext,
        space: &GpuScaleSpace,
        keypoints: &[Keypoint],
        params: &SiftParams,
    ) -> Result<Vec<Keypoint>, GpuError> {
        let angles = self.orientations(ctx, space, keypoints, params).await?;
        Ok(keypoints
            .iter()
            .zip(angles)
            .flat_map(|(kp, a)| {
                a.into_iter()
                    .map(move |orientation| Keypoint { orientation, ..*kp })
            })
            .collect())
    }
}
