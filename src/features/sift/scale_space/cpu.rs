//! The scale space on the CPU: [`SiftParams`], blur, resampling and [`build_scale_space_cpu`]
//! (the conventions are in the parent module's documentation).

/// Parameters of the SIFT detector and descriptor.
#[derive(Debug, Clone, PartialEq)]
pub struct SiftParams {
    /// Number of octaves; `None`: as long as the smaller side of the octave's base image is at
    /// least 16 px.
    pub octaves: Option<u32>,
    /// `S`, the number of scales per octave in which extrema are searched (3).
    pub scales_per_octave: u32,
    /// Blur of scale index 0 of each octave, in that octave's pixels (1.6).
    pub sigma0: f32,
    /// Blur already present in the input image (0.5).
    pub assumed_blur: f32,
    /// Double the input first (bilinear, [`upsample_cpu`]); the assumed blur doubles with it.
    pub upsample: bool,
    /// Contrast threshold as in OpenCV (0.04): extrema are kept when `|D(x̂)| ≥ c / S` after
    /// refinement; candidates are pre-filtered at `|D| > 0.5 · c / S`.
    pub contrast_threshold: f32,
    /// Edge threshold `r` (10): reject when `tr(H)² / det(H) ≥ (r+1)² / r` or `det(H) ≤ 0`.
    pub edge_threshold: f32,
    /// Keep only the strongest keypoints (by response `|D(x̂)|`) when set.
    pub max_features: Option<u32>,
    /// RootSIFT: after the usual SIFT normalisation, L1-normalise and take square roots.
    pub root_sift: bool,
}

impl Default for SiftParams {
    fn default() -> Self {
        Self {
            octaves: None,
            scales_per_octave: 3,
            sigma0: 1.6,
            assumed_blur: 0.5,
            upsample: false,
            contrast_threshold: 0.04,
            edge_threshold: 10.0,
            max_features: None,
            root_sift: false,
        }
    }
}

impl SiftParams {
    /// Factor from octave `octave`'s pixels to input pixels: `2^octave`, halved with `upsample`.
    /// A power of two, so conversions both ways are exact in f32.
    pub fn octave_factor(&self, octave: u32) -> f32 {
        let f = (1u64 << octave) as f32;
        if self.upsample {
            f * 0.5
        } else {
            f
        }
    }

    /// Blur of Gaussian image `s` of any octave, in that octave's pixels: `sigma0 · 2^(s/S)`.
    pub fn level_sigma(&self, s: f32) -> f32 {
        self.sigma0 * (s / self.scales_per_octave as f32).exp2()
    }
}

/// The whole scale space: one [`Octave`] per octave, finest first.
#[derive(Debug, Clone)]
pub struct ScaleSpace {
    /// The octaves, octave 0 (input resolution, or doubled with `upsample`) first.
    pub octaves: Vec<Octave>,
}

/// One octave: `S+3` Gaussian images and `S+2` DoG images, all `width × height`, row-major.
#[derive(Debug, Clone)]
pub struct Octave {
    /// Width of every image of this octave.
    pub width: u32,
    /// Height of every image of this octave.
    pub height: u32,
    /// `gaussians[s]` is blurred to `sigma0 · 2^(s/S)` octave pixels, `s = 0..=S+2`.
    pub gaussians: Vec<Vec<f32>>,
    /// `dogs[s] = gaussians[s+1] - gaussians[s]`, `s = 0..=S+1`.
    pub dogs: Vec<Vec<f32>>,
}

/// Normalised sampled Gaussian: radius `r = ceil(4σ)`, length `2r+1`, weights
/// `exp(-x² / (2σ²))` computed in f32, summed in index order and divided by that sum.
pub fn gaussian_kernel(sigma: f32) -> Vec<f32> {
    let radius = (4.0 * sigma).ceil().max(0.0) as i32;
    let denom = 2.0 * sigma * sigma;
    let mut k: Vec<f32> = (-radius..=radius)
        .map(|x| {
            let x = x as f32;
            (-(x * x) / denom).exp()
        })
        .collect();
    let sum: f32 = k.iter().sum();
    for w in &mut k {
        *w /= sum;
    }
    k
}

/// Separable Gaussian blur of a `w × h` row-major image: horizontal pass first, then vertical,
/// clamp-to-edge border, f32 accumulation in kernel order (`-r..=r`).
pub fn blur_cpu(img: &[f32], w: u32, h: u32, sigma: f32) -> Vec<f32> {
    let (w, h) = (w as usize, h as usize);
    assert_eq!(img.len(), w * h, "image size");
    let k = gaussian_kernel(sigma);
    let mut tmp = vec![0.0f32; w * h];
    let mut pad = Vec::new();
    for (row, out) in img.chunks_exact(w).zip(tmp.chunks_exact_mut(w)) {
        blur_row_h(row, &k, &mut pad, out);
    }
    let mut out = vec![0.0f32; w * h];
    for (y, row) in out.chunks_exact_mut(w).enumerate() {
        blur_row_v(&tmp, w, h, y, &k, row);
    }
    out
}

/// One row of [`blur_cpu`]'s horizontal pass: `out[x] = Σ_i k[i] · row[clamp(x + i - r)]`,
/// summed from `i = 0` up; `pad` is scratch.
#[inline(always)]
pub(crate) fn blur_row_h(row: &[f32], k: &[f32], pad: &mut Vec<f32>, out: &mut [f32]) {
    let (w, r) = (row.len(), k.len() / 2);
    let (Some(&first), Some(&last)) = (row.first(), row.last()) else {
        return;
    };
    pad.clear();
    pad.extend(std::iter::repeat_n(first, r));
    pad.extend_from_slice(row);
    pad.extend(std::iter::repeat_n(last, r));
    taps_in_registers(out, k, |i, x| &pad[x + i..x + i + w - x]);
}

/// Row `y` of [`blur_cpu`]'s vertical pass over the `w × h` image `tmp`:
/// `out[x] = Σ_i k[i] · tmp[clamp(y + i - r)][x]`, summed from `i = 0` up, row by row (each
/// tap streams a whole input row, which the cache prefetches better than a chunk's 15 rows).
#[inline(always)]
pub(crate) fn blur_row_v(tmp: &[f32], w: usize, h: usize, y: usize, k: &[f32], out: &mut [f32]) {
    let r = (k.len() / 2) as isize;
    for (i, &kw) in k.iter().enumerate() {
        let sy = (y as isize + i as isize - r).clamp(0, h as isize - 1) as usize;
        let taps = out.iter_mut().zip(&tmp[sy * w..(sy + 1) * w]);
        if i == 0 {
            // The sum starts from 0.0 (written out: `0.0 + x` is not `x` for `x = -0.0`).
            taps.for_each(|(o, &p)| *o = 0.0 + kw * p);
        } else {
            taps.for_each(|(o, &p)| *o += kw * p);
        }
    }
}

/// Output pixels a blur keeps in registers while it sums their taps.
const BLUR_CHUNK: usize = 32;

/// `out[x] = Σ_i k[i] · source(i, x0)[x - x0]` for each chunk of [`BLUR_CHUNK`] pixels starting
/// at `x0`, summed from `0.0` and `i = 0` up (the order a tap-by-tap pass over the row takes,
/// so the same bits), with the chunk's sums in registers rather than stored once per tap.
/// `source(i, x0)` is tap `i`'s input from pixel `x0` to the end of the row.
#[inline(always)]
fn taps_in_registers<'a>(out: &mut [f32], k: &[f32], source: impl Fn(usize, usize) -> &'a [f32]) {
    let full = out.len() / BLUR_CHUNK * BLUR_CHUNK;
    let mut chunks = out.chunks_exact_mut(BLUR_CHUNK);
    for (c, o) in chunks.by_ref().enumerate() {
        let x0 = c * BLUR_CHUNK;
        let mut acc = [0.0f32; BLUR_CHUNK];
        for (i, &kw) in k.iter().enumerate() {
            let src = &source(i, x0)[..BLUR_CHUNK];
            for (a, &p) in acc.iter_mut().zip(src) {
                *a += kw * p;
            }
        }
        o.copy_from_slice(&acc);
    }
    let rest = chunks.into_remainder();
    if rest.is_empty() {
        return;
    }
    rest.fill(0.0);
    for (i, &kw) in k.iter().enumerate() {
        for (o, &p) in rest.iter_mut().zip(source(i, full)) {
            *o += kw * p;
        }
    }
}

/// Keeps every second pixel (`x = 2i`, `y = 2j`): the result is `(w+1)/2 × (h+1)/2`, so output
/// pixel `(i, j)` sits at input pixel `(2i, 2j)`.
pub fn downsample_cpu(img: &[f32], w: u32, h: u32) -> (Vec<f32>, u32, u32) {
    assert_eq!(img.len(), (w * h) as usize, "image size");
    let (w2, h2) = (w.div_ceil(2), h.div_ceil(2));
    let mut out = Vec::with_capacity((w2 * h2) as usize);
    for j in 0..h2 {
        for i in 0..w2 {
            out.push(img[(2 * j * w + 2 * i) as usize]);
        }
    }
    (out, w2, h2)
}

/// Bilinear doubling to `2w × 2h`, aligned so that output pixel `(2i, 2j)` is input pixel
/// `(i, j)` (output `x'` samples input `x'/2`, clamp to edge): even/even copies, odd columns or
/// rows are `(a + b) · 0.5`, odd/odd `(a + b + c + d) · 0.25`. Input coordinates are therefore
/// output coordinates × 0.5 exactly.
pub fn upsample_cpu(img: &[f32], w: u32, h: u32) -> (Vec<f32>, u32, u32) {
    assert_eq!(img.len(), (w * h) as usize, "image size");
    let (w, h) = (w as usize, h as usize);
    let at = |x: usize, y: usize| img[y.min(h - 1) * w + x.min(w - 1)];
    let mut out = Vec::with_capacity(4 * w * h);
    for y2 in 0..2 * h {
        let (y, oy) = (y2 / 2, y2 % 2 == 1);
        for x2 in 0..2 * w {
            let (x, ox) = (x2 / 2, x2 % 2 == 1);
            out.push(match (ox, oy) {
                (false, false) => at(x, y),
                (true, false) => (at(x, y) + at(x + 1, y)) * 0.5,
                (false, true) => (at(x, y) + at(x, y + 1)) * 0.5,
                (true, true) => (at(x, y) + at(x + 1, y) + at(x, y + 1) + at(x + 1, y + 1)) * 0.25,
            });
        }
    }
    (out, 2 * w as u32, 2 * h as u32)
}

/// Blur applied to octave 0's input: `sqrt(max(sigma0² - b², 0.01))` with `b` the assumed blur
/// (doubled with `upsample`).
pub fn initial_blur_sigma(params: &SiftParams) -> f32 {
    let b = if params.upsample {
        2.0 * params.assumed_blur
    } else {
        params.assumed_blur
    };
    (params.sigma0 * params.sigma0 - b * b).max(0.01).sqrt()
}

/// Blur taking Gaussian image `s-1` to image `s` (`s ≥ 1`):
/// `sigma0 · sqrt(2^(2s/S) - 2^(2(s-1)/S))`, in f32.
pub fn incremental_sigma(params: &SiftParams, s: u32) -> f32 {
    let n = params.scales_per_octave as f32;
    let hi = (2.0 * s as f32 / n).exp2();
    let lo = (2.0 * (s as f32 - 1.0) / n).exp2();
    params.sigma0 * (hi - lo).sqrt()
}

/// Number of octaves [`build_scale_space_cpu`] makes for a (possibly upsampled) `w × h` base.
pub fn octave_count(w: u32, h: u32, params: &SiftParams) -> u32 {
    if let Some(n) = params.octaves {
        return n;
    }
    let (mut w, mut h, mut n) = (w, h, 0);
    while w.min(h) >= 16 {
        n += 1;
        w = w.div_ceil(2);
        h = h.div_ceil(2);
    }
    n
}

/// Builds the Gaussian and DoG pyramids of a `w × h` gray image (values in 0..1) with the
/// conventions in the module docs.
pub fn build_scale_space_cpu(gray: &[f32], w: u32, h: u32, params: &SiftParams) -> ScaleSpace {
    build_scale_space_with(gray, w, h, params, &blur_cpu, &|a, b| {
        b.iter().zip(a).map(|(b, a)| b - a).collect()
    })
}

/// A blur as [`blur_cpu`]: `(image, w, h, sigma)` to the blurred image.
pub(crate) type BlurFn = dyn Fn(&[f32], u32, u32, f32) -> Vec<f32>;
/// A difference of Gaussians: `(a, b)` to `b - a` per pixel.
pub(crate) type DogFn = dyn Fn(&[f32], &[f32]) -> Vec<f32>;

/// [`build_scale_space_cpu`] with the blur and the difference (`dog(a, b) = b - a` per pixel)
/// supplied, so a faster implementation of both builds the same pyramid.
pub(crate) fn build_scale_space_with(
    gray: &[f32],
    w: u32,
    h: u32,
    params: &SiftParams,
    blur: &BlurFn,
    dog: &DogFn,
) -> ScaleSpace {
    assert_eq!(gray.len(), (w * h) as usize, "image size");
    assert!(params.scales_per_octave >= 1, "scales_per_octave >= 1");
    let (base, mut w, mut h) = if params.upsample {
        upsample_cpu(gray, w, h)
    } else {
        (gray.to_vec(), w, h)
    };
    let n_oct = octave_count(w, h, params);
    let levels = params.scales_per_octave + 3;
    let incs: Vec<f32> = (1..levels).map(|s| incremental_sigma(params, s)).collect();
    let mut octaves: Vec<Octave> = Vec::with_capacity(n_oct as usize);
    for o in 0..n_oct {
        let first = match octaves.last() {
            None => blur(&base, w, h, initial_blur_sigma(params)),
            Some(prev) => {
                let (d, w2, h2) = downsample_cpu(
                    &prev.gaussians[params.scales_per_octave as usize],
                    prev.width,
                    prev.height,
                );
                (w, h) = (w2, h2);
                d
            }
        };
        debug_assert!(o == 0 || first.len() == (w * h) as usize);
        let mut gaussians = vec![first];
        for &sigma in &incs {
            let next = blur(gaussians.last().expect("one level"), w, h, sigma);
            gaussians.push(next);
        }
        let dogs = gaussians.windows(2).map(|p| dog(&p[0], &p[1])).collect();
        octaves.push(Octave {
            width: w,
            height: h,
            gaussians,
            dogs,
        });
    }
    ScaleSpace { octaves }
}
