//! SIFT CPU reference: blur and pyramid conventions, blob localisation and scale, contrast and
//! edge rejection, rotation and brightness invariance, RootSIFT, the feature cap.

use std::f32::consts::{FRAC_PI_2, TAU};

use super::*;
use crate::features::DESCRIPTOR_BYTES;

/// A Gaussian blob: centre, sigma along its major axis, aspect (minor / major), axis angle,
/// amplitude.
#[derive(Clone, Copy)]
struct Blob {
    x: f32,
    y: f32,
    sigma: f32,
    aspect: f32,
    angle: f32,
    amp: f32,
}

fn round_blob(x: f32, y: f32, sigma: f32, amp: f32) -> Blob {
    Blob {
        x,
        y,
        sigma,
        aspect: 1.0,
        angle: 0.0,
        amp,
    }
}

/// `background + Σ amp · exp(-(u²/σ² + v²/(aσ)²) / 2)` sampled at pixel centres.
fn render(w: u32, h: u32, background: f32, blobs: &[Blob]) -> Vec<f32> {
    let mut img = vec![background; (w * h) as usize];
    for b in blobs {
        let (c, s) = (b.angle.cos(), b.angle.sin());
        let (s1, s2) = (b.sigma, b.sigma * b.aspect);
        for y in 0..h {
            for x in 0..w {
                let (dx, dy) = (x as f32 - b.x, y as f32 - b.y);
                let (u, v) = (dx * c + dy * s, -dx * s + dy * c);
                img[(y * w + x) as usize] +=
                    b.amp * (-0.5 * (u * u / (s1 * s1) + v * v / (s2 * s2))).exp();
            }
        }
    }
    img
}

/// Exact 90° rotation: point `(x, y)` goes to `(h-1-y, x)` (a direction at angle `θ` in image
/// coordinates goes to `θ + π/2`); the result is `h × w`.
fn rotate90(img: &[f32], w: u32, h: u32) -> (Vec<f32>, u32, u32) {
    let (nw, nh) = (h, w);
    let mut out = vec![0.0; img.len()];
    for y2 in 0..nh {
        for x2 in 0..nw {
            out[(y2 * nw + x2) as usize] = img[((h - 1 - x2) * w + y2) as usize];
        }
    }
    (out, nw, nh)
}

/// Deterministic pseudo-random numbers in [0, 1).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 40) as f32 / (1u64 << 24) as f32
    }
}

/// A textured 129 × 129 test image: round and elongated blobs of both signs.
fn textured(seed: u64) -> (Vec<f32>, u32, u32) {
    let mut rng = Lcg(seed);
    let (w, h) = (129, 129);
    let blobs: Vec<Blob> = (0..28)
        .map(|i| Blob {
            x: 8.0 + 113.0 * rng.next(),
            y: 8.0 + 113.0 * rng.next(),
            sigma: 1.5 + 5.0 * rng.next(),
            aspect: if i % 3 == 0 { 0.35 } else { 1.0 },
            angle: TAU * rng.next(),
            amp: if i % 2 == 0 { 0.35 } else { -0.3 } * (0.5 + rng.next()),
        })
        .collect();
    (render(w, h, 0.5, &blobs), w, h)
}

fn angle_diff(a: f32, b: f32) -> f32 {
    let d = (a - b).rem_euclid(TAU);
    d.min(TAU - d)
}

fn l2_dist(a: &[f32; DESCRIPTOR_BYTES], b: &[f32; DESCRIPTOR_BYTES]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f32>()
        .sqrt()
}

fn nearest(kps: &[Keypoint], x: f32, y: f32) -> Option<(&Keypoint, f32)> {
    kps.iter()
        .map(|k| (k, ((k.x - x).powi(2) + (k.y - y).powi(2)).sqrt()))
        .min_by(|a, b| a.1.total_cmp(&b.1))
}

#[test]
fn gaussian_kernel_is_normalised_with_radius_ceil_4_sigma() {
    for sigma in [0.4f32, 0.8, 1.0, 1.226, 1.6, 2.3, 5.08] {
        let k = gaussian_kernel(sigma);
        let r = (4.0 * sigma).ceil() as usize;
        assert_eq!(k.len(), 2 * r + 1, "sigma {sigma}");
        assert!((k.iter().sum::<f32>() - 1.0).abs() < 1e-6, "sigma {sigma}");
        for i in 0..r {
            assert_eq!(k[i], k[2 * r - i], "symmetric");
            assert!(k[i] < k[i + 1], "increasing to the centre");
        }
        let expected = (-(r as f32).powi(2) / (2.0 * sigma * sigma)).exp() / k.iter().sum::<f32>();
        assert!((k[0] - expected * k[r]).abs() < 1e-7, "tail weight");
    }
}

#[test]
fn blur_keeps_constants_and_spreads_an_impulse_as_the_kernel_outer_product() {
    let (w, h) = (23u32, 17u32);
    let flat = blur_cpu(&vec![0.37; (w * h) as usize], w, h, 2.0);
    assert!(flat.iter().all(|v| (v - 0.37).abs() < 1e-6));

    let (w, h, sigma) = (41u32, 39u32, 1.5f32);
    let (cx, cy) = (20i32, 19i32);
    let mut img = vec![0.0; (w * h) as usize];
    img[(cy as u32 * w + cx as u32) as usize] = 1.0;
    let out = blur_cpu(&img, w, h, sigma);
    let k = gaussian_kernel(sigma);
    let r = (k.len() / 2) as i32;
    for y in 0..h as i32 {
        for x in 0..w as i32 {
            let (dx, dy) = (x - cx, y - cy);
            let expected = if dx.abs() <= r && dy.abs() <= r {
                k[(dx + r) as usize] * k[(dy + r) as usize]
            } else {
                0.0
            };
            let got = out[(y as u32 * w + x as u32) as usize];
            assert!(
                (got - expected).abs() < 1e-7,
                "({x}, {y}): {got} vs {expected}"
            );
        }
    }
}

/// The blur sums each pixel's taps in kernel order from 0.0, clamping at the edges: the same
/// bits as that sum written out, on a width with whole register chunks and a remainder.
#[test]
fn blur_sums_taps_in_kernel_order() {
    let (w, h, sigma) = (75usize, 11usize, 1.9f32);
    let img: Vec<f32> = (0..w * h)
        .map(|i| ((i * 7919) % 251) as f32 / 250.0)
        .collect();
    let k = gaussian_kernel(sigma);
    let r = (k.len() / 2) as isize;
    let clamp = |v: isize, n: usize| v.clamp(0, n as isize - 1) as usize;
    let mut tmp = vec![0.0f32; w * h];
    for y in 0..h {
        for x in 0..w {
            let mut sum = 0.0f32;
            for (i, &kw) in k.iter().enumerate() {
                sum += kw * img[y * w + clamp(x as isize + i as isize - r, w)];
            }
            tmp[y * w + x] = sum;
        }
    }
    let mut expected = vec![0.0f32; w * h];
    for y in 0..h {
        for x in 0..w {
            let mut sum = 0.0f32;
            for (i, &kw) in k.iter().enumerate() {
                sum += kw * tmp[clamp(y as isize + i as isize - r, h) * w + x];
            }
            expected[y * w + x] = sum;
        }
    }
    assert!(blur_cpu(&img, w as u32, h as u32, sigma) == expected);
}

#[test]
fn downsample_keeps_even_pixels_and_upsample_aligns_even_pixels() {
    let (w, h) = (5u32, 3u32);
    let img: Vec<f32> = (0..w * h).map(|i| i as f32).collect();
    let (d, dw, dh) = downsample_cpu(&img, w, h);
    assert_eq!((dw, dh), (3, 2));
    assert_eq!(d, vec![0.0, 2.0, 4.0, 10.0, 12.0, 14.0]);
    let (d, dw, dh) = downsample_cpu(&img[..8], 4, 2);
    assert_eq!((dw, dh), (2, 1));
    assert_eq!(d, vec![0.0, 2.0]);

    let (u, uw, uh) = upsample_cpu(&img, w, h);
    assert_eq!((uw, uh), (10, 6));
    let at = |x: u32, y: u32| u[(y * uw + x) as usize];
    for y in 0..h {
        for x in 0..w {
            assert_eq!(at(2 * x, 2 * y), img[(y * w + x) as usize]);
        }
    }
    assert_eq!(at(1, 0), 0.5);
    assert_eq!(at(1, 1), (0.0 + 1.0 + 5.0 + 6.0) / 4.0);
    assert_eq!(at(9, 5), img[14], "clamped at the far edge");
    let (back, _, _) = downsample_cpu(&u, uw, uh);
    assert_eq!(back, img, "downsample inverts upsample");
}

/// Marginal variance along x of an image (a blurred impulse: the blur variance).
fn variance_x(img: &[f32], w: u32) -> f32 {
    let (mut m0, mut m1, mut m2) = (0.0f64, 0.0f64, 0.0f64);
    for (i, &v) in img.iter().enumerate() {
        let x = (i as u32 % w) as f64;
        m0 += v as f64;
        m1 += v as f64 * x;
        m2 += v as f64 * x * x;
    }
    let mean = m1 / m0;
    (m2 / m0 - mean * mean) as f32
}

#[test]
fn scale_space_levels_have_the_closed_form_blur() {
    let params = SiftParams::default();
    let (w, h) = (129u32, 129u32);
    let mut img = vec![0.0; (w * h) as usize];
    img[(64 * w + 64) as usize] = 1.0;
    let space = build_scale_space_cpu(&img, w, h, &params);
    let sizes: Vec<(u32, u32)> = space.octaves.iter().map(|o| (o.width, o.height)).collect();
    assert_eq!(sizes, vec![(129, 129), (65, 65), (33, 33), (17, 17)]);
    let n = params.scales_per_octave;
    for (o, oct) in space.octaves.iter().enumerate().take(2) {
        assert_eq!(oct.gaussians.len(), n as usize + 3);
        assert_eq!(oct.dogs.len(), n as usize + 2);
        for (s, g) in oct.gaussians.iter().enumerate() {
            // Blur relative to the input, in this octave's pixels; the impulse carries the
            // assumed blur only nominally.
            let b = params.assumed_blur / (1 << o) as f32;
            let expected = params.level_sigma(s as f32).powi(2) - b * b;
            let got = variance_x(g, oct.width);
            assert!(
                (got / expected - 1.0).abs() < 0.02,
                "octave {o} scale {s}: variance {got} vs {expected}"
            );
        }
        for (s, d) in oct.dogs.iter().enumerate() {
            for (i, v) in d.iter().enumerate() {
                assert_eq!(*v, oct.gaussians[s + 1][i] - oct.gaussians[s][i]);
            }
        }
    }
    assert_eq!(
        space.octaves[1].gaussians[0],
        downsample_cpu(&space.octaves[0].gaussians[n as usize], w, h).0
    );
}

/// Expected keypoint sigma for a sampled Gaussian blob of sigma `sigma_b`.
///
/// The pipeline treats the input as already blurred by `b` (assumed blur), so level `σ` holds
/// the blob convolved with `G(sqrt(σ² - b²))`: a blob of effective sigma `σ_e = sqrt(σ_b² - b²)`
/// seen at scale `σ`. At the centre, `L(σ) ∝ 1 / (σ_e² + σ²)`, and the DoG
/// `D(σ) = L(kσ) - L(σ)` (`k = 2^(1/S)`) is extremal at `σ² = σ_e² / k`. The keypoint reports the
/// lower scale of its DoG pair, so `σ_kp = sqrt(σ_b² - b²) / 2^(1/(2S))` ≈ `0.89 σ_b` for S = 3
/// (the geometric mean of the pair, `σ_kp · sqrt(k)`, is `σ_e`) — not `σ_b · √2`, which is where
/// the scale-normalised Laplacian of a blob of σ_b would peak only for an image blurred by σ_b.
fn expected_blob_sigma(sigma_b: f32, params: &SiftParams) -> f32 {
    let b = params.assumed_blur;
    (sigma_b * sigma_b - b * b).sqrt() / (0.5 / params.scales_per_octave as f32).exp2()
}

fn check_blob(amp: f32, background: f32, sigma_b: f32, params: &SiftParams) -> Keypoint {
    let (w, h) = (128, 128);
    let (bx, by) = (20.3, 40.7);
    let img = render(w, h, background, &[round_blob(bx, by, sigma_b, amp)]);
    let (kps, desc) = detect_and_describe_cpu(&img, w, h, params);
    assert_eq!(kps.len(), desc.len());
    let (kp, dist) = nearest(&kps, bx, by).expect("a keypoint");
    let expected = expected_blob_sigma(sigma_b, params);
    assert!(dist < 0.5, "blob σ {sigma_b}: {kp:?} is {dist} px away");
    assert!(
        (kp.sigma / expected - 1.0).abs() < 0.1,
        "blob σ {sigma_b}: keypoint σ {} vs expected {expected}",
        kp.sigma
    );
    kp.to_owned()
}

#[test]
fn bright_blobs_are_found_at_their_position_and_scale() {
    let params = SiftParams::default();
    let kp = check_blob(0.5, 0.2, 3.0, &params);
    assert_eq!(kp.octave, 0);
    let kp = check_blob(0.5, 0.2, 6.0, &params);
    assert_eq!(kp.octave, 1, "σ ≈ 5.3 is s ≈ 2.2 in octave 1");
}

#[test]
fn dark_blobs_are_found_too() {
    let params = SiftParams::default();
    check_blob(-0.5, 0.7, 3.0, &params);
    check_blob(-0.4, 0.6, 6.0, &params);
}

#[test]
fn upsampled_keypoints_are_in_input_pixels() {
    let params = SiftParams {
        upsample: true,
        ..SiftParams::default()
    };
    let (w, h) = (64, 64);
    // σ_kp ≈ 1.3 and 2.6 input px: s ≈ 2.1 in octave 0 (doubled pixels), then in octave 1.
    for (sigma_b, octave) in [(1.6, 0), (3.0, 1)] {
        let img = render(w, h, 0.2, &[round_blob(30.3, 20.7, sigma_b, 0.5)]);
        let (kps, _) = detect_and_describe_cpu(&img, w, h, &params);
        let (kp, dist) = nearest(&kps, 30.3, 20.7).expect("a keypoint");
        assert!(dist < 0.5, "{kp:?}");
        assert_eq!(kp.octave, octave, "{kp:?}");
        // Bilinear doubling adds a little blur of its own: looser bound.
        let expected = expected_blob_sigma(sigma_b, &params);
        assert!(
            (kp.sigma / expected - 1.0).abs() < 0.15,
            "{kp:?} vs {expected}"
        );
    }
}

#[test]
fn flat_images_straight_edges_and_ridges_give_no_keypoints() {
    let params = SiftParams::default();
    let (w, h) = (128u32, 128u32);
    let (kps, desc) = detect_and_describe_cpu(&vec![0.5; (w * h) as usize], w, h, &params);
    assert!(kps.is_empty() && desc.is_empty());

    // A slanted, slightly soft step edge through the middle.
    let (nx, ny) = (20f32.to_radians().cos(), 20f32.to_radians().sin());
    let img: Vec<f32> = (0..w * h)
        .map(|i| {
            let (x, y) = ((i % w) as f32 - 64.0, (i / w) as f32 - 64.0);
            let d = x * nx + y * ny;
            0.2 + 0.6 / (1.0 + (-d / 0.8).exp())
        })
        .collect();
    let space = build_scale_space_cpu(&img, w, h, &params);
    let candidates = find_extrema_cpu(&space, &params);
    let (kps, _) = detect_and_describe_cpu(&img, w, h, &params);
    assert!(
        kps.is_empty(),
        "{} of {} edge candidates survived: {:?}",
        kps.len(),
        candidates.len(),
        &kps[..kps.len().min(4)]
    );

    // An elongated ridge (principal curvature ratio ≈ 30 at the DoG extremum): rejected by the
    // edge test at r = 10, kept at r = 100.
    let ridge = render(
        w,
        h,
        0.2,
        &[Blob {
            x: 64.3,
            y: 60.7,
            sigma: 16.0,
            aspect: 0.15,
            angle: 0.3,
            amp: 0.5,
        }],
    );
    let (kps, _) = detect_and_describe_cpu(&ridge, w, h, &params);
    assert!(kps.is_empty(), "{kps:?}");
    let loose = SiftParams {
        edge_threshold: 100.0,
        ..params
    };
    let (kps, _) = detect_and_describe_cpu(&ridge, w, h, &loose);
    let (_, dist) = nearest(&kps, 64.3, 60.7).expect("the ridge centre with r = 100");
    assert!(dist < 0.5);
}

#[test]
fn rotating_the_image_by_90_degrees_rotates_orientations_and_keeps_descriptors() {
    let params = SiftParams::default();
    let (img, w, h) = textured(7);
    let (kps, desc) = detect_and_describe_float_cpu(&img, w, h, &params);
    let (rot, rw, rh) = rotate90(&img, w, h);
    let (rkps, rdesc) = detect_and_describe_float_cpu(&rot, rw, rh, &params);
    assert!(kps.len() >= 20, "only {} keypoints", kps.len());
    let mut matched = 0;
    for (k, d) in kps.iter().zip(&desc) {
        let (px, py) = ((h - 1) as f32 - k.y, k.x);
        let expected = (k.orientation + FRAC_PI_2).rem_euclid(TAU);
        let best = rkps
            .iter()
            .zip(&rdesc)
            .filter(|(r, _)| ((r.x - px).powi(2) + (r.y - py).powi(2)).sqrt() < 0.05)
            .filter(|(r, _)| (r.sigma / k.sigma - 1.0).abs() < 0.01)
            .min_by(|a, b| {
                angle_diff(a.0.orientation, expected)
                    .total_cmp(&angle_diff(b.0.orientation, expected))
            });
        let Some((r, rd)) = best else { continue };
        matched += 1;
        let da = angle_diff(r.orientation, expected).to_degrees();
        assert!(da < 3.0, "{k:?} -> {r:?}: orientation off by {da}°");
        let dd = l2_dist(d, rd);
        assert!(dd < 0.2, "{k:?} -> {r:?}: descriptor distance {dd}");
    }
    assert!(
        matched * 10 >= kps.len() * 9,
        "{matched} of {} keypoints found after rotation",
        kps.len()
    );
}

#[test]
fn descriptors_are_invariant_to_affine_brightness_changes() {
    let params = SiftParams::default();
    let (img, w, h) = textured(11);
    let dim: Vec<f32> = img.iter().map(|v| 0.5 * v + 0.2).collect();
    let (kps, desc) = detect_and_describe_float_cpu(&img, w, h, &params);
    let (dkps, ddesc) = detect_and_describe_float_cpu(&dim, w, h, &params);
    assert!(dkps.len() >= 10, "only {} keypoints", dkps.len());
    let mut matched = 0;
    for (k, d) in dkps.iter().zip(&ddesc) {
        let Some((o, od)) = kps.iter().zip(&desc).find(|(o, _)| {
            (o.x - k.x).abs() < 1e-3
                && (o.y - k.y).abs() < 1e-3
                && angle_diff(o.orientation, k.orientation) < 1e-3
        }) else {
            continue;
        };
        matched += 1;
        assert!(
            (k.response / o.response - 0.5).abs() < 1e-3,
            "{k:?} vs {o:?}"
        );
        let dd = l2_dist(d, od);
        assert!(dd < 0.02, "descriptor distance {dd}");
    }
    assert!(
        matched * 10 >= dkps.len() * 9,
        "{matched} of {}",
        dkps.len()
    );
}

#[test]
fn descriptors_have_unit_norm_sift_and_rootsift() {
    let (img, w, h) = textured(3);
    for root_sift in [false, true] {
        let params = SiftParams {
            root_sift,
            ..SiftParams::default()
        };
        let (kps, desc) = detect_and_describe_float_cpu(&img, w, h, &params);
        assert!(!kps.is_empty());
        for d in &desc {
            let norm = d.iter().map(|v| v * v).sum::<f32>().sqrt();
            assert!(
                (norm - 1.0).abs() < 1e-4,
                "root_sift {root_sift}: norm {norm}"
            );
            assert!(d.iter().all(|&v| v >= 0.0));
        }
        let (qk, q) = detect_and_describe_cpu(&img, w, h, &params);
        assert_eq!(qk, kps);
        assert_eq!(q, Descriptors::quantize(&desc));
    }
}

#[test]
fn max_features_keeps_the_strongest() {
    let (img, w, h) = textured(5);
    let params = SiftParams::default();
    let (all, all_desc) = detect_and_describe_cpu(&img, w, h, &params);
    let cap = 10usize;
    assert!(all.len() > cap);
    let capped_params = SiftParams {
        max_features: Some(cap as u32),
        ..params
    };
    let (kps, desc) = detect_and_describe_cpu(&img, w, h, &capped_params);
    assert_eq!(kps.len(), cap);
    assert_eq!(desc.len(), cap);
    let mut responses: Vec<f32> = all.iter().map(|k| k.response).collect();
    responses.sort_by(|a, b| b.total_cmp(a));
    let got: Vec<f32> = kps.iter().map(|k| k.response).collect();
    assert_eq!(got, responses[..cap]);
    for (i, k) in kps.iter().enumerate() {
        let j = all
            .iter()
            .position(|a| a == k)
            .expect("a keypoint of the full set");
        assert_eq!(desc.bytes(i), all_desc.bytes(j));
    }
}

/// The native pipeline is the reference run over the cores: the same scale space and located
/// keypoints bit for bit; with its polynomial `exp` / `atan2` (within 1e-6), the same oriented
/// keypoints with orientations within 1e-4 rad and descriptors within 1e-4 (L2), on textured
/// images of odd sizes with every preset-like setting.
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn native_pipeline_equals_the_cpu_reference_bit_for_bit() {
    let (tex, tw, th) = textured(3);
    // A wider, odd-sized image: the textured one tiled with an offset, plus a gradient.
    let (w, h) = (301u32, 187u32);
    let wide: Vec<f32> = (0..w * h)
        .map(|i| {
            let (x, y) = (i % w, i / w);
            tex[(((y + 17) % th) * tw + (x * 7 / 5) % tw) as usize] * 0.8
                + 0.1 * x as f32 / w as f32
        })
        .collect();
    let settings = [
        SiftParams::default(),
        SiftParams {
            upsample: true,
            contrast_threshold: 0.02,
            root_sift: true,
            max_features: Some(120),
            ..SiftParams::default()
        },
        SiftParams {
            scales_per_octave: 4,
            edge_threshold: 5.0,
            ..SiftParams::default()
        },
    ];
    for (img, w, h) in [(&tex, tw, th), (&wide, w, h)] {
        for params in &settings {
            let fast = build_scale_space_native(img, w, h, params);
            let reference = build_scale_space_cpu(img, w, h, params);
            assert_eq!(fast.octaves.len(), reference.octaves.len());
            for (f, r) in fast.octaves.iter().zip(&reference.octaves) {
                assert_eq!((f.width, f.height), (r.width, r.height));
                assert!(
                    f.gaussians == r.gaussians && f.dogs == r.dogs,
                    "{w}x{h} {params:?}"
                );
            }
            assert_eq!(
                localize_keypoints_native(&fast, params),
                localize_keypoints_cpu(&reference, params)
            );
            let (kps, desc) = detect_and_describe_native(img, w, h, params).expect("native");
            let (ref_kps, ref_desc) = detect_and_describe_float_cpu(img, w, h, params);
            assert!(ref_kps.len() >= 20, "{w}x{h}: {} keypoints", ref_kps.len());
            assert_eq!(kps.len(), ref_kps.len(), "{w}x{h} {params:?}");
            for ((k, r), (d, rd)) in kps.iter().zip(&ref_kps).zip(desc.iter().zip(&ref_desc)) {
                let same_orientation = angle_diff(k.orientation, r.orientation) < 1e-4;
                let k_at_r = Keypoint {
                    orientation: r.orientation,
                    ..*k
                };
                assert!(same_orientation && k_at_r == *r, "{k:?} vs {r:?}");
                assert!(
                    l2_dist(d, rd) < 1e-4,
                    "{w}x{h} {params:?}: {}",
                    l2_dist(d, rd)
                );
            }
        }
    }
}

/// Known answers on the native path: a blob at its position and closed-form scale; bad input
/// is an error, not a panic.
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn native_pipeline_finds_a_blob_and_refuses_bad_input() {
    let params = SiftParams::default();
    let (w, h) = (128, 128);
    let (bx, by, sigma_b) = (70.6, 50.2, 4.0);
    let img = render(w, h, 0.3, &[round_blob(bx, by, sigma_b, 0.5)]);
    let (kps, desc) = detect_and_describe_native(&img, w, h, &params).expect("native");
    assert_eq!(kps.len(), desc.len());
    let (kp, dist) = nearest(&kps, bx, by).expect("a keypoint");
    assert!(dist < 0.5, "{kp:?} is {dist} px away");
    let expected = expected_blob_sigma(sigma_b, &params);
    assert!(
        (kp.sigma / expected - 1.0).abs() < 0.1,
        "{kp:?} vs σ {expected}"
    );

    assert_eq!(
        detect_and_describe_native(&img, w, h + 1, &params).map(|r| r.0.len()),
        Err(SiftInputError::Size {
            pixels: img.len(),
            width: w,
            height: h + 1
        })
    );
    assert!(detect_and_describe_native(&[], 0, 0, &params).is_err());
    let none = SiftParams {
        scales_per_octave: 0,
        ..SiftParams::default()
    };
    assert_eq!(
        detect_and_describe_native(&img, w, h, &none).map(|r| r.0.len()),
        Err(SiftInputError::NoScales)
    );
}
