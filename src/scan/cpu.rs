//! CPU reference of the prefix-sum kernel (`shaders/scan.wgsl`).

/// CPU reference for the scan kernel: exclusive prefix sum with wrapping u32 addition.
pub fn exclusive_scan_cpu(values: &[u32]) -> Vec<u32> {
    let mut running = 0u32;
    values
        .iter()
        .map(|&v| {
            let out = running;
            running = running.wrapping_add(v);
            out
        })
        .collect()
}
