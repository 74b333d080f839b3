// 3DGS densification with gsplat 1.5.3 DefaultStrategy semantics, in five entry points:
//
// accumulate (after each backward pass, one camera): for a splat visible in the frame (a non-zero
//   word of `visible`: its tile count, or the bits of project.wgsl's visibility radius), grad2d += |(gx·W/2, gy·H/2)| — its pixel-space mean gradient in normalised device
//   units — and visits += 1.
// classify (refine step): high = grad2d > grad_threshold · max(visits, 1) (gsplat's average
//   gradient test, without the division); small = max log scale <= ln(grow_scale3d·scene_scale).
//   high & small duplicates (2 outputs), high & !small splits (2 children, log scale − ln 1.6),
//   the rest keep (1). The post-growth set is then pruned as gsplat does: an output goes when its
//   opacity logit < logit(prune_opa) or (prune_big) its max log scale > ln(prune_scale3d·scene_
//   scale). Writes each splat's output count (the host scans it into offsets) and its action
//   (count | kind << 2), and adds the duplicated and split counts to counters[0], counters[1].
// scatter_means: each splat's output means; split children are mean + R(q)(exp(s) ⊙ n) with
//   n ~ N(0, I) from Box–Muller over a PCG hash of (seed, splat, k), k = 0..5, with log, sin and
//   cos as short polynomials so every device (and the CPU reference) agrees to ~1e-6.
// scatter_records: the same for any record of `stride` vec4s: COPY (rotations, SH), LOG_SCALE
//   (split children get xyz − ln 1.6), MOMENT (Adam moments: an original keeps its own, new splats
//   get 0).
// reset_opacity: means.w = min(means.w, reset_logit); the Adam moments of means.w become 0.
// Limits: n·stride < 2^32 vec4s and 2n < 2^32. Thresholds come from the host already in the log /
// logit domain, so classification uses only comparisons and one correctly rounded product: the
// CPU reference classifies bit-identically. Outputs keep source order, each splat's outputs
// adjacent (gsplat appends new splats at the end instead; the set is the same).

#import grid

struct DensifyParams {
    n: u32,
    stride: u32,
    mode: u32,
    seed: u32,
    half_size: vec2<f32>,
    grad_threshold: f32,
    log_grow_scale: f32,
    log_prune_scale: f32,
    prune_big: u32,
    prune_logit: f32,
    reset_logit: f32,
    log_split: f32,
    // accumulate: splat i is visible when visible[i * visible_stride + visible_offset] != 0.
    visible_stride: u32,
    visible_offset: u32,
    _pad0: u32,
}

const KEEP: u32 = 0u;
const DUPLICATE: u32 = 1u;
const SPLIT: u32 = 2u;
const MODE_COPY: u32 = 0u;
const MODE_LOG_SCALE: u32 = 1u;
const MODE_MOMENT: u32 = 2u;

// Each entry point binds only what it uses (layouts derived per entry point).
@group(0) @binding(0) var<uniform> params: DensifyParams;
// Screen-space mean gradients: x, y at `params.stride` floats per splat.
@group(0) @binding(1) var<storage, read> grad_xy: array<f32>;
// Visibility of each splat in the frame (non-zero: visible), see `visible_stride`.
@group(0) @binding(2) var<storage, read> visible: array<u32>;
@group(0) @binding(3) var<storage, read_write> grad2d: array<f32>;
@group(0) @binding(4) var<storage, read_write> visits: array<u32>;
@group(0) @binding(5) var<storage, read> means: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read> log_scales: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read_write> offsets: array<u32>; // output counts, then scanned
@group(0) @binding(8) var<storage, read_write> actions: array<u32>;
@group(0) @binding(9) var<storage, read_write> counters: array<atomic<u32>>;
@group(0) @binding(10) var<storage, read> rotations: array<vec4<f32>>;
@group(0) @binding(11) var<storage, read_write> means_out: array<vec4<f32>>;
@group(0) @binding(12) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(13) var<storage, read_write> dst: array<vec4<f32>>;
@group(0) @binding(14) var<storage, read_write> reset_means: array<vec4<f32>>;
@group(0) @binding(15) var<storage, read_write> reset_m: array<vec4<f32>>;
@group(0) @binding(16) var<storage, read_write> reset_v: array<vec4<f32>>;

var<workgroup> grown: array<atomic<u32>, 2>;

fn thread_index(lid: u32, grid: FoldedGrid) -> u32 {
    return folded_workgroup(grid) * 256u + lid;
}

@compute @workgroup_size(256)
fn accumulate(@builtin(local_invocation_index) lid: u32, grid: FoldedGrid) {
    let i = thread_index(lid, grid);
    if i >= params.n || visible[i * params.visible_stride + params.visible_offset] == 0u {
        return;
    }
    let o = i * params.stride;
    grad2d[i] += length(vec2<f32>(grad_xy[o], grad_xy[o + 1u]) * params.half_size);
    visits[i] += 1u;
}

@compute @workgroup_size(256)
fn classify(@builtin(local_invocation_index) lid: u32, grid: FoldedGrid) {
    let i = thread_index(lid, grid);
    if i < params.n {
        let s = log_scales[i].xyz;
        var scale = max(s.x, max(s.y, s.z));
        var kind = KEEP;
        if grad2d[i] > params.grad_threshold * f32(max(visits[i], 1u)) {
            kind = select(SPLIT, DUPLICATE, scale <= params.log_grow_scale);
            atomicAdd(&grown[kind - 1u], 1u);
            if kind == SPLIT {
                scale -= params.log_split;
            }
        }
        let pruned = means[i].w < params.prune_logit
            || (params.prune_big != 0u && scale > params.log_prune_scale);
        let count = select(select(2u, 1u, kind == KEEP), 0u, pruned);
        offsets[i] = count;
        actions[i] = count | (kind << 2u);
    }
    workgroupBarrier();
    if lid < 2u {
        let c = atomicLoad(&grown[lid]);
        if c > 0u {
            atomicAdd(&counters[lid], c);
        }
    }
}

fn pcg(v: u32) -> u32 {
    let state = v * 747796405u + 2891336453u;
    let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    return (word >> 22u) ^ word;
}

// ln(j / 2^24) for j in [1, 2^24] from arithmetic only (WebGPU's log is only bounded to 2^-21
// absolute near 1; SwiftShader's sin/cos were off by 1e-4): j / 2^24 = y · 2^e with y in
// [√½, √2), ln y = 2 atanh(z), z = (y - 1) / (y + 1), by its series to z^9 (error < 1e-9).
fn ln_fraction(j: u32) -> f32 {
    var e = i32(firstLeadingBit(j));
    var y = ldexp(f32(j), -e);
    if y > 1.4142135 {
        y *= 0.5;
        e += 1;
    }
    let z = (y - 1.0) / (y + 1.0);
    let z2 = z * z;
    let ln_y = 2.0 * z * (1.0 + z2 * (0.33333334 + z2 * (0.2 + z2 * (0.14285715 + z2 * 0.11111111))));
    return ln_y + f32(e - 24) * 0.6931472;
}

// (cos θ, sin θ) for θ = 2π k / 2^24 (k below 2^24): the top two bits pick the quadrant, the
// rest an angle in [-π/4, π/4) about the quadrant's middle whose sine and cosine come from
// Taylor polynomials (error < 2e-9).
fn unit_circle(k: u32) -> vec2<f32> {
    let phi = (f32(k & 0x3FFFFFu) * (1.0 / 4194304.0) - 0.5) * 1.5707964;
    let p2 = phi * phi;
    let s = phi * (1.0 - p2 * (0.16666667 - p2 * (0.008333334 - p2 * (0.0001984127 - p2 * 2.7557319e-6))));
    let c = 1.0 - p2 * (0.5 - p2 * (0.041666668 - p2 * (0.0013888889 - p2 * (2.4801588e-5 - p2 * 2.755732e-7))));
    var cs = vec2<f32>(c - s, c + s) * 0.70710677;
    let q = k >> 22u;
    if (q & 1u) == 1u {
        cs = vec2<f32>(-cs.y, cs.x);
    }
    if q >= 2u {
        cs = -cs;
    }
    return cs;
}

// Two standard normals (Box–Muller) from hashes k = 2p and 2p + 1 of splat i.
fn normal_pair(i: u32, p: u32) -> vec2<f32> {
    let base = pcg(pcg(params.seed) + i);
    let r = sqrt(-2.0 * ln_fraction((pcg(base + 2u * p) >> 8u) + 1u));
    return r * unit_circle(pcg(base + 2u * p + 1u) >> 8u);
}

// Rotates v by the quaternion q = (w, x, y, z) after normalising it.
fn rotate(q: vec4<f32>, v: vec3<f32>) -> vec3<f32> {
    let qn = q / max(length(q), 1e-12);
    let u = qn.yzw;
    let t = 2.0 * cross(u, v);
    return v + qn.x * t + cross(u, t);
}

@compute @workgroup_size(256)
fn scatter_means(@builtin(local_invocation_index) lid: u32, grid: FoldedGrid) {
    let i = thread_index(lid, grid);
    if i >= params.n {
        return;
    }
    let action = actions[i];
    let count = action & 3u;
    if count == 0u {
        return;
    }
    let o = offsets[i];
    let m = means[i];
    if (action >> 2u) != SPLIT {
        means_out[o] = m;
        if count == 2u {
            means_out[o + 1u] = m;
        }
        return;
    }
    let q = rotations[i];
    let scale = exp(log_scales[i].xyz);
    let n01 = normal_pair(i, 0u);
    let n23 = normal_pair(i, 1u);
    let n45 = normal_pair(i, 2u);
    means_out[o] = vec4<f32>(m.xyz + rotate(q, scale * vec3<f32>(n01, n23.x)), m.w);
    means_out[o + 1u] = vec4<f32>(m.xyz + rotate(q, scale * vec3<f32>(n23.y, n45)), m.w);
}

@compute @workgroup_size(256)
fn scatter_records(@builtin(local_invocation_index) lid: u32, grid: FoldedGrid) {
    let idx = thread_index(lid, grid);
    if idx >= params.n * params.stride {
        return;
    }
    let i = idx / params.stride;
    let action = actions[i];
    let count = action & 3u;
    if count == 0u {
        return;
    }
    let split = (action >> 2u) == SPLIT;
    var first = src[idx];
    if split && params.mode == MODE_LOG_SCALE {
        first = vec4<f32>(first.xyz - params.log_split, first.w);
    }
    if split && params.mode == MODE_MOMENT {
        first = vec4<f32>(0.0);
    }
    let o = offsets[i] * params.stride + (idx - i * params.stride);
    dst[o] = first;
    if count == 2u {
        dst[o + params.stride] = select(first, vec4<f32>(0.0), params.mode == MODE_MOMENT);
    }
}

@compute @workgroup_size(256)
fn reset_opacity(@builtin(local_invocation_index) lid: u32, grid: FoldedGrid) {
    let i = thread_index(lid, grid);
    if i >= params.n {
        return;
    }
    reset_means[i].w = min(reset_means[i].w, params.reset_logit);
    reset_m[i].w = 0.0;
    reset_v[i].w = 0.0;
}
