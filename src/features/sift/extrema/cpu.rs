//! DoG extrema detection (OpenCV's `findScaleSpaceExtrema`, strict 3×3×3 extrema on 0..1
//! images) and the keypoint types: the CPU reference of `extrema/gpu.rs`.

use crate::features::sift::{ScaleSpace, SiftParams};

/// Pixels skipped at every octave border (OpenCV's `SIFT_IMG_BORDER`).
pub const IMG_BORDER: u32 = 5;

/// A SIFT keypoint.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Keypoint {
    /// Column in input-image pixels (pixel centres at integers).
    pub x: f32,
    /// Row in input-image pixels (y down).
    pub y: f32,
    /// Scale in input pixels: `sigma0 · 2^(octave + (scale + ds)/S)` (halved with `upsample`).
    pub sigma: f32,
    /// Dominant gradient orientation in radians, `[0, 2π)`, measured in image coordinates
    /// (x right, y down: `atan2(dy, dx)`), i.e. OpenCV's `KeyPoint::angle` in radians.
    pub orientation: f32,
    /// `|D(x̂)|`, the interpolated DoG magnitude.
    pub response: f32,
    /// Octave index (0 = input resolution, or the doubled input with `upsample`).
    pub octave: u32,
    /// Integer DoG scale index `s` (1..=S) the refinement ended at.
    pub scale: u32,
}

impl Keypoint {
    /// Position and sigma in the pixels of the keypoint's octave (exact inverse of the scaling).
    pub fn in_octave(&self, params: &SiftParams) -> (f32, f32, f32) {
        let f = params.octave_factor(self.octave);
        (self.x / f, self.y / f, self.sigma / f)
    }
}

/// A raw DoG extremum before refinement (integer sample position).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Extremum {
    /// Octave index.
    pub octave: u32,
    /// DoG scale index, 1..=S.
    pub scale: u32,
    /// Column in octave pixels.
    pub x: u32,
    /// Row in octave pixels.
    pub y: u32,
    /// The DoG value.
    pub value: f32,
}

/// Strict 3×3×3 local maxima (with `D > 0`) and minima (with `D < 0`) of the DoG at
/// `s = 1..=S`, `IMG_BORDER` px from every side, with `|D| > 0.5 · contrast_threshold / S`.
/// Ordered by octave, scale, row, column.
pub fn find_extrema_cpu(space: &ScaleSpace, params: &SiftParams) -> Vec<Extremum> {
    let mut out = Vec::new();
    for (o, s, y) in extremum_rows(space, params) {
        extrema_in_row(space, params, o, s, y, &mut out);
    }
    out
}

/// Every `(octave, scale, row)` that [`extrema_in_row`] searches, in output order.
pub(crate) fn extremum_rows<'a>(
    space: &'a ScaleSpace,
    params: &SiftParams,
) -> impl Iterator<Item = (u32, u32, u32)> + 'a {
    let n = params.scales_per_octave;
    space.octaves.iter().enumerate().flat_map(move |(o, oct)| {
        let (w, h) = (oct.width, oct.height);
        let rows = if w <= 2 * IMG_BORDER || h <= 2 * IMG_BORDER {
            0..0
        } else {
            IMG_BORDER..h - IMG_BORDER
        };
        (1..=n).flat_map(move |s| rows.clone().map(move |y| (o as u32, s, y)))
    })
}

/// Appends the extrema of DoG scale `s` of octave `o` on row `y` (see [`find_extrema_cpu`]),
/// by column. The row must be one [`extremum_rows`] lists. Always inlined, so that a caller
/// compiled for AVX2 gets the row's first pass in its vectors.
#[inline(always)]
pub(crate) fn extrema_in_row<'a>(
    space: &'a ScaleSpace,
    params: &SiftParams,
    o: u32,
    s: u32,
    y: u32,
    out: &mut Vec<Extremum>,
) {
    let threshold = 0.5 * params.contrast_threshold / params.scales_per_octave as f32;
    let oct = &space.octaves[o as usize];
    let w = oct.width;
    let (prev, cur, next) = (
        &oct.dogs[s as usize - 1],
        &oct.dogs[s as usize],
        &oct.dogs[s as usize + 1],
    );
    let (x0, x1) = (IMG_BORDER as usize, (w - IMG_BORDER) as usize);
    let (w, row) = (w as usize, (y * w) as usize);
    // First, for the whole row at once (branch-free, so it vectorises): above the threshold and
    // a strict extremum of its own layer's eight neighbours, where most pixels fail.
    let n = x1 - x0;
    let band = |layer: &'a [f32], r: usize| &layer[r + x0 - 1..r + x1 + 1];
    let (up, mid, down) = (band(cur, row - w), band(cur, row), band(cur, row + w));
    let mut in_layer = vec![false; n];
    for k in 0..n {
        let v = mid[k + 1];
        let mut hi = larger(mid[k], mid[k + 2]);
        let mut lo = smaller(mid[k], mid[k + 2]);
        for a in [
            up[k],
            up[k + 1],
            up[k + 2],
            down[k],
            down[k + 1],
            down[k + 2],
        ] {
            hi = larger(hi, a);
            lo = smaller(lo, a);
        }
        in_layer[k] = (v.abs() > threshold) & (((v > 0.0) & (v > hi)) | ((v < 0.0) & (v < lo)));
    }
    // Then the 18 neighbours in the scales below and above, for those left.
    for k in (0..n).filter(|&k| in_layer[k]) {
        let (x, v) = (x0 + k, mid[k + 1]);
        let (below, above) = (around(prev, row + x, w), around(next, row + x, w));
        let extremum = if v > 0.0 {
            v > below.0 && v > above.0
        } else {
            v < below.1 && v < above.1
        };
        if extremum {
            out.push(Extremum {
                octave: o,
                scale: s,
                x: x as u32,
                y,
                value: v,
            });
        }
    }
}

#[inline(always)]
fn larger(a: f32, b: f32) -> f32 {
    if a > b {
        a
    } else {
        b
    }
}

#[inline(always)]
fn smaller(a: f32, b: f32) -> f32 {
    if a < b {
        a
    } else {
        b
    }
}

/// The largest and smallest of the 3×3 pixels of `layer` centred at index `i` (row width `w`).
#[inline(always)]
fn around(layer: &[f32], i: usize, w: usize) -> (f32, f32) {
    let (mut hi, mut lo) = (layer[i], layer[i]);
    for r in [i - w, i, i + w] {
        for &a in &layer[r - 1..r + 2] {
            hi = larger(hi, a);
            lo = smaller(lo, a);
        }
    }
    (hi, lo)
}
