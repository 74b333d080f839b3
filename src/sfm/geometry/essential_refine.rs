//! Non-linear refinement of a relative pose (5 degrees of freedom: rotation and translation
//! direction) minimising the Sampson error of its inlier correspondences, since the linear
//! and minimal solvers minimise algebraic errors only.

use nalgebra::{
    DMatrix, DVector, Isometry3, Matrix3, Translation3, UnitQuaternion, Vector2, Vector3,
};

use super::linalg::skew;

/// Signed Sampson residuals of all correspondences under E = [t]x R.
fn residuals(
    rot: &UnitQuaternion<f64>,
    t: &Vector3<f64>,
    x1: &[Vector2<f64>],
    x2: &[Vector2<f64>],
) -> DVector<f64> {
    let e: Matrix3<f64> = skew(t) * rot.to_rotation_matrix().into_inner();
    DVector::from_iterator(
        x1.len(),
        x1.iter().zip(x2).map(|(a, b)| {
            let (h1, h2) = (a.push(1.0), b.push(1.0));
            let (ex1, etx2) = (e * h1, e.transpose() * h2);
            let den = (ex1.x * ex1.x + ex1.y * ex1.y + etx2.x * etx2.x + etx2.y * etx2.y).sqrt();
            if den > 0.0 {
                h2.dot(&ex1) / den
            } else {
                0.0
            }
        }),
    )
}

/// Two unit vectors orthogonal to `t` (a basis of the sphere's tangent plane).
fn tangent_basis(t: &Vector3<f64>) -> (Vector3<f64>, Vector3<f64>) {
    let helper = if t.x.abs() < 0.9 {
        Vector3::x()
    } else {
        Vector3::y()
    };
    let b1 = t.cross(&helper).normalize();
    (b1, t.cross(&b1))
}

/// Applies the 5-vector update (rotation increment, tangent translation increment).
fn apply(
    rot: &UnitQuaternion<f64>,
    t: &Vector3<f64>,
    d: &[f64],
) -> (UnitQuaternion<f64>, Vector3<f64>) {
    let (b1, b2) = tangent_basis(t);
    let r = UnitQuaternion::from_scaled_axis(Vector3::new(d[0], d[1], d[2])) * rot;
    let tn = (t + b1 * d[3] + b2 * d[4]).normalize();
    (r, tn)
}

/// Levenberg–Marquardt on the Sampson error of the correspondences (normalized coordinates;
/// pass the inliers only). Returns the refined `cam2_from_cam1` with |t| = 1, or `None` with
/// fewer than 5 correspondences or a zero translation.
pub fn refine_relative_pose(
    cam2_from_cam1: &Isometry3<f64>,
    x1: &[Vector2<f64>],
    x2: &[Vector2<f64>],
    max_iterations: usize,
) -> Option<Isometry3<f64>> {
    if x1.len() < 5 || x1.len() != x2.len() {
        return None;
    }
    let mut rot = cam2_from_cam1.rotation;
    let mut t = cam2_from_cam1.translation.vector.try_normalize(1e-300)?;
    let mut r = residuals(&rot, &t, x1, x2);
    let mut cost = r.norm_squared();
    let mut lambda = 1e-4;
    let h = 1e-7;
    for _ in 0..max_iterations {
        // Central-difference Jacobian (5 columns).
        let mut jac = DMatrix::zeros(x1.len(), 5);
        for k in 0..5 {
            let mut d = [0.0; 5];
            d[k] = h;
            let (rp, tp) = apply(&rot, &t, &d);
            d[k] = -h;
            let (rm, tm) = apply(&rot, &t, &d);
            let col = (residuals(&rp, &tp, x1, x2) - residuals(&rm, &tm, x1, x2)) / (2.0 * h);
            jac.set_column(k, &col);
        }
        let jtj = jac.transpose() * &jac;
        let g = jac.transpose() * &r;
        let mut improved = false;
        for _ in 0..10 {
            let mut damped = jtj.clone();
            for k in 0..5 {
                damped[(k, k)] += lambda * jtj[(k, k)].max(1e-12);
            }
            let Some(step) = damped.cholesky().map(|c| c.solve(&-&g)) else {
                lambda *= 10.0;
                continue;
            };
            let (rn, tn) = apply(&rot, &t, step.as_slice());
            let rn_res = residuals(&rn, &tn, x1, x2);
            let c = rn_res.norm_squared();
            if c.is_finite() && c < cost {
                let converged = cost - c <= 1e-12 * cost;
                rot = rn;
                t = tn;
                r = rn_res;
                cost = c;
                lambda = (lambda * 0.1).max(1e-12);
                improved = !converged;
                break;
            }
            lambda *= 10.0;
        }
        if !improved {
            break;
        }
    }
    Some(Isometry3::from_parts(Translation3::from(t), rot))
}
