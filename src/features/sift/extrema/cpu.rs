//! DoG extrema: detection, sub-pixel / sub-scale refinement, contrast and edge tests
//! (OpenCV's `findScaleSpaceExtrema` / `adjustLocalExtrema`, on 0..1 images).

use super::scale_space::{Octave, ScaleSpace, SiftParams};

/// Pixels skipped at every octave border (OpenCV's `SIFT_IMG_BORDER`).
pub const IMG_BORDER: u32 = 5;
/// Newton steps allowed in the refinement (OpenCV's `SIFT_MAX_INTERP_STEPS`).
pub const MAX_INTERP_STEPS: u32 = 5;

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
    let n = params.scales_per_octave;
    let threshold = 0.5 * params.contrast_threshold / n as f32;
    let mut out = Vec::new();
    for (o, oct) in space.octaves.iter().enumerate() {
        let (w, h) = (oct.width, oct.height);
        if w <= 2 * IMG_BORDER || h <= 2 * IMG_BORDER {
            continue;
        }
        for s in 1..=n {
            let (prev, cur, next) = (
                &oct.dogs[s as usize - 1],
                &oct.dogs[s as usize],
                &oct.dogs[s as usize + 1],
            );
            for y in IMG_BORDER..h - IMG_BORDER {
                for x in IMG_BORDER..w - IMG_BORDER {
                    let i = (y * w + x) as usize;
                    let v = cur[i];
                    if v.abs() <= threshold {
                        continue;
                    }
                    let wu = w as usize;
                    let neighbours = [i - wu - 1, i - wu, i - wu + 1, i - 1, i, i + 1]
                        .into_iter()
                        .chain([i + wu - 1, i + wu, i + wu + 1]);
                    let mut is_max = v > 0.0;
                    let mut is_min = v < 0.0;
                    for j in neighbours {
                        for (layer, same) in [(prev, false), (cur, true), (next, false)] {
                            if same && j == i {
                                continue;
                            }
                            let u = layer[j];
                            is_max &= v > u;
                            is_min &= v < u;
                        }
                    }
                    if is_max || is_min {
                        out.push(Extremum {
                            octave: o as u32,
                            scale: s,
                            x,
                            y,
                            value: v,
                        });
                    }
                }
            }
        }
    }
    out
}

/// Gradient `[Dx, Dy, Ds]` and Hessian of the DoG at an integer sample, central differences.
fn derivatives(oct: &Octave, s: usize, x: usize, y: usize) -> ([f32; 3], [[f32; 3]; 3]) {
    let w = oct.width as usize;
    let (p, c, n) = (&oct.dogs[s - 1], &oct.dogs[s], &oct.dogs[s + 1]);
    let at = |img: &Vec<f32>, dx: isize, dy: isize| {
        img[(y as isize + dy) as usize * w + (x as isize + dx) as usize]
    };
    let v2 = at(c, 0, 0) * 2.0;
    let g = [
        (at(c, 1, 0) - at(c, -1, 0)) * 0.5,
        (at(c, 0, 1) - at(c, 0, -1)) * 0.5,
        (at(n, 0, 0) - at(p, 0, 0)) * 0.5,
    ];
    let dxx = at(c, 1, 0) + at(c, -1, 0) - v2;
    let dyy = at(c, 0, 1) + at(c, 0, -1) - v2;
    let dss = at(n, 0, 0) + at(p, 0, 0) - v2;
    let dxy = (at(c, 1, 1) - at(c, -1, 1) - at(c, 1, -1) + at(c, -1, -1)) * 0.25;
    let dxs = (at(n, 1, 0) - at(n, -1, 0) - at(p, 1, 0) + at(p, -1, 0)) * 0.25;
    let dys = (at(n, 0, 1) - at(n, 0, -1) - at(p, 0, 1) + at(p, 0, -1)) * 0.25;
    (g, [[dxx, dxy, dxs], [dxy, dyy, dys], [dxs, dys, dss]])
}

/// Solves `H · X = g` for symmetric 3×3 `H` by the adjugate (Cramer's rule); `None` when singular.
fn solve3(h: &[[f32; 3]; 3], g: &[f32; 3]) -> Option<[f32; 3]> {
    let det = |m: &[[f32; 3]; 3]| {
        m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
            - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    };
    let d = det(h);
    if d == 0.0 || !d.is_finite() {
        return None;
    }
    let mut x = [0.0f32; 3];
    for (k, xk) in x.iter_mut().enumerate() {
        let mut m = *h;
        for (row, &gi) in m.iter_mut().zip(g) {
            row[k] = gi;
        }
        *xk = det(&m) / d;
    }
    Some(x)
}

/// Refines an extremum as OpenCV's `adjustLocalExtrema`: up to [`MAX_INTERP_STEPS`] Newton
/// steps on the quadratic model `D + g·X + ½ XᵀHX`, offset `X = -H⁻¹g`; while any component of
/// `X` has magnitude ≥ 0.5 the sample moves by `round(X)` (half away from zero). Discarded when it
/// leaves `s ∈ 1..=S` or the `IMG_BORDER` margin, when `H` is singular, when it does not converge,
/// when `|D(x̂)| = |D + ½ g·X| < contrast_threshold / S`, or when the 2×2 spatial Hessian fails
/// the edge test (`det ≤ 0` or `tr² · r ≥ (r+1)² · det`). The returned keypoint has
/// orientation 0.
pub fn refine_extremum_cpu(
    space: &ScaleSpace,
    e: &Extremum,
    params: &SiftParams,
) -> Option<Keypoint> {
    refine(space, e, params).map(|(k, _)| k)
}

/// [`refine_extremum_cpu`], also returning the final integer sample `(x, y, s)`.
fn refine(
    space: &ScaleSpace,
    e: &Extremum,
    params: &SiftParams,
) -> Option<(Keypoint, (i64, i64, i64))> {
    let oct = &space.octaves[e.octave as usize];
    let n = params.scales_per_octave as i64;
    let (w, h) = (oct.width as i64, oct.height as i64);
    let b = IMG_BORDER as i64;
    let (mut x, mut y, mut s) = (e.x as i64, e.y as i64, e.scale as i64);
    let mut offset = None;
    for _ in 0..MAX_INTERP_STEPS {
        let (g, hess) = derivatives(oct, s as usize, x as usize, y as usize);
        let sol = solve3(&hess, &g)?;
        let off = sol.map(|v| -v);
        if off.iter().all(|v| v.abs() < 0.5) {
            offset = Some((off, g, hess));
            break;
        }
        if off
            .iter()
            .any(|v| !v.is_finite() || v.abs() > (i32::MAX / 3) as f32)
        {
            return None;
        }
        x += off[0].round() as i64;
        y += off[1].round() as i64;
        s += off[2].round() as i64;
        if s < 1 || s > n || x < b || x >= w - b || y < b || y >= h - b {
            return None;
        }
    }
    let (off, g, hess) = offset?;
    let v = oct.dogs[s as usize][(y * w + x) as usize];
    let contrast = v + 0.5 * (g[0] * off[0] + g[1] * off[1] + g[2] * off[2]);
    if contrast.abs() * (n as f32) < params.contrast_threshold {
        return None;
    }
    let (dxx, dyy, dxy) = (hess[0][0], hess[1][1], hess[0][1]);
    let tr = dxx + dyy;
    let det = dxx * dyy - dxy * dxy;
    let r = params.edge_threshold;
    if det <= 0.0 || tr * tr * r >= (r + 1.0) * (r + 1.0) * det {
        return None;
    }
    let f = params.octave_factor(e.octave);
    let kp = Keypoint {
        x: (x as f32 + off[0]) * f,
        y: (y as f32 + off[1]) * f,
        sigma: params.level_sigma(s as f32 + off[2]) * f,
        orientation: 0.0,
        response: contrast.abs(),
        octave: e.octave,
        scale: s as u32,
    };
    Some((kp, (x, y, s)))
}

/// Detection and refinement of every extremum; keypoints that converge to the same sample
/// (octave, scale, row, column) are kept once. Orientation is 0.
pub fn localize_keypoints_cpu(space: &ScaleSpace, params: &SiftParams) -> Vec<Keypoint> {
    let mut seen = std::collections::HashSet::new();
    find_extrema_cpu(space, params)
        .iter()
        .filter_map(|e| refine(space, e, params).map(|r| (e.octave, r)))
        .filter(|&(o, (_, sample))| seen.insert((o, sample)))
        .map(|(_, (k, _))| k)
        .collect()
}
