//! CPU reference for the loss kernel, in f64: every SSIM window summed directly over its 11×11
//! pixels of the reflect-padded image (not separably) and its gradient scattered back window by
//! window onto the pixels the padding mirrors, so it checks the GPU's separable forward and
//! folded adjoint passes independently.

use super::{ImageQuality, LossValue, SsimBorder, L1_WEIGHT, SSIM_RADIUS, SSIM_WEIGHT};
use crate::gpu::GpuError;

/// Taps per SSIM window side.
const TAPS: usize = 2 * SSIM_RADIUS as usize + 1;

/// The normalised 1-D Gaussian of the SSIM window (sigma 1.5, 11 taps), as torchmetrics builds
/// it: `exp(-d²/(2σ²))` at d = −5..5, divided by its sum. The 2-D window is its outer product.
pub fn gaussian_taps() -> [f64; TAPS] {
    let sigma = super::SSIM_SIGMA as f64;
    let mut taps = [0.0; TAPS];
    for (k, t) in taps.iter_mut().enumerate() {
        let d = k as f64 - SSIM_RADIUS as f64;
        *t = (-0.5 * (d / sigma).powi(2)).exp();
    }
    let sum: f64 = taps.iter().sum();
    taps.map(|t| t / sum)
}

/// RGBA8 pixels (r in the low byte) as RGB in 0..1, the way the kernel reads the photo.
pub fn unpack_rgba8(rgba: &[u32]) -> Vec<[f32; 3]> {
    rgba.iter()
        .map(|p| [0, 8, 16].map(|s| ((p >> s) & 0xff) as f32 / 255.0))
        .collect()
}

/// The loss `0.8·mean|x − y| + 0.2·(1 − SSIM(x, y))` of `rendered` against `target` (both
/// `width × height` RGB, row-major) and its gradient w.r.t. `rendered`, computed in f64.
///
/// SSIM's centres are `border`'s; where it has none SSIM is 1 and its gradient 0, as in
/// [`super::LossPlan`].
pub fn loss_cpu(
    rendered: &[[f32; 3]],
    target: &[[f32; 3]],
    width: u32,
    height: u32,
    border: SsimBorder,
) -> Result<(LossValue, Vec<[f32; 3]>), GpuError> {
    check_sizes(rendered.len(), target.len(), width, height)?;
    let (x, y) = (widen(rendered), widen(target));
    let (l1, ssim, grad) = loss_f64(&x, &y, (width, height), border);
    let mse = mean_squared_error(&x, &y);
    let value = LossValue {
        total: (L1_WEIGHT * l1 + SSIM_WEIGHT * (1.0 - ssim)) as f32,
        l1: l1 as f32,
        ssim: ssim as f32,
        mse: mse as f32,
    };
    let grad = grad.iter().map(|g| g.map(|v| v as f32)).collect();
    Ok((value, grad))
}

/// SSIM of two `width × height` RGB images with torchmetrics' defaults at data range 1 (mean
/// over `border`'s centres and the three channels); 1 where there is none.
pub fn ssim_cpu(
    a: &[[f32; 3]],
    b: &[[f32; 3]],
    width: u32,
    height: u32,
    border: SsimBorder,
) -> Result<f64, GpuError> {
    check_sizes(a.len(), b.len(), width, height)?;
    Ok(ssim_f64(&widen(a), &widen(b), (width, height), border, false).0)
}

/// PSNR in dB of `rendered` clamped to [0, 1] against `target`: `−10·log10(MSE)` over all
/// values (infinite for identical images).
pub fn psnr_cpu(rendered: &[[f32; 3]], target: &[[f32; 3]]) -> f64 {
    let x = widen_clamped(rendered);
    -10.0 * mean_squared_error(&x, &widen(target)).log10()
}

/// Held-out view quality: PSNR and SSIM of `rendered` clamped to [0, 1] against `target`, as
/// the peer trainer evaluates (and [`super::LossPlan::evaluate`] on the GPU).
pub fn image_quality_cpu(
    rendered: &[[f32; 3]],
    target: &[[f32; 3]],
    width: u32,
    height: u32,
    border: SsimBorder,
) -> Result<ImageQuality, GpuError> {
    check_sizes(rendered.len(), target.len(), width, height)?;
    let x = widen_clamped(rendered);
    let y = widen(target);
    let mse = mean_squared_error(&x, &y);
    let (ssim, _) = ssim_f64(&x, &y, (width, height), border, false);
    Ok(ImageQuality {
        psnr: (-10.0 * mse.log10()) as f32,
        ssim: ssim as f32,
        mse: mse as f32,
    })
}

fn check_sizes(a: usize, b: usize, width: u32, height: u32) -> Result<(), GpuError> {
    let n = width as usize * height as usize;
    if a != n || b != n {
        return Err(GpuError::Unsupported(format!(
            "{a} and {b} pixels for a {width}x{height} image"
        )));
    }
    Ok(())
}

fn widen(img: &[[f32; 3]]) -> Vec<[f64; 3]> {
    img.iter().map(|p| p.map(f64::from)).collect()
}

/// A rendered image in f64, clamped to [0, 1] as evaluation sees it.
fn widen_clamped(rendered: &[[f32; 3]]) -> Vec<[f64; 3]> {
    rendered
        .iter()
        .map(|p| p.map(|v| f64::from(v).clamp(0.0, 1.0)))
        .collect()
}

fn mean_squared_error(x: &[[f64; 3]], y: &[[f64; 3]]) -> f64 {
    let sum: f64 = x
        .iter()
        .zip(y)
        .flat_map(|(a, b)| (0..3).map(move |c| (a[c] - b[c]).powi(2)))
        .sum();
    sum / (3 * x.len()).max(1) as f64
}

/// (mean L1, SSIM, dLoss/dx) in f64; the finite-difference test differentiates this.
pub(super) fn loss_f64(
    x: &[[f64; 3]],
    y: &[[f64; 3]],
    size: (u32, u32),
    border: SsimBorder,
) -> (f64, f64, Vec<[f64; 3]>) {
    let values = (3 * x.len()).max(1) as f64;
    let l1 = x
        .iter()
        .zip(y)
        .flat_map(|(a, b)| (0..3).map(move |c| (a[c] - b[c]).abs()))
        .sum::<f64>()
        / values;
    let (ssim, dssim) = ssim_f64(x, y, size, border, true);
    let l1_scale = L1_WEIGHT / values;
    let grad = x
        .iter()
        .zip(y)
        .zip(&dssim)
        .map(|((a, b), d)| {
            // d|t|/dt = sign(t), 0 at t = 0 (as torch).
            let sign = |t: f64| if t == 0.0 { 0.0 } else { t.signum() };
            [0, 1, 2].map(|c| l1_scale * sign(a[c] - b[c]) - SSIM_WEIGHT * d[c])
        })
        .collect();
    (l1, ssim, grad)
}

/// torch's "reflect" padding: index `i` of the padded axis as a pixel of an axis of `n` (no edge
/// repeat; valid for pads under `n`).
fn reflect(i: i64, n: i64) -> usize {
    let i = i.abs();
    (if i >= n { 2 * (n - 1) - i } else { i }) as usize
}

/// Mean SSIM over `border`'s centres and (when `with_grad`) its gradient w.r.t. `x`.
fn ssim_f64(
    x: &[[f64; 3]],
    y: &[[f64; 3]],
    (width, height): (u32, u32),
    border: SsimBorder,
    with_grad: bool,
) -> (f64, Vec<[f64; 3]>) {
    let mut grad = if with_grad {
        vec![[0.0; 3]; x.len()]
    } else {
        Vec::new()
    };
    let count = border.windows(width, height) as f64;
    if count == 0.0 {
        return (1.0, grad);
    }
    let taps = gaussian_taps();
    // (0.01 · data range)², (0.03 · data range)² in f64 (the kernel's are their f32 roundings).
    let (c1, c2) = (0.01f64.powi(2), 0.03f64.powi(2));
    let (w, h) = (width as i64, height as i64);
    let (m, r) = (border.margin() as i64, SSIM_RADIUS as i64);
    let mut sum = 0.0;
    let mut window = [0usize; TAPS * TAPS];
    for cy in m..h - m {
        for cx in m..w - m {
            // The pixels under the window centred at (cx, cy), through the reflect padding.
            for (k, p) in window.iter_mut().enumerate() {
                let (i, j) = ((k / TAPS) as i64, (k % TAPS) as i64);
                *p = reflect(cy - r + i, h) * width as usize + reflect(cx - r + j, w);
            }
            for c in 0..3 {
                let (mut mx, mut my, mut exx, mut eyy, mut exy) = (0.0, 0.0, 0.0, 0.0, 0.0);
                for (k, &p) in window.iter().enumerate() {
                    let wk = taps[k / TAPS] * taps[k % TAPS];
                    let (a, b) = (x[p][c], y[p][c]);
                    mx += wk * a;
                    my += wk * b;
                    exx += wk * a * a;
                    eyy += wk * b * b;
                    exy += wk * a * b;
                }
                // SSIM = (2 mx my + C1)(2 cov + C2) / ((mx² + my² + C1)(vx + vy + C2)) with the
                // variances clamped at 0 (torchmetrics), cov = E[xy] − mx my.
                let vx_raw = exx - mx * mx;
                let vx = vx_raw.max(0.0);
                let vy = (eyy - my * my).max(0.0);
                let cov = exy - mx * my;
                let luminance_num = 2.0 * mx * my + c1;
                let luminance_den = mx * mx + my * my + c1;
                let structure_num = 2.0 * cov + c2;
                let structure_den = vx + vy + c2;
                let s = luminance_num * structure_num / (luminance_den * structure_den);
                sum += s;
                if !with_grad {
                    continue;
                }
                // Partials w.r.t. the filtered statistics mx, E[x²], E[xy] (E[y²], my fixed).
                let d_vx = if vx_raw >= 0.0 {
                    -s / structure_den
                } else {
                    0.0
                };
                let d_cov = 2.0 * luminance_num / (luminance_den * structure_den);
                let d_mx_direct = 2.0 * my * structure_num / (luminance_den * structure_den)
                    - 2.0 * mx * s / luminance_den;
                let d_mx = d_mx_direct + d_vx * (-2.0 * mx) + d_cov * (-my);
                let (d_exx, d_exy) = (d_vx, d_cov);
                // A pixel the padding repeats inside the window gets one term per copy.
                for (k, &p) in window.iter().enumerate() {
                    let wk = taps[k / TAPS] * taps[k % TAPS] / count;
                    grad[p][c] += wk * (d_mx + 2.0 * x[p][c] * d_exx + y[p][c] * d_exy);
                }
            }
        }
    }
    (sum / count, grad)
}
