//! The SIFT stages after the DoG extrema on the GPU: refinement (`shaders/sift_refine.wgsl`,
//! [`RefineKernel`]), orientation (`shaders/sift_orient.wgsl`, [`OrientKernel`]) and the
//! descriptor (`shaders/sift_describe.wgsl`, [`DescribeKernel`]), each equal to its CPU
//! reference in [`super::sift`] on the same scale space, and the whole pipeline ([`SiftGpu`]).

mod describe;
mod orient;
mod pipeline;
mod refine;

pub use describe::{DescribeKernel, DescribeParams};
pub use orient::{OrientKernel, OrientParams, MAX_ORIENTATIONS};
pub use pipeline::SiftGpu;
pub use refine::{RefineKernel, RefineParams};

use super::pyramid::GpuScaleSpace;
use super::sift::{Keypoint, SiftParams};
use crate::gpu::{storage_buffer, GpuContext};

/// One octave of a [`GpuScaleSpace`] with its images stacked in two buffers (the kernels after
/// the extrema index images by scale, and WebGPU binds at most 8 storage buffers).
pub struct StackedOctave {
    pub width: u32,
    pub height: u32,
    /// The `S+2` DoG images, one after the other.
    pub dogs: wgpu::Buffer,
    /// The `S+3` Gaussian images, one after the other.
    pub gaussians: wgpu::Buffer,
}

/// Every octave of a scale space, stacked (see [`StackedOctave`]).
pub struct StackedScaleSpace {
    pub octaves: Vec<StackedOctave>,
}

impl StackedScaleSpace {
    /// Copies the images of `space` into one DoG and one Gaussian buffer per octave (one
    /// submission, GPU-side copies).
    pub fn new(ctx: &GpuContext, space: &GpuScaleSpace) -> Self {
        let mut enc = ctx.device.create_command_encoder(&Default::default());
        let octaves = space
            .octaves
            .iter()
            .map(|o| {
                let bytes = o.width as u64 * o.height as u64 * 4;
                let mut stack = |images: &[wgpu::Buffer], label| {
                    let out = storage_buffer(ctx, label, bytes * images.len() as u64);
                    for (i, b) in images.iter().enumerate() {
                        enc.copy_buffer_to_buffer(b, 0, &out, i as u64 * bytes, bytes);
                    }
                    out
                };
                StackedOctave {
                    width: o.width,
                    height: o.height,
                    dogs: stack(&o.dogs, "stacked dogs"),
                    gaussians: stack(&o.gaussians, "stacked gaussians"),
                }
            })
            .collect();
        ctx.queue.submit([enc.finish()]);
        Self { octaves }
    }
}

/// Where a kernel samples a keypoint, as `Frame` in `sift_orient.wgsl` / `sift_describe.wgsl`:
/// position and sigma in octave pixels, orientation, and the Gaussian image index.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, bytemuck::Pod, bytemuck::Zeroable)]
pub struct GpuFrame {
    pub x: f32,
    pub y: f32,
    pub sigma: f32,
    pub angle: f32,
    pub layer: u32,
    pub _pad0: u32,
    pub _pad1: u32,
    pub _pad2: u32,
}

/// Keypoints grouped by octave for per-octave dispatches: the frames in octave order, and per
/// octave `(first, count)`; `order[j]` is the input index of frame `j`.
pub(crate) struct Grouped {
    pub frames: Vec<GpuFrame>,
    pub ranges: Vec<(u32, u32)>,
    pub order: Vec<usize>,
}

pub(crate) fn group_by_octave(
    keypoints: &[Keypoint],
    octaves: usize,
    params: &SiftParams,
) -> Grouped {
    let mut order: Vec<usize> = (0..keypoints.len()).collect();
    order.sort_by_key(|&i| keypoints[i].octave);
    let frames: Vec<GpuFrame> = order
        .iter()
        .map(|&i| {
            let kp = &keypoints[i];
            let (x, y, sigma) = kp.in_octave(params);
            GpuFrame {
                x,
                y,
                sigma,
                angle: kp.orientation,
                layer: kp.scale,
                ..Default::default()
            }
        })
        .collect();
    let mut ranges = vec![(0u32, 0u32); octaves];
    for (j, &i) in order.iter().enumerate() {
        let o = keypoints[i].octave as usize;
        if ranges[o].1 == 0 {
            ranges[o].0 = j as u32;
        }
        ranges[o].1 += 1;
    }
    Grouped {
        frames,
        ranges,
        order,
    }
}
