//! The error type of the splat file readers and writers.

use super::SceneError;

/// Why a splat file could not be read or written.
///
/// Readers never panic on malformed input; every problem ends up here with a message that names
/// what was wrong (the property, the declared and available counts, the bad magic number...).
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// The input holds no bytes at all.
    #[error("empty input: the file holds no data")]
    Empty,
    /// [`load_scene`](super::load_scene) recognised none of the supported formats.
    #[error("unrecognised splat file format: {0} (supported: 3DGS PLY, Niantic SPZ, antimatter15 .splat)")]
    UnknownFormat(String),

    // --- PLY ---
    /// The data does not start with the `ply` magic line.
    #[error("not a PLY file: it does not start with the `ply` magic line")]
    NotPly,
    /// The PLY header is malformed (`line` is 1-based).
    #[error("invalid PLY header (line {line}): {msg}")]
    PlyHeader { line: usize, msg: String },
    /// The PLY `format` line names an encoding other than ascii / binary little or big endian.
    #[error("unsupported PLY format `{0}` (supported: ascii, binary_little_endian, binary_big_endian 1.0)")]
    PlyUnsupportedFormat(String),
    /// The PLY has no `vertex` element.
    #[error("the PLY file has no `vertex` element")]
    PlyNoVertexElement,
    /// A property the 3DGS layout needs is absent from the `vertex` element.
    #[error("missing property `{0}` in the PLY vertex element")]
    PlyMissingProperty(String),
    /// A property name appears twice in the `vertex` element.
    #[error("duplicate property `{0}` in the PLY vertex element")]
    PlyDuplicateProperty(String),
    /// The `vertex` element has a list property, which splat PLYs never have.
    #[error("the PLY vertex element has a list property `{0}`; Gaussian-splat PLYs use scalar properties only")]
    PlyListProperty(String),
    /// A property the 3DGS layout needs has a non-floating-point type.
    #[error("PLY property `{name}` has type `{ty}`; expected float or double")]
    PlyPropertyType { name: String, ty: &'static str },
    /// The `f_rest_*` properties do not form a supported SH degree.
    #[error("the PLY vertex element has {0} `f_rest_*` properties; expected 0, 9, 24 or 45 (SH degree 0..=3)")]
    PlyShCount(usize),
    /// The binary data is shorter than the header's vertex count requires.
    #[error("PLY header declares {declared} vertices ({stride} bytes each) but the data holds {available}")]
    PlyTruncated {
        declared: u64,
        stride: usize,
        available: u64,
    },
    /// Malformed PLY body (ASCII tokens, elements before `vertex`, ...).
    #[error("invalid PLY data: {0}")]
    PlyData(String),

    // --- SPZ ---
    /// The gzip stream is corrupt or cut short.
    #[error("SPZ gzip stream is corrupt or truncated: {0}")]
    Gzip(String),
    /// The data starts neither with gzip (versions 1 to 3) nor with the uncompressed `NGSP`
    /// header of version 4.
    #[error("not an SPZ file: no gzip header (bytes 1f 8b) and no uncompressed NGSP header")]
    SpzNotGzip,
    /// The decompressed stream does not start with the SPZ magic number.
    #[error("not an SPZ file: bad magic {0:#010x} (expected 0x5053474e, \"NGSP\")")]
    SpzMagic(u32),
    /// The header's version is not one this reader understands.
    #[error("unsupported SPZ version {0} (supported: 2, 3 and 4{1})")]
    SpzVersion(u32, &'static str),
    /// The header's SH degree is outside 0..=3.
    #[error("SPZ SH degree {0} is not supported (0..=3)")]
    SpzShDegree(u8),
    /// The header's point count exceeds [`MAX_SPZ_POINTS`](super::MAX_SPZ_POINTS).
    #[error("SPZ header declares {0} points, more than the limit of {1}")]
    SpzTooManyPoints(u32, u32),
    /// The decompressed data is shorter than the header requires.
    #[error("SPZ header declares {declared} points ({per_point} bytes each) but the data holds {available}")]
    SpzTruncated {
        declared: u32,
        per_point: usize,
        available: usize,
    },
    /// The decompressed stream is far longer than the header's point count needs.
    #[error("SPZ stream holds more than {limit} bytes beyond what its {declared} points need")]
    SpzTrailing { declared: u32, limit: usize },
    /// The data ends inside the header (16 bytes, or 32 for version 4).
    #[error("SPZ data ends after {0} bytes, inside its {1}-byte header")]
    SpzShortHeader(usize, usize),
    /// A version-4 container's stream count or table of contents does not fit the header or file.
    #[error("invalid SPZ version 4 container: {0}")]
    SpzContainer(String),
    /// A version-4 ZSTD stream is corrupt, cut short or of the wrong length.
    #[error("SPZ ZSTD stream is corrupt or truncated: {0}")]
    Zstd(String),
    /// The optional extension block could not be understood.
    #[error("invalid SPZ extension block: {0}")]
    SpzExtensions(String),
    /// The scene cannot be represented in SPZ (for example a position beyond the 24-bit range).
    #[error("cannot write SPZ: {0}")]
    SpzWrite(String),

    // --- .splat ---
    /// A `.splat` file is a sequence of 32-byte records.
    #[error(".splat data length {0} is not a multiple of 32 bytes")]
    SplatLength(usize),

    // --- common ---
    /// The scene handed to a writer is inconsistent.
    #[error("invalid scene: {0}")]
    Scene(#[from] SceneError),
    /// Writing to the output failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}
