//! The Gaussian and difference-of-Gaussian scale space: the CPU reference (`cpu`) and its GPU
//! host (`gpu`, `shaders/pyramid.wgsl`).
//!
//! Conventions (the GPU scale space is checked against these numbers):
//!
//! - `scales_per_octave + 3` Gaussian images per octave (index `s = 0..=S+2`), image `s` blurred
//!   to `sigma0 · 2^(s/S)` in that octave's pixels.
//! - Octave 0's image 0 is the input (or the input doubled, see [`upsample_cpu`]) blurred by
//!   [`initial_blur_sigma`]; image `s ≥ 1` is image `s-1` blurred by [`incremental_sigma`]`(s)`.
//! - Octave `o+1`'s image 0 is octave `o`'s image `S` with every second pixel kept
//!   ([`downsample_cpu`]), no extra blur.
//! - Blur: [`blur_cpu`] with the kernel from [`gaussian_kernel`], f32 throughout.
//! - `dogs[s] = gaussians[s+1] - gaussians[s]`, `S+2` of them.

mod cpu;
mod gpu;

pub use cpu::{
    blur_cpu, build_scale_space_cpu, downsample_cpu, gaussian_kernel, incremental_sigma,
    initial_blur_sigma, octave_count, upsample_cpu, Octave, ScaleSpace, SiftParams,
};
#[cfg(not(target_arch = "wasm32"))]
pub(crate) use cpu::{blur_row_h, blur_row_v, build_scale_space_with};
pub use gpu::{GpuOctave, GpuScaleSpace, PyramidKernel, PyramidParams};
