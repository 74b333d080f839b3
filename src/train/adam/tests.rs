//! Adam on the GPU vs. the CPU reference, known answers, and the learning-rate schedule.
//!
//! Tolerances: the GPU's `sqrt` and division may be off by a few ulps (WGSL allows 2.5 ulp for
//! division) and it may fuse multiply-adds, so moments agree to a relative 1e-5 and parameters to
//! 1e-6 absolute plus 1e-6 relative after five steps with rates up to 0.1.

use rand::{rngs::SmallRng, Rng, SeedableRng};
use wasm_bindgen_test::wasm_bindgen_test;

use super::{
    adam_step_cpu, exponential_decay, Adam, AdamConfig, AdamMoments, LearningRates, ParamGroup,
    SplatBuffers, SplatData,
};
use crate::gpu::GpuContext;
use crate::test_support::gpu;

/// Random parameters in [-2, 2].
fn random_params(n: usize, rng: &mut SmallRng) -> SplatData {
    let mut d = SplatData::zeroed(n);
    for g in ParamGroup::ALL {
        for x in d.group_mut(g) {
            *x = rng.random_range(-2.0..2.0);
        }
    }
    d
}

/// Random gradients: a fifth exactly zero (splats off screen), the rest of magnitude in
/// [1e-4, 1] so no square underflows to a denormal the GPU may flush.
fn random_grads(n: usize, rng: &mut SmallRng) -> SplatData {
    let mut d = SplatData::zeroed(n);
    for g in ParamGroup::ALL {
        for x in d.group_mut(g) {
            if rng.random_range(0..5) > 0 {
                let mag: f32 = 10f32.powf(rng.random_range(-4.0..0.0));
                *x = if rng.random() { mag } else { -mag };
            }
        }
    }
    d
}

fn write_grads(ctx: &GpuContext, buffers: &SplatBuffers, grads: &SplatData) {
    for g in ParamGroup::ALL {
        let data = grads.group(g);
        if !data.is_empty() {
            ctx.queue
                .write_buffer(buffers.buffer(g), 0, bytemuck::cast_slice(data));
        }
    }
}

/// One CPU Adam step `t` over all four groups.
fn cpu_step(
    params: &mut SplatData,
    grads: &mut SplatData,
    m: &mut SplatData,
    v: &mut SplatData,
    lrs: &LearningRates,
    config: &AdamConfig,
    t: u32,
) {
    for g in ParamGroup::ALL {
        let (lr_a, lr_b) = lrs.for_group(g);
        adam_step_cpu(
            params.group_mut(g),
            grads.group_mut(g),
            m.group_mut(g),
            v.group_mut(g),
            g.stride() as usize,
            g.split() as usize,
            lr_a,
            lr_b,
            config,
            t,
        );
    }
}

fn assert_close(what: &str, gpu: &SplatData, cpu: &SplatData, abs: f32, rel: f32) {
    assert_eq!(gpu.len(), cpu.len(), "{what}: splat count");
    for g in ParamGroup::ALL {
        for (j, (a, b)) in gpu.group(g).iter().zip(cpu.group(g)).enumerate() {
            let tol = abs + rel * b.abs();
            assert!(
                (a - b).abs() <= tol,
                "{what} {g:?}[{j}]: gpu {a} cpu {b} (tolerance {tol})"
            );
        }
    }
}

/// Rates large enough that five steps move parameters far more than the tolerance.
const TEST_RATES: LearningRates = LearningRates {
    means: 0.05,
    scales: 0.03,
    quats: 0.02,
    opacities: 0.1,
    sh0: 0.04,
    sh_rest: 0.01,
};

#[wasm_bindgen_test(unsupported = tokio::test)]
async fn adam_matches_cpu_reference_over_several_steps() {
    let ctx = gpu().await;
    let config = AdamConfig::default();
    let adam = Adam::new(&ctx, config);
    for n in [0usize, 1, 1000] {
        let mut rng = SmallRng::seed_from_u64(7 + n as u64);
        let mut params = random_params(n, &mut rng);
        let mut m = SplatData::zeroed(n);
        let mut v = SplatData::zeroed(n);
        let gpu_params = SplatBuffers::upload(&ctx, "params", &params).expect("upload");
        let gpu_grads = SplatBuffers::zeroed(&ctx, "grads", n as u32).expect("grads");
        let moments = AdamMoments::zeroed(&ctx, n as u32).expect("moments");
        let bindings = adam
            .bind(&ctx, &gpu_params, &gpu_grads, &moments)
            .expect("bind");
        assert_eq!(bindings.count(), n as u32);
        for t in 1..=5u32 {
            let mut grads = random_grads(n, &mut rng);
            write_grads(&ctx, &gpu_grads, &grads);
            let lrs = TEST_RATES.at_step(t - 1, 10);
            adam.step(&ctx, &bindings, &lrs, t);
            cpu_step(&mut params, &mut grads, &mut m, &mut v, &lrs, &config, t);
        }
        let what = format!("n={n}");
        let got_grads = gpu_grads.read(&ctx).await.expect("read grads");
        assert_eq!(got_grads, SplatData::zeroed(n), "{what}: gradients zeroed");
        let got_m = moments.m.read(&ctx).await.expect("read m");
        let got_v = moments.v.read(&ctx).await.expect("read v");
        assert_close(&format!("{what} m"), &got_m, &m, 1e-12, 1e-5);
        assert_close(&format!("{what} v"), &got_v, &v, 1e-15, 1e-5);
        let got = gpu_params.read(&ctx).await.expect("read params");
        assert_close(&format!("{what} params"), &got, &params, 1e-6, 1e-6);
        // log_scales.w has rate 0: never moves although its gradient was not zero.
        for (a, b) in got.log_scales.iter().zip(&params.log_scales) {
            assert_eq!(a[3], b[3]);
        }
    }
}

#[wasm_bindgen_test(unsupported = tokio::test)]
async fn first_adam_step_moves_each_element_by_lr_times_sign_of_gradient() {
    let ctx = gpu().await;
    let adam = Adam::new(&ctx, AdamConfig::default());
    let n = 300;
    let mut rng = SmallRng::seed_from_u64(3);
    let params = random_params(n, &mut rng);
    let grads = random_grads(n, &mut rng);
    let gpu_params = SplatBuffers::upload(&ctx, "params", &params).expect("upload");
    let gpu_grads = SplatBuffers::upload(&ctx, "grads", &grads).expect("grads");
    let moments = AdamMoments::zeroed(&ctx, n as u32).expect("moments");
    let bindings = adam
        .bind(&ctx, &gpu_params, &gpu_grads, &moments)
        .expect("bind");
    let lrs = LearningRates::gsplat(3.0);
    adam.step(&ctx, &bindings, &lrs, 1);
    let got = gpu_params.read(&ctx).await.expect("read");
    for group in ParamGroup::ALL {
        let (lr_a, lr_b) = lrs.for_group(group);
        let stride = group.stride() as usize;
        let (before, after, g) = (params.group(group), got.group(group), grads.group(group));
        for j in 0..before.len() {
            let lr = if j % stride < group.split() as usize {
                lr_a
            } else {
                lr_b
            };
            // m̂ = g and sqrt(v̂) = |g| on the first step: the move is lr·sign(g) up to rounding.
            let want = before[j] - lr * g[j].signum() * (g[j] != 0.0) as u32 as f32;
            let tol = 2e-6 * lr + 2.0 * f32::EPSILON * before[j].abs();
            assert!(
                (after[j] - want).abs() <= tol,
                "{group:?}[{j}]: {} -> {} with g {} lr {lr}, want {want}",
                before[j],
                after[j],
                g[j]
            );
        }
    }
    // Mismatched splat counts are refused, not bound.
    let short = SplatBuffers::zeroed(&ctx, "short", n as u32 - 1).expect("short");
    assert!(adam.bind(&ctx, &gpu_params, &short, &moments).is_err());
}

#[test]
fn cpu_reference_matches_textbook_adam_in_f64() {
    let config = AdamConfig::default();
    let (lr, stride) = (0.01f64, 4usize);
    let grads: Vec<[f32; 4]> = (0..12)
        .map(|t| {
            let t = t as f32;
            [0.3 * (t + 1.0).sin(), -0.7, 1e-3 * (t - 5.0), 0.0]
        })
        .collect();
    let mut p = vec![0.5f32, -1.0, 2.0, 0.25];
    let (mut m, mut v) = (vec![0.0f32; 4], vec![0.0f32; 4]);
    let mut p64 = p.iter().map(|&x| x as f64).collect::<Vec<_>>();
    let (mut m64, mut v64) = (vec![0.0f64; 4], vec![0.0f64; 4]);
    let (b1, b2, eps) = (0.9f64, 0.999f64, 1e-15f64);
    for (step, g) in grads.iter().enumerate() {
        let t = step as u32 + 1;
        let mut g32 = g.to_vec();
        adam_step_cpu(
            &mut p, &mut g32, &mut m, &mut v, stride, 4, lr as f32, 0.0, &config, t,
        );
        assert!(g32.iter().all(|&x| x == 0.0));
        for j in 0..4 {
            let gj = g[j] as f64;
            m64[j] = b1 * m64[j] + (1.0 - b1) * gj;
            v64[j] = b2 * v64[j] + (1.0 - b2) * gj * gj;
            let m_hat = m64[j] / (1.0 - b1.powi(t as i32));
            let v_hat = v64[j] / (1.0 - b2.powi(t as i32));
            p64[j] -= lr * m_hat / (v_hat.sqrt() + eps);
        }
    }
    for j in 0..4 {
        assert!(
            (p[j] as f64 - p64[j]).abs() <= 3e-6,
            "[{j}]: f32 {} f64 {}",
            p[j],
            p64[j]
        );
    }
    assert_eq!(p[3], 0.25, "a parameter whose gradient is always 0 stays");
}

#[test]
fn learning_rates_follow_gsplat() {
    let lrs = LearningRates::gsplat(2.0);
    assert_eq!(lrs.means, 3.2e-4);
    assert_eq!((lrs.scales, lrs.quats, lrs.opacities), (5e-3, 1e-3, 5e-2));
    assert_eq!((lrs.sh0, lrs.sh_rest), (2.5e-3, 2.5e-3 / 20.0));
    assert_eq!(lrs.for_group(ParamGroup::Means), (3.2e-4, 5e-2));
    assert_eq!(lrs.for_group(ParamGroup::LogScales), (5e-3, 0.0));
    assert_eq!(lrs.for_group(ParamGroup::Rotations), (1e-3, 1e-3));
    assert_eq!(lrs.for_group(ParamGroup::Sh), (2.5e-3, 2.5e-3 / 20.0));

    // lr0 · 0.01^(step/total), the same as multiplying by gamma = 0.01^(1/total) once per step.
    let total = 30_000;
    let gamma = 0.01f64.powf(1.0 / total as f64);
    let mut torch = 1.6e-4f64;
    for step in 0..=total {
        if step % 1000 == 0 {
            let ours = exponential_decay(1.6e-4, step, total) as f64;
            assert!((ours - torch).abs() <= 1e-6 * torch, "step {step}");
        }
        torch *= gamma;
    }
    assert_eq!(exponential_decay(1.0, 0, 100), 1.0);
    assert!((exponential_decay(1.0, 50, 100) - 0.1).abs() < 1e-7);
    assert!((exponential_decay(1.0, 100, 100) - 0.01).abs() < 1e-9);
    let later = lrs.at_step(15_000, total);
    assert!((later.means - 3.2e-5).abs() < 1e-10);
    assert_eq!(later.scales, lrs.scales);
}
