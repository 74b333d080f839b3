// Difference-of-Gaussians extrema: strict 3x3x3 local maxima (D > 0) and minima (D < 0) of
// DoG scale `s` against scales s-1 and s+1, at least `border` pixels from every side, with
// |D| > threshold. One thread per pixel of one (octave, scale); hits are appended through an
// atomic counter as (x, y, octave << 16 | scale, bits of D), so their order is arbitrary (the
// host sorts). Limits: `capacity` hits per dispatch set; the counter still counts past it so
// the host can detect overflow and retry larger.

struct ExtremaParams {
    width: u32,
    height: u32,
    border: u32,
    threshold: f32,
    octave: u32,
    scale: u32,
    capacity: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> params: ExtremaParams;
@group(0) @binding(1) var<storage, read> prev: array<f32>;
@group(0) @binding(2) var<storage, read> cur: array<f32>;
@group(0) @binding(3) var<storage, read> next: array<f32>;
@group(0) @binding(4) var<storage, read_write> hits: array<vec4<u32>>;
@group(0) @binding(5) var<storage, read_write> count: atomic<u32>;

@compute @workgroup_size(16, 16)
fn find_extrema(@builtin(global_invocation_id) gid: vec3<u32>) {
    let b = params.border;
    let w = params.width;
    if gid.x < b || gid.y < b || gid.x >= w - b || gid.y >= params.height - b {
        return;
    }
    let i = gid.y * w + gid.x;
    let v = cur[i];
    if abs(v) <= params.threshold {
        return;
    }
    var is_max = v > 0.0;
    var is_min = v < 0.0;
    for (var dy = -1i; dy <= 1i; dy++) {
        for (var dx = -1i; dx <= 1i; dx++) {
            let j = u32(i32(i) + dy * i32(w) + dx);
            let a = prev[j];
            let c = next[j];
            is_max = is_max && v > a && v > c;
            is_min = is_min && v < a && v < c;
            if dx != 0i || dy != 0i {
                let m = cur[j];
                is_max = is_max && v > m;
                is_min = is_min && v < m;
            }
        }
    }
    if is_max || is_min {
        let slot = atomicAdd(&count, 1u);
        if slot < params.capacity {
            hits[slot] = vec4<u32>(gid.x, gid.y, (params.octave << 16u) | params.scale, bitcast<u32>(v));
        }
    }
}
