//! The four per-splat buffers of the training layout (see [`crate::train`]), on the GPU and on the
//! CPU. Parameters, gradients and both Adam moments all use this one shape.

use crate::gpu::{read_buffer, storage_buffer, storage_buffer_init, GpuContext, GpuError};
use crate::train::SH_FLOATS;

use super::ParamGroup;

/// Four GPU buffers of one per-splat layout: parameters, their gradients, or an Adam moment.
///
/// Buffers are at least 256 bytes (empty sets still bind) and have `STORAGE | COPY_SRC |
/// COPY_DST` usage.
pub struct SplatBuffers {
    /// `array<vec4<f32>>`: xyz position, w opacity logit.
    pub means: wgpu::Buffer,
    /// `array<vec4<f32>>`: xyz log scale, w unused (0).
    pub log_scales: wgpu::Buffer,
    /// `array<vec4<f32>>`: quaternion (w, x, y, z).
    pub rotations: wgpu::Buffer,
    /// `array<f32>`: [`SH_FLOATS`] per splat, coefficient-major.
    pub sh: wgpu::Buffer,
    /// Number of splats the buffers hold.
    pub count: u32,
}

/// The CPU image of a [`SplatBuffers`]: used by the CPU references, uploads and readbacks.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SplatData {
    pub means: Vec<[f32; 4]>,
    pub log_scales: Vec<[f32; 4]>,
    pub rotations: Vec<[f32; 4]>,
    pub sh: Vec<f32>,
}

impl SplatData {
    /// `count` splats with every float 0 (the state of fresh gradients and moments).
    pub fn zeroed(count: usize) -> Self {
        Self {
            means: vec![[0.0; 4]; count],
            log_scales: vec![[0.0; 4]; count],
            rotations: vec![[0.0; 4]; count],
            sh: vec![0.0; count * SH_FLOATS],
        }
    }

    /// Number of splats (the length of `means`).
    pub fn len(&self) -> usize {
        self.means.len()
    }

    /// True when there are no splats.
    pub fn is_empty(&self) -> bool {
        self.means.is_empty()
    }

    /// Checks that the four arrays describe the same number of splats.
    pub fn validate(&self) -> Result<(), GpuError> {
        let n = self.len();
        if self.log_scales.len() != n || self.rotations.len() != n || self.sh.len() != n * SH_FLOATS
        {
            return Err(GpuError::Unsupported(format!(
                "splat arrays disagree: {n} means, {} log scales, {} rotations, {} SH floats",
                self.log_scales.len(),
                self.rotations.len(),
                self.sh.len()
            )));
        }
        Ok(())
    }

    /// The floats of one group's buffer, in GPU order.
    pub fn group(&self, group: ParamGroup) -> &[f32] {
        match group {
            ParamGroup::Means => self.means.as_flattened(),
            ParamGroup::LogScales => self.log_scales.as_flattened(),
            ParamGroup::Rotations => self.rotations.as_flattened(),
            ParamGroup::Sh => &self.sh,
        }
    }

    /// Mutable floats of one group's buffer, in GPU order.
    pub fn group_mut(&mut self, group: ParamGroup) -> &mut [f32] {
        match group {
            ParamGroup::Means => self.means.as_flattened_mut(),
            ParamGroup::LogScales => self.log_scales.as_flattened_mut(),
            ParamGroup::Rotations => self.rotations.as_flattened_mut(),
            ParamGroup::Sh => &mut self.sh,
        }
    }
}

/// Refuses splat counts whose largest buffer (SH) exceeds the device's binding limit, or whose
/// float count the Adam kernel cannot index in u32.
fn check_splat_count(ctx: &GpuContext, count: u64) -> Result<u32, GpuError> {
    let limits = ctx.device.limits();
    let sh_bytes = count * SH_FLOATS as u64 * 4;
    let limit = limits
        .max_storage_buffer_binding_size
        .min(limits.max_buffer_size);
    if sh_bytes > limit || count * SH_FLOATS as u64 > u32::MAX as u64 {
        return Err(GpuError::TooLarge(format!(
            "{count} training splats need {} MiB of SH in one GPU buffer; this device allows {} MiB",
            sh_bytes >> 20,
            limit >> 20
        )));
    }
    Ok(count as u32)
}

impl SplatBuffers {
    /// `count` zeroed splats (fresh gradients or Adam moments).
    pub fn zeroed(ctx: &GpuContext, label: &str, count: u32) -> Result<Self, GpuError> {
        let count = check_splat_count(ctx, count as u64)?;
        let vec4s = count as u64 * 16;
        Ok(Self {
            means: storage_buffer(ctx, &format!("{label} means"), vec4s),
            log_scales: storage_buffer(ctx, &format!("{label} log scales"), vec4s),
            rotations: storage_buffer(ctx, &format!("{label} rotations"), vec4s),
            sh: storage_buffer(ctx, &format!("{label} sh"), vec4s * 12),
            count,
        })
    }

    /// Uploads `data`, or explains why it cannot be.
    pub fn upload(ctx: &GpuContext, label: &str, data: &SplatData) -> Result<Self, GpuError> {
        data.validate()?;
        let count = check_splat_count(ctx, data.len() as u64)?;
        Ok(Self {
            means: storage_buffer_init(ctx, &format!("{label} means"), &data.means),
            log_scales: storage_buffer_init(ctx, &format!("{label} log scales"), &data.log_scales),
            rotations: storage_buffer_init(ctx, &format!("{label} rotations"), &data.rotations),
            sh: storage_buffer_init(ctx, &format!("{label} sh"), &data.sh),
            count,
        })
    }

    /// Copies the four buffers back to the CPU.
    pub async fn read(&self, ctx: &GpuContext) -> Result<SplatData, GpuError> {
        let n = self.count as usize;
        Ok(SplatData {
            means: read_buffer(ctx, &self.means, n).await?,
            log_scales: read_buffer(ctx, &self.log_scales, n).await?,
            rotations: read_buffer(ctx, &self.rotations, n).await?,
            sh: read_buffer(ctx, &self.sh, n * SH_FLOATS).await?,
        })
    }

    /// The buffer of one parameter group.
    pub fn buffer(&self, group: ParamGroup) -> &wgpu::Buffer {
        match group {
            ParamGroup::Means => &self.means,
            ParamGroup::LogScales => &self.log_scales,
            ParamGroup::Rotations => &self.rotations,
            ParamGroup::Sh => &self.sh,
        }
    }
}
