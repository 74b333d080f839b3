//! Splatpod engine: the GPU kernels and algorithms shared by the browser PWA (WebGPU) and the
//! server (wgpu on Vulkan). Every kernel lives in `shaders/`, has one host module here, and a CPU
//! reference that its tests compare against.

pub mod api;
pub mod features;
pub mod formats;
pub mod gpu;
pub mod images;
pub mod render;
pub mod scan;
pub mod sfm;
pub mod sort;
pub mod train;

#[cfg(test)]
pub(crate) mod test_support;
