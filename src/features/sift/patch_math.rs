//! The transcendental functions of the orientation histogram and the descriptor, applied to a
//! keypoint's whole window at once: [`ExactMath`] (the standard library's, per sample: the CPU
//! reference) and, natively, `FastMath` (cephes-style polynomials without branches, so they
//! vectorise, compiled for AVX2 where the CPU has it; within 1e-6 of the exact values).

#[cfg(not(target_arch = "wasm32"))]
use std::f32::consts::{FRAC_PI_2, FRAC_PI_4, LOG2_E, PI, TAU};

/// The per-sample functions a window needs.
pub(crate) trait PatchMath: Sync {
    /// `values[i] = exp(values[i])`, for arguments in `-87..=0`.
    fn exp_in_place(&self, values: &mut [f32]);
    /// `out[i] = atan2(dy[i], dx[i])` mapped to `[0, 2π)` (see
    /// [`angle_0_tau`](super::orientation::angle_0_tau)).
    fn angles(&self, dy: &[f32], dx: &[f32], out: &mut [f32]);
}

/// The standard library's `exp` and `atan2`: the CPU reference.
pub(crate) struct ExactMath;

impl PatchMath for ExactMath {
    fn exp_in_place(&self, values: &mut [f32]) {
        for v in values {
            *v = v.exp();
        }
    }

    fn angles(&self, dy: &[f32], dx: &[f32], out: &mut [f32]) {
        for ((o, &y), &x) in out.iter_mut().zip(dy).zip(dx) {
            *o = super::orientation::angle_0_tau(y, x);
        }
    }
}

/// Polynomial `exp` and `atan2` that vectorise (the native pipeline's).
#[cfg(not(target_arch = "wasm32"))]
pub(crate) struct FastMath;

#[cfg(not(target_arch = "wasm32"))]
impl PatchMath for FastMath {
    fn exp_in_place(&self, values: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above).
            return unsafe { exp_slice_avx2(values) };
        }
        exp_slice(values)
    }

    fn angles(&self, dy: &[f32], dx: &[f32], out: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above).
            return unsafe { angles_slice_avx2(dy, dx, out) };
        }
        angles_slice(dy, dx, out)
    }
}

#[cfg(not(target_arch = "wasm32"))]
#[inline(always)]
fn exp_slice(values: &mut [f32]) {
    for v in values {
        *v = exp_approx(*v);
    }
}

#[cfg(not(target_arch = "wasm32"))]
#[inline(always)]
fn angles_slice(dy: &[f32], dx: &[f32], out: &mut [f32]) {
    for ((o, &y), &x) in out.iter_mut().zip(dy).zip(dx) {
        *o = angle_0_tau_approx(y, x);
    }
}

/// [`exp_slice`] compiled for AVX2.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn exp_slice_avx2(values: &mut [f32]) {
    exp_slice(values)
}

/// [`angles_slice`] compiled for AVX2.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn angles_slice_avx2(dy: &[f32], dx: &[f32], out: &mut [f32]) {
    angles_slice(dy, dx, out)
}

/// `exp(x)` for `x` in `-87..=88` within 2 ulp (cephes `expf`): `x = n ln 2 + r`, a degree-6
/// polynomial in `r`, times `2^n` built in the exponent bits. Branch-free.
#[cfg(not(target_arch = "wasm32"))]
#[inline(always)]
pub(crate) fn exp_approx(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    // floor(x log2 e + 0.5) by truncating a positive number.
    let n = ((x * LOG2_E + 0.5 + 128.0) as i32 - 128) as f32;
    let r = x - n * 0.693_359_4 - n * -2.121_944_4e-4;
    let z = r * r;
    let p = ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r
        + 1.666_666_5e-1)
        * r
        + 5.0e-1;
    let y = p * z + r + 1.0;
    y * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

/// `atan2(dy, dx)` mapped to `[0, 2π)` within 1e-6 rad (cephes `atanf` on `min/max` of the
/// magnitudes, folded by octant). Branch-free; `(0, 0)` gives 0 as `atan2` does.
#[cfg(not(target_arch = "wasm32"))]
#[inline(always)]
pub(crate) fn angle_0_tau_approx(dy: f32, dx: f32) -> f32 {
    let (ax, ay) = (dx.abs(), dy.abs());
    let (lo, hi) = (ax.min(ay), ax.max(ay));
    let t = if hi > 0.0 { lo / hi } else { 0.0 };
    // atan(t), t in [0, 1]: reduce above tan(π/8) with atan(t) = π/4 + atan((t-1)/(t+1)).
    let big = t > 0.414_213_57;
    let u = if big { (t - 1.0) / (t + 1.0) } else { t };
    let z = u * u;
    let p =
        (((8.053_744_5e-2 * z - 1.387_768_6e-1) * z + 1.997_771_1e-1) * z - 3.333_295e-1) * z * u
            + u;
    let mut a = if big { FRAC_PI_4 + p } else { p };
    a = if ay > ax { FRAC_PI_2 - a } else { a };
    a = if dx < 0.0 { PI - a } else { a };
    if dy < 0.0 {
        TAU - a
    } else {
        a
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    #[test]
    fn fast_exp_and_angles_agree_with_the_standard_library() {
        let mut worst_exp = 0.0f32;
        for i in 0..=100_000 {
            let x = -20.0 * i as f32 / 100_000.0;
            let (fast, exact) = (exp_approx(x), x.exp());
            worst_exp = worst_exp.max((fast - exact).abs() / exact);
        }
        assert!(worst_exp < 1e-6, "exp: relative error {worst_exp}");
        let mut worst_angle = 0.0f32;
        for i in 0..100_000 {
            let t = TAU * i as f32 / 100_000.0;
            for r in [1e-3f32, 0.37, 2.0] {
                let (dy, dx) = (r * t.sin(), r * t.cos());
                let (fast, exact) = (
                    angle_0_tau_approx(dy, dx),
                    super::super::orientation::angle_0_tau(dy, dx),
                );
                let d = (fast - exact).abs();
                worst_angle = worst_angle.max(d.min(TAU - d));
                assert!((0.0..=TAU).contains(&fast), "{fast} at ({dy}, {dx})");
            }
        }
        assert!(worst_angle < 1e-6, "angle: error {worst_angle} rad");
        for (dy, dx) in [(0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (0.0, -1.0), (-1.0, 0.0)] {
            let exact = super::super::orientation::angle_0_tau(dy, dx);
            assert!(
                (angle_0_tau_approx(dy, dx) - exact).abs() < 1e-6,
                "({dy}, {dx})"
            );
        }
        let (mut a, mut b) = (vec![-0.5f32, -3.0, 0.0], vec![0.0f32; 3]);
        FastMath.exp_in_place(&mut a);
        FastMath.angles(&[1.0, -1.0, 0.5], &[1.0, 1.0, -0.5], &mut b);
        let exact = [(-0.5f32).exp(), (-3.0f32).exp(), 1.0];
        assert!(
            a.iter().zip(exact).all(|(x, y)| (x - y).abs() < 1e-6),
            "{a:?}"
        );
        let angles = [FRAC_PI_4, TAU - FRAC_PI_4, 3.0 * FRAC_PI_4];
        assert!(
            b.iter().zip(angles).all(|(x, y)| (x - y).abs() < 1e-6),
            "{b:?}"
        );
    }
}
