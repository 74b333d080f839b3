//! The viewer's camera controller: orbit around a target, pan, zoom and fly, about an up axis
//! that is the 3DGS/COLMAP convention's −y unless a start view (the owner's, or one from the
//! capture cameras) or the owner's up-axis choice says otherwise (a z-up world, say).
//!
//! Pure math, no GPU, so the page's controls are unit-tested natively; the PWA's viewer maps
//! pointer, wheel and key events onto these methods.

use glam::Vec3;

use super::Camera;
use crate::api::StartView;

/// Vertical field of view of the viewer, radians (50°).
pub const VIEWER_FOV_Y: f32 = 50.0 * std::f32::consts::PI / 180.0;

/// Background behind the splats in the viewer and in thumbnails (the page's background colour,
/// #101830), so a thumbnail shows what the viewer's first frame shows.
pub const VIEWER_BACKGROUND: Vec3 = Vec3::new(16.0 / 255.0, 24.0 / 255.0, 48.0 / 255.0);

/// Pitch stays this far from straight up or down, so the view's up vector never degenerates.
const PITCH_LIMIT: f32 = 89.0 * std::f32::consts::PI / 180.0;

/// World-space "up" in the 3DGS/COLMAP convention.
const WORLD_UP: Vec3 = Vec3::NEG_Y;

/// Pitch a start view may exceed [`PITCH_LIMIT`] by (rounding of a view saved at the limit).
const PITCH_SLACK: f32 = 1e-3;

/// The horizontal directions of yaw 0 and yaw 90° for `up` (for −y: −z and −x, so the
/// default view looks along +z; for ±z: −y and ∓x, so it looks along +y).
fn horizon(up: Vec3) -> (Vec3, Vec3) {
    let a = (Vec3::NEG_Z - up * up.dot(Vec3::NEG_Z))
        .try_normalize()
        .or_else(|| (Vec3::NEG_Y - up * up.dot(Vec3::NEG_Y)).try_normalize())
        .unwrap_or_else(|| up.any_orthonormal_vector());
    (a, a.cross(up))
}

/// The horizontal direction a framing about `up` looks along (yaw 0; +z for ±x and ±y up, +y
/// for ±z up): the direction of the viewer's framing and of a thumbnail's.
pub fn framing_forward(up: Vec3) -> Vec3 {
    let up = up.try_normalize().unwrap_or(WORLD_UP);
    -horizon(up).0
}

/// An orbit camera: the eye sits on a sphere of radius `distance` around `target`, at `yaw`
/// around the up axis and `pitch` above the horizon.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OrbitCamera {
    /// The point orbited around and looked at.
    pub target: Vec3,
    /// Eye-to-target distance.
    pub distance: f32,
    /// Rotation around the up axis, radians; 0 puts the eye on the −z side looking along +z.
    pub yaw: f32,
    /// Elevation above the target's horizon, radians (positive: looking down on the scene).
    pub pitch: f32,
    /// Vertical field of view, radians.
    pub fov_y: f32,
    /// Size of the framed scene (the bounds' half-diagonal); scales zoom limits and fly speed.
    pub scene_radius: f32,
    /// World-space up (unit): yaw turns around it, pitch rises along it.
    pub up_axis: Vec3,
}

impl Default for OrbitCamera {
    fn default() -> Self {
        Self {
            target: Vec3::ZERO,
            distance: 4.0,
            yaw: 0.0,
            pitch: 0.2,
            fov_y: VIEWER_FOV_Y,
            scene_radius: 1.0,
            up_axis: WORLD_UP,
        }
    }
}

impl OrbitCamera {
    /// A camera that frames the box `lo..hi` in a view of `aspect` (width / height): looking at
    /// the box centre from the −z side, slightly above, far enough that the box's bounding sphere
    /// fits both the vertical and the horizontal field of view.
    pub fn framing(lo: Vec3, hi: Vec3, aspect: f32) -> Self {
        Self::framing_about(lo, hi, aspect, WORLD_UP)
    }

    /// [`OrbitCamera::framing`] with `up` as the world's up (a unit axis; a zero vector keeps
    /// −y): looking along [`framing_forward`], slightly above.
    pub fn framing_about(lo: Vec3, hi: Vec3, aspect: f32, up: Vec3) -> Self {
        let mut cam = Self {
            up_axis: up.try_normalize().unwrap_or(WORLD_UP),
            ..Self::default()
        };
        cam.frame(lo, hi, aspect);
        cam
    }

    /// Re-aims this camera at the box `lo..hi` (see [`OrbitCamera::framing`]); keeps the fov.
    pub fn frame(&mut self, lo: Vec3, hi: Vec3, aspect: f32) {
        let (lo, hi) = (lo.min(hi), lo.max(hi));
        let centre = 0.5 * (lo + hi);
        let radius = (0.5 * (hi - lo).length()).max(1e-3);
        let radius = if radius.is_finite() { radius } else { 1.0 };
        self.target = if centre.is_finite() {
            centre
        } else {
            Vec3::ZERO
        };
        self.scene_radius = radius;
        self.yaw = 0.0;
        self.pitch = 0.2;
        let aspect = if aspect.is_finite() && aspect > 0.0 {
            aspect
        } else {
            1.0
        };
        let half_fov_x = ((0.5 * self.fov_y).tan() * aspect).atan();
        let half_fov = half_fov_x.min(0.5 * self.fov_y);
        self.distance = 1.05 * radius / half_fov.sin();
    }

    /// A camera at `eye` looking at `target` with `up` as the world's up (a start view), for a
    /// scene of radius `scene_radius`; `None` when eye and target coincide or `up` is zero or
    /// along the view.
    pub fn looking(eye: Vec3, target: Vec3, up: Vec3, scene_radius: f32) -> Option<Self> {
        let up = up.try_normalize()?;
        let offset = eye - target;
        let distance = offset.length();
        let dir = offset.try_normalize()?;
        let pitch = dir.dot(up).clamp(-1.0, 1.0).asin();
        if pitch.abs() > PITCH_LIMIT + PITCH_SLACK || !distance.is_finite() {
            return None;
        }
        let pitch = pitch.clamp(-PITCH_LIMIT, PITCH_LIMIT);
        let (a, b) = horizon(up);
        Some(Self {
            target,
            distance,
            yaw: dir
                .dot(b)
                .atan2(dir.dot(a))
                .rem_euclid(std::f32::consts::TAU),
            pitch,
            fov_y: VIEWER_FOV_Y,
            scene_radius: scene_radius.max(1e-3),
            up_axis: up,
        })
    }

    /// The camera of start view `v` ([`OrbitCamera::looking`] with its field of view, if it
    /// has one) for a scene of radius `scene_radius`.
    pub fn from_start(v: &StartView, scene_radius: f32) -> Option<Self> {
        let mut cam = Self::looking(
            Vec3::from(v.eye),
            Vec3::from(v.target),
            Vec3::from(v.up),
            scene_radius,
        )?;
        if let Some(deg) = v.fov_y_deg.filter(|d| d.is_finite() && *d > 0.0) {
            cam.fov_y = deg.to_radians();
        }
        Some(cam)
    }

    /// This camera as a start view (what the owner saves from the viewer).
    pub fn start_view(&self) -> StartView {
        StartView {
            eye: self.eye().to_array(),
            target: self.target.to_array(),
            up: self.up_axis.to_array(),
            fov_y_deg: Some(self.fov_y.to_degrees()),
        }
    }

    /// Unit vector from the target to the eye.
    fn offset_dir(&self) -> Vec3 {
        let (sy, cy) = self.yaw.sin_cos();
        let (sp, cp) = self.pitch.sin_cos();
        // yaw 0, pitch 0: eye on the horizon's `a` side (−z for −y up). Positive pitch raises
        // the eye.
        let (a, b) = horizon(self.up_axis);
        (a * cy + b * sy) * cp + self.up_axis * sp
    }

    /// The eye position.
    pub fn eye(&self) -> Vec3 {
        self.target + self.offset_dir() * self.distance
    }

    /// Unit viewing direction (eye to target).
    pub fn forward(&self) -> Vec3 {
        -self.offset_dir()
    }

    /// Unit vector to the right of the view (image +x).
    pub fn right(&self) -> Vec3 {
        self.forward().cross(self.up_axis).normalize()
    }

    /// Unit vector up in the image (image −y).
    pub fn up(&self) -> Vec3 {
        self.right().cross(self.forward())
    }

    /// The pinhole camera for an image of `width` × `height` pixels.
    pub fn camera(&self, width: u32, height: u32) -> Camera {
        Camera::look_at(
            self.eye(),
            self.target,
            self.up_axis,
            self.fov_y,
            width,
            height,
        )
    }

    /// Orbits by a pointer drag of (`dx`, `dy`) pixels in a view `height` pixels tall: dragging
    /// right turns the scene to the right (the eye moves left), dragging down tilts it towards
    /// the viewer (the eye rises); a drag across the full height turns half a circle.
    pub fn orbit(&mut self, dx: f32, dy: f32, height: f32) {
        let per_pixel = std::f32::consts::PI / height.max(1.0);
        self.yaw += dx * per_pixel;
        self.pitch = (self.pitch + dy * per_pixel).clamp(-PITCH_LIMIT, PITCH_LIMIT);
        self.yaw = self.yaw.rem_euclid(std::f32::consts::TAU);
    }

    /// Pans by a pointer drag of (`dx`, `dy`) pixels in a view `height` pixels tall: the point
    /// under the pointer at the target's depth follows the pointer.
    pub fn pan(&mut self, dx: f32, dy: f32, height: f32) {
        let per_pixel = 2.0 * self.distance * (0.5 * self.fov_y).tan() / height.max(1.0);
        self.target += (-dx * self.right() + dy * self.up()) * per_pixel;
    }

    /// Zooms by `factor`: the distance to the target is multiplied by it (below 1 moves closer),
    /// within 1/1000 and 100 times the scene radius.
    pub fn zoom(&mut self, factor: f32) {
        if !(factor.is_finite() && factor > 0.0) {
            return;
        }
        let (near, far) = (self.scene_radius * 1e-3, self.scene_radius * 100.0);
        self.distance = (self.distance * factor).clamp(near, far.max(near));
    }

    /// Flies: moves eye and target together by `forward`, `right` and `up` (each in units of
    /// the scene radius), along the view's directions.
    pub fn fly(&mut self, forward: f32, right: f32, up: f32) {
        let step = self.forward() * forward + self.right() * right + self.up() * up;
        self.target += step * self.scene_radius;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(cam: &Camera, p: Vec3) -> (f32, f32, f32) {
        let c = cam.world_to_camera.transform_point3(p);
        (
            cam.fx * c.x / c.z + cam.cx,
            cam.fy * c.y / c.z + cam.cy,
            c.z,
        )
    }

    #[test]
    fn framing_puts_the_box_centre_in_the_middle_and_the_box_in_view() {
        let (lo, hi) = (Vec3::new(-1.0, -2.0, 0.0), Vec3::new(3.0, 1.0, 5.0));
        for aspect in [0.5, 1.0, 2.0] {
            let orbit = OrbitCamera::framing(lo, hi, aspect);
            let (w, h) = ((200.0 * aspect) as u32, 200);
            let cam = orbit.camera(w, h);
            let (x, y, z) = project(&cam, 0.5 * (lo + hi));
            assert!((x - cam.cx).abs() < 1e-2 && (y - cam.cy).abs() < 1e-2 && z > 0.0);
            for i in 0..8 {
                let corner = Vec3::new(
                    if i & 1 == 0 { lo.x } else { hi.x },
                    if i & 2 == 0 { lo.y } else { hi.y },
                    if i & 4 == 0 { lo.z } else { hi.z },
                );
                let (x, y, z) = project(&cam, corner);
                assert!(z > 0.0, "corner {corner} behind the camera");
                assert!(
                    (0.0..=w as f32).contains(&x) && (0.0..=h as f32).contains(&y),
                    "corner {corner} at ({x}, {y}) outside {w}x{h}"
                );
            }
        }
    }

    #[test]
    fn default_view_has_minus_y_up_in_the_image() {
        let orbit = OrbitCamera::framing(Vec3::splat(-1.0), Vec3::splat(1.0), 1.0);
        let cam = orbit.camera(100, 100);
        let (_, y_up, _) = project(&cam, Vec3::new(0.0, -0.5, 0.0));
        let (_, y_down, _) = project(&cam, Vec3::new(0.0, 0.5, 0.0));
        assert!(y_up < y_down, "−y should appear higher in the image");
        // The eye is on the −z side, slightly above.
        let eye = orbit.eye();
        assert!(eye.z < 0.0 && eye.y < 0.0, "{eye}");
    }

    #[test]
    fn orbit_keeps_the_distance_and_the_target_centred() {
        let mut orbit = OrbitCamera::framing(Vec3::splat(-1.0), Vec3::splat(1.0), 1.0);
        let d = orbit.distance;
        let before = orbit.eye();
        orbit.orbit(120.0, -40.0, 400.0);
        assert!((orbit.eye() - orbit.target).length() - d < 1e-4);
        assert!((orbit.eye() - before).length() > 0.1);
        // Dragging right moves the eye to the left (−right of the old view).
        let mut o = OrbitCamera::framing(Vec3::splat(-1.0), Vec3::splat(1.0), 1.0);
        let right = o.right();
        let eye = o.eye();
        o.orbit(10.0, 0.0, 400.0);
        assert!((o.eye() - eye).dot(right) < 0.0);
        // Pitch is clamped short of the pole.
        o.orbit(0.0, 1e6, 400.0);
        assert!(o.pitch.abs() < std::f32::consts::FRAC_PI_2);
        assert!(o.camera(10, 10).world_to_camera.is_finite());
    }

    #[test]
    fn pan_moves_the_point_under_the_pointer_with_it() {
        let mut orbit = OrbitCamera::framing(Vec3::splat(-1.0), Vec3::splat(1.0), 1.0);
        let h = 300;
        let p = orbit.target;
        let (x0, y0, _) = project(&orbit.camera(h, h), p);
        orbit.pan(30.0, -20.0, h as f32);
        let (x1, y1, _) = project(&orbit.camera(h, h), p);
        assert!((x1 - x0 - 30.0).abs() < 0.1, "{x0} -> {x1}");
        assert!((y1 - y0 + 20.0).abs() < 0.1, "{y0} -> {y1}");
    }

    #[test]
    fn a_start_view_with_z_up_keeps_its_eye_target_and_up() {
        let (eye, target) = (Vec3::new(3.0, 1.0, 0.5), Vec3::new(0.0, 0.0, 0.2));
        let orbit = OrbitCamera::looking(eye, target, Vec3::Z, 2.0).expect("start view");
        assert!((orbit.eye() - eye).length() < 1e-5, "{}", orbit.eye());
        let cam = orbit.camera(100, 100);
        // +z appears higher in the image than −z at the target.
        let (_, y_hi, _) = project(&cam, target + Vec3::Z * 0.1);
        let (_, y_lo, _) = project(&cam, target - Vec3::Z * 0.1);
        assert!(y_hi < y_lo);
        // Orbiting turns around +z: the eye's height stays.
        let mut o = orbit;
        o.orbit(80.0, 0.0, 400.0);
        assert!((o.eye().z - eye.z).abs() < 1e-4 && (o.eye() - eye).length() > 0.1);
        // The default up reproduces the default view.
        let d = OrbitCamera::framing(Vec3::splat(-1.0), Vec3::splat(1.0), 1.0);
        let again = OrbitCamera::looking(d.eye(), d.target, Vec3::NEG_Y, 1.0).expect("view");
        assert!((again.yaw - d.yaw).abs() < 1e-5 && (again.pitch - d.pitch).abs() < 1e-5);
        assert!(OrbitCamera::looking(eye, eye, Vec3::Z, 1.0).is_none());
        assert!(OrbitCamera::looking(Vec3::Z, Vec3::ZERO, Vec3::Z, 1.0).is_none());
    }

    #[test]
    fn framing_about_an_axis_puts_that_axis_up_in_the_image() {
        let (lo, hi) = (Vec3::splat(-1.0), Vec3::splat(1.0));
        for axis in crate::api::UpAxis::ALL {
            let up = Vec3::from(axis.vector());
            let orbit = OrbitCamera::framing_about(lo, hi, 1.5, up);
            let cam = orbit.camera(150, 100);
            // The image's up is the axis (tilted by the 0.2 rad pitch only).
            assert!(
                orbit.up().dot(up) > 0.2f32.cos() - 1e-4,
                "{axis:?}: {}",
                orbit.up()
            );
            let (_, y_hi, _) = project(&cam, orbit.target + up * 0.5);
            let (_, y_lo, _) = project(&cam, orbit.target - up * 0.5);
            assert!(y_hi < y_lo, "{axis:?}");
            // It looks along the framing direction, level with the horizon but for the pitch.
            let flat = orbit.forward() - up * orbit.forward().dot(up);
            assert!(
                flat.normalize().dot(framing_forward(up)) > 1.0 - 1e-5,
                "{axis:?}"
            );
        }
        // −y up is the default framing; ±z up looks along +y.
        let d = OrbitCamera::framing(lo, hi, 1.5);
        assert_eq!(d, OrbitCamera::framing_about(lo, hi, 1.5, Vec3::NEG_Y));
        assert!((framing_forward(Vec3::NEG_Y) - Vec3::Z).length() < 1e-6);
        assert!((framing_forward(Vec3::Z) - Vec3::Y).length() < 1e-6);
        assert!((framing_forward(Vec3::NEG_Z) - Vec3::Y).length() < 1e-6);
    }

    #[test]
    fn a_saved_view_comes_back_as_the_same_camera() {
        let mut orbit = OrbitCamera::framing_about(Vec3::ZERO, Vec3::ONE, 1.0, Vec3::Z);
        orbit.orbit(37.0, 1e6, 300.0); // to the pitch limit
        orbit.fov_y = 0.7;
        let v = orbit.start_view();
        let back = OrbitCamera::from_start(&v, orbit.scene_radius).expect("view");
        assert!((back.eye() - orbit.eye()).length() < 1e-4);
        assert!((back.target - orbit.target).length() < 1e-6);
        assert!((back.fov_y - 0.7).abs() < 1e-6 && back.up_axis == Vec3::Z);
        let none = StartView {
            fov_y_deg: None,
            ..v
        };
        let default_fov = OrbitCamera::from_start(&none, 1.0).expect("view");
        assert_eq!(default_fov.fov_y, VIEWER_FOV_Y);
    }

    #[test]
    fn zoom_and_fly() {
        let mut orbit = OrbitCamera::framing(Vec3::splat(-1.0), Vec3::splat(1.0), 1.0);
        let d = orbit.distance;
        orbit.zoom(0.5);
        assert!((orbit.distance - 0.5 * d).abs() < 1e-5);
        orbit.zoom(f32::NAN);
        orbit.zoom(0.0);
        assert!((orbit.distance - 0.5 * d).abs() < 1e-5);
        orbit.zoom(1e-9);
        assert!(orbit.distance > 0.0);
        let (t, f) = (orbit.target, orbit.forward());
        orbit.fly(0.5, 0.0, 0.0);
        assert!((orbit.target - t - f * 0.5 * orbit.scene_radius).length() < 1e-5);
    }
}
