//! CPU reference rasterizer: the same 3DGS maths as `project.wgsl` + `rasterize.wgsl`, written
//! plainly (per-pixel loops over depth-sorted splats) in f64, for tests and for tools without a
//! GPU. Being f64 and smooth away from the kernels' cut-offs, it is also the function the
//! training kernels' gradients are checked against by finite differences.

use glam::{DMat3, DVec2, DVec3, Vec2, Vec3};

use super::camera::{Camera, TILE_SIZE};
use crate::formats::GaussianScene;

/// A rendered image: straight RGB composited over the background, alpha = 1 − transmittance,
/// and expected depth (0 where alpha is 0). Row-major, `width × height`.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedImage {
    pub width: u32,
    pub height: u32,
    pub rgba: Vec<[f32; 4]>,
    pub depth: Vec<f32>,
}

impl RenderedImage {
    /// 8-bit RGBA (alpha kept), for PNG output.
    pub fn to_rgba8(&self) -> Vec<u8> {
        self.rgba
            .iter()
            .flat_map(|p| p.map(|c| (c.clamp(0.0, 1.0) * 255.0 + 0.5) as u8))
            .collect()
    }
}

/// One splat after projection (the CPU twin of the kernel's `Projected`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProjectedCpu {
    pub xy: Vec2,
    pub depth: f32,
    pub opacity: f32,
    pub conic: Vec3,
    pub color: Vec3,
    /// Tile rectangle [min, max).
    pub rect: [u32; 4],
}

/// [`ProjectedCpu`] in f64, as the reference computes it.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Projected64 {
    xy: DVec2,
    depth: f64,
    opacity: f64,
    conic: DVec3,
    color: DVec3,
    rect: [u32; 4],
}

const SH_C0: f64 = 0.282_094_791_773_878_14;
const SH_C1: f64 = 0.488_602_511_902_919_9;
const SH_C2: [f64; 5] = [
    1.092_548_430_592_079_2,
    -1.092_548_430_592_079_2,
    0.315_391_565_252_520_05,
    -1.092_548_430_592_079_2,
    0.546_274_215_296_039_6,
];
const SH_C3: [f64; 7] = [
    -0.590_043_589_926_643_5,
    2.890_611_442_640_554,
    -0.457_045_799_464_465_8,
    0.373_176_332_590_115_4,
    -0.457_045_799_464_465_8,
    1.445_305_721_320_277,
    -0.590_043_589_926_643_5,
];

/// View-dependent colour of a splat from its SH coefficients (coefficient-major RGB).
pub fn eval_sh(sh: &[f32], degree: u32, dir: Vec3) -> Vec3 {
    eval_sh64(sh, degree, dir.as_dvec3()).as_vec3()
}

fn eval_sh64(sh: &[f32], degree: u32, dir: DVec3) -> DVec3 {
    let c = |k: usize| DVec3::new(sh[3 * k] as f64, sh[3 * k + 1] as f64, sh[3 * k + 2] as f64);
    let mut out = SH_C0 * c(0);
    if degree > 0 {
        let (x, y, z) = (dir.x, dir.y, dir.z);
        out += SH_C1 * (-y * c(1) + z * c(2) - x * c(3));
        if degree > 1 {
            let (xx, yy, zz) = (x * x, y * y, z * z);
            out += SH_C2[0] * x * y * c(4)
                + SH_C2[1] * y * z * c(5)
                + SH_C2[2] * (2.0 * zz - xx - yy) * c(6)
                + SH_C2[3] * x * z * c(7)
                + SH_C2[4] * (xx - yy) * c(8);
            if degree > 2 {
                out += SH_C3[0] * y * (3.0 * xx - yy) * c(9)
                    + SH_C3[1] * x * y * z * c(10)
                    + SH_C3[2] * y * (4.0 * zz - xx - yy) * c(11)
                    + SH_C3[3] * z * (2.0 * zz - 3.0 * xx - 3.0 * yy) * c(12)
                    + SH_C3[4] * x * (4.0 * zz - xx - yy) * c(13)
                    + SH_C3[5] * z * (xx - yy) * c(14)
                    + SH_C3[6] * x * (xx - 3.0 * yy) * c(15);
            }
        }
    }
    (out + DVec3::splat(0.5)).max(DVec3::ZERO)
}

fn quat_to_mat(q: [f32; 4]) -> DMat3 {
    let q = q.map(f64::from);
    let len = (q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3])
        .sqrt()
        .max(1e-12);
    let (w, x, y, z) = (q[0] / len, q[1] / len, q[2] / len, q[3] / len);
    DMat3::from_cols(
        DVec3::new(
            1.0 - 2.0 * (y * y + z * z),
            2.0 * (x * y + w * z),
            2.0 * (x * z - w * y),
        ),
        DVec3::new(
            2.0 * (x * y - w * z),
            1.0 - 2.0 * (x * x + z * z),
            2.0 * (y * z + w * x),
        ),
        DVec3::new(
            2.0 * (x * z + w * y),
            2.0 * (y * z - w * x),
            1.0 - 2.0 * (x * x + y * y),
        ),
    )
}

/// Projects splat `i`; `None` when culled (behind the near plane, degenerate, or off screen).
pub fn project_splat(
    scene: &GaussianScene,
    i: usize,
    cam: &Camera,
    near: f32,
) -> Option<ProjectedCpu> {
    project64(scene, i, cam, near as f64).map(|s| ProjectedCpu {
        xy: s.xy.as_vec2(),
        depth: s.depth as f32,
        opacity: s.opacity as f32,
        conic: s.conic.as_vec3(),
        color: s.color.as_vec3(),
        rect: s.rect,
    })
}

fn project64(scene: &GaussianScene, i: usize, cam: &Camera, near: f64) -> Option<Projected64> {
    let view = cam.world_to_camera.as_dmat4();
    let mean = DVec3::from(scene.positions[i].map(f64::from));
    let p = view.transform_point3(mean);
    if p.z <= near {
        return None;
    }
    let rot = quat_to_mat(scene.rotations[i]);
    let s = DVec3::from(scene.log_scales[i].map(f64::from)).exp();
    let m = DMat3::from_cols(rot.x_axis * s.x, rot.y_axis * s.y, rot.z_axis * s.z);
    let cov3 = m * m.transpose();

    let (fx, fy, cx, cy) = (cam.fx as f64, cam.fy as f64, cam.cx as f64, cam.cy as f64);
    let (w, h) = (cam.width as f64, cam.height as f64);
    let lim_x_pos = (w - cx) / fx + 0.3 * w / fx;
    let lim_x_neg = cx / fx + 0.3 * w / fx;
    let lim_y_pos = (h - cy) / fy + 0.3 * h / fy;
    let lim_y_neg = cy / fy + 0.3 * h / fy;
    let z = p.z;
    let tx = z * (p.x / z).clamp(-lim_x_neg, lim_x_pos);
    let ty = z * (p.y / z).clamp(-lim_y_neg, lim_y_pos);
    let j = DMat3::from_cols(
        DVec3::new(fx / z, 0.0, 0.0),
        DVec3::new(0.0, fy / z, 0.0),
        DVec3::new(-fx * tx / (z * z), -fy * ty / (z * z), 0.0),
    );
    let view3 = DMat3::from_mat4(view);
    let t = j * view3;
    let cov2 = t * cov3 * t.transpose();
    let a = cov2.x_axis.x + 0.3;
    let b = cov2.x_axis.y;
    let c = cov2.y_axis.y + 0.3;
    let det = a * c - b * b;
    if det <= 0.0 {
        return None;
    }
    let conic = DVec3::new(c / det, -b / det, a / det);
    let opacity = 1.0 / (1.0 + (-(scene.opacity_logits[i] as f64)).exp());
    let alpha_min = 1.0 / 255.0;
    if opacity < alpha_min {
        return None;
    }
    // Beyond `extend` standard deviations alpha < 1/255 (skipped by blending).
    let extend = (2.0 * (opacity / alpha_min).ln()).sqrt().min(3.0);
    let radius = DVec2::new((extend * a.sqrt()).ceil(), (extend * c.sqrt()).ceil());
    let xy = DVec2::new(fx * p.x / z + cx, fy * p.y / z + cy);

    let (tiles_x, tiles_y) = cam.tiles();
    let tile = TILE_SIZE as f64;
    let lo = ((xy - radius) / tile).floor();
    let hi = ((xy + radius + tile - 1.0) / tile).floor();
    let clamp = |v: f64, max: u32| (v.max(0.0) as u32).min(max);
    let rect = [
        clamp(lo.x, tiles_x),
        clamp(lo.y, tiles_y),
        clamp(hi.x, tiles_x),
        clamp(hi.y, tiles_y),
    ];
    if rect[2] <= rect[0] || rect[3] <= rect[1] {
        return None;
    }
    let cam_pos = view.inverse().w_axis.truncate();
    let dir = (mean - cam_pos).normalize();
    Some(Projected64 {
        xy,
        depth: z,
        opacity,
        conic,
        color: eval_sh64(scene.sh_of(i), scene.sh_degree, dir),
        rect,
    })
}

/// Renders `scene` as the GPU rasterizer does: depth-sorted (stable by index), per-tile lists,
/// front-to-back blending with the 3DGS clamps.
pub fn render_cpu(
    scene: &GaussianScene,
    cam: &Camera,
    background: Vec3,
    near: f32,
) -> RenderedImage {
    let image = render_cpu_f64(scene, cam, background.as_dvec3(), near as f64);
    RenderedImage {
        width: cam.width,
        height: cam.height,
        rgba: image.rgba.iter().map(|p| p.map(|c| c as f32)).collect(),
        depth: image.depth.iter().map(|d| *d as f32).collect(),
    }
}

/// [`render_cpu`]'s image before rounding to f32: the reference that finite differences of the
/// training kernels' gradients are taken on.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedImage64 {
    pub rgba: Vec<[f64; 4]>,
    pub depth: Vec<f64>,
    /// Splats blended at each pixel: where it differs between two renders, a cut-off (alpha
    /// 1/255, transmittance 1e-4, the tile rectangle) was crossed and the image jumped.
    pub blended: Vec<u32>,
}

/// [`render_cpu`] in f64 throughout.
pub fn render_cpu_f64(
    scene: &GaussianScene,
    cam: &Camera,
    background: DVec3,
    near: f64,
) -> RenderedImage64 {
    let mut splats: Vec<Projected64> = (0..scene.len())
        .filter_map(|i| project64(scene, i, cam, near))
        .collect();
    // Positive depths order like their f32 bit patterns, as the GPU's keys; the sort is stable.
    splats.sort_by_key(|s| (s.depth as f32).to_bits());

    let (w, h) = (cam.width, cam.height);
    let mut rgba = Vec::with_capacity((w * h) as usize);
    let mut depth_out = Vec::with_capacity((w * h) as usize);
    let mut blended = Vec::with_capacity((w * h) as usize);
    for py in 0..h {
        for px in 0..w {
            let (tx, ty) = (px / TILE_SIZE, py / TILE_SIZE);
            let pixel = DVec2::new(px as f64 + 0.5, py as f64 + 0.5);
            let mut count = 0;
            let mut t = 1.0f64;
            let mut color = DVec3::ZERO;
            let mut depth = 0.0f64;
            for s in &splats {
                if tx < s.rect[0] || tx >= s.rect[2] || ty < s.rect[1] || ty >= s.rect[3] {
                    continue;
                }
                let d = s.xy - pixel;
                let power =
                    -0.5 * (s.conic.x * d.x * d.x + s.conic.z * d.y * d.y) - s.conic.y * d.x * d.y;
                if power > 0.0 {
                    continue;
                }
                let alpha = (s.opacity * power.exp()).min(0.99);
                if alpha < 1.0 / 255.0 {
                    continue;
                }
                let next_t = t * (1.0 - alpha);
                if next_t < 1e-4 {
                    break;
                }
                color += s.color * alpha * t;
                depth += s.depth * alpha * t;
                t = next_t;
                count += 1;
            }
            blended.push(count);
            let a = 1.0 - t;
            let c = color + t * background;
            rgba.push([c.x, c.y, c.z, a]);
            depth_out.push(if a > 0.0 { depth / a } else { 0.0 });
        }
    }
    RenderedImage64 {
        rgba,
        depth: depth_out,
        blended,
    }
}
