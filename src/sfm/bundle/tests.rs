//! Bundle adjustment on synthetic scenes with known answers: recovery of poses, focal length
//! and distortion from perturbed starts, robustness to gross outliers, pose-only and local
//! refinement, and input checks.

use std::collections::BTreeSet;

use nalgebra::Vector3;

use super::synthetic::*;
use super::*;
use crate::sfm::camera::CameraModel;
use crate::sfm::TrackElement;

const NOISE_PX: f64 = 0.5;

fn spec(model: CameraModel, params: Vec<f64>) -> SceneSpec {
    SceneSpec {
        cameras: 12,
        points: 1000,
        model,
        params,
        noise_px: NOISE_PX,
        outlier_fraction: 0.0,
        outlier_px: 0.0,
        visibility_half_angle: 100f64.to_radians(),
        seed: 7,
    }
}

fn simple_radial() -> (CameraModel, Vec<f64>) {
    (CameraModel::SimpleRadial, vec![1000.0, 603.0, 447.0, -0.05])
}

fn opencv() -> (CameraModel, Vec<f64>) {
    (
        CameraModel::OpenCv,
        vec![1000.0, 1004.0, 596.0, 455.0, -0.05, 0.01, 5e-4, -3e-4],
    )
}

/// The perturbed start with the truth's gauge: image 1 exact, image 2's largest translation
/// coordinate exact; and options holding that gauge.
fn gauged_start(truth: &Reconstruction, seed: u64) -> (Reconstruction, BundleOptions) {
    let mut start = perturb(truth, &BTreeSet::from([1]), 0.02, 0.03, 1.03, seed);
    let k = largest_translation_coordinate(truth, 2);
    copy_translation_coordinate(&mut start, truth, 2, k);
    let opts = BundleOptions {
        fixed_images: BTreeSet::from([1]),
        fixed_scale_image: Some((2, k)),
        ..BundleOptions::default()
    };
    (start, opts)
}

/// RMS of the 2D noise after fitting: σ√2 · sqrt((2M − P) / 2M) for M observations and P free
/// parameters (the fit absorbs P of the 2M degrees of freedom).
fn expected_rms(report: &BundleReport, free_parameters: usize) -> f64 {
    let m = report.observations as f64;
    NOISE_PX * 2f64.sqrt() * ((2.0 * m - free_parameters as f64) / (2.0 * m)).sqrt()
}

fn recover(model: CameraModel, params: Vec<f64>) {
    let truth = make_scene(&spec(model, params));
    let (mut rec, opts) = gauged_start(&truth, 11);
    let before = max_rotation_error_deg(&rec, &truth);
    assert!(before > 1.0, "the start is perturbed ({before}°)");
    let report = bundle_adjust(&mut rec, &opts).expect("bundle adjustment runs");
    assert!(report.converged, "{report:?}");
    let rot = max_rotation_error_deg(&rec, &truth);
    assert!(rot < 0.05, "{model:?}: rotation error {rot}° ({report:?})");
    // The remaining error is the noise's, not the solver's: started at the truth, bundle
    // adjustment lands on the same minimum.
    let mut from_truth = truth.clone();
    bundle_adjust(&mut from_truth, &opts).expect("runs");
    let gap = max_rotation_error_deg(&rec, &from_truth);
    assert!(
        gap < 1e-6,
        "{model:?}: {gap}° from the minimum found from the truth"
    );
    let centers = max_center_error(&rec, &truth);
    assert!(centers < 0.01 * RADIUS, "{model:?}: centre error {centers}");
    let (est, tru) = (&rec.cameras[&1], &truth.cameras[&1]);
    for &i in model.focal_indices() {
        let rel = (est.params[i] / tru.params[i] - 1.0).abs();
        assert!(
            rel < 0.002,
            "{model:?}: focal {} vs {} ",
            est.params[i],
            tru.params[i]
        );
    }
    assert!(
        (est.params[model.extra_indices()[0]] - tru.params[model.extra_indices()[0]]).abs() < 0.005
    );
    let free = 6 * (truth.images.len() - 1) - 1
        + 3 * report.variable_points
        + model.focal_indices().len()
        + model.extra_indices().len();
    let expected = expected_rms(&report, free);
    assert!(
        (report.final_rms_px / expected - 1.0).abs() < 0.1,
        "{model:?}: RMS {} px, noise {expected} px",
        report.final_rms_px
    );
    assert!(report.initial_rms_px > 10.0 * report.final_rms_px);
    assert_eq!(report.variable_images, truth.images.len() - 1);
    // Every point's error is its mean reprojection error: about σ√(π/2) (the mean length of 2D
    // Gaussian noise) times the degrees-of-freedom factor of the RMS.
    let errors: Vec<f64> = rec.points3d.values().map(|p| p.error).collect();
    assert!(errors.iter().all(|&e| e >= 0.0));
    let mean = errors.iter().sum::<f64>() / errors.len() as f64;
    let rayleigh = (std::f64::consts::PI / 4.0).sqrt() * expected;
    assert!(
        (mean / rayleigh - 1.0).abs() < 0.1,
        "mean point error {mean}, expected {rayleigh}"
    );
}

#[test]
fn recovers_a_simple_radial_scene() {
    let (model, params) = simple_radial();
    recover(model, params);
}

#[test]
fn recovers_an_opencv_scene() {
    let (model, params) = opencv();
    recover(model, params);
}

#[test]
fn noise_free_observations_are_fitted_exactly() {
    let (model, params) = simple_radial();
    let truth = make_scene(&SceneSpec {
        noise_px: 0.0,
        ..spec(model, params)
    });
    let (mut rec, opts) = gauged_start(&truth, 3);
    let report = bundle_adjust(&mut rec, &opts).expect("runs");
    assert!(report.final_rms_px < 1e-6, "{report:?}");
    assert!(max_rotation_error_deg(&rec, &truth) < 1e-6);
    assert!(max_center_error(&rec, &truth) < 1e-6);
    assert!((rec.cameras[&1].params[0] - 1000.0).abs() < 1e-5);
}

#[test]
fn cauchy_loss_withstands_gross_outliers() {
    let (model, params) = simple_radial();
    let truth = make_scene(&SceneSpec {
        outlier_fraction: 0.05,
        outlier_px: 30.0,
        ..spec(model, params)
    });
    let (start, opts) = gauged_start(&truth, 5);
    let mut robust = start.clone();
    let report = bundle_adjust(
        &mut robust,
        &BundleOptions {
            loss: LossFunction::Cauchy { scale: 1.0 },
            ..opts.clone()
        },
    )
    .expect("runs");
    let robust_error = max_rotation_error_deg(&robust, &truth);
    let mut plain = start;
    bundle_adjust(&mut plain, &opts).expect("runs");
    let plain_error = max_rotation_error_deg(&plain, &truth);
    assert!(robust_error < 0.1, "Cauchy: {robust_error}° ({report:?})");
    assert!(
        plain_error > 2.0 * robust_error,
        "least squares {plain_error}° vs Cauchy {robust_error}°"
    );
}

#[test]
fn pose_only_refinement_keeps_points_fixed() {
    let (model, params) = simple_radial();
    let truth = make_scene(&spec(model, params));
    // Every pose perturbed, points and intrinsics exact.
    let mut rec = perturb(&truth, &BTreeSet::new(), 0.02, 0.0, 1.0, 9);
    rec.cameras.clone_from(&truth.cameras);
    let opts = BundleOptions {
        refine_points: false,
        refine_focal: false,
        refine_extra: false,
        ..BundleOptions::default()
    };
    let report = bundle_adjust(&mut rec, &opts).expect("runs");
    assert_eq!(report.variable_points, 0);
    assert_eq!(report.variable_cameras, 0);
    assert_eq!(report.variable_images, truth.images.len());
    let rot = max_rotation_error_deg(&rec, &truth);
    assert!(rot < 0.05, "rotation error {rot}°");
    assert!(max_center_error(&rec, &truth) < 0.01 * RADIUS);
    for (id, point) in &rec.points3d {
        assert_eq!(point.xyz, truth.points3d[id].xyz, "point {id} moved");
    }
    assert_eq!(rec.cameras, truth.cameras);
}

#[test]
fn local_adjustment_leaves_fixed_images_and_unseen_points_untouched() {
    let (model, params) = simple_radial();
    let truth = make_scene(&spec(model, params));
    // The variable images and all points start perturbed, the other images are exact.
    let variable = BTreeSet::from([4, 5, 6]);
    let held: BTreeSet<u32> = truth
        .images
        .keys()
        .copied()
        .filter(|id| !variable.contains(id))
        .collect();
    let mut start = perturb(&truth, &held, 0.02, 0.03, 1.0, 13);
    start.cameras.clone_from(&truth.cameras);
    let mut rec = start.clone();
    let opts = BundleOptions {
        variable_images: Some(variable.clone()),
        refine_focal: false,
        refine_extra: false,
        ..BundleOptions::default()
    };
    let report = bundle_adjust(&mut rec, &opts).expect("runs");
    assert_eq!(report.variable_images, 3);
    assert!(report.converged, "{report:?}");
    assert!(report.final_rms_px < 1.0, "{report:?}");
    for id in &variable {
        let error = rotation_error_deg(
            &rec.images[id].cam_from_world,
            &truth.images[id].cam_from_world,
        );
        assert!(error < 0.05, "image {id}: rotation error {error}°");
    }
    for (id, image) in &rec.images {
        if !variable.contains(id) {
            assert_eq!(
                image.cam_from_world, start.images[id].cam_from_world,
                "image {id}"
            );
        }
    }
    let mut unseen = 0;
    for (id, point) in &rec.points3d {
        if !point.track.iter().any(|te| variable.contains(&te.image_id)) {
            unseen += 1;
            assert_eq!(point.xyz, start.points3d[id].xyz, "point {id}");
            assert_eq!(point.error, start.points3d[id].error, "point {id}");
        }
    }
    assert!(
        unseen > 50,
        "the test needs points the variable images do not see"
    );
    assert_eq!(report.variable_points, rec.points3d.len() - unseen);
}

#[test]
fn fixed_cameras_keep_their_intrinsics() {
    let (model, params) = simple_radial();
    let truth = make_scene(&spec(model, params));
    let (mut rec, opts) = gauged_start(&truth, 21);
    let before = rec.cameras.clone();
    let report = bundle_adjust(
        &mut rec,
        &BundleOptions {
            fixed_cameras: BTreeSet::from([1]),
            ..opts
        },
    )
    .expect("runs");
    assert_eq!(report.variable_cameras, 0);
    assert_eq!(rec.cameras, before);
    // With the focal length held 3 % off, the fit cannot reach the noise level.
    assert!(
        report.final_rms_px > 1.5 * NOISE_PX * 2f64.sqrt(),
        "{report:?}"
    );
}

#[test]
fn nothing_varies_when_everything_is_held() {
    let (model, params) = simple_radial();
    let truth = make_scene(&spec(model, params));
    let mut rec = perturb(&truth, &BTreeSet::new(), 0.02, 0.03, 1.0, 1);
    let before = rec.clone();
    let opts = BundleOptions {
        fixed_images: rec.images.keys().copied().collect(),
        refine_points: false,
        refine_focal: false,
        refine_extra: false,
        ..BundleOptions::default()
    };
    let report = bundle_adjust(&mut rec, &opts).expect("runs");
    assert_eq!(report.termination, Termination::NothingToOptimize);
    assert_eq!(report.iterations, 0);
    assert_eq!(report.initial_cost, report.final_cost);
    for (id, image) in &rec.images {
        assert_eq!(image.cam_from_world, before.images[id].cam_from_world);
    }
}

#[test]
fn bad_input_is_rejected_and_leaves_the_reconstruction_alone() {
    let (model, params) = simple_radial();
    let truth = make_scene(&SceneSpec {
        cameras: 4,
        points: 30,
        ..spec(model, params)
    });
    let check = |rec: &Reconstruction, opts: &BundleOptions, expected: BundleError| {
        let mut copy = rec.clone();
        assert_eq!(bundle_adjust(&mut copy, opts), Err(expected));
        // Debug text, so that a NaN compares equal to itself.
        assert_eq!(format!("{copy:?}"), format!("{rec:?}"));
    };
    let default = BundleOptions::default();
    check(
        &truth,
        &BundleOptions {
            fixed_images: BTreeSet::from([99]),
            ..default.clone()
        },
        BundleError::UnknownImage(99),
    );
    check(
        &truth,
        &BundleOptions {
            fixed_scale_image: Some((2, 3)),
            ..default.clone()
        },
        BundleError::BadScaleCoordinate(3),
    );
    check(
        &truth,
        &BundleOptions {
            loss: LossFunction::Huber { scale: 0.0 },
            ..default.clone()
        },
        BundleError::BadLossScale(0.0),
    );
    let first = *truth.points3d.keys().next().expect("points");
    let mut broken = truth.clone();
    if let Some(p) = broken.points3d.get_mut(&first) {
        p.track.push(TrackElement {
            image_id: 42,
            point2d_idx: 0,
        });
    }
    check(
        &broken,
        &default,
        BundleError::MissingImage {
            point3d_id: first,
            image_id: 42,
        },
    );
    let mut broken = truth.clone();
    if let Some(p) = broken.points3d.get_mut(&first) {
        p.track.push(TrackElement {
            image_id: 1,
            point2d_idx: 100_000,
        });
    }
    check(
        &broken,
        &default,
        BundleError::MissingPoint2D {
            point3d_id: first,
            image_id: 1,
            point2d_idx: 100_000,
        },
    );
    let mut broken = truth.clone();
    if let Some(p) = broken.points3d.get_mut(&first) {
        p.xyz = Vector3::new(f64::NAN, 0.0, 0.0);
    }
    check(&broken, &default, BundleError::NonFinitePoint(first));
    let mut broken = truth.clone();
    if let Some(c) = broken.cameras.get_mut(&1) {
        c.params.pop();
    }
    assert!(matches!(
        bundle_adjust(&mut broken, &default),
        Err(BundleError::InvalidCamera { camera_id: 1, .. })
    ));
}

/// Times one bundle adjustment of a 15-camera, 2000-point scene (about 15000 observations).
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn timing_of_a_fifteen_camera_scene() {
    let (model, params) = simple_radial();
    let truth = make_scene(&SceneSpec {
        cameras: 15,
        points: 2000,
        visibility_half_angle: 90f64.to_radians(),
        ..spec(model, params)
    });
    let (mut rec, opts) = gauged_start(&truth, 17);
    let clock = std::time::Instant::now();
    let report = bundle_adjust(&mut rec, &opts).expect("runs");
    let elapsed = clock.elapsed();
    eprintln!(
        "bundle adjustment: {} images, {} points, {} observations: {:.1} ms, {} iterations ({} accepted), RMS {:.3} -> {:.3} px",
        report.variable_images + 1,
        report.variable_points,
        report.observations,
        elapsed.as_secs_f64() * 1e3,
        report.iterations,
        report.accepted_steps,
        report.initial_rms_px,
        report.final_rms_px
    );
    assert!(report.converged, "{report:?}");
    assert!(max_rotation_error_deg(&rec, &truth) < 0.05);
}
