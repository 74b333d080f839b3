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
/// by column. The row must be one [`extremum_rows`] lists.
pub(crate) fn extrema_in_row(
    space: &ScaleSpace,
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
    let (wi, layers) = (w as isize, [prev, cur, next]);
    // The 26 neighbours as (layer, offset): the same layer's row first, where most candidates
    // fail, so the test usually ends after a comparison or two.
    let mut neighbours = [(1usize, -1isize), (1, 1)].to_vec();
    neighbours.extend([-wi - 1, -wi, -wi + 1, wi - 1, wi, wi + 1].map(|d| (1, d)));
    for layer in [0, 2] {
        neighbours
            .extend([0, -1, 1, -wi - 1, -wi, -wi + 1, wi - 1, wi, wi + 1].map(|d| (layer, d)));
    }
    for x in IMG_BORDER..w - IMG_BORDER {
        let i = (y * w + x) as usize;
        let v = cur[i];
        if v.abs() <= threshold {
            continue;
        }
        let at = |&(layer, d): &(usize, isize)| layers[layer][(i as isize + d) as usize];
        let is_max = v > 0.0 && neighbours.iter().all(|n| v > at(n));
        let is_min = v < 0.0 && neighbours.iter().all(|n| v < at(n));
        if is_max || is_min {
            out.push(Extremum {
                octave: o,
                scale: s,
                x,
                y,
                value: v,
            });
        }
    }
}
