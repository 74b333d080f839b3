//! From image bytes to features: decode (orientation, downscale), then SIFT.

use super::sift::{detect_and_describe_cpu, Keypoint, SiftParams};
use super::Descriptors;
use crate::images::{decode_image, DecodeOptions, ImageError};

/// Features of one image, with the factor from original to decoded pixels.
#[derive(Debug, Clone)]
pub struct ImageFeatures {
    pub keypoints: Vec<Keypoint>,
    pub descriptors: Descriptors,
    /// Decoded width / original width (1 when not downscaled).
    pub scale: f64,
    pub width: u32,
    pub height: u32,
}

/// Decodes `bytes` (downscaled to `max_side`) and runs the SIFT CPU reference.
pub fn extract_features_cpu(
    bytes: &[u8],
    name_hint: Option<&str>,
    max_side: Option<u32>,
    params: &SiftParams,
) -> Result<ImageFeatures, ImageError> {
    let options = DecodeOptions {
        max_side,
        ..DecodeOptions::default()
    };
    let img = decode_image(bytes, name_hint, &options)?;
    let (keypoints, descriptors) =
        detect_and_describe_cpu(&img.gray, img.width, img.height, params);
    Ok(ImageFeatures {
        keypoints,
        descriptors,
        scale: img.width as f64 / img.original_width as f64,
        width: img.width,
        height: img.height,
    })
}
