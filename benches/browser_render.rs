//! Browser benchmark: the splat rasterizer at 100k splats (1920×1080) through WebGPU, in
//! headless Chromium on SwiftShader (or any browser `wasm-bindgen-test-runner` drives).
//!
//! Run with `bench/browser_render.sh`, which writes the figures into `bench/results/render.json`.
#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::rc::Rc;

use glam::Vec3;
use splatpod::gpu::GpuContext;
use splatpod::render::{procedural_scene, Camera, GpuScene, Renderer};
use wasm_bindgen_test::{wasm_bindgen_bench, Criterion};

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_bench]
#[allow(clippy::await_holding_refcell_ref)]
async fn render_100k_splats_1080p(c: &mut Criterion) {
    // A software GPU takes about a second a frame: ten samples are plenty.
    *c = std::mem::take(c).sample_size(10);
    let ctx = GpuContext::new_for_large_scenes()
        .await
        .expect("WebGPU adapter");
    let scene = procedural_scene(100_000, 100_000);
    let renderer =
        Renderer::new(&ctx, GpuScene::upload(&ctx, &scene).expect("upload")).expect("renderer");
    let renderer = Rc::new(RefCell::new(renderer));
    let cam = Camera::look_at(
        Vec3::new(0.0, -0.3, -2.6),
        Vec3::ZERO,
        Vec3::NEG_Y,
        50f32.to_radians(),
        1920,
        1080,
    );
    c.bench_async_function("render_1080p_100k", |b| {
        let renderer = renderer.clone();
        let ctx = ctx.clone();
        Box::pin(b.iter_future(move || {
            let renderer = renderer.clone();
            let ctx = ctx.clone();
            async move {
                renderer
                    .borrow_mut()
                    .render(&cam, Vec3::ZERO)
                    .await
                    .expect("render");
                ctx.finish().await.expect("finish");
            }
        }))
    })
    .await;
}
