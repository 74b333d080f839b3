//! Pose evaluation: Umeyama alignment, rotation and position errors against a known similarity,
//! outlier-robust alignment, reprojection error, and the fox / fountain ground truths.

use nalgebra::{
    Isometry3, Matrix3, Point3, Rotation3, Translation3, UnitQuaternion, Vector2, Vector3,
};

use super::*;
#[cfg(not(target_arch = "wasm32"))]
use crate::sfm::reference::{reconstruction_poses, strecha_poses};
use crate::sfm::{Camera, CameraModel, Image, Point2D, Point3D, TrackElement};

/// `cam_from_world` of a camera at `center` looking at `target` (world z up).
fn look_at(center: Vector3<f64>, target: Vector3<f64>) -> Isometry3<f64> {
    let z = (target - center).normalize();
    let x = z.cross(&Vector3::z()).normalize();
    let y = z.cross(&x);
    let r_wc = Matrix3::from_columns(&[x, y, z]);
    let r_cw = Rotation3::from_matrix_unchecked(r_wc.transpose());
    Isometry3::from_parts(
        Translation3::from(-(r_cw * center)),
        UnitQuaternion::from_rotation_matrix(&r_cw),
    )
}

/// Eight cameras on a ring of radius 5 around the origin at heights 0..1.4, looking at it.
fn ring_reference() -> Vec<(String, Isometry3<f64>)> {
    (0..8)
        .map(|i| {
            let a = i as f64 * std::f64::consts::TAU / 8.0;
            let c = Vector3::new(5.0 * a.cos(), 5.0 * a.sin(), 0.2 * i as f64);
            (format!("{i:04}.jpg"), look_at(c, Vector3::zeros()))
        })
        .collect()
}

/// A similarity with an unremarkable scale, rotation and translation.
fn some_similarity() -> Similarity {
    Similarity {
        scale: 2.5,
        rotation: Rotation3::from_euler_angles(0.3, -0.7, 1.9).into_inner(),
        translation: Vector3::new(1.0, -4.0, 2.5),
    }
}

/// The pose the reference pose `pose` has in a world `x_est = sim⁻¹(x_ref)`: same camera,
/// rotation `R_ref·R`, centre `sim⁻¹(c_ref)`.
fn pose_in_estimated_world(pose: &Isometry3<f64>, sim: &Similarity) -> Isometry3<f64> {
    let q_ref = UnitQuaternion::new_normalize(pose.rotation.into_inner());
    let c_ref = -(q_ref.inverse() * pose.translation.vector);
    let c_est = sim.rotation.transpose() * (c_ref - sim.translation) / sim.scale;
    let r =
        Rotation3::from_matrix_unchecked(q_ref.to_rotation_matrix().into_inner() * sim.rotation);
    let q = UnitQuaternion::from_rotation_matrix(&r);
    Isometry3::from_parts(Translation3::from(-(q * c_est)), q)
}

/// A reconstruction (one pinhole camera, no points) whose poses are `reference` seen through
/// `sim⁻¹`.
fn estimated(reference: &[(String, Isometry3<f64>)], sim: &Similarity) -> Reconstruction {
    let mut rec = Reconstruction::default();
    let camera = Camera::new(
        1,
        CameraModel::Pinhole,
        640,
        480,
        vec![500.0, 500.0, 320.0, 240.0],
    );
    rec.cameras.insert(1, camera.expect("valid camera"));
    for (i, (name, pose)) in reference.iter().enumerate() {
        let id = i as u32 + 1;
        rec.images.insert(
            id,
            Image {
                id,
                camera_id: 1,
                name: name.clone(),
                cam_from_world: pose_in_estimated_world(pose, sim),
                points2d: vec![],
            },
        );
    }
    rec
}

fn image_named<'a>(rec: &'a mut Reconstruction, name: &str) -> &'a mut Image {
    rec.images
        .values_mut()
        .find(|i| i.name == name)
        .expect("image present")
}

#[test]
fn umeyama_recovers_a_similarity_and_refuses_collinear_points() {
    let sim = some_similarity();
    let a = [
        Vector3::new(0.0, 0.0, 0.0),
        Vector3::new(1.0, 0.0, 0.0),
        Vector3::new(0.0, 2.0, 0.0),
        Vector3::new(0.5, 0.3, 1.0),
    ];
    let b: Vec<_> = a.iter().map(|x| sim.apply(x)).collect();
    let fit = umeyama(&a, &b).expect("fit");
    assert!((fit.scale - 2.5).abs() < 1e-12);
    assert!((fit.rotation - sim.rotation).amax() < 1e-12);
    assert!((fit.translation - sim.translation).amax() < 1e-12);
    // Three points suffice; three on a line leave the roll about it free.
    assert!(umeyama(&a[..3], &b[..3]).is_some());
    let line: Vec<_> = (0..4)
        .map(|i| Vector3::new(i as f64, 2.0 * i as f64, 1.0))
        .collect();
    assert!(umeyama(&line, &line).is_none());
}

#[test]
fn rotation_angle_is_accurate_for_tiny_angles() {
    for angle in [1e-10, 1e-6, 0.5, 3.0] {
        let r = Rotation3::from_axis_angle(&Vector3::y_axis(), angle).into_inner();
        let got = rotation_angle_deg(&r).to_radians();
        assert!(
            (got - angle).abs() < 1e-15 + 1e-12 * angle,
            "{got} vs {angle}"
        );
    }
}

#[test]
fn an_exact_similarity_of_the_reference_has_zero_error() {
    let reference = ring_reference();
    let sim = some_similarity();
    let eval = evaluate(&estimated(&reference, &sim), &reference).expect("evaluation");
    assert_eq!(
        (
            eval.reference_count,
            eval.registered_count,
            eval.matched_count
        ),
        (8, 8, 8)
    );
    assert!(eval.missing.is_empty() && eval.unreferenced.is_empty());
    assert_eq!(eval.alignment_inliers, 8);
    // Farthest pair on the ring: opposite cameras 3 and 7, 10 m apart and 0.8 m in height.
    assert!((eval.scene_extent - (100.0f64 + 0.64).sqrt()).abs() < 1e-12);
    assert!(
        eval.rotation_error_deg.max < 1e-9,
        "{:?}",
        eval.rotation_error_deg
    );
    assert!(eval.center_error.max < 1e-9, "{:?}", eval.center_error);
    assert!((eval.alignment.scale - sim.scale).abs() < 1e-9);
    assert!((eval.alignment.rotation - sim.rotation).amax() < 1e-9);
    assert!((eval.alignment.translation - sim.translation).amax() < 1e-9);
    assert!(eval.reprojection.error_px.is_none());
    assert_eq!((eval.num_points3d, eval.num_observations), (0, 0));

    let json = serde_json::to_value(&eval).expect("serialisable");
    assert_eq!(json["matched_count"], 8);
    assert_eq!(
        json["alignment"]["rotation"].as_array().map(Vec::len),
        Some(3)
    );
    assert!(json["rotation_error_deg"]["median"].is_number());
}

#[test]
fn a_one_degree_rotation_error_shows_on_that_image_only() {
    let reference = ring_reference();
    let mut rec = estimated(&reference, &some_similarity());
    // Turn camera 0003 by 1° about an oblique axis, keeping its centre.
    let image = image_named(&mut rec, "0003.jpg");
    let c = image.center();
    let turn = UnitQuaternion::from_axis_angle(
        &nalgebra::Unit::new_normalize(Vector3::new(1.0, 2.0, -0.5)),
        1f64.to_radians(),
    );
    let rotation = turn * image.cam_from_world.rotation;
    image.cam_from_world = Isometry3::from_parts(Translation3::from(-(rotation * c)), rotation);

    let eval = evaluate(&rec, &reference).expect("evaluation");
    for e in &eval.images {
        let expected = if e.name == "0003.jpg" { 1.0 } else { 0.0 };
        assert!((e.rotation_deg - expected).abs() < 1e-6, "{e:?}");
        assert!(e.center_error < 1e-9, "{e:?}");
    }
    assert!((eval.rotation_error_deg.max - 1.0).abs() < 1e-6);
    assert!((eval.rotation_error_deg.mean - 1.0 / 8.0).abs() < 1e-6);
    assert!(eval.rotation_error_deg.median < 1e-9);
}

#[test]
fn one_badly_wrong_camera_does_not_spoil_the_others() {
    let reference = ring_reference();
    let sim = some_similarity();
    let mut rec = estimated(&reference, &sim);
    // Camera 0005 mis-registered: 4 units away (10 m in the reference) and turned 30°.
    let shift = Vector3::new(0.0, 0.0, 4.0);
    let image = image_named(&mut rec, "0005.jpg");
    let c = image.center() + shift;
    let rotation = UnitQuaternion::from_axis_angle(&Vector3::x_axis(), 30f64.to_radians())
        * image.cam_from_world.rotation;
    image.cam_from_world = Isometry3::from_parts(Translation3::from(-(rotation * c)), rotation);

    let eval = evaluate(&rec, &reference).expect("evaluation");
    assert_eq!(eval.alignment_inliers, 7);
    for e in &eval.images {
        if e.name == "0005.jpg" {
            assert!(!e.inlier);
            assert!((e.rotation_deg - 30.0).abs() < 1e-6, "{e:?}");
            let expected = sim.scale * shift.norm() / eval.scene_extent;
            assert!((e.center_error - expected).abs() < 1e-9, "{e:?}");
        } else {
            assert!(e.inlier);
            assert!(e.rotation_deg < 1e-9 && e.center_error < 1e-9, "{e:?}");
        }
    }

    // A plain least-squares fit is pulled off by that camera: the others would show errors.
    let a: Vec<_> = rec.images.values().map(Image::center).collect();
    let b: Vec<_> = reference
        .iter()
        .map(|(_, p)| p.inverse().translation.vector)
        .collect();
    let plain = umeyama(&a, &b).expect("fit");
    let good_error = (plain.apply(&a[0]) - b[0]).norm() / eval.scene_extent;
    assert!(good_error > 1e-2, "plain fit error {good_error}");
}

#[test]
fn missing_and_unreferenced_images_are_reported() {
    let reference = ring_reference();
    let mut rec = estimated(&reference, &some_similarity());
    rec.images
        .retain(|_, i| i.name != "0002.jpg" && i.name != "0006.jpg");
    let mut extra = rec.images[&1].clone();
    extra.id = 100;
    extra.name = "stray.jpg".into();
    rec.images.insert(100, extra);

    let eval = evaluate(&rec, &reference).expect("evaluation");
    assert_eq!(
        (
            eval.reference_count,
            eval.registered_count,
            eval.matched_count
        ),
        (8, 7, 6)
    );
    assert_eq!(eval.missing, ["0002.jpg", "0006.jpg"]);
    assert_eq!(eval.unreferenced, ["stray.jpg"]);
    assert_eq!(eval.images.len(), 6);
    assert!(eval.rotation_error_deg.max < 1e-9 && eval.center_error.max < 1e-9);
}

#[test]
fn refuses_what_cannot_be_evaluated() {
    let reference = ring_reference();
    let mut rec = estimated(&reference, &some_similarity());
    rec.images.retain(|&id, _| id <= 2);
    assert_eq!(
        evaluate(&rec, &reference),
        Err(EvalError::TooFewMatched { matched: 2 })
    );

    let mut twice = reference.clone();
    twice.push(reference[0].clone());
    assert_eq!(
        evaluate(&estimated(&reference, &some_similarity()), &twice),
        Err(EvalError::DuplicateReference("0000.jpg".into()))
    );

    // Cameras on a straight line: the roll about it is undetermined.
    let line: Vec<_> = (0..5)
        .map(|i| {
            let c = Vector3::new(i as f64, 0.0, 0.0);
            (
                format!("{i}.jpg"),
                look_at(c, c + Vector3::new(0.0, 1.0, 0.0)),
            )
        })
        .collect();
    assert_eq!(
        evaluate(&estimated(&line, &some_similarity()), &line),
        Err(EvalError::Degenerate)
    );
}

/// Two images, four points; `offset` added to every observation.
fn with_points(offset: Vector2<f64>) -> (Reconstruction, Vec<(String, Isometry3<f64>)>) {
    let reference = ring_reference();
    let mut rec = estimated(&reference, &some_similarity());
    let camera = rec.cameras[&1].clone();
    let world = [
        Vector3::new(0.0, 0.0, 0.0),
        Vector3::new(0.1, -0.2, 0.05),
        Vector3::new(-0.15, 0.1, 0.2),
        Vector3::new(0.05, 0.05, -0.1),
    ];
    let sim = some_similarity();
    for (k, x_ref) in world.iter().enumerate() {
        let xyz = sim.rotation.transpose() * (x_ref - sim.translation) / sim.scale;
        let mut track = vec![];
        for image_id in [1u32, 4] {
            let image = rec.images.get_mut(&image_id).expect("image");
            let p_cam = image.cam_from_world * Point3::from(xyz);
            let xy = camera.project(&p_cam.coords).expect("in front") + offset;
            track.push(TrackElement {
                image_id,
                point2d_idx: image.points2d.len() as u32,
            });
            image.points2d.push(Point2D {
                xy,
                point3d_id: Some(k as u64),
            });
        }
        rec.points3d.insert(
            k as u64,
            Point3D {
                xyz,
                color: [0; 3],
                error: -1.0,
                track,
            },
        );
    }
    (rec, reference)
}

#[test]
fn reprojection_error_is_zero_for_exact_points_and_the_offset_otherwise() {
    let (rec, reference) = with_points(Vector2::zeros());
    let eval = evaluate(&rec, &reference).expect("evaluation");
    assert_eq!((eval.num_points3d, eval.num_observations), (4, 8));
    let stats = eval.reprojection.error_px.expect("observations");
    assert!(stats.max < 1e-9, "{stats:?}");

    let (mut rec, reference) = with_points(Vector2::new(3.0, -4.0));
    let eval = evaluate(&rec, &reference).expect("evaluation");
    let stats = eval.reprojection.error_px.expect("observations");
    for v in [stats.mean, stats.median, stats.max] {
        assert!((v - 5.0).abs() < 1e-9, "{stats:?}");
    }
    assert_eq!(eval.reprojection.behind_camera, 0);

    // A point moved behind image 1's camera is counted apart, not averaged.
    let image = &rec.images[&1];
    let behind = image.center() - 3.0 * (image.cam_from_world.rotation.inverse() * Vector3::z());
    rec.points3d.get_mut(&0).expect("point").xyz = behind;
    let (_, repro) = reprojection_errors(&rec).expect("consistent");
    assert_eq!(repro.behind_camera, 1);

    rec.points3d.get_mut(&1).expect("point").track[0].point2d_idx = 99;
    assert!(matches!(
        reprojection_errors(&rec),
        Err(EvalError::DanglingTrack {
            point3d_id: 1,
            point2d_idx: 99,
            ..
        })
    ));
}

/// The fox's 50 COLMAP poses as reference, the same poses seen through a similarity as the
/// estimate: zero error on real camera layouts.
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn the_fox_poses_align_onto_themselves() {
    let json = crate::test_support::fox_transforms_json();
    let fox = crate::sfm::transforms::read_transforms(&json).expect("fox");
    let reference = reconstruction_poses(&fox);
    assert_eq!(reference.len(), 50);
    assert_eq!(reference[0].0, "images/0001.jpg");
    let eval = evaluate(&estimated(&reference, &some_similarity()), &reference).expect("eval");
    assert_eq!((eval.matched_count, eval.alignment_inliers), (50, 50));
    assert!(eval.rotation_error_deg.max < 1e-9 && eval.center_error.max < 1e-9);
}

/// Strecha fountain ground truth against itself through a similarity, two images dropped.
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn the_fountain_ground_truth_aligns_onto_itself() {
    let dir = std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/datasets/strecha-fountain-P11"
    ));
    let cameras = crate::sfm::reference::read_strecha_scene(dir).expect("fountain");
    let reference = strecha_poses(&cameras);
    let mut rec = estimated(&reference, &some_similarity());
    rec.images
        .retain(|_, i| i.name != "0000.jpg" && i.name != "0010.jpg");
    let eval = evaluate(&rec, &reference).expect("eval");
    assert_eq!((eval.reference_count, eval.matched_count), (11, 9));
    assert_eq!(eval.missing, ["0000.jpg", "0010.jpg"]);
    assert!(eval.rotation_error_deg.max < 1e-9 && eval.center_error.max < 1e-9);
    // The fountain cameras span about 13 m.
    assert!(
        eval.scene_extent > 5.0 && eval.scene_extent < 30.0,
        "{}",
        eval.scene_extent
    );
}

/// 60 cameras (more triples than are tried exhaustively, so random triples are drawn), 12 of
/// them thrown far off: the other 48 still align exactly.
#[test]
fn sampled_triples_survive_a_fifth_of_outliers() {
    let reference: Vec<_> = (0..60)
        .map(|i| {
            let a = i as f64 * 0.37;
            let c = Vector3::new(6.0 * a.cos(), 6.0 * a.sin(), 0.05 * i as f64);
            (format!("{i:04}.jpg"), look_at(c, Vector3::zeros()))
        })
        .collect();
    let mut rec = estimated(&reference, &some_similarity());
    for image in rec.images.values_mut().filter(|i| i.id % 5 == 0) {
        let c = image.center() + Vector3::new(3.0, -1.0, 2.0 + image.id as f64 * 0.1);
        let r = image.cam_from_world.rotation;
        image.cam_from_world = Isometry3::from_parts(Translation3::from(-(r * c)), r);
    }
    let eval = evaluate(&rec, &reference).expect("evaluation");
    assert_eq!(eval.alignment_inliers, 48);
    for e in eval.images.iter().filter(|e| e.inlier) {
        assert!(e.center_error < 1e-9 && e.rotation_deg < 1e-9, "{e:?}");
    }
    assert!(eval
        .images
        .iter()
        .filter(|e| !e.inlier)
        .all(|e| e.center_error > 0.1));
}
