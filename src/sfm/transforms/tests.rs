//! Tests of `transforms.json`: exact round trips, the axis convention on a known pose, model
//! mapping, errors, and the real instant-ngp fox scene.

use nalgebra::Vector2;
use rand::rngs::SmallRng;
use rand::SeedableRng;
use serde_json::Value;

use super::*;
use crate::test_support::random_pose;

fn camera(id: u32, model: CameraModel, params: Vec<f64>) -> Camera {
    Camera {
        id,
        model,
        width: 1920,
        height: 1080,
        params,
    }
}

/// Images on `camera_ids` in turn, with random poses.
fn posed(cameras: Vec<Camera>, camera_ids: &[u32], seed: u64) -> Reconstruction {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut rec = Reconstruction::default();
    for camera in cameras {
        rec.cameras.insert(camera.id, camera);
    }
    for (i, &camera_id) in camera_ids.iter().enumerate() {
        let id = i as u32 + 1;
        let image = Image {
            id,
            camera_id,
            name: format!("images/frame_{i:05}.png"),
            cam_from_world: random_pose(&mut rng, 5.0),
            points2d: Vec::new(),
        };
        rec.images.insert(id, image);
    }
    rec
}

fn assert_poses_close(a: &Reconstruction, b: &Reconstruction) {
    assert_eq!(a.images.len(), b.images.len());
    for (x, y) in a.images.values().zip(b.images.values()) {
        assert_eq!(x.name, y.name);
        let dr = (x.cam_from_world.rotation.to_rotation_matrix().into_inner()
            - y.cam_from_world.rotation.to_rotation_matrix().into_inner())
        .amax();
        let dt = (x.cam_from_world.translation.vector - y.cam_from_world.translation.vector).amax();
        assert!(
            dr < 1e-9 && dt < 1e-9,
            "{}: rotation {dr:e}, translation {dt:e}",
            x.name
        );
    }
}

#[test]
fn round_trip_with_shared_intrinsics() {
    let params = vec![
        1500.25, 1490.5, 960.125, 540.75, -0.125, 0.0312, 1e-4, -2e-4,
    ];
    let rec = posed(vec![camera(1, CameraModel::OpenCv, params)], &[1; 9], 1);
    let json = write_transforms(&rec).expect("write");

    let value: Value = serde_json::from_slice(&json).expect("valid JSON");
    assert_eq!(value["camera_model"], "OPENCV");
    assert_eq!(value["fl_x"], 1500.25);
    assert_eq!(value["frames"].as_array().map(Vec::len), Some(9));
    assert!(
        value["frames"][0].get("fl_x").is_none(),
        "intrinsics are global"
    );

    let back = read_transforms(&json).expect("read");
    assert_eq!(back.cameras, rec.cameras, "intrinsics exact");
    assert_poses_close(&back, &rec);
    assert!(back.images.values().all(|im| im.camera_id == 1));
}

#[test]
fn round_trip_with_per_frame_intrinsics() {
    let cameras = vec![
        camera(4, CameraModel::Pinhole, vec![800.5, 801.25, 959.5, 539.5]),
        camera(
            9,
            CameraModel::OpenCv,
            vec![1200.0, 1100.0, 950.0, 530.0, 0.1, -0.01, 0.001, -0.002],
        ),
    ];
    let rec = posed(cameras, &[9, 4, 4, 9, 4, 9, 9], 2);
    let json = write_transforms(&rec).expect("write");
    let value: Value = serde_json::from_slice(&json).expect("valid JSON");
    assert!(value.get("fl_x").is_none(), "intrinsics are per frame");
    assert_eq!(value["frames"][1]["camera_model"], "PINHOLE");

    let back = read_transforms(&json).expect("read");
    assert_poses_close(&back, &rec);
    // Camera ids are renumbered (1, 2 in order of first use); the intrinsics are exact.
    assert_eq!(back.cameras.len(), 2);
    for (orig, read) in rec.images.values().zip(back.images.values()) {
        let (a, b) = (
            &rec.cameras[&orig.camera_id],
            &back.cameras[&read.camera_id],
        );
        assert_eq!(
            (a.model, a.width, a.height, &a.params),
            (b.model, b.width, b.height, &b.params)
        );
    }
    assert_eq!(back.cameras[&1].model, CameraModel::OpenCv);
}

#[test]
fn opengl_axes_are_colmaps_with_y_and_z_flipped() {
    // A COLMAP camera at (1, 2, 3) with the world's axes: it looks down world +z, y down.
    let mut rec = posed(
        vec![camera(1, CameraModel::Pinhole, vec![1.0, 1.0, 0.5, 0.5])],
        &[1],
        0,
    );
    let image = rec.images.get_mut(&1).expect("image");
    image.cam_from_world = Isometry3::translation(-1.0, -2.0, -3.0);
    let value: Value =
        serde_json::from_slice(&write_transforms(&rec).expect("write")).expect("json");
    let expected = serde_json::json!([
        [1.0, 0.0, 0.0, 1.0],
        [0.0, -1.0, 0.0, 2.0],
        [0.0, 0.0, -1.0, 3.0],
        [0.0, 0.0, 0.0, 1.0]
    ]);
    assert_eq!(value["frames"][0]["transform_matrix"], expected);

    // And back: a camera turned 90° about the world's y axis (OpenGL: looking down −z = world −x).
    let json = br#"{"fl_x": 100, "w": 200, "h": 100, "frames": [{"file_path": "a.png",
        "transform_matrix": [[0, 0, 1, 5], [0, 1, 0, 0], [-1, 0, 0, 0], [0, 0, 0, 1]]}]}"#;
    let rec = read_transforms(json).expect("read");
    let image = &rec.images[&1];
    let world_from_cam = image.cam_from_world.inverse();
    assert!((world_from_cam.rotation * Vector3::z() - Vector3::new(-1.0, 0.0, 0.0)).norm() < 1e-15);
    assert!((world_from_cam.rotation * Vector3::y() - Vector3::new(0.0, -1.0, 0.0)).norm() < 1e-15);
    assert!((image.center() - Vector3::new(5.0, 0.0, 0.0)).norm() < 1e-15);
    // A point on the optical axis projects to the principal point (cx, cy default to w/2, h/2).
    let camera = &rec.cameras[&1];
    assert_eq!(camera.params, vec![100.0, 100.0, 100.0, 50.0]);
    let p = image.cam_from_world * nalgebra::Point3::new(0.0, 0.0, 0.0);
    assert!(p.z > 0.0);
    let pixel = Vector2::new(100.0 * p.x / p.z + 100.0, 100.0 * p.y / p.z + 50.0);
    assert!((pixel - Vector2::new(100.0, 50.0)).norm() < 1e-12);
}

#[test]
fn simple_models_are_written_as_their_nerfstudio_equivalents() {
    let cameras = vec![
        camera(1, CameraModel::SimplePinhole, vec![700.0, 960.0, 540.0]),
        camera(
            2,
            CameraModel::SimpleRadial,
            vec![710.0, 961.0, 541.0, -0.05],
        ),
        camera(
            3,
            CameraModel::Radial,
            vec![720.0, 962.0, 542.0, -0.06, 0.007],
        ),
    ];
    let back = read_transforms(&write_transforms(&posed(cameras, &[1, 2, 3], 3)).expect("write"))
        .expect("read");
    let by_image: Vec<(CameraModel, Vec<f64>)> = back
        .images
        .values()
        .map(|im| {
            let c = &back.cameras[&im.camera_id];
            (c.model, c.params.clone())
        })
        .collect();
    assert_eq!(
        by_image,
        vec![
            (CameraModel::Pinhole, vec![700.0, 700.0, 960.0, 540.0]),
            (
                CameraModel::OpenCv,
                vec![710.0, 710.0, 961.0, 541.0, -0.05, 0.0, 0.0, 0.0]
            ),
            (
                CameraModel::OpenCv,
                vec![720.0, 720.0, 962.0, 542.0, -0.06, 0.007, 0.0, 0.0]
            ),
        ]
    );
}

#[test]
fn camera_angle_replaces_a_missing_focal_length() {
    let json = br#"{"camera_angle_x": 1.5707963267948966, "w": 800, "h": 600,
        "frames": [{"file_path": "a.png", "transform_matrix":
        [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]}]}"#;
    let rec = read_transforms(json).expect("read");
    let params = &rec.cameras[&1].params;
    // 90° across 800 px: f = 400 / tan(45°).
    assert!((params[0] - 400.0).abs() < 1e-9 && params[0] == params[1]);
    assert_eq!(&params[2..], &[400.0, 300.0]);
}

#[test]
fn malformed_files_give_errors() {
    let frame = |extra: &str, matrix: &str| {
        format!(
            r#"{{"w": 640, "h": 480 {extra}, "frames": [{{"file_path": "x.jpg", "transform_matrix": {matrix}}}]}}"#
        )
    };
    let identity = "[[1,0,0,0],[0,1,0,0],[0,0,1,0],[0,0,0,1]]";
    let read = |s: String| read_transforms(s.as_bytes());

    assert!(matches!(
        read(frame("", identity)),
        Err(TransformsError::MissingField {
            index: 0,
            field: "fl_x (or camera_angle_x)",
            ..
        })
    ));
    assert!(matches!(
        read(frame(
            r#", "fl_x": 500, "camera_model": "OPENCV_FISHEYE""#,
            identity
        )),
        Err(TransformsError::UnsupportedModel { .. })
    ));
    let scaled = "[[2,0,0,0],[0,2,0,0],[0,0,2,0],[0,0,0,1]]";
    let err = read(frame(r#", "fl_x": 500"#, scaled)).expect_err("scaled");
    assert!(
        matches!(err, TransformsError::InvalidFrame { index: 0, .. }),
        "{err}"
    );
    let mirrored = "[[-1,0,0,0],[0,1,0,0],[0,0,1,0],[0,0,0,1]]";
    assert!(read(frame(r#", "fl_x": 500"#, mirrored)).is_err());
    let projective = "[[1,0,0,0],[0,1,0,0],[0,0,1,0],[0,0,0.5,1]]";
    assert!(read(frame(r#", "fl_x": 500"#, projective)).is_err());
    assert!(matches!(
        read(frame(
            r#", "fl_x": 500, "k1": 0.1, "camera_model": "PINHOLE""#,
            identity
        )),
        Err(TransformsError::InvalidFrame { .. })
    ));
    assert!(matches!(
        read(frame(r#", "fl_x": 500, "k3": 0.1"#, identity)),
        Err(TransformsError::InvalidFrame { .. })
    ));
    assert!(matches!(
        read(frame(r#", "fl_x": 500"#, "[[1,0,0,0],[0,1,0,0],[0,0,1,0]]")),
        Err(TransformsError::Json(_))
    ));
    assert!(matches!(
        read_transforms(b"{\"frames\": ["),
        Err(TransformsError::Json(_))
    ));
    let mut rec = posed(vec![camera(1, CameraModel::Pinhole, vec![1.0; 4])], &[1], 0);
    rec.images.get_mut(&1).expect("image").camera_id = 2;
    assert!(matches!(
        write_transforms(&rec),
        Err(TransformsError::Unwritable { image_id: 1, .. })
    ));
}

/// The instant-ngp fox scene: 50 frames of a phone video around a figurine, COLMAP's poses as
/// colmap2nerf wrote them (world up = +z).
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn reads_the_instant_ngp_fox_scene() {
    let json = crate::test_support::fox_transforms_json();
    let rec = read_transforms(&json).expect("fox transforms.json");

    assert_eq!(rec.images.len(), 50);
    assert_eq!(rec.cameras.len(), 1);
    let camera = &rec.cameras[&1];
    assert_eq!(camera.model, CameraModel::OpenCv);
    assert_eq!((camera.width, camera.height), (1080, 1920));
    assert_eq!(camera.params, crate::test_support::FOX_OPENCV_PARAMS);
    assert_eq!(rec.images[&1].name, "images/0001.jpg");

    // The optical axes meet near one point (the figurine): least-squares point p of the lines
    // C + s·d minimises Σ |(I − d dᵀ)(p − C)|².
    let axes: Vec<(Vector3<f64>, Vector3<f64>)> = rec
        .images
        .values()
        .map(|im| {
            (
                im.center(),
                im.cam_from_world.rotation.inverse() * Vector3::z(),
            )
        })
        .collect();
    let mut a = Matrix3::zeros();
    let mut b = Vector3::zeros();
    for (c, d) in &axes {
        let proj = Matrix3::identity() - d * d.transpose();
        a += proj;
        b += proj * c;
    }
    let p = a.try_inverse().expect("axes not all parallel") * b;
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let miss = median(
        axes.iter()
            .map(|(c, d)| (p - c - d * d.dot(&(p - c))).norm())
            .collect(),
    );
    let mean_centre = axes.iter().map(|(c, _)| c).sum::<Vector3<f64>>() / axes.len() as f64;
    let spread = median(axes.iter().map(|(c, _)| (c - mean_centre).norm()).collect());
    assert!(
        miss < 0.3 * spread,
        "axes miss their common point by {miss} (camera spread {spread})"
    );
    // The point is in front of every camera (COLMAP looks down +z; an unflipped OpenGL matrix
    // would put it behind), and projects inside every image.
    for im in rec.images.values() {
        let q = im.cam_from_world * nalgebra::Point3::from(p);
        assert!(q.z > 0.0, "{}: the scene is behind the camera", im.name);
        let pixel = Vector2::new(
            camera.params[0] * q.x / q.z + camera.params[2],
            camera.params[1] * q.y / q.z + camera.params[3],
        );
        assert!(
            pixel.x > 0.0 && pixel.x < 1080.0 && pixel.y > 0.0 && pixel.y < 1920.0,
            "{}: the scene centre projects to {pixel}",
            im.name
        );
    }
    // Portrait phone frames: the image's down direction (COLMAP +y) is the world's down (−z).
    let down = median(
        rec.images
            .values()
            .map(|im| (im.cam_from_world.rotation.inverse() * Vector3::y()).z)
            .collect(),
    );
    assert!(down < -0.9, "camera y in world z: median {down}");

    // Writing it back reproduces the file's matrices (to the rounding of the axis flip).
    let again = Transforms::from_json(&write_transforms(&rec).expect("write")).expect("parse");
    let original = Transforms::from_json(&json).expect("parse");
    for (a, b) in again.frames.iter().zip(&original.frames) {
        for (ra, rb) in a.transform_matrix.iter().zip(&b.transform_matrix) {
            for (x, y) in ra.iter().zip(rb) {
                assert!((x - y).abs() < 1e-5, "{}: {x} vs {y}", a.file_path);
            }
        }
    }
}
