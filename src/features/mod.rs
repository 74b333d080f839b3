//! Image features and matching: the SIFT-class detector and descriptor (`sift`: every stage's GPU
//! host beside its CPU reference, the whole GPU pipeline in [`SiftGpu`]), descriptor matching on
//! the GPU (`shaders/match.wgsl`), image-pair selection, the `.spf` feature file format
//! (`spf_format`), and the sharpness signal (`shaders/sharpness.wgsl`).

mod capture;
mod cpu_matcher;
mod descriptors;
mod epipolar;
mod extract;
mod matcher;
mod pairs;
mod presets;
mod sharpness;
pub mod sift;
mod spf_format;
#[cfg(test)]
mod tests;

pub use capture::{CaptureAnalyzer, CaptureQuality};
pub use cpu_matcher::{match_descriptors_native, nearest_two_both_ways};
pub use descriptors::{Descriptors, DESCRIPTOR_BYTES, DESCRIPTOR_WORDS};
pub use epipolar::{
    epipolar_distance, fraction_within, fundamental, CalibratedCamera, CameraFileError,
};
pub use extract::{extract_features_cpu, ImageFeatures};
pub use matcher::{
    filter_matches, match_descriptors, match_descriptors_cpu, nearest_two_cpu, Match, MatchOptions,
    MatchParams, Matcher, Nearest, PairMatcher, PAIRS_PER_BATCH,
};
pub use pairs::{select_pairs, PairError, PairMode};
pub use presets::Quality;
pub use sharpness::{SharpnessKernel, SharpnessParams};
pub use sift::{
    DescribeKernel, DescribeParams, ExtremaKernel, ExtremaParams, GpuFrame, GpuOctave,
    GpuScaleSpace, OrientKernel, OrientParams, PyramidKernel, PyramidParams, RefineKernel,
    RefineParams, SiftGpu, MAX_GPU_SCALES_PER_OCTAVE, MAX_ORIENTATIONS,
};
pub use spf_format::{read_features, write_features, FeatureFileError, FEATURE_RECORD_BYTES};
