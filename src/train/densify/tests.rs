//! Densification on the GPU vs. the CPU references, and known answers.
//!
//! Tolerances: counts, actions and every copied record (parameters, Adam moments, split
//! children's log scales, rotations, SH and opacities) must be bit-identical — classification
//! uses only comparisons and correctly rounded products. Split children's positions use the
//! GPU's `log`, `cos`, `sin` and `exp`: the normals agree to 1e-5 and positions to
//! 1e-5 · (1 + |offset|). Accumulated gradient norms go through the GPU's `length`: relative 1e-5.

use rand::{rngs::SmallRng, Rng, SeedableRng};
use wasm_bindgen_test::wasm_bindgen_test;

use super::{
    accumulate_cpu, budget_threshold, refine_cpu, reset_opacity_cpu, split_normals, Densifier,
    DensifyConfig, RefineStats, VisibleFlags,
};
use crate::gpu::{storage_buffer_init, GpuContext};
use crate::test_support::gpu;
use crate::train::adam::{AdamMoments, ParamGroup, SplatBuffers, SplatData};
use crate::train::SH_FLOATS;

/// A splat set to refine: parameters, Adam moments and statistics.
struct Set {
    params: SplatData,
    m: SplatData,
    v: SplatData,
    grad2d: Vec<f32>,
    visits: Vec<u32>,
}

/// `n` splats mixing every case: transparent (opacity logit below logit(0.005) ≈ -5.3), small
/// and large (scales 1e-3 to 0.5 of `scene_scale`), average gradients either side of 2e-4,
/// splats never seen.
fn random_set(n: usize, scene_scale: f32, seed: u64) -> Set {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut s = Set {
        params: SplatData::zeroed(n),
        m: SplatData::zeroed(n),
        v: SplatData::zeroed(n),
        grad2d: vec![0.0; n],
        visits: vec![0; n],
    };
    for i in 0..n {
        let p = &mut s.params;
        p.means[i] = [
            rng.random_range(-1.0..1.0),
            rng.random_range(-1.0..1.0),
            rng.random_range(-1.0..1.0),
            rng.random_range(-7.0..4.0),
        ];
        let base: f32 = rng.random_range(0.001f32.ln()..0.5f32.ln()) + scene_scale.ln();
        p.log_scales[i] = [
            base + rng.random_range(-0.5..0.0),
            base + rng.random_range(-0.5..0.0),
            base,
            0.0,
        ];
        p.rotations[i] = [
            rng.random_range(-1.0..1.0),
            rng.random_range(-1.0..1.0),
            rng.random_range(-1.0..1.0),
            rng.random_range(-1.0..1.0),
        ];
        for k in 0..SH_FLOATS {
            p.sh[i * SH_FLOATS + k] = rng.random_range(-1.0..1.0);
        }
        for g in ParamGroup::ALL {
            let stride = g.stride() as usize;
            let range = i * stride..(i + 1) * stride;
            for x in &mut s.m.group_mut(g)[range.clone()] {
                *x = rng.random_range(-1e-3..1e-3);
            }
            for x in &mut s.v.group_mut(g)[range] {
                *x = rng.random_range(0.0..1e-6);
            }
        }
        s.visits[i] = rng.random_range(0..12);
        let avg = 10f32.powf(rng.random_range(-5.0..-3.0));
        s.grad2d[i] = avg * s.visits[i] as f32;
    }
    s
}

struct GpuSet {
    params: SplatBuffers,
    moments: AdamMoments,
}

fn upload(ctx: &GpuContext, set: &Set) -> GpuSet {
    GpuSet {
        params: SplatBuffers::upload(ctx, "params", &set.params).expect("params"),
        moments: AdamMoments {
            m: SplatBuffers::upload(ctx, "m", &set.m).expect("m"),
            v: SplatBuffers::upload(ctx, "v", &set.v).expect("v"),
        },
    }
}

/// Refines `set` on the GPU; returns the counts and the new parameters and moments.
async fn gpu_refine(
    ctx: &GpuContext,
    config: DensifyConfig,
    scene_scale: f32,
    set: &Set,
    step: u32,
    seed: u32,
) -> (RefineStats, SplatData, SplatData, SplatData) {
    let mut densifier =
        Densifier::new(ctx, config, scene_scale, set.params.len() as u32).expect("densifier");
    densifier
        .set_stats(ctx, &set.grad2d, &set.visits)
        .expect("stats");
    let GpuSet {
        mut params,
        mut moments,
    } = upload(ctx, set);
    let stats = densifier
        .refine(ctx, &mut params, &mut moments, step, seed)
        .await
        .expect("refine");
    assert_eq!(params.count, stats.after);
    assert_eq!(moments.count(), stats.after);
    let (grad2d, visits) = densifier.read_stats(ctx).await.expect("stats");
    assert_eq!(grad2d, vec![0.0; stats.after as usize], "statistics reset");
    assert_eq!(visits, vec![0; stats.after as usize], "statistics reset");
    (
        stats,
        params.read(ctx).await.expect("params"),
        moments.m.read(ctx).await.expect("m"),
        moments.v.read(ctx).await.expect("v"),
    )
}

/// Checks GPU refine output against the CPU reference: exact everywhere but split positions.
fn assert_refine_matches(
    what: &str,
    gpu: &(RefineStats, SplatData, SplatData, SplatData),
    set: &Set,
    config: &DensifyConfig,
    scene_scale: f32,
    step: u32,
    seed: u32,
) {
    let rule = config.rule(scene_scale, step);
    let cpu = refine_cpu(
        &set.params,
        &set.m,
        &set.v,
        &set.grad2d,
        &set.visits,
        &rule,
        seed,
    );
    let (stats, params, m, v) = gpu;
    assert_eq!(
        (stats.duplicated, stats.split, stats.pruned, stats.after),
        (
            cpu.duplicated,
            cpu.split,
            cpu.pruned,
            cpu.params.len() as u32
        ),
        "{what}: counts"
    );
    assert_eq!(stats.before, set.params.len() as u32);
    assert_eq!(m, &cpu.m, "{what}: first moments");
    assert_eq!(v, &cpu.v, "{what}: second moments");
    assert_eq!(
        params.log_scales, cpu.params.log_scales,
        "{what}: log scales"
    );
    assert_eq!(params.rotations, cpu.params.rotations, "{what}: rotations");
    assert_eq!(params.sh, cpu.params.sh, "{what}: SH");
    let mut worst = 0.0f32;
    for (k, (g, c)) in params.means.iter().zip(&cpu.params.means).enumerate() {
        assert_eq!(g[3], c[3], "{what}: opacity of output {k}");
        for a in 0..3 {
            let tol = 1e-5 * (1.0 + c[a].abs());
            worst = worst.max((g[a] - c[a]).abs());
            assert!(
                (g[a] - c[a]).abs() <= tol,
                "{what}: output {k} mean[{a}] gpu {} cpu {}",
                g[a],
                c[a]
            );
        }
    }
    eprintln!("{what}: largest split position difference {worst}");
}

#[wasm_bindgen_test(unsupported = tokio::test)]
async fn refine_matches_cpu_reference() {
    let ctx = gpu().await;
    let config = DensifyConfig::default();
    for (n, scene_scale, step, seed) in [
        (0usize, 1.0f32, 600u32, 1u32),
        (1, 1.0, 600, 2),
        (3000, 1.0, 1000, 3),
        (3000, 4.5, 4000, 4),
        (70_000, 2.0, 6100, 5),
    ] {
        let set = random_set(n, scene_scale, seed as u64);
        let got = gpu_refine(&ctx, config, scene_scale, &set, step, seed).await;
        let what = format!("n={n} step={step}");
        assert_refine_matches(&what, &got, &set, &config, scene_scale, step, seed);
        let stats = got.0;
        if n >= 3000 {
            assert!(
                stats.duplicated > 0 && stats.split > 0 && stats.pruned > 0,
                "{what}: every case exercised: {stats:?}"
            );
        }
    }
}

#[wasm_bindgen_test(unsupported = tokio::test)]
async fn split_normals_match_cpu_hash() {
    let ctx = gpu().await;
    // Splats at the origin with scale 1 and no rotation: each child's mean is its normal sample.
    let n = 5000;
    let mut set = random_set(n, 1.0, 9);
    for i in 0..n {
        set.params.means[i] = [0.0, 0.0, 0.0, 1.0];
        set.params.log_scales[i] = [0.0; 4];
        set.params.rotations[i] = [1.0, 0.0, 0.0, 0.0];
        set.grad2d[i] = 1.0;
        set.visits[i] = 1;
    }
    let seed = 0xDEAD_BEEF;
    let (stats, params, _, _) =
        gpu_refine(&ctx, DensifyConfig::default(), 1.0, &set, 1000, seed).await;
    assert_eq!((stats.split, stats.after), (n as u32, 2 * n as u32));
    let mut worst = 0.0f32;
    for i in 0..n {
        for (c, normal) in split_normals(seed, i as u32).iter().enumerate() {
            let got = params.means[2 * i + c];
            for a in 0..3 {
                worst = worst.max((got[a] - normal[a]).abs());
            }
        }
    }
    eprintln!("largest normal difference {worst}");
    assert!(worst <= 1e-5, "largest normal difference {worst}");
}

#[test]
fn split_normals_are_standard_normal() {
    let (mut sum, mut sq, mut count) = (0.0f64, 0.0f64, 0.0f64);
    for i in 0..50_000u32 {
        for x in split_normals(17, i).as_flattened() {
            sum += *x as f64;
            sq += (*x as f64).powi(2);
            count += 1.0;
        }
    }
    let mean = sum / count;
    let var = sq / count - mean * mean;
    assert!(mean.abs() < 0.01, "mean {mean}");
    assert!((var - 1.0).abs() < 0.02, "variance {var}");
    assert_ne!(
        split_normals(17, 0),
        split_normals(18, 0),
        "the seed matters"
    );
}

#[wasm_bindgen_test(unsupported = tokio::test)]
async fn refine_known_answers() {
    let ctx = gpu().await;
    let config = DensifyConfig::default();
    let mut set = random_set(6, 1.0, 11);
    let high = 1e-3; // average gradient 5× the 2e-4 threshold
    let cases: [(&str, f32, f32, f32); 6] = [
        // (what, opacity logit, max scale, average gradient)
        ("duplicate", 0.0, 0.005, high),
        ("split", 1.0, 0.05, high),
        ("transparent", -6.0, 0.005, 0.0),
        ("keep", 2.0, 0.02, 1e-4),
        ("too big", 2.0, 0.5, 0.0),
        ("transparent duplicate", -6.0, 0.005, high),
    ];
    for (i, (_, opacity, scale, grad)) in cases.iter().enumerate() {
        set.params.means[i][3] = *opacity;
        set.params.log_scales[i] = [scale.ln() - 0.3, scale.ln(), scale.ln() - 1.0, 0.0];
        set.visits[i] = 4;
        set.grad2d[i] = grad * 4.0;
    }
    let p = set.params.clone();
    let sh = |d: &SplatData, i: usize| d.sh[i * SH_FLOATS..(i + 1) * SH_FLOATS].to_vec();

    // Before the first opacity reset too-big splats stay.
    let (stats, out, m, v) = gpu_refine(&ctx, config, 1.0, &set, 2000, 5).await;
    assert_eq!(
        stats,
        RefineStats {
            before: 6,
            duplicated: 2,
            split: 1,
            pruned: 3,
            after: 6
        }
    );
    // Outputs: duplicate ×2, split ×2, keep, too big.
    assert_eq!(out.means[0], p.means[0]);
    assert_eq!(out.means[1], p.means[0]);
    assert_eq!(out.log_scales[1], p.log_scales[0]);
    assert_eq!(sh(&out, 1), sh(&p, 0));
    assert_eq!(m.means[0], set.m.means[0], "the original keeps its moments");
    assert_eq!(v.sh[..SH_FLOATS], set.v.sh[..SH_FLOATS]);
    assert_eq!(m.means[1], [0.0; 4], "the copy starts with zero moments");
    assert_eq!(sh(&v, 1), vec![0.0; SH_FLOATS]);
    for child in [2, 3] {
        for a in 0..3 {
            let want = (p.log_scales[1][a].exp() / 1.6).ln();
            assert!(
                (out.log_scales[child][a] - want).abs() < 1e-6,
                "scale / 1.6"
            );
        }
        assert_eq!(out.means[child][3], p.means[1][3], "opacity unchanged");
        assert_eq!(out.rotations[child], p.rotations[1]);
        assert_eq!(sh(&out, child), sh(&p, 1));
        assert_eq!(m.means[child], [0.0; 4]);
        assert_eq!(v.rotations[child], [0.0; 4]);
        let d: f32 = (0..3)
            .map(|a| (out.means[child][a] - p.means[1][a]).powi(2))
            .sum::<f32>()
            .sqrt();
        assert!(d > 0.0 && d < 0.05 * 6.0, "child moved {d} from its parent");
    }
    assert_ne!(out.means[2], out.means[3], "two different samples");
    assert_eq!(out.means[4], p.means[3], "kept");
    assert_eq!(m.means[4], set.m.means[3], "kept with its moments");
    assert_eq!(
        out.means[5], p.means[4],
        "too big but before the first reset"
    );

    // After the first reset the too-big splat goes too.
    let (stats, out, _, _) = gpu_refine(&ctx, config, 1.0, &set, 3100, 5).await;
    assert_eq!((stats.pruned, stats.after), (4, 5));
    assert_eq!(out.means[4], p.means[3]);
    // A scene twice as large: the 0.05 splat is small enough to duplicate, the 0.5 one not too big.
    let (stats, _, _, _) = gpu_refine(&ctx, config, 5.1, &set, 3100, 5).await;
    assert_eq!((stats.duplicated, stats.split, stats.pruned), (3, 0, 3));
}

#[wasm_bindgen_test(unsupported = tokio::test)]
async fn accumulate_matches_cpu_reference() {
    let ctx = gpu().await;
    for n in [0usize, 1, 300, 20_000] {
        let mut rng = SmallRng::seed_from_u64(n as u64);
        let config = DensifyConfig::default();
        let densifier = Densifier::new(&ctx, config, 1.0, n as u32).expect("densifier");
        let (mut grad2d, mut visits) = (vec![0.0f32; n], vec![0u32; n]);
        for (width, height) in [(640u32, 480u32), (1920, 1080), (37, 211)] {
            let grads: Vec<[f32; 2]> = (0..n)
                .map(|_| [rng.random_range(-1e-5..1e-5), rng.random_range(-1e-5..1e-5)])
                .collect();
            let tiles: Vec<u32> = (0..n)
                .map(|_| {
                    if rng.random_range(0..4) == 0 {
                        0
                    } else {
                        rng.random_range(1..9)
                    }
                })
                .collect();
            let grads_buf = storage_buffer_init(&ctx, "grad xy", &grads);
            let tiles_buf = storage_buffer_init(&ctx, "tiles", &tiles);
            densifier
                .accumulate(
                    &ctx,
                    &grads_buf,
                    2,
                    VisibleFlags::words(&tiles_buf),
                    width,
                    height,
                )
                .expect("accumulate");
            accumulate_cpu(&mut grad2d, &mut visits, &grads, &tiles, width, height);
        }
        let (got_grad, got_visits) = densifier.read_stats(&ctx).await.expect("stats");
        assert_eq!(got_visits, visits, "n={n}: visits");
        for (i, (g, c)) in got_grad.iter().zip(&grad2d).enumerate() {
            assert!(
                (g - c).abs() <= 1e-5 * c.abs(),
                "n={n}: grad2d[{i}] gpu {g} cpu {c}"
            );
        }
    }
}

#[wasm_bindgen_test(unsupported = tokio::test)]
async fn opacity_reset_clamps_and_zeroes_opacity_moments() {
    let ctx = gpu().await;
    let config = DensifyConfig::default();
    let mut set = random_set(1000, 1.0, 21);
    set.params.means[0][3] = 3.0;
    set.params.means[1][3] = -6.0;
    let gpu_set = upload(&ctx, &set);
    let densifier = Densifier::new(&ctx, config, 1.0, 1000).expect("densifier");
    densifier
        .reset_opacity(&ctx, &gpu_set.params, &gpu_set.moments)
        .expect("reset");
    let reset = config.reset_logit();
    assert!(
        (1.0 / (1.0 + (-reset).exp()) - 0.01).abs() < 1e-7,
        "2 · prune_opa"
    );
    reset_opacity_cpu(&mut set.params, &mut set.m, &mut set.v, reset);
    assert_eq!(set.params.means[0][3], reset, "clamped");
    assert_eq!(set.params.means[1][3], -6.0, "below the clamp: unchanged");
    assert_eq!(gpu_set.params.read(&ctx).await.expect("params"), set.params);
    assert_eq!(gpu_set.moments.m.read(&ctx).await.expect("m"), set.m);
    assert_eq!(gpu_set.moments.v.read(&ctx).await.expect("v"), set.v);
}

#[wasm_bindgen_test(unsupported = tokio::test)]
async fn budget_grows_only_the_highest_gradients() {
    let ctx = gpu().await;
    let n = 1000;
    let mut set = random_set(n, 1.0, 31);
    let mut rng = SmallRng::seed_from_u64(5);
    for i in 0..n {
        set.params.means[i][3] = 2.0;
        set.params.log_scales[i] = [-6.0, -6.0, -6.0, 0.0];
        set.visits[i] = rng.random_range(1..30);
        set.grad2d[i] = rng.random_range(3e-4..1e-3) * set.visits[i] as f32;
    }
    let config = DensifyConfig {
        max_splats: Some(1300),
        ..DensifyConfig::default()
    };
    let (stats, out, _, _) = gpu_refine(&ctx, config, 1.0, &set, 1000, 1).await;
    assert_eq!((stats.pruned, stats.split), (0, 0));
    assert!(stats.after <= 1300 && stats.duplicated >= 295, "{stats:?}");
    // The same threshold on the CPU grows the same splats.
    let rule = config.rule(1.0, 1000);
    let threshold = budget_threshold(&set.grad2d, &set.visits, rule.grad_threshold, 300);
    let cpu = refine_cpu(
        &set.params,
        &set.m,
        &set.v,
        &set.grad2d,
        &set.visits,
        &super::RefineRule {
            grad_threshold: threshold,
            ..rule
        },
        1,
    );
    assert_eq!(out, cpu.params);
    // Every grown splat has a larger average than every one left.
    let avg: Vec<f32> = (0..n)
        .map(|i| set.grad2d[i] / set.visits[i] as f32)
        .collect();
    let grown = |i: usize| set.grad2d[i] > threshold * set.visits[i] as f32;
    let lowest_grown = (0..n)
        .filter(|&i| grown(i))
        .map(|i| avg[i])
        .fold(f32::MAX, f32::min);
    let highest_left = (0..n)
        .filter(|&i| !grown(i))
        .map(|i| avg[i])
        .fold(0.0, f32::max);
    assert!(lowest_grown >= highest_left);
    // Room for everyone: the budget changes nothing.
    assert_eq!(
        budget_threshold(&set.grad2d, &set.visits, rule.grad_threshold, 1000),
        rule.grad_threshold
    );
}

#[test]
fn schedule_follows_gsplat() {
    let c = DensifyConfig::default();
    let refines: Vec<u32> = (0..20_000).filter(|&s| c.refines(s)).collect();
    assert_eq!(refines.first(), Some(&600));
    assert_eq!(refines.last(), Some(&14_900));
    assert_eq!(refines.len(), 144);
    let resets: Vec<u32> = (0..20_000).filter(|&s| c.resets_opacity(s)).collect();
    assert_eq!(resets, vec![3000, 6000, 9000, 12_000]);
    assert!(c.accumulates(14_999) && !c.accumulates(15_000));
    let early = c.rule(2.0, 3000);
    assert!(
        !early.prune_big,
        "too-big pruning starts after the first reset"
    );
    let late = c.rule(2.0, 3100);
    assert!(late.prune_big);
    assert!((late.log_grow_scale - 0.02f32.ln()).abs() < 1e-6);
    assert!((late.log_prune_scale - 0.2f32.ln()).abs() < 1e-6);
    assert!((1.0 / (1.0 + (-late.prune_logit).exp()) - 0.005).abs() < 1e-8);
}
