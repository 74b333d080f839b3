//! Procedural scenes for benchmarks (native and browser use the same one).

use rand::{rngs::SmallRng, Rng, SeedableRng};

use crate::formats::GaussianScene;

/// A procedural SH-degree-3 scene: `n` splats in a unit ball, σ log-uniform in [0.001, 0.01],
/// random rotations, opacities and colours — roughly the footprint mix of a trained scene.
pub fn procedural_scene(n: usize, seed: u64) -> GaussianScene {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut s = GaussianScene::empty(3);
    s.positions.reserve(n);
    s.sh.reserve(n * 48);
    for _ in 0..n {
        let p = loop {
            let p: [f32; 3] = [
                rng.random_range(-1.0..1.0),
                rng.random_range(-1.0..1.0),
                rng.random_range(-1.0..1.0),
            ];
            if p[0] * p[0] + p[1] * p[1] + p[2] * p[2] <= 1.0 {
                break p;
            }
        };
        s.positions.push(p);
        let base: f32 = rng.random_range(0.001f32.ln()..0.01f32.ln());
        s.log_scales.push([
            base,
            base + rng.random_range(-0.5..0.5),
            base + rng.random_range(-0.5..0.5),
        ]);
        s.rotations.push([
            rng.random_range(-1.0..1.0),
            rng.random_range(-1.0..1.0),
            rng.random_range(-1.0..1.0),
            rng.random_range(-1.0..1.0),
        ]);
        s.opacity_logits.push(rng.random_range(-2.0..4.0));
        for k in 0..48 {
            s.sh.push(if k < 3 {
                rng.random_range(-1.5..1.5)
            } else {
                rng.random_range(-0.2..0.2)
            });
        }
    }
    s
}
