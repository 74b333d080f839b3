//! GPU radix sort vs. CPU reference (stable std sort). Exact equality of keys and values, so
//! stability is checked too (values are the original indices).

use wasm_bindgen_test::wasm_bindgen_test;

use super::{sort_pairs, sort_pairs_cpu, sort_pairs_with_blocks};
use crate::test_support::{gpu, values, PATTERNS, SIZES};

async fn check(ctx: &crate::gpu::GpuContext, keys: &[u32], bits: u32, what: &str) {
    let idx: Vec<u32> = (0..keys.len() as u32).collect();
    let (gk, gv) = sort_pairs(ctx, keys, &idx, bits).await.expect("GPU sort");
    let (ck, cv) = sort_pairs_cpu(keys, &idx, bits);
    assert_eq!(gk.len(), keys.len(), "{what}");
    if let Some(i) = (0..keys.len()).find(|&i| gk[i] != ck[i] || gv[i] != cv[i]) {
        panic!(
            "{what}: first mismatch at {i}: gpu ({}, {}) cpu ({}, {})",
            gk[i], gv[i], ck[i], cv[i]
        );
    }
}

#[wasm_bindgen_test(unsupported = tokio::test)]
async fn sort_matches_cpu_reference_for_all_sizes_and_patterns() {
    let ctx = gpu().await;
    for &n in SIZES {
        for pattern in PATTERNS {
            let keys = values(pattern, n, 7 + n as u64, u32::MAX);
            check(&ctx, &keys, 32, &format!("n={n} {pattern:?} 32 bits")).await;
        }
    }
}

#[wasm_bindgen_test(unsupported = tokio::test)]
async fn sort_on_low_bits_ignores_high_bits_and_stays_stable() {
    let ctx = gpu().await;
    // Odd bit counts exercise the partial last digit; high bits must not affect the order.
    for bits in [1, 4, 13, 16, 24, 30] {
        for n in [257usize, 100_003] {
            let keys = values(
                crate::test_support::Pattern::Random,
                n,
                bits as u64,
                u32::MAX,
            );
            check(&ctx, &keys, bits, &format!("n={n} low {bits} bits")).await;
        }
    }
}

#[wasm_bindgen_test(unsupported = tokio::test)]
async fn sort_of_few_pairs_matches_known_answer() {
    let ctx = gpu().await;
    let (k, v) = sort_pairs(&ctx, &[5, 3, 5, 1, 3], &[0, 1, 2, 3, 4], 32)
        .await
        .expect("GPU sort");
    assert_eq!(k, vec![1, 3, 3, 5, 5]);
    assert_eq!(v, vec![3, 1, 4, 0, 2]);
}

#[wasm_bindgen_test(unsupported = tokio::test)]
async fn every_block_size_sorts_correctly() {
    let ctx = gpu().await;
    // Sizes that end mid-chunk and mid-block for each block size.
    for chunks in 1..=super::MAX_CHUNKS_PER_BLOCK {
        for n in [1023usize, 5000, 70_001] {
            let keys = values(
                crate::test_support::Pattern::Random,
                n,
                chunks as u64,
                0xffff,
            );
            let idx: Vec<u32> = (0..n as u32).collect();
            let (gk, gv) = sort_pairs_with_blocks(&ctx, &keys, &idx, 32, chunks)
                .await
                .expect("GPU sort");
            let (ck, cv) = sort_pairs_cpu(&keys, &idx, 32);
            assert!(gk == ck && gv == cv, "n={n} chunks={chunks}");
        }
    }
}

#[wasm_bindgen_test(unsupported = tokio::test)]
async fn one_plan_sorts_different_lengths_up_to_its_capacity() {
    use crate::gpu::{read_buffer, storage_buffer_init};
    let ctx = gpu().await;
    let capacity = 50_000usize;
    let sorter = super::RadixSort::new(&ctx);
    let keys = values(crate::test_support::Pattern::Random, capacity, 99, 0x3fff);
    let idx: Vec<u32> = (0..capacity as u32).collect();
    let kb = storage_buffer_init(&ctx, "k", &keys);
    let vb = storage_buffer_init(&ctx, "v", &idx);
    // 14 bits: an odd number of passes, so the copy-back path runs too.
    let plan = sorter
        .plan(&ctx, &kb, &vb, capacity as u32, 14)
        .expect("plan");
    for len in [capacity, 1, 0, 17_000, 3000] {
        ctx.queue.write_buffer(&kb, 0, bytemuck::cast_slice(&keys));
        ctx.queue.write_buffer(&vb, 0, bytemuck::cast_slice(&idx));
        plan.set_len(&ctx.queue, len as u32);
        let mut enc = ctx.device.create_command_encoder(&Default::default());
        plan.encode(&mut enc, None);
        ctx.queue.submit([enc.finish()]);
        let gk: Vec<u32> = read_buffer(&ctx, &kb, capacity).await.expect("keys");
        let gv: Vec<u32> = read_buffer(&ctx, &vb, capacity).await.expect("values");
        let (ck, cv) = sort_pairs_cpu(&keys[..len], &idx[..len], 14);
        assert!(gk[..len] == ck[..] && gv[..len] == cv[..], "len={len}");
        // Past the length nothing moved.
        assert!(
            gk[len..] == keys[len..] && gv[len..] == idx[len..],
            "len={len} tail"
        );
    }
}

#[wasm_bindgen_test(unsupported = tokio::test)]
async fn a_counted_sort_sorts_as_many_pairs_as_the_gpu_count_says() {
    use crate::gpu::{read_buffer, storage_buffer_init};
    let ctx = gpu().await;
    let capacity = 40_000usize;
    let sorter = super::RadixSort::new(&ctx);
    let keys = values(crate::test_support::Pattern::Random, capacity, 5, 0x3fff);
    let idx: Vec<u32> = (0..capacity as u32).collect();
    let kb = storage_buffer_init(&ctx, "k", &keys);
    let vb = storage_buffer_init(&ctx, "v", &idx);
    let count = storage_buffer_init(&ctx, "count", &[0u32]);
    let plan = sorter
        .plan(&ctx, &kb, &vb, capacity as u32, 14)
        .expect("plan");
    // The last count exceeds the capacity: the sort clamps it.
    for n in [capacity as u32, 1, 0, 17_001, 1025, u32::MAX] {
        ctx.queue.write_buffer(&kb, 0, bytemuck::cast_slice(&keys));
        ctx.queue.write_buffer(&vb, 0, bytemuck::cast_slice(&idx));
        ctx.queue.write_buffer(&count, 0, bytemuck::bytes_of(&n));
        let mut enc = ctx.device.create_command_encoder(&Default::default());
        plan.encode_counted(&ctx.queue, &mut enc, &count, None);
        ctx.queue.submit([enc.finish()]);
        let len = (n as usize).min(capacity);
        let gk: Vec<u32> = read_buffer(&ctx, &kb, capacity).await.expect("keys");
        let gv: Vec<u32> = read_buffer(&ctx, &vb, capacity).await.expect("values");
        let (ck, cv) = sort_pairs_cpu(&keys[..len], &idx[..len], 14);
        assert!(gk[..len] == ck[..] && gv[..len] == cv[..], "n={n}");
    }
}

#[test]
fn cpu_reference_is_stable_on_low_bits() {
    let (k, v) = sort_pairs_cpu(&[0x10, 0x01, 0x11, 0x00], &[0, 1, 2, 3], 4);
    assert_eq!(k, vec![0x10, 0x00, 0x01, 0x11]);
    assert_eq!(v, vec![0, 3, 1, 2]);
}
