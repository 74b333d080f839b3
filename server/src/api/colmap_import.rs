//! `POST /api/projects/{id}/colmap`: imports a COLMAP sparse model (`cameras`, `images`,
//! `points3D`, all `.bin` or all `.txt`, as multipart files) posing photos already uploaded to the
//! project, so the `train` job can run on poses computed elsewhere (COLMAP, another SfM tool)
//! without the `sfm` job. The model is checked by the engine's reader, each of its images is
//! matched to an uploaded photo by file name and must have its camera's size, and it is stored
//! as the `sparse/0/*.bin` artifacts the `sfm` job would write (names rewritten to the stored
//! photos). A refused import changes nothing.

use std::collections::HashMap;

use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::Json;
use bytes::Bytes;
use splatpod::api::ColmapImported;
use splatpod::api::ErrorBody;
use splatpod::sfm::colmap::{write_binary, ModelFiles, ModelFormat};

use super::projects::require;
use crate::auth::Authed;
use crate::db::artifacts;
use crate::db::images::{self, Image};
use crate::error::ServerError;
use crate::ingest::display_name;
use crate::state::AppState;

/// The model's files by their COLMAP name (`cameras.bin`, …).
async fn receive(mut multipart: Multipart) -> Result<HashMap<String, Bytes>, ServerError> {
    let known = [ModelFormat::Binary, ModelFormat::Text]
        .iter()
        .flat_map(|f| {
            let n = f.file_names();
            [n.cameras, n.images, n.points3d]
        })
        .collect::<Vec<_>>();
    let mut files = HashMap::new();
    while let Some(field) = multipart.next_field().await.map_err(|e| {
        ServerError::BadInput(format!("malformed multipart body: {}", e.body_text()))
    })? {
        let name = display_name(field.file_name().or(field.name()).unwrap_or_default());
        if !known.contains(&name.as_str()) {
            return Err(ServerError::BadInput(format!(
                "unexpected file `{name}`: a COLMAP model is {}",
                known.join(", ")
            )));
        }
        let bytes = field.bytes().await.map_err(|e| {
            ServerError::BadInput(format!("malformed multipart body: {}", e.body_text()))
        })?;
        if files.insert(name.clone(), bytes).is_some() {
            return Err(ServerError::BadInput(format!("`{name}` was sent twice")));
        }
    }
    Ok(files)
}

/// The three files of one format, or why they are not a model.
fn model_files(
    mut files: HashMap<String, Bytes>,
) -> Result<(ModelFormat, ModelFiles), ServerError> {
    for format in [ModelFormat::Binary, ModelFormat::Text] {
        let names = format.file_names();
        if !files.contains_key(names.cameras) {
            continue;
        }
        let mut take = |name: &str| {
            files.remove(name).map(|b| b.to_vec()).ok_or_else(|| {
                ServerError::BadInput(format!(
                    "the model has {} but no {name}: send cameras, images and points3D in one \
                     format",
                    names.cameras
                ))
            })
        };
        let model = ModelFiles {
            cameras: take(names.cameras)?,
            images: take(names.images)?,
            points3d: take(names.points3d)?,
        };
        return Ok((format, model));
    }
    Err(ServerError::BadInput(
        "no COLMAP model: send cameras.bin, images.bin and points3D.bin (or the .txt files)".into(),
    ))
}

/// The uploaded photo a model image name refers to: the one with that file name, else the one
/// with its base name (COLMAP names may carry folders).
fn find_photo<'a>(photos: &'a [Image], model_name: &str) -> Option<&'a Image> {
    let base = display_name(model_name);
    let exact: Vec<&Image> = photos
        .iter()
        .filter(|p| p.file_name == model_name)
        .collect();
    let by_base: Vec<&Image> = photos.iter().filter(|p| p.file_name == base).collect();
    match (exact.as_slice(), by_base.as_slice()) {
        ([only], _) | ([], [only]) => Some(only),
        _ => None,
    }
}

/// Imports a COLMAP model posing the project's photos, for the `train` job.
#[utoipa::path(
    post,
    path = "/api/projects/{id}/colmap",
    operation_id = "import_colmap",
    tag = "projects",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Project id")),
    request_body(content = inline(super::openapi::ColmapModelForm), content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "Imported as `sparse/0/*.bin`", body = ColmapImported),
        (status = 400, description = "Not a complete model, unreadable, or naming photos the project lacks", body = ErrorBody),
        (status = 404, description = "No such project", body = ErrorBody),
        (status = 413, description = "Over the size limit", body = ErrorBody)
    )
)]
pub async fn import(
    State(st): State<AppState>,
    _auth: Authed,
    Path(id): Path<String>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<(StatusCode, Json<ColmapImported>), ServerError> {
    require(&st, &id).await?;
    let multipart = multipart.map_err(|e| ServerError::BadInput(e.body_text()))?;
    let (format, files) = model_files(receive(multipart).await?)?;
    let mut rec = tokio::task::spawn_blocking(move || format.read(&files))
        .await
        .map_err(|e| ServerError::Internal(format!("model reader thread: {e}")))?
        .map_err(|e| ServerError::BadInput(format!("COLMAP model: {e}")))?;
    if rec.images.is_empty() {
        return Err(ServerError::BadInput(
            "the COLMAP model poses no images".into(),
        ));
    }
    let photos = images::list(&st.db, &id).await?;
    let mut unmatched = Vec::new();
    for image in rec.images.values_mut() {
        let Some(photo) = find_photo(&photos, &image.name) else {
            unmatched.push(image.name.clone());
            continue;
        };
        let camera = rec.cameras.get(&image.camera_id).ok_or_else(|| {
            ServerError::BadInput(format!(
                "COLMAP model: image {} has no camera {}",
                image.name, image.camera_id
            ))
        })?;
        let (w, h) = (photo.width as u64, photo.height as u64);
        if (camera.width, camera.height) != (w, h) {
            return Err(ServerError::BadInput(format!(
                "COLMAP model: {} is {}x{} in the model but the uploaded photo is {w}x{h}",
                image.name, camera.width, camera.height
            )));
        }
        image.name = format!("{}.{}", photo.id, photo.format);
    }
    if !unmatched.is_empty() {
        unmatched.sort();
        let shown = unmatched
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        return Err(ServerError::BadInput(format!(
            "{} of the model's images are not uploaded photos of this project (by file name): \
             {shown}{}",
            unmatched.len(),
            if unmatched.len() > 5 { ", …" } else { "" }
        )));
    }
    let counts = (
        rec.cameras.len() as u64,
        rec.images.len() as u64,
        rec.points3d.len() as u64,
    );
    let model =
        write_binary(&rec).map_err(|e| ServerError::BadInput(format!("COLMAP model: {e}")))?;
    let names = ModelFormat::Binary.file_names();
    let mut stored = Vec::new();
    for (name, bytes) in [
        (names.cameras, model.cameras),
        (names.images, model.images),
        (names.points3d, model.points3d),
    ] {
        let artifact = format!("sparse/0/{name}");
        let key = format!("projects/{id}/artifacts/{artifact}");
        let len = bytes.len() as i64;
        st.blobs.put(&key, bytes.into()).await?;
        artifacts::upsert(
            &st.db,
            &id,
            &artifact,
            "application/octet-stream",
            len,
            &key,
            None,
        )
        .await?;
        stored.push(artifact);
    }
    crate::db::projects::touch(&st.db, &id).await?;
    Ok((
        StatusCode::CREATED,
        Json(ColmapImported {
            cameras: counts.0,
            images: counts.1,
            points: counts.2,
            artifacts: stored,
        }),
    ))
}
