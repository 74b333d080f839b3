//! Pixel work on decoded photos, portable: OpenCV's `cv2.undistort` reproduced step for step,
//! an integer area downscale, and packing RGBA8 into `u32`s for the GPU.
//!
//! `cv2.undistort(img, K, dist)` (OpenCV 4.x) builds the map of `initUndistortRectifyMap` with
//! the output camera K in its fixed-point form (`CV_16SC2`: source positions in 1/32 pixel,
//! rounded to nearest, ties to even) and runs `remap(..., INTER_LINEAR, BORDER_CONSTANT)`:
//! for output pixel (x, y), with pixel centres at integer coordinates,
//! 1. normalised point `((x − cx)/fx, (y − cy)/fy)`;
//! 2. distorted by the camera model, back to pixels with the same K: source `(u, v)`;
//! 3. `iu = round(32u)`, `iv = round(32v)`; integer part `iu >> 5`, fraction `iu & 31`;
//! 4. bilinear weights `(32 − a)(32 − b)`, `a(32 − b)`, ... (sum 1024) on the four neighbours,
//!    neighbours outside the photo count as 0 (black), result `(Σ w·p + 512) >> 10`.
//!
//! Step 2 uses [`crate::sfm::Camera::normalized_to_image`], whose OPENCV model is the same
//! polynomial as OpenCV's (k1, k2, p1, p2; k3 = 0), evaluated in f64 like OpenCV's; the two can
//! differ only where a source position falls within ~1e-12 px of a rounding boundary.
//!
//! The same pixel-centre convention is used for COLMAP models (COLMAP's own convention puts
//! centres at +0.5; the difference is 0.5·|∂distortion/∂pixel| px, under 0.01 px for real
//! lenses), so one code path serves both dataset kinds and matches the peer exactly.

use nalgebra::Vector2;

use crate::sfm::Camera as SfmCamera;

/// Subpixel positions per pixel in OpenCV's fixed-point remap (`INTER_TAB_SIZE`, 5 bits).
pub const SUBPIXEL_STEPS: i32 = 32;

/// Whether `camera` has nonzero distortion coefficients (pinhole models never do).
pub fn has_distortion(camera: &SfmCamera) -> bool {
    camera
        .model
        .extra_indices()
        .iter()
        .any(|&i| camera.params.get(i).is_some_and(|&k| k != 0.0))
}

/// Where output pixel `(x, y)` samples the distorted photo, in 1/32 pixel, exactly as OpenCV's
/// `initUndistortRectifyMap` stores it for `CV_16SC2` (`saturate_cast<int>(u·32)`: nearest,
/// ties to even, clamped to `i32`; NaN maps to `i32::MIN`, outside any photo).
pub fn source_position_fixed(camera: &SfmCamera, x: u32, y: u32) -> (i32, i32) {
    let (f, c) = (camera.focal_lengths(), camera.principal_point());
    let normalized = Vector2::new((f64::from(x) - c.x) / f.x, (f64::from(y) - c.y) / f.y);
    let p = camera.normalized_to_image(&normalized);
    (fixed(p.x), fixed(p.y))
}

/// `saturate_cast<int>(v · 32)`.
fn fixed(v: f64) -> i32 {
    let s = (v * f64::from(SUBPIXEL_STEPS)).round_ties_even();
    if s.is_nan() {
        i32::MIN
    } else {
        s.clamp(f64::from(i32::MIN), f64::from(i32::MAX)) as i32
    }
}

/// `cv2.undistort` of a `width × height` RGBA8 photo taken by `camera` (its size must be the
/// photo's; the caller checks): same K for the output, every channel (alpha too) sampled as
/// the module notes say. Returns `width × height × 4` bytes.
pub fn undistort_rgba8(rgba8: &[u8], width: u32, height: u32, camera: &SfmCamera) -> Vec<u8> {
    let (w, h) = (width as usize, height as usize);
    let mut out = vec![0u8; w * h * 4];
    if rgba8.len() < w * h * 4 {
        return out;
    }
    let pixel = |sx: i32, sy: i32| -> [u32; 4] {
        if sx < 0 || sy < 0 || sx as usize >= w || sy as usize >= h {
            return [0; 4];
        }
        let k = (sy as usize * w + sx as usize) * 4;
        std::array::from_fn(|c| u32::from(rgba8[k + c]))
    };
    let mask = SUBPIXEL_STEPS - 1;
    for (y, row) in out.chunks_exact_mut(w * 4).enumerate() {
        for (x, dst) in row.chunks_exact_mut(4).enumerate() {
            let (iu, iv) = source_position_fixed(camera, x as u32, y as u32);
            let (sx, sy) = (iu >> 5, iv >> 5);
            let (a, b) = ((iu & mask) as u32, (iv & mask) as u32);
            let (na, nb) = (SUBPIXEL_STEPS as u32 - a, SUBPIXEL_STEPS as u32 - b);
            // Positions far outside never reach the photo (also avoids overflow of sx + 1).
            if sx < -1 || sy < -1 || sx >= w as i32 || sy >= h as i32 {
                continue;
            }
            let (p00, p10) = (pixel(sx, sy), pixel(sx + 1, sy));
            let (p01, p11) = (pixel(sx, sy + 1), pixel(sx + 1, sy + 1));
            for c in 0..4 {
                let acc = na * nb * p00[c] + a * nb * p10[c] + na * b * p01[c] + a * b * p11[c];
                dst[c] = ((acc + 512) >> 10) as u8;
            }
        }
    }
    out
}

/// Area-average downscale of a `width × height` RGBA8 image by the integer `factor`: output
/// pixel (i, j) is the mean of input pixels `[f·i, f·i + f) × [f·j, f·j + f)` rounded to
/// nearest (half up); a right / bottom remainder narrower than `factor` is dropped, so the
/// intrinsics scale by exactly `1/factor` (pixel (px, py) covering `[px, px + 1)`). Returns the
/// pixels and the new size; `factor` ≤ 1 copies.
pub fn downscale_rgba8(rgba8: &[u8], width: u32, height: u32, factor: u32) -> (Vec<u8>, u32, u32) {
    if factor <= 1 {
        return (rgba8.to_vec(), width, height);
    }
    let (w, f) = (width as usize, factor as usize);
    let (ow, oh) = (width / factor, height / factor);
    let area = (f * f) as u32;
    let mut out = vec![0u8; ow as usize * oh as usize * 4];
    if rgba8.len() < w * height as usize * 4 {
        return (out, ow, oh);
    }
    let mut sums = vec![0u32; ow as usize * 4];
    for (oy, out_row) in out.chunks_exact_mut(ow as usize * 4).enumerate() {
        sums.fill(0);
        for y in oy * f..(oy + 1) * f {
            let row = &rgba8[y * w * 4..(y * w + ow as usize * f) * 4];
            for (ox, block) in row.chunks_exact(f * 4).enumerate() {
                for px in block.chunks_exact(4) {
                    for c in 0..4 {
                        sums[ox * 4 + c] += u32::from(px[c]);
                    }
                }
            }
        }
        for (dst, &s) in out_row.iter_mut().zip(&sums) {
            *dst = ((s + area / 2) / area) as u8;
        }
    }
    (out, ow, oh)
}

/// RGBA8 bytes packed four to a `u32`, R in the low byte (the GPU's `array<u32>` of pixels).
pub fn pack_rgba8(rgba8: &[u8]) -> Vec<u32> {
    rgba8
        .chunks_exact(4)
        .map(|p| u32::from_le_bytes([p[0], p[1], p[2], p[3]]))
        .collect()
}
