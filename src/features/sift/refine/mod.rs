//! Newton refinement of DoG extrema with the contrast and edge tests: the CPU reference (`cpu`)
//! and its GPU host (`gpu`, `shaders/sift_refine.wgsl`).

mod cpu;
mod gpu;

#[cfg(not(target_arch = "wasm32"))]
pub(crate) use cpu::{keep_first_per_sample, refine};
pub use cpu::{localize_keypoints_cpu, refine_extremum_cpu, MAX_INTERP_STEPS};
pub use gpu::{RefineKernel, RefineParams, MAX_GPU_SCALES_PER_OCTAVE};
