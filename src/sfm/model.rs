//! The reconstruction as COLMAP models it: cameras (intrinsics), images (a pose and the 2D
//! feature points, each possibly observing a 3D point), and 3D points with their tracks.
//! Poses are `cam_from_world` (x_cam = R x_world + t), as COLMAP stores them.

use std::collections::BTreeMap;

use nalgebra::{Isometry3, Vector2, Vector3};

use super::Camera;

/// A 2D feature point of an image, in pixels (COLMAP's convention: the image spans
/// `[0, w] × [0, h]`, the centre of the top-left pixel is (0.5, 0.5)).
#[derive(Debug, Clone, PartialEq)]
pub struct Point2D {
    pub xy: Vector2<f64>,
    /// The 3D point this observation belongs to, if triangulated.
    pub point3d_id: Option<u64>,
}

/// A photo: its camera, pose and feature points.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    pub id: u32,
    pub camera_id: u32,
    /// File name as COLMAP keeps it (relative to the image folder).
    pub name: String,
    /// World to camera.
    pub cam_from_world: Isometry3<f64>,
    pub points2d: Vec<Point2D>,
}

impl Image {
    /// The camera centre in world coordinates.
    pub fn center(&self) -> Vector3<f64> {
        self.cam_from_world.inverse().translation.vector
    }
}

/// One observation of a 3D point: image and index into its `points2d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TrackElement {
    pub image_id: u32,
    pub point2d_idx: u32,
}

/// A triangulated point.
#[derive(Debug, Clone, PartialEq)]
pub struct Point3D {
    pub xyz: Vector3<f64>,
    pub color: [u8; 3],
    /// Mean reprojection error in pixels (COLMAP's `error`); negative when unknown.
    pub error: f64,
    pub track: Vec<TrackElement>,
}

/// Cameras, registered images and 3D points, keyed by their ids (ordered, so writing is
/// deterministic).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reconstruction {
    pub cameras: BTreeMap<u32, Camera>,
    pub images: BTreeMap<u32, Image>,
    pub points3d: BTreeMap<u64, Point3D>,
}
