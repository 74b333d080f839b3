//! GPU matcher vs. CPU reference (exact: integer distances, deterministic ties), known answers,
//! and pair selection.

use rand::{rngs::SmallRng, Rng, SeedableRng};
use wasm_bindgen_test::wasm_bindgen_test;

use super::*;
use crate::test_support::gpu;

fn random_descriptors(n: usize, seed: u64) -> Descriptors {
    let mut rng = SmallRng::seed_from_u64(seed);
    let raw: Vec<[u8; DESCRIPTOR_BYTES]> = (0..n)
        .map(|_| {
            std::array::from_fn(|_| {
                if rng.random_bool(0.3) {
                    rng.random_range(0..=255)
                } else {
                    0
                }
            })
        })
        .collect();
    Descriptors::from_bytes(&raw)
}

/// `b` = a shuffled, slightly perturbed copy of `a` plus distractors: true matches are known.
fn perturbed_copy(a: &Descriptors, distractors: usize, seed: u64) -> (Descriptors, Vec<u32>) {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut order: Vec<u32> = (0..a.len() as u32).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.random_range(0..=i));
    }
    let mut raw: Vec<[u8; DESCRIPTOR_BYTES]> = order
        .iter()
        .map(|&i| {
            a.bytes(i as usize)
                .map(|v| v.saturating_add(rng.random_range(0..4)))
        })
        .collect();
    raw.extend((0..distractors).map(|k| random_descriptors(1, seed + 1000 + k as u64).bytes(0)));
    // truth[i] = position in b of a's descriptor i
    let mut truth = vec![0u32; a.len()];
    for (pos, &i) in order.iter().enumerate() {
        truth[i as usize] = pos as u32;
    }
    (Descriptors::from_bytes(&raw), truth)
}

#[wasm_bindgen_test(unsupported = tokio::test)]
async fn gpu_nearest_two_equals_the_cpu_reference() {
    let ctx = gpu().await;
    let matcher = Matcher::new(&ctx);
    for (nq, nt, seed) in [
        (1, 1, 1),
        (300, 257, 2),
        (1000, 63, 3),
        (513, 2000, 4),
        (5, 0, 5),
    ] {
        let q = random_descriptors(nq, seed);
        let t = random_descriptors(nt, seed + 100);
        let gpu = matcher.nearest_two(&ctx, &q, &t).await.expect("GPU match");
        let cpu = nearest_two_cpu(&q, &t);
        let bad: Vec<_> = (0..nq)
            .filter(|&i| gpu[i] != cpu[i])
            .take(3)
            .map(|i| (i, gpu[i], cpu[i]))
            .collect();
        assert!(bad.is_empty(), "nq={nq} nt={nt}: {bad:?}");
    }
    // Duplicated train descriptors tie: the lower index wins on both sides.
    let q = random_descriptors(40, 9);
    let mut raw: Vec<[u8; DESCRIPTOR_BYTES]> = (0..40).map(|i| q.bytes(i)).collect();
    raw.extend((0..40).map(|i| q.bytes(i)));
    let t = Descriptors::from_bytes(&raw);
    let gpu = matcher.nearest_two(&ctx, &q, &t).await.expect("GPU match");
    assert_eq!(gpu, nearest_two_cpu(&q, &t));
    assert!(gpu
        .iter()
        .enumerate()
        .all(|(i, n)| n.index == i as u32 && n.best == 0 && n.second == 0));
}

#[wasm_bindgen_test(unsupported = tokio::test)]
async fn batched_pair_matching_equals_the_cpu_reference_pair_by_pair() {
    let ctx = gpu().await;
    // Four images sharing one output buffer per batch, one of them empty; the perturbed copy
    // gives real matches to check besides random ones.
    let a = random_descriptors(300, 31);
    let (b, _) = perturbed_copy(&a, 80, 32);
    let c = random_descriptors(257, 33);
    let empty = random_descriptors(0, 34);
    let sets = [&a, &b, &c, &empty];
    let matcher = PairMatcher::on_gpu(&ctx, &sets).expect("upload");
    // What the pipelines use: the CPU on a software adapter natively, else the GPU.
    let chosen = PairMatcher::new(&ctx, &sets).expect("upload");
    let pairs = [(0u32, 1u32), (1, 2), (0, 2), (2, 3), (3, 0), (1, 0), (0, 9)];
    assert!(matcher
        .match_batch(&ctx, &pairs, &MatchOptions::default())
        .await
        .is_err());
    assert!(chosen
        .match_batch(&ctx, &pairs, &MatchOptions::default())
        .await
        .is_err());
    let pairs = &pairs[..6];
    for mutual in [true, false] {
        let options = MatchOptions {
            mutual,
            ..MatchOptions::default()
        };
        let got = matcher
            .match_batch(&ctx, pairs, &options)
            .await
            .expect("batch");
        assert_eq!(got.len(), pairs.len());
        let chosen_got = chosen
            .match_batch(&ctx, pairs, &options)
            .await
            .expect("batch");
        assert_eq!(chosen_got, got, "mutual {mutual}");
        for (&(i, j), m) in pairs.iter().zip(&got) {
            let want = match_descriptors_cpu(sets[i as usize], sets[j as usize], &options);
            assert_eq!(m, &want, "pair {i}-{j}, mutual {mutual}");
        }
        assert!(got[0].len() >= 250, "only {} true matches", got[0].len());
    }
}

#[wasm_bindgen_test(unsupported = tokio::test)]
async fn perturbed_copies_are_recovered_with_ratio_and_mutual_checks() {
    let ctx = gpu().await;
    let a = random_descriptors(700, 21);
    let (b, truth) = perturbed_copy(&a, 300, 22);
    let options = MatchOptions::default();
    let gpu = match_descriptors(&ctx, &a, &b, &options)
        .await
        .expect("GPU match");
    assert_eq!(gpu, match_descriptors_cpu(&a, &b, &options));
    let correct = gpu
        .iter()
        .filter(|m| truth[m.query as usize] == m.train)
        .count();
    assert!(gpu.len() >= 650, "only {} matches", gpu.len());
    assert_eq!(correct, gpu.len(), "every surviving match is a true one");
}

#[test]
fn ratio_and_mutual_checks_follow_their_definitions() {
    let n = |index, best, second| Nearest {
        index,
        best,
        second,
    };
    let ab = [
        n(0, 10, 100),
        n(1, 90, 100),
        n(0, 5, 200),
        n(u32::MAX, u32::MAX, u32::MAX),
        n(2, 7, u32::MAX),
    ];
    let ba = [n(2, 5, 10), n(1, 90, 95), n(4, 7, 9)];
    let loose = MatchOptions {
        ratio: 0.8,
        mutual: false,
    };
    let got: Vec<(u32, u32)> = filter_matches(&ab, &ba, &loose)
        .iter()
        .map(|m| (m.query, m.train))
        .collect();
    // 10 < 0.64*100 keeps 0; 90 >= 64 drops 1; 5 < 128 keeps 2; no neighbour drops 3; no second drops 4.
    assert_eq!(got, vec![(0, 0), (2, 0)]);
    let mutual = MatchOptions::default();
    let got: Vec<(u32, u32)> = filter_matches(&ab, &ba, &mutual)
        .iter()
        .map(|m| (m.query, m.train))
        .collect();
    // b0's nearest is a2, so only (2, 0) survives the cross check.
    assert_eq!(got, vec![(2, 0)]);
}

#[test]
fn pair_selection_counts_and_guards() {
    assert_eq!(
        select_pairs(4, PairMode::Exhaustive, 100).unwrap(),
        vec![(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
    );
    assert_eq!(
        select_pairs(5, PairMode::Sequential { window: 2 }, 100).unwrap(),
        vec![(0, 1), (0, 2), (1, 2), (1, 3), (2, 3), (2, 4), (3, 4)]
    );
    assert_eq!(select_pairs(0, PairMode::Exhaustive, 10).unwrap(), vec![]);
    assert_eq!(
        select_pairs(1, PairMode::Sequential { window: 3 }, 10).unwrap(),
        vec![]
    );
    assert_eq!(
        select_pairs(2000, PairMode::Exhaustive, 100_000),
        Err(PairError::TooMany {
            images: 2000,
            pairs: 1_999_000,
            limit: 100_000
        })
    );
    assert_eq!(
        select_pairs(2000, PairMode::Sequential { window: 10 }, 100_000)
            .unwrap()
            .len(),
        19_945
    );
    assert_eq!(
        select_pairs(3, PairMode::Sequential { window: 0 }, 10),
        Err(PairError::EmptyWindow)
    );
}

/// A `w × h` test image: a checkerboard of `cell`-pixel squares, optionally box-blurred.
pub(in crate::features) fn checker(w: u32, h: u32, cell: u32, blur: bool) -> Vec<f32> {
    let sharp: Vec<f32> = (0..h)
        .flat_map(|y| {
            (0..w).map(move |x| {
                if (x / cell + y / cell).is_multiple_of(2) {
                    0.9
                } else {
                    0.1
                }
            })
        })
        .collect();
    if !blur {
        return sharp;
    }
    let at = |x: i64, y: i64| {
        sharp[(y.clamp(0, h as i64 - 1) * w as i64 + x.clamp(0, w as i64 - 1)) as usize]
    };
    (0..h as i64)
        .flat_map(|y| {
            (0..w as i64).map(move |x| {
                (-2..=2)
                    .flat_map(|dy| (-2..=2).map(move |dx| at(x + dx, y + dy)))
                    .sum::<f32>()
                    / 25.0
            })
        })
        .collect()
}

#[wasm_bindgen_test(unsupported = tokio::test)]
async fn gpu_sharpness_matches_the_cpu_reference() {
    let ctx = gpu().await;
    let kernel = SharpnessKernel::new(&ctx);
    let mut rng = SmallRng::seed_from_u64(3);
    let noise: Vec<f32> = (0..301 * 207).map(|_| rng.random_range(0.0..1.0)).collect();
    for (img, w, h) in [
        (checker(64, 48, 4, false), 64, 48),
        (checker(64, 48, 4, true), 64, 48),
        (noise, 301, 207),
        (checker(1000, 700, 7, true), 1000, 700),
        (vec![0.5; 3 * 3], 3, 3),
    ] {
        let gpu = kernel
            .variance_of_laplacian(&ctx, &img, w, h)
            .await
            .expect("GPU sharpness");
        let cpu = crate::images::sharpness_cpu(&img, w, h);
        assert!(
            (gpu - cpu).abs() <= 1e-3 * cpu.abs().max(1e-6),
            "{w}x{h}: gpu {gpu} cpu {cpu}"
        );
    }
    let sharp = kernel
        .variance_of_laplacian(&ctx, &checker(128, 128, 4, false), 128, 128)
        .await
        .expect("sharp");
    let blurred = kernel
        .variance_of_laplacian(&ctx, &checker(128, 128, 4, true), 128, 128)
        .await
        .expect("blurred");
    assert!(sharp > 4.0 * blurred, "sharp {sharp} vs blurred {blurred}");
    assert_eq!(
        kernel
            .variance_of_laplacian(&ctx, &[0.1, 0.2], 2, 1)
            .await
            .expect("tiny"),
        0.0
    );
    assert!(kernel
        .variance_of_laplacian(&ctx, &[0.1, 0.2], 3, 3)
        .await
        .is_err());
}

#[wasm_bindgen_test(unsupported = tokio::test)]
async fn capture_signals_track_sharpness_texture_and_overlap() {
    let ctx = gpu().await;
    let analyzer = CaptureAnalyzer::new(&ctx, 1000);
    let (w, h) = (160u32, 120u32);
    // A textured frame, the same frame shifted by 3 px, and a flat frame.
    let mut rng = SmallRng::seed_from_u64(31);
    let blobs: Vec<(f32, f32, f32, f32)> = (0..40)
        .map(|_| {
            (
                rng.random_range(0.0..200.0),
                rng.random_range(0.0..120.0),
                rng.random_range(1.5..5.0),
                rng.random_range(-0.4..0.4),
            )
        })
        .collect();
    let frame = |shift: f32| -> Vec<f32> {
        (0..w * h)
            .map(|i| {
                let (x, y) = ((i % w) as f32 + shift, (i / w) as f32);
                0.5 + blobs
                    .iter()
                    .map(|&(cx, cy, s, a)| {
                        a * (-((x - cx).powi(2) + (y - cy).powi(2)) / (2.0 * s * s)).exp()
                    })
                    .sum::<f32>()
            })
            .collect()
    };
    let first = frame(0.0);
    let a = analyzer
        .analyze(&ctx, &first, w, h, None)
        .await
        .expect("first");
    assert!(a.feature_count >= 20, "{} features", a.feature_count);
    assert_eq!(a.matches_to_previous, None);
    let b = analyzer
        .analyze(&ctx, &frame(3.0), w, h, Some(&a.descriptors))
        .await
        .expect("second");
    let overlap = b.matches_to_previous.expect("matches");
    assert!(
        overlap * 2 >= a.feature_count.min(b.feature_count),
        "{overlap} matches of {}",
        a.feature_count
    );
    let flat = vec![0.5f32; (w * h) as usize];
    let c = analyzer
        .analyze(&ctx, &flat, w, h, Some(&a.descriptors))
        .await
        .expect("flat");
    assert_eq!(c.feature_count, 0);
    assert_eq!(c.matches_to_previous, Some(0));
    assert!(
        c.sharpness < 1e-9 && a.sharpness > 1e-6,
        "{} vs {}",
        c.sharpness,
        a.sharpness
    );
}
