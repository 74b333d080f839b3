//! CPU reference of the per-frame sharpness score (variance of the Laplacian).

/// Sharpness of a grayscale image: the variance of its 3×3 Laplacian over the interior pixels.
///
/// For every pixel `(x, y)` with `1 <= x < width - 1` and `1 <= y < height - 1` (the one-pixel
/// border is skipped, so no padding rule is involved) it takes
/// `L = g(x, y-1) + g(x-1, y) + g(x+1, y) + g(x, y+1) - 4 g(x, y)`
/// (the kernel `[0 1 0; 1 -4 1; 0 1 0]`), and returns the population variance of those
/// `(width - 2) * (height - 2)` values: `mean(L²) - mean(L)²`, accumulated in `f64` in two passes
/// (mean first, then squared deviations) and returned as `f32`. `gray` is row-major,
/// `gray[y * width + x]`; with values in 0..=1 the result is in gray-units² (0 for a constant
/// image; higher is sharper; its scale depends on the image content, so compare frames of one
/// capture rather than against a fixed threshold).
///
/// Returns 0 when the image has no interior pixel (`width < 3` or `height < 3`).
///
/// # Panics
/// If `gray.len() != width * height`.
pub fn sharpness_cpu(gray: &[f32], width: u32, height: u32) -> f32 {
    let (width, height) = (width as usize, height as usize);
    assert_eq!(
        Some(gray.len()),
        width.checked_mul(height),
        "sharpness_cpu: gray holds {} values, expected {width} x {height}",
        gray.len()
    );
    if width < 3 || height < 3 {
        return 0.0;
    }
    let lap = |x: usize, y: usize| -> f64 {
        let g = |x: usize, y: usize| f64::from(gray[y * width + x]);
        g(x, y - 1) + g(x - 1, y) + g(x + 1, y) + g(x, y + 1) - 4.0 * g(x, y)
    };
    let n = ((width - 2) * (height - 2)) as f64;
    let interior = || (1..height - 1).flat_map(move |y| (1..width - 1).map(move |x| (x, y)));
    let mean = interior().map(|(x, y)| lap(x, y)).sum::<f64>() / n;
    let var = interior()
        .map(|(x, y)| (lap(x, y) - mean).powi(2))
        .sum::<f64>()
        / n;
    var as f32
}
