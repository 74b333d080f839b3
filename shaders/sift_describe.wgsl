// SIFT descriptors (OpenCV's `calcSIFTDescriptor`), one workgroup of 256 threads per keypoint of
// one octave, equal to `features::sift::describe_cpu` and `Descriptors::quantize`.
//
// Window: radius round(3 sigma * sqrt(2) * 5 / 2) (capped at the image diagonal) around the
// rounded position, pixels off the image border skipped. A pixel at offset (dx, dy) has rotated
// bin coordinates u = (dx cos a + dy sin a) / 3 sigma, v = (-dx sin a + dy cos a) / 3 sigma and
// counts when u + 1.5, v + 1.5 are in (-1, 4), with weight |grad| * exp(-(u^2 + v^2) / 8),
// spread trilinearly over the 6 x 6 x 10 guarded (row, column, orientation) histogram. The
// window is walked in chunks of 256 pixels: every thread computes one pixel's bins, fractions and
// magnitude into workgroup memory, then thread c < 36 adds the contributions to the 10 bins of
// guarded cell c, in raster order, so every bin sums in the CPU reference's order (no float
// atomics). Then the orientation wrap, L2 normalise, clamp at `mag_thr`, L2 normalise
// (sums by one thread, in order), optionally RootSIFT, and min(255, round(512 v)) packed 4 per
// u32. Output per keypoint `first + k`: 128 floats and 32 words.
// Limits: one Gaussian image per dispatch (the host groups keypoints by octave and
// `frames[].layer`, so a binding never exceeds one image).

#import grid
#import sift_math
#import sift_frame

struct DescribeParams {
    width: u32,
    height: u32,
    first: u32,
    count: u32,
    tau: f32,
    bins_per_rad: f32,
    sqrt2: f32,
    mag_thr: f32,
    epsilon: f32,
    root_sift: u32,
    _pad0: u32,
    _pad1: u32,
}

const CHUNK: u32 = 256u;
const HIST: u32 = 360u; // (4 + 2) x (4 + 2) x (8 + 2)
const NONE: u32 = 0xffffffffu;

@group(0) @binding(0) var<uniform> params: DescribeParams;
@group(0) @binding(1) var<storage, read> frames: array<Frame>;
@group(0) @binding(2) var<storage, read> gaussians: array<f32>;
@group(0) @binding(3) var<storage, read_write> floats: array<f32>;
@group(0) @binding(4) var<storage, read_write> words: array<u32>;

var<workgroup> pix_bins: array<u32, CHUNK>; // r0 | c0 << 8 | o0 << 16 (guarded), or NONE
var<workgroup> pix_frac: array<vec4<f32>, CHUNK>; // fr, fc, fo, magnitude
var<workgroup> hist: array<f32, HIST>;
var<workgroup> desc: array<f32, 128>;
var<workgroup> window_side: u32;
var<workgroup> norm: f32;

@compute @workgroup_size(256)
fn describe(@builtin(local_invocation_index) lid: u32, grid: FoldedGrid) {
    let k = folded_workgroup(grid);
    if k >= params.count {
        return; // uniform: the whole workgroup leaves
    }
    let slot = params.first + k;
    let f = frames[slot];
    let w = i32(params.width);
    let h = i32(params.height);
    let bin_width = 3.0 * f.sigma;
    let radius_f = round_away(bin_width * params.sqrt2 * 5.0 * 0.5);
    let radius = i32(min(radius_f, sqrt(f32(w) * f32(w) + f32(h) * f32(h))));
    let cos_t = cos(f.angle) / bin_width;
    let sin_t = sin(f.angle) / bin_width;
    let exp_scale = -1.0 / (4.0 * 4.0 * 0.5);
    let cx = i32(round_away(f.x));
    let cy = i32(round_away(f.y));
    if lid == 0u {
        window_side = u32(2 * radius + 1);
    }
    let side = workgroupUniformLoad(&window_side);
    let total = side * side;
    hist[lid] = 0.0;
    if lid + CHUNK < HIST {
        hist[lid + CHUNK] = 0.0;
    }
    for (var start = 0u; start < total; start += CHUNK) {
        let p = start + lid;
        var packed = NONE;
        var frac = vec4<f32>(0.0);
        if p < total {
            let px = cx - radius + i32(p % side);
            let py = cy - radius + i32(p / side);
            if px > 0 && px < w - 1 && py > 0 && py < h - 1 {
                let ox = f32(px) - f.x;
                let oy = f32(py) - f.y;
                let c_rot = ox * cos_t + oy * sin_t;
                let r_rot = -ox * sin_t + oy * cos_t;
                let rbin = r_rot + 2.0 - 0.5;
                let cbin = c_rot + 2.0 - 0.5;
                if rbin > -1.0 && rbin < 4.0 && cbin > -1.0 && cbin < 4.0 {
                    let i = u32(py * w + px);
                    let dx = gaussians[i + 1u] - gaussians[i - 1u];
                    let dy = gaussians[i + params.width] - gaussians[i - params.width];
                    let mag = sqrt(dx * dx + dy * dy) * exp((c_rot * c_rot + r_rot * r_rot) * exp_scale);
                    // (a - theta) rem_euclid 2pi, both in [0, 2pi): exact as the CPU's fmod.
                    let d = f.angle - angle_0_tau(dy, dx, params.tau);
                    let rel = select(d, d + params.tau, d < 0.0);
                    let obin = rel * params.bins_per_rad;
                    let r0 = floor(rbin);
                    let c0 = floor(cbin);
                    let o0 = floor(obin);
                    frac = vec4<f32>(rbin - r0, cbin - c0, obin - o0, mag);
                    let oi = u32(i32(o0)) % 8u;
                    packed = u32(i32(r0) + 1) | (u32(i32(c0) + 1) << 8u) | (oi << 16u);
                }
            }
        }
        pix_bins[lid] = packed;
        pix_frac[lid] = frac;
        workgroupBarrier();
        // Thread c < 36 owns guarded cell c (row c / 6, column c % 6) and its 10 orientation
        // bins, so each bin gets its contributions in raster order.
        if lid < 36u {
            let cell = vec2<u32>(lid / 6u, lid % 6u);
            for (var j = 0u; j < CHUNK; j++) {
                let p = pix_bins[j];
                let dr = cell.x - (p & 0xffu);
                let dc = cell.y - ((p >> 8u) & 0xffu);
                if p == NONE || dr > 1u || dc > 1u {
                    continue; // dr, dc > 1 also catch the wrapped negatives
                }
                let q = pix_frac[j];
                let wr = select(1.0 - q.x, q.x, dr == 1u);
                let wc = select(1.0 - q.y, q.y, dc == 1u);
                let m = q.w * wr * wc;
                let at = lid * 10u + (p >> 16u);
                hist[at] += m * (1.0 - q.z);
                hist[at + 1u] += m * q.z;
            }
        }
        workgroupBarrier();
    }
    if lid < 128u {
        let i = lid / 32u;
        let j = (lid / 8u) % 4u;
        let o = lid % 8u;
        let idx = ((i + 1u) * 6u + j + 1u) * 10u + o;
        var v = hist[idx];
        if o < 2u {
            v += hist[idx + 8u];
        }
        desc[lid] = v;
    }
    workgroupBarrier();
    // L2 normalise, clamp, L2 normalise; the sums by one thread in index order.
    if lid == 0u {
        var s = 0.0;
        for (var j = 0u; j < 128u; j++) {
            s += desc[j] * desc[j];
        }
        norm = sqrt(s) * params.mag_thr;
    }
    workgroupBarrier();
    if lid < 128u {
        desc[lid] = min(desc[lid], norm);
    }
    workgroupBarrier();
    if lid == 0u {
        var s = 0.0;
        for (var j = 0u; j < 128u; j++) {
            s += desc[j] * desc[j];
        }
        norm = max(sqrt(s), params.epsilon);
    }
    workgroupBarrier();
    if lid < 128u {
        desc[lid] = desc[lid] / norm;
    }
    workgroupBarrier();
    if params.root_sift != 0u {
        if lid == 0u {
            var s = 0.0;
            for (var j = 0u; j < 128u; j++) {
                s += desc[j];
            }
            norm = max(s, params.epsilon);
        }
        workgroupBarrier();
        if lid < 128u {
            desc[lid] = sqrt(desc[lid] / norm);
        }
        workgroupBarrier();
    }
    if lid < 128u {
        floats[slot * 128u + lid] = desc[lid];
    }
    if lid < 32u {
        var word = 0u;
        for (var b = 0u; b < 4u; b++) {
            let q = clamp(round_away(desc[lid * 4u + b] * 512.0), 0.0, 255.0);
            word |= u32(q) << (8u * b);
        }
        words[slot * 32u + lid] = word;
    }
}
