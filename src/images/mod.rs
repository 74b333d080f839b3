//! Photo input for feature extraction: decoding JPEG and PNG captures into the pixel layout the
//! feature and SfM stages work on, and a CPU reference for the per-frame sharpness score.
//!
//! [`decode_image`] sniffs the format from the bytes, checks the declared size against a pixel
//! budget *before* any pixel buffer is allocated, decodes with the `image` crate, downscales so
//! the longer side fits [`DecodeOptions::max_side`], applies the EXIF orientation (all eight), and
//! returns RGBA8 plus a Rec. 601 luminance plane ([`DecodedImage`]). The EXIF focal length is kept
//! as an intrinsics prior ([`FocalPrior`]).
//!
//! Every failure on untrusted input is an [`ImageError`]; nothing here panics on malformed data.

mod decode;
mod error;
mod exif;
pub mod keyframes;
mod sharpness;
mod sniff;
#[cfg(test)]
mod tests;

pub use decode::{
    decode_image, luminance_601, DecodeOptions, DecodedImage, FocalPrior, DEFAULT_MAX_PIXELS,
    DEFAULT_MAX_SIDE, FULL_FRAME_DIAGONAL_MM,
};
pub use error::ImageError;
pub use sharpness::sharpness_cpu;
