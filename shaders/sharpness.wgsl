// Sharpness of a grayscale image: partial sums for the variance of the 3x3 Laplacian
// [0 1 0; 1 -4 1; 0 1 0] over interior pixels (the border row/column has no full stencil).
//
// One thread per interior pixel; each 256-thread workgroup reduces its Laplacian values to
// (sum, sum of squares) in workgroup memory and writes one vec2 partial. The host adds the
// partials in f64 and forms E[L^2] - E[L]^2. Limits: width, height >= 3; f32 partial sums of
// 256 values each, so the relative error stays near 1e-6 per workgroup.

#import grid

struct SharpnessParams {
    width: u32,
    height: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: SharpnessParams;
@group(0) @binding(1) var<storage, read> gray: array<f32>;
@group(0) @binding(2) var<storage, read_write> partials: array<vec2<f32>>;

var<workgroup> sums: array<vec2<f32>, 256>;

@compute @workgroup_size(256)
fn laplacian_moments(@builtin(local_invocation_index) lid: u32, grid: FoldedGrid) {
    let group = folded_workgroup(grid);
    let iw = params.width - 2u;
    let ih = params.height - 2u;
    let i = group * 256u + lid;
    var v = vec2<f32>(0.0);
    if i < iw * ih {
        let x = i % iw + 1u;
        let y = i / iw + 1u;
        let c = y * params.width + x;
        let l = gray[c - 1u] + gray[c + 1u] + gray[c - params.width] + gray[c + params.width]
            - 4.0 * gray[c];
        v = vec2<f32>(l, l * l);
    }
    sums[lid] = v;
    workgroupBarrier();
    for (var stride = 128u; stride > 0u; stride >>= 1u) {
        if lid < stride {
            sums[lid] += sums[lid + stride];
        }
        workgroupBarrier();
    }
    if lid == 0u {
        partials[group] = sums[0];
    }
}
