//! The growing reconstruction and the bookkeeping around it: which input image is which
//! registered image, which keypoint observes which 3D point, adding and removing observations.

use nalgebra::{Isometry3, Vector2, Vector3};

use super::graph::CorrespondenceGraph;
use super::input::SfmInput;
use crate::sfm::{Image, Point2D, Point3D, Reconstruction, TrackElement};

/// The reconstruction being built. Image `i` of the input is image id `i + 1`.
pub struct MapState<'a> {
    pub input: &'a SfmInput,
    /// Built once from the verified pairs; every attempt at a model reads it.
    pub graph: &'a CorrespondenceGraph,
    pub rec: Reconstruction,
    next_point: u64,
}

/// The image id of input image `i`.
pub fn image_id(i: usize) -> u32 {
    i as u32 + 1
}

/// The input index of image id `id`.
pub fn image_index(id: u32) -> usize {
    id as usize - 1
}

impl<'a> MapState<'a> {
    pub fn new(input: &'a SfmInput, graph: &'a CorrespondenceGraph) -> Self {
        let mut rec = Reconstruction::default();
        for c in &input.cameras {
            rec.cameras.insert(c.id, c.clone());
        }
        Self {
            input,
            graph,
            rec,
            next_point: 1,
        }
    }

    pub fn is_registered(&self, i: usize) -> bool {
        self.rec.images.contains_key(&image_id(i))
    }

    /// Registered input indices, ascending.
    pub fn registered(&self) -> Vec<usize> {
        self.rec.images.keys().map(|&id| image_index(id)).collect()
    }

    /// Adds input image `i` with `pose` and no observations.
    pub fn register(&mut self, i: usize, pose: Isometry3<f64>) {
        let img = &self.input.images[i];
        self.rec.images.insert(
            image_id(i),
            Image {
                id: image_id(i),
                camera_id: img.camera_id,
                name: img.name.clone(),
                cam_from_world: pose,
                points2d: img
                    .keypoints
                    .iter()
                    .map(|&xy| Point2D {
                        xy,
                        point3d_id: None,
                    })
                    .collect(),
            },
        );
    }

    pub fn pose(&self, i: usize) -> Option<Isometry3<f64>> {
        self.rec
            .images
            .get(&image_id(i))
            .map(|im| im.cam_from_world)
    }

    /// The 3D point keypoint `kp` of registered image `i` observes.
    pub fn point_of(&self, i: usize, kp: u32) -> Option<u64> {
        self.rec
            .images
            .get(&image_id(i))?
            .points2d
            .get(kp as usize)?
            .point3d_id
    }

    /// Keypoint `kp` of image `i` in normalized coordinates (current intrinsics).
    pub fn normalized(&self, i: usize, kp: u32) -> Option<Vector2<f64>> {
        let img = self.input.images.get(i)?;
        let cam = self.rec.cameras.get(&img.camera_id)?;
        Some(cam.image_to_normalized(img.keypoints.get(kp as usize)?))
    }

    /// Focal length in pixels of image `i`'s camera.
    pub fn focal(&self, i: usize) -> f64 {
        self.input
            .images
            .get(i)
            .and_then(|img| self.rec.cameras.get(&img.camera_id))
            .map_or(1.0, |c| c.focal_lengths().mean())
    }

    /// Squared pixel reprojection error of `xyz` at keypoint `kp` of registered image `i`
    /// (`None` behind the camera).
    pub fn reprojection_error_px(&self, i: usize, kp: u32, xyz: &Vector3<f64>) -> Option<f64> {
        let img = self.rec.images.get(&image_id(i))?;
        let cam = self.rec.cameras.get(&img.camera_id)?;
        let p = cam.project(&(img.cam_from_world * nalgebra::Point3::from(*xyz)).coords)?;
        Some((p - img.points2d.get(kp as usize)?.xy).norm())
    }

    /// Whether registered image `i` already observes `point` (through any keypoint).
    pub fn observes(&self, i: usize, point: u64) -> bool {
        self.rec
            .points3d
            .get(&point)
            .is_some_and(|p| p.track.iter().any(|t| t.image_id == image_id(i)))
    }

    /// A new point seen by `obs` (registered images, keypoints without a point).
    pub fn add_point(&mut self, xyz: Vector3<f64>, obs: &[(usize, u32)]) -> u64 {
        let id = self.next_point;
        self.next_point += 1;
        self.rec.points3d.insert(
            id,
            Point3D {
                xyz,
                color: [128, 128, 128],
                error: -1.0,
                track: Vec::with_capacity(obs.len()),
            },
        );
        for &(i, kp) in obs {
            self.add_observation(id, i, kp);
        }
        id
    }

    /// Keypoint `kp` of registered image `i` now observes `point`.
    pub fn add_observation(&mut self, point: u64, i: usize, kp: u32) {
        let Some(img) = self.rec.images.get_mut(&image_id(i)) else {
            return;
        };
        let Some(p2) = img.points2d.get_mut(kp as usize) else {
            return;
        };
        if p2.point3d_id.is_some() {
            return;
        }
        p2.point3d_id = Some(point);
        if let Some(p) = self.rec.points3d.get_mut(&point) {
            p.track.push(TrackElement {
                image_id: image_id(i),
                point2d_idx: kp,
            });
        }
    }

    /// Drops one observation; the point goes when fewer than two remain.
    pub fn remove_observation(&mut self, point: u64, image: u32, kp: u32) {
        if let Some(p2) = self
            .rec
            .images
            .get_mut(&image)
            .and_then(|img| img.points2d.get_mut(kp as usize))
        {
            if p2.point3d_id == Some(point) {
                p2.point3d_id = None;
            }
        }
        let remaining = match self.rec.points3d.get_mut(&point) {
            Some(p) => {
                p.track
                    .retain(|t| !(t.image_id == image && t.point2d_idx == kp));
                p.track.len()
            }
            None => return,
        };
        if remaining < 2 {
            self.remove_point(point);
        }
    }

    /// Drops a point and every observation of it.
    pub fn remove_point(&mut self, point: u64) {
        if let Some(p) = self.rec.points3d.remove(&point) {
            for t in p.track {
                if let Some(p2) = self
                    .rec
                    .images
                    .get_mut(&t.image_id)
                    .and_then(|img| img.points2d.get_mut(t.point2d_idx as usize))
                {
                    if p2.point3d_id == Some(point) {
                        p2.point3d_id = None;
                    }
                }
            }
        }
    }
}
