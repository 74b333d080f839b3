//! Consistency of a model as COLMAP requires it: camera parameter counts, images naming existing
//! cameras, and tracks and 2D points naming each other both ways.

use std::collections::HashSet;

use super::{ColmapError, FileNames};
use crate::sfm::Reconstruction;

/// Checks `rec`; errors name the file (in `names`) where the faulty record lives.
pub(super) fn check(rec: &Reconstruction, names: FileNames) -> Result<(), ColmapError> {
    for (&key, camera) in &rec.cameras {
        stored_under_own_id(names.cameras, "camera", key, camera.id)?;
        let expected = camera.model.param_count();
        if camera.params.len() != expected {
            return Err(ColmapError::ParamCount {
                file: names.cameras,
                camera_id: camera.id,
                model: camera.model.name(),
                expected,
                found: camera.params.len(),
            });
        }
    }

    for (&key, image) in &rec.images {
        stored_under_own_id(names.images, "image", key, image.id)?;
        if !rec.cameras.contains_key(&image.camera_id) {
            return Err(ColmapError::MissingCamera {
                file: names.images,
                image_id: image.id,
                camera_id: image.camera_id,
            });
        }
        if u32::try_from(image.points2d.len()).is_err() {
            return Err(ColmapError::InvalidRecord {
                file: names.images,
                record: format!("image {}", image.id),
                reason: format!(
                    "{} points2D, more than a u32 index can name",
                    image.points2d.len()
                ),
            });
        }
        for (idx, point) in image.points2d.iter().enumerate() {
            if let Some(point3d_id) = point.point3d_id {
                if !rec.points3d.contains_key(&point3d_id) {
                    return Err(ColmapError::MissingPoint3D {
                        file: names.images,
                        image_id: image.id,
                        point2d_idx: idx,
                        point3d_id,
                    });
                }
            }
        }
    }

    let mut in_tracks = HashSet::new();
    for (&point3d_id, point) in &rec.points3d {
        if point3d_id == u64::MAX {
            return Err(ColmapError::InvalidRecord {
                file: names.points3d,
                record: format!("point3D {point3d_id}"),
                reason: "the id is COLMAP's marker for no point".into(),
            });
        }
        for el in &point.track {
            let image = rec
                .images
                .get(&el.image_id)
                .ok_or(ColmapError::MissingImage {
                    file: names.points3d,
                    point3d_id,
                    image_id: el.image_id,
                })?;
            let idx = el.point2d_idx as usize;
            let point2d = image
                .points2d
                .get(idx)
                .ok_or(ColmapError::Point2DOutOfRange {
                    file: names.points3d,
                    point3d_id,
                    image_id: el.image_id,
                    point2d_idx: el.point2d_idx,
                    num_points2d: image.points2d.len(),
                })?;
            let inconsistent = |reason| ColmapError::InconsistentTrack {
                file: names.points3d,
                point3d_id,
                image_id: el.image_id,
                point2d_idx: idx,
                reason,
            };
            if point2d.point3d_id != Some(point3d_id) {
                return Err(inconsistent(
                    "the track lists the 2D point, which observes another point3D or none",
                ));
            }
            if !in_tracks.insert((el.image_id, el.point2d_idx)) {
                return Err(inconsistent("the track lists the 2D point twice"));
            }
        }
    }

    // Every observation is in a track: the 2D points naming a point3D are all listed by it.
    for image in rec.images.values() {
        for (idx, point) in image.points2d.iter().enumerate() {
            if let Some(point3d_id) = point.point3d_id {
                // `idx` fits in u32 (checked above).
                if !in_tracks.contains(&(image.id, idx as u32)) {
                    return Err(ColmapError::InconsistentTrack {
                        file: names.points3d,
                        point3d_id,
                        image_id: image.id,
                        point2d_idx: idx,
                        reason: "the 2D point observes the point3D, whose track does not list it",
                    });
                }
            }
        }
    }
    Ok(())
}

/// A `what` record with id `id` must be stored under that id (the map key `key`).
fn stored_under_own_id(
    file: &'static str,
    what: &str,
    key: u32,
    id: u32,
) -> Result<(), ColmapError> {
    if key != id {
        return Err(ColmapError::InvalidRecord {
            file,
            record: format!("{what} {id}"),
            reason: format!("stored under id {key}"),
        });
    }
    Ok(())
}
