//! SIFT-class detector and descriptor: each stage in its own folder with the CPU reference
//! (`cpu.rs`) beside its GPU host (`gpu.rs`), the GPU kernels checked against the reference.
//!
//! Lowe 2004 as OpenCV implements it, on gray images with values in 0..1:
//! [`build_scale_space_cpu`] (Gaussian / DoG pyramids, exact conventions in [`scale_space`];
//! GPU: [`PyramidKernel`]), [`find_extrema_cpu`] (strict 3×3×3 extrema; [`ExtremaKernel`]),
//! [`refine_extremum_cpu`] (Newton refinement, contrast and edge tests; [`RefineKernel`]),
//! [`assign_orientations_cpu`] (36-bin histogram, peaks ≥ 0.8 · max; [`OrientKernel`]),
//! [`describe_keypoints_cpu`] (4×4×8 descriptor, optional RootSIFT; [`DescribeKernel`]), and the
//! whole pipeline in [`detect_and_describe_cpu`] (GPU: [`SiftGpu`]; natively on all cores, the
//! same result fast: `detect_and_describe_native`, which [`SiftGpu`] runs on software adapters).
//!
//! Coordinates: x right, y down, pixel centres at integers; octave `o` pixel `p` is input pixel
//! `p · 2^o` (`· 2^(o-1)` with `upsample`).

#[cfg(not(target_arch = "wasm32"))]
mod cpu_pipeline;
mod descriptor;
mod extrema;
mod gpu_frames;
#[cfg(test)]
mod gpu_tests;
mod orientation;
mod patch_math;
mod pipeline;
mod refine;
pub mod scale_space;
#[cfg(test)]
mod tests;

#[cfg(not(target_arch = "wasm32"))]
pub use cpu_pipeline::{
    build_scale_space_native, detect_and_describe_native, localize_keypoints_native, SiftInputError,
};
pub use descriptor::{
    describe_cpu, describe_keypoints_cpu, DescribeKernel, DescribeParams, PatchFrame,
    DESCR_HIST_BINS, DESCR_MAG_THR, DESCR_SCL_FCTR, DESCR_WIDTH,
};
pub use extrema::{find_extrema_cpu, ExtremaKernel, ExtremaParams, Extremum, Keypoint, IMG_BORDER};
pub use gpu_frames::GpuFrame;
pub use orientation::{
    assign_orientations_cpu, dominant_orientations, orientation_histogram_cpu, OrientKernel,
    OrientParams, MAX_ORIENTATIONS, ORI_BINS, ORI_PEAK_RATIO, ORI_RADIUS_FCTR, ORI_SIG_FCTR,
};
pub use pipeline::SiftGpu;
pub use refine::{
    localize_keypoints_cpu, refine_extremum_cpu, RefineKernel, RefineParams,
    MAX_GPU_SCALES_PER_OCTAVE, MAX_INTERP_STEPS,
};
pub use scale_space::{
    blur_cpu, build_scale_space_cpu, downsample_cpu, gaussian_kernel, incremental_sigma,
    initial_blur_sigma, octave_count, upsample_cpu, GpuOctave, GpuScaleSpace, Octave,
    PyramidKernel, PyramidParams, ScaleSpace, SiftParams,
};

use super::Descriptors;

/// Keeps the `max` keypoints of highest response (stable: ties keep their order), in
/// descending response order. Keypoints of one location with several orientations share a
/// response and may be split by the cut.
pub fn retain_strongest(keypoints: &mut Vec<Keypoint>, max: usize) {
    keypoints.sort_by(|a, b| b.response.total_cmp(&a.response));
    keypoints.truncate(max);
}

/// The whole pipeline on a `w × h` gray image (row-major, values in 0..1): scale space,
/// extrema, refinement, orientations, the `max_features` cap (applied to oriented keypoints,
/// as OpenCV), descriptors quantised with [`Descriptors::quantize`]. Keypoint `i` has
/// descriptor `i`. Without a cap the order is octave, scale, row, column, orientation bin; with
/// one it is descending response.
pub fn detect_and_describe_cpu(
    gray: &[f32],
    w: u32,
    h: u32,
    params: &SiftParams,
) -> (Vec<Keypoint>, Descriptors) {
    let (keypoints, descriptors) = detect_and_describe_float_cpu(gray, w, h, params);
    (keypoints, Descriptors::quantize(&descriptors))
}

/// [`detect_and_describe_cpu`] with the float (unit-norm) descriptors.
pub fn detect_and_describe_float_cpu(
    gray: &[f32],
    w: u32,
    h: u32,
    params: &SiftParams,
) -> (Vec<Keypoint>, Vec<[f32; super::DESCRIPTOR_BYTES]>) {
    let space = build_scale_space_cpu(gray, w, h, params);
    let located = localize_keypoints_cpu(&space, params);
    let mut keypoints = assign_orientations_cpu(&space, &located, params);
    if let Some(max) = params.max_features {
        retain_strongest(&mut keypoints, max as usize);
    }
    let descriptors = describe_keypoints_cpu(&space, &keypoints, params);
    (keypoints, descriptors)
}
