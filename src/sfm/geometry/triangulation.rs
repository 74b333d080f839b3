//! Triangulation of 3D points from world→camera poses and normalized image points (linear DLT),
//! with the checks a mapper applies before accepting a point: positive depth, a minimum
//! triangulation angle and a maximum reprojection error.

use nalgebra::{Isometry3, Matrix4, Vector2, Vector3};

/// Linear (DLT) triangulation of one point seen at normalized coordinates `x1`, `x2` by two
/// cameras; `None` for parallel rays or non-finite input.
pub fn triangulate_point(
    cam1_from_world: &Isometry3<f64>,
    cam2_from_world: &Isometry3<f64>,
    x1: &Vector2<f64>,
    x2: &Vector2<f64>,
) -> Option<Vector3<f64>> {
    triangulate_multi_view(&[*cam1_from_world, *cam2_from_world], &[*x1, *x2])
}

/// Linear (DLT) triangulation from any number (≥ 2) of views: `points[i]` is the normalized
/// observation in camera `cams_from_world[i]`. `None` when the point is at infinity or the
/// input is degenerate.
pub fn triangulate_multi_view(
    cams_from_world: &[Isometry3<f64>],
    points: &[Vector2<f64>],
) -> Option<Vector3<f64>> {
    let n = cams_from_world.len();
    if n < 2 || points.len() != n {
        return None;
    }
    // The DLT's least-squares null vector, from the 4×4 normal matrix AᵀA accumulated row by
    // row (its eigenvector of the smallest eigenvalue): no 2n×4 matrix, no SVD. Normalized
    // coordinates keep the rows near unit size, so squaring the condition number is harmless.
    let mut ata = Matrix4::<f64>::zeros();
    for (pose, x) in cams_from_world.iter().zip(points) {
        let p = pose.to_homogeneous();
        for row in [p.row(2) * x.x - p.row(0), p.row(2) * x.y - p.row(1)] {
            ata += row.transpose() * row;
        }
    }
    if !ata.iter().all(|v| v.is_finite()) {
        return None;
    }
    let eigen = nalgebra::SymmetricEigen::try_new(ata, f64::EPSILON, 1000)?;
    let smallest = eigen.eigenvalues.imin();
    let v = eigen.eigenvectors.column(smallest);
    if v[3].abs() <= 1e-12 * v.norm() {
        return None;
    }
    let x = Vector3::new(v[0], v[1], v[2]) / v[3];
    x.iter().all(|c| c.is_finite()).then_some(x)
}

/// Angle in radians between the rays from two camera centres to a point (0 if degenerate).
pub fn triangulation_angle(
    center1: &Vector3<f64>,
    center2: &Vector3<f64>,
    point: &Vector3<f64>,
) -> f64 {
    let r1 = point - center1;
    let r2 = point - center2;
    let denom = r1.norm() * r2.norm();
    if !denom.is_finite() || denom <= 0.0 {
        return 0.0;
    }
    (r1.dot(&r2) / denom).clamp(-1.0, 1.0).acos()
}

/// Depth (camera z) of a world point.
pub fn depth(cam_from_world: &Isometry3<f64>, point: &Vector3<f64>) -> f64 {
    (cam_from_world * nalgebra::Point3::from(*point)).z
}

/// Squared reprojection error in normalized coordinates; infinite for points not in front.
pub fn reprojection_error_sq(
    cam_from_world: &Isometry3<f64>,
    point: &Vector3<f64>,
    x: &Vector2<f64>,
) -> f64 {
    let pc = cam_from_world * nalgebra::Point3::from(*point);
    if pc.z.is_nan() || pc.z <= f64::EPSILON {
        return f64::INFINITY;
    }
    (Vector2::new(pc.x / pc.z, pc.y / pc.z) - x).norm_squared()
}

/// Acceptance criteria for a triangulated point.
#[derive(Debug, Clone, PartialEq)]
pub struct TriangulationOptions {
    /// Minimum of the largest pairwise triangulation angle, radians.
    pub min_angle: f64,
    /// Maximum reprojection error in every view, normalized units (pixels / focal).
    pub max_error: f64,
}

impl Default for TriangulationOptions {
    fn default() -> Self {
        Self {
            min_angle: 1.5f64.to_radians(),
            max_error: 4.0 / 1000.0,
        }
    }
}

/// Why a point was not triangulated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TriangulationError {
    /// Fewer than two views, or as many poses as points were not given.
    TooFewViews,
    /// Parallel rays or non-finite input.
    Degenerate,
    /// Not in front of every camera.
    BehindCamera,
    /// Largest triangulation angle below the minimum.
    SmallAngle,
    /// Reprojection error above the maximum in some view.
    LargeError,
}

/// Triangulates from all views and applies the [`TriangulationOptions`] checks.
pub fn triangulate_checked(
    cams_from_world: &[Isometry3<f64>],
    points: &[Vector2<f64>],
    options: &TriangulationOptions,
) -> Result<Vector3<f64>, TriangulationError> {
    if cams_from_world.len() < 2 || points.len() != cams_from_world.len() {
        return Err(TriangulationError::TooFewViews);
    }
    let x =
        triangulate_multi_view(cams_from_world, points).ok_or(TriangulationError::Degenerate)?;
    if cams_from_world.iter().any(|pose| {
        let d = depth(pose, &x);
        d.is_nan() || d <= f64::EPSILON
    }) {
        return Err(TriangulationError::BehindCamera);
    }
    let centers: Vec<Vector3<f64>> = cams_from_world
        .iter()
        .map(|p| p.inverse().translation.vector)
        .collect();
    let mut max_angle = 0.0f64;
    for i in 0..centers.len() {
        for j in i + 1..centers.len() {
            max_angle = max_angle.max(triangulation_angle(&centers[i], &centers[j], &x));
        }
    }
    if max_angle < options.min_angle {
        return Err(TriangulationError::SmallAngle);
    }
    let max_err2 = options.max_error * options.max_error;
    if cams_from_world.iter().zip(points).any(|(pose, p)| {
        let e = reprojection_error_sq(pose, &x, p);
        e.is_nan() || e > max_err2
    }) {
        return Err(TriangulationError::LargeError);
    }
    Ok(x)
}
