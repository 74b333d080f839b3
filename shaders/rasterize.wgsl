// Tile rasterization of depth-sorted splats, with the standard 3DGS blending.
//
// `tile_ranges` (one thread per intersection, keys sorted by tile, depth order kept within a
// tile): writes [start, end) of each tile's run. `rasterize` (one 16x16 workgroup per tile, one
// thread per pixel): loads the tile's splats in batches of 256 into workgroup memory and blends
// front to back at the pixel centre (px + 0.5, py + 0.5): alpha = min(0.99, opacity *
// exp(-0.5 d^T conic d)), skipped when the exponent is positive or alpha < 1/255; a pixel stops
// before the splat that would take its transmittance below 1e-4; the workgroup stops when every
// pixel has. Output: colour + T * background with alpha = 1 - T, and expected depth
// (sum of depth * weight / alpha, 0 where alpha is 0), and for the backward pass the end of the
// pixel's run: one past the index (into the tile's intersection list) of its last blended splat.

#import grid
#import splat_types

@group(0) @binding(0) var<uniform> params: RenderParams;
@group(0) @binding(1) var<storage, read> tile_keys: array<u32>;
@group(0) @binding(2) var<storage, read_write> ranges: array<vec2<u32>>;
@group(0) @binding(3) var<storage, read> tile_splats: array<u32>;
@group(0) @binding(4) var<storage, read> projected: array<Projected>;
@group(0) @binding(5) var<storage, read_write> out_rgba: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> out_depth: array<f32>;
@group(0) @binding(7) var<storage, read_write> out_last: array<u32>;
// The frame's intersection count as `project.wgsl` wrote it; `params.num_intersections` is the
// capacity of the lists, so the pass never needs the count on the CPU.
@group(0) @binding(8) var<storage, read> isect_total: array<u32>;

@compute @workgroup_size(256)
fn tile_ranges(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let k = folded_invocation(gid, nwg);
    let n = min(params.num_intersections, isect_total[0]);
    if k >= n {
        return;
    }
    let t = tile_keys[k];
    if k == 0u || tile_keys[k - 1u] != t {
        ranges[t].x = k;
    }
    if k == n - 1u || tile_keys[k + 1u] != t {
        ranges[t].y = k + 1u;
    }
}

const BATCH: u32 = 256u;
var<workgroup> batch_xy_opacity_depth: array<vec4<f32>, BATCH>;
var<workgroup> batch_conic: array<vec4<f32>, BATCH>;
var<workgroup> batch_color: array<vec4<f32>, BATCH>;
var<workgroup> done_count: atomic<u32>;
var<workgroup> all_done: u32;
// The tile's [start, end), read by one thread and shared through `workgroupUniformLoad`: the
// batch loop holds barriers, so its bound must be workgroup-uniform (WGSL's uniformity rules
// treat a read_write storage load as non-uniform; Tint rejects the shader otherwise).
var<workgroup> tile_range: vec2<u32>;

@compute @workgroup_size(16, 16)
fn rasterize(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) flat: u32,
) {
    let tile = wid.y * params.tiles.x + wid.x;
    let px = wid.x * TILE + lid.x;
    let py = wid.y * TILE + lid.y;
    let inside = px < params.image_size.x && py < params.image_size.y;
    let pixel = vec2<f32>(f32(px) + 0.5, f32(py) + 0.5);

    if flat == 0u {
        atomicStore(&done_count, 0u);
        tile_range = ranges[tile];
    }
    let range = workgroupUniformLoad(&tile_range);
    var done = !inside;
    if done {
        atomicAdd(&done_count, 1u);
    }

    var transmittance = 1.0;
    var color = vec3<f32>(0.0);
    var depth = 0.0;
    var last = range.x;
    let count = range.y - range.x;
    let batches = (count + BATCH - 1u) / BATCH;
    for (var b = 0u; b < batches; b++) {
        workgroupBarrier();
        if flat == 0u {
            all_done = u32(atomicLoad(&done_count) == BATCH);
        }
        if workgroupUniformLoad(&all_done) == 1u {
            break;
        }
        let start = range.x + b * BATCH;
        let idx = start + flat;
        if idx < range.y {
            let p = projected[tile_splats[idx]];
            batch_xy_opacity_depth[flat] = vec4<f32>(p.xy, p.opacity, p.depth);
            batch_conic[flat] = vec4<f32>(p.conic, 0.0);
            batch_color[flat] = p.color;
        }
        workgroupBarrier();
        let m = min(BATCH, range.y - start);
        for (var k = 0u; k < m && !done; k++) {
            let g = batch_xy_opacity_depth[k];
            let con = batch_conic[k].xyz;
            let d = g.xy - pixel;
            let power = -0.5 * (con.x * d.x * d.x + con.z * d.y * d.y) - con.y * d.x * d.y;
            if power > 0.0 {
                continue;
            }
            let alpha = min(0.99, g.z * exp(power));
            if alpha < 1.0 / 255.0 {
                continue;
            }
            let next_t = transmittance * (1.0 - alpha);
            if next_t < 1e-4 {
                done = true;
                atomicAdd(&done_count, 1u);
                break;
            }
            let weight = alpha * transmittance;
            last = start + k + 1u;
            color += batch_color[k].xyz * weight;
            depth += g.w * weight;
            transmittance = next_t;
        }
    }
    if inside {
        let o = py * params.image_size.x + px;
        let a = 1.0 - transmittance;
        out_rgba[o] = vec4<f32>(color + transmittance * params.background.xyz, a);
        out_depth[o] = select(0.0, depth / a, a > 0.0);
        out_last[o] = last;
    }
}
