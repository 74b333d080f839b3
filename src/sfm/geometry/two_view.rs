//! Two-view geometry of an image pair: E, F and H by RANSAC and COLMAP's classification
//! (calibrated, uncalibrated, planar, panoramic, degenerate), with the relative pose and the
//! median triangulation angle the mapper uses to pick its initial pair.

use nalgebra::{Isometry3, Matrix3, Vector2, Vector3};

use super::epipolar::{EpipolarEstimator, EpipolarMatrix};
use super::essential::{essential_from_pose, relative_pose_from_essential};
use super::essential_refine::refine_relative_pose;
use super::homography::HomographyEstimator;
use super::ransac::{ransac, required_iterations, RansacOptions};
use super::triangulation::triangulation_angle;

/// How the pair's correspondences are best explained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TwoViewConfig {
    /// Too few inliers for any model.
    Degenerate,
    /// E explains the matches (calibrated cameras, general scene).
    Calibrated,
    /// Only F explains the matches (intrinsics unreliable).
    Uncalibrated,
    /// H explains about as many matches as E/F, with a baseline: a planar scene.
    Planar,
    /// H explains the matches and the rays do not triangulate: (nearly) pure rotation.
    Panoramic,
}

/// Settings of [`estimate_two_view`].
#[derive(Debug, Clone, PartialEq)]
pub struct TwoViewOptions {
    /// E inlier threshold in normalized units (e.g. max_error_px / focal).
    pub max_error_normalized: f64,
    /// F and H inlier threshold in pixels.
    pub max_error_px: f64,
    /// Fewer inliers than this: the model does not count.
    pub min_num_inliers: usize,
    /// E is preferred when its inliers are at least this fraction of F's.
    pub min_e_f_inlier_ratio: f64,
    /// H inliers above this fraction of E's (or F's) inliers: planar or panoramic.
    pub max_h_inlier_ratio: f64,
    /// Planar-or-panoramic pairs whose median triangulation angle (radians) is below this are
    /// panoramic.
    pub panoramic_max_angle: f64,
    pub confidence: f64,
    pub min_iterations: usize,
    pub max_iterations: usize,
    pub seed: u64,
}

impl Default for TwoViewOptions {
    fn default() -> Self {
        Self {
            max_error_normalized: 4.0 / 1000.0,
            max_error_px: 4.0,
            min_num_inliers: 15,
            min_e_f_inlier_ratio: 0.95,
            max_h_inlier_ratio: 0.8,
            panoramic_max_angle: 0.5f64.to_radians(),
            confidence: 0.999,
            min_iterations: 50,
            max_iterations: 10_000,
            seed: 0,
        }
    }
}

/// The geometry of one image pair.
#[derive(Debug, Clone, PartialEq)]
pub struct TwoViewGeometry {
    pub config: TwoViewConfig,
    /// Essential matrix (normalized coordinates), when E had enough inliers.
    pub e: Option<Matrix3<f64>>,
    /// Fundamental matrix (pixels), when F had enough inliers.
    pub f: Option<Matrix3<f64>>,
    /// Homography (pixels), when H had enough inliers.
    pub h: Option<Matrix3<f64>>,
    /// Inliers of the model the configuration rests on.
    pub inlier_mask: Vec<bool>,
    pub num_inliers: usize,
    /// x2 = R x1 + t with |t| = 1, for calibrated and planar pairs (rotation only is meaningful
    /// for panoramic ones).
    pub cam2_from_cam1: Option<Isometry3<f64>>,
    /// Median triangulation angle of the E inliers in front of both cameras, radians (0 if none).
    pub tri_angle: f64,
}

impl TwoViewGeometry {
    fn degenerate(n: usize) -> Self {
        Self {
            config: TwoViewConfig::Degenerate,
            e: None,
            f: None,
            h: None,
            inlier_mask: vec![false; n],
            num_inliers: 0,
            cam2_from_cam1: None,
            tri_angle: 0.0,
        }
    }
}

/// Estimates E (from `norm1`/`norm2`, normalized coordinates), F and H (from `px1`/`px2`, the
/// same matches in pixels) and classifies the pair as COLMAP does.
pub fn estimate_two_view(
    norm1: &[Vector2<f64>],
    norm2: &[Vector2<f64>],
    px1: &[Vector2<f64>],
    px2: &[Vector2<f64>],
    options: &TwoViewOptions,
) -> TwoViewGeometry {
    let n = norm1.len();
    if norm2.len() != n || px1.len() != n || px2.len() != n {
        return TwoViewGeometry::degenerate(n);
    }
    let ransac_options = |max_error: f64, salt: u64| RansacOptions {
        max_error,
        confidence: options.confidence,
        min_iterations: options.min_iterations,
        max_iterations: options.max_iterations,
        seed: options.seed.wrapping_add(salt),
        ..RansacOptions::default()
    };
    let min = options.min_num_inliers.max(1);
    let keep = |r: Option<(Matrix3<f64>, Vec<bool>, usize)>| r.filter(|r| r.2 >= min);
    // E on the normalized points, F on the pixels, each RANSAC with its own seed salt.
    let epipolar = |matrix, x1, x2, max_error, salt| {
        let estimator = EpipolarEstimator { matrix, x1, x2 };
        keep(
            ransac(&estimator, &ransac_options(max_error, salt))
                .map(|r| (r.model, r.inlier_mask, r.num_inliers)),
        )
    };
    let e = epipolar(
        EpipolarMatrix::Essential,
        norm1,
        norm2,
        options.max_error_normalized,
        1,
    );
    let f = epipolar(
        EpipolarMatrix::Fundamental,
        px1,
        px2,
        options.max_error_px,
        2,
    );
    // H only changes the decision when it explains more than `max_h_inlier_ratio` of E's or
    // F's inliers. If it did, an all-inlier sample would turn up within the iterations that
    // inlier ratio needs; after that many without one, the pair is not planar (with the same
    // confidence). Non-planar scenes would otherwise run H to the iteration cap.
    let best_ef = e
        .as_ref()
        .map_or(0, |m| m.2)
        .max(f.as_ref().map_or(0, |m| m.2));
    let mut h_options = ransac_options(options.max_error_px, 3);
    if best_ef > 0 && n > 0 {
        let ratio = options.max_h_inlier_ratio * best_ef as f64 / n as f64;
        h_options.max_iterations =
            required_iterations(ratio, 4, options.confidence, options.max_iterations)
                .max(options.min_iterations);
    }
    let h = keep(
        ransac(&HomographyEstimator { x1: px1, x2: px2 }, &h_options)
            .map(|r| (r.model.h, r.inlier_mask, r.num_inliers)),
    );
    let count = |m: &Option<(Matrix3<f64>, Vec<bool>, usize)>| m.as_ref().map_or(0, |m| m.2);
    let (ne, nf, nh) = (count(&e), count(&f), count(&h));
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };

    // COLMAP's decision: E if it explains nearly all F inliers, H-dominated pairs are planar or
    // panoramic, else F, else H alone.
    let mut planar_or_panoramic = false;
    let (config, mask) = if e.is_some() && ratio(ne, nf) >= options.min_e_f_inlier_ratio {
        if ratio(nh, ne) > options.max_h_inlier_ratio {
            planar_or_panoramic = true;
            let m = if nh > ne { h.as_ref() } else { e.as_ref() };
            (TwoViewConfig::Planar, m.map(|m| m.1.clone()))
        } else {
            (TwoViewConfig::Calibrated, e.as_ref().map(|m| m.1.clone()))
        }
    } else if f.is_some() {
        if ratio(nh, nf) > options.max_h_inlier_ratio {
            planar_or_panoramic = true;
            (TwoViewConfig::Planar, h.as_ref().map(|m| m.1.clone()))
        } else {
            (TwoViewConfig::Uncalibrated, f.as_ref().map(|m| m.1.clone()))
        }
    } else if h.is_some() {
        planar_or_panoramic = true;
        (TwoViewConfig::Planar, h.as_ref().map(|m| m.1.clone()))
    } else {
        (TwoViewConfig::Degenerate, None)
    };
    let mut out = TwoViewGeometry {
        config,
        e: e.as_ref().map(|m| m.0),
        f: f.as_ref().map(|m| m.0),
        h: h.as_ref().map(|m| m.0),
        inlier_mask: mask.unwrap_or_else(|| vec![false; n]),
        num_inliers: 0,
        cam2_from_cam1: None,
        tri_angle: 0.0,
    };
    out.num_inliers = out.inlier_mask.iter().filter(|&&b| b).count();

    // Relative pose and triangulation angle from E's inliers (calibrated or H-dominated pairs).
    if matches!(config, TwoViewConfig::Calibrated) || planar_or_panoramic {
        if let Some((em, emask, _)) = &e {
            let (a, b): (Vec<_>, Vec<_>) = (0..n)
                .filter(|&i| emask[i])
                .map(|i| (norm1[i], norm2[i]))
                .unzip();
            // Polish the pose on the Sampson error, then re-triangulate with the refined E.
            let rel =
                relative_pose_from_essential(em, &a, &b).map(|rel| {
                    match refine_relative_pose(&rel.cam2_from_cam1, &a, &b, 50) {
                        Some(refined) => {
                            let e_refined = essential_from_pose(&refined);
                            out.e = Some(e_refined);
                            relative_pose_from_essential(&e_refined, &a, &b)
                                .filter(|r| r.num_in_front >= rel.num_in_front / 2)
                                .unwrap_or(rel)
                        }
                        None => rel,
                    }
                });
            if let Some(rel) = rel {
                let c2 = rel.cam2_from_cam1.inverse().translation.vector;
                let mut angles: Vec<f64> = rel
                    .points
                    .iter()
                    .flatten()
                    .map(|p| triangulation_angle(&Vector3::zeros(), &c2, p))
                    .collect();
                out.tri_angle = median(&mut angles);
                out.cam2_from_cam1 = Some(rel.cam2_from_cam1);
            }
        }
    }
    if planar_or_panoramic && out.tri_angle < options.panoramic_max_angle {
        out.config = TwoViewConfig::Panoramic;
    }
    out
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        0.5 * (v[m - 1] + v[m])
    }
}
