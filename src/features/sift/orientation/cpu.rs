//! Keypoint orientation: the 36-bin gradient-orientation histogram (OpenCV's
//! `calcOrientationHist`, smoothed with OpenCV's circular `[1, 4, 6, 4, 1] / 16` kernel, one pass).

use std::f32::consts::TAU;

use crate::features::sift::patch_math::{ExactMath, PatchMath};
use crate::features::sift::Keypoint;
use crate::features::sift::{ScaleSpace, SiftParams};

/// Bins of the orientation histogram (10° each).
pub const ORI_BINS: usize = 36;
/// Gaussian weighting sigma of the orientation window, in units of the keypoint sigma.
pub const ORI_SIG_FCTR: f32 = 1.5;
/// Window radius in units of the keypoint sigma: `3 · ORI_SIG_FCTR`.
pub const ORI_RADIUS_FCTR: f32 = 3.0 * ORI_SIG_FCTR;
/// Every histogram peak at least this fraction of the maximum gives a keypoint.
pub const ORI_PEAK_RATIO: f32 = 0.8;

/// Gradient of a Gaussian image at an interior pixel by central differences, image coordinates
/// (y down): `(I(x+1,y) - I(x-1,y), I(x,y+1) - I(x,y-1))`.
pub(crate) fn gradient(img: &[f32], w: usize, x: usize, y: usize) -> (f32, f32) {
    let i = y * w + x;
    (img[i + 1] - img[i - 1], img[i + w] - img[i - w])
}

/// The pixels `(px, py)` of the square of radius `radius` around `(cx, cy)` that have all four
/// neighbours inside a `w × h` image (the gradient's support), row by row.
pub(crate) fn interior_window(
    cx: i64,
    cy: i64,
    radius: i64,
    w: u32,
    h: u32,
) -> impl Iterator<Item = (i64, i64)> {
    let rows = (cy - radius).max(1)..=(cy + radius).min(h as i64 - 2);
    rows.flat_map(move |py| {
        ((cx - radius).max(1)..=(cx + radius).min(w as i64 - 2)).map(move |px| (px, py))
    })
}

/// `atan2(dy, dx)` mapped to `[0, 2π)`.
pub(crate) fn angle_0_tau(dy: f32, dx: f32) -> f32 {
    let a = dy.atan2(dx);
    if a < 0.0 {
        a + TAU
    } else {
        a
    }
}

/// Smoothed orientation histogram around `(x, y)` (octave pixels) of a `w × h` Gaussian image,
/// for a keypoint of scale `sigma` (octave pixels).
///
/// The square window `[-R, R]²` with `R = round(4.5 σ)` is centred at the rounded position; a
/// pixel counts when it is not on the image border (its central differences exist). It adds
/// `|∇I| · exp(-|p - (x, y)|² / (2 (1.5 σ)²))` (offset from the sub-pixel position) to the
/// nearest bin, `round(36 · θ / 2π) mod 36`, `θ = atan2(dy, dx)` (y down). The histogram is then
/// smoothed once, circularly, with `[1, 4, 6, 4, 1] / 16` (OpenCV).
pub fn orientation_histogram_cpu(
    img: &[f32],
    w: u32,
    h: u32,
    x: f32,
    y: f32,
    sigma: f32,
) -> [f32; ORI_BINS] {
    orientation_histogram_with(
        img,
        w,
        h,
        (x, y, sigma),
        &mut WindowSamples::default(),
        &ExactMath,
    )
}

/// A window's gradient samples (structure of arrays), reused from keypoint to keypoint.
#[derive(Debug, Default)]
pub(crate) struct WindowSamples {
    /// Gradient along x.
    pub dx: Vec<f32>,
    /// Gradient along y (down).
    pub dy: Vec<f32>,
    /// The Gaussian weight's exponent, then (after `exp_in_place`) the weight.
    pub weight: Vec<f32>,
    /// Gradient angles in `[0, 2π)`.
    pub angle: Vec<f32>,
    /// Stage-specific coordinates per sample (the descriptor's row and column bins).
    pub bins: Vec<(f32, f32)>,
}

impl WindowSamples {
    /// Empties the arrays, keeping their memory (`angle` keeps its stale values too:
    /// [`evaluate`](Self::evaluate) sizes and overwrites it, so it is never zeroed per window).
    pub fn clear(&mut self) {
        self.dx.clear();
        self.dy.clear();
        self.weight.clear();
        self.bins.clear();
    }

    /// Weights (`exp` of the stored exponents) and angles of every sample.
    pub fn evaluate(&mut self, math: &impl PatchMath) {
        math.exp_in_place(&mut self.weight);
        self.angle.resize(self.dx.len(), 0.0);
        math.angles(&self.dy, &self.dx, &mut self.angle);
    }
}

/// [`orientation_histogram_cpu`] at `(x, y, sigma)` with the window's `exp` and `atan2` from
/// `math` (samples gathered into `samples`, then evaluated at once). Always inlined, so that a
/// caller compiled for AVX2 gets its `round`s as instructions.
#[inline(always)]
pub(crate) fn orientation_histogram_with(
    img: &[f32],
    w: u32,
    h: u32,
    (x, y, sigma): (f32, f32, f32),
    samples: &mut WindowSamples,
    math: &impl PatchMath,
) -> [f32; ORI_BINS] {
    let (cx, cy) = (x.round() as i64, y.round() as i64);
    let radius = (ORI_RADIUS_FCTR * sigma).round() as i64;
    let ws = ORI_SIG_FCTR * sigma;
    let exp_scale = -1.0 / (2.0 * ws * ws);
    samples.clear();
    for (px, py) in interior_window(cx, cy, radius, w, h) {
        let (dx, dy) = gradient(img, w as usize, px as usize, py as usize);
        let (ox, oy) = (px as f32 - x, py as f32 - y);
        samples.dx.push(dx);
        samples.dy.push(dy);
        samples.weight.push((ox * ox + oy * oy) * exp_scale);
    }
    samples.evaluate(math);
    let mut raw = [0.0f32; ORI_BINS];
    for i in 0..samples.dx.len() {
        let (dx, dy) = (samples.dx[i], samples.dy[i]);
        let mag = (dx * dx + dy * dy).sqrt();
        let bin = (samples.angle[i] * (ORI_BINS as f32 / TAU)).round() as usize % ORI_BINS;
        raw[bin] += samples.weight[i] * mag;
    }
    let n = ORI_BINS;
    std::array::from_fn(|i| {
        let at = |d: usize| raw[(i + n + d - 2) % n];
        (at(0) + at(4)) * (1.0 / 16.0) + (at(1) + at(3)) * (4.0 / 16.0) + at(2) * (6.0 / 16.0)
    })
}

/// Orientations (radians, `[0, 2π)`) of every local peak of `hist` (strictly above both circular
/// neighbours) that reaches `ORI_PEAK_RATIO` of the maximum, refined by a parabola through the
/// peak and its neighbours. In bin order.
pub fn dominant_orientations(hist: &[f32; ORI_BINS]) -> Vec<f32> {
    let n = ORI_BINS;
    let max = hist.iter().copied().fold(0.0f32, f32::max);
    let threshold = max * ORI_PEAK_RATIO;
    let mut out = Vec::new();
    for j in 0..n {
        let (l, c, r) = (hist[(j + n - 1) % n], hist[j], hist[(j + 1) % n]);
        if c > l && c > r && c >= threshold {
            let mut bin = j as f32 + 0.5 * (l - r) / (l - 2.0 * c + r);
            if bin < 0.0 {
                bin += n as f32;
            } else if bin >= n as f32 {
                bin -= n as f32;
            }
            let angle = bin * (TAU / n as f32);
            out.push(if angle >= TAU { 0.0 } else { angle });
        }
    }
    out
}

/// One keypoint per dominant orientation of each input keypoint (histogram on Gaussian image
/// `scale` of its octave), in input order then bin order.
pub fn assign_orientations_cpu(
    space: &ScaleSpace,
    keypoints: &[Keypoint],
    params: &SiftParams,
) -> Vec<Keypoint> {
    let mut out = Vec::with_capacity(keypoints.len());
    let mut samples = WindowSamples::default();
    for kp in keypoints {
        out.extend(orient_keypoint(space, kp, params, &mut samples, &ExactMath));
    }
    out
}

/// `kp` once per dominant orientation of its histogram, in bin order (see
/// [`assign_orientations_cpu`]), its window evaluated by `math`.
#[inline(always)]
pub(crate) fn orient_keypoint(
    space: &ScaleSpace,
    kp: &Keypoint,
    params: &SiftParams,
    samples: &mut WindowSamples,
    math: &impl PatchMath,
) -> impl Iterator<Item = Keypoint> {
    let oct = &space.octaves[kp.octave as usize];
    let hist = orientation_histogram_with(
        &oct.gaussians[kp.scale as usize],
        oct.width,
        oct.height,
        kp.in_octave(params),
        samples,
        math,
    );
    let kp = *kp;
    dominant_orientations(&hist)
        .into_iter()
        .map(move |orientation| Keypoint { orientation, ..kp })
}
