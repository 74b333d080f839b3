// The 3DGS photometric loss and its gradient w.r.t. the rendered image:
//   loss = l1_weight * mean|x - y| + ssim_weight * (1 - SSIM(x, y))
// with x the rendered RGB (vec4 per pixel, w ignored), y the photo (RGBA8 per u32, r in the low
// byte, /255). SSIM as torchmetrics at data_range 1: 11-tap Gaussian (sigma 1.5, normalised 1-D
// taps from the host), C1 = 0.01^2, C2 = 0.03^2, per channel, variances E[x^2] - mu^2 clamped at
// 0 (no gradient through a clamped one), the image reflect-padded by 5 (torch's "reflect": no
// edge repeat), averaged over the centres at least `margin` pixels from the border and the three
// channels: margin 0 is torchmetrics >= 1.5 (every pixel), 5 the older crop (windows inside).
//
// `forward` (one 256-thread workgroup per 16x16 tile, per channel: reflected halo tile ->
// horizontal 11-tap sums of x', y', x'^2, y'^2, x'y' with x' = x - 0.5, y' = y - 0.5 (the same
// variances, less f32 cancellation) -> vertical sums) writes, per pixel and channel, the SSIM
// map's partials w.r.t. the filtered x', x'^2 and x'y' (times -ssim_weight/count, zero at
// centres not counted), and per tile (sum |x-y|, sum SSIM, sum (x-y)^2) into sums[2+tile].
// `evaluate` is the same with x clamped to [0, 1] first (held-out PSNR/SSIM). `backward` is the
// adjoint: it filters those maps with the same taps (zero outside the image), folds the padding
// back onto the pixels it mirrors (`adjoint_tap`), and forms
// dL/dx = G*d_mu + 2x' G*d_xx + y' G*d_xy + the L1 term.
// `reduce_loss` / `reduce_eval` add the tile sums in one workgroup into sums[0] / sums[1] as
// (total, mean L1, SSIM, MSE); SSIM is 1 where the host found no centre (inv_windows = 0).
// Limits: W*H*16 bytes within one storage binding; reflection needs W, H >= 6 (the host turns
// SSIM off below); f32 throughout (tile sums of 768 values, then a strided f32 sum over the
// tiles: relative error near 1e-6 on the scalars).

#import grid

struct LossParams {
    width: u32,
    height: u32,
    tiles_x: u32,
    num_tiles: u32,
    inv_values: f32,
    inv_windows: f32,
    l1_weight: f32,
    ssim_weight: f32,
    c1: f32,
    c2: f32,
    margin: u32,
    _pad0: u32,
    taps: array<vec4<f32>, 3>,
}

@group(0) @binding(0) var<uniform> params: LossParams;
@group(0) @binding(1) var<storage, read> rendered: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> photo: array<u32>;
@group(0) @binding(3) var<storage, read_write> d_mu: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> d_xx: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> d_xy: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> sums: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read_write> grad: array<vec4<f32>>;

const TILE: u32 = 16u;
const RADIUS: i32 = 5;
const TAPS: u32 = 11u;
const SPAN: u32 = 26u; // TILE + 2 RADIUS
const HALO: u32 = 676u; // SPAN * SPAN
const ROWS: u32 = 416u; // SPAN * TILE: the halo after the horizontal pass
const LOADS: u32 = 3u; // ceil(HALO / 256)
// Moments are taken of x - SHIFT and y - SHIFT: E[x^2] - mu^2 then cancels ~4-20x less in f32.
const SHIFT: f32 = 0.5;

// forward / evaluate
var<workgroup> fx: array<f32, HALO>;
var<workgroup> fy: array<f32, HALO>;
var<workgroup> frows: array<f32, 2080>; // 5 * ROWS, then the tile's reduction
// backward
var<workgroup> ba: array<f32, HALO>;
var<workgroup> bb: array<f32, HALO>;
var<workgroup> bc: array<f32, HALO>;
var<workgroup> brows: array<f32, 1248>; // 3 * ROWS
// reduce
var<workgroup> red: array<vec4<f32>, 256>;

fn tap(k: u32) -> f32 {
    return params.taps[k >> 2u][k & 3u];
}

struct Tile {
    corner: vec2<i32>, // the halo's first pixel: the tile's first minus RADIUS
    pixel: vec2<u32>,
    inside: bool,
}

fn tile_of(lid: u32, grid: FoldedGrid) -> Tile {
    let t = folded_workgroup(grid);
    let origin = vec2<u32>(t % params.tiles_x, t / params.tiles_x) * TILE;
    let pixel = origin + vec2<u32>(lid % TILE, lid / TILE);
    let inside = pixel.x < params.width && pixel.y < params.height;
    return Tile(vec2<i32>(origin) - RADIUS, pixel, inside);
}

// Image index of halo entry `i` (reflected into the image as torch's reflect pad when
// `reflect`), or -1 outside the image.
fn halo_index(tile: Tile, i: u32, reflect: bool) -> i32 {
    let size = vec2<i32>(i32(params.width), i32(params.height));
    var p = tile.corner + vec2<i32>(i32(i % SPAN), i32(i / SPAN));
    if reflect {
        p = abs(p);
        p = select(p, 2 * (size - 1) - p, p >= size);
    }
    if any(p < vec2<i32>(0)) || any(p >= size) {
        return -1;
    }
    return p.y * size.x + p.x;
}

fn window_tap(t: i32) -> f32 {
    return select(tap(u32(t + RADIUS)), 0.0, abs(t) > RADIUS);
}

// Weight of the map at `p` in the adjoint filter at `q` (one axis of n pixels): the window tap
// of q itself and of q's mirror images in the reflect padding, -q and 2(n-1) - q.
fn adjoint_tap(q: i32, p: i32, n: i32) -> f32 {
    var w = window_tap(p - q);
    if q >= 1 && q <= RADIUS {
        w += window_tap(p + q);
    }
    if q >= n - 1 - RADIUS && q <= n - 2 {
        w += window_tap(2 * (n - 1) - q - p);
    }
    return w;
}

fn forward_tile(lid: u32, grid: FoldedGrid, clamp_x: bool) {
    // Workgroups past the last tile leave; tested apart from `tile` so Tint sees it uniform.
    if folded_workgroup(grid) >= params.num_tiles {
        return;
    }
    let tile = tile_of(lid, grid);
    // This thread's halo entries, all channels, read once.
    var hx: array<vec3<f32>, LOADS>;
    var hy: array<vec3<f32>, LOADS>;
    for (var k = 0u; k < LOADS; k++) {
        let g = halo_index(tile, lid + k * 256u, true);
        hx[k] = vec3<f32>(0.0);
        hy[k] = vec3<f32>(0.0);
        if lid + k * 256u < HALO && g >= 0 {
            let x = rendered[g].xyz;
            hx[k] = select(x, clamp(x, vec3<f32>(0.0), vec3<f32>(1.0)), clamp_x) - SHIFT;
            hy[k] = unpack4x8unorm(photo[g]).xyz - SHIFT;
        }
    }
    // SSIM centres: every pixel (reflect) or those `margin` in from the border (crop).
    let counted = tile.inside && params.inv_windows > 0.0
        && all(tile.pixel >= vec2<u32>(params.margin))
        && all(tile.pixel + params.margin < vec2<u32>(params.width, params.height));
    let scale = -params.ssim_weight * params.inv_windows;
    var g_mu = vec3<f32>(0.0);
    var g_xx = vec3<f32>(0.0);
    var g_xy = vec3<f32>(0.0);
    var ssim_sum = 0.0;
    for (var ch = 0u; ch < 3u; ch++) {
        for (var k = 0u; k < LOADS; k++) {
            let i = lid + k * 256u;
            if i < HALO {
                fx[i] = hx[k][ch];
                fy[i] = hy[k][ch];
            }
        }
        workgroupBarrier();
        for (var e = lid; e < ROWS; e += 256u) {
            let base = (e / TILE) * SPAN + e % TILE;
            var m = vec4<f32>(0.0);
            var mxy = 0.0;
            for (var k = 0u; k < TAPS; k++) {
                let w = tap(k);
                let x = fx[base + k];
                let y = fy[base + k];
                m += w * vec4<f32>(x, y, x * x, y * y);
                mxy += w * x * y;
            }
            frows[e] = m.x;
            frows[ROWS + e] = m.y;
            frows[2u * ROWS + e] = m.z;
            frows[3u * ROWS + e] = m.w;
            frows[4u * ROWS + e] = mxy;
        }
        workgroupBarrier();
        // Vertical pass: this thread's column lid % 16, rows lid / 16 .. + 10.
        var m = vec4<f32>(0.0);
        var mxy = 0.0;
        for (var k = 0u; k < TAPS; k++) {
            let w = tap(k);
            let r = lid + k * TILE;
            m += w * vec4<f32>(frows[r], frows[ROWS + r], frows[2u * ROWS + r], frows[3u * ROWS + r]);
            mxy += w * frows[4u * ROWS + r];
        }
        if counted {
            // m holds moments of x - SHIFT, y - SHIFT: variances and covariance are the same.
            let mx = m.x + SHIFT;
            let my = m.y + SHIFT;
            let vx_raw = m.z - m.x * m.x;
            let vy = max(m.w - m.y * m.y, 0.0);
            let cov = mxy - m.x * m.y;
            let a1 = 2.0 * mx * my + params.c1;
            let a2 = 2.0 * cov + params.c2;
            let b1 = mx * mx + my * my + params.c1;
            let b2 = max(vx_raw, 0.0) + vy + params.c2;
            let d = b1 * b2;
            let s = a1 * a2 / d;
            let ds_dvx = select(0.0, -s / b2, vx_raw >= 0.0);
            let ds_dcov = 2.0 * a1 / d;
            // d/d(mean of x - SHIFT), through mx, vx = E[x'^2] - m.x^2 and cov = E[x'y'] - m.x m.y.
            let ds_dmu = 2.0 * my * a2 / d - 2.0 * mx * s / b1 - 2.0 * m.x * ds_dvx - m.y * ds_dcov;
            ssim_sum += s;
            g_mu[ch] = scale * ds_dmu;
            g_xx[ch] = scale * ds_dvx;
            g_xy[ch] = scale * ds_dcov;
        }
    }
    var l1 = 0.0;
    var sq = 0.0;
    if tile.inside {
        let p = tile.pixel.y * params.width + tile.pixel.x;
        d_mu[p] = vec4<f32>(g_mu, 0.0);
        d_xx[p] = vec4<f32>(g_xx, 0.0);
        d_xy[p] = vec4<f32>(g_xy, 0.0);
        let x = rendered[p].xyz;
        let diff = select(x, clamp(x, vec3<f32>(0.0), vec3<f32>(1.0)), clamp_x)
            - unpack4x8unorm(photo[p]).xyz;
        l1 = dot(abs(diff), vec3<f32>(1.0));
        sq = dot(diff, diff);
    }
    workgroupBarrier();
    frows[lid] = l1;
    frows[256u + lid] = ssim_sum;
    frows[512u + lid] = sq;
    for (var stride = 128u; stride > 0u; stride >>= 1u) {
        workgroupBarrier();
        if lid < stride {
            for (var j = 0u; j < 768u; j += 256u) {
                frows[j + lid] += frows[j + lid + stride];
            }
        }
    }
    if lid == 0u {
        sums[2u + folded_workgroup(grid)] = vec4<f32>(frows[0], frows[256], frows[512], 0.0);
    }
}

@compute @workgroup_size(256)
fn forward(@builtin(local_invocation_index) lid: u32, grid: FoldedGrid) {
    forward_tile(lid, grid, false);
}

@compute @workgroup_size(256)
fn evaluate(@builtin(local_invocation_index) lid: u32, grid: FoldedGrid) {
    forward_tile(lid, grid, true);
}

@compute @workgroup_size(256)
fn backward(@builtin(local_invocation_index) lid: u32, grid: FoldedGrid) {
    if folded_workgroup(grid) >= params.num_tiles {
        return;
    }
    let tile = tile_of(lid, grid);
    var ha: array<vec3<f32>, LOADS>;
    var hb: array<vec3<f32>, LOADS>;
    var hc: array<vec3<f32>, LOADS>;
    for (var k = 0u; k < LOADS; k++) {
        let g = halo_index(tile, lid + k * 256u, false);
        ha[k] = vec3<f32>(0.0);
        hb[k] = vec3<f32>(0.0);
        hc[k] = vec3<f32>(0.0);
        if lid + k * 256u < HALO && g >= 0 {
            ha[k] = d_mu[g].xyz;
            hb[k] = d_xx[g].xyz;
            hc[k] = d_xy[g].xyz;
        }
    }
    var x = vec3<f32>(0.0);
    var y = vec3<f32>(0.0);
    let p = tile.pixel.y * params.width + tile.pixel.x;
    if tile.inside {
        x = rendered[p].xyz;
        y = unpack4x8unorm(photo[p]).xyz;
    }
    // d|x - y|/dx is sign(x - y), 0 where equal (as torch's abs).
    var g = params.l1_weight * params.inv_values * sign(x - y);
    x -= SHIFT;
    y -= SHIFT;
    for (var ch = 0u; ch < 3u; ch++) {
        for (var k = 0u; k < LOADS; k++) {
            let i = lid + k * 256u;
            if i < HALO {
                ba[i] = ha[k][ch];
                bb[i] = hb[k][ch];
                bc[i] = hc[k][ch];
            }
        }
        workgroupBarrier();
        for (var e = lid; e < ROWS; e += 256u) {
            let base = (e / TILE) * SPAN + e % TILE;
            let q = tile.corner.x + RADIUS + i32(e % TILE);
            var m = vec3<f32>(0.0);
            for (var k = 0u; k < TAPS; k++) {
                let w = adjoint_tap(q, q - RADIUS + i32(k), i32(params.width));
                m += w * vec3<f32>(ba[base + k], bb[base + k], bc[base + k]);
            }
            brows[e] = m.x;
            brows[ROWS + e] = m.y;
            brows[2u * ROWS + e] = m.z;
        }
        workgroupBarrier();
        let q = i32(tile.pixel.y);
        var m = vec3<f32>(0.0);
        for (var k = 0u; k < TAPS; k++) {
            let r = lid + k * TILE;
            let w = adjoint_tap(q, q - RADIUS + i32(k), i32(params.height));
            m += w * vec3<f32>(brows[r], brows[ROWS + r], brows[2u * ROWS + r]);
        }
        g[ch] += m.x + 2.0 * x[ch] * m.y + y[ch] * m.z;
    }
    if tile.inside {
        grad[p] = vec4<f32>(g, 0.0);
    }
}

// Adds the tile sums sums[2..] and writes (total, mean L1, SSIM, MSE) to sums[slot].
fn reduce_into(lid: u32, slot: u32) {
    var acc = vec4<f32>(0.0);
    for (var t = lid; t < params.num_tiles; t += 256u) {
        acc += sums[2u + t];
    }
    red[lid] = acc;
    for (var stride = 128u; stride > 0u; stride >>= 1u) {
        workgroupBarrier();
        if lid < stride {
            red[lid] += red[lid + stride];
        }
    }
    if lid == 0u {
        let l1 = red[0].x * params.inv_values;
        let ssim = select(red[0].y * params.inv_windows, 1.0, params.inv_windows == 0.0);
        let total = params.l1_weight * l1 + params.ssim_weight * (1.0 - ssim);
        sums[slot] = vec4<f32>(total, l1, ssim, red[0].z * params.inv_values);
    }
}

@compute @workgroup_size(256)
fn reduce_loss(@builtin(local_invocation_index) lid: u32) {
    reduce_into(lid, 0u);
}

@compute @workgroup_size(256)
fn reduce_eval(@builtin(local_invocation_index) lid: u32) {
    reduce_into(lid, 1u);
}
