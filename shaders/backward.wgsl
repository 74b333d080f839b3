// Backward passes of the splat rasterizer (`project.wgsl` + `rasterize.wgsl`), for training.
//
// `rasterize_backward` (one 16x16 workgroup per tile, one thread per pixel): walks the tile's
// depth-sorted splats back to front from the last one any pixel blended (the forward pass stores
// each pixel's end in `last`), recovering each pixel's transmittance by division from the final
// one (1 - alpha of the forward output), and accumulates per splat dL/d(2D mean, opacity, conic,
// colour) from dL/d(pixel colour) (`v_rgb`, written by the loss). Splats whose alpha hit the 0.99
// clamp pass no gradient to opacity, mean or conic (as gsplat). Accumulation per splat goes
// through `grad_sum3` (`backward_sum_subgroup.wgsl` on devices with subgroups and f32 atomics,
// `backward_sum_cas.wgsl` on the WebGPU baseline). `v_splat` holds 12 floats per splat: mean xy,
// opacity, _, conic (a, b, c) with power = -0.5 (a dx^2 + c dy^2) - b dx dy, _, colour rgb, _.
// It must be cleared before the pass.
//
// `sh_backward` then `project_backward` (one thread per splat, in that order): dL/d colour ->
// SH coefficients and view direction (colour clamped at 0 passes nothing), dL/d opacity ->
// logit, and dL/d(2D mean, conic) -> 3D mean, log scales and the (unnormalised) quaternion
// through the EWA projection (the 1.3x-field-of-view clamp of the Jacobian's tx, ty passes no
// gradient to x, y). They overwrite the gradient buffers for every splat, zero for splats the
// frame culled. Limits: one camera per pass; f32 throughout.

#import grid
#import splat_types

@group(0) @binding(0) var<uniform> params: RenderParams;
@group(0) @binding(1) var<storage, read> means: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> log_scales: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> rotations: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> sh: array<f32>;
@group(0) @binding(5) var<storage, read_write> grad_means: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> grad_log_scales: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read_write> grad_rotations: array<vec4<f32>>;
@group(0) @binding(8) var<storage, read_write> grad_sh: array<f32>;
// binding 9: v_splat, declared by the accumulation snippet prepended to this file.
@group(0) @binding(10) var<storage, read> ranges: array<vec2<u32>>;
@group(0) @binding(11) var<storage, read> tile_splats: array<u32>;
@group(0) @binding(12) var<storage, read> projected: array<Projected>;
@group(0) @binding(13) var<storage, read> rgba: array<vec4<f32>>;
@group(0) @binding(14) var<storage, read> last: array<u32>;
@group(0) @binding(15) var<storage, read> v_rgb: array<vec4<f32>>;

const BATCH: u32 = 256u;
const SPLAT_GRADS: u32 = 12u;
var<workgroup> b_xy_op: array<vec4<f32>, BATCH>;   // xy, opacity, splat index (bits)
var<workgroup> b_conic: array<vec4<f32>, BATCH>;
var<workgroup> b_color: array<vec4<f32>, BATCH>;
var<workgroup> tile_range: vec2<u32>;
var<workgroup> tile_end_atomic: atomic<u32>;
var<workgroup> tile_end: u32;

@compute @workgroup_size(16, 16)
fn rasterize_backward(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) flat: u32,
) {
    let first = first_lane();
    let tile = wid.y * params.tiles.x + wid.x;
    let px = wid.x * TILE + lid.x;
    let py = wid.y * TILE + lid.y;
    let inside = px < params.image_size.x && py < params.image_size.y;
    let pixel = vec2<f32>(f32(px) + 0.5, f32(py) + 0.5);
    if flat == 0u {
        tile_range = ranges[tile];
        atomicStore(&tile_end_atomic, 0u);
    }
    let range = workgroupUniformLoad(&tile_range);

    var end = range.x;
    var t = 1.0;
    var dl = vec3<f32>(0.0);
    if inside {
        let o = py * params.image_size.x + px;
        end = last[o];
        t = 1.0 - rgba[o].w;
        dl = v_rgb[o].xyz;
        atomicMax(&tile_end_atomic, end);
    }
    workgroupBarrier();
    if flat == 0u {
        tile_end = max(atomicLoad(&tile_end_atomic), range.x);
    }
    let stop = workgroupUniformLoad(&tile_end);
    let t_final = t;
    let behind_bg = t_final * params.background.xyz;
    var behind = vec3<f32>(0.0);

    let batches = (stop - range.x + BATCH - 1u) / BATCH;
    for (var b = 0u; b < batches; b++) {
        let hi = stop - b * BATCH;
        let m = min(BATCH, hi - range.x);
        let lo = hi - m;
        workgroupBarrier();
        if flat < m {
            let id = tile_splats[lo + flat];
            let p = projected[id];
            b_xy_op[flat] = vec4<f32>(p.xy, p.opacity, bitcast<f32>(id));
            b_conic[flat] = vec4<f32>(p.conic, 0.0);
            b_color[flat] = p.color;
        }
        workgroupBarrier();
        for (var j = 0u; j < m; j++) {
            let k = m - 1u - j;
            let g = b_xy_op[k];
            let con = b_conic[k].xyz;
            let d = g.xy - pixel;
            let power = -0.5 * (con.x * d.x * d.x + con.z * d.y * d.y) - con.y * d.x * d.y;
            let vis = exp(min(power, 0.0));
            let alpha = min(0.99, g.z * vis);
            let valid = inside && lo + k < end && power <= 0.0 && alpha >= 1.0 / 255.0;
            var v_xy = vec2<f32>(0.0);
            var v_conic = vec3<f32>(0.0);
            var v_color = vec3<f32>(0.0);
            var v_opacity = 0.0;
            if valid {
                t = t / (1.0 - alpha);
                let weight = alpha * t;
                let c = b_color[k].xyz;
                v_color = weight * dl;
                let v_alpha = dot(dl, c * t - (behind + behind_bg) / (1.0 - alpha));
                behind += c * weight;
                if g.z * vis <= 0.99 {
                    v_opacity = vis * v_alpha;
                    let v_power = g.z * vis * v_alpha;
                    v_xy = -v_power * vec2<f32>(con.x * d.x + con.y * d.y, con.z * d.y + con.y * d.x);
                    v_conic = v_power * vec3<f32>(-0.5 * d.x * d.x, -d.x * d.y, -0.5 * d.y * d.y);
                }
            }
            if any_lane(valid) {
                let base = SPLAT_GRADS * bitcast<u32>(g.w);
                grad_sum3(base, vec3<f32>(v_xy, v_opacity), first);
                grad_sum3(base + 4u, v_conic, first);
                grad_sum3(base + 8u, v_color, first);
            }
        }
    }
}

fn load3(slot: u32) -> vec3<f32> {
    return vec3<f32>(grad_load(slot), grad_load(slot + 1u), grad_load(slot + 2u));
}

// Real SH basis up to degree 3 at unit direction `d` and its gradient, in the order and with the
// signs of `eval_sh` in project.wgsl.
struct ShBasis {
    value: array<f32, 16>,
    grad: array<vec3<f32>, 16>,
}

fn sh_basis(d: vec3<f32>) -> ShBasis {
    let x = d.x;
    let y = d.y;
    let z = d.z;
    let xx = x * x;
    let yy = y * y;
    let zz = z * z;
    let c1 = 0.4886025119029199;
    let c2 = vec4<f32>(1.0925484305920792, 0.31539156525252005, 0.5462742152960396, 0.0);
    let c3 = vec4<f32>(0.5900435899266435, 2.890611442640554, 0.4570457994644658, 0.3731763325901154);
    let c35 = 1.445305721320277;
    var b: ShBasis;
    b.value = array<f32, 16>(
        0.28209479177387814, -c1 * y, c1 * z, -c1 * x,
        c2.x * x * y, -c2.x * y * z, c2.y * (2.0 * zz - xx - yy), -c2.x * x * z, c2.z * (xx - yy),
        -c3.x * y * (3.0 * xx - yy), c3.y * x * y * z, -c3.z * y * (4.0 * zz - xx - yy),
        c3.w * z * (2.0 * zz - 3.0 * xx - 3.0 * yy), -c3.z * x * (4.0 * zz - xx - yy),
        c35 * z * (xx - yy), -c3.x * x * (xx - 3.0 * yy),
    );
    b.grad = array<vec3<f32>, 16>(
        vec3<f32>(0.0), vec3<f32>(0.0, -c1, 0.0), vec3<f32>(0.0, 0.0, c1), vec3<f32>(-c1, 0.0, 0.0),
        c2.x * vec3<f32>(y, x, 0.0), -c2.x * vec3<f32>(0.0, z, y), c2.y * vec3<f32>(-2.0 * x, -2.0 * y, 4.0 * z),
        -c2.x * vec3<f32>(z, 0.0, x), c2.z * vec3<f32>(2.0 * x, -2.0 * y, 0.0),
        -c3.x * vec3<f32>(6.0 * x * y, 3.0 * xx - 3.0 * yy, 0.0), c3.y * vec3<f32>(y * z, x * z, x * y),
        -c3.z * vec3<f32>(-2.0 * x * y, 4.0 * zz - xx - 3.0 * yy, 8.0 * y * z),
        c3.w * vec3<f32>(-6.0 * x * z, -6.0 * y * z, 6.0 * zz - 3.0 * xx - 3.0 * yy),
        -c3.z * vec3<f32>(4.0 * zz - 3.0 * xx - yy, -2.0 * x * y, 8.0 * x * z),
        c35 * vec3<f32>(2.0 * x * z, -2.0 * y * z, xx - yy),
        -c3.x * vec3<f32>(3.0 * xx - 3.0 * yy, -6.0 * x * y, 0.0),
    );
    return b;
}

@compute @workgroup_size(256)
fn sh_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = folded_invocation(gid, nwg);
    if i >= params.num_splats {
        return;
    }
    let m = means[i];
    let slot = SPLAT_GRADS * i;
    let v_color = load3(slot + 8u);
    let offset = m.xyz - params.cam_pos.xyz;
    let dist = max(length(offset), 1e-12);
    let dir = offset / dist;
    let basis = sh_basis(dir);
    let deg = params.sh_degree;
    let coeffs = (deg + 1u) * (deg + 1u);
    let base = i * params.sh_floats;
    var raw = vec3<f32>(0.5);
    for (var k = 0u; k < coeffs; k++) {
        let o = base + 3u * k;
        raw += basis.value[k] * vec3<f32>(sh[o], sh[o + 1u], sh[o + 2u]);
    }
    let v_c = select(vec3<f32>(0.0), v_color, raw > vec3<f32>(0.0));
    var v_dir = vec3<f32>(0.0);
    for (var k = 0u; k < params.sh_floats / 3u; k++) {
        let o = base + 3u * k;
        let g = select(vec3<f32>(0.0), basis.value[k] * v_c, k < coeffs);
        grad_sh[o] = g.x;
        grad_sh[o + 1u] = g.y;
        grad_sh[o + 2u] = g.z;
        if k > 0u && k < coeffs {
            v_dir += dot(vec3<f32>(sh[o], sh[o + 1u], sh[o + 2u]), v_c) * basis.grad[k];
        }
    }
    let v_mean = (v_dir - dir * dot(dir, v_dir)) / dist;
    let opacity = 1.0 / (1.0 + exp(-m.w));
    let v_logit = grad_load(slot + 2u) * opacity * (1.0 - opacity);
    grad_means[i] = vec4<f32>(v_mean, v_logit);
}

@compute @workgroup_size(256)
fn project_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = folded_invocation(gid, nwg);
    if i >= params.num_splats {
        return;
    }
    grad_log_scales[i] = vec4<f32>(0.0);
    grad_rotations[i] = vec4<f32>(0.0);
    let m = means[i];
    let view3 = mat3x3<f32>(params.view[0].xyz, params.view[1].xyz, params.view[2].xyz);
    let p = (params.view * vec4<f32>(m.xyz, 1.0)).xyz;
    if p.z <= params.near {
        return;
    }
    let slot = SPLAT_GRADS * i;
    let v_xy = vec2<f32>(grad_load(slot), grad_load(slot + 1u));
    let v_q = load3(slot + 4u);

    // Forward, as project.wgsl.
    let q = rotations[i];
    let q_len = max(length(q), 1e-12);
    let n = q / q_len;
    let rot = unit_quat_to_mat(n);
    let s = exp(log_scales[i].xyz);
    let ms = mat3x3<f32>(rot[0] * s.x, rot[1] * s.y, rot[2] * s.z);
    let cov3 = ms * transpose(ms);
    let fx = params.focal.x;
    let fy = params.focal.y;
    let lim = frustum_limits(params);
    let z = p.z;
    let rx = p.x / z;
    let ry = p.y / z;
    let free_x = rx >= -lim.x && rx <= lim.y;
    let free_y = ry >= -lim.z && ry <= lim.w;
    let tx = z * clamp(rx, -lim.x, lim.y);
    let ty = z * clamp(ry, -lim.z, lim.w);
    let j = projection_jacobian(params.focal, z, tx, ty);
    let t = j * view3;
    let cov2 = t * cov3 * transpose(t);
    let a = cov2[0][0] + 0.3;
    let b = cov2[0][1];
    let c = cov2[1][1] + 0.3;
    let det = a * c - b * b;
    if det <= 0.0 {
        return;
    }

    // conic Q = A^-1: dL/dA = -Q G Q, with G the symmetric matrix gradient of Q.
    let qm = mat2x2<f32>(vec2<f32>(c, -b) / det, vec2<f32>(-b, a) / det);
    let gq = mat2x2<f32>(vec2<f32>(v_q.x, 0.5 * v_q.y), vec2<f32>(0.5 * v_q.y, v_q.z));
    let ga = (qm * gq * qm) * -1.0;
    let g_cov2 = mat3x3<f32>(vec3<f32>(ga[0], 0.0), vec3<f32>(ga[1], 0.0), vec3<f32>(0.0));
    // cov2 = T Sigma T^T.
    let g_cov3 = transpose(t) * g_cov2 * t;
    let g_t = 2.0 * g_cov2 * t * cov3;
    let g_j = g_t * transpose(view3);

    var v_p = vec3<f32>(fx * v_xy.x / z, fy * v_xy.y / z, -(fx * p.x * v_xy.x + fy * p.y * v_xy.y) / (z * z));
    let z2 = z * z;
    let z3 = z2 * z;
    v_p.x += select(0.0, -fx / z2 * g_j[2][0], free_x);
    v_p.y += select(0.0, -fy / z2 * g_j[2][1], free_y);
    v_p.z += -fx / z2 * g_j[0][0] - fy / z2 * g_j[1][1]
        + select(1.0, 2.0, free_x) * fx * tx / z3 * g_j[2][0]
        + select(1.0, 2.0, free_y) * fy * ty / z3 * g_j[2][1];
    let v_mean = transpose(view3) * v_p;

    // Sigma = M M^T, M = R S.
    let g_m = 2.0 * g_cov3 * ms;
    let v_s = vec3<f32>(dot(rot[0], g_m[0]), dot(rot[1], g_m[1]), dot(rot[2], g_m[2]));
    let g_r = mat3x3<f32>(g_m[0] * s.x, g_m[1] * s.y, g_m[2] * s.z);
    // dL/d(unit quaternion) from dL/dR (g_r[col][row]), then through the normalisation.
    let qw = n.x;
    let qx = n.y;
    let qy = n.z;
    let qz = n.w;
    let r01 = g_r[1][0];
    let r02 = g_r[2][0];
    let r10 = g_r[0][1];
    let r12 = g_r[2][1];
    let r20 = g_r[0][2];
    let r21 = g_r[1][2];
    let v_n = vec4<f32>(
        2.0 * (-qz * r01 + qy * r02 + qz * r10 - qx * r12 - qy * r20 + qx * r21),
        2.0 * (qy * r01 + qz * r02 + qy * r10 - qw * r12 + qz * r20 + qw * r21) - 4.0 * qx * (g_r[1][1] + g_r[2][2]),
        2.0 * (qx * r01 + qw * r02 + qx * r10 + qz * r12 - qw * r20 + qz * r21) - 4.0 * qy * (g_r[0][0] + g_r[2][2]),
        2.0 * (-qw * r01 + qx * r02 + qw * r10 + qy * r12 + qx * r20 + qy * r21) - 4.0 * qz * (g_r[0][0] + g_r[1][1]),
    );
    grad_rotations[i] = (v_n - n * dot(n, v_n)) / q_len;
    grad_log_scales[i] = vec4<f32>(v_s * s, 0.0);
    grad_means[i] += vec4<f32>(v_mean, 0.0);
}
