// Stable least-significant-digit radix sort of u32 keys with u32 values, 4 bits per pass.
//
// One pass = `count` (per-block 16-bin digit histogram, written digit-major so that one exclusive
// scan of the whole table gives every (digit, block) its output offset) -> scan (`scan.wgsl`) ->
// `scatter` (each block re-reads its keys in chunks of 256, ranks them stably within the chunk by
// one workgroup scan of packed 16-bit one-hot digit counters, and writes keys and values to their
// final place; each thread ranks 4 consecutive keys, so one scan covers 1024 keys). Only the bits selected by `shift` and `mask` are compared, so sorting the low N
// bits takes ceil(N / 4) passes. Limits: n < 2^32, blocks of 1024..8192 keys; no subgroups and no
// inter-workgroup forward-progress assumptions (safe on every WebGPU device and on lavapipe).
// The sorted length is min(params.n, len_limit[0]): a plan sized for a capacity sorts however
// many pairs an earlier kernel produced, without the CPU reading that count back.

#import grid

struct SortParams {
    n: u32,
    shift: u32,
    mask: u32,
    num_blocks: u32,
    // Chunks of 1024 keys per workgroup (1..=8): larger blocks mean a smaller digit table to scan.
    chunks_per_block: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

const WG: u32 = 256u;
const KEYS_PER_THREAD: u32 = 4u;
const CHUNK: u32 = 1024u;
const BINS: u32 = 16u;

@group(0) @binding(0) var<uniform> params: SortParams;
@group(0) @binding(1) var<storage, read> keys_in: array<u32>;
@group(0) @binding(2) var<storage, read> values_in: array<u32>;
@group(0) @binding(3) var<storage, read_write> keys_out: array<u32>;
@group(0) @binding(4) var<storage, read_write> values_out: array<u32>;
// counts[digit * num_blocks + block]; after the scan, the output offset of that (digit, block).
@group(0) @binding(5) var<storage, read_write> counts: array<u32>;
@group(0) @binding(6) var<storage, read> len_limit: array<u32>;

fn key_count() -> u32 {
    return min(params.n, len_limit[0]);
}

// Eight copies of the 16-bin histogram (indexed by thread % 8) cut atomic contention when many
// keys share a digit.
const COPIES: u32 = 8u;
var<workgroup> histogram: array<atomic<u32>, 128>;

@compute @workgroup_size(256)
fn count(@builtin(local_invocation_index) lid: u32, grid: FoldedGrid) {
    let block = folded_workgroup(grid);
    if block >= params.num_blocks {
        return;
    }
    if lid < BINS * COPIES {
        atomicStore(&histogram[lid], 0u);
    }
    workgroupBarrier();
    let base = block * params.chunks_per_block * CHUNK;
    let count = params.chunks_per_block * KEYS_PER_THREAD;
    let copy = (lid % COPIES) * BINS;
    let n = key_count();
    for (var k = 0u; k < count; k++) {
        let g = base + k * WG + lid;
        if g < n {
            let digit = (keys_in[g] >> params.shift) & params.mask;
            atomicAdd(&histogram[copy + digit], 1u);
        }
    }
    workgroupBarrier();
    if lid < BINS {
        var total = 0u;
        for (var c = 0u; c < COPIES; c++) {
            total += atomicLoad(&histogram[c * BINS + lid]);
        }
        counts[lid * params.num_blocks + block] = total;
    }
}

// Packed one-hot digit counters: 16 digits x 16 bits = 8 words, held as two vec4s per thread.
// A chunk has 1024 keys, so no field can overflow. After the scan the same memory holds the
// chunk's keys (scan_lo) and values (scan_hi) in digit order, 4 per vec4, so that the global
// writes are coalesced.
var<workgroup> scan_lo: array<vec4<u32>, WG>;
var<workgroup> scan_hi: array<vec4<u32>, WG>;
// Output offset of the next key of each digit from this block.
var<workgroup> digit_base: array<u32, BINS>;
// Each digit's count and first position within the current chunk.
var<workgroup> chunk_count: array<u32, BINS>;
var<workgroup> chunk_start: array<u32, BINS>;

fn packed_field(lo: vec4<u32>, hi: vec4<u32>, digit: u32) -> u32 {
    let word = digit >> 1u;
    let w = select(hi[word & 3u], lo[word & 3u], word < 4u);
    return (w >> ((digit & 1u) * 16u)) & 0xffffu;
}

@compute @workgroup_size(256)
fn scatter(@builtin(local_invocation_index) lid: u32, grid: FoldedGrid) {
    let block = folded_workgroup(grid);
    if block >= params.num_blocks {
        return;
    }
    let block_base = block * params.chunks_per_block * CHUNK;
    let n = key_count();
    if block_base >= n {
        return;
    }
    if lid < BINS {
        digit_base[lid] = counts[lid * params.num_blocks + block];
    }
    for (var chunk = 0u; chunk < params.chunks_per_block; chunk++) {
        let chunk_base = block_base + chunk * CHUNK;
        // Thread t owns keys 4t..4t+3 of the chunk, in order, so ranks stay stable.
        let first = chunk_base + lid * KEYS_PER_THREAD;
        var keys: array<u32, KEYS_PER_THREAD>;
        var vals: array<u32, KEYS_PER_THREAD>;
        var digits: array<u32, KEYS_PER_THREAD>;
        var ranks: array<u32, KEYS_PER_THREAD>;
        var lo = vec4<u32>(0u);
        var hi = vec4<u32>(0u);
        for (var k = 0u; k < KEYS_PER_THREAD; k++) {
            let g = first + k;
            digits[k] = BINS;
            if g < n {
                let key = keys_in[g];
                let digit = (key >> params.shift) & params.mask;
                keys[k] = key;
                vals[k] = values_in[g];
                digits[k] = digit;
                ranks[k] = packed_field(lo, hi, digit);
                let word = digit >> 1u;
                let bit = 1u << ((digit & 1u) * 16u);
                if word < 4u {
                    lo[word] += bit;
                } else {
                    hi[word - 4u] += bit;
                }
            }
        }
        let mine_lo = lo;
        let mine_hi = hi;
        scan_lo[lid] = lo;
        scan_hi[lid] = hi;
        workgroupBarrier();
        // Inclusive Hillis-Steele scan of the packed counters across the workgroup.
        for (var offset = 1u; offset < WG; offset <<= 1u) {
            var add_lo = vec4<u32>(0u);
            var add_hi = vec4<u32>(0u);
            if lid >= offset {
                add_lo = scan_lo[lid - offset];
                add_hi = scan_hi[lid - offset];
            }
            workgroupBarrier();
            lo += add_lo;
            hi += add_hi;
            scan_lo[lid] = lo;
            scan_hi[lid] = hi;
            workgroupBarrier();
        }
        if lid < BINS {
            chunk_count[lid] = packed_field(scan_lo[WG - 1u], scan_hi[WG - 1u], lid);
        }
        workgroupBarrier();
        if lid == 0u {
            var running = 0u;
            for (var d = 0u; d < BINS; d++) {
                chunk_start[d] = running;
                running += chunk_count[d];
            }
        }
        workgroupBarrier();
        // Local counting sort of the chunk by digit, into the scan memory.
        let before_lo = lo - mine_lo;
        let before_hi = hi - mine_hi;
        for (var k = 0u; k < KEYS_PER_THREAD; k++) {
            let digit = digits[k];
            if digit < BINS {
                let pos = chunk_start[digit] + packed_field(before_lo, before_hi, digit) + ranks[k];
                scan_lo[pos >> 2u][pos & 3u] = keys[k];
                scan_hi[pos >> 2u][pos & 3u] = vals[k];
            }
        }
        workgroupBarrier();
        // Coalesced write-out: consecutive threads write consecutive keys of a digit's run.
        let valid = min(CHUNK, n - min(n, chunk_base));
        for (var k = 0u; k < KEYS_PER_THREAD; k++) {
            let pos = k * WG + lid;
            if pos < valid {
                let key = scan_lo[pos >> 2u][pos & 3u];
                let digit = (key >> params.shift) & params.mask;
                let dst = digit_base[digit] + pos - chunk_start[digit];
                keys_out[dst] = key;
                values_out[dst] = scan_hi[pos >> 2u][pos & 3u];
            }
        }
        workgroupBarrier();
        if lid < BINS {
            digit_base[lid] += chunk_count[lid];
        }
        workgroupBarrier();
    }
}
