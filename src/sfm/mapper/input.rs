//! What the mapper starts from: images with their intrinsics prior and keypoints, and the raw
//! descriptor matches between image pairs.

use nalgebra::Vector2;

use crate::sfm::Camera;

/// One photo: its name, which camera (intrinsics) it was taken with, and its keypoints in
/// COLMAP pixels of the original image (top-left pixel centre at (0.5, 0.5)).
#[derive(Debug, Clone)]
pub struct SfmImage {
    pub name: String,
    pub camera_id: u32,
    pub keypoints: Vec<Vector2<f64>>,
}

/// Matched keypoint indices `[index in a, index in b]` of images `a` and `b` (indices into
/// [`SfmInput::images`]).
#[derive(Debug, Clone)]
pub struct PairMatches {
    pub a: usize,
    pub b: usize,
    pub matches: Vec<[u32; 2]>,
}

/// Everything the mapper needs.
#[derive(Debug, Clone, Default)]
pub struct SfmInput {
    /// Initial intrinsics (e.g. from EXIF focal length); refined by bundle adjustment.
    pub cameras: Vec<Camera>,
    pub images: Vec<SfmImage>,
    pub pairs: Vec<PairMatches>,
}

impl SfmInput {
    /// The camera of image `i`.
    pub fn camera_of(&self, i: usize) -> Option<&Camera> {
        let id = self.images.get(i)?.camera_id;
        self.cameras.iter().find(|c| c.id == id)
    }
}
