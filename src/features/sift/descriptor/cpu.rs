//! The 128-float SIFT descriptor (OpenCV's `calcSIFTDescriptor` layout and weights).

use std::f32::consts::TAU;

use crate::features::sift::orientation::{gradient, WindowSamples};
use crate::features::sift::patch_math::{ExactMath, PatchMath};
use crate::features::sift::Keypoint;
use crate::features::sift::{ScaleSpace, SiftParams};
use crate::features::DESCRIPTOR_BYTES;

/// Spatial bins per side.
pub const DESCR_WIDTH: usize = 4;
/// Orientation bins per spatial bin.
pub const DESCR_HIST_BINS: usize = 8;
/// Width of one spatial bin in units of the keypoint sigma.
pub const DESCR_SCL_FCTR: f32 = 3.0;
/// Clamp of the unit-normalised descriptor before renormalising.
pub const DESCR_MAG_THR: f32 = 0.2;

/// Where a descriptor is taken, in the pixels of the keypoint's octave.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PatchFrame {
    /// Column (sub-pixel).
    pub x: f32,
    /// Row (sub-pixel, y down).
    pub y: f32,
    /// Keypoint scale.
    pub sigma: f32,
    /// Orientation in radians, image coordinates (`atan2(dy, dx)`, y down).
    pub angle: f32,
}

/// Float descriptor of a keypoint with frame `f` (octave pixels) on a `w × h` Gaussian image.
///
/// Layout and weights follow OpenCV: a bin is `3σ` wide; a pixel at offset `(dx, dy)` from the
/// keypoint (sub-pixel offset; the window is centred at the rounded position, radius
/// `round(3σ · √2 · 5 / 2)`, pixels on the image border skipped) has rotated bin coordinates
/// `u = (dx cos a + dy sin a) / 3σ` (column, along the orientation) and
/// `v = (-dx sin a + dy cos a) / 3σ` (row); it counts when `u + 1.5, v + 1.5 ∈ (-1, 4)`, with
/// weight `|∇I| · exp(-(u² + v²) / 8)` (Gaussian of σ = 2 bins, half the window), spread
/// trilinearly over (row, column, orientation) bins; the orientation bin coordinate is
/// `((a - θ) mod 2π) · 8 / 2π` with `θ = atan2(dy, dx)` (OpenCV's order). Index
/// `(row · 4 + column) · 8 + orientation`.
///
/// Then: L2-normalise, clamp at 0.2, L2-normalise; with `root_sift`, L1-normalise and take the
/// square root of every entry (the L2 norm is then 1). An all-zero histogram stays zero.
pub fn describe_cpu(
    img: &[f32],
    w: u32,
    h: u32,
    f: PatchFrame,
    root_sift: bool,
) -> [f32; DESCRIPTOR_BYTES] {
    describe_with(
        img,
        w,
        h,
        f,
        root_sift,
        &mut WindowSamples::default(),
        &ExactMath,
    )
}

/// [`describe_cpu`] with the window's `exp` and `atan2` from `math` (samples gathered into
/// `samples`, then evaluated at once). Always inlined, so that a caller compiled for AVX2
/// gets its `floor`s as instructions.
#[inline(always)]
pub(crate) fn describe_with(
    img: &[f32],
    w: u32,
    h: u32,
    f: PatchFrame,
    root_sift: bool,
    samples: &mut WindowSamples,
    math: &impl PatchMath,
) -> [f32; DESCRIPTOR_BYTES] {
    let PatchFrame { x, y, sigma, angle } = f;
    const D: usize = DESCR_WIDTH;
    const N: usize = DESCR_HIST_BINS;
    let bin_width = DESCR_SCL_FCTR * sigma;
    let radius_f = (bin_width * std::f32::consts::SQRT_2 * (D as f32 + 1.0) * 0.5).round();
    let radius = radius_f.min((w as f32).hypot(h as f32)) as i64;
    let (cos_t, sin_t) = (angle.cos() / bin_width, angle.sin() / bin_width);
    let exp_scale = -1.0 / (D as f32 * D as f32 * 0.5);
    let bins_per_rad = N as f32 / TAU;
    let (cx, cy) = (x.round() as i64, y.round() as i64);
    samples.clear();
    let half = D as f32 / 2.0 + 0.5;
    // The window row by row, each only over the span that can lie in the rotated square of
    // bins (the window's corners never do), a pixel wider on each side; the exact test below
    // still decides each pixel, so the samples are those of the whole window, in its order.
    let (left, right) = ((cx - radius).max(1), (cx + radius).min(w as i64 - 2));
    let rows = (cy - radius).max(1)..=(cy + radius).min(h as i64 - 2);
    for py in rows {
        let (lo, hi) = row_span(py as f32 - y, cos_t, sin_t, half);
        if lo > hi {
            continue;
        }
        let first = ((x + lo).floor() as i64).saturating_sub(1).max(left);
        let last = ((x + hi).ceil() as i64).saturating_add(1).min(right);
        for px in first..=last {
            let (ox, oy) = (px as f32 - x, py as f32 - y);
            let c_rot = ox * cos_t + oy * sin_t;
            let r_rot = -ox * sin_t + oy * cos_t;
            let rbin = r_rot + D as f32 / 2.0 - 0.5;
            let cbin = c_rot + D as f32 / 2.0 - 0.5;
            if !(rbin > -1.0 && rbin < D as f32 && cbin > -1.0 && cbin < D as f32) {
                continue;
            }
            let (dx, dy) = gradient(img, w as usize, px as usize, py as usize);
            samples.dx.push(dx);
            samples.dy.push(dy);
            samples
                .weight
                .push((c_rot * c_rot + r_rot * r_rot) * exp_scale);
            samples.bins.push((rbin, cbin));
        }
    }
    samples.evaluate(math);
    // (D+2) × (D+2) × (N+2) with a guard ring, as OpenCV.
    let mut hist = [0.0f32; (D + 2) * (D + 2) * (N + 2)];
    for i in 0..samples.dx.len() {
        let (dx, dy) = (samples.dx[i], samples.dy[i]);
        let (rbin, cbin) = samples.bins[i];
        let mag = (dx * dx + dy * dy).sqrt() * samples.weight[i];
        let rel = wrap_tau(angle - samples.angle[i]);
        let obin = rel * bins_per_rad;
        let (r0, c0, o0) = (rbin.floor(), cbin.floor(), obin.floor());
        let (fr, fc, fo) = (rbin - r0, cbin - c0, obin - o0);
        let o0 = (o0 as i64).rem_euclid(N as i64) as usize;
        let (r0, c0) = ((r0 as i64 + 1) as usize, (c0 as i64 + 1) as usize);
        for (dr, wr) in [(0, 1.0 - fr), (1, fr)] {
            for (dc, wc) in [(0, 1.0 - fc), (1, fc)] {
                for (d_o, wo) in [(0, 1.0 - fo), (1, fo)] {
                    let idx = ((r0 + dr) * (D + 2) + c0 + dc) * (N + 2) + o0 + d_o;
                    hist[idx] += mag * wr * wc * wo;
                }
            }
        }
    }
    let mut desc = [0.0f32; DESCRIPTOR_BYTES];
    for i in 0..D {
        for j in 0..D {
            let idx = ((i + 1) * (D + 2) + j + 1) * (N + 2);
            hist[idx] += hist[idx + N];
            hist[idx + 1] += hist[idx + N + 1];
            desc[(i * D + j) * N..(i * D + j + 1) * N].copy_from_slice(&hist[idx..idx + N]);
        }
    }
    normalize(&mut desc, root_sift);
    desc
}

/// The offsets `ox` along a row at offset `oy` whose rotated coordinates
/// `ox·cos + oy·sin` and `−ox·sin + oy·cos` both lie in `(−half, half)`: an interval (empty when
/// `lo > hi`); a coordinate that barely depends on `ox` leaves it unbounded.
#[inline(always)]
fn row_span(oy: f32, cos: f32, sin: f32, half: f32) -> (f32, f32) {
    let mut span = (f32::NEG_INFINITY, f32::INFINITY);
    for (slope, offset) in [(cos, oy * sin), (-sin, oy * cos)] {
        if slope.abs() > 1e-6 {
            let (a, b) = ((-half - offset) / slope, (half - offset) / slope);
            span = (span.0.max(a.min(b)), span.1.min(a.max(b)));
        }
    }
    span
}

/// `x.rem_euclid(2π)`, bit for bit, without the library `fmod` call for `|x| < 2π` (the
/// descriptor's angle differences).
#[inline(always)]
fn wrap_tau(x: f32) -> f32 {
    if x.abs() < TAU {
        if x < 0.0 {
            x + TAU
        } else {
            x
        }
    } else {
        x.rem_euclid(TAU)
    }
}

/// L2-normalise, clamp at [`DESCR_MAG_THR`], L2-normalise; RootSIFT: L1-normalise and sqrt.
fn normalize(desc: &mut [f32; DESCRIPTOR_BYTES], root_sift: bool) {
    let l2 = |d: &[f32; DESCRIPTOR_BYTES]| d.iter().map(|v| v * v).sum::<f32>().sqrt();
    let norm = l2(desc);
    let thr = norm * DESCR_MAG_THR;
    for v in desc.iter_mut() {
        *v = v.min(thr);
    }
    let norm = l2(desc).max(f32::EPSILON);
    for v in desc.iter_mut() {
        *v /= norm;
    }
    if root_sift {
        let l1 = desc.iter().sum::<f32>().max(f32::EPSILON);
        for v in desc.iter_mut() {
            *v = (*v / l1).sqrt();
        }
    }
}

/// Float descriptors of keypoints (with orientations) on their octave's Gaussian image `scale`.
pub fn describe_keypoints_cpu(
    space: &ScaleSpace,
    keypoints: &[Keypoint],
    params: &SiftParams,
) -> Vec<[f32; DESCRIPTOR_BYTES]> {
    let mut samples = WindowSamples::default();
    keypoints
        .iter()
        .map(|kp| describe_keypoint(space, kp, params, &mut samples, &ExactMath))
        .collect()
}

/// The float descriptor of one keypoint (see [`describe_keypoints_cpu`]), its window
/// evaluated by `math`.
#[inline(always)]
pub(crate) fn describe_keypoint(
    space: &ScaleSpace,
    kp: &Keypoint,
    params: &SiftParams,
    samples: &mut WindowSamples,
    math: &impl PatchMath,
) -> [f32; DESCRIPTOR_BYTES] {
    let oct = &space.octaves[kp.octave as usize];
    let (x, y, sigma) = kp.in_octave(params);
    describe_with(
        &oct.gaussians[kp.scale as usize],
        oct.width,
        oct.height,
        PatchFrame {
            x,
            y,
            sigma,
            angle: kp.orientation,
        },
        params.root_sift,
        samples,
        math,
    )
}
