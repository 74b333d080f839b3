//! antimatter15's `.splat` (the WebGL viewer's format): headerless 32-byte records.
//!
//! | bytes | field |
//! |---|---|
//! | 0..12 | position, f32 × 3 |
//! | 12..24 | scale, f32 × 3, linear (not log) |
//! | 24..28 | RGBA u8: RGB = `(0.5 + SH_C0 · f_dc) · 255`, A = `sigmoid(opacity) · 255` |
//! | 28..32 | rotation u8 × 4, `q · 128 + 128`, order `w x y z` |
//!
//! Coordinates are those of the PLY it was converted from (no axis change). Only the DC colour
//! survives, so the scene has SH degree 0.

use super::error::FormatError;
use super::scene::{logit, GaussianScene, SH_C0};

/// Bytes per splat in a `.splat` file.
pub const SPLAT_RECORD_BYTES: usize = 32;

/// Reads an antimatter15 `.splat` file into an SH-degree-0 scene.
///
/// Scales become `ln(max(scale, f32::MIN_POSITIVE))`; alpha 0 and 255 map to finite logits
/// (see [`logit`]). Fails if the length is not a multiple of 32.
pub fn read_splat(bytes: &[u8]) -> Result<GaussianScene, FormatError> {
    if !bytes.len().is_multiple_of(SPLAT_RECORD_BYTES) {
        return Err(FormatError::SplatLength(bytes.len()));
    }
    let n = bytes.len() / SPLAT_RECORD_BYTES;
    let mut scene = GaussianScene {
        sh_degree: 0,
        positions: Vec::with_capacity(n),
        log_scales: Vec::with_capacity(n),
        rotations: Vec::with_capacity(n),
        opacity_logits: Vec::with_capacity(n),
        sh: Vec::with_capacity(3 * n),
    };
    let f32_at = |r: &[u8], i: usize| f32::from_le_bytes([r[i], r[i + 1], r[i + 2], r[i + 3]]);
    for r in bytes.chunks_exact(SPLAT_RECORD_BYTES) {
        scene
            .positions
            .push([f32_at(r, 0), f32_at(r, 4), f32_at(r, 8)]);
        scene.log_scales.push(
            [f32_at(r, 12), f32_at(r, 16), f32_at(r, 20)].map(|s| s.max(f32::MIN_POSITIVE).ln()),
        );
        scene.sh.extend(
            r[24..27]
                .iter()
                .map(|&c| (f32::from(c) / 255.0 - 0.5) / SH_C0),
        );
        scene.opacity_logits.push(logit(f32::from(r[27]) / 255.0));
        scene.rotations.push([
            (f32::from(r[28]) - 128.0) / 128.0,
            (f32::from(r[29]) - 128.0) / 128.0,
            (f32::from(r[30]) - 128.0) / 128.0,
            (f32::from(r[31]) - 128.0) / 128.0,
        ]);
    }
    Ok(scene)
}
