//! A short test video: a splat scene rendered by the CPU reference renderer from a camera
//! circling it, some frames deliberately blurred, encoded by `ffmpeg`. Each window of
//! [`FRAMES_PER_WINDOW`] frames holds exactly one sharp frame, at a position that changes from
//! window to window, so "the sharpest frame of each window" has one right answer per window.

use std::path::{Path, PathBuf};
use std::process::Command;

use glam::Vec3;
use rand::{rngs::SmallRng, Rng, SeedableRng};
use splatpod::formats::{logit, GaussianScene, SH_C0};
use splatpod::render::{render_cpu, Camera, NEAR_PLANE};

pub const WIDTH: u32 = 320;
pub const HEIGHT: u32 = 240;
pub const FPS: u32 = 15;
/// 4 s at 15 fps.
pub const FRAMES: usize = 60;
/// Windows of this many frames (60 / 6 = 10 windows) hold one sharp frame each.
pub const FRAMES_PER_WINDOW: usize = 6;

/// The sharp frame of window `w`.
pub fn sharp_frame(w: usize) -> usize {
    w * FRAMES_PER_WINDOW + (w * 5 + 2) % FRAMES_PER_WINDOW
}

/// Whether frame `i` was left sharp.
pub fn is_sharp(i: usize) -> bool {
    sharp_frame(i / FRAMES_PER_WINDOW) == i
}

/// Coloured splats in a ball, large ones for shape and many small ones for fine texture (so a
/// blurred frame loses a lot of its Laplacian variance).
fn scene() -> GaussianScene {
    let mut rng = SmallRng::seed_from_u64(23);
    let mut s = GaussianScene::empty(0);
    for k in 0..1500 {
        let size = if k < 200 {
            0.05f32..0.1
        } else {
            0.008f32..0.02
        };
        s.positions.push([
            rng.random_range(-0.7..0.7),
            rng.random_range(-0.5..0.5),
            rng.random_range(-0.7..0.7),
        ]);
        s.log_scales.push([rng.random_range(size).ln(); 3]);
        s.rotations.push([1.0, 0.0, 0.0, 0.0]);
        s.opacity_logits.push(logit(0.9));
        for _ in 0..3 {
            s.sh.push((rng.random_range(0.05f32..0.95) - 0.5) / SH_C0);
        }
    }
    s
}

/// A box blur of radius `r` (three passes ≈ Gaussian) of an RGB8 image, by running sums so
/// it stays quick in an unoptimised test build.
fn blur(rgb: &[u8], r: usize) -> Vec<u8> {
    let (w, h) = (WIDTH as usize, HEIGHT as usize);
    let mut cur: Vec<f32> = rgb.iter().map(|&v| f32::from(v)).collect();
    // One pass along lines of `len` samples, `stride` apart, starting at each of `starts`.
    let pass = |src: &[f32], len: usize, stride: usize, starts: Vec<usize>| {
        let mut out = vec![0f32; src.len()];
        for s in starts {
            for c in 0..3 {
                let at = |k: usize| src[s + k * stride + c];
                // Window [k - r, k + r] clipped to the line.
                let mut sum: f32 = (0..=r.min(len - 1)).map(at).sum();
                for k in 0..len {
                    let lo = k.saturating_sub(r);
                    let hi = (k + r).min(len - 1);
                    out[s + k * stride + c] = sum / (hi - lo + 1) as f32;
                    if k + r + 1 < len {
                        sum += at(k + r + 1);
                    }
                    if k >= r {
                        sum -= at(k - r);
                    }
                }
            }
        }
        out
    };
    for _ in 0..3 {
        cur = pass(&cur, w, 3, (0..h).map(|y| y * w * 3).collect());
        cur = pass(&cur, h, w * 3, (0..w).map(|x| x * 3).collect());
    }
    cur.iter()
        .map(|&v| v.round().clamp(0.0, 255.0) as u8)
        .collect()
}

/// The clip's frames as RGB8, in order: the camera goes a third of the way round the scene.
pub fn frames() -> Vec<Vec<u8>> {
    let scene = scene();
    (0..FRAMES)
        .map(|i| {
            let a = i as f32 / FRAMES as f32 * std::f32::consts::TAU / 3.0;
            let eye = Vec3::new(2.2 * a.sin(), -0.5, -2.2 * a.cos());
            let camera = Camera::look_at(eye, Vec3::ZERO, Vec3::NEG_Y, 0.9, WIDTH, HEIGHT);
            let rgba = render_cpu(&scene, &camera, Vec3::ZERO, NEAR_PLANE).to_rgba8();
            let rgb: Vec<u8> = rgba
                .chunks_exact(4)
                .flat_map(|p| [p[0], p[1], p[2]])
                .collect();
            if is_sharp(i) {
                rgb
            } else {
                blur(&rgb, 1 + i % 3)
            }
        })
        .collect()
}

/// The container and codec of an encoded clip.
#[derive(Clone, Copy, Debug)]
pub enum Codec {
    /// H.264 in MP4 (libx264), what phones record.
    H264Mp4,
    /// VP8 in WebM (libvpx), what every Chromium build decodes.
    Vp8Webm,
}

/// Encodes `frames` (from [`frames`]) with ffmpeg into `dir`; returns the clip's path.
pub fn encode(frames: &[Vec<u8>], dir: &Path, codec: Codec) -> PathBuf {
    let src = dir.join("src");
    std::fs::create_dir_all(&src).expect("mkdir");
    for (i, f) in frames.iter().enumerate() {
        image::save_buffer(
            src.join(format!("{i:03}.png")),
            f,
            WIDTH,
            HEIGHT,
            image::ExtendedColorType::Rgb8,
        )
        .expect("png");
    }
    let (name, args): (&str, &[&str]) = match codec {
        Codec::H264Mp4 => (
            "clip.mp4",
            &["-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "16"],
        ),
        Codec::Vp8Webm => (
            "clip.webm",
            &[
                "-c:v", "libvpx", "-pix_fmt", "yuv420p", "-b:v", "3M", "-crf", "6",
            ],
        ),
    };
    let out = dir.join(name);
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-v", "error", "-y", "-framerate"])
        .arg(FPS.to_string())
        .arg("-i")
        .arg(src.join("%03d.png"))
        .args(args)
        .arg(&out)
        .status()
        .expect("ffmpeg runs (install Debian's ffmpeg: .ci/setup.sh does)");
    assert!(status.success(), "ffmpeg could not encode the test clip");
    out
}

/// Mean squared difference of two RGB8 images of the clip's size.
pub fn mse(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len(), "images of different sizes");
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
        .sum::<f64>()
        / a.len() as f64
}

/// The index of the clip frame nearest to `rgb` (a decoded frame of the clip).
pub fn nearest_frame(frames: &[Vec<u8>], rgb: &[u8]) -> usize {
    let mut best = (usize::MAX, f64::INFINITY);
    for (i, f) in frames.iter().enumerate() {
        let d = mse(f, rgb);
        if d < best.1 {
            best = (i, d);
        }
    }
    best.0
}
