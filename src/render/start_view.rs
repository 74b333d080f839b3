//! The first view of a scene taken from its photos' cameras: world up is the mean of the
//! cameras' image-up axes (−y of each camera), the eye is the capture camera that saw the most
//! sparse points, and the target lies on its optical axis at the depth of the points' median.
//! So a scene whose world is z-up (or any other way) opens upright, as photographed.

use glam::Vec3;

use crate::api::StartView;
use crate::sfm::{Image, Reconstruction};

fn vec3(v: &nalgebra::Vector3<f64>) -> Vec3 {
    Vec3::new(v.x as f32, v.y as f32, v.z as f32)
}

/// The world-space direction of camera axis `axis` (x right, y down, z forward) of `image`.
fn axis(image: &Image, axis: nalgebra::Vector3<f64>) -> Vec3 {
    vec3(&(image.cam_from_world.rotation.inverse() * axis))
}

/// The start view of `rec`, or `None` without registered images (or when their up axes cancel).
pub fn start_view(rec: &Reconstruction) -> Option<StartView> {
    let up_sum: Vec3 = rec
        .images
        .values()
        .map(|im| axis(im, -nalgebra::Vector3::y()))
        .sum();
    let up = up_sum.try_normalize()?;
    // Most triangulated observations; the lowest id among equals (the map is ordered).
    let best = rec
        .images
        .values()
        .fold(None::<(&Image, usize)>, |best, im| {
            let seen = im
                .points2d
                .iter()
                .filter(|p| p.point3d_id.is_some())
                .count();
            match best {
                Some((_, n)) if n >= seen => best,
                _ => Some((im, seen)),
            }
        })?;
    let eye = vec3(&best.0.center());
    let forward = axis(best.0, nalgebra::Vector3::z());
    let centre = if rec.points3d.is_empty() {
        rec.images
            .values()
            .map(|im| vec3(&im.center()))
            .sum::<Vec3>()
            / rec.images.len() as f32
    } else {
        median(rec.points3d.values().map(|p| vec3(&p.xyz)))
    };
    let depth = (centre - eye).dot(forward);
    let depth = if depth.is_finite() && depth > 1e-6 {
        depth
    } else {
        1.0
    };
    Some(StartView {
        eye: eye.to_array(),
        target: (eye + forward * depth).to_array(),
        up: up.to_array(),
        fov_y_deg: None,
    })
}

/// The per-axis median.
fn median(points: impl Iterator<Item = Vec3>) -> Vec3 {
    let mut axes: [Vec<f32>; 3] = Default::default();
    for p in points {
        for (a, v) in axes.iter_mut().zip(p.to_array()) {
            a.push(v);
        }
    }
    Vec3::from(axes.map(|mut a| {
        a.sort_by(f32::total_cmp);
        a.get(a.len() / 2).copied().unwrap_or(0.0)
    }))
}

#[cfg(test)]
mod tests {
    use nalgebra::{Isometry3, Point3, Vector3};

    use super::*;
    use crate::sfm::{Point2D, Point3D};

    /// A z-up world: cameras on a ring at height 0.5 looking at the origin, their image up
    /// (−y) along +z.
    fn z_up_ring() -> Reconstruction {
        let mut rec = Reconstruction::default();
        for i in 0..8u32 {
            let a = f64::from(i) / 8.0 * std::f64::consts::TAU;
            let eye = Point3::new(3.0 * a.cos(), 3.0 * a.sin(), 0.5);
            // Camera axes: z forward (to the origin), y down (−z world), x = y × z.
            let f = (Point3::origin() - eye).normalize();
            let y = (-Vector3::z() - f * f.dot(&-Vector3::z())).normalize();
            let x = y.cross(&f);
            let r = nalgebra::Rotation3::from_matrix_unchecked(nalgebra::Matrix3::from_rows(&[
                x.transpose(),
                y.transpose(),
                f.transpose(),
            ]));
            let rot = nalgebra::UnitQuaternion::from_rotation_matrix(&r);
            let t = -(rot * eye.coords);
            let seen = if i == 3 { 5 } else { 2 };
            rec.images.insert(
                i + 1,
                Image {
                    id: i + 1,
                    camera_id: 1,
                    name: format!("{i}.png"),
                    cam_from_world: Isometry3::from_parts(t.into(), rot),
                    points2d: (0..seen)
                        .map(|k| Point2D {
                            xy: nalgebra::Vector2::zeros(),
                            point3d_id: Some(k),
                        })
                        .collect(),
                },
            );
        }
        for k in 0..5u64 {
            let xyz = Vector3::new(0.1 * k as f64, -0.1, 0.2);
            rec.points3d.insert(
                k,
                Point3D {
                    xyz,
                    color: [0; 3],
                    error: 0.0,
                    track: Vec::new(),
                },
            );
        }
        rec
    }

    #[test]
    fn a_z_up_capture_starts_upright_from_its_best_camera() {
        let rec = z_up_ring();
        let v = start_view(&rec).expect("start view");
        let up = Vec3::from(v.up);
        assert!((up - Vec3::Z).length() < 1e-5, "up {up}");
        // Camera 4 (index 3) saw the most points.
        let eye = Vec3::from(v.eye);
        let a = 3.0 / 8.0 * std::f32::consts::TAU;
        assert!((eye - Vec3::new(3.0 * a.cos(), 3.0 * a.sin(), 0.5)).length() < 1e-5);
        // The target is on its optical axis at the points' median depth.
        let forward = (Vec3::ZERO - eye).normalize();
        let target = Vec3::from(v.target);
        let to_target = target - eye;
        assert!(to_target.normalize().dot(forward) > 1.0 - 1e-5);
        let median = Vec3::new(0.2, -0.1, 0.2);
        assert!((to_target.length() - (median - eye).dot(forward)).abs() < 1e-4);
        assert!(start_view(&Reconstruction::default()).is_none());
    }
}
