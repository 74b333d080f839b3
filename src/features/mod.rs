//! Image features and matching: the SIFT-class detector and descriptor (`sift`, the CPU
//! reference), its GPU scale space (`shaders/pyramid.wgsl`) and DoG extrema
//! (`shaders/extrema.wgsl`), descriptor matching on the GPU (`shaders/match.wgsl`), image-pair
//! selection, and the sharpness signal (`shaders/sharpness.wgsl`). The refinement, orientation and
//! descriptor stages run on the GPU too (`sift_gpu`: `shaders/sift_refine.wgsl`,
//! `shaders/sift_orient.wgsl`, `shaders/sift_describe.wgsl`), the whole pipeline in [`SiftGpu`].

mod capture;
mod cpu_matcher;
mod descriptors;
mod epipolar;
mod extract;
mod extrema;
mod matcher;
mod pairs;
mod presets;
mod pyramid;
mod sharpness;
pub mod sift;
mod sift_gpu;
mod storage;
#[cfg(test)]
mod tests;

pub use capture::{CaptureAnalyzer, CaptureQuality};
pub use cpu_matcher::{match_descriptors_native, nearest_two_both_ways};
pub use descriptors::{Descriptors, DESCRIPTOR_BYTES, DESCRIPTOR_WORDS};
pub use epipolar::{
    epipolar_distance, fraction_within, fundamental, CalibratedCamera, CameraFileError,
};
pub use extract::{extract_features_cpu, ImageFeatures};
pub use extrema::{ExtremaKernel, ExtremaParams};
pub use matcher::{
    filter_matches, match_descriptors, match_descriptors_cpu, nearest_two_cpu, Match, MatchOptions,
    MatchParams, Matcher, Nearest, PairMatcher, PAIRS_PER_BATCH,
};
pub use pairs::{select_pairs, PairError, PairMode};
pub use presets::Quality;
pub use pyramid::{GpuOctave, GpuScaleSpace, PyramidKernel, PyramidParams};
pub use sharpness::{SharpnessKernel, SharpnessParams};
pub use sift_gpu::{
    DescribeKernel, DescribeParams, GpuFrame, OrientKernel, OrientParams, RefineKernel,
    RefineParams, SiftGpu, MAX_GPU_SCALES_PER_OCTAVE, MAX_ORIENTATIONS,
};
pub use storage::{read_features, write_features, FeatureFileError, FEATURE_RECORD_BYTES};
