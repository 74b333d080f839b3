//! Sub-pixel / sub-scale refinement of DoG extrema with the contrast and edge tests (OpenCV's
//! `adjustLocalExtrema`, on 0..1 images): the CPU reference of `refine/gpu.rs`.

use crate::features::sift::{find_extrema_cpu, Extremum, Keypoint, IMG_BORDER};
use crate::features::sift::{Octave, ScaleSpace, SiftParams};

/// Newton steps allowed in the refinement (OpenCV's `SIFT_MAX_INTERP_STEPS`).
pub const MAX_INTERP_STEPS: u32 = 5;

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

/// A refined extremum: the keypoint and the final integer sample `(x, y, s)` of its octave.
pub(crate) type Refined = (Keypoint, (i64, i64, i64));

/// [`refine_extremum_cpu`], also returning the final integer sample `(x, y, s)`.
pub(crate) fn refine(space: &ScaleSpace, e: &Extremum, params: &SiftParams) -> Option<Refined> {
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
    let extrema = find_extrema_cpu(space, params);
    keep_first_per_sample(extrema.iter().map(|e| refine(space, e, params)))
}

/// The refined keypoints in order, each sample (octave, scale, row, column) kept the first time
/// it appears (several extrema may converge to one).
pub(crate) fn keep_first_per_sample(
    refined: impl IntoIterator<Item = Option<Refined>>,
) -> Vec<Keypoint> {
    let mut seen = std::collections::HashSet::new();
    refined
        .into_iter()
        .flatten()
        .filter(|&(k, sample)| seen.insert((k.octave, sample)))
        .map(|(k, _)| k)
        .collect()
}
