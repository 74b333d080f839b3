//! One observation's reprojection residual and its analytic Jacobians w.r.t. the pose (left
//! axis-angle increment and translation), the camera parameters and the 3D point.

use nalgebra::{
    Isometry3, Matrix2x3, Matrix3, SMatrix, Translation3, UnitQuaternion, Vector2, Vector3,
};

use crate::sfm::camera::{
    focal_of, normalized_to_image, projection_jacobians, CameraModel, ParamJacobian, MIN_DEPTH,
};

/// The pose update of bundle adjustment: `R ← exp([ω]×) R`, `t ← t + δt` for the increment
/// `(ω, δt)` (rotation increment applied on the left, in the camera frame; the translation
/// moves additively, so one of its coordinates can be held to fix the scale).
pub(crate) fn retract_pose(
    pose: &Isometry3<f64>,
    omega: &Vector3<f64>,
    delta_t: &Vector3<f64>,
) -> Isometry3<f64> {
    let rotation = UnitQuaternion::from_scaled_axis(*omega) * pose.rotation;
    Isometry3::from_parts(
        Translation3::from(pose.translation.vector + delta_t),
        rotation,
    )
}

/// Residual `projected − observed` (pixels) of one observation with its Jacobians.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ObservationJacobian {
    pub residual: Vector2<f64>,
    /// ∂r/∂(ω, δt) at zero increment, see [`retract_pose`].
    pub d_pose: SMatrix<f64, 2, 6>,
    /// ∂r/∂params in the model's order.
    pub d_params: ParamJacobian,
    /// ∂r/∂X (world point).
    pub d_point: Matrix2x3<f64>,
}

/// The residual of observing `point` at `observed`; `None` when the point is behind the camera.
pub(crate) fn residual(
    pose: &Isometry3<f64>,
    model: CameraModel,
    params: &[f64],
    point: &Vector3<f64>,
    observed: &Vector2<f64>,
) -> Option<Vector2<f64>> {
    let p_cam = pose * nalgebra::Point3::from(*point);
    if p_cam.z <= MIN_DEPTH {
        return None;
    }
    let f = focal_of(model, params);
    if !(f.x > 0.0 && f.y > 0.0) {
        return None;
    }
    let uv = Vector2::new(p_cam.x / p_cam.z, p_cam.y / p_cam.z);
    Some(normalized_to_image(model, params, &uv) - observed)
}

/// [`residual`] with its Jacobians.
pub(crate) fn residual_jacobian(
    pose: &Isometry3<f64>,
    model: CameraModel,
    params: &[f64],
    point: &Vector3<f64>,
    observed: &Vector2<f64>,
) -> Option<ObservationJacobian> {
    let rotated = pose.rotation * point;
    let p_cam = rotated + pose.translation.vector;
    if p_cam.z <= MIN_DEPTH {
        return None;
    }
    let inv_z = 1.0 / p_cam.z;
    let uv = Vector2::new(p_cam.x * inv_z, p_cam.y * inv_z);
    let proj = projection_jacobians(model, params, &uv);
    let d_uv_d_cam = Matrix2x3::new(inv_z, 0.0, -uv.x * inv_z, 0.0, inv_z, -uv.y * inv_z);
    let a = proj.d_normalized * d_uv_d_cam;
    // ∂(exp([ω]×) R X + t)/∂ω at ω = 0 is −[R X]×.
    let d_rot = a * -skew(&rotated);
    let mut d_pose = SMatrix::<f64, 2, 6>::zeros();
    d_pose.fixed_columns_mut::<3>(0).copy_from(&d_rot);
    d_pose.fixed_columns_mut::<3>(3).copy_from(&a);
    let d_point = a * pose.rotation.to_rotation_matrix().matrix();
    Some(ObservationJacobian {
        residual: proj.pixel - observed,
        d_pose,
        d_params: proj.d_params,
        d_point,
    })
}

/// The cross-product matrix: `skew(a) b = a × b`.
fn skew(a: &Vector3<f64>) -> Matrix3<f64> {
    Matrix3::new(0.0, -a.z, a.y, a.z, 0.0, -a.x, -a.y, a.x, 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(f(h) - f(-h)) / 2h`: the central difference of `f` at 0.
    fn central_difference(h: f64, f: impl Fn(f64) -> Vector2<f64>) -> Vector2<f64> {
        (f(h) - f(-h)) / (2.0 * h)
    }

    #[test]
    fn jacobians_match_central_differences() {
        let pose = Isometry3::from_parts(
            Translation3::new(0.3, -0.2, 4.0),
            UnitQuaternion::from_scaled_axis(Vector3::new(0.1, -0.3, 0.05)),
        );
        let model = CameraModel::OpenCv;
        let params = [900.0, 910.0, 320.0, 240.0, -0.08, 0.02, 6e-4, -4e-4];
        let point = Vector3::new(0.7, -0.4, 1.1);
        let observed = Vector2::new(400.0, 200.0);
        let jac = residual_jacobian(&pose, model, &params, &point, &observed).expect("in front");
        let r0 = residual(&pose, model, &params, &point, &observed).expect("in front");
        assert!((jac.residual - r0).norm() < 1e-12);
        let check = |analytic: Vector2<f64>, numeric: Vector2<f64>, what: &str| {
            let tol = 1e-6 * analytic.norm().max(1e-3);
            assert!(
                (analytic - numeric).norm() <= tol,
                "{what}: {analytic} vs {numeric}"
            );
        };
        let h = 1e-6;
        for k in 0..6 {
            let num = central_difference(h, |d| {
                let mut inc = SMatrix::<f64, 6, 1>::zeros();
                inc[k] = d;
                let (omega, delta_t) = (
                    inc.fixed_rows::<3>(0).into_owned(),
                    inc.fixed_rows::<3>(3).into(),
                );
                let p = retract_pose(&pose, &omega, &delta_t);
                residual(&p, model, &params, &point, &observed).expect("in front")
            });
            check(jac.d_pose.column(k).into(), num, "pose");
        }
        for k in 0..3 {
            let num = central_difference(h, |d| {
                let mut moved = point;
                moved[k] += d;
                residual(&pose, model, &params, &moved, &observed).expect("front")
            });
            check(jac.d_point.column(k).into(), num, "point");
        }
        for k in 0..params.len() {
            let step = 1e-6 * f64::abs(params[k]).max(1e-2);
            let num = central_difference(step, |d| {
                let mut moved = params;
                moved[k] += d;
                residual(&pose, model, &moved, &point, &observed).expect("front")
            });
            check(jac.d_params.column(k).into(), num, "params");
        }
    }

    #[test]
    fn points_behind_the_camera_have_no_residual() {
        let pose = Isometry3::identity();
        let params = [500.0, 320.0, 240.0];
        let behind = Vector3::new(0.0, 0.0, -1.0);
        let observed = Vector2::new(1.0, 1.0);
        let model = CameraModel::SimplePinhole;
        assert!(residual(&pose, model, &params, &behind, &observed).is_none());
        assert!(residual_jacobian(&pose, model, &params, &behind, &observed).is_none());
    }
}
