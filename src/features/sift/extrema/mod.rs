//! DoG extrema (strict 3×3×3 extrema above half the contrast threshold): the CPU reference
//! (`cpu`) and its GPU host (`gpu`, `shaders/extrema.wgsl`), plus the keypoint types.

mod cpu;
mod gpu;

#[cfg(not(target_arch = "wasm32"))]
pub(crate) use cpu::{extrema_in_row, extremum_rows};
pub use cpu::{find_extrema_cpu, Extremum, Keypoint, IMG_BORDER};
pub use gpu::{ExtremaKernel, ExtremaParams};
