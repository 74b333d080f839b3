//! Absolute camera pose from 2D–3D correspondences: a P3P minimal solver (Grunert's distance
//! equations reduced to a quartic by a resultant, roots polished by Newton steps on the three
//! distance equations), robust non-linear refinement (Levenberg–Marquardt with a Cauchy loss on
//! the normalized reprojection error) and LO-RANSAC over both.

use nalgebra::{
    Isometry3, Matrix3, Matrix6, Point3, Rotation3, Translation3, UnitQuaternion, Vector2, Vector3,
    Vector6,
};

use super::linalg::{real_roots, skew};
use super::ransac::{ransac, Estimator, RansacOptions};

/// Product of two polynomials in ascending coefficient order.
fn poly_mul(a: &[f64], b: &[f64]) -> Vec<f64> {
    let mut r = vec![0.0; a.len() + b.len() - 1];
    for (i, x) in a.iter().enumerate() {
        for (j, y) in b.iter().enumerate() {
            r[i + j] += x * y;
        }
    }
    r
}

fn poly_add(a: &[f64], b: &[f64]) -> Vec<f64> {
    (0..a.len().max(b.len()))
        .map(|i| a.get(i).unwrap_or(&0.0) + b.get(i).unwrap_or(&0.0))
        .collect()
}

/// Camera poses (`cam_from_world`, up to four) seeing world points `points[i]` along the unit
/// bearing vectors `bearings[i]` (camera frame). Empty for collinear points or degenerate rays.
pub fn p3p(bearings: &[Vector3<f64>; 3], points: &[Vector3<f64>; 3]) -> Vec<Isometry3<f64>> {
    let f: Vec<Vector3<f64>> = match bearings.iter().map(|b| b.try_normalize(1e-300)).collect() {
        Some(f) => f,
        None => return Vec::new(),
    };
    let [p1, p2, p3] = points;
    let a2 = (p2 - p3).norm_squared();
    let b2 = (p1 - p3).norm_squared();
    let c2 = (p1 - p2).norm_squared();
    if !(a2 > 0.0 && b2 > 0.0 && c2 > 0.0)
        || (p2 - p1).cross(&(p3 - p1)).norm() <= 1e-12 * b2.max(c2)
    {
        return Vec::new();
    }
    let (ca, cb, cg) = (f[1].dot(&f[2]), f[0].dot(&f[2]), f[0].dot(&f[1]));
    // Distances relative to b (conditioning): s2 = u s1, s3 = v s1 and
    //   p(u) = u² − 2 cα v u + v² − a'(1 + v² − 2 cβ v) = 0,
    //   q(u) = u² − 2 cγ u + 1 − c'(1 + v² − 2 cβ v) = 0.
    let (ar, cr) = (a2 / b2, c2 / b2);
    let w = [1.0, -2.0 * cb, 1.0]; // 1 + v² − 2 cβ v
    let p0 = poly_add(&[0.0, 0.0, 1.0], &w.map(|x| -ar * x));
    let q0 = poly_add(&[1.0], &w.map(|x| -cr * x));
    // p − q is linear in u: u = N(v) / D(v).
    let n = poly_add(&q0, &p0.iter().map(|x| -x).collect::<Vec<_>>());
    let d = [2.0 * cg, -2.0 * ca];
    // Substituting into q: N² − 2 cγ N D + q0 D² = 0 (a quartic in v).
    let quartic = poly_add(
        &poly_add(
            &poly_mul(&n, &n),
            &poly_mul(&poly_mul(&n, &d), &[-2.0 * cg]),
        ),
        &poly_mul(&q0, &poly_mul(&d, &d)),
    );
    let mut poses = Vec::new();
    for v in real_roots(&quartic) {
        let dv = d[0] + d[1] * v;
        if dv.abs() < 1e-12 || v <= 0.0 {
            continue;
        }
        let u = (n[0] + n[1] * v + n[2] * v * v) / dv;
        let wv = 1.0 + v * v - 2.0 * cb * v;
        if u <= 0.0 || wv <= 0.0 {
            continue;
        }
        let s1 = (b2 / wv).sqrt();
        let s = refine_depths([s1, u * s1, v * s1], [ca, cb, cg], [a2, b2, c2]);
        if s.iter().any(|x| x.is_nan() || *x <= 0.0) {
            continue;
        }
        let cam = [f[0] * s[0], f[1] * s[1], f[2] * s[2]];
        if let Some(pose) = align_triangles(&cam, points) {
            poses.push(pose);
        }
    }
    poses
}

/// Newton steps on the three law-of-cosines equations in the depths.
fn refine_depths(mut s: [f64; 3], cos: [f64; 3], d2: [f64; 3]) -> [f64; 3] {
    let [ca, cb, cg] = cos;
    for _ in 0..5 {
        let [s1, s2, s3] = s;
        let r = Vector3::new(
            s2 * s2 + s3 * s3 - 2.0 * s2 * s3 * ca - d2[0],
            s1 * s1 + s3 * s3 - 2.0 * s1 * s3 * cb - d2[1],
            s1 * s1 + s2 * s2 - 2.0 * s1 * s2 * cg - d2[2],
        );
        if r.norm() <= 1e-15 * d2[1] {
            break;
        }
        let j = Matrix3::new(
            0.0,
            2.0 * (s2 - s3 * ca),
            2.0 * (s3 - s2 * ca),
            2.0 * (s1 - s3 * cb),
            0.0,
            2.0 * (s3 - s1 * cb),
            2.0 * (s1 - s2 * cg),
            2.0 * (s2 - s1 * cg),
            0.0,
        );
        let Some(step) = j.lu().solve(&r) else {
            break;
        };
        let next = [s1 - step.x, s2 - step.y, s3 - step.z];
        if next.iter().any(|x| !x.is_finite()) {
            break;
        }
        s = next;
    }
    s
}

/// The rigid motion taking the world triangle onto the camera triangle (`cam_from_world`).
fn align_triangles(cam: &[Vector3<f64>; 3], world: &[Vector3<f64>; 3]) -> Option<Isometry3<f64>> {
    let frame = |p: &[Vector3<f64>; 3]| -> Option<Matrix3<f64>> {
        let e1 = (p[1] - p[0]).try_normalize(1e-300)?;
        let e3 = e1.cross(&(p[2] - p[0])).try_normalize(1e-300)?;
        Some(Matrix3::from_columns(&[e1, e3.cross(&e1), e3]))
    };
    let r = frame(cam)? * frame(world)?.transpose();
    let rot = UnitQuaternion::from_rotation_matrix(&Rotation3::from_matrix_unchecked(r));
    let cw = (world[0] + world[1] + world[2]) / 3.0;
    let cc = (cam[0] + cam[1] + cam[2]) / 3.0;
    let t = cc - rot * cw;
    t.iter()
        .all(|x| x.is_finite())
        .then(|| Isometry3::from_parts(Translation3::from(t), rot))
}

/// Squared reprojection error in normalized coordinates (infinite behind the camera).
fn reprojection_sq(pose: &Isometry3<f64>, x: &Vector2<f64>, p: &Vector3<f64>) -> f64 {
    let c = pose * Point3::from(*p);
    if c.z.is_nan() || c.z <= f64::EPSILON {
        return f64::INFINITY;
    }
    (Vector2::new(c.x / c.z, c.y / c.z) - x).norm_squared()
}

/// Levenberg–Marquardt refinement of `cam_from_world` over the correspondences `indices`,
/// minimising the Cauchy-robustified normalized reprojection error with scale `loss_scale`
/// (normalized units). `None` if fewer than 3 usable correspondences or on numeric failure.
pub fn refine_absolute_pose(
    cam_from_world: &Isometry3<f64>,
    points2d: &[Vector2<f64>],
    points3d: &[Vector3<f64>],
    indices: &[usize],
    loss_scale: f64,
    max_iterations: usize,
) -> Option<Isometry3<f64>> {
    let idx: Vec<usize> = indices
        .iter()
        .copied()
        .filter(|&i| i < points2d.len() && i < points3d.len())
        .collect();
    if idx.len() < 3 || loss_scale.is_nan() || loss_scale <= 0.0 {
        return None;
    }
    let s2 = loss_scale * loss_scale;
    let cost = |pose: &Isometry3<f64>| -> f64 {
        idx.iter()
            .map(|&i| {
                let r = reprojection_sq(pose, &points2d[i], &points3d[i]);
                if r.is_finite() {
                    s2 * (r / s2).ln_1p()
                } else {
                    f64::INFINITY
                }
            })
            .sum()
    };
    let mut pose = *cam_from_world;
    let mut current = cost(&pose);
    if !current.is_finite() {
        return None;
    }
    let mut lambda = 1e-3;
    for _ in 0..max_iterations {
        let mut h = Matrix6::<f64>::zeros();
        let mut g = Vector6::<f64>::zeros();
        for &i in &idx {
            let rx = pose.rotation * points3d[i];
            let c = rx + pose.translation.vector;
            let iz = 1.0 / c.z;
            let r = Vector2::new(c.x * iz, c.y * iz) - points2d[i];
            let w = 1.0 / (1.0 + r.norm_squared() / s2);
            // d(projection)/d(camera point), then d(camera point)/d(ω, δt) = [−[RX]×, I].
            let dp = nalgebra::Matrix2x3::new(iz, 0.0, -c.x * iz * iz, 0.0, iz, -c.y * iz * iz);
            let mut j = nalgebra::Matrix2x6::<f64>::zeros();
            j.fixed_view_mut::<2, 3>(0, 0).copy_from(&(dp * -skew(&rx)));
            j.fixed_view_mut::<2, 3>(0, 3).copy_from(&dp);
            h += j.transpose() * j * w;
            g += j.transpose() * r * w;
        }
        let mut improved = false;
        for _ in 0..10 {
            let mut damped = h;
            for k in 0..6 {
                damped[(k, k)] += lambda * h[(k, k)].max(1e-12);
            }
            let Some(step) = damped.cholesky().map(|c| c.solve(&-g)) else {
                lambda *= 10.0;
                continue;
            };
            let omega = Vector3::new(step[0], step[1], step[2]);
            let rot = UnitQuaternion::from_scaled_axis(omega) * pose.rotation;
            let t = pose.translation.vector + Vector3::new(step[3], step[4], step[5]);
            let candidate = Isometry3::from_parts(Translation3::from(t), rot);
            let c = cost(&candidate);
            if c < current {
                let converged = current - c <= 1e-14 * current.max(1e-300) || step.norm() < 1e-14;
                pose = candidate;
                current = c;
                lambda = (lambda * 0.1).max(1e-10);
                improved = !converged;
                break;
            }
            lambda *= 10.0;
        }
        if !improved {
            break;
        }
    }
    Some(pose)
}

/// RANSAC estimator of `cam_from_world` from normalized 2D points and world points (residual:
/// squared normalized reprojection error); local optimisation refines the pose on its inliers.
pub struct AbsolutePoseEstimator<'a> {
    pub points2d: &'a [Vector2<f64>],
    pub points3d: &'a [Vector3<f64>],
    /// Scale of the Cauchy loss of the refinement (normalized units).
    pub loss_scale: f64,
}

impl Estimator for AbsolutePoseEstimator<'_> {
    type Model = Isometry3<f64>;

    fn min_sample_size(&self) -> usize {
        3
    }

    fn num_data(&self) -> usize {
        self.points2d.len().min(self.points3d.len())
    }

    fn estimate(&self, sample: &[usize]) -> Vec<Isometry3<f64>> {
        let &[i, j, k] = sample else {
            return Vec::new();
        };
        let bearing = |i: usize| self.points2d[i].push(1.0).normalize();
        p3p(
            &[bearing(i), bearing(j), bearing(k)],
            &[self.points3d[i], self.points3d[j], self.points3d[k]],
        )
    }

    fn estimate_nonminimal(
        &self,
        inliers: &[usize],
        current: &Isometry3<f64>,
    ) -> Vec<Isometry3<f64>> {
        refine_absolute_pose(
            current,
            self.points2d,
            self.points3d,
            inliers,
            self.loss_scale,
            10,
        )
        .into_iter()
        .collect()
    }

    fn residual(&self, model: &Isometry3<f64>, i: usize) -> f64 {
        reprojection_sq(model, &self.points2d[i], &self.points3d[i])
    }
}

/// Settings of [`estimate_absolute_pose`].
#[derive(Debug, Clone, PartialEq)]
pub struct AbsolutePoseOptions {
    /// RANSAC settings; `max_error` is the inlier threshold in normalized units
    /// (pixels / focal length).
    pub ransac: RansacOptions,
    /// Refine the final pose on all inliers.
    pub refine: bool,
}

impl Default for AbsolutePoseOptions {
    fn default() -> Self {
        Self {
            ransac: RansacOptions {
                max_error: 12.0 / 1000.0,
                ..RansacOptions::default()
            },
            refine: true,
        }
    }
}

/// A registered camera pose with its support.
#[derive(Debug, Clone, PartialEq)]
pub struct AbsolutePose {
    pub cam_from_world: Isometry3<f64>,
    pub inlier_mask: Vec<bool>,
    pub num_inliers: usize,
}

/// Robust absolute pose from normalized 2D points and their world points: P3P in LO-RANSAC,
/// then refinement on the inliers. `None` with fewer than 4 correspondences or no pose found.
pub fn estimate_absolute_pose(
    points2d: &[Vector2<f64>],
    points3d: &[Vector3<f64>],
    options: &AbsolutePoseOptions,
) -> Option<AbsolutePose> {
    if points2d.len() != points3d.len() || points2d.len() < 4 {
        return None;
    }
    let est = AbsolutePoseEstimator {
        points2d,
        points3d,
        loss_scale: options.ransac.max_error,
    };
    let result = ransac(&est, &options.ransac)?;
    let mut pose = result.model;
    if options.refine {
        let inliers: Vec<usize> = (0..points2d.len())
            .filter(|&i| result.inlier_mask[i])
            .collect();
        if let Some(refined) = refine_absolute_pose(
            &pose,
            points2d,
            points3d,
            &inliers,
            options.ransac.max_error,
            50,
        ) {
            pose = refined;
        }
    }
    let t2 = options.ransac.max_error * options.ransac.max_error;
    let inlier_mask: Vec<bool> = (0..points2d.len())
        .map(|i| est.residual(&pose, i) <= t2)
        .collect();
    let num_inliers = inlier_mask.iter().filter(|&&b| b).count();
    Some(AbsolutePose {
        cam_from_world: pose,
        inlier_mask,
        num_inliers,
    })
}
