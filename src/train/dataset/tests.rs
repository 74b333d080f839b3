//! Tests of the training data: undistortion against OpenCV (a recorded `cv2.undistort` output and
//! an independent evaluation of OpenCV's model), downscaling, the split and scene scale, the
//! 3-NN initial scales against brute force, the instant-ngp fox scene, a COLMAP model written by
//! the test, and bad input.

use glam::Vec3;
use nalgebra::Vector2;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use wasm_bindgen_test::wasm_bindgen_test;

use super::*;
use crate::sfm::{Camera as SfmCamera, CameraModel};
use crate::train::adam::SplatData;

/// OpenCV's undistortion source position, written out independently of the camera module:
/// `k = [fx, fy, cx, cy, k1, k2, p1, p2]` (cv::initUndistortRectifyMap with the output K = K).
fn opencv_source(k: &[f64; 8], x: f64, y: f64) -> (f64, f64) {
    let [fx, fy, cx, cy, k1, k2, p1, p2] = *k;
    let (xn, yn) = ((x - cx) / fx, (y - cy) / fy);
    let r2 = xn * xn + yn * yn;
    let kr = 1.0 + (k2 * r2 + k1) * r2;
    let xd = xn * kr + p1 * 2.0 * xn * yn + p2 * (r2 + 2.0 * xn * xn);
    let yd = yn * kr + p1 * (r2 + 2.0 * yn * yn) + p2 * 2.0 * xn * yn;
    (fx * xd + cx, fy * yd + cy)
}

/// Channel `c` of pixel (x, y) of an RGBA8 image, 0 outside (BORDER_CONSTANT).
fn texel(img: &[u8], w: usize, h: usize, x: i64, y: i64, c: usize) -> f64 {
    if x < 0 || y < 0 || x >= w as i64 || y >= h as i64 {
        return 0.0;
    }
    f64::from(img[(y as usize * w + x as usize) * 4 + c])
}

/// Bilinear sample of channel `c` at (u, v) (pixel centres at integers, 0 outside).
fn bilinear(img: &[u8], w: usize, h: usize, u: f64, v: f64, c: usize) -> f64 {
    let (x0, y0) = (u.floor(), v.floor());
    let (a, b) = (u - x0, v - y0);
    let (x0, y0) = (x0 as i64, y0 as i64);
    (1.0 - a) * (1.0 - b) * texel(img, w, h, x0, y0, c)
        + a * (1.0 - b) * texel(img, w, h, x0 + 1, y0, c)
        + (1.0 - a) * b * texel(img, w, h, x0, y0 + 1, c)
        + a * b * texel(img, w, h, x0 + 1, y0 + 1, c)
}

/// Independent reference of `cv2.undistort` for RGBA8: with `quantize`, source positions are
/// rounded to 1/32 px and the result rounded to u8 as OpenCV's fixed-point remap does; without,
/// the exact bilinear value (what the undistortion means, before OpenCV's fixed point).
fn reference_undistort(img: &[u8], w: usize, h: usize, k: &[f64; 8], quantize: bool) -> Vec<f64> {
    let mut out = Vec::with_capacity(w * h * 4);
    for y in 0..h {
        for x in 0..w {
            let (mut u, mut v) = opencv_source(k, x as f64, y as f64);
            if quantize {
                u = (u * 32.0).round_ties_even() / 32.0;
                v = (v * 32.0).round_ties_even() / 32.0;
            }
            for c in 0..4 {
                let s = bilinear(img, w, h, u, v, c);
                out.push(if quantize { (s + 0.5).floor() } else { s });
            }
        }
    }
    out
}

/// The synthetic pattern of the recorded OpenCV output (high frequency, so a sampling
/// position off by 1/32 px changes values).
fn pattern(w: usize, h: usize) -> Vec<u8> {
    let mut img = Vec::with_capacity(w * h * 4);
    for y in 0..h {
        for x in 0..w {
            for c in 0..4 {
                img.push(((x * x * 7 + y * 13 + x * y * 5 + c * 50) % 256) as u8);
            }
        }
    }
    img
}

fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// OPENCV camera of the recorded output: strong pincushion, so corners sample outside.
fn pincushion_camera() -> (SfmCamera, [f64; 8]) {
    let k = [70.0, 72.0, 41.3, 28.7, 0.3, 0.05, 0.003, -0.002];
    let camera = SfmCamera::new(1, CameraModel::OpenCv, 80, 60, k.to_vec()).expect("camera");
    (camera, k)
}

/// Recorded with opencv-python-headless 4.12.0: `cv2.undistort(img, K, dist)` on
/// [`pattern`]`(80, 60)` (4 channels) with K = [[70, 0, 41.3], [0, 72, 28.7], [0, 0, 1]] and
/// dist = (0.3, 0.05, 0.003, −0.002): FNV-1a 64 of the output bytes, 630 all-zero pixels, and
/// pixels (x, y) = (40, 30) and (3, 5). (On the fox photo 0001.jpg at 1080×1920, decoded by
/// `crate::images`, every byte of the output was also found equal to OpenCV's.)
#[wasm_bindgen_test(unsupported = test)]
fn undistort_reproduces_recorded_opencv_output() {
    let (camera, _) = pincushion_camera();
    let out = undistort_rgba8(&pattern(80, 60), 80, 60, &camera);
    let black = out.chunks_exact(4).filter(|p| *p == [0, 0, 0, 0]).count();
    assert_eq!(black, 630);
    let px = |x: usize, y: usize| &out[(y * 80 + x) * 4..(y * 80 + x) * 4 + 4];
    assert_eq!(px(40, 30), [182, 232, 26, 76]);
    assert_eq!(px(3, 5), [0, 0, 0, 0]);
    assert_eq!(fnv1a64(&out), 0x428a_84a2_f6e5_af5c);
}

/// The undistortion against the independent evaluation of OpenCV's model: bit-exact with the
/// 1/32-px quantisation, and within the quantisation's effect of the exact bilinear value
/// (mean |Δ| < 1.5 levels on this high-frequency pattern; ≤ 1 where the pattern is smooth is
/// checked on the fox photo). Also: the camera module's distortion is OpenCV's polynomial
/// (1e-9 px), and undistort → distort is the identity (1e-7 px).
#[wasm_bindgen_test(unsupported = test)]
fn undistort_matches_direct_evaluation_of_the_opencv_model() {
    let (camera, k) = pincushion_camera();
    let img = pattern(80, 60);
    let out = undistort_rgba8(&img, 80, 60, &camera);
    let exact = reference_undistort(&img, 80, 60, &k, true);
    for (i, (&o, &r)) in out.iter().zip(&exact).enumerate() {
        assert_eq!(f64::from(o), r, "byte {i}");
    }
    let float = reference_undistort(&img, 80, 60, &k, false);
    let mean = out
        .iter()
        .zip(&float)
        .map(|(&o, &r)| (f64::from(o) - r).abs())
        .sum::<f64>()
        / out.len() as f64;
    assert!(mean < 1.5, "mean |Δ| = {mean}");
    check_model_round_trip(&camera, &k);
}

/// The camera model's distortion equals OpenCV's formula, and `image_to_normalized` inverts it.
fn check_model_round_trip(camera: &SfmCamera, k: &[f64; 8]) {
    let (w, h) = (camera.width as f64, camera.height as f64);
    for i in 0..=10 {
        for j in 0..=10 {
            let (x, y) = (w * f64::from(i) / 10.0, h * f64::from(j) / 10.0);
            let (u, v) = opencv_source(k, x, y);
            let n = Vector2::new((x - k[2]) / k[0], (y - k[3]) / k[1]);
            let p = camera.normalized_to_image(&n);
            assert!(
                (p.x - u).abs() < 1e-9 && (p.y - v).abs() < 1e-9,
                "({x}, {y}): {p} vs ({u}, {v})"
            );
            let back = camera.normalized_to_image(&camera.image_to_normalized(&p));
            assert!((back - p).amax() < 1e-7, "({x}, {y}): {back} vs {p}");
        }
    }
}

#[wasm_bindgen_test(unsupported = test)]
fn downscale_averages_blocks_and_crops_the_remainder() {
    // 5 × 3 pixels, factor 2: 2 × 1 output, column 4 and row 2 dropped.
    let img: Vec<u8> = (0..5 * 3 * 4).map(|i| (i * 3) as u8).collect();
    let (out, w, h) = downscale_rgba8(&img, 5, 3, 2);
    assert_eq!((w, h), (2, 1));
    for ox in 0..2 {
        for c in 0..4 {
            let s: u32 = [(0, 0), (1, 0), (0, 1), (1, 1)]
                .iter()
                .map(|&(dx, dy)| u32::from(img[((dy * 5) + 2 * ox + dx) * 4 + c]))
                .sum();
            assert_eq!(
                u32::from(out[ox * 4 + c]),
                (s + 2) / 4,
                "pixel {ox} channel {c}"
            );
        }
    }
    assert_eq!(downscale_rgba8(&img, 5, 3, 1), (img.clone(), 5, 3));
    assert_eq!(pack_rgba8(&[1, 2, 3, 4]), vec![0x0403_0201]);
}

/// A view with a pose at `eye` looking at the origin and a 2 × 2 photo.
fn tiny_view(name: &str, eye: Vec3) -> TrainView {
    TrainView {
        name: name.into(),
        camera: Camera::look_at(eye, Vec3::ZERO, Vec3::Y, 1.0, 2, 2),
        rgba: vec![0; 4],
    }
}

/// Sorting, the every-8th split, no holdout, the peer's scene scale and random points.
#[wasm_bindgen_test(unsupported = test)]
fn split_scale_and_random_points_follow_the_peer() {
    let eyes: Vec<Vec3> = (0..17)
        .map(|i| {
            let a = i as f32 * 0.4;
            Vec3::new(3.0 * a.cos(), 1.0 + 0.1 * i as f32, 3.0 * a.sin())
        })
        .collect();
    // Names in reverse order: the dataset must sort them.
    let views: Vec<TrainView> = eyes
        .iter()
        .enumerate()
        .rev()
        .map(|(i, &e)| tiny_view(&format!("img_{i:02}.png"), e))
        .collect();
    let options = LoadOptions {
        random_points: 500,
        seed: 7,
        ..LoadOptions::default()
    };
    let ds = TrainDataset::from_views(views.clone(), Vec::new(), &options).expect("dataset");
    let names = |v: &[TrainView]| v.iter().map(|v| v.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&ds.test), ["img_00.png", "img_08.png", "img_16.png"]);
    assert_eq!(ds.train.len(), 14);
    assert_eq!(ds.train[0].name, "img_01.png");
    assert!(ds.train.windows(2).all(|w| w[0].name < w[1].name));

    // Scene scale: 1.1 × the largest distance from the mean centre.
    let mean = eyes.iter().copied().sum::<Vec3>() / eyes.len() as f32;
    let max = eyes
        .iter()
        .map(|e| (*e - mean).length())
        .fold(0.0, f32::max);
    assert!((ds.scene_scale() - 1.1 * max).abs() < 1e-4 * max);
    assert!((Vec3::from(ds.center) - mean).length() < 1e-4);

    // Random points: in the cube of half-size 3 × scale, deterministic, colours in [0, 1).
    assert_eq!(ds.points_source, PointsSource::Random);
    assert_eq!((ds.points.len(), ds.colors.len()), (500, 500));
    let half = 3.0 * ds.scene_scale;
    for p in &ds.points {
        assert!((0..3).all(|a| (p[a] - ds.center[a]).abs() <= half * 1.0001));
    }
    assert!(ds.colors.iter().flatten().all(|c| (0.0..1.0).contains(c)));
    let again = TrainDataset::from_views(views.clone(), Vec::new(), &options).expect("again");
    assert_eq!(again.points, ds.points);

    // SfM points are taken as they are; non-finite ones dropped.
    let pts = vec![
        ([1.0, 2.0, 3.0], [0.5; 3]),
        ([f32::NAN, 0.0, 0.0], [0.5; 3]),
    ];
    let sfm = TrainDataset::from_views(views.clone(), pts, &options).expect("sfm");
    assert_eq!(sfm.points_source, PointsSource::Sfm);
    assert_eq!(sfm.points, vec![[1.0, 2.0, 3.0]]);

    // No holdout; invalid options.
    let all = LoadOptions {
        holdout_every: None,
        ..options.clone()
    };
    let ds = TrainDataset::from_views(views.clone(), Vec::new(), &all).expect("no holdout");
    assert_eq!((ds.train.len(), ds.test.len()), (17, 0));
    let zero = LoadOptions {
        holdout_every: Some(0),
        ..options
    };
    assert!(matches!(
        TrainDataset::from_views(views, Vec::new(), &zero),
        Err(DatasetError::InvalidOptions(_))
    ));
    assert!(matches!(
        TrainDataset::from_views(Vec::new(), Vec::new(), &all),
        Err(DatasetError::NoViews)
    ));
}

/// Brute-force mean squared distance to the 3 nearest other points, in f64.
fn brute_knn3(points: &[[f32; 3]]) -> Vec<f64> {
    points
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut d: Vec<f64> = points
                .iter()
                .enumerate()
                .filter(|&(j, _)| j != i)
                .map(|(_, q)| {
                    (0..3)
                        .map(|a| (f64::from(p[a]) - f64::from(q[a])).powi(2))
                        .sum()
                })
                .collect();
            d.sort_by(f64::total_cmp);
            let k = d.len().min(3);
            if k == 0 {
                0.0
            } else {
                d[..k].iter().sum::<f64>() / k as f64
            }
        })
        .collect()
}

/// The k-d tree's 3-NN against brute force on 2000 points: uniform, a tight cluster, far
/// outliers and exact duplicates; relative error 1e-5 (f32 differences). Tiny clouds too.
#[wasm_bindgen_test(unsupported = test)]
fn knn_scales_match_brute_force() {
    let mut rng = SmallRng::seed_from_u64(3);
    let mut points: Vec<[f32; 3]> = (0..1500)
        .map(|_| std::array::from_fn(|_| rng.random_range(-5.0..5.0)))
        .collect();
    points.extend(
        (0..450)
            .map(|_| -> [f32; 3] { std::array::from_fn(|_| 1.0 + rng.random_range(-0.01..0.01)) }),
    );
    points.extend(
        (0..40).map(|_| -> [f32; 3] { std::array::from_fn(|_| rng.random_range(-1000.0..1000.0)) }),
    );
    for i in 0..10 {
        points.push(points[i * 7]);
    }
    assert_eq!(points.len(), 2000);
    let got = knn3_mean_sq_dist(&points);
    let want = brute_knn3(&points);
    for (i, (&g, &w)) in got.iter().zip(&want).enumerate() {
        assert!(
            (f64::from(g) - w).abs() <= 1e-5 * w + 1e-12,
            "point {i}: {g} vs {w}"
        );
    }
    let splats = init_splats(&points, &[], 1);
    for (i, s) in splats.log_scales.iter().enumerate() {
        let want = (want[i].sqrt() as f32).max(1e-7).ln();
        assert!((s[0] - want).abs() < 1e-4, "point {i}: {} vs {want}", s[0]);
        assert_eq!((s[0], s[1], s[2], s[3]), (s[0], s[0], s[0], 0.0));
    }
    for n in 0..6 {
        let small = &points[..n];
        let got = knn3_mean_sq_dist(small);
        let want = brute_knn3(small);
        assert_eq!(got.len(), n);
        for (g, w) in got.iter().zip(&want) {
            assert!((f64::from(*g) - w).abs() <= 1e-5 * w, "n = {n}: {g} vs {w}");
        }
    }
}

/// Layout of the initial splats (opacity logit in means.w, SH DC from the colour, higher bands
/// zero, unit quaternions with components ≥ 0), determinism, and the GaussianScene round trip.
#[wasm_bindgen_test(unsupported = test)]
fn init_splats_layout_and_scene_round_trip() {
    let points = vec![
        [0.0, 0.0, 0.0],
        [1.0, 0.0, 0.0],
        [0.0, 2.0, 0.0],
        [0.0, 0.0, 3.0],
    ];
    let colors = vec![
        [0.0, 0.5, 1.0],
        [0.2, 0.4, 0.6],
        [1.0, 1.0, 1.0],
        [0.5, 0.5, 0.5],
    ];
    let s = init_splats(&points, &colors, 9);
    assert_eq!(s.len(), 4);
    assert_eq!(s.sh.len(), 4 * crate::train::SH_FLOATS);
    for (i, m) in s.means.iter().enumerate() {
        assert_eq!(&m[..3], &points[i]);
        assert!((m[3] - (0.1f32 / 0.9).ln()).abs() < 1e-6);
        let q = s.rotations[i];
        assert!((q.iter().map(|v| v * v).sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(q.iter().all(|&v| v >= 0.0));
        let sh = &s.sh[i * 48..(i + 1) * 48];
        for c in 0..3 {
            let want = ((f64::from(colors[i][c]) - 0.5) / 0.282_094_791_773_878_14) as f32;
            assert!((sh[c] - want).abs() < 1e-6);
        }
        assert!(sh[3..].iter().all(|&v| v == 0.0));
    }
    // Point 0: neighbours at 1, 2, 3 → mean d² = 14/3.
    assert!((s.log_scales[0][0] - (14.0f32 / 3.0).sqrt().ln()).abs() < 1e-6);
    assert_eq!(init_splats(&points, &colors, 9), s);
    assert_ne!(init_splats(&points, &colors, 10).rotations, s.rotations);

    let scene = s.to_scene();
    assert_eq!(scene.validate(), Ok(()));
    assert_eq!(scene.sh_degree, 3);
    assert_eq!(scene.opacity_logits[2], s.means[2][3]);
    assert_eq!(SplatData::from_scene(&scene), Ok(s.clone()));
    // A degree-0 scene pads the higher bands with zeros.
    let mut dc = crate::formats::GaussianScene::empty(0);
    dc.push_from(&scene_with_degree(&scene, 0), 1);
    let back = SplatData::from_scene(&dc).expect("degree 0");
    assert_eq!(&back.sh[..3], &s.sh[48..51]);
    assert!(back.sh[3..].iter().all(|&v| v == 0.0));
}

fn scene_with_degree(
    scene: &crate::formats::GaussianScene,
    degree: u32,
) -> crate::formats::GaussianScene {
    let k = 3 * crate::formats::sh_coeffs_per_channel(degree);
    let mut out = scene.clone();
    out.sh_degree = degree;
    out.sh = scene
        .sh
        .chunks_exact(48)
        .flat_map(|c| c[..k].to_vec())
        .collect();
    out
}

/// 100k random points (the peer's default): the 3-NN search must take well under a second.
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn knn_of_100k_points_is_fast() {
    let mut rng = SmallRng::seed_from_u64(5);
    let points: Vec<[f32; 3]> = (0..100_000)
        .map(|_| std::array::from_fn(|_| rng.random_range(-10.0..10.0)))
        .collect();
    let start = std::time::Instant::now();
    let splats = init_splats(&points, &[], 0);
    let elapsed = start.elapsed();
    eprintln!("init_splats on 100k points: {elapsed:?}");
    assert_eq!(splats.len(), 100_000);
    assert!(elapsed.as_secs_f64() < 1.0, "{elapsed:?}");
}

/// An opaque RGBA8 gradient of `w × h` (the photos of the COLMAP scene).
fn gradient(w: u32, h: u32) -> Vec<u8> {
    let mut px = Vec::with_capacity((w * h * 4) as usize);
    for y in 0..h {
        for x in 0..w {
            px.extend([(x * 4) as u8, (y * 4) as u8, ((x + y) * 2) as u8, 255]);
        }
    }
    px
}

const CAMERAS_TXT: &str = "# Camera list\n\
    1 PINHOLE 64 48 60 62 32 24\n\
    2 SIMPLE_RADIAL 40 30 35 20.5 14.5 0.08\n";

/// Image 1: identity rotation, t = (0, 0, 5). Image 2: 90° about y, t = (1, 2, 3).
/// Image 3 (named first): camera 2, identity rotation, t = (0.5, 0, 4).
const IMAGES_TXT: &str = "# Image list\n\
    1 1 0 0 0 0 0 5 1 b.png\n\n\
    2 0.7071067811865476 0 0.7071067811865476 0 1 2 3 1 c.png\n\n\
    3 1 0 0 0 0.5 0 4 2 a.png\n\n";

const POINTS_TXT: &str = "# 3D point list\n\
    1 0.1 0.2 0.3 255 0 0 0.5\n\
    2 -1 0.5 2 0 255 51 0.5\n\
    3 2 -1 -0.5 10 20 30 0.5\n";

/// What the model of [`CAMERAS_TXT`], [`IMAGES_TXT`], [`POINTS_TXT`] with [`gradient`] photos
/// loads as: names sorted, `a.png` held out, poses R·x + t (1e-6), intrinsics, pixels (exact),
/// points and colours.
fn check_colmap_dataset(ds: &TrainDataset) {
    let views = ds.views_by_name();
    let names: Vec<&str> = views.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["a.png", "b.png", "c.png"]);
    assert_eq!(ds.test.len(), 1);
    assert_eq!(ds.test[0].name, "a.png");
    // Poses: x_cam = R x + t with the rotations written above.
    let r_y90 = glam::Mat3::from_cols(
        Vec3::new(0.0, 0.0, -1.0),
        Vec3::new(0.0, 1.0, 0.0),
        Vec3::new(1.0, 0.0, 0.0),
    );
    let cases = [
        (views[0], glam::Mat3::IDENTITY, Vec3::new(0.5, 0.0, 4.0)),
        (views[1], glam::Mat3::IDENTITY, Vec3::new(0.0, 0.0, 5.0)),
        (views[2], r_y90, Vec3::new(1.0, 2.0, 3.0)),
    ];
    for (view, r, t) in cases {
        for p in [
            Vec3::ZERO,
            Vec3::new(1.0, -2.0, 0.5),
            Vec3::new(-3.0, 1.0, 2.0),
        ] {
            let got = view.camera.world_to_camera.transform_point3(p);
            assert!((got - (r * p + t)).length() < 1e-6, "{}: {got}", view.name);
        }
        let centre = -(r.transpose() * t);
        assert!((view.camera.position() - centre).length() < 1e-5);
    }
    // Intrinsics: PINHOLE as is; SIMPLE_RADIAL becomes a pinhole with the same K.
    let b = &views[1].camera;
    assert_eq!(
        (b.fx, b.fy, b.cx, b.cy, b.width, b.height),
        (60.0, 62.0, 32.0, 24.0, 64, 48)
    );
    let a = &views[0].camera;
    assert_eq!(
        (a.fx, a.fy, a.cx, a.cy, a.width, a.height),
        (35.0, 35.0, 20.5, 14.5, 40, 30)
    );
    // The pinhole photo is unchanged; the radial one undistorted like OpenCV with k1 only.
    assert_eq!(views[1].rgba, pack_rgba8(&gradient(64, 48)));
    let k = [35.0, 35.0, 20.5, 14.5, 0.08, 0.0, 0.0, 0.0];
    let want: Vec<u8> = reference_undistort(&gradient(40, 30), 40, 30, &k, true)
        .iter()
        .map(|&v| v as u8)
        .collect();
    assert_eq!(views[0].rgba, pack_rgba8(&want));
    // Points and colours from points3D.
    assert_eq!(ds.points_source, PointsSource::Sfm);
    assert_eq!(
        ds.points,
        vec![[0.1, 0.2, 0.3], [-1.0, 0.5, 2.0], [2.0, -1.0, -0.5]]
    );
    assert_eq!(ds.colors[1], [0.0, 1.0, 0.2]);
}

/// The browser's path: a model parsed from bytes and photos already decoded in memory.
#[wasm_bindgen_test(unsupported = test)]
fn builds_a_dataset_from_a_reconstruction_and_decoded_photos() {
    let rec = crate::sfm::colmap::read_text(
        CAMERAS_TXT.as_bytes(),
        IMAGES_TXT.as_bytes(),
        POINTS_TXT.as_bytes(),
    )
    .expect("model");
    let photo = |name: &str, w: u32, h: u32| {
        let rgba8 = gradient(w, h);
        let photo = DecodedImage {
            width: w,
            height: h,
            gray: crate::images::luminance_601(&rgba8),
            rgba8,
            original_width: w,
            original_height: h,
            orientation: 1,
            focal: Default::default(),
        };
        (name.to_string(), photo)
    };
    let photos = [
        photo("a.png", 40, 30),
        photo("b.png", 64, 48),
        photo("c.png", 64, 48),
    ];
    let ds =
        TrainDataset::from_reconstruction(&rec, &photos, &LoadOptions::default()).expect("dataset");
    check_colmap_dataset(&ds);
    // A photo at the wrong size is refused.
    let wrong = [photo("a.png", 40, 31)];
    assert!(matches!(
        TrainDataset::from_reconstruction(&rec, &wrong, &LoadOptions::default()),
        Err(DatasetError::ImageSize { .. })
    ));
}

/// `rgba8` (`w × h`) as PNG bytes.
fn png_bytes(rgba8: &[u8], w: u32, h: u32) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    image::write_buffer_with_format(
        &mut out,
        rgba8,
        w,
        h,
        image::ExtendedColorType::Rgba8,
        image::ImageFormat::Png,
    )
    .expect("png");
    out.into_inner()
}

/// Picked files, the browser's path: a COLMAP text model picked as a folder (`scene/sparse/0`,
/// `scene/images`, with the shared top folder dropped) and as loose files (model files and
/// photos side by side), and a `transforms.json` whose frames name `images/…` while the photos
/// were picked without their folder, all load as the folder loader would; nothing found, a
/// missing photo and an ambiguous name are errors naming the file.
#[wasm_bindgen_test(unsupported = test)]
fn loads_a_dataset_from_picked_files() {
    let photos = || {
        [("a.png", 40, 30), ("b.png", 64, 48), ("c.png", 64, 48)]
            .map(|(name, w, h)| (name.to_string(), png_bytes(&gradient(w, h), w, h)))
    };
    let model = [
        ("cameras.txt", CAMERAS_TXT),
        ("images.txt", IMAGES_TXT),
        ("points3D.txt", POINTS_TXT),
    ]
    .map(|(name, text)| (name.to_string(), text.as_bytes().to_vec()));
    let options = LoadOptions::default();

    let folder = MemorySource::new(
        model
            .iter()
            .map(|(n, b)| (format!("scene/sparse/0/{n}"), b.clone()))
            .chain(photos().map(|(n, b)| (format!("scene\\images\\{n}"), b))),
    );
    assert_eq!(folder.len(), 6);
    check_colmap_dataset(&TrainDataset::load_from(&folder, &options).expect("folder"));

    let loose = MemorySource::new(model.iter().cloned().chain(photos()));
    check_colmap_dataset(&TrainDataset::load_from(&loose, &options).expect("loose files"));

    let json = |file_path: &str| {
        format!(
            r#"{{"fl_x": 30, "fl_y": 30, "cx": 32, "cy": 24, "w": 64, "h": 48,
                "frames": [{{"file_path": "{file_path}", "transform_matrix":
                [[1,0,0,0],[0,1,0,0],[0,0,1,2],[0,0,0,1]]}}]}}"#
        )
        .into_bytes()
    };
    let picked = MemorySource::new(
        photos()
            .into_iter()
            .chain([("transforms.json".to_string(), json("./images/b.png"))]),
    );
    let ds = TrainDataset::load_from(&picked, &options).expect("transforms");
    assert_eq!(ds.test.len(), 1);
    assert_eq!(ds.test[0].rgba, pack_rgba8(&gradient(64, 48)));
    assert!((ds.test[0].camera.position() - Vec3::new(0.0, 0.0, 2.0)).length() < 1e-6);

    let nothing = MemorySource::new(photos());
    let err = TrainDataset::load_from(&nothing, &options)
        .map(|_| ())
        .expect_err("no model");
    assert!(matches!(err, DatasetError::NoDataset { .. }), "{err}");
    let missing = MemorySource::new([("transforms.json".to_string(), json("gone.png"))]);
    let err = TrainDataset::load_from(&missing, &options)
        .map(|_| ())
        .expect_err("missing photo");
    assert!(matches!(err, DatasetError::MissingImage { .. }), "{err}");
    assert!(err.to_string().contains("gone.png"), "{err}");
    // Two photos called b.png in different folders: the bare name is ambiguous.
    let twice = MemorySource::new(photos().into_iter().chain([
        ("x/b.png".to_string(), png_bytes(&gradient(64, 48), 64, 48)),
        ("transforms.json".to_string(), json("images/b.png")),
    ]));
    let err = TrainDataset::load_from(&twice, &options)
        .map(|_| ())
        .expect_err("ambiguous");
    assert!(matches!(err, DatasetError::MissingImage { .. }), "{err}");
}

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::path::{Path, PathBuf};

    use glam::DMat4;

    use super::*;

    fn datasets() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/datasets")
    }

    /// The instant-ngp fox scene at 1/8 size: 50 views sorted by name, 7 held out (indices 0, 8,
    /// …, 48), intrinsics scaled by 1/8, camera centres and scene scale as in the file (1e-4),
    /// and the pixels of a held-out view equal to the independent OpenCV reference (quantised)
    /// downscaled by 8 — exactly; the unquantised bilinear value is within 1 level on average.
    #[test]
    fn loads_the_fox_scene() {
        let dir = datasets().join("ngp-fox");
        let options = LoadOptions {
            downscale: 8,
            random_points: 20_000,
            ..LoadOptions::default()
        };
        let start = std::time::Instant::now();
        let ds = TrainDataset::load(&dir, &options).expect("fox loads");
        eprintln!("fox at 1/8: {:?}", start.elapsed());
        assert_eq!((ds.train.len(), ds.test.len()), (43, 7));

        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("transforms.json")).expect("json"))
                .expect("json parses");
        let mut frames: Vec<&serde_json::Value> =
            json["frames"].as_array().expect("frames").iter().collect();
        frames.sort_by_key(|f| f["file_path"].as_str().unwrap_or_default().to_string());
        let views = ds.views_by_name();
        assert_eq!(views.len(), 50);
        let mut centers = Vec::new();
        for (i, (view, frame)) in views.iter().zip(&frames).enumerate() {
            assert_eq!(view.name, frame["file_path"].as_str().expect("path"));
            let held_out = ds.test.iter().any(|t| t.name == view.name);
            assert_eq!(held_out, i.is_multiple_of(8), "view {i}");
            let c = &view.camera;
            assert_eq!((c.width, c.height), (135, 240));
            assert_eq!(view.rgba.len(), 135 * 240);
            assert!((c.fx - 1375.52 / 8.0).abs() < 1e-4 && (c.fy - 1374.49 / 8.0).abs() < 1e-4);
            assert!((c.cx - 554.558 / 8.0).abs() < 1e-4 && (c.cy - 965.268 / 8.0).abs() < 1e-4);
            let m = &frame["transform_matrix"];
            let want: [f64; 3] = std::array::from_fn(|r| m[r][3].as_f64().expect("number"));
            let got = c.position();
            for a in 0..3 {
                assert!(
                    (f64::from(got[a]) - want[a]).abs() < 1e-4,
                    "view {i}: {got}"
                );
            }
            // The camera looks along the OpenGL −z column of the matrix.
            let forward = c.world_to_camera.inverse().z_axis.truncate();
            for a in 0..3 {
                let gl_z = m[a][2].as_f64().expect("number");
                assert!((f64::from(forward[a]) + gl_z).abs() < 1e-5);
            }
            centers.push(want);
        }
        let extent = scene_extent(&centers);
        assert!((ds.scene_scale - extent.scale).abs() < 1e-4 * extent.scale);
        assert_eq!(ds.points_source, PointsSource::Random);
        assert_eq!(ds.points.len(), 20_000);

        // Pixels of the first (held-out) view against the independent reference.
        let first = &ds.test[0];
        assert_eq!(first.name, "images/0001.jpg");
        let bytes = std::fs::read(dir.join(&first.name)).expect("photo");
        let decode = crate::images::DecodeOptions {
            max_side: None,
            max_pixels: crate::images::DEFAULT_MAX_PIXELS,
        };
        let photo = crate::images::decode_image(&bytes, None, &decode).expect("decodes");
        let k = crate::test_support::FOX_OPENCV_PARAMS;
        let (w, h) = (1080, 1920);
        let exact = reference_undistort(&photo.rgba8, w, h, &k, true);
        let exact: Vec<u8> = exact.iter().map(|&v| v as u8).collect();
        let (small, sw, sh) = downscale_rgba8(&exact, w as u32, h as u32, 8);
        assert_eq!((sw, sh), (135, 240));
        assert_eq!(pack_rgba8(&small), first.rgba);
        let float = reference_undistort(&photo.rgba8, w, h, &k, false);
        let mean = exact
            .iter()
            .zip(&float)
            .map(|(&e, &f)| (f64::from(e) - f).abs())
            .sum::<f64>()
            / exact.len() as f64;
        assert!(mean < 1.0, "mean |Δ| from the exact bilinear = {mean}");
        let camera =
            SfmCamera::new(1, CameraModel::OpenCv, 1080, 1920, k.to_vec()).expect("camera");
        check_model_round_trip(&camera, &k);

        // Every 8th view held out, starting with the first; the splats start from the points.
        let splats = ds.init_splats(0);
        assert_eq!(splats.len(), 20_000);
        assert!(splats.log_scales.iter().all(|s| s[0].is_finite()));
    }

    /// A PNG of [`gradient`]`(w, h)`.
    fn write_png(path: &Path, w: u32, h: u32) {
        image::save_buffer(path, &gradient(w, h), w, h, image::ExtendedColorType::Rgba8)
            .expect("png");
    }

    /// A scene folder `root` with the model in `root/sparse/0` and the photos in `root/images`.
    fn write_colmap_scene(root: &Path) {
        let model = root.join("sparse/0");
        std::fs::create_dir_all(&model).expect("mkdir");
        std::fs::create_dir_all(root.join("images")).expect("mkdir");
        std::fs::write(model.join("cameras.txt"), CAMERAS_TXT).expect("write");
        std::fs::write(model.join("images.txt"), IMAGES_TXT).expect("write");
        std::fs::write(model.join("points3D.txt"), POINTS_TXT).expect("write");
        write_png(&root.join("images/b.png"), 64, 48);
        write_png(&root.join("images/c.png"), 64, 48);
        write_png(&root.join("images/a.png"), 40, 30);
    }

    /// A COLMAP text model written here (2 cameras, 3 images, 3 points, PNG photos) loads from
    /// the scene folder and from the model folder itself, and again as a binary model in
    /// `sparse/` (no `0`): poses, intrinsics, pixels, points.
    #[test]
    fn loads_a_colmap_model_written_by_the_test() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path().join("scene");
        write_colmap_scene(&root);
        let options = LoadOptions::default();
        check_colmap_dataset(&TrainDataset::load(&root, &options).expect("scene folder"));
        check_colmap_dataset(
            &TrainDataset::load(&root.join("sparse/0"), &options).expect("model folder"),
        );

        let bin = tmp.path().join("bin");
        let rec = crate::sfm::colmap::read_model(&root.join("sparse/0")).expect("text model");
        crate::sfm::colmap::write_model(
            &bin.join("sparse"),
            &rec,
            crate::sfm::colmap::ModelFormat::Binary,
        )
        .expect("binary model");
        std::fs::create_dir_all(bin.join("images")).expect("mkdir");
        for name in ["a.png", "b.png", "c.png"] {
            std::fs::copy(
                root.join("images").join(name),
                bin.join("images").join(name),
            )
            .expect("copy");
        }
        check_colmap_dataset(&TrainDataset::load(&bin, &options).expect("binary"));
        // Downscale 2 and a max side of 16: factor max(2, ⌈64/16⌉) = 4 for b, ⌈40/16⌉ = 3 for a.
        let scaled = LoadOptions {
            downscale: 2,
            max_side: Some(16),
            ..options
        };
        let ds = TrainDataset::load(&bin, &scaled).expect("scaled");
        let views = ds.views_by_name();
        assert_eq!((views[0].camera.width, views[0].camera.height), (13, 10));
        assert_eq!((views[1].camera.width, views[1].camera.height), (16, 12));
        assert_eq!(views[1].camera.fx, 15.0);
    }

    fn transforms_json(file_path: &str) -> String {
        format!(
            r#"{{"fl_x": 30, "fl_y": 30, "cx": 16, "cy": 12, "w": 32, "h": 24,
                "frames": [{{"file_path": "{file_path}", "transform_matrix":
                [[1,0,0,0],[0,1,0,0],[0,0,1,2],[0,0,0,1]]}}]}}"#
        )
    }

    /// Missing folder, no dataset, malformed transforms.json, a missing / corrupt / wrongly
    /// sized photo, a COLMAP model without photos or with a broken file: each a `DatasetError`
    /// that names the problem; nothing panics.
    #[test]
    fn bad_input_gives_clear_errors() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let options = LoadOptions::default();
        let load = |dir: &Path| TrainDataset::load(dir, &options);

        let missing = tmp.path().join("nope");
        let err = load(&missing).expect_err("missing folder");
        assert!(matches!(err, DatasetError::NotFound { .. }), "{err}");
        assert!(err.to_string().contains("nope"));

        let empty = tmp.path().join("empty");
        std::fs::create_dir_all(&empty).expect("mkdir");
        let err = load(&empty).expect_err("empty folder");
        assert!(matches!(err, DatasetError::NoDataset { .. }), "{err}");

        let scene = tmp.path().join("json");
        std::fs::create_dir_all(&scene).expect("mkdir");
        std::fs::write(scene.join("transforms.json"), "{\"frames\": [").expect("write");
        let err = load(&scene).expect_err("malformed json");
        assert!(matches!(err, DatasetError::Transforms { .. }), "{err}");
        assert!(err.to_string().contains("transforms.json"), "{err}");

        std::fs::write(scene.join("transforms.json"), transforms_json("gone.png")).expect("w");
        let err = load(&scene).expect_err("missing photo");
        assert!(matches!(err, DatasetError::MissingImage { .. }), "{err}");
        assert!(err.to_string().contains("gone.png"), "{err}");

        std::fs::write(scene.join("bad.jpg"), b"\xFF\xD8\xFF\xE0 not really a jpeg").expect("w");
        std::fs::write(scene.join("transforms.json"), transforms_json("bad.jpg")).expect("w");
        let err = load(&scene).expect_err("corrupt photo");
        assert!(matches!(err, DatasetError::Image { .. }), "{err}");
        assert!(err.to_string().contains("bad.jpg"), "{err}");

        write_png(&scene.join("small.png"), 16, 12);
        std::fs::write(scene.join("transforms.json"), transforms_json("small.png")).expect("w");
        let err = load(&scene).expect_err("wrong size");
        assert!(matches!(err, DatasetError::ImageSize { .. }), "{err}");

        // The same photo at the right size loads (extension added to an extension-less path).
        write_png(&scene.join("ok.png"), 32, 24);
        std::fs::write(scene.join("transforms.json"), transforms_json("ok")).expect("w");
        let ds = load(&scene).expect("good scene");
        assert_eq!(ds.test.len(), 1);
        assert!((ds.test[0].camera.position() - Vec3::new(0.0, 0.0, 2.0)).length() < 1e-6);

        let colmap = tmp.path().join("colmap");
        write_colmap_scene(&colmap);
        std::fs::remove_file(colmap.join("images/c.png")).expect("rm");
        let err = load(&colmap).expect_err("missing COLMAP photo");
        assert!(matches!(err, DatasetError::MissingImage { .. }), "{err}");
        std::fs::remove_dir_all(colmap.join("images")).expect("rm");
        let err = load(&colmap).expect_err("no images folder");
        assert!(matches!(err, DatasetError::NoImageFolder { .. }), "{err}");
        std::fs::create_dir_all(colmap.join("images")).expect("mkdir");
        std::fs::write(colmap.join("sparse/0/cameras.txt"), "1 PINHOLE 64 48 60\n").expect("w");
        let err = load(&colmap).expect_err("broken cameras.txt");
        assert!(matches!(err, DatasetError::Colmap(_)), "{err}");
        assert!(err.to_string().contains("cameras.txt"), "{err}");

        let bad_options = LoadOptions {
            downscale: 0,
            ..LoadOptions::default()
        };
        let err = TrainDataset::load(&scene, &bad_options).expect_err("downscale 0");
        assert!(matches!(err, DatasetError::InvalidOptions(_)), "{err}");
    }

    /// The world → camera matrix of transforms.json is the peer's `inv(T · diag(1, −1, −1, 1))`.
    #[test]
    fn opengl_pose_is_flipped_and_inverted() {
        let rows = [
            [0.0, -1.0, 0.0, 1.0],
            [1.0, 0.0, 0.0, 2.0],
            [0.0, 0.0, 1.0, 3.0],
            [0.0, 0.0, 0.0, 1.0],
        ];
        let w2c = world_to_camera_from_opengl(&rows);
        // Camera x = OpenGL x, camera y = −OpenGL y, camera z = −OpenGL z.
        let c2w = DMat4::from_cols_array_2d(&rows).transpose();
        let p = glam::DVec3::new(0.3, -0.2, 0.7);
        let world = c2w.transform_point3(glam::DVec3::new(p.x, -p.y, -p.z));
        assert!((w2c.transform_point3(world) - p).length() < 1e-12);
    }
}
