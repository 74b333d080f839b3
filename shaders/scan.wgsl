// Exclusive prefix sum of u32 values (wrapping addition), in place.
//
// `scan_blocks`: each workgroup of 256 threads scans one block of 1024 elements and writes the
// block's total to `block_sums[block]`. `add_offsets`: adds `block_sums[block]` (already scanned)
// to every element of the block. The host applies both level by level (1024 -> 1M -> 1G elements).
// Limits: n < 2^32; elements past `n` are neither read nor written. No subgroup operations, so it
// runs on any WebGPU device; the Hillis-Steele workgroup scan costs 8 barrier pairs per block.

#import grid

struct ScanParams {
    n: u32,
    num_blocks: u32,
    _pad0: u32,
    _pad1: u32,
}

const WG: u32 = 256u;
const PER_THREAD: u32 = 4u;
const BLOCK: u32 = 1024u;

@group(0) @binding(0) var<uniform> params: ScanParams;
@group(0) @binding(1) var<storage, read_write> data: array<u32>;
@group(0) @binding(2) var<storage, read_write> block_sums: array<u32>;

var<workgroup> tile: array<u32, BLOCK>;
var<workgroup> sums: array<u32, WG>;

@compute @workgroup_size(256)
fn scan_blocks(@builtin(local_invocation_index) lid: u32, grid: FoldedGrid) {
    let block = folded_workgroup(grid);
    if block >= params.num_blocks {
        return;
    }
    let base = block * BLOCK;
    // Coalesced load: thread t reads elements t, t+256, ...
    for (var k = 0u; k < PER_THREAD; k++) {
        let i = k * WG + lid;
        let g = base + i;
        tile[i] = select(0u, data[g], g < params.n);
    }
    workgroupBarrier();

    // Each thread scans 4 consecutive elements sequentially.
    let first = lid * PER_THREAD;
    var local: array<u32, 4>;
    var running = 0u;
    for (var k = 0u; k < PER_THREAD; k++) {
        local[k] = running;
        running += tile[first + k];
    }
    sums[lid] = running;
    workgroupBarrier();

    // Inclusive Hillis-Steele scan of the per-thread totals.
    for (var offset = 1u; offset < WG; offset <<= 1u) {
        var add = 0u;
        if lid >= offset {
            add = sums[lid - offset];
        }
        workgroupBarrier();
        sums[lid] += add;
        workgroupBarrier();
    }
    let thread_prefix = sums[lid] - running;
    for (var k = 0u; k < PER_THREAD; k++) {
        tile[first + k] = thread_prefix + local[k];
    }
    workgroupBarrier();

    for (var k = 0u; k < PER_THREAD; k++) {
        let i = k * WG + lid;
        let g = base + i;
        if g < params.n {
            data[g] = tile[i];
        }
    }
    if lid == WG - 1u {
        block_sums[block] = sums[WG - 1u];
    }
}

@compute @workgroup_size(256)
fn add_offsets(@builtin(local_invocation_index) lid: u32, grid: FoldedGrid) {
    let block = folded_workgroup(grid);
    if block >= params.num_blocks {
        return;
    }
    let offset = block_sums[block];
    let base = block * BLOCK;
    for (var k = 0u; k < PER_THREAD; k++) {
        let g = base + k * WG + lid;
        if g < params.n {
            data[g] += offset;
        }
    }
}
