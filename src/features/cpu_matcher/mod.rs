//! Descriptor matching natively on the CPU, for machines whose only adapter is a software one
//! (lavapipe runs `match.wgsl` some ten times slower than this): the same exact integer
//! nearest-two as the kernel and [`nearest_two_cpu`](super::nearest_two_cpu) — ties to the lower
//! index — so its matches are identical, but both directions come from one pass over the
//! distance matrix, `‖q‖² + ‖t‖² − 2 q·t`, blocked for the cache and split over the cores. Where
//! the CPU has AVX-512 VNNI, [`vnni`] takes 8-bit products and keeps the nearest two in vector
//! registers; elsewhere the dot products are in 16-bit lanes (AVX2 where the CPU has it).

use super::{filter_matches, Descriptors, Match, MatchOptions, Nearest, DESCRIPTOR_BYTES};

#[cfg(target_arch = "x86_64")]
mod vnni;

const NONE: u32 = u32::MAX;
/// Train descriptors per cache block (64 × 256 B = 16 KiB of widened descriptors).
const TRAIN_BLOCK: usize = 64;
/// Queries per task: enough to amortise a task, few enough to spread 1,000 over the cores.
const QUERIES_PER_TASK: usize = 256;

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

/// Whether this CPU runs [`vnni::nearest_two_vnni`].
#[cfg(target_arch = "x86_64")]
fn has_vnni() -> bool {
    std::arch::is_x86_feature_detected!("avx512bw")
        && std::arch::is_x86_feature_detected!("avx512vnni")
}

/// [`block`] with AVX2 where this CPU has it (those without AVX-512 VNNI).
fn block_dispatch(
    query: &Widened,
    train: &Widened,
    queries: std::ops::Range<usize>,
) -> (Vec<Nearest>, Vec<Nearest>) {
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
    let n = query.len();
    let tasks: Vec<std::ops::Range<usize>> = (0..n)
        .step_by(QUERIES_PER_TASK)
        .map(|s| s..(s + QUERIES_PER_TASK).min(n))
        .collect();
    #[cfg(target_arch = "x86_64")]
    if has_vnni() {
        let (lanes, constants) = (vnni::TrainLanes::new(train), vnni::query_constants(query));
        return gather(train.len(), tasks, |r| {
            // SAFETY: AVX-512 F (implied by BW), BW and VNNI were detected on this CPU; the
            // constants are the query set's and the ranges lie within it.
            unsafe { vnni::nearest_two_vnni(query, &constants, &lanes, r) }
        });
    }
    let (q, t) = (Widened::new(query), Widened::new(train));
    gather(train.len(), tasks, |r| block_dispatch(&q, &t, r))
}

/// Runs `task` on each query range over the cores and joins the parts: rows in order, each
/// train descriptor's nearest two merged across them.
fn gather(
    n_train: usize,
    tasks: Vec<std::ops::Range<usize>>,
    task: impl Fn(std::ops::Range<usize>) -> (Vec<Nearest>, Vec<Nearest>) + Sync + Send,
) -> (Vec<Nearest>, Vec<Nearest>) {
    #[cfg(not(target_arch = "wasm32"))]
    let parts: Vec<(Vec<Nearest>, Vec<Nearest>)> = {
        use rayon::prelude::*;
        tasks.into_par_iter().map(task).collect()
    };
    #[cfg(target_arch = "wasm32")]
    let parts: Vec<(Vec<Nearest>, Vec<Nearest>)> = tasks.into_iter().map(task).collect();
    let mut rows = Vec::with_capacity(parts.iter().map(|p| p.0.len()).sum());
    let mut cols = vec![empty(); n_train];
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
                let constants = vnni::query_constants(&a);
                let lanes = vnni::TrainLanes::new(&b);
                for range in [0..150, 0..1, 3..10, 1..149, 31..97] {
                    // SAFETY: AVX-512 BW (so F) and VNNI were detected just above.
                    let both =
                        unsafe { vnni::nearest_two_vnni(&a, &constants, &lanes, range.clone()) };
                    assert_eq!(
                        both,
                        block(&q, &t, range.clone()),
                        "AVX-512 VNNI, queries {range:?}"
                    );
                }
                // SAFETY: as above.
                let both = unsafe { vnni::nearest_two_vnni(&a, &constants, &lanes, 0..150) };
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
