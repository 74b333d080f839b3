//! The incremental mapper on synthetic camera rings: accurate rotations and focal length, the
//! principal point, unrelated photos left out, and sets that cannot be reconstructed.

use nalgebra::{Isometry3, Point3, Translation3, UnitQuaternion, Vector2, Vector3};
use rand::{rngs::SmallRng, Rng, SeedableRng};

use super::*;
use crate::sfm::{Camera, CameraModel};

/// A ring of `n` cameras looking at a cloud of points, each camera's keypoints being the
/// projections (with noise) of the points it sees, in a shuffled order; matches between every
/// pair, with a fraction of wrong matches. Returns the input and the true poses.
fn synthetic(
    n: usize,
    points: usize,
    noise_px: f64,
    outliers: f64,
    focal_error: f64,
    seed: u64,
) -> (SfmInput, Vec<Isometry3<f64>>) {
    synthetic_with(
        n,
        points,
        noise_px,
        outliers,
        focal_error,
        seed,
        [800.0, 600.0],
        0.5,
    )
}

/// [`synthetic`] with the true principal point `pp` (the prior stays at the image centre) and
/// camera heights spread over ±`height`.
#[allow(clippy::too_many_arguments)]
fn synthetic_with(
    n: usize,
    points: usize,
    noise_px: f64,
    outliers: f64,
    focal_error: f64,
    seed: u64,
    pp: [f64; 2],
    height: f64,
) -> (SfmInput, Vec<Isometry3<f64>>) {
    let mut rng = SmallRng::seed_from_u64(seed);
    let (w, h, f) = (1600u64, 1200u64, 1300.0);
    let truth_cam = Camera::new(
        1,
        CameraModel::SimpleRadial,
        w,
        h,
        vec![f, pp[0], pp[1], 0.0],
    )
    .expect("camera");
    let cloud: Vec<Vector3<f64>> = (0..points)
        .map(|_| {
            Vector3::new(
                rng.random_range(-2.0..2.0),
                rng.random_range(-1.5..1.5),
                rng.random_range(-2.0..2.0),
            )
        })
        .collect();
    let poses: Vec<Isometry3<f64>> = (0..n)
        .map(|k| {
            let a = k as f64 * 0.35 + rng.random_range(-0.05..0.05);
            let centre = Vector3::new(
                8.0 * a.sin(),
                rng.random_range(-height..=height),
                -8.0 * a.cos(),
            );
            // Look at the origin: z axis towards it, y roughly down.
            let z = (-centre).normalize();
            let x = Vector3::new(0.0, 1.0, 0.0).cross(&z).normalize();
            let y = z.cross(&x);
            let r = nalgebra::Rotation3::from_matrix_unchecked(nalgebra::Matrix3::from_rows(&[
                x.transpose(),
                y.transpose(),
                z.transpose(),
            ]));
            let rot = UnitQuaternion::from_rotation_matrix(&r);
            let t = -(rot * centre);
            Isometry3::from_parts(Translation3::from(t), rot)
        })
        .collect();
    // Keypoints: the visible points, shuffled per image; `index[k][p]` = keypoint of point p.
    let mut images = Vec::new();
    let mut index: Vec<Vec<Option<u32>>> = Vec::new();
    for (k, pose) in poses.iter().enumerate() {
        let mut kps = Vec::new();
        let mut idx = vec![None; points];
        let mut order: Vec<usize> = (0..points).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, rng.random_range(0..=i));
        }
        for &p in &order {
            let pc = pose * Point3::from(cloud[p]);
            if let Some(px) = truth_cam.project(&pc.coords) {
                if px.x > 0.0 && px.y > 0.0 && px.x < w as f64 && px.y < h as f64 {
                    let noise = Vector2::new(
                        rng.random_range(-1.0..1.0) * noise_px,
                        rng.random_range(-1.0..1.0) * noise_px,
                    );
                    idx[p] = Some(kps.len() as u32);
                    kps.push(px + noise);
                }
            }
        }
        images.push(SfmImage {
            name: format!("{k:04}.jpg"),
            camera_id: 1,
            keypoints: kps,
        });
        index.push(idx);
    }
    let mut pairs = Vec::new();
    for a in 0..n {
        for b in a + 1..n {
            let mut matches: Vec<[u32; 2]> = (0..points)
                .filter_map(|p| Some([index[a][p]?, index[b][p]?]))
                .collect();
            let wrong = (matches.len() as f64 * outliers) as usize;
            let (na, nb) = (images[a].keypoints.len(), images[b].keypoints.len());
            for _ in 0..wrong {
                matches.push([
                    rng.random_range(0..na) as u32,
                    rng.random_range(0..nb) as u32,
                ]);
            }
            pairs.push(PairMatches { a, b, matches });
        }
    }
    let prior = Camera::new(
        1,
        CameraModel::SimpleRadial,
        w,
        h,
        vec![f * (1.0 + focal_error), 800.0, 600.0, 0.0],
    )
    .expect("prior");
    (
        SfmInput {
            cameras: vec![prior],
            images,
            pairs,
        },
        poses,
    )
}

/// Largest error (degrees) of the relative rotations between registered images: free of the
/// gauge, so no alignment is needed.
fn max_relative_rotation_error(result: &SfmResult, truth: &[Isometry3<f64>]) -> f64 {
    let ims: Vec<_> = result.reconstruction.images.values().collect();
    let mut worst: f64 = 0.0;
    for a in &ims {
        for b in &ims {
            let (ia, ib) = (a.id as usize - 1, b.id as usize - 1);
            let est = b.cam_from_world.rotation * a.cam_from_world.rotation.inverse();
            let tru = truth[ib].rotation * truth[ia].rotation.inverse();
            worst = worst.max((est * tru.inverse()).angle().to_degrees());
        }
    }
    worst
}

#[test]
fn synthetic_ring_is_reconstructed_with_accurate_rotations_and_focal() {
    let (input, truth) = synthetic(10, 1500, 0.5, 0.2, 0.08, 3);
    let mut stages = std::collections::BTreeSet::new();
    let result = reconstruct(&input, &MapperOptions::default(), &mut |p| {
        stages.insert(p.stage);
    })
    .expect("reconstruction");
    assert_eq!(
        result.reconstruction.images.len(),
        10,
        "{:?}",
        result.unregistered
    );
    assert!(result.unregistered.is_empty());
    let rot = max_relative_rotation_error(&result, &truth);
    assert!(rot < 0.1, "relative rotation error {rot}°");
    // A ring at one height barely constrains the principal point: freeing it would let it
    // drift (4 px here) for no real gain, so it stays at the centre.
    let pp = result.reconstruction.cameras[&1].principal_point();
    assert_eq!((pp.x, pp.y), (800.0, 600.0));
    let f = result.reconstruction.cameras[&1].params[0];
    assert!(
        (f / 1300.0 - 1.0).abs() < 0.01,
        "focal {f} from a prior 8 % off"
    );
    assert!(
        result.rms_reprojection_px < 0.6,
        "rms {} px with 0.5 px uniform noise (0.41 px rms)",
        result.rms_reprojection_px
    );
    assert!(result.reconstruction.points3d.len() > 1000);
    for s in ["verification", "mapping", "bundle adjustment"] {
        assert!(stages.contains(s), "no {s} progress");
    }
}

#[test]
fn an_off_centre_principal_point_is_recovered_when_the_views_constrain_it() {
    // Cameras at heights spread over ±3 around a deep cloud, the lens's centre 15 px right and
    // 12 px up of the image centre (as real lenses, ~0.6° of tilt at this focal length).
    let (input, truth) = synthetic_with(12, 1500, 0.5, 0.1, 0.03, 11, [815.0, 588.0], 3.0);
    let result = reconstruct(&input, &MapperOptions::default(), &mut |_| {}).expect("model");
    assert_eq!(result.reconstruction.images.len(), 12);
    let pp = result.reconstruction.cameras[&1].principal_point();
    assert!(
        (pp.x - 815.0).abs() < 2.0 && (pp.y - 588.0).abs() < 2.0,
        "principal point {pp:?}, truth (815, 588)"
    );
    let rot = max_relative_rotation_error(&result, &truth);
    assert!(rot < 0.1, "relative rotation error {rot}°");
    // With too few views for the test it stays at the prior, the image centre.
    let few = MapperOptions {
        principal_point_min_images: 13,
        ..MapperOptions::default()
    };
    let result = reconstruct(&input, &few, &mut |_| {}).expect("model");
    let pp = result.reconstruction.cameras[&1].principal_point();
    assert_eq!((pp.x, pp.y), (800.0, 600.0));
}

#[test]
fn unrelated_photos_are_left_out_with_a_reason() {
    let (mut input, truth) = synthetic(6, 800, 0.3, 0.1, 0.0, 5);
    // Two photos of something else: random keypoints with random matches to everything.
    let mut rng = SmallRng::seed_from_u64(9);
    for k in 0..2 {
        let kps: Vec<Vector2<f64>> = (0..400)
            .map(|_| Vector2::new(rng.random_range(0.0..1600.0), rng.random_range(0.0..1200.0)))
            .collect();
        input.images.push(SfmImage {
            name: format!("unrelated-{k}.jpg"),
            camera_id: 1,
            keypoints: kps,
        });
    }
    let n = input.images.len();
    for a in 0..n - 2 {
        for b in n - 2..n {
            let matches = (0..60)
                .map(|_| [rng.random_range(0..100u32), rng.random_range(0..400u32)])
                .collect();
            input.pairs.push(PairMatches { a, b, matches });
        }
    }
    let result = reconstruct(&input, &MapperOptions::default(), &mut |_| {}).expect("model");
    assert_eq!(result.reconstruction.images.len(), 6);
    let names: Vec<&str> = result
        .unregistered
        .iter()
        .map(|u| u.name.as_str())
        .collect();
    assert_eq!(names, ["unrelated-0.jpg", "unrelated-1.jpg"]);
    assert!(result.unregistered.iter().all(|u| !u.reason.is_empty()));
    assert!(max_relative_rotation_error(&result, &truth) < 0.1);
}

#[test]
fn sets_that_cannot_be_reconstructed_fail_with_a_clear_error() {
    let (input, _) = synthetic(1, 100, 0.0, 0.0, 0.0, 1);
    assert_eq!(
        reconstruct(&input, &MapperOptions::default(), &mut |_| {}).err(),
        Some(SfmError::TooFewImages(1))
    );
    let (mut input, _) = synthetic(4, 500, 0.3, 0.0, 0.0, 2);
    input.pairs.clear();
    let err = reconstruct(&input, &MapperOptions::default(), &mut |_| {}).expect_err("no pairs");
    assert!(matches!(err, SfmError::NoInitialPair { .. }), "{err}");
    assert!(err.to_string().contains("no two photos overlap"), "{err}");
}
