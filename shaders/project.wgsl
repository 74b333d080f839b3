// Projection of 3D Gaussians to screen-space splats, with the standard 3DGS semantics.
//
// `project` (one thread per splat): world -> camera (OpenCV axes: x right, y down, z forward),
// near-plane cull (z <= near), 3D covariance R S S^T R^T, EWA projection with the perspective
// Jacobian (x/z, y/z clamped to 1.3x the half field of view as in the reference), +0.3 px low-pass
// on the 2D covariance, conic = inverse covariance, opacity = sigmoid(logit) (culled below 1/255),
// the 16x16-pixel tile rectangle of the axis-aligned box where alpha can reach 1/255 (half-sizes
// ceil(e sqrt(cov_xx)), ceil(e sqrt(cov_yy)), e = min(3, sqrt(2 ln(255 opacity))), as gsplat),
// the visibility radius ceil(3 sqrt(largest eigenvalue)) that densification counts visits by
// (0 when the splat's 3-sigma square misses the image), view-dependent colour from
// spherical harmonics up to degree 3 (+0.5, clamped at 0).
// Writes the splat's depth as a sortable key (culled splats sort last), its tile count, and its
// index. `gather_counts` reorders tile counts into depth order for the scan; `emit` writes one
// (tile id, splat index) pair per covered tile, in depth order, at the scanned offsets; `total`
// writes the intersection count. Limits: up to 2^32-1 splats and intersections; SH in f32.

#import grid

#import splat_types

const CULLED_KEY: u32 = 0xffffffffu;
// The smallest alpha blending uses (rasterize.wgsl skips anything below).
const ALPHA_MIN: f32 = 1.0 / 255.0;

@group(0) @binding(0) var<uniform> params: RenderParams;
@group(0) @binding(1) var<storage, read> means: array<vec4<f32>>;       // xyz, opacity logit
@group(0) @binding(2) var<storage, read> log_scales: array<vec4<f32>>;  // xyz, unused
@group(0) @binding(3) var<storage, read> rotations: array<vec4<f32>>;   // w, x, y, z
@group(0) @binding(4) var<storage, read> sh: array<f32>;
@group(0) @binding(5) var<storage, read_write> projected: array<Projected>;
@group(0) @binding(6) var<storage, read_write> tile_counts: array<u32>;
@group(0) @binding(7) var<storage, read_write> depth_keys: array<u32>;
@group(0) @binding(8) var<storage, read_write> order: array<u32>;

const SH_C0: f32 = 0.28209479177387814;
const SH_C1: f32 = 0.4886025119029199;

fn sh_coeff(base: u32, k: u32) -> vec3<f32> {
    let o = base + 3u * k;
    return vec3<f32>(sh[o], sh[o + 1u], sh[o + 2u]);
}

fn eval_sh(i: u32, dir: vec3<f32>) -> vec3<f32> {
    let deg = params.sh_degree;
    let base = i * params.sh_floats;
    var c = SH_C0 * sh_coeff(base, 0u);
    if deg > 0u {
        let x = dir.x;
        let y = dir.y;
        let z = dir.z;
        c += SH_C1 * (-y * sh_coeff(base, 1u) + z * sh_coeff(base, 2u) - x * sh_coeff(base, 3u));
        if deg > 1u {
            let xx = x * x;
            let yy = y * y;
            let zz = z * z;
            c += 1.0925484305920792 * x * y * sh_coeff(base, 4u)
                - 1.0925484305920792 * y * z * sh_coeff(base, 5u)
                + 0.31539156525252005 * (2.0 * zz - xx - yy) * sh_coeff(base, 6u)
                - 1.0925484305920792 * x * z * sh_coeff(base, 7u)
                + 0.5462742152960396 * (xx - yy) * sh_coeff(base, 8u);
            if deg > 2u {
                c += -0.5900435899266435 * y * (3.0 * xx - yy) * sh_coeff(base, 9u)
                    + 2.890611442640554 * x * y * z * sh_coeff(base, 10u)
                    - 0.4570457994644658 * y * (4.0 * zz - xx - yy) * sh_coeff(base, 11u)
                    + 0.3731763325901154 * z * (2.0 * zz - 3.0 * xx - 3.0 * yy) * sh_coeff(base, 12u)
                    - 0.4570457994644658 * x * (4.0 * zz - xx - yy) * sh_coeff(base, 13u)
                    + 1.445305721320277 * z * (xx - yy) * sh_coeff(base, 14u)
                    - 0.5900435899266435 * x * (xx - 3.0 * yy) * sh_coeff(base, 15u);
            }
        }
    }
    return max(c + 0.5, vec3<f32>(0.0));
}

fn quat_to_mat(q: vec4<f32>) -> mat3x3<f32> {
    return unit_quat_to_mat(q / max(length(q), 1e-12));
}

// Out of the frame: no tiles, sorted last, not visible (radius 0, read by densification).
fn cull(i: u32) {
    tile_counts[i] = 0u;
    depth_keys[i] = CULLED_KEY;
    projected[i].radius = 0.0;
}

// The tiles a splat at `xy` with half-sizes `radius` (pixels) covers: (min x, min y, columns,
// rows), clamped to the image; as the reference's getRect (pixel centres at +0.5 are folded in by
// evaluating the Gaussian at (px + 0.5, py + 0.5)). Zero columns or rows: off screen.
fn tile_rect(xy: vec2<f32>, radius: vec2<f32>) -> vec4<u32> {
    let tiles = vec2<i32>(params.tiles);
    let lo = vec2<i32>(floor((xy - radius) / f32(TILE)));
    let hi = vec2<i32>(floor((xy + radius + f32(TILE) - 1.0) / f32(TILE)));
    let rmin = vec2<u32>(clamp(lo, vec2<i32>(0), tiles));
    let rmax = vec2<u32>(clamp(hi, vec2<i32>(0), tiles));
    let size = select(vec2<u32>(0u), rmax - rmin, rmax > rmin);
    return vec4<u32>(rmin, select(vec2<u32>(0u), size, vec2<bool>(all(rmax > rmin))));
}

@compute @workgroup_size(256)
fn project(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let i = folded_invocation(gid, nwg);
    if i >= params.num_splats {
        return;
    }
    order[i] = i;
    let m = means[i];
    let p_cam = (params.view * vec4<f32>(m.xyz, 1.0)).xyz;
    if p_cam.z <= params.near {
        cull(i);
        return;
    }

    let rot = quat_to_mat(rotations[i]);
    let s = exp(log_scales[i].xyz);
    let ms = mat3x3<f32>(rot[0] * s.x, rot[1] * s.y, rot[2] * s.z);
    let cov3 = ms * transpose(ms);

    let fx = params.focal.x;
    let fy = params.focal.y;
    let lim = frustum_limits(params);
    let z = p_cam.z;
    let tx = z * clamp(p_cam.x / z, -lim.x, lim.y);
    let ty = z * clamp(p_cam.y / z, -lim.z, lim.w);
    let j = projection_jacobian(params.focal, z, tx, ty);
    let view3 = mat3x3<f32>(params.view[0].xyz, params.view[1].xyz, params.view[2].xyz);
    let t = j * view3;
    let cov2 = t * cov3 * transpose(t);
    let a = cov2[0][0] + 0.3;
    let b = cov2[0][1];
    let c = cov2[1][1] + 0.3;
    let det = a * c - b * b;
    if det <= 0.0 {
        cull(i);
        return;
    }
    let conic = vec3<f32>(c / det, -b / det, a / det);
    let xy = vec2<f32>(fx * p_cam.x / z + params.principal.x, fy * p_cam.y / z + params.principal.y);
    // Visibility as 3DGS counts it (for densification statistics): the square of 3 sigma of the
    // larger eigenvalue touches the image.
    let mid = 0.5 * (a + c);
    let lambda = mid + sqrt(max(0.1, mid * mid - det));
    let visible_radius = ceil(3.0 * sqrt(lambda));
    if tile_rect(xy, vec2<f32>(visible_radius)).w == 0u {
        cull(i);
        return;
    }
    // Drawn tiles: opacity-aware bounds. Beyond `extend` standard deviations alpha < 1/255,
    // which blending skips anyway, so the axis-aligned box of that ellipse (at most 3 sigma)
    // holds every pixel the splat can touch.
    let opacity = 1.0 / (1.0 + exp(-m.w));
    let extend = min(3.0, sqrt(2.0 * log(max(opacity, ALPHA_MIN) / ALPHA_MIN)));
    let radius = ceil(extend * sqrt(vec2<f32>(a, c)));
    let rect = tile_rect(xy, radius);
    if opacity < ALPHA_MIN || rect.w == 0u {
        // In view but drawing nothing: no tiles, still visible to the statistics.
        tile_counts[i] = 0u;
        depth_keys[i] = CULLED_KEY;
        projected[i].radius = visible_radius;
        return;
    }
    let rmin = rect.xy;
    let rmax = rect.xy + rect.zw;
    let count = rect.z * rect.w;

    let dir = normalize(m.xyz - params.cam_pos.xyz);
    let color = eval_sh(i, dir);
    projected[i] = Projected(xy, z, opacity, conic, visible_radius, vec4<f32>(color, 0.0), vec4<u32>(rmin, rmax));
    tile_counts[i] = count;
    depth_keys[i] = bitcast<u32>(z);
}

// Second bind group for the depth-ordered stages. Each entry point gets its own derived layout,
// so no pipeline exceeds WebGPU's 8 storage buffers per stage.
@group(1) @binding(0) var<storage, read_write> counts_sorted: array<u32>;   // scanned in place
@group(1) @binding(1) var<storage, read_write> tile_keys: array<u32>;
@group(1) @binding(2) var<storage, read_write> tile_splats: array<u32>;
@group(1) @binding(3) var<storage, read_write> total: array<u32>;

@compute @workgroup_size(256)
fn gather_counts(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let j = folded_invocation(gid, nwg);
    if j >= params.num_splats {
        return;
    }
    counts_sorted[j] = tile_counts[order[j]];
}

@compute @workgroup_size(1)
fn write_total() {
    let n = params.num_splats;
    if n == 0u {
        total[0] = 0u;
        return;
    }
    total[0] = counts_sorted[n - 1u] + tile_counts[order[n - 1u]];
}

@compute @workgroup_size(256)
fn emit(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let j = folded_invocation(gid, nwg);
    if j >= params.num_splats {
        return;
    }
    let i = order[j];
    if tile_counts[i] == 0u {
        return;
    }
    let rect = projected[i].rect;
    var k = counts_sorted[j];
    let capacity = arrayLength(&tile_keys);
    for (var ty = rect.y; ty < rect.w; ty++) {
        for (var tx = rect.x; tx < rect.z; tx++) {
            if k < capacity {
                tile_keys[k] = ty * params.tiles.x + tx;
                tile_splats[k] = i;
            }
            k++;
        }
    }
}
