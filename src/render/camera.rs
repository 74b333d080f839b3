//! The pinhole [`Camera`] (OpenCV/COLMAP convention) the rasterizer renders from, and
//! [`percentile_box`], the robust box an initial view frames.

use glam::{Mat3, Mat4, Vec3};

/// Side of a square screen tile in pixels (must match `TILE` in `splat_types.wgsl`).
pub const TILE_SIZE: u32 = 16;

/// A pinhole camera in the OpenCV/COLMAP convention used by 3DGS: camera x right, y down,
/// z forward; pixel (px, py) covers [px, px+1) × [py, py+1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Camera {
    /// Rigid world → camera transform.
    pub world_to_camera: Mat4,
    pub fx: f32,
    pub fy: f32,
    pub cx: f32,
    pub cy: f32,
    pub width: u32,
    pub height: u32,
}

impl Camera {
    /// A camera at `eye` looking at `target`, with `up` pointing up in the image and a vertical
    /// field of view of `fov_y` radians; principal point at the image centre.
    pub fn look_at(eye: Vec3, target: Vec3, up: Vec3, fov_y: f32, width: u32, height: u32) -> Self {
        let forward = (target - eye).normalize();
        let right = forward.cross(up).normalize();
        let down = forward.cross(right);
        let rotation = Mat3::from_cols(right, down, forward).transpose();
        let translation = -(rotation * eye);
        let focal = 0.5 * height as f32 / (0.5 * fov_y).tan();
        Self {
            world_to_camera: Mat4::from_cols(
                rotation.x_axis.extend(0.0),
                rotation.y_axis.extend(0.0),
                rotation.z_axis.extend(0.0),
                translation.extend(1.0),
            ),
            fx: focal,
            fy: focal,
            cx: 0.5 * width as f32,
            cy: 0.5 * height as f32,
            width,
            height,
        }
    }

    /// A camera looking along `forward` at the bulk of `positions` (the 5th–95th percentile box,
    /// so stray far-away splats do not shrink the view), far enough back to fit it.
    pub fn frame_points(
        positions: &[[f32; 3]],
        forward: Vec3,
        up: Vec3,
        fov_y: f32,
        width: u32,
        height: u32,
    ) -> Self {
        let (lo, hi) = percentile_box(positions, 0.05);
        let centre = 0.5 * (lo + hi);
        let radius = (0.5 * (hi - lo).length()).max(1e-3);
        let fov = fov_y.min(fov_y * width as f32 / height.max(1) as f32);
        let distance = radius / (0.5 * fov).tan() * 1.1;
        let eye = centre - forward.normalize() * distance;
        Self::look_at(eye, centre, up, fov_y, width, height)
    }

    /// The camera centre in world space.
    pub fn position(&self) -> Vec3 {
        self.world_to_camera.inverse().w_axis.truncate()
    }

    /// Tiles across and down.
    pub fn tiles(&self) -> (u32, u32) {
        (
            self.width.div_ceil(TILE_SIZE),
            self.height.div_ceil(TILE_SIZE),
        )
    }
}

/// Per-axis `q` and `1 - q` quantiles of `positions` (the unit box around the origin if empty).
pub fn percentile_box(positions: &[[f32; 3]], q: f32) -> (Vec3, Vec3) {
    if positions.is_empty() {
        return (Vec3::splat(-1.0), Vec3::splat(1.0));
    }
    let mut lo = Vec3::ZERO;
    let mut hi = Vec3::ZERO;
    let mut axis: Vec<f32> = Vec::with_capacity(positions.len());
    for a in 0..3 {
        axis.clear();
        axis.extend(positions.iter().map(|p| p[a]).filter(|v| v.is_finite()));
        if axis.is_empty() {
            lo[a] = -1.0;
            hi[a] = 1.0;
            continue;
        }
        axis.sort_by(f32::total_cmp);
        let at = |f: f32| axis[((axis.len() - 1) as f32 * f).round() as usize];
        lo[a] = at(q);
        hi[a] = at(1.0 - q);
    }
    (lo, hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn look_at_puts_the_target_on_the_optical_axis_with_up_above() {
        let cam = Camera::look_at(Vec3::new(1.0, 2.0, -5.0), Vec3::ZERO, Vec3::Y, 1.0, 64, 48);
        let t = cam.world_to_camera.transform_point3(Vec3::ZERO);
        assert!(t.x.abs() < 1e-5 && t.y.abs() < 1e-5 && t.z > 0.0, "{t}");
        // A point above the target lands higher in the image (smaller y, camera y is down).
        let above = cam.world_to_camera.transform_point3(Vec3::Y);
        assert!(above.y < 0.0, "{above}");
        assert!((cam.position() - Vec3::new(1.0, 2.0, -5.0)).length() < 1e-5);
    }

    #[test]
    fn framing_ignores_outliers_and_fits_the_bulk() {
        let mut pts: Vec<[f32; 3]> = (0..1000)
            .map(|i| {
                let t = i as f32 / 1000.0;
                [t * 2.0 - 1.0, (t * 37.0).sin(), (t * 91.0).cos()]
            })
            .collect();
        pts.push([1e6, 1e6, 1e6]);
        let cam = Camera::frame_points(&pts, Vec3::Z, Vec3::NEG_Y, 0.8, 100, 100);
        // Every bulk point projects inside the image.
        for p in &pts[..1000] {
            let c = cam.world_to_camera.transform_point3(Vec3::from(*p));
            let (u, v) = (cam.fx * c.x / c.z + cam.cx, cam.fy * c.y / c.z + cam.cy);
            assert!(
                c.z > 0.0 && (0.0..100.0).contains(&u) && (0.0..100.0).contains(&v),
                "{p:?}"
            );
        }
    }
}
