//! The mapper's steps on a [`MapState`]: triangulating an image's features, registering a new
//! image by absolute pose, bundle adjustment and outlier filtering.

use std::collections::{BTreeSet, HashMap, HashSet};

use nalgebra::{Isometry3, Vector2, Vector3};

use super::state::{image_id, image_index, MapState};
use super::MapperOptions;
use crate::sfm::geometry::{
    estimate_absolute_pose, triangulate_checked, triangulation_angle, AbsolutePoseOptions,
    RansacOptions, TriangulationOptions,
};
use crate::sfm::{bundle_adjust, BundleOptions, BundleReport, LossFunction};

/// Triangulates the features of registered image `i`: continues the tracks of matched points
/// that are already 3D (when they reproject within the threshold) and creates points from the
/// matches among registered images that have none. Returns the points created.
pub fn triangulate_image(st: &mut MapState<'_>, i: usize, opts: &MapperOptions) -> usize {
    let kps: Vec<u32> = st.graph.linked_keypoints(i).collect();
    let mut created = 0;
    for kp in kps {
        if st.point_of(i, kp).is_some() {
            continue;
        }
        let neighbours: Vec<(usize, u32)> = st
            .graph
            .neighbours(i, kp)
            .iter()
            .copied()
            .filter(|&(j, _)| j != i && st.is_registered(j))
            .collect();
        if neighbours.is_empty() {
            continue;
        }
        // Continue an existing track.
        let mut continued = false;
        for &(j, kpj) in &neighbours {
            let Some(point) = st.point_of(j, kpj) else {
                continue;
            };
            if st.observes(i, point) {
                continue;
            }
            let Some(xyz) = st.rec.points3d.get(&point).map(|p| p.xyz) else {
                continue;
            };
            if st
                .reprojection_error_px(i, kp, &xyz)
                .is_some_and(|e| e <= opts.max_reprojection_error_px)
            {
                st.add_observation(point, i, kp);
                continued = true;
                break;
            }
        }
        if continued {
            continue;
        }
        // A new point from this feature and its registered, untriangulated neighbours (one
        // per image).
        let mut views = vec![(i, kp)];
        let mut seen = HashSet::from([i]);
        for &(j, kpj) in &neighbours {
            if st.point_of(j, kpj).is_none() && seen.insert(j) {
                views.push((j, kpj));
            }
        }
        if views.len() < 2 {
            continue;
        }
        if let Some(xyz) = triangulate_views(st, &views, opts) {
            st.add_point(xyz, &views);
            created += 1;
        }
    }
    created
}

/// A point seen by `views`, if it passes the angle, depth and reprojection checks.
fn triangulate_views(
    st: &MapState<'_>,
    views: &[(usize, u32)],
    opts: &MapperOptions,
) -> Option<Vector3<f64>> {
    let mut poses = Vec::with_capacity(views.len());
    let mut points = Vec::with_capacity(views.len());
    let mut focal = f64::INFINITY;
    for &(j, kp) in views {
        poses.push(st.pose(j)?);
        points.push(st.normalized(j, kp)?);
        focal = focal.min(st.focal(j));
    }
    let options = TriangulationOptions {
        min_angle: opts.min_triangulation_angle_deg.to_radians(),
        max_error: opts.max_reprojection_error_px / focal,
    };
    triangulate_checked(&poses, &points, &options).ok()
}

/// Why an image could not be registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegisterFailure {
    /// Fewer features matching 3D points than needed.
    TooFewCorrespondences(usize),
    /// The absolute pose had too few inliers.
    PoseFailed {
        correspondences: usize,
        inliers: usize,
    },
}

/// 2D–3D correspondences of unregistered image `i`: (keypoint, point id), each point once.
pub fn correspondences_2d3d(st: &MapState<'_>, i: usize) -> Vec<(u32, u64)> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for kp in st.graph.linked_keypoints(i) {
        for &(j, kpj) in st.graph.neighbours(i, kp) {
            if let Some(p) = st.point_of(j, kpj) {
                if seen.insert(p) {
                    out.push((kp, p));
                }
                break;
            }
        }
    }
    out.sort_unstable();
    out
}

/// Registers image `i` from its 2D–3D correspondences (P3P in LO-RANSAC, then refinement) and
/// adds the inlier observations.
pub fn register_image(
    st: &mut MapState<'_>,
    i: usize,
    opts: &MapperOptions,
) -> Result<usize, RegisterFailure> {
    let corr = correspondences_2d3d(st, i);
    if corr.len() < opts.min_registration_inliers {
        return Err(RegisterFailure::TooFewCorrespondences(corr.len()));
    }
    let mut pts2d: Vec<Vector2<f64>> = Vec::with_capacity(corr.len());
    let mut pts3d: Vec<Vector3<f64>> = Vec::with_capacity(corr.len());
    for &(kp, p) in &corr {
        if let (Some(n), Some(pt)) = (st.normalized(i, kp), st.rec.points3d.get(&p)) {
            pts2d.push(n);
            pts3d.push(pt.xyz);
        }
    }
    let options = AbsolutePoseOptions {
        ransac: RansacOptions {
            max_error: opts.max_pose_error_px / st.focal(i),
            max_iterations: 10_000,
            seed: opts.seed.wrapping_add(i as u64),
            ..RansacOptions::default()
        },
        refine: true,
    };
    let pose = estimate_absolute_pose(&pts2d, &pts3d, &options);
    let inliers = pose.as_ref().map_or(0, |p| p.num_inliers);
    let Some(pose) = pose.filter(|p| {
        p.num_inliers >= opts.min_registration_inliers
            && p.num_inliers as f64 >= opts.min_registration_inlier_ratio * corr.len() as f64
    }) else {
        return Err(RegisterFailure::PoseFailed {
            correspondences: corr.len(),
            inliers,
        });
    };
    st.register(i, pose.cam_from_world);
    let mut added = 0;
    for (&(kp, p), &keep) in corr.iter().zip(&pose.inlier_mask) {
        if keep && !st.observes(i, p) {
            st.add_observation(p, i, kp);
            added += 1;
        }
    }
    Ok(added)
}

/// The registered images sharing the most points with `i` (at most `n`), plus `i`.
pub fn local_window(st: &MapState<'_>, i: usize, n: usize) -> BTreeSet<u32> {
    let mut shared: HashMap<u32, usize> = HashMap::new();
    if let Some(img) = st.rec.images.get(&image_id(i)) {
        for p in img.points2d.iter().filter_map(|p| p.point3d_id) {
            if let Some(pt) = st.rec.points3d.get(&p) {
                for t in &pt.track {
                    if t.image_id != image_id(i) {
                        *shared.entry(t.image_id).or_default() += 1;
                    }
                }
            }
        }
    }
    let mut by_count: Vec<(u32, usize)> = shared.into_iter().collect();
    by_count.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    by_count
        .into_iter()
        .take(n)
        .map(|(id, _)| id)
        .chain([image_id(i)])
        .collect()
}

/// Which camera intrinsics a bundle adjustment refines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intrinsics {
    /// None: poses and points only (the two-view start and local adjustments).
    Fixed,
    /// Focal length and distortion (global adjustments, as COLMAP).
    FocalAndDistortion,
    /// Focal length, distortion and the principal point (the final adjustment of a camera
    /// many photos constrain).
    All,
}

/// Bundle adjustment with the mapper's gauge (the initial pair's first image fixed, one
/// translation coordinate of its second fixed); `variable` limits it to a local window.
///
/// Plain least squares, as COLMAP's global adjustment: observations beyond the threshold are
/// removed after every adjustment anyway, and a redescending loss (Cauchy, soft-L1) solved by
/// reweighting overestimates the curvature, so it crawled through 25–50 iterations where least
/// squares converges in 2–5, and ended less accurate on the Strecha scenes.
pub fn adjust(
    st: &mut MapState<'_>,
    gauge: (usize, usize),
    variable: Option<BTreeSet<u32>>,
    intrinsics: Intrinsics,
    max_iterations: usize,
) -> Option<BundleReport> {
    let (a, b) = gauge;
    let t = st.pose(b)?.translation.vector;
    let axis = t.iamax();
    let refine = intrinsics != Intrinsics::Fixed;
    let options = BundleOptions {
        loss: LossFunction::Trivial,
        max_iterations,
        refine_focal: refine,
        refine_extra: refine,
        refine_principal_point: intrinsics == Intrinsics::All,
        fixed_images: BTreeSet::from([image_id(a)]),
        fixed_scale_image: Some((image_id(b), axis)),
        variable_images: variable,
        // A relative cost decrease under 1e-6 moves poses far below their uncertainty;
        // tighter tolerances only spend iterations.
        function_tolerance: 1e-6,
        parameter_tolerance: 1e-8,
        ..BundleOptions::default()
    };
    let report = bundle_adjust(&mut st.rec, &options).ok();
    if let Some(r) = &report {
        tracing::debug!(
            "bundle adjustment of {} images ({}): {} observations, {} iterations ({:?}), RMS {:.3} -> {:.3} px",
            r.variable_images,
            if options.variable_images.is_some() { "local" } else { "global" },
            r.observations,
            r.iterations,
            r.termination,
            r.initial_rms_px,
            r.final_rms_px
        );
    }
    report
}

/// Removes observations whose reprojection error exceeds the threshold and points whose rays
/// meet at too small an angle; returns how many observations went.
pub fn filter_outliers(st: &mut MapState<'_>, opts: &MapperOptions) -> usize {
    let mut bad: Vec<(u64, u32, u32)> = Vec::new();
    let mut narrow: Vec<u64> = Vec::new();
    for (&id, p) in &st.rec.points3d {
        for t in &p.track {
            let i = image_index(t.image_id);
            let e = st.reprojection_error_px(i, t.point2d_idx, &p.xyz);
            if e.is_none_or(|e| e > opts.max_reprojection_error_px) {
                bad.push((id, t.image_id, t.point2d_idx));
            }
        }
        if !wide_enough(st, p, opts.min_triangulation_angle_deg.to_radians()) {
            narrow.push(id);
        }
    }
    let removed = bad.len();
    for (id, image, kp) in bad {
        st.remove_observation(id, image, kp);
    }
    for id in narrow {
        st.remove_point(id);
    }
    removed
}

/// Whether some pair of the point's viewing rays meets at `min_angle` or more.
fn wide_enough(st: &MapState<'_>, p: &crate::sfm::Point3D, min_angle: f64) -> bool {
    let centres: Vec<Vector3<f64>> = p
        .track
        .iter()
        .filter_map(|t| st.rec.images.get(&t.image_id).map(|im| im.center()))
        .collect();
    for (k, a) in centres.iter().enumerate() {
        for b in &centres[k + 1..] {
            if triangulation_angle(a, b, &p.xyz) >= min_angle {
                return true;
            }
        }
    }
    false
}

/// Registers the initial pair `a`, `b` with `b`'s relative pose and triangulates their
/// verified matches; returns the points created.
pub fn initialize(
    st: &mut MapState<'_>,
    a: usize,
    b: usize,
    b_from_a: Isometry3<f64>,
    opts: &MapperOptions,
) -> usize {
    st.register(a, Isometry3::identity());
    st.register(b, b_from_a);
    triangulate_image(st, b, opts)
}
