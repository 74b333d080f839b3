//! CPU reference rasterizer: the same 3DGS maths as `project.wgsl` + `rasterize.wgsl`, written
//! plainly (per-pixel loops over depth-sorted splats), for tests and for tools without a GPU.

use glam::{Mat3, Vec2, Vec3, Vec4Swizzles};

use super::camera::{Camera, TILE_SIZE};
use crate::formats::{sigmoid, GaussianScene};

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

const SH_C0: f32 = 0.282_094_8;
const SH_C1: f32 = 0.488_602_5;
const SH_C2: [f32; 5] = [
    1.092_548_4,
    -1.092_548_4,
    0.315_391_57,
    -1.092_548_4,
    0.546_274_2,
];
const SH_C3: [f32; 7] = [
    -0.590_043_6,
    2.890_611_4,
    -0.457_045_8,
    0.373_176_33,
    -0.457_045_8,
    1.445_305_7,
    -0.590_043_6,
];

/// View-dependent colour of a splat from its SH coefficients (coefficient-major RGB).
pub fn eval_sh(sh: &[f32], degree: u32, dir: Vec3) -> Vec3 {
    let c = |k: usize| Vec3::new(sh[3 * k], sh[3 * k + 1], sh[3 * k + 2]);
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
    (out + Vec3::splat(0.5)).max(Vec3::ZERO)
}

fn quat_to_mat(q: [f32; 4]) -> Mat3 {
    let len = (q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3])
        .sqrt()
        .max(1e-12);
    let (w, x, y, z) = (q[0] / len, q[1] / len, q[2] / len, q[3] / len);
    Mat3::from_cols(
        Vec3::new(
            1.0 - 2.0 * (y * y + z * z),
            2.0 * (x * y + w * z),
            2.0 * (x * z - w * y),
        ),
        Vec3::new(
            2.0 * (x * y - w * z),
            1.0 - 2.0 * (x * x + z * z),
            2.0 * (y * z + w * x),
        ),
        Vec3::new(
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
    let mean = Vec3::from(scene.positions[i]);
    let p = cam.world_to_camera.transform_point3(mean);
    if p.z <= near {
        return None;
    }
    let rot = quat_to_mat(scene.rotations[i]);
    let s = Vec3::from(scene.log_scales[i]).exp();
    let m = Mat3::from_cols(rot.x_axis * s.x, rot.y_axis * s.y, rot.z_axis * s.z);
    let cov3 = m * m.transpose();

    let (w, h) = (cam.width as f32, cam.height as f32);
    let lim_x_pos = (w - cam.cx) / cam.fx + 0.3 * w / cam.fx;
    let lim_x_neg = cam.cx / cam.fx + 0.3 * w / cam.fx;
    let lim_y_pos = (h - cam.cy) / cam.fy + 0.3 * h / cam.fy;
    let lim_y_neg = cam.cy / cam.fy + 0.3 * h / cam.fy;
    let z = p.z;
    let tx = z * (p.x / z).clamp(-lim_x_neg, lim_x_pos);
    let ty = z * (p.y / z).clamp(-lim_y_neg, lim_y_pos);
    let j = Mat3::from_cols(
        Vec3::new(cam.fx / z, 0.0, 0.0),
        Vec3::new(0.0, cam.fy / z, 0.0),
        Vec3::new(-cam.fx * tx / (z * z), -cam.fy * ty / (z * z), 0.0),
    );
    let view3 = Mat3::from_mat4(cam.world_to_camera);
    let t = j * view3;
    let cov2 = t * cov3 * t.transpose();
    let a = cov2.x_axis.x + 0.3;
    let b = cov2.x_axis.y;
    let c = cov2.y_axis.y + 0.3;
    let det = a * c - b * b;
    if det <= 0.0 {
        return None;
    }
    let conic = Vec3::new(c / det, -b / det, a / det);
    let mid = 0.5 * (a + c);
    let lambda = mid + (mid * mid - det).max(0.1).sqrt();
    let radius = (3.0 * lambda.sqrt()).ceil();
    let xy = Vec2::new(cam.fx * p.x / z + cam.cx, cam.fy * p.y / z + cam.cy);

    let (tiles_x, tiles_y) = cam.tiles();
    let tile = TILE_SIZE as f32;
    let lo = ((xy - radius) / tile).floor();
    let hi = ((xy + radius + tile - 1.0) / tile).floor();
    let clamp = |v: f32, max: u32| (v.max(0.0) as u32).min(max);
    let rect = [
        clamp(lo.x, tiles_x),
        clamp(lo.y, tiles_y),
        clamp(hi.x, tiles_x),
        clamp(hi.y, tiles_y),
    ];
    if rect[2] <= rect[0] || rect[3] <= rect[1] {
        return None;
    }
    let cam_pos = cam.world_to_camera.inverse().w_axis.xyz();
    let dir = (mean - cam_pos).normalize();
    Some(ProjectedCpu {
        xy,
        depth: z,
        opacity: sigmoid(scene.opacity_logits[i]),
        conic,
        color: eval_sh(scene.sh_of(i), scene.sh_degree, dir),
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
    let mut splats: Vec<ProjectedCpu> = (0..scene.len())
        .filter_map(|i| project_splat(scene, i, cam, near))
        .collect();
    // Positive depths order like their bit patterns; the sort is stable, as on the GPU.
    splats.sort_by_key(|s| s.depth.to_bits());

    let (w, h) = (cam.width, cam.height);
    let mut rgba = Vec::with_capacity((w * h) as usize);
    let mut depth_out = Vec::with_capacity((w * h) as usize);
    for py in 0..h {
        for px in 0..w {
            let (tx, ty) = (px / TILE_SIZE, py / TILE_SIZE);
            let pixel = Vec2::new(px as f32 + 0.5, py as f32 + 0.5);
            let mut t = 1.0f32;
            let mut color = Vec3::ZERO;
            let mut depth = 0.0f32;
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
            }
            let a = 1.0 - t;
            let c = color + t * background;
            rgba.push([c.x, c.y, c.z, a]);
            depth_out.push(if a > 0.0 { depth / a } else { 0.0 });
        }
    }
    RenderedImage {
        width: w,
        height: h,
        rgba,
        depth: depth_out,
    }
}
