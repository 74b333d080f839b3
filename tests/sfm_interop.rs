//! Interop with COLMAP itself (pycolmap 4.2.1, installed by test.sh): models Splatpod writes,
//! binary and text, are read by COLMAP's reader (`tests/colmap_interop.py` prints what it read)
//! exactly; models COLMAP writes back are read by Splatpod equal to the original.
#![cfg(not(target_arch = "wasm32"))]

use std::path::Path;
use std::process::Command;

use nalgebra::{Isometry3, Quaternion, Translation3, UnitQuaternion, Vector2, Vector3};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use splatpod::sfm::colmap::{read_model, write_model, ModelFormat};
use splatpod::sfm::{Camera, CameraModel, Image, Point2D, Point3D, Reconstruction, TrackElement};

/// Cameras of every model, images with and without 2D points, points with tracks; ids not
/// contiguous. Names have no spaces (COLMAP's text reader stops a name at a space).
fn random_reconstruction(seed: u64) -> Reconstruction {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut rec = Reconstruction::default();
    for (i, model) in CameraModel::ALL.into_iter().cycle().take(10).enumerate() {
        let id = 3 * i as u32 + 1;
        let params = (0..model.param_count())
            .map(|k| match k {
                0 => rng.random_range(200.0..4000.0),
                _ => rng.random_range(-1.0..1.0) * 10f64.powi(rng.random_range(-4..3)),
            })
            .collect();
        let camera = Camera {
            id,
            model,
            width: rng.random_range(100..8000),
            height: rng.random_range(100..8000),
            params,
        };
        rec.cameras.insert(id, camera);
    }
    let camera_ids: Vec<u32> = rec.cameras.keys().copied().collect();
    for i in 0..15u32 {
        let id = 100 + 7 * i;
        let q = Quaternion::new(
            rng.random_range(-1.0..1.0),
            rng.random_range(-1.0..1.0),
            rng.random_range(-1.0..1.0),
            rng.random_range(-1.0..1.0),
        );
        let t = Vector3::new(
            rng.random_range(-20.0..20.0),
            rng.random_range(-20.0..20.0),
            rng.random_range(-20.0..20.0),
        );
        let n = if i % 5 == 0 {
            0
        } else {
            rng.random_range(1..60)
        };
        let image = Image {
            id,
            camera_id: camera_ids[i as usize % camera_ids.len()],
            name: format!("seq_{}/frame_{i:04}_é.jpg", i % 2),
            cam_from_world: Isometry3::from_parts(
                Translation3::from(t),
                UnitQuaternion::from_quaternion(q),
            ),
            points2d: (0..n)
                .map(|_| Point2D {
                    xy: Vector2::new(rng.random_range(0.0..8000.0), rng.random_range(0.0..8000.0)),
                    point3d_id: None,
                })
                .collect(),
        };
        rec.images.insert(id, image);
    }
    let mut free: Vec<(u32, u32)> = rec
        .images
        .values()
        .flat_map(|im| (0..im.points2d.len() as u32).map(move |k| (im.id, k)))
        .collect();
    let mut next_id = 1u64;
    while !free.is_empty() {
        let id = next_id;
        next_id += rng.random_range(1..1000);
        let mut track = Vec::new();
        for _ in 0..rng.random_range(2..6).min(free.len()) {
            let (image_id, k) = free.swap_remove(rng.random_range(0..free.len()));
            track.push(TrackElement {
                image_id,
                point2d_idx: k,
            });
            rec.images.get_mut(&image_id).expect("image").points2d[k as usize].point3d_id =
                Some(id);
        }
        let point = Point3D {
            xyz: Vector3::new(rng.random(), rng.random(), rng.random()) * 50.0
                - Vector3::repeat(25.0),
            color: [rng.random(), rng.random(), rng.random()],
            error: rng.random_range(0.0..2.0),
            track,
        };
        rec.points3d.insert(id, point);
    }
    rec
}

/// Runs tests/colmap_interop.py on `dir` (extra arguments passed on) and parses its JSON.
fn pycolmap_read(dir: &Path, extra: &[&Path]) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/colmap_interop.py");
    let mut cmd = Command::new("python3");
    cmd.arg(&script).arg(dir);
    for (flag, path) in ["--write-binary", "--write-text"].iter().zip(extra) {
        cmd.arg(flag).arg(path);
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("python3 {}: {e}", script.display()));
    assert!(
        out.status.success(),
        "pycolmap could not read {} (is pycolmap==4.2.1 installed? test.sh installs it):\n{}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the script prints JSON")
}

fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-12 * a.abs().max(b.abs())
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

fn assert_floats(what: &str, got: &Value, want: &[f64]) {
    let got = floats(got);
    assert_eq!(got.len(), want.len(), "{what}: {got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!(
            close(*g, *w),
            "{what}: pycolmap read {got:?}, we wrote {want:?}"
        );
    }
}

/// Asserts that what pycolmap printed is `rec`.
fn assert_same(seen: &Value, rec: &Reconstruction) {
    assert_eq!(seen["num_cameras"], rec.cameras.len());
    assert_eq!(seen["num_images"], rec.images.len());
    assert_eq!(seen["num_points3D"], rec.points3d.len());

    let cameras = seen["cameras"].as_array().expect("cameras");
    for (c, camera) in cameras.iter().zip(rec.cameras.values()) {
        assert_eq!(c["id"], camera.id);
        assert_eq!(c["model"], camera.model.name());
        assert_eq!(
            (&c["width"], &c["height"]),
            (&camera.width.into(), &camera.height.into())
        );
        assert_floats(
            &format!("camera {} params", camera.id),
            &c["params"],
            &camera.params,
        );
    }

    let images = seen["images"].as_array().expect("images");
    for (i, image) in images.iter().zip(rec.images.values()) {
        let what = format!("image {}", image.id);
        assert_eq!(i["id"], image.id, "{what}");
        assert_eq!(i["name"], image.name.as_str(), "{what}");
        assert_eq!(i["camera_id"], image.camera_id, "{what}");
        let q = image.cam_from_world.rotation;
        assert_floats(&what, &i["qvec"], &[q.w, q.i, q.j, q.k]);
        assert_floats(
            &what,
            &i["tvec"],
            image.cam_from_world.translation.vector.as_slice(),
        );
        assert_eq!(i["num_points2D"], image.points2d.len(), "{what}");
        let points = i["points2D"].as_array().expect("points2D");
        for (p, point) in points.iter().zip(&image.points2d) {
            assert_floats(
                &what,
                &p.as_array().expect("xy id")[..2].into(),
                point.xy.as_slice(),
            );
            match point.point3d_id {
                Some(id) => assert_eq!(p[2], id, "{what}"),
                None => assert_eq!(p[2], -1, "{what}"),
            }
        }
    }

    let points = seen["points3D"].as_array().expect("points3D");
    for (p, (id, point)) in points.iter().zip(&rec.points3d) {
        let what = format!("point3D {id}");
        assert_eq!(p["id"], *id, "{what}");
        assert_floats(&what, &p["xyz"], point.xyz.as_slice());
        assert_eq!(p["color"], serde_json::json!(point.color), "{what}");
        assert_floats(&what, &serde_json::json!([p["error"]]), &[point.error]);
        assert_eq!(p["track_length"], point.track.len(), "{what}");
        let track: Vec<Value> = point
            .track
            .iter()
            .map(|el| serde_json::json!([el.image_id, el.point2d_idx]))
            .collect();
        assert_eq!(p["track"], Value::Array(track), "{what}");
    }
}

fn check_format(format: ModelFormat, seed: u64) {
    let rec = random_reconstruction(seed);
    let tmp = tempfile::tempdir().expect("temp dir");
    let ours = tmp.path().join("ours");
    write_model(&ours, &rec, format).expect("write our model");

    let colmap_bin = tmp.path().join("colmap_bin");
    let colmap_txt = tmp.path().join("colmap_txt");
    let seen = pycolmap_read(&ours, &[&colmap_bin, &colmap_txt]);
    assert_same(&seen, &rec);

    // COLMAP wrote it back (plus its rigs and frames files, which we do not need).
    assert!(colmap_bin.join("cameras.bin").is_file() && colmap_txt.join("images.txt").is_file());
    assert_eq!(read_model(&colmap_bin).expect("COLMAP's binary model"), rec);
    assert_eq!(read_model(&colmap_txt).expect("COLMAP's text model"), rec);
}

#[test]
fn colmap_reads_our_binary_model_and_we_read_its_output() {
    check_format(ModelFormat::Binary, 1);
}

#[test]
fn colmap_reads_our_text_model_and_we_read_its_output() {
    check_format(ModelFormat::Text, 2);
}
