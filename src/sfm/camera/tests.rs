//! Tests of the camera models: construction checks, projection ↔ unprojection round trips with
//! realistic distortion, and the analytic Jacobians against central finite differences.

use nalgebra::{Vector2, Vector3};

use super::*;

const WIDTH: u64 = 1200;
const HEIGHT: u64 = 900;

/// Realistic cameras of every model: distortion up to |k| = 0.1, |p| = 1e-3.
fn cameras() -> Vec<Camera> {
    let make = |model, params: Vec<f64>| {
        Camera::new(1, model, WIDTH, HEIGHT, params).expect("valid test camera")
    };
    vec![
        make(CameraModel::SimplePinhole, vec![1000.0, 598.0, 452.0]),
        make(CameraModel::Pinhole, vec![1010.0, 990.0, 605.0, 447.0]),
        make(CameraModel::SimpleRadial, vec![950.0, 601.0, 449.0, -0.1]),
        make(CameraModel::SimpleRadial, vec![950.0, 601.0, 449.0, 0.1]),
        make(CameraModel::Radial, vec![1000.0, 596.0, 455.0, -0.1, 0.05]),
        make(CameraModel::Radial, vec![1000.0, 596.0, 455.0, 0.1, -0.02]),
        make(
            CameraModel::OpenCv,
            vec![1005.0, 995.0, 603.0, 446.0, -0.1, 0.05, 1e-3, -1e-3],
        ),
        make(
            CameraModel::OpenCv,
            vec![1005.0, 995.0, 603.0, 446.0, 0.1, -0.03, -1e-3, 8e-4],
        ),
    ]
}

/// A 25 × 25 grid of pixels covering the whole image, borders included.
fn pixel_grid() -> Vec<Vector2<f64>> {
    let n = 25;
    let mut out = Vec::new();
    for i in 0..n {
        for j in 0..n {
            out.push(Vector2::new(
                WIDTH as f64 * i as f64 / (n - 1) as f64,
                HEIGHT as f64 * j as f64 / (n - 1) as f64,
            ));
        }
    }
    out
}

#[test]
fn new_checks_count_finiteness_focal_and_size() {
    let ok = Camera::new(
        3,
        CameraModel::Pinhole,
        640,
        480,
        vec![500.0, 500.0, 320.0, 240.0],
    );
    assert!(ok.is_ok());
    assert_eq!(
        Camera::new(3, CameraModel::Pinhole, 640, 480, vec![500.0, 320.0, 240.0]),
        Err(CameraError::ParamCount {
            model: "PINHOLE",
            expected: 4,
            got: 3
        })
    );
    assert!(matches!(
        Camera::new(
            3,
            CameraModel::SimpleRadial,
            640,
            480,
            vec![500.0, 320.0, f64::NAN, 0.0]
        ),
        Err(CameraError::NotFinite { index: 2, .. })
    ));
    assert_eq!(
        Camera::new(
            3,
            CameraModel::OpenCv,
            640,
            480,
            vec![500.0, -1.0, 320.0, 240.0, 0.0, 0.0, 0.0, 0.0]
        ),
        Err(CameraError::NonPositiveFocal(-1.0))
    );
    assert_eq!(
        Camera::new(
            3,
            CameraModel::SimplePinhole,
            0,
            480,
            vec![500.0, 320.0, 240.0]
        ),
        Err(CameraError::EmptyImage {
            width: 0,
            height: 480
        })
    );
}

#[test]
fn from_focal_centres_the_principal_point_without_distortion() {
    for model in CameraModel::ALL {
        let cam = Camera::from_focal(7, model, 640, 480, 555.0).expect("valid prior");
        assert_eq!(cam.params.len(), model.param_count());
        assert_eq!(cam.focal_lengths(), Vector2::new(555.0, 555.0));
        assert_eq!(cam.principal_point(), Vector2::new(320.0, 240.0));
        for &i in model.extra_indices() {
            assert_eq!(cam.params[i], 0.0);
        }
        // The optical axis lands on the principal point.
        assert_eq!(
            cam.project(&Vector3::new(0.0, 0.0, 2.0)),
            Some(Vector2::new(320.0, 240.0))
        );
    }
    assert!(Camera::from_focal(7, CameraModel::Pinhole, 640, 480, 0.0).is_err());
}

#[test]
fn index_sets_partition_the_parameters() {
    for model in CameraModel::ALL {
        let mut all: Vec<usize> = model
            .focal_indices()
            .iter()
            .chain(model.principal_point_indices())
            .chain(model.extra_indices())
            .copied()
            .collect();
        all.sort_unstable();
        assert_eq!(
            all,
            (0..model.param_count()).collect::<Vec<_>>(),
            "{model:?}"
        );
    }
}

#[test]
fn pinhole_projection_matches_the_closed_form() {
    let cam = Camera::new(
        1,
        CameraModel::Pinhole,
        640,
        480,
        vec![500.0, 400.0, 320.0, 240.0],
    )
    .expect("valid");
    let p = cam
        .project(&Vector3::new(0.2, -0.1, 2.0))
        .expect("in front");
    assert!((p - Vector2::new(500.0 * 0.1 + 320.0, 400.0 * -0.05 + 240.0)).norm() < 1e-12);
    assert_eq!(cam.project(&Vector3::new(0.2, -0.1, -2.0)), None);
    assert_eq!(cam.project(&Vector3::new(0.2, -0.1, 0.0)), None);
}

#[test]
fn simple_radial_follows_colmap() {
    // COLMAP: u' = u (1 + k r²), x = f u' + cx.
    let cam = Camera::new(
        1,
        CameraModel::SimpleRadial,
        640,
        480,
        vec![500.0, 320.0, 240.0, 0.1],
    )
    .expect("valid");
    let (u, v) = (0.3, -0.2);
    let s = 1.0 + 0.1 * (u * u + v * v);
    let p = cam.normalized_to_image(&Vector2::new(u, v));
    assert!((p - Vector2::new(500.0 * u * s + 320.0, 500.0 * v * s + 240.0)).norm() < 1e-12);
}

#[test]
fn opencv_follows_colmap() {
    let (k1, k2, p1, p2) = (-0.1, 0.05, 1e-3, -2e-3);
    let cam = Camera::new(
        1,
        CameraModel::OpenCv,
        640,
        480,
        vec![500.0, 510.0, 320.0, 240.0, k1, k2, p1, p2],
    )
    .expect("valid");
    let (u, v) = (0.3, -0.2);
    let r2 = u * u + v * v;
    let radial = k1 * r2 + k2 * r2 * r2;
    let du = u * radial + 2.0 * p1 * u * v + p2 * (r2 + 2.0 * u * u);
    let dv = v * radial + 2.0 * p2 * u * v + p1 * (r2 + 2.0 * v * v);
    let p = cam.normalized_to_image(&Vector2::new(u, v));
    assert!((p - Vector2::new(500.0 * (u + du) + 320.0, 510.0 * (v + dv) + 240.0)).norm() < 1e-12);
}

#[test]
fn unprojection_round_trips_over_the_whole_image() {
    for cam in cameras() {
        let mut worst: f64 = 0.0;
        for xy in pixel_grid() {
            let uv = cam.image_to_normalized(&xy);
            let back = cam.normalized_to_image(&uv);
            worst = worst.max((back - xy).norm());
            // And through a 3D point at some depth.
            let depth = 3.7;
            let p = cam
                .project(&Vector3::new(uv.x * depth, uv.y * depth, depth))
                .expect("in front");
            worst = worst.max((p - xy).norm());
        }
        assert!(
            worst < 1e-9,
            "{:?} {:?}: worst round trip {worst:e} px",
            cam.model,
            cam.params
        );
    }
}

/// Asserts `analytic` ≈ `numeric` entry by entry, relative to the larger of the entry and the
/// matrix's largest entry scaled by 1e-3 (so exact zeros compare against round-off sensibly).
fn assert_close<const C: usize>(
    analytic: &SMatrix<f64, 2, C>,
    numeric: &SMatrix<f64, 2, C>,
    what: &str,
) {
    let scale = analytic.amax().max(numeric.amax());
    for (a, n) in analytic.iter().zip(numeric.iter()) {
        let tol = 1e-6 * a.abs().max(1e-3 * scale);
        assert!(
            (a - n).abs() <= tol,
            "{what}: analytic {analytic} numeric {numeric}"
        );
    }
}

#[test]
fn jacobians_match_central_differences() {
    let points = [
        Vector2::new(0.31, -0.22),
        Vector2::new(-0.45, 0.3),
        Vector2::new(0.05, 0.4),
        Vector2::new(-0.2, -0.35),
    ];
    for cam in cameras() {
        for uv in points {
            let jac = cam.normalized_to_image_jacobians(&uv);
            assert!((jac.pixel - cam.normalized_to_image(&uv)).norm() < 1e-12);
            // ∂pixel/∂uv.
            let mut numeric = Matrix2::zeros();
            for k in 0..2 {
                let h = 1e-6;
                let mut plus = uv;
                let mut minus = uv;
                plus[k] += h;
                minus[k] -= h;
                let col =
                    (cam.normalized_to_image(&plus) - cam.normalized_to_image(&minus)) / (2.0 * h);
                numeric.set_column(k, &col);
            }
            assert_close(
                &jac.d_normalized,
                &numeric,
                &format!("{:?} d/duv", cam.model),
            );
            // ∂pixel/∂params.
            let mut numeric = ParamJacobian::zeros();
            for k in 0..cam.params.len() {
                let h = 1e-6 * cam.params[k].abs().max(1e-2);
                let mut plus = cam.clone();
                let mut minus = cam.clone();
                plus.params[k] += h;
                minus.params[k] -= h;
                let col =
                    (plus.normalized_to_image(&uv) - minus.normalized_to_image(&uv)) / (2.0 * h);
                numeric.set_column(k, &col);
            }
            assert_close(
                &jac.d_params,
                &numeric,
                &format!("{:?} d/dparams", cam.model),
            );
            for k in cam.params.len()..MAX_PARAMS {
                assert_eq!(jac.d_params.column(k).amax(), 0.0);
            }
        }
    }
}

#[test]
fn a_short_parameter_vector_does_not_panic() {
    let cam = Camera {
        id: 1,
        model: CameraModel::OpenCv,
        width: 10,
        height: 10,
        params: vec![1.0],
    };
    assert!(cam.validate().is_err());
    let _ = cam.project(&Vector3::new(0.1, 0.1, 1.0));
    let _ = cam.image_to_normalized(&Vector2::new(3.0, 4.0));
}
