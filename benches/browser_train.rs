//! Browser benchmark: training iterations (render, loss, backward, Adam) on a small scene through
//! WebGPU in headless Chromium on SwiftShader (or any browser `wasm-bindgen-test-runner` drives).
//! The photos are 24 views of a procedural 2000-splat ball rendered by the CPU reference at
//! 128×96; training starts from 2000 random points. SwiftShader proves the path, not the speed.
//!
//! Run with `bench/browser_train.sh`, which writes the figure into `bench/results/train.json`.
#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::rc::Rc;

use glam::Vec3;
use splatpod::gpu::GpuContext;
use splatpod::render::{procedural_scene, render_cpu, Camera, NEAR_PLANE};
use splatpod::train::dataset::{init_splats, pack_rgba8, LoadOptions, TrainDataset, TrainView};
use splatpod::train::trainer::{TrainConfig, Trainer};
use wasm_bindgen_test::{wasm_bindgen_bench, Criterion};

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_bench]
#[allow(clippy::await_holding_refcell_ref)]
async fn train_iterations_128x96(c: &mut Criterion) {
    *c = std::mem::take(c).sample_size(10);
    let ctx = GpuContext::new().await.expect("WebGPU adapter");
    let truth = procedural_scene(2000, 7);
    let views = (0..24)
        .map(|i| {
            let a = i as f32 / 24.0 * std::f32::consts::TAU;
            let eye = Vec3::new(2.6 * a.sin(), -0.5, -2.6 * a.cos());
            let camera = Camera::look_at(eye, Vec3::ZERO, Vec3::NEG_Y, 0.9, 128, 96);
            let img = render_cpu(&truth, &camera, Vec3::ZERO, NEAR_PLANE);
            TrainView {
                name: format!("{i:03}"),
                camera,
                rgba: pack_rgba8(&img.to_rgba8()),
            }
        })
        .collect();
    let options = LoadOptions {
        random_points: 2000,
        ..LoadOptions::default()
    };
    let data = TrainDataset::from_views(views, Vec::new(), &options).expect("dataset");
    let init = init_splats(&data.points, &data.colors, 1);
    let config = TrainConfig {
        iterations: 1_000_000,
        ..TrainConfig::default()
    };
    let trainer = Trainer::new(&ctx, &data, &init, config).expect("trainer");
    let trainer = Rc::new(RefCell::new(trainer));
    c.bench_async_function("train_iteration_128x96", |b| {
        let trainer = trainer.clone();
        let ctx = ctx.clone();
        Box::pin(b.iter_future(move || {
            let trainer = trainer.clone();
            let ctx = ctx.clone();
            async move {
                trainer.borrow_mut().step().await.expect("step");
                ctx.finish().await.expect("finish");
            }
        }))
    })
    .await;
}
