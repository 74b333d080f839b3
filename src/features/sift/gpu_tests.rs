//! The GPU SIFT stages against their CPU references on the same scale space (scale space,
//! extrema, refinement, orientations, descriptors), the whole GPU pipeline against
//! [`detect_and_describe_cpu`] at every preset's input size, and the binding-limit guard.

use rand::{rngs::SmallRng, Rng, SeedableRng};
use wasm_bindgen_test::wasm_bindgen_test;

use super::*;
use crate::features::tests::checker;
use crate::features::{CaptureAnalyzer, Quality, DESCRIPTOR_BYTES};
use crate::test_support::gpu;

#[wasm_bindgen_test(unsupported = tokio::test)]
async fn gpu_scale_space_matches_the_cpu_reference() {
    use crate::features::sift::{build_scale_space_cpu, SiftParams};
    let ctx = gpu().await;
    let kernel = PyramidKernel::new(&ctx);
    let mut rng = SmallRng::seed_from_u64(8);
    // Odd sizes exercise the (w+1)/2 decimation; the noise plus checker has every frequency.
    for (w, h, upsample) in [
        (97u32, 75u32, false),
        (64, 64, true),
        (45, 31, true),
        (200, 131, false),
    ] {
        let img: Vec<f32> = checker(w, h, 5, false)
            .into_iter()
            .map(|v| 0.7 * v + 0.3 * rng.random_range(0.0..1.0))
            .collect();
        let params = SiftParams {
            upsample,
            ..SiftParams::default()
        };
        let gpu = kernel
            .build(&ctx, &img, w, h, &params)
            .expect("build")
            .read(&ctx)
            .await
            .expect("read");
        let cpu = build_scale_space_cpu(&img, w, h, &params);
        assert_eq!(gpu.octaves.len(), cpu.octaves.len(), "{w}x{h}");
        for (o, (g, c)) in gpu.octaves.iter().zip(&cpu.octaves).enumerate() {
            assert_eq!((g.width, g.height), (c.width, c.height), "octave {o}");
            for (kind, gs, cs) in [
                ("gaussian", &g.gaussians, &c.gaussians),
                ("dog", &g.dogs, &c.dogs),
            ] {
                assert_eq!(gs.len(), cs.len());
                for (s, (a, b)) in gs.iter().zip(cs).enumerate() {
                    let max = a
                        .iter()
                        .zip(b)
                        .map(|(x, y)| (x - y).abs())
                        .fold(0.0f32, f32::max);
                    // Same taps in the same order; only FMA contraction may differ.
                    assert!(max <= 2e-5, "{w}x{h} octave {o} {kind} {s}: max |Δ| {max}");
                }
            }
        }
    }
}

#[wasm_bindgen_test(unsupported = tokio::test)]
async fn gpu_extrema_equal_the_cpu_reference_on_the_same_scale_space() {
    use crate::features::sift::{find_extrema_cpu, SiftParams};
    let ctx = gpu().await;
    let pyramid = PyramidKernel::new(&ctx);
    let extrema = ExtremaKernel::new(&ctx);
    let mut rng = SmallRng::seed_from_u64(12);
    let (w, h) = (160u32, 120u32);
    // Blobs of several sizes and signs on a weak gradient.
    let mut img: Vec<f32> = (0..w * h)
        .map(|i| 0.3 + 0.2 * (i % w) as f32 / w as f32)
        .collect();
    for _ in 0..25 {
        let (cx, cy) = (
            rng.random_range(10.0..150.0f32),
            rng.random_range(10.0..110.0f32),
        );
        let (sigma, amp) = (
            rng.random_range(1.5..6.0f32),
            rng.random_range(-0.4..0.4f32),
        );
        for y in 0..h {
            for x in 0..w {
                let d2 = (x as f32 - cx).powi(2) + (y as f32 - cy).powi(2);
                img[(y * w + x) as usize] += amp * (-d2 / (2.0 * sigma * sigma)).exp();
            }
        }
    }
    let params = SiftParams::default();
    let space = pyramid.build(&ctx, &img, w, h, &params).expect("pyramid");
    let gpu = extrema.find(&ctx, &space, &params).await.expect("extrema");
    let cpu = find_extrema_cpu(&space.read(&ctx).await.expect("read"), &params);
    assert!(
        cpu.len() >= 10,
        "the blobs should give extrema, got {}",
        cpu.len()
    );
    assert_eq!(gpu, cpu);
}

/// A `w × h` image of random Gaussian blobs of both signs on a gradient, plus a little noise
/// (keypoints in several octaves and scales).
fn sift_test_image(w: u32, h: u32, blobs: usize, seed: u64) -> Vec<f32> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut img: Vec<f32> = (0..w * h)
        .map(|i| 0.3 + 0.2 * (i % w) as f32 / w as f32 + 0.02 * rng.random_range(0.0..1.0f32))
        .collect();
    for _ in 0..blobs {
        let (cx, cy) = (
            rng.random_range(0.0..w as f32),
            rng.random_range(0.0..h as f32),
        );
        let (sx, sy, amp) = (
            rng.random_range(1.5..10.0f32),
            rng.random_range(1.5..10.0f32),
            rng.random_range(-0.4..0.4f32),
        );
        // Within 6 sigma (beyond it a blob adds under 2e-8, below the background's f32 step).
        let (x0, x1) = window(cx, sx, w);
        let (y0, y1) = window(cy, sy, h);
        for y in y0..y1 {
            for x in x0..x1 {
                let d2 = ((x as f32 - cx) / sx).powi(2) + ((y as f32 - cy) / sy).powi(2);
                img[(y * w + x) as usize] += amp * (-0.5 * d2).exp();
            }
        }
    }
    img
}

/// The pixel range `c ± 6 s` clamped to `0..n`.
fn window(c: f32, s: f32, n: u32) -> (u32, u32) {
    let lo = (c - 6.0 * s).floor().max(0.0) as u32;
    let hi = ((c + 6.0 * s).ceil() as u32 + 1).min(n);
    (lo.min(hi), hi)
}

/// [`sift_test_image`] over a blurred checkerboard plus noise: hundreds of keypoints in every
/// octave.
fn sift_textured_image(w: u32, h: u32, seed: u64) -> Vec<f32> {
    let mut rng = SmallRng::seed_from_u64(seed + 1);
    sift_test_image(w, h, (w * h / 540) as usize, seed)
        .into_iter()
        .zip(checker(w, h, 9, true))
        .map(|(a, b)| 0.7 * a + 0.2 * b + 0.05 * rng.random_range(0.0..1.0f32))
        .collect()
}

fn close(a: f32, b: f32, rel: f32) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs()).max(1.0)
}

fn keypoints_close(a: &Keypoint, b: &Keypoint) -> bool {
    a.octave == b.octave
        && a.scale == b.scale
        && close(a.x, b.x, 1e-4)
        && close(a.y, b.y, 1e-4)
        && close(a.sigma, b.sigma, 1e-4)
        && (a.response - b.response).abs() <= 1e-4 * a.response.abs().max(b.response.abs())
}

#[wasm_bindgen_test(unsupported = tokio::test)]
async fn gpu_refinement_equals_the_cpu_reference_on_the_same_scale_space() {
    use crate::features::sift::{localize_keypoints_cpu, refine_extremum_cpu, SiftParams};
    let ctx = gpu().await;
    let pyramid = PyramidKernel::new(&ctx);
    let extrema = ExtremaKernel::new(&ctx);
    let refine = RefineKernel::new(&ctx);
    for (w, h, upsample, seed) in [(240u32, 180u32, false, 31u64), (97, 83, true, 32)] {
        let img = sift_textured_image(w, h, seed);
        let params = SiftParams {
            upsample,
            ..SiftParams::default()
        };
        let space = pyramid.build(&ctx, &img, w, h, &params).expect("pyramid");
        let found = extrema.find(&ctx, &space, &params).await.expect("extrema");
        let cpu_space = space.read(&ctx).await.expect("read");
        let gpu = refine
            .refine(&ctx, &space, &found, &params)
            .await
            .expect("refine");
        assert_eq!(gpu.len(), found.len());
        let mut kept = 0;
        for (e, g) in found.iter().zip(&gpu) {
            let c = refine_extremum_cpu(&cpu_space, e, &params);
            match (g, c) {
                (None, None) => {}
                (Some((g, _)), Some(c)) => {
                    kept += 1;
                    assert!(keypoints_close(g, &c), "{e:?}: gpu {g:?} cpu {c:?}");
                }
                _ => panic!("{e:?}: gpu {g:?} cpu {c:?}"),
            }
        }
        assert!(
            kept >= 50,
            "{w}x{h}: only {kept} keypoints of {}",
            found.len()
        );
        let mut g = refine
            .localize(&ctx, &space, &found, &params)
            .await
            .expect("localize");
        let mut c = localize_keypoints_cpu(&cpu_space, &params);
        let key = |k: &Keypoint| (k.octave, k.scale, k.y.to_bits(), k.x.to_bits());
        g.sort_by_key(key);
        c.sort_by_key(key);
        assert_eq!(g.len(), c.len(), "{w}x{h}");
        for (a, b) in g.iter().zip(&c) {
            assert!(keypoints_close(a, b), "gpu {a:?} cpu {b:?}");
        }
    }
}

/// Angles equal modulo 2π within `tol`.
fn angle_close(a: f32, b: f32, tol: f32) -> bool {
    let d = (a - b).rem_euclid(std::f32::consts::TAU);
    d <= tol || std::f32::consts::TAU - d <= tol
}

#[wasm_bindgen_test(unsupported = tokio::test)]
async fn gpu_orientations_equal_the_cpu_reference_on_the_same_scale_space() {
    use crate::features::sift::{assign_orientations_cpu, localize_keypoints_cpu, SiftParams};
    let ctx = gpu().await;
    let pyramid = PyramidKernel::new(&ctx);
    let orient = OrientKernel::new(&ctx);
    for (w, h, upsample, seed) in [(240u32, 180u32, false, 41u64), (97, 83, true, 42)] {
        let img = sift_textured_image(w, h, seed);
        let params = SiftParams {
            upsample,
            ..SiftParams::default()
        };
        let space = pyramid.build(&ctx, &img, w, h, &params).expect("pyramid");
        let cpu_space = space.read(&ctx).await.expect("read");
        let located = localize_keypoints_cpu(&cpu_space, &params);
        assert!(located.len() >= 50, "{w}x{h}: {} keypoints", located.len());
        let gpu = orient
            .orientations(&ctx, &space, &located, &params)
            .await
            .expect("orient");
        let cpu = assign_orientations_cpu(&cpu_space, &located, &params);
        let mut next = 0;
        for (kp, angles) in located.iter().zip(&gpu) {
            let mine: Vec<f32> = cpu[next..]
                .iter()
                .take_while(|c| c.x == kp.x && c.y == kp.y && c.sigma == kp.sigma)
                .map(|c| c.orientation)
                .collect();
            next += mine.len();
            assert_eq!(
                angles.len(),
                mine.len(),
                "{kp:?}: gpu {angles:?} cpu {mine:?}"
            );
            for (a, b) in angles.iter().zip(&mine) {
                assert!(
                    angle_close(*a, *b, 1e-3),
                    "{kp:?}: gpu {angles:?} cpu {mine:?}"
                );
            }
        }
        assert_eq!(next, cpu.len());
        let assigned = orient
            .assign(&ctx, &space, &located, &params)
            .await
            .expect("assign");
        assert_eq!(assigned.len(), cpu.len());
    }
}

#[wasm_bindgen_test(unsupported = tokio::test)]
async fn gpu_descriptors_equal_the_cpu_reference_on_the_same_scale_space() {
    use crate::features::sift::{
        assign_orientations_cpu, describe_keypoints_cpu, localize_keypoints_cpu, SiftParams,
    };
    let ctx = gpu().await;
    let pyramid = PyramidKernel::new(&ctx);
    let describe = DescribeKernel::new(&ctx);
    for (w, h, upsample, root_sift, seed) in [
        (240u32, 180u32, false, false, 51u64),
        (97, 83, true, true, 52),
    ] {
        let img = sift_textured_image(w, h, seed);
        let params = SiftParams {
            upsample,
            root_sift,
            ..SiftParams::default()
        };
        let space = pyramid.build(&ctx, &img, w, h, &params).expect("pyramid");
        let cpu_space = space.read(&ctx).await.expect("read");
        let located = localize_keypoints_cpu(&cpu_space, &params);
        let keypoints = assign_orientations_cpu(&cpu_space, &located, &params);
        assert!(keypoints.len() >= 50, "{w}x{h}: {}", keypoints.len());
        let (floats, bytes) = describe
            .describe(&ctx, &space, &keypoints, &params, true)
            .await
            .expect("describe");
        let floats = floats.expect("floats asked for");
        let cpu = describe_keypoints_cpu(&cpu_space, &keypoints, &params);
        let cpu_bytes = Descriptors::quantize(&cpu);
        assert_eq!(floats.len(), cpu.len());
        assert_eq!(bytes.len(), cpu.len());
        let mut off_by_one = 0;
        for (i, (g, c)) in floats.iter().zip(&cpu).enumerate() {
            let d = g
                .iter()
                .zip(c)
                .map(|(a, b)| (a - b).powi(2))
                .sum::<f32>()
                .sqrt();
            assert!(d < 1e-3, "{w}x{h} descriptor {i}: L2 distance {d}");
            for (a, b) in bytes.bytes(i).iter().zip(cpu_bytes.bytes(i)) {
                let diff = (*a as i32 - b as i32).abs();
                assert!(diff <= 1, "{w}x{h} descriptor {i}: bytes {a} vs {b}");
                off_by_one += diff as usize;
            }
        }
        // A byte flips where 512 v sits within the float difference of a .5: 1 in 10^5 on
        // lavapipe, about 1 in 200 on SwiftShader (less precise atan2 / exp / sin / cos).
        assert!(
            off_by_one * 100 <= cpu.len() * 128,
            "{w}x{h}: {off_by_one} bytes off by one of {}",
            cpu.len() * 128
        );
    }
}

#[wasm_bindgen_test(unsupported = tokio::test)]
async fn gpu_sift_pipeline_matches_detect_and_describe_cpu() {
    use crate::features::sift::{detect_and_describe_float_cpu, SiftParams};
    let ctx = gpu().await;
    let sift = SiftGpu::on_gpu(&ctx);
    let (w, h) = (320u32, 240u32);
    let img = sift_textured_image(w, h, 60);
    for max_features in [None, Some(150)] {
        let params = SiftParams {
            max_features,
            ..SiftParams::default()
        };
        let (gk, gf, gd) = sift
            .detect_and_describe_float(&ctx, &img, w, h, &params)
            .await
            .expect("GPU SIFT");
        let (ck, cf) = detect_and_describe_float_cpu(&img, w, h, &params);
        assert_eq!(gd.len(), gk.len());
        assert!(ck.len() >= 100, "{} CPU keypoints", ck.len());
        assert_sift_agrees("320x240", (&gk, &gf), (&ck, &cf));
    }
}

/// GPU and CPU pipelines agree: every CPU keypoint (but 1 %) has a GPU twin (same place, scale,
/// orientation) with a descriptor within 1e-3, and the counts differ by at most 1 %.
fn assert_sift_agrees(
    what: &str,
    gpu: (&[Keypoint], &[[f32; DESCRIPTOR_BYTES]]),
    cpu: (&[Keypoint], &[[f32; DESCRIPTOR_BYTES]]),
) {
    let ((gk, gf), (ck, cf)) = (gpu, cpu);
    let diff = gk.len().abs_diff(ck.len());
    assert!(
        diff * 100 <= ck.len(),
        "{what}: GPU {} vs CPU {} keypoints",
        gk.len(),
        ck.len()
    );
    // Index the GPU keypoints by rounded position so the search stays linear on big images.
    let cell = |k: &Keypoint| ((k.x / 4.0) as i64, (k.y / 4.0) as i64);
    let mut grid: std::collections::HashMap<(i64, i64), Vec<usize>> = Default::default();
    for (i, g) in gk.iter().enumerate() {
        grid.entry(cell(g)).or_default().push(i);
    }
    let mut matched = 0;
    for (c, cd) in ck.iter().zip(cf) {
        let (cx, cy) = cell(c);
        let twin = (-1..=1)
            .flat_map(|dy| (-1..=1).map(move |dx| (cx + dx, cy + dy)))
            .filter_map(|k| grid.get(&k))
            .flatten()
            .find(|&&i| {
                keypoints_close(&gk[i], c) && angle_close(gk[i].orientation, c.orientation, 1e-3)
            });
        if let Some(&i) = twin {
            let d = gf[i]
                .iter()
                .zip(cd)
                .map(|(a, b)| (a - b).powi(2))
                .sum::<f32>()
                .sqrt();
            if d < 1e-3 {
                matched += 1;
            }
        }
    }
    assert!(
        matched * 100 >= ck.len() * 99,
        "{what}: {matched} of {} CPU keypoints matched",
        ck.len()
    );
}

/// The default input of every server preset (`Quality`) and of the capture check: a photo
/// downscaled to the default 1600-px longer side at 4:3, the largest image they produce. With
/// the doubled first octave its scale space is 3200 x 2400 x (6 + 5) images, 338 MB, so it must
/// run within the WebGPU-baseline 128 MiB binding limit (lavapipe's and the browser's), and it
/// must equal the CPU reference there.
#[wasm_bindgen_test(unsupported = tokio::test)]
async fn every_preset_default_input_runs_within_the_baseline_limits() {
    use crate::features::sift::detect_and_describe_float_cpu;
    let ctx = gpu().await;
    let limits = &ctx.summary().limits;
    assert!(
        limits.max_storage_buffer_binding_size <= 128 << 20,
        "the test GPU must keep the WebGPU baseline binding limit"
    );
    let sift = SiftGpu::on_gpu(&ctx);
    let side = crate::images::DEFAULT_MAX_SIDE;
    let (w, h) = (side, side * 3 / 4);
    // Blobs of every scale on a gradient, as sparse as a photo's texture: a few thousand
    // keypoints keep each dispatch short enough for a software GPU's watchdog in the browser.
    let img = sift_test_image(w, h, (w * h / 2400) as usize, 70);
    let presets = Quality::ALL
        .iter()
        .map(|q| (q.name(), q.sift_params(None)))
        .chain([("capture", CaptureAnalyzer::sift_params(4096))]);
    for (name, params) in presets {
        let (gk, gf, gd) = sift
            .detect_and_describe_float(&ctx, &img, w, h, &params)
            .await
            .unwrap_or_else(|e| panic!("{name} preset at {w}x{h}: {e}"));
        assert_eq!(gd.len(), gk.len());
        assert!(gk.len() >= 500, "{name}: only {} keypoints", gk.len());
        let (ck, cf) = detect_and_describe_float_cpu(&img, w, h, &params);
        assert_sift_agrees(name, (&gk, &gf), (&ck, &cf));
    }
}

/// An image whose first octave alone exceeds a binding is refused before any work, with a
/// message naming the way out.
#[wasm_bindgen_test(unsupported = tokio::test)]
async fn gpu_sift_refuses_images_over_the_binding_limit_before_any_work() {
    let ctx = gpu().await;
    let limits = &ctx.summary().limits;
    let limit = limits
        .max_storage_buffer_binding_size
        .min(limits.max_buffer_size);
    // One doubled first-octave image (4 bytes a pixel) just over the limit.
    let side = ((limit / 4) as f64).sqrt() as u32 / 2 + 2;
    let gray = vec![0.5f32; (side * side) as usize];
    let sift = SiftGpu::on_gpu(&ctx);
    let upsampled = SiftParams {
        upsample: true,
        ..SiftParams::default()
    };
    match sift
        .detect_and_describe(&ctx, &gray, side, side, &upsampled)
        .await
    {
        Err(crate::gpu::GpuError::TooLarge(msg)) => assert!(msg.contains("no upsampling"), "{msg}"),
        other => panic!("expected TooLarge, got {:?}", other.map(|(k, _)| k.len())),
    }
    let many_scales = SiftParams {
        scales_per_octave: MAX_GPU_SCALES_PER_OCTAVE + 1,
        ..SiftParams::default()
    };
    let small = vec![0.5f32; 64 * 64];
    match sift
        .detect_and_describe(&ctx, &small, 64, 64, &many_scales)
        .await
    {
        Err(crate::gpu::GpuError::Unsupported(msg)) => assert!(msg.contains("scales"), "{msg}"),
        other => panic!(
            "expected Unsupported, got {:?}",
            other.map(|(k, _)| k.len())
        ),
    }
}

/// The native CPU pipeline (what [`SiftGpu::new`] runs on a software adapter) against the GPU
/// kernels on a real photo (Herz-Jesus, downscaled to 400 px) with the medium preset: counts
/// within 1 %, 99 % of keypoints at the same place (1e-4 relative), scale and orientation with a
/// descriptor within 1e-3 (L2).
#[cfg(not(target_arch = "wasm32"))]
#[tokio::test]
async fn native_sift_matches_the_gpu_kernels_on_a_real_photo() {
    use crate::images::{decode_image, DecodeOptions};
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/datasets/strecha-Herz-Jesus-P8/images/0003.jpg"
    );
    let bytes =
        std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e} (see ../shared/datasets)"));
    let options = DecodeOptions {
        max_side: Some(400),
        ..DecodeOptions::default()
    };
    let img = decode_image(&bytes, Some(path), &options).expect("decode");
    let ctx = gpu().await;
    let params = Quality::Medium.sift_params(None);
    let (gk, gf, gd) = SiftGpu::on_gpu(&ctx)
        .detect_and_describe_float(&ctx, &img.gray, img.width, img.height, &params)
        .await
        .expect("GPU SIFT");
    let native = SiftGpu::new(&ctx);
    assert!(native.is_native() == ctx.is_software());
    let (nk, nf, nd) = native
        .detect_and_describe_float(&ctx, &img.gray, img.width, img.height, &params)
        .await
        .expect("native SIFT");
    assert!(nk.len() >= 1000, "{} keypoints", nk.len());
    assert_eq!((nd.len(), gd.len()), (nk.len(), gk.len()));
    assert_sift_agrees("Herz-Jesus 0003 at 400 px", (&gk, &gf), (&nk, &nf));
}
