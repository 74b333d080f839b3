//! Known-answer tests of the geometry solvers on seeded synthetic scenes (random cameras and
//! points, pixel noise, outliers).

use nalgebra::{Isometry3, Matrix3, Rotation3, Translation3, UnitQuaternion, Vector2, Vector3};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::linalg::skew;
use super::ransac::required_iterations;
use super::*;

const FOCAL: f64 = 1000.0;
const PP: (f64, f64) = (640.0, 480.0);

fn gaussian(rng: &mut SmallRng) -> f64 {
    let u1: f64 = rng.random_range(1e-12..1.0);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

fn random_unit(rng: &mut SmallRng) -> Vector3<f64> {
    loop {
        let v = Vector3::new(gaussian(rng), gaussian(rng), gaussian(rng));
        if let Some(u) = v.try_normalize(1e-6) {
            return u;
        }
    }
}

fn random_rotation(rng: &mut SmallRng, max_angle: f64) -> UnitQuaternion<f64> {
    let angle = rng.random_range(0.0..max_angle);
    UnitQuaternion::from_scaled_axis(random_unit(rng) * angle)
}

fn project(pose: &Isometry3<f64>, p: &Vector3<f64>) -> Vector2<f64> {
    let c = pose * nalgebra::Point3::from(*p);
    Vector2::new(c.x / c.z, c.y / c.z)
}

fn to_pixels(x: &Vector2<f64>) -> Vector2<f64> {
    Vector2::new(FOCAL * x.x + PP.0, FOCAL * x.y + PP.1)
}

fn k_matrix() -> Matrix3<f64> {
    Matrix3::new(FOCAL, 0.0, PP.0, 0.0, FOCAL, PP.1, 0.0, 0.0, 1.0)
}

/// Two cameras (camera 1 at the origin) and points in front of both, in camera-1 coordinates.
struct Scene {
    cam2_from_cam1: Isometry3<f64>,
    points: Vec<Vector3<f64>>,
    x1: Vec<Vector2<f64>>,
    x2: Vec<Vector2<f64>>,
}

/// `plane`: points on the plane z = 6 + 0.3 x − 0.2 y instead of a volume.
fn scene(rng: &mut SmallRng, n: usize, baseline: f64, plane: bool) -> Scene {
    let rot = random_rotation(rng, 0.3);
    let c2 = random_unit(rng)
        .component_mul(&Vector3::new(1.0, 1.0, 0.3))
        .normalize()
        * baseline;
    let cam2_from_cam1 = Isometry3::from_parts(Translation3::from(-(rot * c2)), rot);
    let mut points = Vec::with_capacity(n);
    while points.len() < n {
        let (x, y) = (rng.random_range(-2.0..2.0), rng.random_range(-2.0..2.0));
        let z = if plane {
            6.0 + 0.3 * x - 0.2 * y
        } else {
            rng.random_range(4.0..8.0)
        };
        let p = Vector3::new(x, y, z);
        if (cam2_from_cam1 * nalgebra::Point3::from(p)).z > 0.5 {
            points.push(p);
        }
    }
    let x1 = points
        .iter()
        .map(|p| project(&Isometry3::identity(), p))
        .collect();
    let x2 = points.iter().map(|p| project(&cam2_from_cam1, p)).collect();
    Scene {
        cam2_from_cam1,
        points,
        x1,
        x2,
    }
}

fn true_essential(pose: &Isometry3<f64>) -> Matrix3<f64> {
    let e = skew(&pose.translation.vector) * pose.rotation.to_rotation_matrix().into_inner();
    e / e.norm()
}

/// Distance between matrices up to scale and sign (both unit Frobenius).
fn projective_distance(a: &Matrix3<f64>, b: &Matrix3<f64>) -> f64 {
    let (a, b) = (a / a.norm(), b / b.norm());
    (a - b).norm().min((a + b).norm())
}

fn rotation_error(a: &Matrix3<f64>, b: &UnitQuaternion<f64>) -> f64 {
    UnitQuaternion::from_rotation_matrix(&Rotation3::from_matrix_unchecked(*a)).angle_to(b)
}

#[test]
fn required_iterations_matches_formula() {
    // log(0.01) / log(1 − 0.5⁵) = 145.05.
    assert_eq!(required_iterations(0.5, 5, 0.99, 10_000), 146);
    assert_eq!(required_iterations(1.0, 5, 0.99, 10_000), 0);
    assert_eq!(required_iterations(0.0, 5, 0.99, 10_000), 10_000);
    assert_eq!(required_iterations(1e-9, 5, 0.99, 777), 777);
}

#[test]
fn five_point_recovers_pose_on_exact_data() {
    let mut rng = SmallRng::seed_from_u64(1);
    let trials = 500;
    let mut hits = 0;
    for _ in 0..trials {
        let s = scene(&mut rng, 5, 1.0, false);
        let t_true = s.cam2_from_cam1.translation.vector.normalize();
        let found = essential_five_point(&s.x1, &s.x2).iter().any(|e| {
            decompose_essential(e).is_some_and(|cands| {
                cands.iter().any(|(r, t)| {
                    rotation_error(r, &s.cam2_from_cam1.rotation) < 1e-6
                        && (t - t_true).norm() < 1e-6
                })
            })
        });
        hits += usize::from(found);
    }
    let rate = hits as f64 / trials as f64;
    println!("five-point success rate on exact data: {rate:.4}");
    assert!(rate >= 0.95, "success rate {rate}");
}

#[test]
fn five_point_solutions_satisfy_constraints() {
    let mut rng = SmallRng::seed_from_u64(2);
    for _ in 0..50 {
        let s = scene(&mut rng, 5, 1.0, false);
        for e in essential_five_point(&s.x1, &s.x2) {
            // Essential: det = 0 and two equal singular values; epipolar residuals vanish.
            let sv = e.singular_values();
            let mut sv: Vec<f64> = sv.iter().copied().collect();
            sv.sort_by(|a, b| b.total_cmp(a));
            assert!((sv[0] - sv[1]).abs() < 1e-8 && sv[2] < 1e-8, "{sv:?}");
            for (a, b) in s.x1.iter().zip(&s.x2) {
                assert!(b.push(1.0).dot(&(e * a.push(1.0))).abs() < 1e-10);
            }
        }
    }
}

#[test]
fn relative_pose_from_true_essential() {
    let mut rng = SmallRng::seed_from_u64(3);
    for _ in 0..20 {
        let s = scene(&mut rng, 50, 1.0, false);
        let rel = relative_pose_from_essential(&true_essential(&s.cam2_from_cam1), &s.x1, &s.x2)
            .expect("pose");
        assert_eq!(rel.num_in_front, 50);
        assert!(
            rel.cam2_from_cam1
                .rotation
                .angle_to(&s.cam2_from_cam1.rotation)
                < 1e-9
        );
        let t = s.cam2_from_cam1.translation.vector.normalize();
        assert!((rel.cam2_from_cam1.translation.vector - t).norm() < 1e-9);
        // Points come back up to the baseline scale (true baseline is 1).
        for (p, q) in rel.points.iter().zip(&s.points) {
            assert!((p.expect("in front") - q).norm() < 1e-8 * q.norm());
        }
    }
}

#[test]
fn essential_eight_point_on_exact_data() {
    let mut rng = SmallRng::seed_from_u64(4);
    for _ in 0..20 {
        let s = scene(&mut rng, 30, 1.0, false);
        let e = essential_eight_point(&s.x1, &s.x2).expect("E");
        assert!(projective_distance(&e, &true_essential(&s.cam2_from_cam1)) < 1e-8);
    }
}

/// Adds Gaussian noise of `sigma_px` pixels and replaces a fraction of the matches by random
/// ones; returns the outlier mask.
fn corrupt(rng: &mut SmallRng, s: &mut Scene, sigma_px: f64, outlier_ratio: f64) -> Vec<bool> {
    let sigma = sigma_px / FOCAL;
    let mut outlier = vec![false; s.x1.len()];
    for (i, is_outlier) in outlier.iter_mut().enumerate() {
        for x in [&mut s.x1[i], &mut s.x2[i]] {
            x.x += sigma * gaussian(rng);
            x.y += sigma * gaussian(rng);
        }
        if rng.random::<f64>() < outlier_ratio {
            *is_outlier = true;
            s.x2[i] = Vector2::new(rng.random_range(-0.6..0.6), rng.random_range(-0.45..0.45));
        }
    }
    outlier
}

#[test]
fn essential_ransac_with_noise_and_outliers() {
    let mut rng = SmallRng::seed_from_u64(5);
    for trial in 0..5 {
        let mut s = scene(&mut rng, 300, 1.0, false);
        let outlier = corrupt(&mut rng, &mut s, 0.5, 0.3);
        let options = RansacOptions {
            max_error: 2.0 / FOCAL,
            seed: trial,
            ..Default::default()
        };
        let r = ransac(
            &EpipolarEstimator {
                matrix: EpipolarMatrix::Essential,
                x1: &s.x1,
                x2: &s.x2,
            },
            &options,
        )
        .expect("E");
        let true_inliers = outlier.iter().filter(|o| !**o).count();
        let found = (0..300)
            .filter(|&i| !outlier[i] && r.inlier_mask[i])
            .count();
        assert!(
            found as f64 >= 0.9 * true_inliers as f64,
            "{found} of {true_inliers}"
        );
        let (a, b): (Vec<_>, Vec<_>) = (0..300)
            .filter(|&i| r.inlier_mask[i])
            .map(|i| (s.x1[i], s.x2[i]))
            .unzip();
        let rel = relative_pose_from_essential(&r.model, &a, &b).expect("pose");
        let rot_err = rel
            .cam2_from_cam1
            .rotation
            .angle_to(&s.cam2_from_cam1.rotation);
        let t = s.cam2_from_cam1.translation.vector.normalize();
        let t_err = rel.cam2_from_cam1.translation.vector.angle(&t);
        assert!(
            rot_err.to_degrees() < 0.5,
            "rotation error {}°",
            rot_err.to_degrees()
        );
        assert!(
            t_err.to_degrees() < 5.0,
            "translation direction error {}°",
            t_err.to_degrees()
        );
    }
}

fn true_fundamental(pose: &Isometry3<f64>) -> Matrix3<f64> {
    let k_inv = k_matrix().try_inverse().expect("K invertible");
    k_inv.transpose() * true_essential(pose) * k_inv
}

#[test]
fn fundamental_seven_and_eight_point_on_exact_data() {
    let mut rng = SmallRng::seed_from_u64(6);
    for _ in 0..50 {
        let s = scene(&mut rng, 40, 1.0, false);
        let p1: Vec<_> = s.x1.iter().map(to_pixels).collect();
        let p2: Vec<_> = s.x2.iter().map(to_pixels).collect();
        let f_true = true_fundamental(&s.cam2_from_cam1);
        let sols = fundamental_seven_point(&p1[..7], &p2[..7]);
        let best = sols
            .iter()
            .map(|f| projective_distance(f, &f_true))
            .fold(f64::INFINITY, f64::min);
        assert!(best < 1e-7, "seven-point distance {best}");
        let f8 = fundamental_eight_point(&p1, &p2).expect("F");
        assert!(projective_distance(&f8, &f_true) < 1e-8);
        assert!(f8.determinant().abs() < 1e-12);
    }
}

#[test]
fn fundamental_ransac_finds_inliers() {
    let mut rng = SmallRng::seed_from_u64(7);
    let mut s = scene(&mut rng, 300, 1.0, false);
    let outlier = corrupt(&mut rng, &mut s, 0.5, 0.3);
    let p1: Vec<_> = s.x1.iter().map(to_pixels).collect();
    let p2: Vec<_> = s.x2.iter().map(to_pixels).collect();
    let options = RansacOptions {
        max_error: 2.0,
        ..Default::default()
    };
    let r = ransac(
        &EpipolarEstimator {
            matrix: EpipolarMatrix::Fundamental,
            x1: &p1,
            x2: &p2,
        },
        &options,
    )
    .expect("F");
    let found = (0..300)
        .filter(|&i| !outlier[i] && r.inlier_mask[i])
        .count();
    let true_inliers = outlier.iter().filter(|o| !**o).count();
    assert!(
        found as f64 >= 0.9 * true_inliers as f64,
        "{found} of {true_inliers}"
    );
    let wrong = (0..300).filter(|&i| outlier[i] && r.inlier_mask[i]).count();
    assert!(
        wrong * 10 < outlier.iter().filter(|o| **o).count(),
        "{wrong} outliers accepted"
    );
}

#[test]
fn homography_on_exact_plane() {
    let mut rng = SmallRng::seed_from_u64(8);
    // Plane z = 6 + 0.3 x − 0.2 y, i.e. nᵀX = 1 with n = (−0.05, 1/30, 1/6).
    let n = Vector3::new(-0.3 / 6.0, 0.2 / 6.0, 1.0 / 6.0);
    let k = k_matrix();
    for _ in 0..50 {
        let s = scene(&mut rng, 30, 1.0, true);
        let rel = &s.cam2_from_cam1;
        let h_norm =
            rel.rotation.to_rotation_matrix().into_inner() + rel.translation.vector * n.transpose();
        let h_true = k * h_norm * k.try_inverse().expect("K");
        let p1: Vec<_> = s.x1.iter().map(to_pixels).collect();
        let p2: Vec<_> = s.x2.iter().map(to_pixels).collect();
        let h4 = homography_dlt(&p1[..4], &p2[..4]).expect("H from 4");
        assert!(projective_distance(&h4, &h_true) < 1e-8);
        let h = homography_dlt(&p1, &p2).expect("H");
        assert!(projective_distance(&h, &h_true) < 1e-9);
        let h_inv = h.try_inverse().expect("invertible");
        for (a, b) in p1.iter().zip(&p2) {
            assert!(symmetric_transfer_error(&h, &h_inv, a, b) < 1e-12);
        }
    }
    // Collinear points give no homography.
    let line: Vec<_> = (0..6)
        .map(|i| Vector2::new(i as f64, 2.0 * i as f64))
        .collect();
    assert!(homography_dlt(&line, &line).is_none());
}

/// A camera looking at the origin from about 6 units away, and points around the origin.
fn pose_scene(rng: &mut SmallRng, n: usize) -> (Isometry3<f64>, Vec<Vector3<f64>>) {
    let rot = random_rotation(rng, std::f64::consts::PI);
    let t = Vector3::new(
        rng.random_range(-0.5..0.5),
        rng.random_range(-0.5..0.5),
        6.0,
    );
    let pose = Isometry3::from_parts(Translation3::from(t), rot);
    let inv = pose.inverse();
    let points = (0..n)
        .map(|_| {
            // Camera-frame point at depth 4..8, moved to the world frame.
            let c = nalgebra::Point3::new(
                rng.random_range(-2.0..2.0),
                rng.random_range(-2.0..2.0),
                rng.random_range(4.0..8.0),
            );
            (inv * c).coords
        })
        .collect();
    (pose, points)
}

#[test]
fn p3p_recovers_pose_on_exact_data() {
    let mut rng = SmallRng::seed_from_u64(9);
    let trials = 500;
    let mut hits = 0;
    for _ in 0..trials {
        let (pose, pts) = pose_scene(&mut rng, 3);
        let bearings = pts.bearings_of(&pose);
        let sols = p3p(&bearings, &[pts[0], pts[1], pts[2]]);
        assert!(sols.len() <= 4);
        let ok = sols.iter().any(|s| {
            s.rotation.angle_to(&pose.rotation) < 1e-8
                && (s.translation.vector - pose.translation.vector).norm() < 1e-8
        });
        hits += usize::from(ok);
    }
    let rate = hits as f64 / trials as f64;
    println!("P3P success rate on exact data (1e-8): {rate:.4}");
    assert!(rate >= 0.98, "rate {rate}");
}

trait Bearings {
    fn bearings_of(&self, pose: &Isometry3<f64>) -> [Vector3<f64>; 3];
}

impl Bearings for Vec<Vector3<f64>> {
    fn bearings_of(&self, pose: &Isometry3<f64>) -> [Vector3<f64>; 3] {
        let b = |i: usize| (pose * nalgebra::Point3::from(self[i])).coords.normalize();
        [b(0), b(1), b(2)]
    }
}

#[test]
fn p3p_rejects_collinear_points() {
    let pts = [
        Vector3::new(0.0, 0.0, 5.0),
        Vector3::new(1.0, 0.0, 5.0),
        Vector3::new(2.0, 0.0, 5.0),
    ];
    let b = pts.map(|p| p.normalize());
    assert!(p3p(&b, &pts).is_empty());
}

#[test]
fn absolute_pose_ransac_with_noise_and_outliers() {
    let mut rng = SmallRng::seed_from_u64(10);
    for trial in 0..5 {
        let (pose, pts) = pose_scene(&mut rng, 200);
        let sigma = 0.5 / FOCAL;
        let mut outlier = vec![false; pts.len()];
        let x: Vec<Vector2<f64>> = pts
            .iter()
            .enumerate()
            .map(|(i, p)| {
                if rng.random::<f64>() < 0.4 {
                    outlier[i] = true;
                    Vector2::new(rng.random_range(-0.6..0.6), rng.random_range(-0.45..0.45))
                } else {
                    project(&pose, p)
                        + Vector2::new(sigma * gaussian(&mut rng), sigma * gaussian(&mut rng))
                }
            })
            .collect();
        let options = AbsolutePoseOptions {
            ransac: RansacOptions {
                max_error: 2.0 / FOCAL,
                seed: trial,
                ..Default::default()
            },
            refine: true,
        };
        let r = estimate_absolute_pose(&x, &pts, &options).expect("pose");
        let rot_err = r
            .cam_from_world
            .rotation
            .angle_to(&pose.rotation)
            .to_degrees();
        let center_err = (r.cam_from_world.inverse().translation.vector
            - pose.inverse().translation.vector)
            .norm();
        // Scene scale: the mean camera-to-point distance (about 6).
        let scale = pts
            .iter()
            .map(|p| (pose * nalgebra::Point3::from(*p)).coords.norm())
            .sum::<f64>()
            / pts.len() as f64;
        assert!(rot_err < 0.2, "rotation error {rot_err}°");
        assert!(
            center_err < 0.01 * scale,
            "centre error {center_err} (scale {scale})"
        );
        let true_inliers = outlier.iter().filter(|o| !**o).count();
        let found = (0..pts.len())
            .filter(|&i| !outlier[i] && r.inlier_mask[i])
            .count();
        assert!(
            found as f64 >= 0.9 * true_inliers as f64,
            "{found} of {true_inliers}"
        );
    }
}

#[test]
fn refinement_converges_from_perturbed_pose() {
    let mut rng = SmallRng::seed_from_u64(11);
    let (pose, pts) = pose_scene(&mut rng, 50);
    let x: Vec<_> = pts.iter().map(|p| project(&pose, p)).collect();
    let start = Isometry3::from_parts(
        Translation3::from(pose.translation.vector + Vector3::new(0.05, -0.03, 0.1)),
        UnitQuaternion::from_scaled_axis(Vector3::new(0.01, 0.02, -0.01)) * pose.rotation,
    );
    let idx: Vec<usize> = (0..50).collect();
    let refined = refine_absolute_pose(&start, &x, &pts, &idx, 1e-3, 50).expect("refined");
    assert!(refined.rotation.angle_to(&pose.rotation) < 1e-9);
    assert!((refined.translation.vector - pose.translation.vector).norm() < 1e-8);
}

fn camera_ring(rng: &mut SmallRng, n: usize) -> Vec<Isometry3<f64>> {
    // Cameras around the origin at distance 6, looking roughly at it.
    (0..n)
        .map(|_| {
            let rot = random_rotation(rng, 0.4);
            let t = Vector3::new(
                rng.random_range(-1.0..1.0),
                rng.random_range(-1.0..1.0),
                6.0,
            );
            Isometry3::from_parts(Translation3::from(t), rot)
        })
        .collect()
}

#[test]
fn triangulation_exact_and_checks() {
    let mut rng = SmallRng::seed_from_u64(12);
    let options = TriangulationOptions {
        min_angle: 1f64.to_radians(),
        max_error: 1e-3,
    };
    for _ in 0..50 {
        let cams = camera_ring(&mut rng, 4);
        let p = Vector3::new(
            rng.random_range(-1.0..1.0),
            rng.random_range(-1.0..1.0),
            rng.random_range(-1.0..1.0),
        );
        let obs: Vec<_> = cams.iter().map(|c| project(c, &p)).collect();
        let two = triangulate_point(&cams[0], &cams[1], &obs[0], &obs[1]).expect("two-view");
        assert!((two - p).norm() < 1e-9);
        let multi = triangulate_checked(&cams, &obs, &options).expect("multi-view");
        assert!((multi - p).norm() < 1e-9);

        // A point behind all cameras projects to plausible image points but must be rejected.
        let behind = cams[0].inverse() * nalgebra::Point3::new(0.1, -0.2, -3.0);
        let obs_b: Vec<_> = cams.iter().map(|c| project(c, &behind.coords)).collect();
        assert_eq!(
            triangulate_checked(&cams, &obs_b, &options),
            Err(TriangulationError::BehindCamera)
        );

        // A corrupted observation exceeds the reprojection threshold.
        let mut bad = obs.clone();
        bad[2] += Vector2::new(0.02, -0.02);
        assert_eq!(
            triangulate_checked(&cams, &bad, &options),
            Err(TriangulationError::LargeError)
        );
    }
    // Nearly coincident centres: tiny angle.
    let c1 = Isometry3::identity();
    let c2 = Isometry3::translation(-1e-4, 0.0, 0.0);
    let p = Vector3::new(0.2, 0.1, 5.0);
    let obs = [project(&c1, &p), project(&c2, &p)];
    assert_eq!(
        triangulate_checked(&[c1, c2], &obs, &options),
        Err(TriangulationError::SmallAngle)
    );
    assert_eq!(
        triangulate_checked(&[c1], &obs[..1], &options),
        Err(TriangulationError::TooFewViews)
    );
    let angle = triangulation_angle(
        &Vector3::zeros(),
        &Vector3::new(2.0, 0.0, 0.0),
        &Vector3::new(1.0, 0.0, 1.0),
    );
    assert!((angle - std::f64::consts::FRAC_PI_2).abs() < 1e-12);
}

fn two_view_input(s: &Scene) -> (Vec<Vector2<f64>>, Vec<Vector2<f64>>) {
    (
        s.x1.iter().map(to_pixels).collect(),
        s.x2.iter().map(to_pixels).collect(),
    )
}

#[test]
fn two_view_calibrated_general_scene() {
    for seed in 13..13 + 4 {
        let mut rng = SmallRng::seed_from_u64(seed);
        let mut s = scene(&mut rng, 300, 1.5, false);
        corrupt(&mut rng, &mut s, 0.5, 0.2);
        let (p1, p2) = two_view_input(&s);
        let g = estimate_two_view(&s.x1, &s.x2, &p1, &p2, &TwoViewOptions::default());
        assert_eq!(g.config, TwoViewConfig::Calibrated);
        let rel = g.cam2_from_cam1.expect("pose");
        let rot_err = rel
            .rotation
            .angle_to(&s.cam2_from_cam1.rotation)
            .to_degrees();
        assert!(rot_err < 0.5, "seed {seed}: rotation error {rot_err}°");
        assert!(g.tri_angle > 5f64.to_radians());
        assert!(g.num_inliers >= 200);
    }
}

#[test]
fn two_view_planar_scene() {
    for seed in 14..14 + 4 {
        let mut rng = SmallRng::seed_from_u64(seed);
        let mut s = scene(&mut rng, 300, 1.5, true);
        corrupt(&mut rng, &mut s, 0.5, 0.2);
        let (p1, p2) = two_view_input(&s);
        let g = estimate_two_view(&s.x1, &s.x2, &p1, &p2, &TwoViewOptions::default());
        assert_eq!(g.config, TwoViewConfig::Planar);
        assert!(g.h.is_some());
        assert!(g.num_inliers >= 200);
    }
}

#[test]
fn two_view_pure_rotation_is_panoramic() {
    for seed in 15..15 + 4 {
        let mut rng = SmallRng::seed_from_u64(seed);
        let mut s = scene(&mut rng, 300, 0.0, false);
        corrupt(&mut rng, &mut s, 0.5, 0.2);
        let (p1, p2) = two_view_input(&s);
        let g = estimate_two_view(&s.x1, &s.x2, &p1, &p2, &TwoViewOptions::default());
        assert_eq!(g.config, TwoViewConfig::Panoramic);
    }
}

#[test]
fn two_view_random_matches_are_degenerate() {
    let mut rng = SmallRng::seed_from_u64(16);
    let mut s = scene(&mut rng, 200, 1.0, false);
    corrupt(&mut rng, &mut s, 0.0, 1.0);
    let (p1, p2) = two_view_input(&s);
    // Chance alone lets F and E collect about 20 of 200 random matches (4 px threshold in a
    // 1200 × 900 image), so require clearly more.
    let options = TwoViewOptions {
        min_num_inliers: 40,
        ..Default::default()
    };
    let g = estimate_two_view(&s.x1, &s.x2, &p1, &p2, &options);
    assert_eq!(
        g.config,
        TwoViewConfig::Degenerate,
        "{} inliers",
        g.num_inliers
    );
    // Mismatched lengths are degenerate too, without panicking.
    let g = estimate_two_view(&s.x1, &s.x2[..10], &p1, &p2, &TwoViewOptions::default());
    assert_eq!(g.config, TwoViewConfig::Degenerate);
}

#[test]
fn two_view_wrong_intrinsics_is_uncalibrated() {
    for seed in 17..17 + 4 {
        let mut rng = SmallRng::seed_from_u64(seed);
        let mut s = scene(&mut rng, 300, 1.5, false);
        corrupt(&mut rng, &mut s, 0.5, 0.2);
        let (p1, p2) = two_view_input(&s);
        // Normalized with a focal length 2.5 times too short: E cannot explain the matches, F can.
        let wrong1: Vec<_> = s.x1.iter().map(|x| x * 2.5).collect();
        let wrong2: Vec<_> = s.x2.iter().map(|x| x * 2.5).collect();
        let g = estimate_two_view(&wrong1, &wrong2, &p1, &p2, &TwoViewOptions::default());
        assert_eq!(g.config, TwoViewConfig::Uncalibrated);
        assert!(g.f.is_some() && g.cam2_from_cam1.is_none());
        assert!(g.num_inliers >= 200);
    }
}

#[test]
fn relative_pose_refinement_converges_on_exact_data() {
    let mut rng = SmallRng::seed_from_u64(18);
    for _ in 0..10 {
        let s = scene(&mut rng, 60, 1.0, false);
        let truth = s.cam2_from_cam1;
        let t = truth.translation.vector.normalize() + Vector3::new(0.03, -0.02, 0.01);
        let start = Isometry3::from_parts(
            Translation3::from(t.normalize()),
            UnitQuaternion::from_scaled_axis(Vector3::new(0.01, -0.01, 0.005)) * truth.rotation,
        );
        let refined = refine_relative_pose(&start, &s.x1, &s.x2, 50).expect("refined");
        assert!(refined.rotation.angle_to(&truth.rotation) < 1e-8);
        assert!((refined.translation.vector - truth.translation.vector.normalize()).norm() < 1e-8);
        let e = essential_from_pose(&refined);
        assert!(projective_distance(&e, &true_essential(&truth)) < 1e-8);
    }
}
