//! A sparse reconstruction as splats, so the viewer that draws trained scenes also shows an SfM
//! result: every point a small round splat in its colour, every registered camera a wire
//! frustum (its centre joined to its image's four corners, and the image's outline) made of
//! thin orange splats, drawn a little in front of the camera.

use glam::{Quat, Vec3};

use super::camera::percentile_box;
use crate::formats::{logit, GaussianScene, SH_C0};
use crate::sfm::{Camera, Image, Reconstruction};

/// Splats along each frustum edge.
const EDGE_SPLATS: usize = 6;
/// Edges of a frustum: four from the centre to the image's corners, four around the image.
const EDGES: usize = 8;
/// Splats that draw one camera.
pub const SPLATS_PER_CAMERA: usize = EDGES * EDGE_SPLATS;
/// Frustum colour (orange, apart from most scene colours).
const CAMERA_RGB: [f32; 3] = [1.0, 0.55, 0.1];

/// Points and their colours (a sparse cloud, as `points.ply` or `points3D.bin` hold it).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PointCloud {
    pub positions: Vec<[f32; 3]>,
    pub colors: Vec<[u8; 3]>,
}

impl PointCloud {
    /// The points of a COLMAP model.
    pub fn of(rec: &Reconstruction) -> Self {
        let (positions, colors) = rec
            .points3d
            .values()
            .map(|p| ([p.xyz.x as f32, p.xyz.y as f32, p.xyz.z as f32], p.color))
            .unzip();
        Self { positions, colors }
    }
}

/// A camera to draw: its centre and the directions (in world axes, at unit depth) of its
/// image's corners, clockwise from the top left.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CameraMarker {
    pub center: Vec3,
    pub corners: [Vec3; 4],
}

impl CameraMarker {
    /// The markers of every image of `rec` whose camera it holds.
    pub fn all(rec: &Reconstruction) -> Vec<Self> {
        rec.images
            .values()
            .filter_map(|im| rec.cameras.get(&im.camera_id).map(|c| Self::new(im, c)))
            .collect()
    }

    /// The marker of `image` seen through `camera` (distortion ignored: it only bends the
    /// outline slightly).
    pub fn new(image: &Image, camera: &Camera) -> Self {
        let world_from_cam = image.cam_from_world.inverse();
        let c = world_from_cam.translation.vector;
        let f = camera.focal_lengths();
        let pp = camera.principal_point();
        let (w, h) = (camera.width as f64, camera.height as f64);
        let corners = [(0.0, 0.0), (w, 0.0), (w, h), (0.0, h)].map(|(x, y)| {
            let dir = nalgebra::Vector3::new((x - pp.x) / f.x, (y - pp.y) / f.y, 1.0);
            let d = world_from_cam.rotation * dir;
            Vec3::new(d.x as f32, d.y as f32, d.z as f32)
        });
        Self {
            center: Vec3::new(c.x as f32, c.y as f32, c.z as f32),
            corners,
        }
    }
}

/// The splats of a sparse model and the box the viewer should frame.
#[derive(Debug, Clone)]
pub struct SparseScene {
    /// The points first (in order), then [`SPLATS_PER_CAMERA`] splats per camera.
    pub scene: GaussianScene,
    /// The 5th–95th percentile box of the points, grown to hold every camera centre.
    pub frame: (Vec3, Vec3),
}

/// Splats for `cloud` and `cameras`. Sizes follow the scene: points are 0.4 % of the framed
/// box's diagonal, frusta as deep as 0.4 × the median distance between neighbouring cameras
/// (at most 5 % of the diagonal), so neighbours do not overlap.
pub fn sparse_scene(cloud: &PointCloud, cameras: &[CameraMarker]) -> SparseScene {
    let (mut lo, mut hi) = if cloud.positions.is_empty() {
        let c = cameras.first().map_or(Vec3::ZERO, |m| m.center);
        (c, c)
    } else {
        percentile_box(&cloud.positions, 0.05)
    };
    for m in cameras {
        lo = lo.min(m.center);
        hi = hi.max(m.center);
    }
    let diagonal = (hi - lo).length().max(1e-3);
    if (hi - lo).max_element() < 1e-3 {
        (lo, hi) = (lo - Vec3::splat(0.5), hi + Vec3::splat(0.5));
    }
    let depth = match median_neighbour_distance(cameras) {
        Some(d) if d > 0.0 => (0.4 * d).min(0.05 * diagonal),
        _ => 0.05 * diagonal,
    };

    let mut scene = GaussianScene::empty(0);
    let n = cloud.positions.len() + cameras.len() * SPLATS_PER_CAMERA;
    scene.positions.reserve(n);
    let point_log_scale = (0.004 * diagonal).ln();
    for (p, c) in cloud.positions.iter().zip(&cloud.colors) {
        push(
            &mut scene,
            Vec3::from(*p),
            [point_log_scale; 3],
            Quat::IDENTITY,
            c.map(|v| f32::from(v) / 255.0),
        );
    }
    let thickness = (0.025 * depth).ln();
    for m in cameras {
        let corners = m.corners.map(|d| m.center + d * depth);
        for i in 0..4 {
            edge(&mut scene, m.center, corners[i], thickness);
            edge(&mut scene, corners[i], corners[(i + 1) % 4], thickness);
        }
    }
    SparseScene {
        scene,
        frame: (lo, hi),
    }
}

/// The median over cameras of the distance to the nearest other camera.
fn median_neighbour_distance(cameras: &[CameraMarker]) -> Option<f32> {
    let mut nearest: Vec<f32> = cameras
        .iter()
        .enumerate()
        .filter_map(|(i, a)| {
            cameras
                .iter()
                .enumerate()
                .filter(|&(j, _)| j != i)
                .map(|(_, b)| a.center.distance(b.center))
                .min_by(f32::total_cmp)
        })
        .collect();
    nearest.sort_by(f32::total_cmp);
    nearest.get(nearest.len() / 2).copied()
}

/// [`EDGE_SPLATS`] thin splats, stretched along the segment `a..b`.
fn edge(scene: &mut GaussianScene, a: Vec3, b: Vec3, log_thickness: f32) {
    let along = b - a;
    let len = along.length();
    let rotation = if len > 0.0 {
        Quat::from_rotation_arc(Vec3::X, along / len)
    } else {
        Quat::IDENTITY
    };
    let half = (0.5 * len / EDGE_SPLATS as f32).max(f32::MIN_POSITIVE).ln();
    for k in 0..EDGE_SPLATS {
        let t = (k as f32 + 0.5) / EDGE_SPLATS as f32;
        push(
            scene,
            a + along * t,
            [half, log_thickness, log_thickness],
            rotation,
            CAMERA_RGB,
        );
    }
}

fn push(scene: &mut GaussianScene, p: Vec3, log_scale: [f32; 3], q: Quat, rgb: [f32; 3]) {
    scene.positions.push(p.to_array());
    scene.log_scales.push(log_scale);
    scene.rotations.push([q.w, q.x, q.y, q.z]);
    scene.opacity_logits.push(logit(0.95));
    scene.sh.extend(rgb.map(|c| (c - 0.5) / SH_C0));
}

#[cfg(test)]
mod tests {
    use nalgebra::{Isometry3, Translation3, UnitQuaternion, Vector3};

    use super::*;
    use crate::sfm::CameraModel;

    #[test]
    fn points_and_frusta() {
        // A camera at (0, 0, -4) looking along +z (identity rotation), 200×100, f = 100.
        let camera =
            Camera::from_focal(1, CameraModel::SimplePinhole, 200, 100, 100.0).expect("camera");
        let image = |x: f64| Image {
            id: 1,
            camera_id: 1,
            name: "a.jpg".into(),
            cam_from_world: Isometry3::from_parts(
                Translation3::new(-x, 0.0, 4.0),
                UnitQuaternion::identity(),
            ),
            points2d: Vec::new(),
        };
        let m = CameraMarker::new(&image(0.0), &camera);
        assert_eq!(m.center, Vec3::new(0.0, 0.0, -4.0));
        // Principal point at the centre: corners at (±1, ±0.5, 1), top left first.
        assert_eq!(m.corners[0], Vec3::new(-1.0, -0.5, 1.0));
        assert_eq!(m.corners[2], Vec3::new(1.0, 0.5, 1.0));
        // Turned 90° about y, the camera looks along +x.
        let mut turned = image(0.0);
        turned.cam_from_world = Isometry3::from_parts(
            Translation3::new(0.0, 0.0, 0.0),
            UnitQuaternion::from_axis_angle(&Vector3::y_axis(), -std::f64::consts::FRAC_PI_2),
        );
        let t = CameraMarker::new(&turned, &camera);
        let mid = (t.corners[0] + t.corners[2]) / 2.0;
        assert!((mid - Vec3::X).length() < 1e-6, "{mid}");

        let cloud = PointCloud {
            positions: vec![[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]],
            colors: vec![[255, 0, 0], [0, 0, 255]],
        };
        let cams = [m, CameraMarker::new(&image(0.25), &camera)];
        let s = sparse_scene(&cloud, &cams);
        assert_eq!(s.scene.len(), 2 + 2 * SPLATS_PER_CAMERA);
        assert_eq!(s.scene.validate(), Ok(()));
        // Points keep their colour (through the DC term) and place.
        assert_eq!(s.scene.positions[1], [1.0, 1.0, 1.0]);
        assert!((0.5 + SH_C0 * s.scene.sh[0] - 1.0).abs() < 1e-6);
        assert!((0.5 + SH_C0 * s.scene.sh[5] - 1.0).abs() < 1e-6);
        // The frame holds the points' box and both camera centres.
        assert!(s.frame.0.z <= -4.0 && s.frame.1.x >= 1.0);
        // Frusta: 0.4 × the 0.25 neighbour distance deep (under 5 % of the ~5.2 diagonal);
        // every splat lies on the pyramid between the centre and the image at that depth.
        let cam_splats = &s.scene.positions[2..2 + SPLATS_PER_CAMERA];
        for p in cam_splats {
            let z = p[2] + 4.0;
            assert!((0.0..=0.1 + 1e-5).contains(&z), "{p:?}");
            assert!(
                p[0].abs() <= z + 1e-5 && p[1].abs() <= 0.5 * z + 1e-5,
                "{p:?}"
            );
        }
        assert!(cam_splats.iter().any(|p| (p[2] + 4.0 - 0.1).abs() < 1e-5));
    }
}
