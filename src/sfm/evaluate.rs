//! How good a reconstruction is against reference poses (Strecha ground truth, COLMAP's
//! poses): registered images, rotation and camera-centre errors after a robust similarity
//! alignment, and the reprojection error of the 3D points, as JSON-serialisable numbers for
//! tests and benchmarks.
//!
//! Definitions:
//! - Images are matched by name, exactly (see [`super::reference::strip_directories`] for
//!   references named with folders).
//! - The alignment maps estimated world coordinates onto the reference's:
//!   `x_ref = s·R·x_est + t`, fitted to the camera centres (Umeyama 1991) robustly (see
//!   [`robust_similarity`]), so a few mis-registered images do not spoil it.
//! - Rotation error of an image: the angle of `R_ref · (R_est · Rᵀ)ᵀ`, i.e. of
//!   `R_ref · R · R_estᵀ` (degrees), where `R_est·Rᵀ` is the estimated orientation moved into the
//!   reference frame.
//! - Centre error: `‖s·R·c_est + t − c_ref‖ / extent`, with the scene extent the largest
//!   distance between two reference camera centres (all reference images, registered or not,
//!   so the denominator is a property of the scene alone).
//! - Reprojection error: over every observation of every 3D point, `‖project(point) − xy‖` in
//!   pixels with the image's camera (distortion included); observations of points behind their
//!   camera are counted apart, not averaged.

use std::collections::{BTreeMap, HashMap};

use nalgebra::{Isometry3, Matrix3, Point3, UnitQuaternion, Vector3};
use rand::{rngs::SmallRng, Rng, SeedableRng};
use serde::Serialize;

use super::Reconstruction;

/// Random triples tried when there are more possible triples than this (all are tried below).
const MAX_TRIPLES: usize = 20_000;

/// Why an evaluation could not be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvalError {
    #[error("two reference poses are named {0:?}")]
    DuplicateReference(String),
    #[error("two registered images are named {0:?}")]
    DuplicateImage(String),
    #[error("pose of {0:?} is not finite")]
    NotFinite(String),
    #[error("only {matched} registered images match the reference; alignment needs 3")]
    TooFewMatched { matched: usize },
    #[error("the matched camera centres are (nearly) collinear: no unique similarity alignment")]
    Degenerate,
    #[error(
        "image {image_id} ({name:?}) uses camera {camera_id}, which is not in the reconstruction"
    )]
    MissingCamera {
        image_id: u32,
        name: String,
        camera_id: u32,
    },
    #[error("point {point3d_id} is observed by image {image_id} at 2D point {point2d_idx}, which does not exist")]
    DanglingTrack {
        point3d_id: u64,
        image_id: u32,
        point2d_idx: u32,
    },
}

/// A similarity transform `x ↦ scale · rotation · x + translation`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Similarity {
    pub scale: f64,
    /// A proper rotation (det +1); serialised as three rows.
    #[serde(serialize_with = "serialize_rows")]
    pub rotation: Matrix3<f64>,
    #[serde(serialize_with = "serialize_vector")]
    pub translation: Vector3<f64>,
}

impl Similarity {
    /// The image of the point `x`.
    pub fn apply(&self, x: &Vector3<f64>) -> Vector3<f64> {
        self.scale * (self.rotation * x) + self.translation
    }
}

fn serialize_rows<S: serde::Serializer>(m: &Matrix3<f64>, s: S) -> Result<S::Ok, S::Error> {
    let rows: [[f64; 3]; 3] = std::array::from_fn(|r| std::array::from_fn(|c| m[(r, c)]));
    rows.serialize(s)
}

fn serialize_vector<S: serde::Serializer>(v: &Vector3<f64>, s: S) -> Result<S::Ok, S::Error> {
    [v.x, v.y, v.z].serialize(s)
}

/// The similarity minimising `Σ‖s·R·aᵢ + t − bᵢ‖²` (Umeyama 1991, with the reflection
/// correction). `None` when fewer than 3 pairs, lengths differ, or either set is (nearly)
/// collinear, where the rotation about the line is undetermined.
pub fn umeyama(a: &[Vector3<f64>], b: &[Vector3<f64>]) -> Option<Similarity> {
    if a.len() != b.len() || a.len() < 3 {
        return None;
    }
    let n = a.len() as f64;
    let mean_a = a.iter().sum::<Vector3<f64>>() / n;
    let mean_b = b.iter().sum::<Vector3<f64>>() / n;
    let mut var_a = 0.0;
    let mut var_b = 0.0;
    let mut cov = Matrix3::zeros();
    for (x, y) in a.iter().zip(b) {
        let (da, db) = (x - mean_a, y - mean_b);
        var_a += da.norm_squared();
        var_b += db.norm_squared();
        cov += db * da.transpose();
    }
    if !(var_a > 0.0 && var_b > 0.0 && cov.iter().all(|v| v.is_finite())) {
        return None;
    }
    // Collinear sets have a rank-1 scatter: its second eigenvalue vanishes against the first.
    if !spread_in_two_directions(a, &mean_a) || !spread_in_two_directions(b, &mean_b) {
        return None;
    }
    let svd = cov.svd(true, true);
    let (u, v_t) = (svd.u?, svd.v_t?);
    let sv = svd.singular_values;
    let mut d = Vector3::repeat(1.0);
    if u.determinant() * v_t.determinant() < 0.0 {
        // Flip the weakest direction so the result is a rotation, not a reflection.
        d[sv.imin()] = -1.0;
    }
    let rotation = u * Matrix3::from_diagonal(&d) * v_t;
    let scale = sv.dot(&d) / var_a;
    if !(scale > 0.0 && scale.is_finite()) {
        return None;
    }
    let translation = mean_b - scale * (rotation * mean_a);
    Some(Similarity {
        scale,
        rotation,
        translation,
    })
}

/// Whether the points spread in at least two directions (not all on one line): the second
/// eigenvalue of their scatter matrix is above 1e-10 of the first.
fn spread_in_two_directions(points: &[Vector3<f64>], mean: &Vector3<f64>) -> bool {
    let scatter: Matrix3<f64> = points
        .iter()
        .map(|p| (p - mean) * (p - mean).transpose())
        .sum();
    let mut ev: Vec<f64> = scatter.symmetric_eigenvalues().iter().copied().collect();
    ev.sort_by(|x, y| y.total_cmp(x));
    ev[0] > 0.0 && ev[1] > 1e-10 * ev[0]
}

/// Umeyama made robust by least median of squares (Rousseeuw 1984), chosen because it needs no
/// inlier threshold, which would have to be guessed in the estimated scene's unknown scale:
/// 1. every triple of pairs (random triples, fixed seed, when there are more than 20 000)
///    gives a similarity; keep the one whose median squared residual `‖s·R·a + t − b‖²` is
///    smallest — right as long as fewer than half of the pairs are wrong;
/// 2. robust σ = 1.4826 · (1 + 5/(n − 3)) · √median; inliers are the pairs within 2.5 σ
///    (with a floor of 1e-9 of the reference spread, for exact data);
/// 3. refit Umeyama to the inliers, reclassify with the refit, and refit once more.
///
/// Returns the similarity and which pairs were inliers of the final fit; `None` as
/// [`umeyama`] does.
pub fn robust_similarity(
    a: &[Vector3<f64>],
    b: &[Vector3<f64>],
) -> Option<(Similarity, Vec<bool>)> {
    let n = a.len();
    let all = umeyama(a, b)?;
    if n <= 3 {
        return Some((all, vec![true; n]));
    }
    let residuals = |sim: &Similarity| -> Vec<f64> {
        a.iter()
            .zip(b)
            .map(|(x, y)| (sim.apply(x) - y).norm_squared())
            .collect()
    };
    let median_of = |mut r: Vec<f64>| -> f64 {
        let mid = r.len() / 2;
        *r.select_nth_unstable_by(mid, f64::total_cmp).1
    };

    let mut best = (median_of(residuals(&all)), all);
    let mut try_triple = |i: usize, j: usize, k: usize| {
        let sa = [a[i], a[j], a[k]];
        let sb = [b[i], b[j], b[k]];
        if let Some(sim) = umeyama(&sa, &sb) {
            let med = median_of(residuals(&sim));
            if med < best.0 {
                best = (med, sim);
            }
        }
    };
    let triples = n * (n - 1) * (n - 2) / 6;
    if triples <= MAX_TRIPLES {
        for i in 0..n {
            for j in i + 1..n {
                for k in j + 1..n {
                    try_triple(i, j, k);
                }
            }
        }
    } else {
        let mut rng = SmallRng::seed_from_u64(0x5EED_5A1E);
        for _ in 0..MAX_TRIPLES {
            let i = rng.random_range(0..n);
            let j = rng.random_range(0..n);
            let k = rng.random_range(0..n);
            if i != j && j != k && i != k {
                try_triple(i, j, k);
            }
        }
    }

    let mean_b = b.iter().sum::<Vector3<f64>>() / n as f64;
    let spread = b.iter().map(|y| (y - mean_b).norm()).fold(0.0, f64::max);
    let sigma = 1.4826 * (1.0 + 5.0 / (n - 3) as f64) * best.0.sqrt();
    let threshold = (2.5 * sigma).max(1e-9 * spread);
    let mut sim = best.1;
    let classify = |sim: &Similarity| -> Vec<bool> {
        residuals(sim)
            .iter()
            .map(|&r2| r2.sqrt() <= threshold)
            .collect()
    };
    for _ in 0..2 {
        let inliers = classify(&sim);
        let (ia, ib): (Vec<_>, Vec<_>) = a
            .iter()
            .zip(b)
            .zip(&inliers)
            .filter(|(_, &keep)| keep)
            .map(|((x, y), _)| (*x, *y))
            .unzip();
        match umeyama(&ia, &ib) {
            Some(refit) => sim = refit,
            None => break,
        }
    }
    let inliers = classify(&sim);
    Some((sim, inliers))
}

/// Median, mean and maximum of a set of errors.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ErrorStats {
    pub median: f64,
    pub mean: f64,
    pub max: f64,
}

impl ErrorStats {
    /// `None` for no values. The median of an even count is the mean of the middle two.
    pub fn of(values: &[f64]) -> Option<ErrorStats> {
        if values.is_empty() {
            return None;
        }
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        };
        Some(ErrorStats {
            median,
            mean: sorted.iter().sum::<f64>() / n as f64,
            max: sorted[n - 1],
        })
    }
}

/// The errors of one registered image that is in the reference.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImagePoseError {
    pub name: String,
    /// Rotation error after alignment, degrees.
    pub rotation_deg: f64,
    /// Camera-centre distance after alignment, as a fraction of the scene extent.
    pub center_error: f64,
    /// Whether the robust alignment counted this camera as an inlier.
    pub inlier: bool,
}

/// Reprojection error of the reconstruction's 3D points.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReprojectionStats {
    /// Over the observations in front of their camera; `None` when there are none.
    pub error_px: Option<ErrorStats>,
    /// Observations whose point lies behind (or on the centre plane of) their camera.
    pub behind_camera: usize,
}

/// Everything [`evaluate`] measures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PoseEvaluation {
    /// Images in the reference.
    pub reference_count: usize,
    /// Images in the reconstruction (all registered, as COLMAP keeps only those).
    pub registered_count: usize,
    /// Registered images that are in the reference.
    pub matched_count: usize,
    /// Reference images not in the reconstruction, sorted.
    pub missing: Vec<String>,
    /// Registered images not in the reference, sorted.
    pub unreferenced: Vec<String>,
    /// Largest distance between two reference camera centres (reference units).
    pub scene_extent: f64,
    /// Estimated world → reference world.
    pub alignment: Similarity,
    /// Matched images the robust alignment kept.
    pub alignment_inliers: usize,
    /// Per matched image, sorted by name.
    pub images: Vec<ImagePoseError>,
    /// Over the matched images, degrees.
    pub rotation_error_deg: ErrorStats,
    /// Over the matched images, fractions of the scene extent.
    pub center_error: ErrorStats,
    pub num_points3d: usize,
    /// Track elements over all 3D points.
    pub num_observations: usize,
    pub reprojection: ReprojectionStats,
}

/// Rotation angle of a rotation matrix in degrees, from both its sine and cosine so small
/// angles stay accurate (the arccos of the trace alone loses them below ~1e-8 rad).
pub fn rotation_angle_deg(r: &Matrix3<f64>) -> f64 {
    let sin_axis = Vector3::new(
        r[(2, 1)] - r[(1, 2)],
        r[(0, 2)] - r[(2, 0)],
        r[(1, 0)] - r[(0, 1)],
    ) / 2.0;
    let cos = (r.trace() - 1.0) / 2.0;
    sin_axis.norm().atan2(cos).to_degrees()
}

/// Compares `rec` to `reference` (`(image name, cam_from_world)`, names unique); see the module
/// notes for the definitions.
pub fn evaluate(
    rec: &Reconstruction,
    reference: &[(String, Isometry3<f64>)],
) -> Result<PoseEvaluation, EvalError> {
    let mut by_name: HashMap<&str, Isometry3<f64>> = HashMap::new();
    for (name, pose) in reference {
        if !pose_is_finite(pose) {
            return Err(EvalError::NotFinite(name.clone()));
        }
        if by_name.insert(name.as_str(), normalized(pose)).is_some() {
            return Err(EvalError::DuplicateReference(name.clone()));
        }
    }
    let mut estimated: BTreeMap<&str, Isometry3<f64>> = BTreeMap::new();
    for image in rec.images.values() {
        if !pose_is_finite(&image.cam_from_world) {
            return Err(EvalError::NotFinite(image.name.clone()));
        }
        if estimated
            .insert(image.name.as_str(), normalized(&image.cam_from_world))
            .is_some()
        {
            return Err(EvalError::DuplicateImage(image.name.clone()));
        }
    }

    let mut missing: Vec<String> = reference
        .iter()
        .filter(|(name, _)| !estimated.contains_key(name.as_str()))
        .map(|(name, _)| name.clone())
        .collect();
    missing.sort();
    let unreferenced: Vec<String> = estimated
        .keys()
        .filter(|name| !by_name.contains_key(*name))
        .map(|name| name.to_string())
        .collect();
    // (name, estimated pose, reference pose), sorted by name.
    let matched: Vec<(&str, &Isometry3<f64>, &Isometry3<f64>)> = estimated
        .iter()
        .filter_map(|(name, est)| by_name.get(name).map(|r| (*name, est, r)))
        .collect();
    if matched.len() < 3 {
        return Err(EvalError::TooFewMatched {
            matched: matched.len(),
        });
    }

    let centers_ref: Vec<Vector3<f64>> = by_name.values().map(center).collect();
    let mut scene_extent: f64 = 0.0;
    for (i, x) in centers_ref.iter().enumerate() {
        for y in &centers_ref[i + 1..] {
            scene_extent = scene_extent.max((x - y).norm());
        }
    }

    let a: Vec<_> = matched.iter().map(|(_, est, _)| center(est)).collect();
    let b: Vec<_> = matched.iter().map(|(_, _, r)| center(r)).collect();
    let (alignment, inliers) = robust_similarity(&a, &b).ok_or(EvalError::Degenerate)?;

    let images: Vec<ImagePoseError> = matched
        .iter()
        .zip(a.iter().zip(&b))
        .zip(&inliers)
        .map(|(((name, est, r), (ca, cb)), &inlier)| {
            let r_ref = r.rotation.to_rotation_matrix().into_inner();
            let r_est = est.rotation.to_rotation_matrix().into_inner();
            let relative = r_ref * alignment.rotation * r_est.transpose();
            ImagePoseError {
                name: name.to_string(),
                rotation_deg: rotation_angle_deg(&relative),
                center_error: (alignment.apply(ca) - cb).norm() / scene_extent,
                inlier,
            }
        })
        .collect();
    let rotations: Vec<f64> = images.iter().map(|e| e.rotation_deg).collect();
    let centers: Vec<f64> = images.iter().map(|e| e.center_error).collect();
    let (Some(rotation_error_deg), Some(center_error)) =
        (ErrorStats::of(&rotations), ErrorStats::of(&centers))
    else {
        return Err(EvalError::TooFewMatched { matched: 0 });
    };

    let (num_observations, reprojection) = reprojection_errors(rec)?;
    Ok(PoseEvaluation {
        reference_count: reference.len(),
        registered_count: rec.images.len(),
        matched_count: matched.len(),
        missing,
        unreferenced,
        scene_extent,
        alignment,
        alignment_inliers: inliers.iter().filter(|&&i| i).count(),
        images,
        rotation_error_deg,
        center_error,
        num_points3d: rec.points3d.len(),
        num_observations,
        reprojection,
    })
}

/// Camera centre of a `cam_from_world` pose: `−Rᵀ·t`.
fn center(cam_from_world: &Isometry3<f64>) -> Vector3<f64> {
    -(cam_from_world.rotation.inverse() * cam_from_world.translation.vector)
}

/// The pose with its quaternion renormalised: poses converted from matrices can carry
/// quaternions off unit length by ~1e-7 (seen in the fox `transforms.json` as read), which
/// would move camera centres by as much relative error.
fn normalized(pose: &Isometry3<f64>) -> Isometry3<f64> {
    Isometry3::from_parts(
        pose.translation,
        UnitQuaternion::new_normalize(pose.rotation.into_inner()),
    )
}

fn pose_is_finite(pose: &Isometry3<f64>) -> bool {
    pose.translation.vector.iter().all(|v| v.is_finite())
        && pose.rotation.coords.iter().all(|v| v.is_finite())
}

/// The number of observations and the reprojection statistics of `rec`'s 3D points.
pub fn reprojection_errors(rec: &Reconstruction) -> Result<(usize, ReprojectionStats), EvalError> {
    let mut errors = Vec::new();
    let mut behind_camera = 0;
    let mut observations = 0;
    for (&point3d_id, point) in &rec.points3d {
        for el in &point.track {
            observations += 1;
            let dangling = EvalError::DanglingTrack {
                point3d_id,
                image_id: el.image_id,
                point2d_idx: el.point2d_idx,
            };
            let Some(image) = rec.images.get(&el.image_id) else {
                return Err(dangling);
            };
            let Some(observed) = image.points2d.get(el.point2d_idx as usize) else {
                return Err(dangling);
            };
            let Some(camera) = rec.cameras.get(&image.camera_id) else {
                return Err(EvalError::MissingCamera {
                    image_id: image.id,
                    name: image.name.clone(),
                    camera_id: image.camera_id,
                });
            };
            let p_cam = normalized(&image.cam_from_world) * Point3::from(point.xyz);
            match camera.project(&p_cam.coords) {
                Some(pixel) => errors.push((pixel - observed.xy).norm()),
                None => behind_camera += 1,
            }
        }
    }
    Ok((
        observations,
        ReprojectionStats {
            error_px: ErrorStats::of(&errors),
            behind_camera,
        },
    ))
}

#[cfg(test)]
mod tests;
