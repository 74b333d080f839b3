// Adam with torch.optim.Adam's semantics (no weight decay, no AMSGrad), applied in place to one
// parameter buffer from its gradient buffer and Adam's two moment buffers of the same layout.
//
// For every float j of the buffer:
//   m = m + (1 - beta1) (g - m)             (torch's lerp)
//   v = beta2 v + (1 - beta2) g²
//   p = p - (lr / bias1) · m / (sqrt(v) / bias2_sqrt + eps)
//   g = 0                                   (the next backward pass accumulates into it)
// with lr = lr_a where (j % stride) < split, else lr_b: one buffer of per-splat records holds two
// parameter groups (means xyz / opacity logit, DC / higher SH). The host computes
// bias1 = 1 - beta1^t and bias2_sqrt = sqrt(1 - beta2^t) in f64 for the step count t >= 1.
// Limits: count (floats) is a multiple of 4 (one thread per vec4) and below 2^32; stride > 0.
// Splats with a zero gradient still decay their moments and move, as in torch.

#import grid

struct AdamParams {
    count: u32,
    stride: u32,
    split: u32,
    _pad0: u32,
    lr_a: f32,
    lr_b: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    bias1: f32,
    bias2_sqrt: f32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: AdamParams;
@group(0) @binding(1) var<storage, read_write> param: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> grad: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> moment1: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> moment2: array<vec4<f32>>;

@compute @workgroup_size(256)
fn adam(@builtin(local_invocation_index) lid: u32, grid: FoldedGrid) {
    let i = folded_workgroup(grid) * 256u + lid;
    if i >= params.count / 4u {
        return;
    }
    let g = grad[i];
    let m = moment1[i] + (1.0 - params.beta1) * (g - moment1[i]);
    let v = params.beta2 * moment2[i] + (1.0 - params.beta2) * g * g;
    let j = vec4<u32>(4u * i) + vec4<u32>(0u, 1u, 2u, 3u);
    let lr = select(vec4<f32>(params.lr_b), vec4<f32>(params.lr_a), j % params.stride < vec4<u32>(params.split));
    let denom = sqrt(v) / params.bias2_sqrt + params.eps;
    param[i] = param[i] - (lr / params.bias1) * (m / denom);
    moment1[i] = m;
    moment2[i] = v;
    grad[i] = vec4<f32>(0.0);
}
