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
    /// The photo's size before downscaling (the model's pixels). Each axis scales on its own:
    /// a downscale rounds the other side, so one factor would shift keypoints by up to half a
    /// pixel.
    pub original_size: (u32, u32),
    /// EXIF 35-mm-equivalent focal length, if the photo has one.
    pub focal_35mm: Option<f64>,
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
        let (w, h) = (
            u64::from(img.original_size.0.max(1)),
            u64::from(img.original_size.1.max(1)),
        );
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
        let sx = w as f64 / f64::from(img.features.width.max(1));
        let sy = h as f64 / f64::from(img.features.height.max(1));
        out.push(SfmImage {
            name: img.name.clone(),
            camera_id: id,
            // SIFT's pixel centres are at integers in the decoded image; COLMAP's at +0.5 in
            // the original.
            keypoints: img
                .features
                .keypoints
                .iter()
                .map(|k| Vector2::new((k.x as f64 + 0.5) * sx, (k.y as f64 + 0.5) * sy))
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
