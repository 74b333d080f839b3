//! Incremental Structure-from-Motion: geometric verification of the matched pairs, an initial
//! pair with many inliers and a wide baseline, then image after image registered by absolute
//! pose (P3P in LO-RANSAC), new points triangulated, local bundle adjustment after each image,
//! global bundle adjustment as the model grows (with outlier filtering and re-triangulation),
//! and a final global adjustment. Photos that cannot be registered are listed with the reason.

mod graph;
mod input;
mod state;
mod steps;
#[cfg(test)]
mod tests;
mod verify;

pub use graph::CorrespondenceGraph;
pub use input::{PairMatches, SfmImage, SfmInput};
pub use steps::RegisterFailure;
pub use verify::{verify_pair, VerifiedPair};

use serde::Serialize;

use crate::sfm::geometry::TwoViewConfig;
use crate::sfm::Reconstruction;
use state::{image_index, MapState};
use steps::Intrinsics;

/// Settings of [`reconstruct`].
#[derive(Debug, Clone, PartialEq)]
pub struct MapperOptions {
    /// Reprojection error above which an observation is an outlier (pixels).
    pub max_reprojection_error_px: f64,
    /// Inlier threshold of image registration (pixels).
    pub max_pose_error_px: f64,
    /// Rays of a new point must meet at this angle or more (degrees).
    pub min_triangulation_angle_deg: f64,
    /// The initial pair's median triangulation angle must reach this (degrees).
    pub init_min_triangulation_angle_deg: f64,
    /// An image registers with at least this many pose inliers...
    pub min_registration_inliers: usize,
    /// ...making up at least this fraction of its 2D–3D correspondences.
    pub min_registration_inlier_ratio: f64,
    /// Images besides the new one in a local bundle adjustment.
    pub local_window: usize,
    /// A global adjustment runs when the model has grown by this factor since the last.
    pub global_growth: f64,
    /// The final adjustment refines a camera's principal point only when every camera is seen
    /// by at least this many registered photos (fewer do not constrain it).
    pub principal_point_min_images: usize,
    /// Seed of every random choice (results are deterministic).
    pub seed: u64,
}

impl Default for MapperOptions {
    fn default() -> Self {
        Self {
            max_reprojection_error_px: 4.0,
            max_pose_error_px: 8.0,
            min_triangulation_angle_deg: 1.5,
            init_min_triangulation_angle_deg: 4.0,
            min_registration_inliers: 30,
            min_registration_inlier_ratio: 0.25,
            local_window: 6,
            global_growth: 1.25,
            principal_point_min_images: 6,
            seed: 7,
        }
    }
}

/// Where a reconstruction stands, for progress bars and job status.
#[derive(Debug, Clone, PartialEq)]
pub struct SfmProgress {
    /// `verification`, `mapping` or `bundle adjustment`.
    pub stage: &'static str,
    /// 0–1 within the stage.
    pub fraction: f64,
    pub message: String,
}

/// A photo left out of the model, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnregisteredImage {
    pub name: String,
    pub reason: String,
}

/// The result: the model and what happened to every photo.
#[derive(Debug, Clone)]
pub struct SfmResult {
    pub reconstruction: Reconstruction,
    pub unregistered: Vec<UnregisteredImage>,
    /// Pairs verified as real overlaps (of those matched).
    pub verified_pairs: usize,
    pub matched_pairs: usize,
    /// Root-mean-square reprojection error after the final adjustment (pixels).
    pub rms_reprojection_px: f64,
}

/// Why no model came out.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SfmError {
    #[error("structure-from-motion needs at least two photos, got {0}")]
    TooFewImages(usize),
    #[error("no two photos overlap with enough matches and baseline to start a reconstruction ({verified} of {matched} matched pairs verified)")]
    NoInitialPair { verified: usize, matched: usize },
    #[error("the reconstruction failed: {0}")]
    Failed(String),
}

/// Reconstructs cameras and points from `input`; `progress` hears about every step.
pub fn reconstruct(
    input: &SfmInput,
    opts: &MapperOptions,
    progress: &mut dyn FnMut(SfmProgress),
) -> Result<SfmResult, SfmError> {
    let n = input.images.len();
    if n < 2 {
        return Err(SfmError::TooFewImages(n));
    }
    let total = input.pairs.len();
    let verified: Vec<VerifiedPair> = crate::sfm::parallel::map_items(
        total,
        &mut |done| {
            progress(SfmProgress {
                stage: "verification",
                fraction: done as f64 / total.max(1) as f64,
                message: format!("verified pair {done} of {total}"),
            })
        },
        |k| verify_pair(input, k, opts.seed.wrapping_add(k as u64)),
    )
    .into_iter()
    .flatten()
    .collect();
    let matched = verified.len();
    let good = verified
        .iter()
        .filter(|v| v.config != TwoViewConfig::Degenerate)
        .count();
    let graph = CorrespondenceGraph::new(n, &verified);
    let initial = initial_pairs(&verified, opts);
    if initial.is_empty() {
        return Err(SfmError::NoInitialPair {
            verified: good,
            matched,
        });
    }
    // Try the best initial pairs until one grows a model of at least half the connected
    // photos (or the best one otherwise).
    let connected = (0..n).filter(|&i| graph.is_connected(i)).count();
    let mut best: Option<(MapState<'_>, Vec<UnregisteredImage>)> = None;
    for &(a, b, pose) in initial.iter().take(3) {
        let mut st = MapState::new(input, &graph);
        let failures = grow(&mut st, (a, b), pose, opts, progress);
        let registered = st.rec.images.len();
        let better = best
            .as_ref()
            .is_none_or(|(b, _)| registered > b.rec.images.len());
        if better {
            best = Some((st, failures));
        }
        if registered * 2 >= connected.max(2) {
            break;
        }
    }
    let Some((st, failures)) = best else {
        return Err(SfmError::NoInitialPair {
            verified: good,
            matched,
        });
    };
    if st.rec.images.len() < 2 || st.rec.points3d.is_empty() {
        return Err(SfmError::Failed(
            "no initial pair gave a stable two-view model".into(),
        ));
    }
    let rms = rms_error(&st);
    Ok(SfmResult {
        reconstruction: st.rec,
        unregistered: failures,
        verified_pairs: good,
        matched_pairs: matched,
        rms_reprojection_px: rms,
    })
}

/// Calibrated pairs with a pose, best first: wide enough baseline, then most inliers.
fn initial_pairs(
    verified: &[VerifiedPair],
    opts: &MapperOptions,
) -> Vec<(usize, usize, nalgebra::Isometry3<f64>)> {
    let min_angle = opts.init_min_triangulation_angle_deg.to_radians();
    let mut pairs: Vec<(bool, usize, usize, usize, nalgebra::Isometry3<f64>)> = verified
        .iter()
        .filter(|v| matches!(v.config, TwoViewConfig::Calibrated | TwoViewConfig::Planar))
        .filter_map(|v| {
            v.cam_b_from_cam_a
                .map(|p| (v.tri_angle >= min_angle, v.inliers.len(), v.a, v.b, p))
        })
        .filter(|p| p.1 >= 50)
        .collect();
    pairs.sort_by(|x, y| y.0.cmp(&x.0).then(y.1.cmp(&x.1)));
    pairs.into_iter().map(|p| (p.2, p.3, p.4)).collect()
}

/// Grows a model from the initial pair; returns the photos it could not register.
fn grow(
    st: &mut MapState<'_>,
    (a, b): (usize, usize),
    b_from_a: nalgebra::Isometry3<f64>,
    opts: &MapperOptions,
    progress: &mut dyn FnMut(SfmProgress),
) -> Vec<UnregisteredImage> {
    let n = st.input.images.len();
    let connected = (0..n).filter(|&i| st.graph.is_connected(i)).count().max(2);
    steps::initialize(st, a, b, b_from_a, opts);
    steps::adjust(st, (a, b), None, Intrinsics::Fixed, 50);
    steps::filter_outliers(st, opts);
    let mut last_global = 2usize;
    let mut failed: Vec<Option<RegisterFailure>> = vec![None; n];
    loop {
        report(progress, st, connected);
        // The unregistered photo seeing the most triangulated points goes next.
        let candidates: Vec<usize> = (0..n)
            .filter(|&i| !st.is_registered(i) && failed[i].is_none())
            .collect();
        let shared: &MapState<'_> = st;
        let counts = crate::sfm::parallel::map_items(candidates.len(), &mut |_| {}, |k| {
            steps::correspondences_2d3d(shared, candidates[k]).len()
        });
        let next = counts
            .into_iter()
            .zip(candidates)
            .max_by(|x, y| x.0.cmp(&y.0).then(y.1.cmp(&x.1)));
        let Some((_, i)) = next else {
            break;
        };
        match steps::register_image(st, i, opts) {
            Ok(_) => {
                steps::triangulate_image(st, i, opts);
                let window = steps::local_window(st, i, opts.local_window);
                steps::adjust(st, (a, b), Some(window), Intrinsics::Fixed, 25);
                steps::filter_outliers(st, opts);
                let registered = st.rec.images.len();
                if registered as f64 >= last_global as f64 * opts.global_growth {
                    global_round(st, (a, b), opts);
                    last_global = registered;
                }
                // New points may make earlier failures registrable.
                failed.iter_mut().for_each(|f| *f = None);
            }
            Err(e) => failed[i] = Some(e),
        }
    }
    progress(SfmProgress {
        stage: "bundle adjustment",
        fraction: 0.0,
        message: format!("final adjustment of {} photos", st.rec.images.len()),
    });
    global_round(st, (a, b), opts);
    final_adjustment(st, (a, b), opts);
    progress(SfmProgress {
        stage: "bundle adjustment",
        fraction: 1.0,
        message: format!(
            "{} photos, {} points",
            st.rec.images.len(),
            st.rec.points3d.len()
        ),
    });
    (0..n)
        .filter(|&i| !st.is_registered(i))
        .map(|i| UnregisteredImage {
            name: st.input.images[i].name.clone(),
            reason: if !st.graph.is_connected(i) {
                "no verified matches with any other photo (unrelated, or too little overlap)".into()
            } else {
                match &failed[i] {
                    Some(RegisterFailure::TooFewCorrespondences(c)) => format!(
                        "only {c} of its features match reconstructed points (need {})",
                        opts.min_registration_inliers
                    ),
                    Some(RegisterFailure::PoseFailed {
                        correspondences,
                        inliers,
                    }) => format!(
                        "no consistent camera pose: {inliers} of {correspondences} matches agree"
                    ),
                    None => "not reached from the photos of the model".into(),
                }
            },
        })
        .collect()
}

/// Global adjustment (focal length and distortion refined), outlier filtering,
/// re-triangulation of every image.
fn global_round(st: &mut MapState<'_>, gauge: (usize, usize), opts: &MapperOptions) {
    steps::adjust(st, gauge, None, Intrinsics::FocalAndDistortion, 50);
    steps::filter_outliers(st, opts);
    for i in st.registered() {
        steps::triangulate_image(st, i, opts);
    }
    steps::adjust(st, gauge, None, Intrinsics::FocalAndDistortion, 30);
    steps::filter_outliers(st, opts);
}

/// The last adjustment, outlier filtering and a polish; then, when every camera is seen by
/// [`MapperOptions::principal_point_min_images`] photos or more, the principal point is
/// refined too and kept if the data ask for it. A principal point fixed at the image centre
/// (COLMAP's default) is off by ~10 px on real lenses, which tilts every camera by
/// atan(10 / f) ≈ 0.5°; but where the views barely constrain it (a ring of cameras at one
/// height), freeing it lets it drift and tilt the cameras instead. So the refinement is kept
/// only if it lowers the squared error by more than [`PRINCIPAL_POINT_MIN_GAIN`] times the
/// noise variance (a likelihood-ratio test: two free parameters that the data do not need
/// gain about 2) and leaves the point within [`MAX_PRINCIPAL_POINT_SHIFT`] of the centre.
fn final_adjustment(st: &mut MapState<'_>, gauge: (usize, usize), opts: &MapperOptions) {
    steps::adjust(st, gauge, None, Intrinsics::FocalAndDistortion, 100);
    steps::filter_outliers(st, opts);
    let Some(fixed) = steps::adjust(st, gauge, None, Intrinsics::FocalAndDistortion, 50) else {
        return;
    };
    let mut views: std::collections::BTreeMap<u32, usize> = std::collections::BTreeMap::new();
    for image in st.rec.images.values() {
        *views.entry(image.camera_id).or_default() += 1;
    }
    if !views
        .values()
        .all(|&n| n >= opts.principal_point_min_images.max(1))
    {
        return;
    }
    let before = st.rec.clone();
    let Some(free) = steps::adjust(st, gauge, None, Intrinsics::All, 50) else {
        st.rec = before;
        return;
    };
    let unknowns = 3 * free.variable_points + 6 * free.variable_images + 4 * views.len();
    let dof = (2 * free.observations).saturating_sub(unknowns).max(1) as f64;
    let gain = (fixed.final_cost - free.final_cost) * dof / free.final_cost.max(f64::MIN_POSITIVE);
    let plausible = st.rec.cameras.values().all(plausible_principal_point);
    tracing::debug!(
        "principal point refinement: likelihood-ratio gain {gain:.1}, plausible {plausible}"
    );
    if gain > PRINCIPAL_POINT_MIN_GAIN && plausible {
        steps::filter_outliers(st, opts);
        steps::adjust(st, gauge, None, Intrinsics::All, 30);
    } else {
        st.rec = before;
    }
}

/// The squared-error decrease, in units of the noise variance, that freeing the principal point
/// must bring to be kept (chi-square with 2 degrees of freedom exceeds 30 with probability 3e-7).
pub const PRINCIPAL_POINT_MIN_GAIN: f64 = 30.0;

/// How far (fraction of the image's width or height) a refined principal point may move from
/// the image centre before it is taken for a poorly constrained drift.
pub const MAX_PRINCIPAL_POINT_SHIFT: f64 = 0.1;

fn plausible_principal_point(camera: &crate::sfm::Camera) -> bool {
    let (w, h) = (camera.width as f64, camera.height as f64);
    let c = camera.principal_point();
    let (cx, cy) = (c.x, c.y);
    (cx - w / 2.0).abs() <= MAX_PRINCIPAL_POINT_SHIFT * w
        && (cy - h / 2.0).abs() <= MAX_PRINCIPAL_POINT_SHIFT * h
}

fn report(progress: &mut dyn FnMut(SfmProgress), st: &MapState<'_>, connected: usize) {
    progress(SfmProgress {
        stage: "mapping",
        fraction: st.rec.images.len() as f64 / connected as f64,
        message: format!(
            "registered {} of {} photos, {} points",
            st.rec.images.len(),
            st.input.images.len(),
            st.rec.points3d.len()
        ),
    });
}

/// Root-mean-square reprojection error over every observation, pixels.
fn rms_error(st: &MapState<'_>) -> f64 {
    let (mut sum, mut count) = (0.0, 0usize);
    for p in st.rec.points3d.values() {
        for t in &p.track {
            if let Some(e) =
                st.reprojection_error_px(image_index(t.image_id), t.point2d_idx, &p.xyz)
            {
                sum += e * e;
                count += 1;
            }
        }
    }
    if count == 0 {
        0.0
    } else {
        (sum / count as f64).sqrt()
    }
}
