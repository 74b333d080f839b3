//! Keypoint orientations from the 36-bin gradient histogram: the CPU reference (`cpu`) and its
//! GPU host (`gpu`, `shaders/sift_orient.wgsl`).

mod cpu;
mod gpu;

#[cfg(not(target_arch = "wasm32"))]
pub(crate) use cpu::orient_keypoint;
pub(crate) use cpu::{angle_0_tau, gradient, WindowSamples};
pub use cpu::{
    assign_orientations_cpu, dominant_orientations, orientation_histogram_cpu, ORI_BINS,
    ORI_PEAK_RATIO, ORI_RADIUS_FCTR, ORI_SIG_FCTR,
};
pub use gpu::{OrientKernel, OrientParams, MAX_ORIENTATIONS};
