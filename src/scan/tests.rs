//! GPU scan vs. CPU reference. Exact equality (integer arithmetic, wrapping).

use wasm_bindgen_test::wasm_bindgen_test;

use super::{exclusive_scan, exclusive_scan_cpu};
use crate::test_support::{gpu, values, PATTERNS, SIZES};

#[wasm_bindgen_test(unsupported = tokio::test)]
async fn scan_matches_cpu_reference_for_all_sizes_and_patterns() {
    let ctx = gpu().await;
    for &n in SIZES {
        for pattern in PATTERNS {
            // Large values make the running sum wrap around u32 many times.
            let input = values(pattern, n, n as u64, u32::MAX);
            let got = exclusive_scan(&ctx, &input).await.expect("GPU scan");
            let want = exclusive_scan_cpu(&input);
            if let Some(i) = (0..n).find(|&i| got[i] != want[i]) {
                panic!(
                    "n={n} {pattern:?}: first mismatch at {i}: gpu {} cpu {}",
                    got[i], want[i]
                );
            }
            assert_eq!(got.len(), n);
        }
    }
}

#[wasm_bindgen_test(unsupported = tokio::test)]
async fn scan_of_small_counts_matches_known_answer() {
    let ctx = gpu().await;
    let got = exclusive_scan(&ctx, &[3, 1, 4, 1, 5, 9, 2, 6])
        .await
        .expect("GPU scan");
    assert_eq!(got, vec![0, 3, 4, 8, 9, 14, 23, 25]);
}

#[test]
fn cpu_reference_known_answer() {
    assert_eq!(exclusive_scan_cpu(&[]), Vec::<u32>::new());
    assert_eq!(exclusive_scan_cpu(&[u32::MAX, 2, 7]), vec![0, u32::MAX, 1]);
}
