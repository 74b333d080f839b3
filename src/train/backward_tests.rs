//! The backward kernels against central finite differences of the f64 CPU reference renderer.
//!
//! Loss: L = Σ_pixels w · rgb with fixed random weights w (so dL/d rgb = w is the kernel's input).
//! Finite differences step each parameter by ±ε with ε ∈ {1e-3, 1e-4, 1e-5}, taking the first
//! whose two renders blend the same splats at every pixel as the base render (no cut-off crossed:
//! the image is smooth there); a parameter with none is skipped (at most 5 % may be).
//! Tolerance: |gpu − fd| ≤ 2e-2 |fd| + 2e-3 · (largest |fd| of that parameter group) — the GPU
//! works in f32, recovers transmittance by division and sums in arbitrary order.

use glam::Vec3;
use rand::{rngs::SmallRng, Rng, SeedableRng};
use wasm_bindgen_test::wasm_bindgen_test;

use super::{Accumulation, BackwardKernel, BackwardPass};
use crate::formats::GaussianScene;
use crate::gpu::{read_buffer, storage_buffer_init, GpuContext};
use crate::render::{render_cpu_f64, Camera, GpuScene, Renderer, NEAR_PLANE};
use crate::test_support::{self, gpu, RandomSplats};
use crate::train::adam::{SplatBuffers, SplatData};
use crate::train::SH_FLOATS;

const BACKGROUND: Vec3 = Vec3::new(0.2, 0.1, 0.3);

/// A few large, half-transparent splats in front of the camera, overlapping each other.
fn scene(n: usize, degree: u32, seed: u64) -> GaussianScene {
    let ranges = RandomSplats {
        extent: [0.8, 0.6, 0.8],
        log_scale: (-2.2..-1.6, 0.4),
        rotation_w: 0.3..1.0,
        opacity_logit: -1.0..1.5,
        sh: (1.0, 0.25),
    };
    test_support::random_scene(n, degree, seed, &ranges)
}

fn camera() -> Camera {
    Camera::look_at(
        Vec3::new(0.3, -0.4, -4.0),
        Vec3::ZERO,
        Vec3::NEG_Y,
        0.6,
        45,
        38,
    )
}

/// `scene` in the training layout (SH padded to 48 floats per splat).
fn upload(ctx: &GpuContext, scene: &GaussianScene) -> SplatBuffers {
    let data = SplatData::from_scene(scene).expect("valid scene");
    SplatBuffers::upload(ctx, "splats", &data).expect("upload")
}

/// Gradients in the CPU scene's parameter order: per splat position 3, log scale 3, rotation 4,
/// opacity logit 1, SH (active coefficients).
#[derive(Debug)]
struct Grads {
    groups: Vec<(&'static str, Vec<f64>)>,
}

async fn gpu_grads(
    ctx: &GpuContext,
    scene: &GaussianScene,
    weights: &[[f32; 4]],
    accumulation: Accumulation,
) -> Grads {
    let cam = camera();
    let n = scene.len() as u32;
    let params = upload(ctx, scene);
    let grads = SplatBuffers::zeroed(ctx, "grad", n).expect("grads");
    let gpu_scene = GpuScene::from_buffers(
        n,
        scene.sh_degree,
        SH_FLOATS as u32,
        [
            &params.means,
            &params.log_scales,
            &params.rotations,
            &params.sh,
        ],
    );
    let mut renderer = Renderer::new(ctx, gpu_scene).expect("renderer");
    renderer.render(&cam, BACKGROUND).await.expect("render");
    let v_rgb = storage_buffer_init(ctx, "v_rgb", weights);
    let kernel = BackwardKernel::with_accumulation(ctx, accumulation);
    let pass = BackwardPass::new(ctx, n);
    let mut enc = ctx.device.create_command_encoder(&Default::default());
    let frame = renderer.frame_buffers().expect("frame");
    pass.encode(
        ctx,
        &kernel,
        &mut enc,
        &frame,
        &params,
        &grads,
        &v_rgb,
        n,
        (cam.width, cam.height),
    );
    ctx.queue.submit([enc.finish()]);
    let means: Vec<[f32; 4]> = read_buffer(ctx, &grads.means, n as usize).await.unwrap();
    let scales: Vec<[f32; 4]> = read_buffer(ctx, &grads.log_scales, n as usize)
        .await
        .unwrap();
    let rots: Vec<[f32; 4]> = read_buffer(ctx, &grads.rotations, n as usize)
        .await
        .unwrap();
    let sh: Vec<f32> = read_buffer(ctx, &grads.sh, n as usize * SH_FLOATS)
        .await
        .unwrap();
    let active = scene.sh_floats_per_splat();
    let f = |v: f32| v as f64;
    Grads {
        groups: vec![
            (
                "position",
                means
                    .iter()
                    .flat_map(|m| [m[0], m[1], m[2]].map(f))
                    .collect(),
            ),
            (
                "log scale",
                scales
                    .iter()
                    .flat_map(|m| [m[0], m[1], m[2]].map(f))
                    .collect(),
            ),
            ("rotation", rots.iter().flat_map(|m| m.map(f)).collect()),
            ("opacity", means.iter().map(|m| f(m[3])).collect()),
            (
                "sh",
                (0..scene.len())
                    .flat_map(|i| {
                        sh[i * SH_FLOATS..i * SH_FLOATS + active]
                            .iter()
                            .map(|v| f(*v))
                    })
                    .collect(),
            ),
        ],
    }
}

fn loss(scene: &GaussianScene, weights: &[[f32; 4]]) -> (f64, Vec<u32>) {
    let img = render_cpu_f64(scene, &camera(), BACKGROUND.as_dvec3(), NEAR_PLANE as f64);
    let l = img
        .rgba
        .iter()
        .zip(weights)
        .map(|(p, w)| (0..3).map(|c| p[c] * w[c] as f64).sum::<f64>())
        .sum();
    (l, img.blended)
}

/// The parameter `k` of group `g` of splat-major order, as a mutable f32.
fn param(scene: &mut GaussianScene, group: usize, k: usize) -> &mut f32 {
    match group {
        0 => &mut scene.positions[k / 3][k % 3],
        1 => &mut scene.log_scales[k / 3][k % 3],
        2 => &mut scene.rotations[k / 4][k % 4],
        3 => &mut scene.opacity_logits[k],
        _ => &mut scene.sh[k],
    }
}

fn fd_grads(scene: &GaussianScene, weights: &[[f32; 4]], template: &Grads) -> (Grads, usize) {
    let (_, base) = loss(scene, weights);
    let mut skipped = 0;
    let mut groups = Vec::new();
    for (g, (name, values)) in template.groups.iter().enumerate() {
        let mut out = Vec::with_capacity(values.len());
        for k in 0..values.len() {
            let mut found = None;
            for eps in [1e-3f32, 1e-4, 1e-5] {
                let mut plus = scene.clone();
                let mut minus = scene.clone();
                let x = *param(&mut plus, g, k);
                *param(&mut plus, g, k) = x + eps;
                *param(&mut minus, g, k) = x - eps;
                let step = *param(&mut plus, g, k) as f64 - *param(&mut minus, g, k) as f64;
                let (lp, sp) = loss(&plus, weights);
                let (lm, sm) = loss(&minus, weights);
                if sp == base && sm == base {
                    found = Some((lp - lm) / step);
                    break;
                }
            }
            match found {
                Some(v) => out.push(v),
                None => {
                    skipped += 1;
                    out.push(f64::NAN);
                }
            }
        }
        groups.push((*name, out));
    }
    (Grads { groups }, skipped)
}

fn compare(gpu: &Grads, fd: &Grads, what: &str) {
    for ((name, g), (_, f)) in gpu.groups.iter().zip(&fd.groups) {
        let scale = f
            .iter()
            .filter(|v| v.is_finite())
            .fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(scale > 0.0, "{what}: {name} has no gradient at all");
        for (k, (gv, fv)) in g.iter().zip(f).enumerate() {
            if !fv.is_finite() {
                continue;
            }
            let tol = 2e-2 * fv.abs() + 2e-3 * scale;
            assert!(
                (gv - fv).abs() <= tol,
                "{what}: d/d {name}[{k}]: gpu {gv} vs finite differences {fv} (tol {tol})"
            );
        }
    }
}

async fn check(degree: u32, seed: u64, accumulation: Accumulation) {
    let ctx = gpu().await;
    let s = scene(7, degree, seed);
    let cam = camera();
    let mut rng = SmallRng::seed_from_u64(seed + 100);
    let weights: Vec<[f32; 4]> = (0..cam.width * cam.height)
        .map(|_| {
            [
                rng.random_range(-1.0..1.0),
                rng.random_range(-1.0..1.0),
                rng.random_range(-1.0..1.0),
                0.0,
            ]
        })
        .collect();
    let gpu = gpu_grads(&ctx, &s, &weights, accumulation).await;
    let (fd, skipped) = fd_grads(&s, &weights, &gpu);
    let total: usize = fd.groups.iter().map(|(_, v)| v.len()).sum();
    assert!(
        skipped * 20 <= total,
        "{skipped} of {total} parameters sit on a cut-off at every step"
    );
    compare(
        &gpu,
        &fd,
        &format!("degree {degree}, seed {seed}, {accumulation:?}"),
    );
}

#[wasm_bindgen_test(unsupported = tokio::test)]
async fn backward_matches_finite_differences_of_the_cpu_reference() {
    let ctx = gpu().await;
    let mut variants = vec![Accumulation::Baseline];
    if Accumulation::best(&ctx) == Accumulation::Subgroup {
        variants.push(Accumulation::Subgroup);
    }
    for accumulation in variants {
        check(3, 1, accumulation).await;
        check(1, 2, accumulation).await;
        check(0, 3, accumulation).await;
    }
}
