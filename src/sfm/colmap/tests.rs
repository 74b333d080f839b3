//! Tests of the COLMAP readers and writers: exact round trips, a model laid out byte by byte
//! from COLMAP's format description, and malformed files.

use std::collections::BTreeMap;

use nalgebra::{Vector2, Vector3};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::*;
use crate::sfm::{Camera, CameraModel, Image, Point2D, Point3D, TrackElement};
use crate::test_support::random_pose;

/// Two cameras of every model, images with and without points, points with tracks (and one
/// without), odd floats (−0, subnormal, huge) and non-contiguous ids.
fn random_reconstruction(seed: u64) -> Reconstruction {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut rec = Reconstruction::default();
    for model in CameraModel::ALL {
        for _ in 0..2 {
            let id = loop {
                let id = rng.random_range(1..1000u32);
                if !rec.cameras.contains_key(&id) {
                    break id;
                }
            };
            let params = (0..model.param_count())
                .map(|i| match i {
                    0 => rng.random_range(100.0..5000.0),
                    _ => rng.random_range(-2.0..2.0) * 10f64.powi(rng.random_range(-3..4)),
                })
                .collect();
            let camera = Camera {
                id,
                model,
                width: rng.random_range(1..10_000),
                height: rng.random_range(1..10_000),
                params,
            };
            rec.cameras.insert(id, camera);
        }
    }
    let camera_ids: Vec<u32> = rec.cameras.keys().copied().collect();
    for i in 0..12 {
        let id = loop {
            let id = rng.random_range(1..100_000u32);
            if !rec.images.contains_key(&id) {
                break id;
            }
        };
        let cam_from_world = random_pose(&mut rng, 10.0);
        let n = if i % 4 == 0 {
            0
        } else {
            rng.random_range(1..40)
        };
        let points2d = (0..n)
            .map(|_| Point2D {
                xy: Vector2::new(rng.random_range(0.0..4000.0), rng.random_range(0.0..3000.0)),
                point3d_id: None,
            })
            .collect();
        let image = Image {
            id,
            camera_id: camera_ids[rng.random_range(0..camera_ids.len())],
            name: format!("set {}/IMG_{i:04}_é.JPG", i % 3),
            cam_from_world,
            points2d,
        };
        rec.images.insert(id, image);
    }
    let mut free: Vec<(u32, u32)> = rec
        .images
        .values()
        .flat_map(|im| (0..im.points2d.len() as u32).map(move |k| (im.id, k)))
        .collect();
    for p in 0..60 {
        let id = rng.random_range(0..u64::MAX);
        let len = if p == 0 { 0 } else { rng.random_range(1..5) };
        let mut track = Vec::new();
        for _ in 0..len {
            if free.is_empty() {
                break;
            }
            let (image_id, idx) = free.swap_remove(rng.random_range(0..free.len()));
            track.push(TrackElement {
                image_id,
                point2d_idx: idx,
            });
            let image = rec.images.get_mut(&image_id).expect("image exists");
            image.points2d[idx as usize].point3d_id = Some(id);
        }
        let xyz = match p {
            1 => Vector3::new(-0.0, 1e-310, 1.7e308),
            2 => Vector3::new(1e-7, -123456789.123, 0.1),
            _ => Vector3::new(rng.random(), rng.random(), rng.random()) * 20.0,
        };
        let point = Point3D {
            xyz,
            color: [rng.random(), rng.random(), rng.random()],
            error: if p % 7 == 0 { -1.0 } else { rng.random() },
            track,
        };
        rec.points3d.insert(id, point);
    }
    rec
}

fn round_trip(format: ModelFormat, seed: u64) {
    let rec = random_reconstruction(seed);
    let files = format.write(&rec).expect("write");
    let back = format.read(&files).expect("read");
    assert_eq!(back, rec, "{format:?}: read(write(rec)) differs");
    let again = format.write(&back).expect("write again");
    assert_eq!(
        again, files,
        "{format:?}: write(read(files)) is not bit-exact"
    );
}

#[test]
fn binary_round_trip_is_exact() {
    for seed in 0..4 {
        round_trip(ModelFormat::Binary, seed);
    }
}

#[test]
fn text_round_trip_is_exact() {
    for seed in 0..4 {
        round_trip(ModelFormat::Text, seed);
    }
}

#[test]
fn binary_and_text_hold_the_same_model() {
    let rec = random_reconstruction(9);
    let text = read_text_files(&write_text(&rec).expect("text"));
    let binary = read_binary_files(&write_binary(&rec).expect("binary"));
    assert_eq!(text.expect("read text"), binary.expect("read binary"));
}

fn read_binary_files(f: &ModelFiles) -> Result<Reconstruction, ColmapError> {
    read_binary(&f.cameras, &f.images, &f.points3d)
}

fn read_text_files(f: &ModelFiles) -> Result<Reconstruction, ColmapError> {
    read_text(&f.cameras, &f.images, &f.points3d)
}

fn f64s(values: &[f64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// A tiny model laid out from COLMAP's description of the binary format.
fn hand_built() -> ModelFiles {
    let mut cameras = vec![
        1, 0, 0, 0, 0, 0, 0, 0, // number of cameras (u64)
        3, 0, 0, 0, // camera_id (u32)
        1, 0, 0, 0, // model_id (i32): PINHOLE
        0x80, 0x02, 0, 0, 0, 0, 0, 0, // width 640 (u64)
        0xe0, 0x01, 0, 0, 0, 0, 0, 0, // height 480 (u64)
    ];
    cameras.extend(f64s(&[500.0, 510.0, 320.0, 240.0])); // fx fy cx cy

    let mut images = vec![
        1, 0, 0, 0, 0, 0, 0, 0, // number of images (u64)
        7, 0, 0, 0, // image_id (u32)
    ];
    images.extend(f64s(&[0.5, 0.5, 0.5, 0.5])); // qw qx qy qz
    images.extend(f64s(&[1.0, -2.0, 3.0])); // tx ty tz
    images.extend([3, 0, 0, 0]); // camera_id (u32)
    images.extend(b"a.jpg\0"); // name, NUL-terminated
    images.extend([2, 0, 0, 0, 0, 0, 0, 0]); // number of points2D (u64)
    images.extend(f64s(&[10.5, 20.25])); // x y
    images.extend([42, 0, 0, 0, 0, 0, 0, 0]); // point3D_id (u64)
    images.extend(f64s(&[0.5, 0.5])); // x y
    images.extend([0xff; 8]); // point3D_id: none (u64::MAX)

    let mut points3d = vec![
        1, 0, 0, 0, 0, 0, 0, 0, // number of points3D (u64)
        42, 0, 0, 0, 0, 0, 0, 0, // point3D_id (u64)
    ];
    points3d.extend(f64s(&[1.0, 2.0, 3.0])); // x y z
    points3d.extend([255, 128, 0]); // r g b
    points3d.extend(f64s(&[0.75])); // error
    points3d.extend([1, 0, 0, 0, 0, 0, 0, 0]); // track length (u64)
    points3d.extend([7, 0, 0, 0, 0, 0, 0, 0]); // image_id (u32), point2D_idx (u32)
    ModelFiles {
        cameras,
        images,
        points3d,
    }
}

/// The same model as COLMAP writes it in text.
const HAND_BUILT_TEXT: [&str; 3] = [
    "# Camera list with one line of data per camera:
#   CAMERA_ID, MODEL, WIDTH, HEIGHT, PARAMS[]
# Number of cameras: 1
3 PINHOLE 640 480 500 510 320 240
",
    "# Image list with two lines of data per image:
#   IMAGE_ID, QW, QX, QY, QZ, TX, TY, TZ, CAMERA_ID, NAME
#   POINTS2D[] as (X, Y, POINT3D_ID)
# Number of images: 1, mean observations per image: 1
7 0.5 0.5 0.5 0.5 1 -2 3 3 a.jpg
10.5 20.25 42 0.5 0.5 -1
",
    "# 3D point list with one line of data per point:
#   POINT3D_ID, X, Y, Z, R, G, B, ERROR, TRACK[] as (IMAGE_ID, POINT2D_IDX)
# Number of points: 1, mean track length: 1
42 1 2 3 255 128 0 0.75 7 0
",
];

fn hand_built_text() -> ModelFiles {
    ModelFiles {
        cameras: HAND_BUILT_TEXT[0].as_bytes().to_vec(),
        images: HAND_BUILT_TEXT[1].as_bytes().to_vec(),
        points3d: HAND_BUILT_TEXT[2].as_bytes().to_vec(),
    }
}

#[test]
fn reads_a_hand_built_binary_model() {
    let files = hand_built();
    let rec = read_binary_files(&files).expect("valid model");

    let camera = &rec.cameras[&3];
    assert_eq!(camera.model, CameraModel::Pinhole);
    assert_eq!((camera.width, camera.height), (640, 480));
    assert_eq!(camera.params, vec![500.0, 510.0, 320.0, 240.0]);

    let image = &rec.images[&7];
    assert_eq!((image.camera_id, image.name.as_str()), (3, "a.jpg"));
    // q = (1/2)(1 + i + j + k): a 120° turn about (1, 1, 1), taking x to y, y to z, z to x.
    let r = image.cam_from_world.rotation;
    assert!((r * Vector3::x() - Vector3::y()).norm() < 1e-15);
    assert!((r * Vector3::z() - Vector3::x()).norm() < 1e-15);
    assert_eq!(
        image.cam_from_world.translation.vector,
        Vector3::new(1.0, -2.0, 3.0)
    );
    // Centre −Rᵀt: Rᵀ takes x to z, y to x, z to y.
    assert!((image.center() - Vector3::new(2.0, -3.0, -1.0)).norm() < 1e-15);
    assert_eq!(
        image.points2d,
        vec![
            Point2D {
                xy: Vector2::new(10.5, 20.25),
                point3d_id: Some(42)
            },
            Point2D {
                xy: Vector2::new(0.5, 0.5),
                point3d_id: None
            },
        ]
    );

    let point = &rec.points3d[&42];
    assert_eq!(point.xyz, Vector3::new(1.0, 2.0, 3.0));
    assert_eq!((point.color, point.error), ([255, 128, 0], 0.75));
    assert_eq!(
        point.track,
        vec![TrackElement {
            image_id: 7,
            point2d_idx: 0
        }]
    );

    assert_eq!(write_binary(&rec).expect("write"), files);
}

#[test]
fn text_matches_colmap_layout() {
    let rec = read_binary_files(&hand_built()).expect("binary");
    assert_eq!(write_text(&rec).expect("write"), hand_built_text());
    assert_eq!(read_text_files(&hand_built_text()).expect("text"), rec);
}

fn file_mut(files: &mut ModelFiles, which: usize) -> &mut Vec<u8> {
    match which {
        0 => &mut files.cameras,
        1 => &mut files.images,
        _ => &mut files.points3d,
    }
}

#[test]
fn every_truncated_binary_file_is_an_error() {
    let files = hand_built();
    for which in 0..3 {
        let full = [&files.cameras, &files.images, &files.points3d][which];
        for len in 0..full.len() {
            let mut cut = files.clone();
            file_mut(&mut cut, which).truncate(len);
            let err = read_binary_files(&cut).expect_err("a truncated file must not parse");
            assert!(
                matches!(
                    err,
                    ColmapError::Truncated { .. } | ColmapError::CountTooLarge { .. }
                ),
                "file {which} cut to {len}: {err}"
            );
        }
    }
}

#[test]
fn truncated_or_corrupted_files_never_panic() {
    let rec = random_reconstruction(3);
    let mut rng = SmallRng::seed_from_u64(5);
    for format in [ModelFormat::Binary, ModelFormat::Text] {
        let files = format.write(&rec).expect("write");
        for which in 0..3 {
            let len = [&files.cameras, &files.images, &files.points3d][which].len();
            for _ in 0..300 {
                let mut bad = files.clone();
                let bytes = file_mut(&mut bad, which);
                if rng.random_bool(0.5) {
                    bytes.truncate(rng.random_range(0..len));
                } else {
                    for _ in 0..rng.random_range(1..4) {
                        bytes[rng.random_range(0..len)] = rng.random();
                    }
                }
                // Either outcome is fine; a panic fails the test.
                let _ = format.read(&bad);
            }
        }
    }
}

#[test]
fn trailing_bytes_are_an_error() {
    let mut files = hand_built();
    files.points3d.push(0);
    let err = read_binary_files(&files).expect_err("trailing byte");
    assert!(matches!(
        err,
        ColmapError::TrailingBytes {
            file: "points3D.bin",
            extra: 1
        }
    ));
}

#[test]
fn unsupported_camera_models_are_named() {
    let mut files = hand_built();
    files.cameras[12] = 6; // FULL_OPENCV
    let err = read_binary_files(&files).expect_err("model 6");
    assert!(matches!(
        err,
        ColmapError::UnsupportedModel { camera_id: 3, .. }
    ));
    assert_eq!(
        err.to_string(),
        "cameras.bin: camera 3: unsupported camera model 6"
    );

    let mut files = hand_built_text();
    files.cameras = HAND_BUILT_TEXT[0]
        .replace("PINHOLE", "FULL_OPENCV")
        .into_bytes();
    let err = read_text_files(&files).expect_err("FULL_OPENCV");
    assert_eq!(
        err.to_string(),
        "cameras.txt: camera 3: unsupported camera model FULL_OPENCV"
    );
}

#[test]
fn huge_counts_are_rejected_before_allocating() {
    let mut files = hand_built();
    files.cameras[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    let err = read_binary_files(&files).expect_err("camera count");
    assert!(matches!(
        err,
        ColmapError::CountTooLarge {
            file: "cameras.bin",
            count: u64::MAX,
            ..
        }
    ));

    // num_points2D of image 7: after count, id, pose, camera id and "a.jpg\0".
    let mut files = hand_built();
    let at = 8 + 4 + 56 + 4 + 6;
    files.images[at..at + 8].copy_from_slice(&(1u64 << 60).to_le_bytes());
    let err = read_binary_files(&files).expect_err("points2D count");
    assert!(
        matches!(
            err,
            ColmapError::CountTooLarge {
                file: "images.bin",
                record: Record::Image {
                    index: 0,
                    id: Some(7)
                },
                ..
            }
        ),
        "{err}"
    );

    // track_length of point 42: after count, id, xyz, rgb, error.
    let mut files = hand_built();
    let at = 8 + 8 + 24 + 3 + 8;
    files.points3d[at..at + 8].copy_from_slice(&(u64::MAX / 2).to_le_bytes());
    let err = read_binary_files(&files).expect_err("track length");
    assert!(matches!(
        err,
        ColmapError::CountTooLarge {
            file: "points3D.bin",
            ..
        }
    ));
}

#[test]
fn dangling_references_are_errors() {
    // The track's image id (last 8 bytes of points3D.bin: image_id, point2D_idx).
    let mut files = hand_built();
    let n = files.points3d.len();
    files.points3d[n - 8] = 8;
    assert!(matches!(
        read_binary_files(&files),
        Err(ColmapError::MissingImage {
            point3d_id: 42,
            image_id: 8,
            ..
        })
    ));

    let mut files = hand_built();
    files.points3d[n - 4] = 2;
    assert!(matches!(
        read_binary_files(&files),
        Err(ColmapError::Point2DOutOfRange {
            point3d_id: 42,
            image_id: 7,
            point2d_idx: 2,
            num_points2d: 2,
            ..
        })
    ));

    // The track names point2D 1, which observes no point.
    let mut files = hand_built();
    files.points3d[n - 4] = 1;
    assert!(matches!(
        read_binary_files(&files),
        Err(ColmapError::InconsistentTrack {
            point3d_id: 42,
            point2d_idx: 1,
            ..
        })
    ));

    let text = |images: &str, points: &str| ModelFiles {
        cameras: HAND_BUILT_TEXT[0].as_bytes().to_vec(),
        images: images.as_bytes().to_vec(),
        points3d: points.as_bytes().to_vec(),
    };
    let files = text(
        &HAND_BUILT_TEXT[1].replace("3 a.jpg", "4 a.jpg"),
        HAND_BUILT_TEXT[2],
    );
    assert!(matches!(
        read_text_files(&files),
        Err(ColmapError::MissingCamera {
            image_id: 7,
            camera_id: 4,
            ..
        })
    ));
    let files = text(
        &HAND_BUILT_TEXT[1].replace("0.5 0.5 -1", "0.5 0.5 43"),
        HAND_BUILT_TEXT[2],
    );
    assert!(matches!(
        read_text_files(&files),
        Err(ColmapError::MissingPoint3D {
            image_id: 7,
            point2d_idx: 1,
            point3d_id: 43,
            ..
        })
    ));
    let files = text(
        HAND_BUILT_TEXT[1],
        &HAND_BUILT_TEXT[2].replace("7 0\n", "7 0 7 0\n"),
    );
    assert!(matches!(
        read_text_files(&files),
        Err(ColmapError::InconsistentTrack { .. })
    ));
    let files = text(
        HAND_BUILT_TEXT[1],
        &HAND_BUILT_TEXT[2].replace("7 0\n", "\n"),
    );
    let err = read_text_files(&files).expect_err("observation missing from the track");
    assert!(
        matches!(err, ColmapError::InconsistentTrack { .. }),
        "{err}"
    );
}

#[test]
fn writers_check_the_model_too() {
    let mut rec = read_binary_files(&hand_built()).expect("valid");
    rec.cameras.get_mut(&3).expect("camera").params.pop();
    for format in [ModelFormat::Binary, ModelFormat::Text] {
        assert!(matches!(
            format.write(&rec),
            Err(ColmapError::ParamCount {
                camera_id: 3,
                expected: 4,
                found: 3,
                ..
            })
        ));
    }
    let mut rec = read_binary_files(&hand_built()).expect("valid");
    rec.images.get_mut(&7).expect("image").name = "two\nlines".into();
    assert!(matches!(
        write_text(&rec),
        Err(ColmapError::Unwritable { .. })
    ));
    rec.images.get_mut(&7).expect("image").name = "nul\0".into();
    assert!(matches!(
        write_binary(&rec),
        Err(ColmapError::Unwritable { .. })
    ));
}

#[test]
fn text_errors_name_the_line() {
    let mut files = hand_built_text();
    files.cameras = HAND_BUILT_TEXT[0].replace(" 240", "").into_bytes();
    assert!(matches!(
        read_text_files(&files),
        Err(ColmapError::ParamCount {
            expected: 4,
            found: 3,
            ..
        })
    ));

    let mut files = hand_built_text();
    files.points3d = HAND_BUILT_TEXT[2]
        .replace("255 128", "256 128")
        .into_bytes();
    let err = read_text_files(&files).expect_err("colour 256");
    assert!(
        matches!(
            err,
            ColmapError::Syntax {
                file: "points3D.txt",
                line: 4,
                ..
            }
        ),
        "{err}"
    );

    let mut files = hand_built_text();
    files.images = HAND_BUILT_TEXT[1]
        .replace(" 0.5 0.5 -1", " 0.5 0.5")
        .into_bytes();
    let err = read_text_files(&files).expect_err("two values");
    assert!(
        matches!(
            err,
            ColmapError::Syntax {
                file: "images.txt",
                line: 6,
                ..
            }
        ),
        "{err}"
    );

    let mut files = hand_built_text();
    files.cameras = format!("{}3 PINHOLE 1 1 1 1 1 1\n", HAND_BUILT_TEXT[0]).into_bytes();
    assert!(matches!(
        read_text_files(&files),
        Err(ColmapError::DuplicateId {
            what: "camera",
            id: 3,
            ..
        })
    ));

    let mut files = hand_built_text();
    files.images = HAND_BUILT_TEXT[1]
        .replace("7 0.5 0.5 0.5 0.5", "7 0 0 0 0")
        .into_bytes();
    assert!(matches!(
        read_text_files(&files),
        Err(ColmapError::Syntax { line: 5, .. })
    ));
}

#[test]
fn short_text_quaternions_are_normalised() {
    let mut files = hand_built_text();
    files.images = HAND_BUILT_TEXT[1]
        .replace("7 0.5 0.5 0.5 0.5", "7 0.7071 0 0 0.7071")
        .into_bytes();
    let rec = read_text_files(&files).expect("valid");
    let q = rec.images[&7].cam_from_world.rotation;
    assert!((q.quaternion().norm() - 1.0).abs() < 1e-15);
    // A quarter turn about z.
    assert!((q * Vector3::x() - Vector3::y()).norm() < 1e-12);
}

#[test]
fn empty_model_round_trips() {
    let rec = Reconstruction {
        cameras: BTreeMap::new(),
        images: BTreeMap::new(),
        points3d: BTreeMap::new(),
    };
    for format in [ModelFormat::Binary, ModelFormat::Text] {
        let files = format.write(&rec).expect("write");
        assert_eq!(format.read(&files).expect("read"), rec);
    }
    assert_eq!(write_binary(&rec).expect("write").cameras, vec![0; 8]);
}
