// SIFT keypoint orientations (OpenCV's `calcOrientationHist`), one workgroup of 256 threads per
// keypoint of one octave, equal to `features::sift::orientation_histogram_cpu` and
// `dominant_orientations`.
//
// Window [-R, R]^2 around the rounded position, R = round(4.5 sigma); pixels off the image border
// skipped; each adds |grad| * exp(-|p - (x, y)|^2 / (2 (1.5 sigma)^2)) to bin
// round(36 theta / 2pi) mod 36. The window is walked in chunks of 256 pixels: every thread
// computes one pixel's (bin, value) into workgroup memory, then thread b < 36 adds the values of
// its bin in raster order, so each bin sums in the CPU reference's order (no float atomics).
// Then the circular [1,4,6,4,1]/16 smoothing, and thread 0 finds the peaks >= 0.8 max with
// parabolic interpolation. Output per keypoint `first + k`: `MAX_ORI + 1` words, the count then
// the angles (radians, [0, 2pi)) in bin order. Limits: one Gaussian image per dispatch (the
// host groups keypoints by octave and `frames[].layer`, so a binding never exceeds one image);
// at most MAX_ORI = 18 peaks exist in 36 bins.

#import grid
#import sift_math
#import sift_frame

struct OrientParams {
    width: u32,
    height: u32,
    first: u32,
    count: u32,
    tau: f32,
    bins_per_rad: f32,
    rad_per_bin: f32,
    _pad0: u32,
}

const BINS: u32 = 36u;
const MAX_ORI: u32 = 18u;
const CHUNK: u32 = 256u;

@group(0) @binding(0) var<uniform> params: OrientParams;
@group(0) @binding(1) var<storage, read> frames: array<Frame>;
@group(0) @binding(2) var<storage, read> gaussians: array<f32>;
@group(0) @binding(3) var<storage, read_write> orientations: array<u32>;

var<workgroup> chunk_bin: array<u32, CHUNK>;
var<workgroup> chunk_val: array<f32, CHUNK>;
var<workgroup> raw: array<f32, BINS>;
var<workgroup> smoothed: array<f32, BINS>;
var<workgroup> window_side: u32;

@compute @workgroup_size(256)
fn orient(@builtin(local_invocation_index) lid: u32, grid: FoldedGrid) {
    let k = folded_workgroup(grid);
    if k >= params.count {
        return; // uniform: the whole workgroup leaves
    }
    let f = frames[params.first + k];
    let cx = i32(round_away(f.x));
    let cy = i32(round_away(f.y));
    let radius = i32(round_away(4.5 * f.sigma));
    let ws = 1.5 * f.sigma;
    let exp_scale = -1.0 / (2.0 * ws * ws);
    let w = i32(params.width);
    let h = i32(params.height);
    if lid == 0u {
        window_side = u32(2 * radius + 1);
    }
    let side = workgroupUniformLoad(&window_side);
    let total = side * side;
    var acc = 0.0;
    for (var start = 0u; start < total; start += CHUNK) {
        let p = start + lid;
        var bin = BINS; // none
        var val = 0.0;
        if p < total {
            let px = cx - radius + i32(p % side);
            let py = cy - radius + i32(p / side);
            if px > 0 && px < w - 1 && py > 0 && py < h - 1 {
                let i = u32(py * w + px);
                let dx = gaussians[i + 1u] - gaussians[i - 1u];
                let dy = gaussians[i + params.width] - gaussians[i - params.width];
                let ox = f32(px) - f.x;
                let oy = f32(py) - f.y;
                let weight = exp((ox * ox + oy * oy) * exp_scale);
                let mag = sqrt(dx * dx + dy * dy);
                bin = u32(round_away(angle_0_tau(dy, dx, params.tau) * params.bins_per_rad)) % BINS;
                val = weight * mag;
            }
        }
        chunk_bin[lid] = bin;
        chunk_val[lid] = val;
        workgroupBarrier();
        if lid < BINS {
            for (var j = 0u; j < CHUNK; j++) {
                if chunk_bin[j] == lid {
                    acc += chunk_val[j];
                }
            }
        }
        workgroupBarrier();
    }
    if lid < BINS {
        raw[lid] = acc;
    }
    workgroupBarrier();
    if lid < BINS {
        let a0 = raw[(lid + BINS - 2u) % BINS];
        let a1 = raw[(lid + BINS - 1u) % BINS];
        let a2 = raw[lid];
        let a3 = raw[(lid + 1u) % BINS];
        let a4 = raw[(lid + 2u) % BINS];
        smoothed[lid] = (a0 + a4) * (1.0 / 16.0) + (a1 + a3) * (4.0 / 16.0) + a2 * (6.0 / 16.0);
    }
    workgroupBarrier();
    if lid == 0u {
        var m = 0.0;
        for (var j = 0u; j < BINS; j++) {
            m = max(m, smoothed[j]);
        }
        let threshold = m * 0.8;
        let out = (params.first + k) * (MAX_ORI + 1u);
        var n = 0u;
        for (var j = 0u; j < BINS; j++) {
            let l = smoothed[(j + BINS - 1u) % BINS];
            let c = smoothed[j];
            let r = smoothed[(j + 1u) % BINS];
            if c > l && c > r && c >= threshold && n < MAX_ORI {
                var b = f32(j) + 0.5 * (l - r) / (l - 2.0 * c + r);
                if b < 0.0 {
                    b += f32(BINS);
                } else if b >= f32(BINS) {
                    b -= f32(BINS);
                }
                let angle = b * params.rad_per_bin;
                orientations[out + 1u + n] = bitcast<u32>(select(angle, 0.0, angle >= params.tau));
                n += 1u;
            }
        }
        orientations[out] = n;
    }
}
