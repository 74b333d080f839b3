// Gaussian scale space for the SIFT-class detector: separable blur, 2x decimation, and
// difference of Gaussians, one thread per output pixel.
//
// `blur_h` / `blur_v`: convolution with `weights[weight_offset .. weight_offset + 2r + 1]`
// (normalised on the host, the same taps as the CPU reference), clamp-to-edge borders, taps
// summed from -r to r. `downsample`: dst(x, y) = src(2x, 2y). `dog`: dst = src2 - src.
// `upsample`: the doubled first octave, dst (width x height = 2 src) from src (src_width x
// src_height) as `upsample_cpu`: output (2i, 2j) is input (i, j), odd columns/rows the mean of
// their two neighbours, odd/odd of four (clamp to edge), summed in the CPU reference's order.
// Limits: images up to the storage binding limit; radius up to the weight buffer.

struct PyramidParams {
    width: u32,
    height: u32,
    src_width: u32,
    src_height: u32,
    radius: u32,
    weight_offset: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: PyramidParams;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@group(0) @binding(3) var<storage, read> weights: array<f32>;
@group(0) @binding(4) var<storage, read> src2: array<f32>;

@compute @workgroup_size(16, 16)
fn blur_h(@builtin(global_invocation_id) gid: vec3<u32>) {
    if gid.x >= params.width || gid.y >= params.height {
        return;
    }
    let r = i32(params.radius);
    let row = gid.y * params.width;
    let last = i32(params.width) - 1;
    var acc = 0.0;
    for (var k = -r; k <= r; k++) {
        let x = clamp(i32(gid.x) + k, 0, last);
        acc += weights[params.weight_offset + u32(k + r)] * src[row + u32(x)];
    }
    dst[row + gid.x] = acc;
}

@compute @workgroup_size(16, 16)
fn blur_v(@builtin(global_invocation_id) gid: vec3<u32>) {
    if gid.x >= params.width || gid.y >= params.height {
        return;
    }
    let r = i32(params.radius);
    let last = i32(params.height) - 1;
    var acc = 0.0;
    for (var k = -r; k <= r; k++) {
        let y = clamp(i32(gid.y) + k, 0, last);
        acc += weights[params.weight_offset + u32(k + r)] * src[u32(y) * params.width + gid.x];
    }
    dst[gid.y * params.width + gid.x] = acc;
}

@compute @workgroup_size(16, 16)
fn downsample(@builtin(global_invocation_id) gid: vec3<u32>) {
    if gid.x >= params.width || gid.y >= params.height {
        return;
    }
    dst[gid.y * params.width + gid.x] = src[(2u * gid.y) * params.src_width + 2u * gid.x];
}

@compute @workgroup_size(16, 16)
fn dog(@builtin(global_invocation_id) gid: vec3<u32>) {
    if gid.x >= params.width || gid.y >= params.height {
        return;
    }
    let i = gid.y * params.width + gid.x;
    dst[i] = src2[i] - src[i];
}

@compute @workgroup_size(16, 16)
fn upsample(@builtin(global_invocation_id) gid: vec3<u32>) {
    if gid.x >= params.width || gid.y >= params.height {
        return;
    }
    let sw = params.src_width;
    let x = gid.x / 2u;
    let y = gid.y / 2u;
    let x1 = min(x + 1u, sw - 1u);
    let y1 = min(y + 1u, params.src_height - 1u);
    let odd_x = (gid.x & 1u) == 1u;
    let odd_y = (gid.y & 1u) == 1u;
    let a = src[y * sw + x];
    var v = a;
    if odd_x && odd_y {
        v = (a + src[y * sw + x1] + src[y1 * sw + x] + src[y1 * sw + x1]) * 0.25;
    } else if odd_x {
        v = (a + src[y * sw + x1]) * 0.5;
    } else if odd_y {
        v = (a + src[y1 * sw + x]) * 0.5;
    }
    dst[gid.y * params.width + gid.x] = v;
}
