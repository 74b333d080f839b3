//! Gaussian-splat training: the backward passes of the rasterizer, the L1 + D-SSIM loss, Adam,
//! 3DGS densification and the training driver, all on the GPU through the same WGSL kernels in
//! the browser (WebGPU) and on the server (wgpu on Vulkan).
//!
//! Parameter layout on the GPU (shared by every training kernel; N splats):
//! - `means: array<vec4<f32>>` — xyz position, w = opacity logit;
//! - `log_scales: array<vec4<f32>>` — xyz log scale, w unused (kept 0);
//! - `rotations: array<vec4<f32>>` — quaternion (w, x, y, z), not necessarily normalised;
//! - `sh: array<f32>` — `SH_FLOATS` = 48 floats per splat: 16 coefficients × RGB,
//!   coefficient-major (the DC term first).
//!
//! Gradients and Adam's two moments have the same layout as the parameters they belong to.

pub mod adam;
pub mod backward;
pub mod checkpoint;
pub mod dataset;
pub mod densify;
pub mod from_photos;
pub mod loss;
pub mod trainer;

/// SH floats stored per splat while training (degree 3: 16 coefficients × RGB).
pub const SH_FLOATS: usize = 48;
