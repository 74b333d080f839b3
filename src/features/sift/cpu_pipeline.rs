//! [`detect_and_describe_native`]: the whole SIFT pipeline natively on the CPU, for machines
//! whose only adapter is a software one (lavapipe runs the WGSL kernels some ten times slower).
//! The stage references' own per-row and per-keypoint functions, run over the cores with rayon,
//! and compiled for AVX2 where the CPU has it: the scale space and the located keypoints of
//! [`detect_and_describe_float_cpu`](super::detect_and_describe_float_cpu) bit for bit (Rust
//! never fuses multiply-adds, so the wider vectors sum in the same order); the orientation and
//! descriptor windows take `exp` and `atan2` from [`FastMath`] (within 1e-6 of the standard
//! library's), so orientations and descriptors agree to about 1e-5.

use rayon::prelude::*;

use super::descriptor::describe_keypoint;
use super::extrema::{extrema_in_row, extremum_rows};
use super::orientation::{orient_keypoint, WindowSamples};
use super::patch_math::FastMath;
use super::refine::{keep_first_per_sample, refine};
use super::scale_space::{blur_row_h, blur_row_v, build_scale_space_with};
use super::{gaussian_kernel, retain_strongest, Keypoint, ScaleSpace, SiftParams};
use crate::features::DESCRIPTOR_BYTES;

/// Input the native pipeline refuses (it would not describe an image).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SiftInputError {
    /// The pixel buffer does not hold `w × h` pixels, or the image is empty.
    #[error("{pixels} pixels for a {width}x{height} image")]
    Size {
        pixels: usize,
        width: u32,
        height: u32,
    },
    /// `scales_per_octave` is 0.
    #[error("SIFT needs at least one scale per octave")]
    NoScales,
}

/// Keypoints and float (unit-norm) descriptors of a `w × h` gray image (values in 0..1), those
/// of [`detect_and_describe_float_cpu`](super::detect_and_describe_float_cpu) (see the module
/// docs for how closely), computed over every core.
pub fn detect_and_describe_native(
    gray: &[f32],
    w: u32,
    h: u32,
    params: &SiftParams,
) -> Result<(Vec<Keypoint>, Vec<[f32; DESCRIPTOR_BYTES]>), SiftInputError> {
    if w == 0 || h == 0 || gray.len() as u64 != w as u64 * h as u64 {
        return Err(SiftInputError::Size {
            pixels: gray.len(),
            width: w,
            height: h,
        });
    }
    if params.scales_per_octave == 0 {
        return Err(SiftInputError::NoScales);
    }
    let space = build_scale_space_native(gray, w, h, params);
    let located = localize_keypoints_native(&space, params);
    let orient = |located: &[Keypoint]| {
        located
            .par_iter()
            .map_init(WindowSamples::default, |samples, kp| {
                orient_fast(&space, kp, params, samples)
            })
            .collect::<Vec<_>>()
            .concat()
    };
    let keypoints = match params.max_features {
        Some(max) => strongest_oriented(located, max as usize, orient),
        None => orient(&located),
    };
    // Described in raster order of their Gaussian image, so that neighbouring windows share
    // rows in the cache (the strongest-first order jumps across a 25 MB octave every time).
    let mut order: Vec<usize> = (0..keypoints.len()).collect();
    order.sort_by(|&a, &b| {
        let (ka, kb) = (&keypoints[a], &keypoints[b]);
        (ka.octave, ka.scale, ka.y.floor() as i64)
            .cmp(&(kb.octave, kb.scale, kb.y.floor() as i64))
            .then(ka.x.total_cmp(&kb.x))
    });
    let in_raster_order: Vec<[f32; DESCRIPTOR_BYTES]> = order
        .par_iter()
        .map_init(WindowSamples::default, |samples, &i| {
            describe_fast(&space, &keypoints[i], params, samples)
        })
        .collect();
    let mut descriptors = vec![[0.0; DESCRIPTOR_BYTES]; keypoints.len()];
    for (&i, d) in order.iter().zip(in_raster_order) {
        descriptors[i] = d;
    }
    Ok((keypoints, descriptors))
}

/// What [`retain_strongest`] keeps of all of `located`'s orientations (`orient` of them in
/// order), orienting only as many as it needs: the strongest first, a batch at a time, until
/// `max` oriented keypoints are in. Stable sorting makes that the same cut: the strongest
/// oriented keypoints are, in order, the orientations of the located ones taken strongest
/// first (ties in their located order).
fn strongest_oriented(
    mut located: Vec<Keypoint>,
    max: usize,
    orient: impl Fn(&[Keypoint]) -> Vec<Keypoint>,
) -> Vec<Keypoint> {
    located.sort_by(|a, b| b.response.total_cmp(&a.response));
    let mut out = Vec::with_capacity(max);
    let mut rest = located.as_slice();
    while out.len() < max && !rest.is_empty() {
        let (batch, after) = rest.split_at((max - out.len()).min(rest.len()));
        out.extend(orient(batch));
        rest = after;
    }
    retain_strongest(&mut out, max);
    out
}

/// [`build_scale_space_cpu`](super::build_scale_space_cpu)'s pyramid, its blurs and
/// differences split by rows over the cores.
pub fn build_scale_space_native(gray: &[f32], w: u32, h: u32, params: &SiftParams) -> ScaleSpace {
    build_scale_space_with(gray, w, h, params, &blur_native, &|a, b| {
        let mut out = vec![0.0f32; b.len()];
        out.par_chunks_mut(PIXELS_PER_TASK)
            .zip(a.par_chunks(PIXELS_PER_TASK))
            .zip(b.par_chunks(PIXELS_PER_TASK))
            .for_each(|((o, a), b)| {
                for ((o, a), b) in o.iter_mut().zip(a).zip(b) {
                    *o = b - a;
                }
            });
        out
    })
}

/// Pixels per rayon task in the difference of Gaussians.
const PIXELS_PER_TASK: usize = 1 << 16;

/// Rows per rayon task in the blur: a few dozen tasks per image on any core count.
const ROWS_PER_TASK: usize = 16;

/// [`blur_cpu`](super::blur_cpu) over the cores: the same row passes, so the same bits.
fn blur_native(img: &[f32], w: u32, h: u32, sigma: f32) -> Vec<f32> {
    let (w, h) = (w as usize, h as usize);
    let k = gaussian_kernel(sigma);
    let mut tmp = vec![0.0f32; w * h];
    tmp.par_chunks_mut(w * ROWS_PER_TASK)
        .zip(img.par_chunks(w * ROWS_PER_TASK))
        .for_each(|(out, src)| rows_h(src, out, w, &k));
    let mut out = vec![0.0f32; w * h];
    out.par_chunks_mut(w * ROWS_PER_TASK)
        .enumerate()
        .for_each(|(t, rows)| rows_v(&tmp, rows, w, h, t * ROWS_PER_TASK, &k));
    out
}

/// The horizontal pass over a band of rows (`src` and `out` hold the same rows).
fn rows_h(src: &[f32], out: &mut [f32], w: usize, k: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2 (checked just above).
        return unsafe { rows_h_avx2(src, out, w, k) };
    }
    rows_h_generic(src, out, w, k)
}

/// The vertical pass for the band `rows` of the output, whose first row is `y0`.
fn rows_v(tmp: &[f32], rows: &mut [f32], w: usize, h: usize, y0: usize, k: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2 (checked just above).
        return unsafe { rows_v_avx2(tmp, rows, w, h, y0, k) };
    }
    rows_v_generic(tmp, rows, w, h, y0, k)
}

#[inline(always)]
fn rows_h_generic(src: &[f32], out: &mut [f32], w: usize, k: &[f32]) {
    let mut pad = Vec::with_capacity(w + k.len());
    for (row, o) in src.chunks_exact(w).zip(out.chunks_exact_mut(w)) {
        blur_row_h(row, k, &mut pad, o);
    }
}

#[inline(always)]
fn rows_v_generic(tmp: &[f32], rows: &mut [f32], w: usize, h: usize, y0: usize, k: &[f32]) {
    for (dy, row) in rows.chunks_exact_mut(w).enumerate() {
        blur_row_v(tmp, w, h, y0 + dy, k, row);
    }
}

/// [`rows_h_generic`] compiled for AVX2.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn rows_h_avx2(src: &[f32], out: &mut [f32], w: usize, k: &[f32]) {
    rows_h_generic(src, out, w, k)
}

/// [`rows_v_generic`] compiled for AVX2.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn rows_v_avx2(tmp: &[f32], rows: &mut [f32], w: usize, h: usize, y0: usize, k: &[f32]) {
    rows_v_generic(tmp, rows, w, h, y0, k)
}

/// [`orient_keypoint`] with [`FastMath`], compiled for AVX2 where the CPU has it.
fn orient_fast(
    space: &ScaleSpace,
    kp: &Keypoint,
    params: &SiftParams,
    samples: &mut WindowSamples,
) -> Vec<Keypoint> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2 (checked just above).
        return unsafe { orient_avx2(space, kp, params, samples) };
    }
    orient_keypoint(space, kp, params, samples, &FastMath).collect()
}

/// [`orient_keypoint`] with [`FastMath`] compiled for AVX2.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn orient_avx2(
    space: &ScaleSpace,
    kp: &Keypoint,
    params: &SiftParams,
    samples: &mut WindowSamples,
) -> Vec<Keypoint> {
    orient_keypoint(space, kp, params, samples, &FastMath).collect()
}

/// [`describe_keypoint`] with [`FastMath`], compiled for AVX2 where the CPU has it.
fn describe_fast(
    space: &ScaleSpace,
    kp: &Keypoint,
    params: &SiftParams,
    samples: &mut WindowSamples,
) -> [f32; DESCRIPTOR_BYTES] {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2 (checked just above).
        return unsafe { describe_avx2(space, kp, params, samples) };
    }
    describe_keypoint(space, kp, params, samples, &FastMath)
}

/// [`describe_keypoint`] with [`FastMath`] compiled for AVX2.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn describe_avx2(
    space: &ScaleSpace,
    kp: &Keypoint,
    params: &SiftParams,
    samples: &mut WindowSamples,
) -> [f32; DESCRIPTOR_BYTES] {
    describe_keypoint(space, kp, params, samples, &FastMath)
}

/// [`extrema_in_row`] for each of `rows`, compiled for AVX2 where the CPU has it.
fn extrema_in_rows(
    space: &ScaleSpace,
    params: &SiftParams,
    rows: &[(u32, u32, u32)],
    out: &mut Vec<super::extrema::Extremum>,
) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2 (checked just above).
        return unsafe { extrema_in_rows_avx2(space, params, rows, out) };
    }
    for &(o, s, y) in rows {
        extrema_in_row(space, params, o, s, y, out);
    }
}

/// [`extrema_in_rows`] compiled for AVX2.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn extrema_in_rows_avx2(
    space: &ScaleSpace,
    params: &SiftParams,
    rows: &[(u32, u32, u32)],
    out: &mut Vec<super::extrema::Extremum>,
) {
    for &(o, s, y) in rows {
        extrema_in_row(space, params, o, s, y, out);
    }
}

/// [`localize_keypoints_cpu`](super::localize_keypoints_cpu) over the cores: extrema row by
/// row, then each refined, in the reference's order (so its duplicates drop the same way).
pub fn localize_keypoints_native(space: &ScaleSpace, params: &SiftParams) -> Vec<Keypoint> {
    let rows: Vec<(u32, u32, u32)> = extremum_rows(space, params).collect();
    let extrema = rows
        .par_chunks(ROWS_PER_TASK)
        .map(|band| {
            let mut out = Vec::new();
            extrema_in_rows(space, params, band, &mut out);
            out
        })
        .collect::<Vec<_>>()
        .concat();
    let refined: Vec<_> = extrema
        .par_iter()
        .map(|e| refine(space, e, params))
        .collect();
    keep_first_per_sample(refined)
}
