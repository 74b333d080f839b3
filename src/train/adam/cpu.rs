//! CPU reference for the Adam kernel: the same f32 operations in the same order.

use super::AdamConfig;

/// One Adam step `t` over `param` in place, as `adam.wgsl` computes it: moments updated, the
/// parameter moved, the gradient zeroed. Float `j` uses `lr_a` when `j % stride < split`, else
/// `lr_b`. All four slices have the same length.
#[allow(clippy::too_many_arguments)]
pub fn adam_step_cpu(
    param: &mut [f32],
    grad: &mut [f32],
    m: &mut [f32],
    v: &mut [f32],
    stride: usize,
    split: usize,
    lr_a: f32,
    lr_b: f32,
    config: &AdamConfig,
    t: u32,
) {
    let (bias1, bias2_sqrt) = config.bias_corrections(t);
    let n = param.len().min(grad.len()).min(m.len()).min(v.len());
    for j in 0..n {
        let g = grad[j];
        let mj = m[j] + (1.0 - config.beta1) * (g - m[j]);
        let vj = config.beta2 * v[j] + (1.0 - config.beta2) * g * g;
        let lr = if j % stride.max(1) < split {
            lr_a
        } else {
            lr_b
        };
        let denom = vj.sqrt() / bias2_sqrt + config.eps;
        param[j] -= (lr / bias1) * (mj / denom);
        m[j] = mj;
        v[j] = vj;
        grad[j] = 0.0;
    }
}
