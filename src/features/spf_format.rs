//! The compact binary form in which the server keeps one image's keypoints and descriptors with
//! its project (`.spf`, "Splatpod features").
//!
//! Layout, all little-endian:
//! ```text
//! magic  b"SPF1"
//! u32    width   (decoded pixels the keypoints are in)
//! u32    height
//! f64    scale   (decoded width / original width)
//! u32    count
//! count × { f32 x, f32 y, f32 sigma, f32 orientation, f32 response }   20 bytes each
//! count × [u8; 128] descriptors                                          128 bytes each
//! ```
//! 148 bytes per feature, 1.2 MB for 8192 features. Keypoints and descriptors are stored as
//! two arrays so descriptors can be handed to the matcher in one copy.

use super::sift::Keypoint;
use super::{Descriptors, ImageFeatures, DESCRIPTOR_BYTES};

const MAGIC: &[u8; 4] = b"SPF1";
const HEADER_BYTES: usize = 4 + 4 + 4 + 8 + 4;
const KEYPOINT_BYTES: usize = 20;
/// Bytes per stored feature (keypoint + descriptor).
pub const FEATURE_RECORD_BYTES: usize = KEYPOINT_BYTES + DESCRIPTOR_BYTES;

/// Why a feature file could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FeatureFileError {
    #[error("not a Splatpod feature file (bad magic)")]
    BadMagic,
    #[error("feature file truncated: {0} bytes, need {1}")]
    Truncated(usize, usize),
    #[error("feature file has {0} trailing bytes")]
    TrailingBytes(usize),
    #[error("feature file header is invalid: {0}")]
    BadHeader(&'static str),
}

/// Serialises `features` in the `.spf` layout.
pub fn write_features(features: &ImageFeatures) -> Vec<u8> {
    let n = features.keypoints.len();
    let mut out = Vec::with_capacity(HEADER_BYTES + n * FEATURE_RECORD_BYTES);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&features.width.to_le_bytes());
    out.extend_from_slice(&features.height.to_le_bytes());
    out.extend_from_slice(&features.scale.to_le_bytes());
    out.extend_from_slice(&(n as u32).to_le_bytes());
    for k in &features.keypoints {
        for v in [k.x, k.y, k.sigma, k.orientation, k.response] {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    for w in features.descriptors.words() {
        out.extend_from_slice(&w.to_le_bytes());
    }
    out
}

fn f32_at(b: &[u8], at: usize) -> f32 {
    f32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Parses a `.spf` file. Octave and scale index are not stored (they read back as 0).
pub fn read_features(bytes: &[u8]) -> Result<ImageFeatures, FeatureFileError> {
    if bytes.len() < HEADER_BYTES {
        if bytes.len() >= 4 && &bytes[..4] != MAGIC {
            return Err(FeatureFileError::BadMagic);
        }
        return Err(FeatureFileError::Truncated(bytes.len(), HEADER_BYTES));
    }
    if &bytes[..4] != MAGIC {
        return Err(FeatureFileError::BadMagic);
    }
    let width = u32_at(bytes, 4);
    let height = u32_at(bytes, 8);
    let mut scale_bytes = [0u8; 8];
    scale_bytes.copy_from_slice(&bytes[12..20]);
    let scale = f64::from_le_bytes(scale_bytes);
    if !(scale.is_finite() && scale > 0.0) {
        return Err(FeatureFileError::BadHeader("scale must be positive"));
    }
    let count = u32_at(bytes, 20) as usize;
    let need = count
        .checked_mul(FEATURE_RECORD_BYTES)
        .and_then(|b| b.checked_add(HEADER_BYTES))
        .ok_or(FeatureFileError::BadHeader("feature count overflows"))?;
    if bytes.len() < need {
        return Err(FeatureFileError::Truncated(bytes.len(), need));
    }
    if bytes.len() > need {
        return Err(FeatureFileError::TrailingBytes(bytes.len() - need));
    }
    let kp = &bytes[HEADER_BYTES..HEADER_BYTES + count * KEYPOINT_BYTES];
    let keypoints = kp
        .chunks_exact(KEYPOINT_BYTES)
        .map(|r| Keypoint {
            x: f32_at(r, 0),
            y: f32_at(r, 4),
            sigma: f32_at(r, 8),
            orientation: f32_at(r, 12),
            response: f32_at(r, 16),
            octave: 0,
            scale: 0,
        })
        .collect();
    let desc: Vec<[u8; DESCRIPTOR_BYTES]> = bytes[HEADER_BYTES + count * KEYPOINT_BYTES..]
        .chunks_exact(DESCRIPTOR_BYTES)
        .map(|c| {
            let mut d = [0u8; DESCRIPTOR_BYTES];
            d.copy_from_slice(c);
            d
        })
        .collect();
    Ok(ImageFeatures {
        keypoints,
        descriptors: Descriptors::from_bytes(&desc),
        scale,
        width,
        height,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(n: usize) -> ImageFeatures {
        let keypoints = (0..n)
            .map(|i| Keypoint {
                x: i as f32 * 1.5,
                y: 1000.0 - i as f32,
                sigma: 1.6 + i as f32 * 0.01,
                orientation: (i as f32 * 0.37) % std::f32::consts::TAU,
                response: 0.01 * i as f32,
                octave: 0,
                scale: 0,
            })
            .collect();
        let desc: Vec<[u8; DESCRIPTOR_BYTES]> = (0..n)
            .map(|i| std::array::from_fn(|j| ((i * 31 + j * 7) % 256) as u8))
            .collect();
        ImageFeatures {
            keypoints,
            descriptors: Descriptors::from_bytes(&desc),
            scale: 0.5,
            width: 800,
            height: 600,
        }
    }

    #[test]
    fn round_trip_is_exact_and_compact() {
        for n in [0, 1, 7, 300] {
            let f = sample(n);
            let bytes = write_features(&f);
            assert_eq!(bytes.len(), HEADER_BYTES + n * FEATURE_RECORD_BYTES);
            let back = read_features(&bytes).expect("valid file");
            assert_eq!(back.keypoints, f.keypoints);
            assert_eq!(back.descriptors, f.descriptors);
            assert_eq!((back.width, back.height, back.scale), (800, 600, 0.5));
        }
    }

    #[test]
    fn malformed_files_are_rejected() {
        let bytes = write_features(&sample(3));
        assert_eq!(
            read_features(b"SPF").err(),
            Some(FeatureFileError::Truncated(3, 24))
        );
        assert_eq!(
            read_features(b"PK\x03\x04").err(),
            Some(FeatureFileError::BadMagic)
        );
        let mut bad = bytes.clone();
        bad[0] = b'X';
        assert_eq!(read_features(&bad).err(), Some(FeatureFileError::BadMagic));
        assert_eq!(
            read_features(&bytes[..bytes.len() - 1]).err(),
            Some(FeatureFileError::Truncated(bytes.len() - 1, bytes.len()))
        );
        let mut long = bytes.clone();
        long.push(0);
        assert_eq!(
            read_features(&long).err(),
            Some(FeatureFileError::TrailingBytes(1))
        );
        let mut huge = bytes.clone();
        huge[20..24].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            read_features(&huge),
            Err(FeatureFileError::Truncated(..))
        ));
        let mut neg = bytes;
        neg[12..20].copy_from_slice(&(-1.0f64).to_le_bytes());
        assert!(matches!(
            read_features(&neg),
            Err(FeatureFileError::BadHeader(_))
        ));
    }
}
