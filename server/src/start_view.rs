//! A project's first view, decided in one place ([`resolve`]) for the project page, the share
//! page and the thumbnail: the view the owner saved from the viewer, else a capture camera
//! (`render::start_view` on the COLMAP model in `sparse/0/*.bin`, which the `sfm` job and a
//! COLMAP import store), else none, and the viewer frames the splats about the owner's up axis
//! (−y by default). Also the validation of a view the owner saves ([`validate`]).

use glam::Vec3;
use splatpod::api::{ProjectStartView, StartView, StartViewSource, UpAxis};
use splatpod::render::OrbitCamera;
use splatpod::sfm::colmap::read_binary;

use crate::blob::BlobStore;
use crate::db::{artifacts, projects, Db};
use crate::error::ServerError;

/// Smallest and largest vertical field of view of a saved view, degrees.
const FOV_DEG: std::ops::RangeInclusive<f32> = 1.0..=170.0;

/// The first view of `project_id` (see the module docs); a 404 without the project.
pub async fn resolve(
    db: &Db,
    blobs: &BlobStore,
    project_id: &str,
) -> Result<ProjectStartView, ServerError> {
    let (saved, axis) = projects::view_settings(db, project_id)
        .await?
        .ok_or_else(|| ServerError::NotFound(format!("no project with id `{project_id}`")))?;
    let up_axis = match axis.as_deref().map(|a| (a, UpAxis::parse(a))) {
        None => UpAxis::default(),
        Some((_, Some(axis))) => axis,
        Some((a, None)) => {
            tracing::warn!("project {project_id}: unknown stored up axis `{a}`, using -y");
            UpAxis::default()
        }
    };
    let saved = saved.and_then(|json| match serde_json::from_str::<StartView>(&json) {
        Ok(v) => Some(v),
        Err(e) => {
            tracing::warn!("project {project_id}: stored start view does not parse: {e}");
            None
        }
    });
    let camera = for_project(db, blobs, project_id).await?;
    let has_cameras = camera.is_some();
    let (start_view, source) = match (saved, camera) {
        (Some(v), _) => (Some(v), StartViewSource::Saved),
        (None, Some(v)) => (Some(v), StartViewSource::Camera),
        (None, None) => (None, StartViewSource::Framing),
    };
    Ok(ProjectStartView {
        start_view,
        source,
        up_axis,
        has_cameras,
    })
}

/// `v` as it is stored, with a unit `up`, or why it cannot be a start view: numbers must be
/// finite, eye and target apart, `up` non-zero and not along the view (the viewer keeps 1° from
/// straight up or down), the field of view within 1°..=170°.
pub fn validate(v: &StartView) -> Result<StartView, ServerError> {
    let bad = |m: &str| Err(ServerError::BadInput(format!("invalid start view: {m}")));
    let numbers = v.eye.iter().chain(&v.target).chain(&v.up);
    if !numbers.chain(&v.fov_y_deg).all(|x| x.is_finite()) {
        return bad("every number must be finite");
    }
    let (eye, target) = (Vec3::from(v.eye), Vec3::from(v.target));
    let Some(up) = Vec3::from(v.up).try_normalize() else {
        return bad("`up` must not be zero");
    };
    if (eye - target).length() <= 1e-6 * eye.abs().max(target.abs()).max_element().max(1.0) {
        return bad("`eye` and `target` must differ");
    }
    if let Some(fov) = v.fov_y_deg {
        if !FOV_DEG.contains(&fov) {
            return bad(&format!(
                "`fov_y_deg` must be within {}..={} degrees",
                FOV_DEG.start(),
                FOV_DEG.end()
            ));
        }
    }
    let v = StartView {
        up: up.to_array(),
        ..*v
    };
    if OrbitCamera::from_start(&v, 1.0).is_none() {
        return bad("`up` must not point along the view (at most 89° above or below)");
    }
    Ok(v)
}

const MODEL: [&str; 3] = [
    "sparse/0/cameras.bin",
    "sparse/0/images.bin",
    "sparse/0/points3D.bin",
];

/// The start view of `project_id`'s camera poses, if it has any (a capture camera).
pub async fn for_project(
    db: &Db,
    blobs: &BlobStore,
    project_id: &str,
) -> Result<Option<StartView>, ServerError> {
    let mut files = Vec::with_capacity(MODEL.len());
    for name in MODEL {
        let Some(art) = artifacts::get(db, project_id, name).await? else {
            return Ok(None);
        };
        files.push(blobs.get(&art.blob_key).await?);
    }
    let view =
        tokio::task::spawn_blocking(move || match read_binary(&files[0], &files[1], &files[2]) {
            Ok(rec) => splatpod::render::start_view(&rec),
            Err(e) => {
                tracing::warn!("no start view: the stored model does not parse: {e}");
                None
            }
        })
        .await
        .map_err(|e| ServerError::Internal(format!("model reader thread: {e}")))?;
    Ok(view)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(eye: [f32; 3], target: [f32; 3], up: [f32; 3], fov: Option<f32>) -> StartView {
        StartView {
            eye,
            target,
            up,
            fov_y_deg: fov,
        }
    }

    #[test]
    fn validation_normalises_up_and_rejects_what_no_camera_can_be() {
        let ok = validate(&view(
            [0.0, -1.0, -4.0],
            [0.0; 3],
            [0.0, -3.0, 0.0],
            Some(50.0),
        ))
        .expect("valid");
        assert_eq!(ok.up, [0.0, -1.0, 0.0]);
        assert_eq!(ok.eye, [0.0, -1.0, -4.0]);
        for (v, says) in [
            (
                view([f32::NAN, 0.0, 1.0], [0.0; 3], [0.0, 1.0, 0.0], None),
                "finite",
            ),
            (
                view([0.0, 0.0, 1.0], [0.0; 3], [0.0, f32::INFINITY, 0.0], None),
                "finite",
            ),
            (
                view([0.0, 0.0, 1.0], [0.0; 3], [0.0, 1.0, 0.0], Some(f32::NAN)),
                "finite",
            ),
            (view([0.0, 0.0, 1.0], [0.0; 3], [0.0; 3], None), "zero"),
            (
                view([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [0.0, 1.0, 0.0], None),
                "differ",
            ),
            (
                view([0.0, 5.0, 0.0], [0.0; 3], [0.0, 1.0, 0.0], None),
                "along the view",
            ),
            (
                view([0.0, 0.0, 1.0], [0.0; 3], [0.0, 1.0, 0.0], Some(0.5)),
                "fov_y_deg",
            ),
            (
                view([0.0, 0.0, 1.0], [0.0; 3], [0.0, 1.0, 0.0], Some(179.0)),
                "fov_y_deg",
            ),
        ] {
            let e = validate(&v).expect_err("invalid").to_string();
            assert!(e.contains(says), "{v:?}: {e}");
        }
    }
}
