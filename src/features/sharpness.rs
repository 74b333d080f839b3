//! Host of `shaders/sharpness.wgsl`: variance of the Laplacian, the capture screen's blur check.

use crate::gpu::{
    read_buffer, storage_buffer, storage_buffer_init, uniform_buffer, GpuContext, GpuError,
    SingleEntryKernel, READ, READ_WRITE, UNIFORM,
};

const SOURCE: &str = include_str!("../../shaders/sharpness.wgsl");

/// Host mirror of `SharpnessParams` in `sharpness.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct SharpnessParams {
    pub width: u32,
    pub height: u32,
    pub _pad0: u32,
    pub _pad1: u32,
}

/// Owns the sharpness pipeline and its bind-group layout.
pub struct SharpnessKernel {
    kernel: SingleEntryKernel,
}

impl SharpnessKernel {
    pub fn new(ctx: &GpuContext) -> Self {
        let bindings = &[UNIFORM, READ, READ_WRITE];
        let kernel =
            SingleEntryKernel::new(ctx, "sharpness", SOURCE, bindings, "laplacian_moments");
        Self { kernel }
    }

    /// Variance of the Laplacian of a `width × height` grayscale image (values in 0..1);
    /// 0 for images smaller than 3×3.
    pub async fn variance_of_laplacian(
        &self,
        ctx: &GpuContext,
        gray: &[f32],
        width: u32,
        height: u32,
    ) -> Result<f32, GpuError> {
        if gray.len() as u64 != width as u64 * height as u64 {
            return Err(GpuError::TooLarge(format!(
                "{} pixels for a {width}x{height} image",
                gray.len()
            )));
        }
        if width < 3 || height < 3 {
            return Ok(0.0);
        }
        let interior = (width - 2) * (height - 2);
        let groups = interior.div_ceil(256);
        let params = uniform_buffer(
            ctx,
            "sharpness params",
            &SharpnessParams {
                width,
                height,
                _pad0: 0,
                _pad1: 0,
            },
        );
        let input = storage_buffer_init(ctx, "gray", gray);
        let partials = storage_buffer(ctx, "laplacian partials", groups as u64 * 8);
        let bind_group = self.kernel.bind(ctx, &[&params, &input, &partials]);
        ctx.submit_pass("sharpness", |pass| {
            self.kernel.dispatch(pass, &bind_group, groups);
        });
        let sums: Vec<[f32; 2]> = read_buffer(ctx, &partials, groups as usize).await?;
        let (s, s2) = sums
            .iter()
            .fold((0f64, 0f64), |(a, b), p| (a + p[0] as f64, b + p[1] as f64));
        let n = interior as f64;
        let mean = s / n;
        Ok((s2 / n - mean * mean).max(0.0) as f32)
    }
}
