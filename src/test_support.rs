//! Helpers shared by kernel tests, which run natively (tokio, lavapipe in CI) and in headless
//! Chromium (wasm-bindgen-test, WebGPU on SwiftShader) from the same test bodies.

use std::ops::Range;

use rand::{rngs::SmallRng, Rng, SeedableRng};

use crate::formats::{sh_coeffs_per_channel, GaussianScene};
use crate::gpu::GpuContext;

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

/// Opens the GPU for a test; fails the test with the reason when none is available.
pub async fn gpu() -> GpuContext {
    match GpuContext::new().await {
        Ok(ctx) => ctx,
        Err(e) => panic!(
            "kernel tests need a GPU adapter (lavapipe natively, WebGPU in the browser): {e}"
        ),
    }
}

/// The sizes every kernel is checked at: empty, tiny, around a workgroup and a scan block,
/// odd large, and 4M.
pub const SIZES: &[usize] = &[0, 1, 2, 255, 256, 257, 1023, 1024, 1025, 1_000_003, 4 << 20];

/// Input patterns: random, all equal, strictly descending.
#[derive(Debug, Clone, Copy)]
pub enum Pattern {
    Random,
    AllEqual,
    Descending,
}

pub const PATTERNS: [Pattern; 3] = [Pattern::Random, Pattern::AllEqual, Pattern::Descending];

/// `n` u32 values of `pattern`, reproducible from `seed`; random values are masked to `mask`.
pub fn values(pattern: Pattern, n: usize, seed: u64, mask: u32) -> Vec<u32> {
    match pattern {
        Pattern::Random => {
            let mut rng = SmallRng::seed_from_u64(seed);
            (0..n).map(|_| rng.random::<u32>() & mask).collect()
        }
        Pattern::AllEqual => vec![0x9E37_79B9 & mask; n],
        Pattern::Descending => (0..n).map(|i| (u32::MAX - i as u32) & mask).collect(),
    }
}

/// A random pose: a uniformly drawn quaternion (normalised) and a translation with each
/// component in `-max_translation..max_translation`, drawn in that order.
pub fn random_pose(rng: &mut SmallRng, max_translation: f64) -> nalgebra::Isometry3<f64> {
    let q = nalgebra::Quaternion::new(
        rng.random_range(-1.0..1.0),
        rng.random_range(-1.0..1.0),
        rng.random_range(-1.0..1.0),
        rng.random_range(-1.0..1.0),
    );
    let t = nalgebra::Vector3::new(
        rng.random_range(-max_translation..max_translation),
        rng.random_range(-max_translation..max_translation),
        rng.random_range(-max_translation..max_translation),
    );
    nalgebra::Isometry3::from_parts(
        nalgebra::Translation3::from(t),
        nalgebra::UnitQuaternion::from_quaternion(q),
    )
}

/// The instant-ngp fox scene's `transforms.json` (50 frames, COLMAP poses as colmap2nerf wrote
/// them), read by the tests that check real camera layouts.
#[cfg(not(target_arch = "wasm32"))]
pub fn fox_transforms_json() -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/datasets/ngp-fox/transforms.json"
    );
    std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The fox scene's OpenCV intrinsics as its `transforms.json` gives them: fx, fy, cx, cy, k1,
/// k2, p1, p2 (pixels of its 1080×1920 photos).
pub const FOX_OPENCV_PARAMS: [f64; 8] = [
    1375.52,
    1374.49,
    554.558,
    965.268,
    0.0578421,
    -0.0805099,
    -0.000980296,
    0.00015575,
];

/// The uniform ranges [`random_scene`] draws each splat's values from.
pub struct RandomSplats {
    /// Half extents of the box (about the origin) the centres lie in.
    pub extent: [f32; 3],
    /// Each splat's base log scale, and the half range each axis varies about it.
    pub log_scale: (Range<f32>, f32),
    /// The rotation quaternion's w (x, y and z are in -1..1; not normalised).
    pub rotation_w: Range<f32>,
    pub opacity_logit: Range<f32>,
    /// Half ranges of the DC and of the higher SH coefficients.
    pub sh: (f32, f32),
}

/// `n` random splats of SH `degree` drawn from `ranges`, reproducible from `seed`.
pub fn random_scene(n: usize, degree: u32, seed: u64, ranges: &RandomSplats) -> GaussianScene {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut s = GaussianScene::empty(degree);
    let [ex, ey, ez] = ranges.extent;
    let (log_scale, jitter) = (ranges.log_scale.0.clone(), ranges.log_scale.1);
    for _ in 0..n {
        s.positions.push([
            rng.random_range(-ex..ex),
            rng.random_range(-ey..ey),
            rng.random_range(-ez..ez),
        ]);
        let base: f32 = rng.random_range(log_scale.clone());
        s.log_scales.push([
            base + rng.random_range(-jitter..jitter),
            base + rng.random_range(-jitter..jitter),
            base + rng.random_range(-jitter..jitter),
        ]);
        s.rotations.push([
            rng.random_range(ranges.rotation_w.clone()),
            rng.random_range(-1.0..1.0),
            rng.random_range(-1.0..1.0),
            rng.random_range(-1.0..1.0),
        ]);
        s.opacity_logits
            .push(rng.random_range(ranges.opacity_logit.clone()));
        for k in 0..3 * sh_coeffs_per_channel(degree) {
            let scale = if k < 3 { ranges.sh.0 } else { ranges.sh.1 };
            s.sh.push(rng.random_range(-scale..scale));
        }
    }
    s
}
