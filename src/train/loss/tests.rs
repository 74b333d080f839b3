//! Loss kernel: the CPU reference's gradient against finite differences, the GPU against the CPU
//! reference, and known answers.
//!
//! Tolerances. The CPU reference works in f64; the GPU in f32 with separable filters and tree
//! sums. Scalars (total, L1, SSIM, MSE: all O(1)) agree to `VALUE_TOL` = 5e-6 absolute (seen:
//! ≤ 8e-7). Gradients are compared scaled by the value count 3·W·H, which makes the L1 term's
//! entries ±0.8 and the SSIM term's O(1) (largest seen: 7): on random images every scaled entry
//! agrees to `GRAD_TOL` = 1e-5 absolute (seen: ≤ 1.4e-6); on a smooth, nearly converged pair,
//! where variances (~1e-4) sit near C2 and f32 cancellation in E[x²] − μ² dominates, to
//! `GRAD_TOL_SMOOTH` = 5e-4 (seen: 9e-5, i.e. 2e-5 of the largest entry).

use rand::{rngs::SmallRng, Rng, SeedableRng};
use wasm_bindgen_test::wasm_bindgen_test;

use super::cpu::loss_f64;
use super::*;
use crate::gpu::{read_buffer, storage_buffer_init, GpuContext};
use crate::test_support::gpu;

/// Scalars (O(1)) GPU vs f64 reference, absolute.
const VALUE_TOL: f32 = 5e-6;
/// Gradient entries times 3·W·H, GPU vs f64 reference, absolute, on random images.
const GRAD_TOL: f32 = 1e-5;
/// As `GRAD_TOL`, on a smooth nearly converged pair (low variances: f32 cancellation).
const GRAD_TOL_SMOOTH: f32 = 5e-4;

/// A render with values a little outside [0, 1], as renders are early in training.
fn random_render(n: usize, seed: u64) -> Vec<[f32; 3]> {
    let mut rng = SmallRng::seed_from_u64(seed);
    (0..n)
        .map(|_| [0; 3].map(|_| rng.random_range(-0.1f32..1.1)))
        .collect()
}

fn random_photo(n: usize, seed: u64) -> Vec<u32> {
    let mut rng = SmallRng::seed_from_u64(seed);
    (0..n).map(|_| rng.random::<u32>()).collect()
}

/// The render as the rasterizer writes it: vec4 with a junk w the kernel must ignore.
fn as_vec4(img: &[[f32; 3]]) -> Vec<[f32; 4]> {
    img.iter().map(|p| [p[0], p[1], p[2], -3.0]).collect()
}

/// One training step's loss on the GPU: the scalars and the gradient.
async fn gpu_loss(
    ctx: &GpuContext,
    plan: &LossPlan,
    rendered: &[[f32; 3]],
    photo: &[u32],
) -> (LossValue, Vec<[f32; 4]>) {
    let n = rendered.len();
    let rendered = storage_buffer_init(ctx, "rendered", &as_vec4(rendered));
    let photo = storage_buffer_init(ctx, "photo", photo);
    // Junk in the gradient buffer: every entry must be overwritten.
    let grad = storage_buffer_init(ctx, "grad", &vec![[9.0f32; 4]; n]);
    let mut encoder = ctx.device.create_command_encoder(&Default::default());
    plan.encode(ctx, &mut encoder, &rendered, &photo, &grad)
        .expect("encode");
    ctx.queue.submit([encoder.finish()]);
    let value = plan.read_loss(ctx).await.expect("read loss");
    let grad = read_buffer(ctx, &grad, n).await.expect("read grad");
    (value, grad)
}

fn assert_value_close(what: &str, got: f32, want: f32) {
    assert!(
        (got - want).abs() <= VALUE_TOL,
        "{what}: gpu {got} reference {want}"
    );
}

/// GPU scalars and gradient vs the f64 reference on the same inputs.
fn assert_matches_reference(
    what: &str,
    value: LossValue,
    grad: &[[f32; 4]],
    rendered: &[[f32; 3]],
    photo: &[u32],
    plan: &LossPlan,
    grad_tol: f32,
) {
    let target = unpack_rgba8(photo);
    let (width, height, border) = (plan.width(), plan.height(), plan.border());
    let what = format!("{what} {width}x{height} {border:?}");
    let (want, want_grad) = loss_cpu(rendered, &target, width, height, border).expect("reference");
    assert_value_close(&format!("{what} total"), value.total, want.total);
    assert_value_close(&format!("{what} l1"), value.l1, want.l1);
    assert_value_close(&format!("{what} ssim"), value.ssim, want.ssim);
    assert_value_close(&format!("{what} mse"), value.mse, want.mse);
    let scale = 3.0 * rendered.len() as f32;
    let mut worst = (0.0f32, 0usize);
    for (i, (g, w)) in grad.iter().zip(&want_grad).enumerate() {
        assert_eq!(g[3], 0.0, "{what}: w of pixel {i}");
        for c in 0..3 {
            let d = (g[c] - w[c]).abs() * scale;
            if d > worst.0 {
                worst = (d, i);
            }
        }
    }
    let (d, i) = worst;
    assert!(
        d <= grad_tol,
        "{what}: scaled gradient off by {d} at pixel {i}: gpu {:?} reference {:?}",
        grad[i],
        want_grad[i]
    );
}

/// Both SSIM borders, the default first.
const BORDERS: [SsimBorder; 2] = [SsimBorder::Reflect, SsimBorder::Crop];

#[test]
fn cpu_gradient_matches_central_differences() {
    // Every value of a 16×13 and of a 7×6 image (where both mirror images of the reflect pad
    // land on the same pixels), both borders; central differences with step 1e-6 in f64, so
    // truncation (~1e-12) and rounding (~1e-10) stay far below the tolerance:
    // |fd − analytic| ≤ 1e-7 + 1e-6·|analytic| (entries are around 1e-3).
    for border in BORDERS {
        for (w, h) in [(16u32, 13u32), (7, 6)] {
            let n = (w * h) as usize;
            let mut rng = SmallRng::seed_from_u64(7);
            let mut image = || -> Vec<[f64; 3]> {
                (0..n)
                    .map(|_| [0; 3].map(|_| rng.random_range(0.0..1.0)))
                    .collect()
            };
            let (x, y) = (image(), image());
            let loss = |x: &[[f64; 3]]| {
                let (l1, ssim, _) = loss_f64(x, &y, (w, h), border);
                L1_WEIGHT * l1 + SSIM_WEIGHT * (1.0 - ssim)
            };
            let (_, _, grad) = loss_f64(&x, &y, (w, h), border);
            let step = 1e-6;
            let mut ssim_part = 0.0f64;
            for p in 0..n {
                for c in 0..3 {
                    let mut plus = x.clone();
                    plus[p][c] += step;
                    let mut minus = x.clone();
                    minus[p][c] -= step;
                    let fd = (loss(&plus) - loss(&minus)) / (2.0 * step);
                    let an = grad[p][c];
                    let l1 = L1_WEIGHT / (3 * n) as f64 * (x[p][c] - y[p][c]).signum();
                    ssim_part = ssim_part.max((an - l1).abs());
                    assert!(
                        (fd - an).abs() <= 1e-7 + 1e-6 * an.abs(),
                        "{w}x{h} {border:?} pixel {p} channel {c}: fd {fd} analytic {an}"
                    );
                }
            }
            // The SSIM term is exercised (not just the L1 signs), except where it is off.
            let on = border.windows(w, h) > 0;
            assert_eq!(ssim_part > 1e-4, on, "{w}x{h} {border:?}: {ssim_part}");
        }
    }
}

#[wasm_bindgen_test(unsupported = tokio::test)]
async fn gpu_loss_matches_cpu_reference_at_several_sizes() {
    let ctx = gpu().await;
    let kernel = LossKernel::new(&ctx);
    // Odd sizes and partial tiles; the smallest sizes with SSIM for each border (6×6 reflect,
    // 11×11 crop) and below (5×5, 8×8, 1×1, 40×7 crop); several tiles with ragged edges.
    let sizes = [
        (37, 23),
        (6, 6),
        (5, 5),
        (8, 8),
        (1, 1),
        (11, 11),
        (40, 7),
        (16, 16),
        (17, 33),
        (256, 200),
    ];
    for border in BORDERS {
        for (i, &(w, h)) in sizes.iter().enumerate() {
            let n = (w * h) as usize;
            let rendered = random_render(n, 10 + i as u64);
            let photo = random_photo(n, 100 + i as u64);
            let plan = LossPlan::with_border(&ctx, &kernel, w, h, border).expect("plan");
            let (value, grad) = gpu_loss(&ctx, &plan, &rendered, &photo).await;
            assert_matches_reference("random", value, &grad, &rendered, &photo, &plan, GRAD_TOL);
            if border.windows(w, h) == 0 {
                assert_eq!(value.ssim, 1.0, "{w}x{h} {border:?}: no SSIM, taken as 1");
            }
        }
    }
}

#[wasm_bindgen_test(unsupported = tokio::test)]
async fn gpu_loss_matches_cpu_reference_near_convergence() {
    // A smooth photo and a render within a few levels of it: small variances and SSIM near 1,
    // where f32 cancellation in E[x²] − μ² matters most.
    let ctx = gpu().await;
    let kernel = LossKernel::new(&ctx);
    let (w, h) = (64u32, 48u32);
    let mut rng = SmallRng::seed_from_u64(3);
    let mut photo = Vec::new();
    let mut rendered = Vec::new();
    for y in 0..h {
        for x in 0..w {
            let v = [0.0f32, 2.0, 4.0].map(|c| {
                let wave = (0.05 * x as f32 + 0.08 * y as f32 + c).sin();
                0.5 + 0.3 * wave + rng.random_range(-0.02..0.02)
            });
            let bytes = v.map(|c| (c.clamp(0.0, 1.0) * 255.0).round() as u32);
            photo.push(bytes[0] | (bytes[1] << 8) | (bytes[2] << 16) | (255 << 24));
            rendered.push(bytes.map(|b| b as f32 / 255.0 + rng.random_range(-0.01..0.01)));
        }
    }
    for border in BORDERS {
        let plan = LossPlan::with_border(&ctx, &kernel, w, h, border).expect("plan");
        let (value, grad) = gpu_loss(&ctx, &plan, &rendered, &photo).await;
        assert!(value.ssim > 0.5, "{value:?}");
        let tol = GRAD_TOL_SMOOTH;
        assert_matches_reference("smooth", value, &grad, &rendered, &photo, &plan, tol);
    }
}

#[wasm_bindgen_test(unsupported = tokio::test)]
async fn identical_images_give_zero_loss_ssim_one_and_zero_gradient() {
    // A black-and-white photo so that byte / 255 is exact on every GPU (0 and 1), and the
    // render equal to it.
    let ctx = gpu().await;
    let kernel = LossKernel::new(&ctx);
    let (w, h) = (45u32, 29u32);
    let n = (w * h) as usize;
    let photo: Vec<u32> = random_photo(n, 5)
        .iter()
        .map(|r| {
            [0, 8, 16]
                .iter()
                .fold(0xff00_0000, |p, s| p | (((r >> s) & 1) * (0xff << s)))
        })
        .collect();
    let rendered = unpack_rgba8(&photo);
    let scale = 3.0 * n as f32;
    for border in BORDERS {
        let (want, want_grad) = loss_cpu(&rendered, &rendered, w, h, border).expect("reference");
        assert_eq!(
            (want.total, want.l1, want.ssim, want.mse),
            (0.0, 0.0, 1.0, 0.0)
        );
        assert!(want_grad.iter().flatten().all(|g| g.abs() * scale < 1e-9));

        let plan = LossPlan::with_border(&ctx, &kernel, w, h, border).expect("plan");
        let (value, grad) = gpu_loss(&ctx, &plan, &rendered, &photo).await;
        assert_eq!((value.l1, value.mse), (0.0, 0.0), "{border:?} {value:?}");
        assert!((value.ssim - 1.0).abs() <= 1e-6, "{border:?} {value:?}");
        assert!(value.total.abs() <= 1e-6, "{border:?} {value:?}");
        let worst = grad
            .iter()
            .flat_map(|g| g.iter().map(|v| v.abs() * scale))
            .fold(0.0f32, f32::max);
        assert!(
            worst <= 1e-4,
            "{border:?}: scaled gradient {worst} at the minimum"
        );
    }
}

/// The pair of the known-value test: `x = 0.5 + 0.6 sin(0.37 i + 0.23 j + 1.1 c)` (row i,
/// column j, channel c) rounded to f32, and the photo `y = 0.5 + 0.35 sin(0.35 i + 0.25 j +
/// 1.1 c + 0.3) + 0.05 cos(1.7 i − 0.9 j + c)` clamped to [0, 1] and rounded to bytes (read
/// back as byte / 255 in f32, as the kernel reads them); 40×30.
fn known_pair() -> (Vec<[f32; 3]>, Vec<u32>) {
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for i in 0..30 {
        for j in 0..40 {
            let (i, j) = (i as f64, j as f64);
            let render = |c: f64| (0.5 + 0.6 * (0.37 * i + 0.23 * j + 1.1 * c).sin()) as f32;
            x.push([render(0.0), render(1.0), render(2.0)]);
            let byte = |c: f64| {
                let v = 0.5
                    + 0.35 * (0.35 * i + 0.25 * j + 1.1 * c + 0.3).sin()
                    + 0.05 * (1.7 * i - 0.9 * j + c).cos();
                (v.clamp(0.0, 1.0) * 255.0).round() as u32
            };
            y.push(byte(0.0) | (byte(1.0) << 8) | (byte(2.0) << 16) | (255 << 24));
        }
    }
    (x, y)
}

/// Known values of [`known_pair`]: (SSIM of the raw render, SSIM of the render clamped to
/// [0, 1]) for each border, then the mean L1 and MSE of the raw render and the MSE and PSNR of
/// the clamped one. Reflect: torchmetrics 1.9.0 (PyTorch 2.11, float64) on the peer's machine;
/// Crop: a NumPy float64 transcription of torchmetrics < 1.5 (reflect pad by 5, full 11×11
/// correlation, variances clamped at 0, crop 5 each side, mean). L1, MSE and PSNR agree between
/// the two to 1e-15.
const KNOWN_SSIM_REFLECT: [f64; 2] = [0.579952349741709, 0.6406420175643427];
const KNOWN_SSIM_CROP: [f64; 2] = [0.6095762021897139, 0.6687611351170636];
const KNOWN_L1_MSE: [f64; 2] = [0.20928873827878913, 0.05704722375213862];
const KNOWN_CLAMPED_MSE_PSNR: [f64; 2] = [0.04511679299400417, 13.456617785838327];
/// d(0.8·L1 + 0.2·(1 − SSIM))/dx of [`known_pair`] by PyTorch autograd through torchmetrics 1.9.0
/// (reflect border, float64) at (pixel, channel): the four corners, an edge pixel, the centre.
/// (All 3600 entries were checked against the CPU reference once: 5e-15 relative.)
const KNOWN_GRAD_REFLECT: [(usize, usize, f64); 8] = [
    (0, 0, -0.0003661734557131137),
    (0, 1, 0.00011090988466354925),
    (0, 2, 0.0002787483987970806),
    (39, 0, 0.00028228430175821645),
    (1160, 1, -0.0003444310290569185),
    (1199, 2, 0.00023507779624815263),
    (620, 0, -0.0003501503040368522),
    (122, 1, 0.00029910679506321475),
];

#[wasm_bindgen_test(unsupported = tokio::test)]
async fn ssim_and_psnr_match_torchmetrics_values() {
    let (x, photo) = known_pair();
    let y = unpack_rgba8(&photo);
    let (w, h) = (40, 30);
    let ctx = gpu().await;
    let kernel = LossKernel::new(&ctx);
    let rendered = storage_buffer_init(&ctx, "rendered", &as_vec4(&x));
    let target = storage_buffer_init(&ctx, "photo", &photo);
    for (border, known) in [
        (SsimBorder::Reflect, KNOWN_SSIM_REFLECT),
        (SsimBorder::Crop, KNOWN_SSIM_CROP),
    ] {
        // CPU reference: f64 against f64, to 1e-12 (f32 outputs to 1e-7).
        let ssim = ssim_cpu(&x, &y, w, h, border).expect("ssim");
        assert!((ssim - known[0]).abs() < 1e-12, "{border:?}: ssim {ssim}");
        let (value, _) = loss_cpu(&x, &y, w, h, border).expect("loss");
        assert!(
            (value.l1 as f64 - KNOWN_L1_MSE[0]).abs() < 1e-7,
            "{value:?}"
        );
        if border == SsimBorder::Reflect {
            let widen = |img: &[[f32; 3]]| -> Vec<[f64; 3]> {
                img.iter().map(|p| p.map(f64::from)).collect()
            };
            let (_, _, grad) = loss_f64(&widen(&x), &widen(&y), (w, h), border);
            for (p, c, want) in KNOWN_GRAD_REFLECT {
                let got = grad[p][c];
                assert!(
                    (got - want).abs() < 1e-15,
                    "pixel {p} channel {c}: {got} vs {want}"
                );
            }
        }
        let quality = image_quality_cpu(&x, &y, w, h, border).expect("quality");
        assert!((quality.ssim as f64 - known[1]).abs() < 1e-7, "{quality:?}");
        assert!((psnr_cpu(&x, &y) - KNOWN_CLAMPED_MSE_PSNR[1]).abs() < 1e-10);

        // GPU, training scalars and held-out evaluation: to VALUE_TOL (PSNR to 1e-3 dB).
        let plan = LossPlan::with_border(&ctx, &kernel, w, h, border).expect("plan");
        let (value, grad) = gpu_loss(&ctx, &plan, &x, &photo).await;
        assert_value_close("ssim", value.ssim, known[0] as f32);
        if border == SsimBorder::Reflect {
            for (p, c, want) in KNOWN_GRAD_REFLECT {
                let off = (grad[p][c] as f64 - want).abs() * (3 * w * h) as f64;
                assert!(
                    off <= GRAD_TOL as f64,
                    "pixel {p} channel {c}: {:?}",
                    grad[p]
                );
            }
        }
        assert_value_close("l1", value.l1, KNOWN_L1_MSE[0] as f32);
        assert_value_close("mse", value.mse, KNOWN_L1_MSE[1] as f32);
        let quality = plan.evaluate(&ctx, &rendered, &target).await.expect("eval");
        assert_value_close("eval ssim", quality.ssim, known[1] as f32);
        assert_value_close("eval mse", quality.mse, KNOWN_CLAMPED_MSE_PSNR[0] as f32);
        let psnr = KNOWN_CLAMPED_MSE_PSNR[1] as f32;
        assert!((quality.psnr - psnr).abs() < 1e-3, "{quality:?}");
    }
}

#[wasm_bindgen_test(unsupported = tokio::test)]
async fn one_plan_serves_many_steps_and_evaluations() {
    // A plan reused for two steps and an evaluation between them: each read sees its own
    // submission, and an evaluation leaves the loss slot alone.
    let ctx = gpu().await;
    let kernel = LossKernel::new(&ctx);
    let (w, h) = (37u32, 23u32);
    let n = (w * h) as usize;
    let plan = LossPlan::new(&ctx, &kernel, w, h).expect("plan");
    for step in 0..2u64 {
        let rendered = random_render(n, 50 + step);
        let photo = random_photo(n, 60 + step);
        let (value, grad) = gpu_loss(&ctx, &plan, &rendered, &photo).await;
        let what = format!("step {step}");
        assert_matches_reference(&what, value, &grad, &rendered, &photo, &plan, GRAD_TOL);

        let other = random_render(n, 70 + step);
        let r = storage_buffer_init(&ctx, "rendered", &as_vec4(&other));
        let t = storage_buffer_init(&ctx, "photo", &photo);
        let quality = plan.evaluate(&ctx, &r, &t).await.expect("eval");
        let target = unpack_rgba8(&photo);
        let want = image_quality_cpu(&other, &target, w, h, plan.border()).expect("quality");
        assert_value_close("eval ssim", quality.ssim, want.ssim);
        assert_value_close("eval mse", quality.mse, want.mse);
        assert!(
            (quality.psnr - want.psnr).abs() < 1e-3,
            "{quality:?} {want:?}"
        );
        assert_eq!(plan.read_loss(&ctx).await.expect("read"), value);
    }
}

#[wasm_bindgen_test(unsupported = tokio::test)]
async fn plans_refuse_empty_images_and_short_buffers() {
    let ctx = gpu().await;
    let kernel = LossKernel::new(&ctx);
    assert!(LossPlan::new(&ctx, &kernel, 0, 5).is_err());
    assert!(LossPlan::new(&ctx, &kernel, 1 << 16, 1 << 16).is_err());
    let plan = LossPlan::new(&ctx, &kernel, 20, 20).expect("plan");
    let small = storage_buffer_init(&ctx, "small", &[0f32; 400]);
    let big = storage_buffer_init(&ctx, "big", &[0f32; 1600]);
    assert!(
        plan.bind(&ctx, &small, &small, &big).is_err(),
        "short render"
    );
    assert!(
        plan.bind(&ctx, &big, &small, &small).is_err(),
        "short gradient"
    );
    assert!(plan.bind(&ctx, &big, &small, &big).is_ok());
    assert!(plan.bind_eval(&ctx, &big, &small).is_ok());
    let bad = loss_cpu(&[[0.0; 3]; 3], &[[0.0; 3]; 4], 2, 2, SsimBorder::Reflect);
    assert!(bad.is_err());
}
