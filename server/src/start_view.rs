//! A project's first view from its photos' cameras (`render::start_view` on the COLMAP model in
//! `sparse/0/*.bin`, which the `sfm` job and a COLMAP import store), for the share page and the
//! thumbnail. A project without a model, or with one that no longer parses, has none: the
//! viewer then frames the scene as before.

use splatpod::api::StartView;
use splatpod::sfm::colmap::read_binary;

use crate::blob::BlobStore;
use crate::db::{artifacts, Db};
use crate::error::ServerError;

const MODEL: [&str; 3] = [
    "sparse/0/cameras.bin",
    "sparse/0/images.bin",
    "sparse/0/points3D.bin",
];

/// The start view of `project_id`'s camera poses, if it has any.
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
