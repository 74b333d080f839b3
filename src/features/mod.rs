//! Image features and matching. So far: descriptor matching on the GPU (`shaders/match.wgsl`)
//! with its CPU reference, image-pair selection, and the sharpness signal
//! (`shaders/sharpness.wgsl`); the SIFT-class detector comes next.

mod descriptors;
mod matcher;
mod pairs;
mod sharpness;
#[cfg(test)]
mod tests;

pub use descriptors::{Descriptors, DESCRIPTOR_BYTES, DESCRIPTOR_WORDS};
pub use matcher::{
    filter_matches, match_descriptors, match_descriptors_cpu, nearest_two_cpu, Match, MatchOptions,
    MatchParams, Matcher, Nearest,
};
pub use pairs::{select_pairs, PairError, PairMode};
pub use sharpness::{SharpnessKernel, SharpnessParams};
