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
}
