//! The error type of the photo decoder.

/// Why a photo could not be decoded.
///
/// [`decode_image`](super::decode_image) never panics on malformed input; every problem ends up
/// here with a message that says what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    /// The input holds no bytes at all.
    #[error("empty input: the file holds no data")]
    Empty,
    /// The bytes are not an image of any kind we recognise (text, a PDF, random data...). The
    /// string says what the data looks like.
    #[error("not an image: {0}")]
    NotAnImage(String),
    /// The bytes are an image, but in a format (or a variant of JPEG/PNG) that is not decoded
    /// here. The string names the format.
    #[error("unsupported image format: {0} (supported: JPEG, PNG)")]
    Unsupported(String),
    /// The file starts like a JPEG or PNG but is truncated or damaged.
    #[error("corrupt or truncated image: {0}")]
    Corrupt(String),
    /// The declared size exceeds the pixel budget ([`DecodeOptions::max_pixels`]); nothing was
    /// decoded.
    ///
    /// [`DecodeOptions::max_pixels`]: super::DecodeOptions::max_pixels
    #[error(
        "image too large: {width}x{height} pixels is more than the limit of {max_pixels} pixels"
    )]
    TooLarge {
        /// Declared width in pixels.
        width: u32,
        /// Declared height in pixels.
        height: u32,
        /// The budget in force.
        max_pixels: u64,
    },
    /// The image declares a width or a height of zero.
    #[error("the image declares a width or height of zero pixels")]
    ZeroSize,
    /// The [`DecodeOptions`](super::DecodeOptions) themselves are unusable (e.g. `max_side` of 0).
    #[error("invalid decode options: {0}")]
    InvalidOptions(String),
}
