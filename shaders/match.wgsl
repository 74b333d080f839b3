// Brute-force nearest two neighbours of 128-byte descriptors (SIFT-style, quantized to u8 and
// packed 4 per u32), by exact integer squared L2 distance.
//
// One thread per query descriptor (its 32 words in registers); the workgroup walks the train
// set in tiles of 64 descriptors staged in workgroup memory (8 KiB) with their squared norms,
// and each distance is |q|^2 + |t|^2 - 2 q.t from packed 4x8-bit dot products. Ties keep the lower train
// index, so the result is deterministic and equals the CPU reference exactly. Output per query,
// at `out_offset + query` (a batch of searches shares one output buffer): best train index
// (0xffffffff if the train set is empty), best and second-best squared distances (0xffffffff
// when missing). Limits: up to 2^32-1 descriptors per side and per batch; distances fit u32
// (128 * 255^2 < 2^24). The ratio and mutual checks run on the host over these arrays.

#import grid

struct MatchParams {
    num_query: u32,
    num_train: u32,
    // Where this search's results start in `best` (many searches share one output buffer).
    out_offset: u32,
    _pad1: u32,
}

const WORDS: u32 = 32u;
const TILE: u32 = 64u;
const NONE: u32 = 0xffffffffu;

@group(0) @binding(0) var<uniform> params: MatchParams;
@group(0) @binding(1) var<storage, read> query: array<u32>;
@group(0) @binding(2) var<storage, read> train: array<u32>;
@group(0) @binding(3) var<storage, read_write> best: array<vec4<u32>>;

var<workgroup> tile: array<vec4<u32>, 512>; // TILE descriptors x 8 vec4
var<workgroup> tile_norm: array<u32, 64>; // |t|^2 of each staged descriptor

// Dot product of four packed byte pairs, four at a time: the squared distance is then
// |q|^2 + |t|^2 - 2 q.t (exact in u32: every term is at most 128 * 255^2 < 2^24), one packed
// dot per word instead of unpacking, subtracting and squaring.
fn dot16(a: vec4<u32>, b: vec4<u32>) -> u32 {
    return dot4U8Packed(a.x, b.x) + dot4U8Packed(a.y, b.y) + dot4U8Packed(a.z, b.z)
        + dot4U8Packed(a.w, b.w);
}

fn load4(i: u32) -> vec4<u32> {
    return vec4<u32>(query[i], query[i + 1u], query[i + 2u], query[i + 3u]);
}

@compute @workgroup_size(256)
fn nearest_two(@builtin(local_invocation_index) lid: u32, grid: FoldedGrid) {
    let q = folded_workgroup(grid) * 256u + lid;
    let in_range = q < params.num_query;
    // The query stays in eight named registers: no dynamically indexed private array (Mesa 22.3's lavapipe
    // returned wrong neighbours with one in this loop nest) and nothing for a driver to spill.
    let b = min(q, params.num_query - 1u) * WORDS;
    let m0 = load4(b);
    let m1 = load4(b + 4u);
    let m2 = load4(b + 8u);
    let m3 = load4(b + 12u);
    let m4 = load4(b + 16u);
    let m5 = load4(b + 20u);
    let m6 = load4(b + 24u);
    let m7 = load4(b + 28u);
    let qn = dot16(m0, m0) + dot16(m1, m1) + dot16(m2, m2) + dot16(m3, m3) + dot16(m4, m4)
        + dot16(m5, m5) + dot16(m6, m6) + dot16(m7, m7);
    var d1 = NONE;
    var d2 = NONE;
    var i1 = NONE;
    let tiles = (params.num_train + TILE - 1u) / TILE;
    for (var t = 0u; t < tiles; t++) {
        let base = t * TILE;
        // 256 threads stage 64 descriptors x 8 vec4.
        for (var k = lid; k < TILE * 8u; k += 256u) {
            let d = base + k / 8u;
            let w = d * WORDS + (k % 8u) * 4u;
            let ok = d < params.num_train;
            tile[k] = select(vec4<u32>(0u), vec4<u32>(train[w], train[w + 1u], train[w + 2u], train[w + 3u]), ok);
        }
        workgroupBarrier();
        if lid < TILE {
            let o = lid * 8u;
            var n = 0u;
            for (var k = 0u; k < 8u; k++) {
                n += dot16(tile[o + k], tile[o + k]);
            }
            tile_norm[lid] = n;
        }
        workgroupBarrier();
        if in_range {
            let count = min(TILE, params.num_train - base);
            for (var j = 0u; j < count; j++) {
                let o = j * 8u;
                let dot = dot16(m0, tile[o]) + dot16(m1, tile[o + 1u]) + dot16(m2, tile[o + 2u])
                    + dot16(m3, tile[o + 3u]) + dot16(m4, tile[o + 4u]) + dot16(m5, tile[o + 5u])
                    + dot16(m6, tile[o + 6u]) + dot16(m7, tile[o + 7u]);
                let dist = qn + tile_norm[j] - 2u * dot;
                if dist < d1 {
                    d2 = d1;
                    d1 = dist;
                    i1 = base + j;
                } else if dist < d2 {
                    d2 = dist;
                }
            }
        }
        workgroupBarrier();
    }
    if in_range {
        best[params.out_offset + q] = vec4<u32>(i1, d1, d2, 0u);
    }
}
