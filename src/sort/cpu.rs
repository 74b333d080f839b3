//! CPU reference of the radix sort kernel (`shaders/sort.wgsl`).

/// CPU reference for the sort kernel: a stable sort of (key, value) pairs by the low `bits` bits
/// of the key, using the standard library's stable merge sort (an independent algorithm).
pub fn sort_pairs_cpu(keys: &[u32], values: &[u32], bits: u32) -> (Vec<u32>, Vec<u32>) {
    let mask = if bits >= 32 {
        u32::MAX
    } else {
        (1u32 << bits) - 1
    };
    let mut pairs: Vec<(u32, u32)> = keys.iter().copied().zip(values.iter().copied()).collect();
    pairs.sort_by_key(|&(k, _)| k & mask);
    pairs.into_iter().unzip()
}
