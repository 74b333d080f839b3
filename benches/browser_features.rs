//! Browser benchmark: GPU SIFT extraction of one Strecha photograph (decoded with the default
//! 1600-px cap, the settings of `splatpod-bench extract`) and GPU matching of 8k × 8k
//! descriptors (the construction of `splatpod-bench match`), through WebGPU in headless
//! Chromium on SwiftShader (or any browser `wasm-bindgen-test-runner` drives).
//!
//! Run with `bench/browser_features.sh`, which writes the figures into
//! `bench/results/features.json`. The photograph is embedded at compile time from
//! `../shared/datasets` (the browser cannot read files).
#![cfg(target_arch = "wasm32")]

use std::rc::Rc;
use std::time::Duration;

use splatpod::features::sift::SiftParams;
use splatpod::features::{match_descriptors, Descriptors, MatchOptions, SiftGpu};
use splatpod::gpu::GpuContext;
use splatpod::images::{decode_image, DecodeOptions};
use wasm_bindgen_test::{wasm_bindgen_bench, Criterion};

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

/// A 1536×1024 photograph (the same scene `bench extract` times natively).
const PHOTO: &[u8] = include_bytes!("../../shared/datasets/strecha-fountain-P11/images/0005.jpg");

/// Features kept per image and descriptors per side of a matched pair.
const MAX_FEATURES: u32 = 8192;

/// Long iterations on a software GPU: ten flat samples, no extra warm-up beyond one run.
fn slow_config(c: &mut Criterion) {
    *c = std::mem::take(c)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(1));
}

#[wasm_bindgen_bench]
async fn sift_extract_1600(c: &mut Criterion) {
    slow_config(c);
    let ctx = GpuContext::new_for_large_scenes()
        .await
        .expect("WebGPU adapter");
    let img = decode_image(PHOTO, Some("0005.jpg"), &DecodeOptions::default()).expect("decode");
    let sift = Rc::new(SiftGpu::new(&ctx));
    // The parameters of `splatpod-bench extract`.
    let params = SiftParams {
        max_features: Some(MAX_FEATURES),
        upsample: true,
        contrast_threshold: 0.02,
        ..SiftParams::default()
    };
    let gray = Rc::new(img.gray);
    let (w, h) = (img.width, img.height);
    c.bench_async_function("sift_extract_1600", |b| {
        let (ctx, sift, gray, params) = (ctx.clone(), sift.clone(), gray.clone(), params.clone());
        Box::pin(b.iter_future(move || {
            let (ctx, sift, gray, params) =
                (ctx.clone(), sift.clone(), gray.clone(), params.clone());
            async move {
                let (keypoints, _) = sift
                    .detect_and_describe(&ctx, &gray, w, h, &params)
                    .await
                    .expect("extract");
                std::hint::black_box(keypoints);
            }
        }))
    })
    .await;
}

/// Random sparse descriptors (SIFT-like: most bins empty), `n` of them; a small xorshift stands
/// in for `splatpod-bench match`'s seeded `SmallRng` (30 % of bins set to a uniform byte).
fn random_descriptors(n: u32, seed: u64) -> Descriptors {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let raw: Vec<[u8; 128]> = (0..n)
        .map(|_| {
            std::array::from_fn(|_| {
                let r = next();
                if (r >> 32) % 10 < 3 {
                    (r & 0xff) as u8
                } else {
                    0
                }
            })
        })
        .collect();
    Descriptors::from_bytes(&raw)
}

#[wasm_bindgen_bench]
async fn match_8k_pair(c: &mut Criterion) {
    slow_config(c);
    let ctx = GpuContext::new_for_large_scenes()
        .await
        .expect("WebGPU adapter");
    let a = Rc::new(random_descriptors(MAX_FEATURES, 1));
    let b_desc = Rc::new(random_descriptors(MAX_FEATURES, 2));
    let options = MatchOptions::default();
    c.bench_async_function("match_8k_pair", |b| {
        let (ctx, a, b_desc) = (ctx.clone(), a.clone(), b_desc.clone());
        Box::pin(b.iter_future(move || {
            let (ctx, a, b_desc) = (ctx.clone(), a.clone(), b_desc.clone());
            async move {
                let matches = match_descriptors(&ctx, &a, &b_desc, &options)
                    .await
                    .expect("match");
                std::hint::black_box(matches);
            }
        }))
    })
    .await;
}
