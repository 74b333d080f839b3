//! Geometric verification of every matched pair: the two-view geometry (E, F, H in
//! LO-RANSAC) decides which matches are real; only those enter the correspondence graph.

use nalgebra::{Isometry3, Vector2};

use super::input::SfmInput;
use crate::sfm::geometry::{estimate_two_view, TwoViewConfig, TwoViewOptions};

/// A pair after verification.
#[derive(Debug, Clone)]
pub struct VerifiedPair {
    pub a: usize,
    pub b: usize,
    pub config: TwoViewConfig,
    /// The matches consistent with the pair's geometry.
    pub inliers: Vec<[u32; 2]>,
    /// `b`'s camera from `a`'s (unit baseline) where calibrated.
    pub cam_b_from_cam_a: Option<Isometry3<f64>>,
    /// Median triangulation angle of the inliers, radians.
    pub tri_angle: f64,
}

/// Inlier threshold of verification, pixels.
pub const VERIFY_MAX_ERROR_PX: f64 = 4.0;

/// Verifies pair `k` of `input`; pairs with too few consistent matches come back degenerate.
pub fn verify_pair(input: &SfmInput, k: usize, seed: u64) -> Option<VerifiedPair> {
    let pair = input.pairs.get(k)?;
    let (ia, ib) = (input.images.get(pair.a)?, input.images.get(pair.b)?);
    let (ca, cb) = (input.camera_of(pair.a)?, input.camera_of(pair.b)?);
    let mut px1 = Vec::with_capacity(pair.matches.len());
    let mut px2 = Vec::with_capacity(pair.matches.len());
    let mut used = Vec::with_capacity(pair.matches.len());
    for &[i, j] in &pair.matches {
        if let (Some(p), Some(q)) = (ia.keypoints.get(i as usize), ib.keypoints.get(j as usize)) {
            px1.push(*p);
            px2.push(*q);
            used.push([i, j]);
        }
    }
    let n1: Vec<Vector2<f64>> = px1.iter().map(|p| ca.image_to_normalized(p)).collect();
    let n2: Vec<Vector2<f64>> = px2.iter().map(|p| cb.image_to_normalized(p)).collect();
    let focal = 0.5 * (ca.focal_lengths().mean() + cb.focal_lengths().mean());
    let options = TwoViewOptions {
        max_error_normalized: VERIFY_MAX_ERROR_PX / focal,
        max_error_px: VERIFY_MAX_ERROR_PX,
        seed,
        ..TwoViewOptions::default()
    };
    let g = estimate_two_view(&n1, &n2, &px1, &px2, &options);
    let inliers = used
        .iter()
        .zip(&g.inlier_mask)
        .filter(|(_, &keep)| keep)
        .map(|(m, _)| *m)
        .collect();
    Some(VerifiedPair {
        a: pair.a,
        b: pair.b,
        config: g.config,
        inliers,
        cam_b_from_cam_a: g.cam2_from_cam1,
        tri_angle: g.tri_angle,
    })
}
