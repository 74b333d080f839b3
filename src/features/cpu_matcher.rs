//! Descriptor matching natively on the CPU, for machines whose only adapter is a software one
//! (lavapipe runs `match.wgsl` some ten times slower than this): the same exact integer
//! nearest-two as the kernel and [`nearest_two_cpu`](super::nearest_two_cpu) — ties to the lower
//! index — so its matches are identical, but both directions come from one pass over the
//! distance matrix, `‖q‖² + ‖t‖² − 2 q·t` with the dot products in 16-bit lanes (SIMD
//! multiply-adds: AVX2, or where the CPU has AVX-512 VNNI, 16 train descriptors a register with
//! `vpdpwssd`), blocked for the cache and split over the cores.

use super::{filter_matches, Descriptors, Match, MatchOptions, Nearest, DESCRIPTOR_BYTES};

const NONE: u32 = u32::MAX;
/// Train descriptors per cache block (64 × 256 B = 16 KiB of widened descriptors).
const TRAIN_BLOCK: usize = 64;
/// Queries per task: enough to amortise a task, few enough to spread 1,000 over the cores.
const QUERIES_PER_TASK: usize = 128;

/// Descriptors widened to i16 (so products of two fit the SIMD multiply-add) with their squared
/// norms.
struct Widened {
    values: Vec<[i16; DESCRIPTOR_BYTES]>,
    norms: Vec<u32>,
}

impl Widened {
    fn new(d: &Descriptors) -> Self {
        let values: Vec<[i16; DESCRIPTOR_BYTES]> =
            (0..d.len()).map(|i| d.bytes(i).map(i16::from)).collect();
        let norms = values.iter().map(|v| dot(v, v) as u32).collect();
        Self { values, norms }
    }
}

/// q·t of two widened descriptors (at most 128 · 255² = 8.3 M: no overflow).
#[inline(always)]
fn dot(q: &[i16; DESCRIPTOR_BYTES], t: &[i16; DESCRIPTOR_BYTES]) -> i32 {
    q.iter()
        .zip(t.iter())
        .map(|(&a, &b)| i32::from(a) * i32::from(b))
        .sum()
}

fn empty() -> Nearest {
    Nearest {
        index: NONE,
        best: NONE,
        second: NONE,
    }
}

/// Adds candidate `index` at squared distance `d`; candidates must come in ascending index
/// order (a tie keeps the earlier one, as the kernel does).
#[inline(always)]
fn offer(n: &mut Nearest, d: u32, index: u32) {
    if d < n.best {
        n.second = n.best;
        n.best = d;
        n.index = index;
    } else if d < n.second {
        n.second = d;
    }
}

/// The nearest two of `a` (candidates of lower indices) and `b` (of higher ones) together.
fn merge(a: Nearest, b: Nearest) -> Nearest {
    let (lo, hi) = if b.best < a.best { (b, a) } else { (a, b) };
    Nearest {
        index: lo.index,
        best: lo.best,
        second: hi.best.min(lo.second).min(hi.second),
    }
}

/// [`block`] compiled for AVX2 (twice the SIMD width of the x86-64 baseline).
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn block_avx2(
    query: &Widened,
    train: &Widened,
    queries: std::ops::Range<usize>,
) -> (Vec<Nearest>, Vec<Nearest>) {
    block(query, train, queries)
}

/// Train descriptors 16 to a block, laid out for [`block_vnni`]: `blocks[b][k][l]` holds
/// dimensions `2k` and `2k+1` of train descriptor `16b + l` as two i16 in one i32 (zero past
/// the end), so one 512-bit multiply-add takes a dimension pair of 16 descriptors at once.
#[cfg(target_arch = "x86_64")]
struct TrainLanes {
    blocks: Vec<[[i32; LANES]; DESCRIPTOR_BYTES / 2]>,
}

/// Train descriptors per [`TrainLanes`] block (i32 lanes of a 512-bit register).
#[cfg(target_arch = "x86_64")]
const LANES: usize = 16;
/// Queries [`block_vnni`] takes together (each train load serves all of them).
#[cfg(target_arch = "x86_64")]
const QUERY_GROUP: usize = 4;

/// Two i16 in one i32 (`lo` in the low half), as `vpdpwssd` reads them.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn pack_pair(lo: i16, hi: i16) -> i32 {
    (lo as u16 as u32 | (hi as u16 as u32) << 16) as i32
}

#[cfg(target_arch = "x86_64")]
impl TrainLanes {
    fn new(train: &Widened) -> Self {
        let blocks = train
            .values
            .chunks(LANES)
            .map(|chunk| {
                let mut block = [[0i32; LANES]; DESCRIPTOR_BYTES / 2];
                for (k, pairs) in block.iter_mut().enumerate() {
                    for (lane, t) in pairs.iter_mut().zip(chunk) {
                        *lane = pack_pair(t[2 * k], t[2 * k + 1]);
                    }
                }
                block
            })
            .collect();
        Self { blocks }
    }
}

/// What [`block`] gives, with AVX-512 VNNI: for each train block and group of
/// [`QUERY_GROUP`] queries, the 16 × 4 dot products accumulate in eight registers (two chains
/// per query, `vpdpwssd` on a broadcast dimension pair), then the distances are offered in the
/// same order as [`block`] offers them (trains ascending per query, queries ascending per
/// train), so ties resolve the same way.
///
/// # Safety
/// The CPU must support AVX-512 F, BW and VNNI.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn block_vnni(
    query: &Widened,
    train: &Widened,
    lanes: &TrainLanes,
    queries: std::ops::Range<usize>,
) -> (Vec<Nearest>, Vec<Nearest>) {
    use std::arch::x86_64::*;
    let n_train = train.values.len();
    let mut rows = vec![empty(); queries.len()];
    let mut cols = vec![empty(); n_train];
    let first = queries.start;
    for (b, block) in lanes.blocks.iter().enumerate() {
        let start = b * LANES;
        let end = (start + LANES).min(n_train);
        for group in queries.clone().step_by(QUERY_GROUP) {
            let members = (queries.end - group).min(QUERY_GROUP);
            // Missing members of the last group repeat its first query; they offer nothing.
            let qs: [&[i16; DESCRIPTOR_BYTES]; QUERY_GROUP] =
                std::array::from_fn(|m| &query.values[group + m.min(members - 1)]);
            let zero = _mm512_setzero_si512();
            let (mut even, mut odd) = ([zero; QUERY_GROUP], [zero; QUERY_GROUP]);
            for k in (0..DESCRIPTOR_BYTES / 2).step_by(2) {
                // SAFETY: each row of the block is 16 i32 = 64 bytes (unaligned loads).
                let t0 = _mm512_loadu_si512(block[k].as_ptr().cast());
                let t1 = _mm512_loadu_si512(block[k + 1].as_ptr().cast());
                for m in 0..QUERY_GROUP {
                    let q = qs[m];
                    let p0 = _mm512_set1_epi32(pack_pair(q[2 * k], q[2 * k + 1]));
                    let p1 = _mm512_set1_epi32(pack_pair(q[2 * k + 2], q[2 * k + 3]));
                    even[m] = _mm512_dpwssd_epi32(even[m], p0, t0);
                    odd[m] = _mm512_dpwssd_epi32(odd[m], p1, t1);
                }
            }
            for m in 0..members {
                let qi = group + m;
                let mut dots = [0i32; LANES];
                // SAFETY: `dots` is 16 i32 = 64 bytes.
                _mm512_storeu_si512(dots.as_mut_ptr().cast(), _mm512_add_epi32(even[m], odd[m]));
                let qn = query.norms[qi];
                let row = &mut rows[qi - first];
                for (tj, &dot) in (start..end).zip(&dots) {
                    let d = qn + train.norms[tj] - 2 * dot as u32;
                    offer(row, d, tj as u32);
                    offer(&mut cols[tj], d, qi as u32);
                }
            }
        }
    }
    (rows, cols)
}

/// Whether this CPU runs [`block_vnni`].
#[cfg(target_arch = "x86_64")]
fn has_vnni() -> bool {
    std::arch::is_x86_feature_detected!("avx512bw")
        && std::arch::is_x86_feature_detected!("avx512vnni")
}

/// [`block`] with the widest SIMD this CPU has (`lanes`: the train set for [`block_vnni`],
/// made where the CPU has it).
fn block_dispatch(
    query: &Widened,
    train: &Widened,
    #[cfg(target_arch = "x86_64")] lanes: Option<&TrainLanes>,
    queries: std::ops::Range<usize>,
) -> (Vec<Nearest>, Vec<Nearest>) {
    #[cfg(target_arch = "x86_64")]
    if let Some(lanes) = lanes.filter(|_| has_vnni()) {
        // SAFETY: AVX-512 F (implied by BW), BW and VNNI were detected on this CPU just above.
        return unsafe { block_vnni(query, train, lanes, queries) };
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 was detected on this CPU just above.
        return unsafe { block_avx2(query, train, queries) };
    }
    block(query, train, queries)
}

/// Nearest two in `train` for each query in `queries` (indices `offset..`), and for each train
/// descriptor its nearest two among these queries.
#[inline(always)]
fn block(
    query: &Widened,
    train: &Widened,
    queries: std::ops::Range<usize>,
) -> (Vec<Nearest>, Vec<Nearest>) {
    let mut rows = vec![empty(); queries.len()];
    let mut cols = vec![empty(); train.values.len()];
    for start in (0..train.values.len()).step_by(TRAIN_BLOCK) {
        let end = (start + TRAIN_BLOCK).min(train.values.len());
        for (row, qi) in rows.iter_mut().zip(queries.clone()) {
            let q = &query.values[qi];
            let qn = query.norms[qi];
            let tile = train.values[start..end]
                .iter()
                .zip(&train.norms[start..end])
                .zip(&mut cols[start..end]);
            for (tj, ((t, &tn), col)) in (start..end).zip(tile) {
                let d = qn + tn - 2 * dot(q, t) as u32;
                offer(row, d, tj as u32);
                offer(col, d, qi as u32);
            }
        }
    }
    (rows, cols)
}

/// Nearest two of every query in `train` and (with `both`) of every train descriptor in
/// `query`: what [`nearest_two_cpu`](super::nearest_two_cpu) gives for `(query, train)` and
/// `(train, query)`.
pub fn nearest_two_both_ways(
    query: &Descriptors,
    train: &Descriptors,
) -> (Vec<Nearest>, Vec<Nearest>) {
    let (q, t) = (Widened::new(query), Widened::new(train));
    #[cfg(target_arch = "x86_64")]
    let lanes = has_vnni().then(|| TrainLanes::new(&t));
    let dispatch = |r| {
        #[cfg(target_arch = "x86_64")]
        return block_dispatch(&q, &t, lanes.as_ref(), r);
        #[cfg(not(target_arch = "x86_64"))]
        block_dispatch(&q, &t, r)
    };
    let n = q.values.len();
    let tasks: Vec<std::ops::Range<usize>> = (0..n)
        .step_by(QUERIES_PER_TASK)
        .map(|s| s..(s + QUERIES_PER_TASK).min(n))
        .collect();
    #[cfg(not(target_arch = "wasm32"))]
    let parts: Vec<(Vec<Nearest>, Vec<Nearest>)> = {
        use rayon::prelude::*;
        tasks.into_par_iter().map(dispatch).collect()
    };
    #[cfg(target_arch = "wasm32")]
    let parts: Vec<(Vec<Nearest>, Vec<Nearest>)> = tasks.into_iter().map(dispatch).collect();
    let mut rows = Vec::with_capacity(n);
    let mut cols = vec![empty(); t.values.len()];
    // Tasks are in ascending query order, so merging in order keeps ties on the lower index.
    for (r, c) in parts {
        rows.extend(r);
        for (acc, next) in cols.iter_mut().zip(c) {
            *acc = merge(*acc, next);
        }
    }
    (rows, cols)
}

/// [`match_descriptors_cpu`](super::match_descriptors_cpu)'s matches, computed fast.
pub fn match_descriptors_native(
    a: &Descriptors,
    b: &Descriptors,
    options: &MatchOptions,
) -> Vec<Match> {
    let (ab, ba) = nearest_two_both_ways(a, b);
    let ba = if options.mutual { ba } else { Vec::new() };
    filter_matches(&ab, &ba, options)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::{match_descriptors_cpu, nearest_two_cpu};
    use rand::{rngs::SmallRng, Rng, SeedableRng};

    /// `n` descriptors with byte values below `range` (a small range makes many ties).
    fn random(rng: &mut impl Rng, n: usize, range: u16) -> Descriptors {
        let bytes: Vec<[u8; DESCRIPTOR_BYTES]> = (0..n)
            .map(|_| std::array::from_fn(|_| rng.random_range(0..range) as u8))
            .collect();
        Descriptors::from_bytes(&bytes)
    }

    #[test]
    fn equals_the_reference_both_ways_with_ties_and_odd_sizes() {
        let mut rng = SmallRng::seed_from_u64(11);
        for (na, nb, range) in [
            (0, 5, 256),
            (5, 0, 256),
            (1, 1, 256),
            (130, 67, 256),
            (300, 257, 2),
            (257, 129, 3),
            (65, 700, 256),
        ] {
            let (a, b) = (random(&mut rng, na, range), random(&mut rng, nb, range));
            let (ab, ba) = nearest_two_both_ways(&a, &b);
            assert_eq!(ab, nearest_two_cpu(&a, &b), "{na}×{nb} a→b");
            assert_eq!(ba, nearest_two_cpu(&b, &a), "{na}×{nb} b→a");
        }
    }

    /// Each SIMD build of the kernel this CPU runs (the dispatch takes only the widest) gives
    /// the reference's nearest two both ways.
    #[test]
    fn every_simd_build_equals_the_reference() {
        let mut rng = SmallRng::seed_from_u64(3);
        let (a, b) = (random(&mut rng, 150, 256), random(&mut rng, 203, 256));
        let (q, t) = (Widened::new(&a), Widened::new(&b));
        let expected = (nearest_two_cpu(&a, &b), nearest_two_cpu(&b, &a));
        assert_eq!(block(&q, &t, 0..150), expected, "portable");
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: AVX2 was detected just above.
                assert_eq!(unsafe { block_avx2(&q, &t, 0..150) }, expected, "AVX2");
            }
            if has_vnni() {
                let lanes = TrainLanes::new(&t);
                for range in [0..150, 0..1, 3..10, 1..149] {
                    // SAFETY: AVX-512 BW (so F) and VNNI were detected just above.
                    let (rows, cols) = unsafe { block_vnni(&q, &t, &lanes, range.clone()) };
                    let (r, c) = block(&q, &t, range.clone());
                    assert_eq!((rows, cols), (r, c), "AVX-512 VNNI, queries {range:?}");
                }
                // SAFETY: as above.
                let both = unsafe { block_vnni(&q, &t, &lanes, 0..150) };
                assert_eq!(both, expected, "AVX-512 VNNI");
            }
        }
    }

    #[test]
    fn matches_equal_the_reference_with_and_without_the_mutual_check() {
        let mut rng = SmallRng::seed_from_u64(5);
        let a = random(&mut rng, 400, 256);
        // b: noisy copies of half of a, plus distractors.
        let mut bytes: Vec<[u8; DESCRIPTOR_BYTES]> = (0..200)
            .map(|i| {
                a.bytes(2 * i)
                    .map(|v| v.saturating_add(rng.random_range(0..8)))
            })
            .collect();
        bytes.extend((0..300).map(|_| std::array::from_fn(|_| rng.random::<u8>())));
        let b = Descriptors::from_bytes(&bytes);
        for mutual in [true, false] {
            let options = MatchOptions {
                mutual,
                ..MatchOptions::default()
            };
            let fast = match_descriptors_native(&a, &b, &options);
            assert_eq!(
                fast,
                match_descriptors_cpu(&a, &b, &options),
                "mutual {mutual}"
            );
            assert!(fast.len() >= 150, "{} matches", fast.len());
        }
    }
}
