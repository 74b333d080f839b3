//! The CPU matcher's kernel for AVX-512 VNNI: 8-bit dot products (`vpdpbusd`, 64 multiply-adds
//! an instruction) and the nearest-two bookkeeping in vector registers, 16 train descriptors a
//! lane each. Exact: the same integer distances as the portable kernel, offered in an order
//! that resolves ties the same way (see [`nearest_two_vnni`]).

use std::arch::x86_64::*;
use std::ops::Range;

use super::{Nearest, NONE};
use crate::features::{Descriptors, DESCRIPTOR_WORDS};

/// Train descriptors per block (i32 lanes of a 512-bit register).
const LANES: usize = 16;
/// Queries whose dot products are formed together (each train load serves all of them).
const QUERY_GROUP: usize = 4;
/// Queries whose running nearest two stay in L1 while the whole train set streams past.
const QUERY_TILE: usize = 32;

/// The train set laid out for `vpdpbusd`, which multiplies unsigned by signed bytes:
/// `blocks[b][k][l]` holds bytes `4k..4k+4` of train descriptor `16b + l`, each minus 128 (a
/// byte `v` as the signed byte `v ^ 0x80`), in one i32 (zero past the end). With `t' = t − 128`,
/// `q·t = q·t' + 128 Σq`, so the distance `‖q‖² + ‖t‖² − 2 q·t` is
/// `(‖q‖² − 256 Σq) + ‖t‖² − 2 q·t'`: a per-query constant, a per-train norm and the product.
pub(super) struct TrainLanes {
    blocks: Vec<[[i32; LANES]; DESCRIPTOR_WORDS]>,
    /// Squared norms, padded with zeros to whole blocks.
    norms: Vec<u32>,
    len: usize,
}

impl TrainLanes {
    pub(super) fn new(train: &Descriptors) -> Self {
        let words = train.words();
        let len = train.len();
        let blocks = words
            .chunks(DESCRIPTOR_WORDS * LANES)
            .map(|chunk| {
                let mut block = [[0i32; LANES]; DESCRIPTOR_WORDS];
                for (lane, d) in chunk.chunks_exact(DESCRIPTOR_WORDS).enumerate() {
                    for (k, &w) in d.iter().enumerate() {
                        block[k][lane] = (w ^ 0x8080_8080) as i32;
                    }
                }
                block
            })
            .collect::<Vec<_>>();
        let mut norms: Vec<u32> = (0..len).map(|i| square_norm(train, i)).collect();
        norms.resize(blocks.len() * LANES, 0);
        Self { blocks, norms, len }
    }
}

/// `‖d_i‖²` of descriptor `i`.
fn square_norm(d: &Descriptors, i: usize) -> u32 {
    d.bytes(i)
        .iter()
        .map(|&v| u32::from(v) * u32::from(v))
        .sum()
}

/// The query side's per-descriptor constants `‖q‖² − 256 Σq` (mod 2³², as the kernel adds them).
pub(super) fn query_constants(query: &Descriptors) -> Vec<u32> {
    (0..query.len())
        .map(|i| {
            let sum: u32 = query.bytes(i).iter().map(|&v| u32::from(v)).sum();
            square_norm(query, i).wrapping_sub(sum.wrapping_mul(256))
        })
        .collect()
}

/// Nearest two in `train` for each query in `queries`, and for each train descriptor its nearest
/// two among these queries — what the portable kernel gives, bit for bit.
///
/// Order, for ties: a query tile's running nearest two are kept per lane, and each lane sees its
/// train descriptors in ascending order (a tie keeps the earlier), then the lanes are reduced
/// taking the lowest index among equal distances; the columns are offered queries in ascending
/// order. Both match offering candidates one by one in ascending index order.
///
/// # Safety
/// The CPU must support AVX-512 F, BW and VNNI; `constants` must come from
/// [`query_constants`] of `query`, and `queries` lie within it.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
pub(super) unsafe fn nearest_two_vnni(
    query: &Descriptors,
    constants: &[u32],
    train: &TrainLanes,
    queries: Range<usize>,
) -> (Vec<Nearest>, Vec<Nearest>) {
    let words = query.words();
    let padded = train.norms.len();
    let (mut col_best, mut col_second) = (vec![u32::MAX; padded], vec![u32::MAX; padded]);
    let mut col_index = vec![NONE; padded];
    let mut rows = Vec::with_capacity(queries.len());
    let lane_ids: [i32; LANES] = std::array::from_fn(|l| l as i32);
    // SAFETY (every unaligned load and store below): each reads or writes 16 i32 = 64 bytes
    // within an array of whole blocks.
    let lane_ids = _mm512_loadu_si512(lane_ids.as_ptr().cast());
    let none = _mm512_set1_epi32(-1);
    for tile in queries.clone().step_by(QUERY_TILE) {
        let n = (queries.end - tile).min(QUERY_TILE);
        let mut row_best = [none; QUERY_TILE];
        let mut row_second = [none; QUERY_TILE];
        let mut row_index = [none; QUERY_TILE];
        for (b, block) in train.blocks.iter().enumerate() {
            let start = b * LANES;
            let valid: __mmask16 = if start + LANES <= train.len {
                0xffff
            } else {
                ((1u32 << (train.len - start)) - 1) as u16
            };
            let norms = _mm512_loadu_si512(train.norms[start..].as_ptr().cast());
            let ids = _mm512_add_epi32(_mm512_set1_epi32(start as i32), lane_ids);
            let mut cb = _mm512_loadu_si512(col_best[start..].as_ptr().cast());
            let mut cs = _mm512_loadu_si512(col_second[start..].as_ptr().cast());
            let mut ci = _mm512_loadu_si512(col_index[start..].as_ptr().cast());
            for g in (0..n).step_by(QUERY_GROUP) {
                let members = (n - g).min(QUERY_GROUP);
                // Missing members of the last group repeat its first query; they offer nothing.
                let q: [&[u32]; QUERY_GROUP] = std::array::from_fn(|m| {
                    let qi = tile + g + m.min(members - 1);
                    &words[qi * DESCRIPTOR_WORDS..(qi + 1) * DESCRIPTOR_WORDS]
                });
                let zero = _mm512_setzero_si512();
                let (mut even, mut odd) = ([zero; QUERY_GROUP], [zero; QUERY_GROUP]);
                for k in (0..DESCRIPTOR_WORDS).step_by(2) {
                    let t0 = _mm512_loadu_si512(block[k].as_ptr().cast());
                    let t1 = _mm512_loadu_si512(block[k + 1].as_ptr().cast());
                    for m in 0..QUERY_GROUP {
                        let p0 = _mm512_set1_epi32(q[m][k] as i32);
                        let p1 = _mm512_set1_epi32(q[m][k + 1] as i32);
                        even[m] = _mm512_dpbusd_epi32(even[m], p0, t0);
                        odd[m] = _mm512_dpbusd_epi32(odd[m], p1, t1);
                    }
                }
                for m in 0..members {
                    let (r, qi) = (g + m, tile + g + m);
                    let dot = _mm512_add_epi32(even[m], odd[m]);
                    let d = _mm512_sub_epi32(
                        _mm512_add_epi32(_mm512_set1_epi32(constants[qi] as i32), norms),
                        _mm512_slli_epi32::<1>(dot),
                    );
                    // Lanes past the end are at distance u32::MAX: never nearer than anything.
                    let d = _mm512_mask_mov_epi32(none, valid, d);
                    let nearer = _mm512_cmplt_epu32_mask(d, row_best[r]);
                    row_second[r] =
                        _mm512_min_epu32(row_second[r], _mm512_max_epu32(row_best[r], d));
                    row_best[r] = _mm512_min_epu32(row_best[r], d);
                    row_index[r] = _mm512_mask_mov_epi32(row_index[r], nearer, ids);
                    let nearer = _mm512_cmplt_epu32_mask(d, cb);
                    cs = _mm512_min_epu32(cs, _mm512_max_epu32(cb, d));
                    cb = _mm512_min_epu32(cb, d);
                    ci = _mm512_mask_mov_epi32(ci, nearer, _mm512_set1_epi32(qi as i32));
                }
            }
            _mm512_storeu_si512(col_best[start..].as_mut_ptr().cast(), cb);
            _mm512_storeu_si512(col_second[start..].as_mut_ptr().cast(), cs);
            _mm512_storeu_si512(col_index[start..].as_mut_ptr().cast(), ci);
        }
        for r in 0..n {
            rows.push(reduce_lanes(row_best[r], row_second[r], row_index[r]));
        }
    }
    let cols = (0..train.len)
        .map(|j| Nearest {
            index: col_index[j],
            best: col_best[j],
            second: col_second[j],
        })
        .collect();
    (rows, cols)
}

/// One nearest two from 16 lanes' own (best, second, index of best): the lowest best, the
/// lowest index among lanes tied at it, and as second the lowest of the other lanes' bests and
/// every lane's second.
#[target_feature(enable = "avx512f")]
fn reduce_lanes(best: __m512i, second: __m512i, index: __m512i) -> Nearest {
    let (mut b, mut s, mut i) = ([0u32; LANES], [0u32; LANES], [0u32; LANES]);
    // SAFETY: each array is 16 u32 = 64 bytes.
    unsafe {
        _mm512_storeu_si512(b.as_mut_ptr().cast(), best);
        _mm512_storeu_si512(s.as_mut_ptr().cast(), second);
        _mm512_storeu_si512(i.as_mut_ptr().cast(), index);
    }
    let lowest = b.iter().copied().min().unwrap_or(u32::MAX);
    let winner = (0..LANES)
        .filter(|&l| b[l] == lowest)
        .min_by_key(|&l| i[l])
        .unwrap_or(0);
    let others = (0..LANES).filter(|&l| l != winner).map(|l| b[l]);
    Nearest {
        index: i[winner],
        best: lowest,
        second: s.iter().copied().chain(others).min().unwrap_or(u32::MAX),
    }
}
