//! Synthetic scenes for the bundle adjustment tests: a ring of cameras around a cube of points,
//! noisy (optionally corrupted) observations, and perturbed starting values.

use std::collections::{BTreeMap, BTreeSet};
use std::f64::consts::PI;

use nalgebra::{
    Isometry3, Matrix3, Point3, Rotation3, Translation3, UnitQuaternion, Vector2, Vector3,
};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::sfm::camera::{Camera, CameraModel};
use crate::sfm::{Image, Point2D, Point3D, Reconstruction, TrackElement};

pub const WIDTH: u64 = 1200;
pub const HEIGHT: u64 = 900;
/// Distance of the cameras from the scene centre.
pub const RADIUS: f64 = 6.0;

/// What to generate.
pub struct SceneSpec {
    pub cameras: usize,
    pub points: usize,
    pub model: CameraModel,
    pub params: Vec<f64>,
    /// Gaussian noise per pixel coordinate (σ, pixels).
    pub noise_px: f64,
    /// Fraction of observations replaced by gross outliers.
    pub outlier_fraction: f64,
    /// Outlier offset length (pixels, random direction).
    pub outlier_px: f64,
    /// A point is seen by the cameras within this angle (radians, around the ring) of a random
    /// direction of its own: tracks are arcs of the ring, as with real surfaces.
    pub visibility_half_angle: f64,
    pub seed: u64,
}

/// A standard normal sample (Box–Muller).
pub fn gaussian(rng: &mut SmallRng) -> f64 {
    let u1: f64 = rng.random_range(f64::EPSILON..1.0);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * PI * u2).cos()
}

/// A uniformly distributed unit vector.
pub fn unit_vector(rng: &mut SmallRng) -> Vector3<f64> {
    loop {
        let v = Vector3::new(gaussian(rng), gaussian(rng), gaussian(rng));
        if v.norm() > 1e-6 {
            return v.normalize();
        }
    }
}

/// The true scene: exact poses, intrinsics and points; observations with noise and outliers.
pub fn make_scene(spec: &SceneSpec) -> Reconstruction {
    let mut rng = SmallRng::seed_from_u64(spec.seed);
    let camera =
        Camera::new(1, spec.model, WIDTH, HEIGHT, spec.params.clone()).expect("valid scene camera");
    let mut rec = Reconstruction::default();
    let mut angles = Vec::new();
    for i in 0..spec.cameras {
        let theta = 2.0 * PI * i as f64 / spec.cameras as f64;
        let center = Vector3::new(
            RADIUS * theta.cos(),
            1.5 * (3.0 * theta).sin(),
            RADIUS * theta.sin(),
        );
        let target = Vector3::new(
            0.3 * rng.random_range(-1.0..1.0),
            0.3 * rng.random_range(-1.0..1.0),
            0.3 * rng.random_range(-1.0..1.0),
        );
        let z = (target - center).normalize();
        let x = z.cross(&Vector3::y()).normalize();
        let y = z.cross(&x);
        let r = Matrix3::from_rows(&[x.transpose(), y.transpose(), z.transpose()]);
        let rotation = UnitQuaternion::from_rotation_matrix(&Rotation3::from_matrix_unchecked(r));
        let t = -(rotation * center);
        let id = i as u32 + 1;
        rec.images.insert(
            id,
            Image {
                id,
                camera_id: 1,
                name: format!("{id:03}.jpg"),
                cam_from_world: Isometry3::from_parts(Translation3::from(t), rotation),
                points2d: Vec::new(),
            },
        );
        angles.push(theta);
    }
    for p in 0..spec.points {
        let xyz = Vector3::new(
            rng.random_range(-2.0..2.0),
            rng.random_range(-2.0..2.0),
            rng.random_range(-2.0..2.0),
        );
        let facing: f64 = rng.random_range(0.0..2.0 * PI);
        let mut track = Vec::new();
        let id = p as u64 + 1;
        for (i, theta) in angles.iter().enumerate() {
            let diff = (theta - facing).rem_euclid(2.0 * PI);
            if diff.min(2.0 * PI - diff) > spec.visibility_half_angle {
                continue;
            }
            let image = rec.images.get_mut(&(i as u32 + 1)).expect("image exists");
            let Some(pixel) = camera.project(&(image.cam_from_world * Point3::from(xyz)).coords)
            else {
                continue;
            };
            if !(0.0..WIDTH as f64).contains(&pixel.x) || !(0.0..HEIGHT as f64).contains(&pixel.y) {
                continue;
            }
            let offset = if rng.random::<f64>() < spec.outlier_fraction {
                let a: f64 = rng.random_range(0.0..2.0 * PI);
                spec.outlier_px * Vector2::new(a.cos(), a.sin())
            } else {
                spec.noise_px * Vector2::new(gaussian(&mut rng), gaussian(&mut rng))
            };
            track.push(TrackElement {
                image_id: image.id,
                point2d_idx: image.points2d.len() as u32,
            });
            image.points2d.push(Point2D {
                xy: pixel + offset,
                point3d_id: Some(id),
            });
        }
        if track.len() >= 2 {
            rec.points3d.insert(
                id,
                Point3D {
                    xyz,
                    color: [128, 128, 128],
                    error: -1.0,
                    track,
                },
            );
        } else {
            // Unobserved enough: drop the observations again.
            for te in track {
                if let Some(image) = rec.images.get_mut(&te.image_id) {
                    image.points2d[te.point2d_idx as usize].point3d_id = None;
                }
            }
        }
    }
    rec.cameras = BTreeMap::from([(1, camera)]);
    rec
}

/// A perturbed start: every image not in `keep` rotated by 1–2° about a random axis and its
/// centre moved by `translation_fraction` of its distance from the origin; points moved by
/// `point_sigma` (Gaussian per coordinate); focal lengths scaled by `focal_factor`, distortion
/// zeroed.
pub fn perturb(
    truth: &Reconstruction,
    keep: &BTreeSet<u32>,
    translation_fraction: f64,
    point_sigma: f64,
    focal_factor: f64,
    seed: u64,
) -> Reconstruction {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut rec = truth.clone();
    for image in rec.images.values_mut() {
        if keep.contains(&image.id) {
            continue;
        }
        let angle = rng.random_range(1.0..2.0f64).to_radians();
        let rotation = UnitQuaternion::from_scaled_axis(unit_vector(&mut rng) * angle)
            * image.cam_from_world.rotation;
        let center = image.center();
        let center = center + unit_vector(&mut rng) * translation_fraction * center.norm();
        image.cam_from_world =
            Isometry3::from_parts(Translation3::from(-(rotation * center)), rotation);
    }
    for point in rec.points3d.values_mut() {
        point.xyz +=
            point_sigma * Vector3::new(gaussian(&mut rng), gaussian(&mut rng), gaussian(&mut rng));
    }
    for camera in rec.cameras.values_mut() {
        for &i in camera.model.focal_indices() {
            camera.params[i] *= focal_factor;
        }
        for &i in camera.model.extra_indices() {
            camera.params[i] = 0.0;
        }
    }
    rec
}

/// Sets translation coordinate `k` of image `id` in `rec` to its true value (the scale gauge).
pub fn copy_translation_coordinate(
    rec: &mut Reconstruction,
    truth: &Reconstruction,
    id: u32,
    k: usize,
) {
    let value = truth.images[&id].cam_from_world.translation.vector[k];
    if let Some(image) = rec.images.get_mut(&id) {
        image.cam_from_world.translation.vector[k] = value;
    }
}

/// The translation coordinate of image `id` with the largest magnitude (best held for scale).
pub fn largest_translation_coordinate(rec: &Reconstruction, id: u32) -> usize {
    rec.images[&id].cam_from_world.translation.vector.iamax()
}

/// Rotation angle between two poses, degrees.
pub fn rotation_error_deg(a: &Isometry3<f64>, b: &Isometry3<f64>) -> f64 {
    a.rotation.angle_to(&b.rotation).to_degrees()
}

/// Largest rotation error over the images of `rec` against `truth`, degrees.
pub fn max_rotation_error_deg(rec: &Reconstruction, truth: &Reconstruction) -> f64 {
    rec.images
        .values()
        .map(|image| {
            rotation_error_deg(
                &image.cam_from_world,
                &truth.images[&image.id].cam_from_world,
            )
        })
        .fold(0.0, f64::max)
}

/// Largest camera-centre distance over the images of `rec` against `truth`.
pub fn max_center_error(rec: &Reconstruction, truth: &Reconstruction) -> f64 {
    rec.images
        .values()
        .map(|image| (image.center() - truth.images[&image.id].center()).norm())
        .fold(0.0, f64::max)
}
