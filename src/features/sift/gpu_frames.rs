//! Keypoints grouped by the Gaussian image they sample ([`GpuFrame`], `group_by_image`), and
//! `dispatch_per_image`: how the orientation and descriptor kernels bind one image per dispatch.

use crate::features::sift::{GpuOctave, GpuScaleSpace, Keypoint, SiftParams};
use crate::gpu::{storage_buffer_init, uniform_buffer, GpuContext, GpuError, SingleEntryKernel};

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

/// Keypoints grouped by the Gaussian image they sample, for one dispatch per image: the frames
/// in (octave, scale) order, and per group `(octave, scale, first, count)`; `order[j]` is the
/// input index of frame `j`. Each dispatch binds one image, so no binding ever exceeds the size
/// of a single image (WebGPU's baseline allows 128 MiB per binding).
pub(crate) struct Grouped {
    pub frames: Vec<GpuFrame>,
    pub groups: Vec<ImageGroup>,
    pub order: Vec<usize>,
}

/// The frames `first..first + count` sample Gaussian image `scale` of `octave`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ImageGroup {
    pub octave: u32,
    pub scale: u32,
    pub first: u32,
    pub count: u32,
}

impl ImageGroup {
    /// The octave and Gaussian image this group samples, or which of them `space` lacks.
    pub fn image<'a>(
        &self,
        space: &'a GpuScaleSpace,
    ) -> Result<(&'a GpuOctave, &'a wgpu::Buffer), GpuError> {
        let oct = space.octaves.get(self.octave as usize).ok_or_else(|| {
            GpuError::Unsupported(format!(
                "keypoint octave {} not in the scale space",
                self.octave
            ))
        })?;
        let image = oct.gaussians.get(self.scale as usize).ok_or_else(|| {
            GpuError::Unsupported(format!(
                "keypoint scale {} not in octave {}",
                self.scale, self.octave
            ))
        })?;
        Ok((oct, image))
    }
}

pub(crate) fn group_by_image(keypoints: &[Keypoint], params: &SiftParams) -> Grouped {
    let mut order: Vec<usize> = (0..keypoints.len()).collect();
    order.sort_by_key(|&i| (keypoints[i].octave, keypoints[i].scale));
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
    let mut groups: Vec<ImageGroup> = Vec::new();
    for (j, &i) in order.iter().enumerate() {
        let (octave, scale) = (keypoints[i].octave, keypoints[i].scale);
        match groups.last_mut() {
            Some(g) if g.octave == octave && g.scale == scale => g.count += 1,
            _ => groups.push(ImageGroup {
                octave,
                scale,
                first: j as u32,
                count: 1,
            }),
        }
    }
    Grouped {
        frames,
        groups,
        order,
    }
}

/// Runs `kernel` once per image group of `grouped`, one workgroup per keypoint, and submits the
/// work. Each dispatch binds the group's uniform (`params` of the group's octave and group), the
/// frames, the group's Gaussian image, then `outputs`, in that order.
pub(crate) fn dispatch_per_image<P: bytemuck::Pod>(
    ctx: &GpuContext,
    kernel: &SingleEntryKernel,
    label: &str,
    space: &GpuScaleSpace,
    grouped: &Grouped,
    outputs: &[&wgpu::Buffer],
    params: impl Fn(&GpuOctave, &ImageGroup) -> P,
) -> Result<(), GpuError> {
    let frames = storage_buffer_init(ctx, &format!("{label} frames"), &grouped.frames);
    ctx.try_submit_pass(label, |pass| {
        for g in &grouped.groups {
            let (oct, image) = g.image(space)?;
            let uniform = uniform_buffer(ctx, &format!("{label} params"), &params(oct, g));
            let mut buffers = vec![&uniform, &frames, image];
            buffers.extend_from_slice(outputs);
            let bind_group = kernel.bind(ctx, &buffers);
            kernel.dispatch(pass, &bind_group, g.count);
        }
        Ok(())
    })
}
