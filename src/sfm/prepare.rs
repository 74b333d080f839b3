//! From the feature stage's results to the mapper's input: keypoints in COLMAP pixels of the
//! original photo, and one shared camera per device (photos of the same size and EXIF focal
//! length), with the focal length prior from EXIF where present.

use std::collections::BTreeMap;

use nalgebra::Vector2;

use super::mapper::{PairMatches, SfmImage, SfmInput};
use super::{Camera, CameraModel};
use crate::features::ImageFeatures;

/// Focal length prior without EXIF, as a multiple of the longer side (COLMAP's default).
pub const DEFAULT_FOCAL_FACTOR: f64 = 1.2;

/// One photo's features with what the camera grouping needs.
pub struct FeaturedImage<'a> {
    pub name: String,
    pub features: &'a ImageFeatures,
    /// EXIF 35-mm-equivalent focal length, if the photo has one.
    pub focal_35mm: Option<f64>,
}

/// The photo's size before downscaling.
fn original_size(f: &ImageFeatures) -> (u64, u64) {
    let s = if f.scale > 0.0 && f.scale.is_finite() {
        f.scale
    } else {
        1.0
    };
    (
        (f.width as f64 / s).round() as u64,
        (f.height as f64 / s).round() as u64,
    )
}

/// Builds the mapper input. `pairs` are `(image a, image b, [keypoint in a, keypoint in b])`.
/// Cameras are SIMPLE_RADIAL (focal, principal point at the centre, one distortion term),
/// shared by photos of one size and EXIF focal length.
pub fn sfm_input(
    images: &[FeaturedImage<'_>],
    pairs: Vec<(usize, usize, Vec<[u32; 2]>)>,
) -> SfmInput {
    let mut cameras: Vec<Camera> = Vec::new();
    let mut by_key: BTreeMap<(u64, u64, Option<u64>), u32> = BTreeMap::new();
    let mut out = Vec::with_capacity(images.len());
    for img in images {
        let (w, h) = original_size(img.features);
        let focal_key = img.focal_35mm.map(|f| (f * 1000.0).round() as u64);
        let id = *by_key.entry((w, h, focal_key)).or_insert_with(|| {
            let diag = ((w * w + h * h) as f64).sqrt();
            let focal = img
                .focal_35mm
                .filter(|f| *f > 0.0 && f.is_finite())
                .map_or(DEFAULT_FOCAL_FACTOR * w.max(h) as f64, |f35| {
                    f35 / crate::images::FULL_FRAME_DIAGONAL_MM as f64 * diag
                });
            let id = cameras.len() as u32 + 1;
            let params = vec![focal, w as f64 / 2.0, h as f64 / 2.0, 0.0];
            cameras.push(Camera {
                id,
                model: CameraModel::SimpleRadial,
                width: w,
                height: h,
                params,
            });
            id
        });
        let s = if img.features.scale > 0.0 {
            img.features.scale
        } else {
            1.0
        };
        out.push(SfmImage {
            name: img.name.clone(),
            camera_id: id,
            // SIFT's pixel centres are at integers in the decoded image; COLMAP's at +0.5 in
            // the original.
            keypoints: img
                .features
                .keypoints
                .iter()
                .map(|k| Vector2::new((k.x as f64 + 0.5) / s, (k.y as f64 + 0.5) / s))
                .collect(),
        });
    }
    SfmInput {
        cameras,
        images: out,
        pairs: pairs
            .into_iter()
            .map(|(a, b, matches)| PairMatches { a, b, matches })
            .collect(),
    }
}
