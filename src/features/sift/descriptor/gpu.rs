//! Host of `shaders/sift_describe.wgsl`: SIFT descriptors on the GPU, equal to
//! [`describe_keypoints_cpu`](crate::features::sift::describe_keypoints_cpu) and
//! [`Descriptors::quantize`].

use std::f32::consts::TAU;

use crate::features::sift::gpu_frames::{dispatch_per_image, group_by_image};
use crate::features::sift::{Keypoint, SiftParams, DESCR_HIST_BINS, DESCR_MAG_THR};
use crate::features::GpuScaleSpace;
use crate::features::{Descriptors, DESCRIPTOR_BYTES, DESCRIPTOR_WORDS};
use crate::gpu::{
    read_buffer, storage_buffer, GpuContext, GpuError, SingleEntryKernel, READ, READ_WRITE, UNIFORM,
};

const SOURCE: &str = include_str!("../../../../shaders/sift_describe.wgsl");

/// Host mirror of `DescribeParams` in `sift_describe.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, bytemuck::Pod, bytemuck::Zeroable)]
pub struct DescribeParams {
    pub width: u32,
    pub height: u32,
    pub first: u32,
    pub count: u32,
    pub tau: f32,
    pub bins_per_rad: f32,
    pub sqrt2: f32,
    pub mag_thr: f32,
    pub epsilon: f32,
    pub root_sift: u32,
    pub _pad0: u32,
    pub _pad1: u32,
}

/// Owns the descriptor pipeline and its bind-group layout.
pub struct DescribeKernel {
    kernel: SingleEntryKernel,
}

impl DescribeKernel {
    pub fn new(ctx: &GpuContext) -> Self {
        let bindings = &[UNIFORM, READ, READ, READ_WRITE, READ_WRITE];
        let kernel = SingleEntryKernel::new(ctx, "sift_describe", SOURCE, bindings, "describe");
        Self { kernel }
    }

    /// Descriptor `i` of keypoint `i` (with orientation): the unit-norm floats (read back only
    /// `with_floats`) and the same quantised as [`Descriptors::quantize`] does.
    pub async fn describe(
        &self,
        ctx: &GpuContext,
        space: &GpuScaleSpace,
        keypoints: &[Keypoint],
        params: &SiftParams,
        with_floats: bool,
    ) -> Result<(Option<Vec<[f32; DESCRIPTOR_BYTES]>>, Descriptors), GpuError> {
        if keypoints.is_empty() {
            return Ok((with_floats.then(Vec::new), Descriptors::default()));
        }
        let n = keypoints.len();
        let grouped = group_by_image(keypoints, params);
        let floats = storage_buffer(
            ctx,
            "sift_describe floats",
            (n * DESCRIPTOR_BYTES * 4) as u64,
        );
        let words = storage_buffer(
            ctx,
            "sift_describe words",
            (n * DESCRIPTOR_WORDS * 4) as u64,
        );
        dispatch_per_image(
            ctx,
            &self.kernel,
            "sift_describe",
            space,
            &grouped,
            &[&floats, &words],
            |oct, g| DescribeParams {
                width: oct.width,
                height: oct.height,
                first: g.first,
                count: g.count,
                tau: TAU,
                bins_per_rad: DESCR_HIST_BINS as f32 / TAU,
                sqrt2: std::f32::consts::SQRT_2,
                mag_thr: DESCR_MAG_THR,
                epsilon: f32::EPSILON,
                root_sift: params.root_sift as u32,
                _pad0: 0,
                _pad1: 0,
            },
        )?;
        let w: Vec<u32> = read_buffer(ctx, &words, n * DESCRIPTOR_WORDS).await?;
        let mut out_b = vec![[0u8; DESCRIPTOR_BYTES]; n];
        let out_f = if with_floats {
            let f: Vec<f32> = read_buffer(ctx, &floats, n * DESCRIPTOR_BYTES).await?;
            let mut out_f = vec![[0.0f32; DESCRIPTOR_BYTES]; n];
            for (j, &i) in grouped.order.iter().enumerate() {
                out_f[i].copy_from_slice(&f[j * DESCRIPTOR_BYTES..(j + 1) * DESCRIPTOR_BYTES]);
            }
            Some(out_f)
        } else {
            None
        };
        for (j, &i) in grouped.order.iter().enumerate() {
            for (chunk, word) in out_b[i]
                .chunks_exact_mut(4)
                .zip(&w[j * DESCRIPTOR_WORDS..(j + 1) * DESCRIPTOR_WORDS])
            {
                chunk.copy_from_slice(&word.to_le_bytes());
            }
        }
        Ok((out_f, Descriptors::from_bytes(&out_b)))
    }
}
