//! Project artifacts: list, download, and import of a scene file to view or render.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use axum::Json;
use bytes::Bytes;
use splatpod::api::ErrorBody;
use splatpod::api::{ArtifactList, JobInput, JobPolicy, SceneImported, Task};

use super::projects::require;
use crate::auth::{Authed, Caller};
use crate::compress::AlreadyCompressed;
use crate::db::artifacts::{self, Artifact};
use crate::error::ServerError;
use crate::jobs::SCENE_NAMES;
use crate::state::AppState;

/// The project's artifacts.
#[utoipa::path(
    get,
    path = "/api/projects/{id}/artifacts",
    operation_id = "list_artifacts",
    tag = "projects",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Project id")),
    responses(
        (status = 200, description = "The project's artifacts", body = ArtifactList),
        (status = 404, description = "No such project", body = ErrorBody)
    )
)]
pub async fn list(
    State(st): State<AppState>,
    _auth: Authed,
    Path(id): Path<String>,
) -> Result<Json<ArtifactList>, ServerError> {
    require(&st, &id).await?;
    let list = artifacts::list(&st.db, &id).await?;
    Ok(Json(ArtifactList {
        artifacts: list.into_iter().map(Into::into).collect(),
    }))
}

/// The artifact's bytes as a download.
pub async fn send(st: &AppState, art: &Artifact) -> Result<Response, ServerError> {
    let bytes = st.blobs.get(&art.blob_key).await?;
    let mut res = Response::new(Body::from(bytes));
    let headers = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&art.content_type) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=60"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if art.name.ends_with(".spz") {
        // SPZ is gzip inside: compressing it again only costs time.
        res.extensions_mut().insert(AlreadyCompressed);
    }
    Ok(res)
}

/// One artifact's bytes.
#[utoipa::path(
    get,
    path = "/api/projects/{id}/artifacts/{name}",
    operation_id = "get_artifact",
    tag = "projects",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Project id"),
        ("name" = String, Path, description = "Artifact name (may contain `/`, e.g. `sparse/0/cameras.bin`)")),
    responses(
        (status = 200, description = "The artifact, with the content type it was stored with: \
            JSON for `matches.json` and job results, PNG for `thumbnail.png`, bytes for scenes \
            (PLY, SPZ, `.splat`), features and COLMAP models", content(
            (serde_json::Value = "application/json"),
            ("image/png"),
            ("application/octet-stream")
        )),
        (status = 404, description = "No such project or artifact", body = ErrorBody)
    )
)]
pub async fn get(
    State(st): State<AppState>,
    _auth: Authed,
    Path((id, name)): Path<(String, String)>,
) -> Result<Response, ServerError> {
    require(&st, &id).await?;
    let art = artifacts::get(&st.db, &id, &name)
        .await?
        .ok_or_else(|| ServerError::NotFound(format!("project `{id}` has no artifact `{name}`")))?;
    send(&st, &art).await
}

/// `PUT /api/projects/{id}/artifacts/scene.ply|scene.spz|scene.splat`: imports a splat scene
/// (checked by the engine's parser) so it can be viewed, shared and rendered; a PLY or
/// `.splat` import also gets a `scene.spz` copy (about a tenth of the size) for viewers. A key,
/// or a phone pairing token on its own project (a scene the phone trained on the device).
#[utoipa::path(
    put,
    path = "/api/projects/{id}/artifacts/{name}",
    operation_id = "import_scene",
    tag = "projects",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "Project id"),
        ("name" = String, Path, description = "`scene.ply`, `scene.spz` or `scene.splat`")
    ),
    request_body(description = "The scene file", content(("application/octet-stream"))),
    responses(
        (status = 201, description = "Imported (PLY and `.splat` also as `scene.spz`)", body = SceneImported),
        (status = 400, description = "Not a scene name, or not a readable scene", body = ErrorBody),
        (status = 404, description = "No such project", body = ErrorBody),
        (status = 413, description = "Over the scene size limit", body = ErrorBody)
    )
)]
pub async fn put_scene(
    State(st): State<AppState>,
    Caller(caller): Caller,
    Path((id, name)): Path<(String, String)>,
    body: Bytes,
) -> Result<(StatusCode, Json<SceneImported>), ServerError> {
    // A phone paired with this project may import a scene it trained on the device.
    caller.require_project(&id)?;
    require(&st, &id).await?;
    if !SCENE_NAMES.contains(&name.as_str()) {
        return Err(ServerError::BadInput(format!(
            "only scenes can be uploaded as artifacts ({})",
            SCENE_NAMES.join(", ")
        )));
    }
    if body.is_empty() {
        return Err(ServerError::BadInput("empty scene file".into()));
    }
    let check = body.clone();
    let hint = name.clone();
    let convert = name != "scene.spz";
    // Parse (the check) and, for PLY and .splat, make the compact SPZ the viewer downloads.
    let (splats, spz) = tokio::task::spawn_blocking(move || {
        let scene = splatpod::formats::load_scene(&check, Some(&hint))?;
        let spz = if convert {
            match splatpod::formats::save_spz(&scene) {
                Ok(b) => Some(b),
                Err(e) => {
                    tracing::warn!("no SPZ copy of the imported scene: {e}");
                    None
                }
            }
        } else {
            None
        };
        Ok::<_, splatpod::formats::FormatError>((scene.len(), spz))
    })
    .await
    .map_err(|e| ServerError::Internal(format!("parser thread: {e}")))??;
    let mut stored = vec![name.clone()];
    let mut files = vec![(name.clone(), body)];
    if let Some(spz) = spz {
        stored.push("scene.spz".into());
        files.push(("scene.spz".into(), Bytes::from(spz)));
    }
    let mut len = 0;
    for (artifact, bytes) in files {
        let key = format!("projects/{id}/artifacts/{artifact}");
        let n = bytes.len() as i64;
        if artifact == name {
            len = n;
        }
        st.blobs.put(&key, bytes).await?;
        artifacts::upsert(
            &st.db,
            &id,
            &artifact,
            "application/octet-stream",
            n,
            &key,
            None,
        )
        .await?;
    }
    crate::db::projects::touch(&st.db, &id).await?;
    // The thumbnail of the imported scene, from the project's start view when it has cameras.
    let thumbnail = JobInput {
        project_id: Some(id.clone()),
        ..JobInput::new(Task::Render)
    };
    let job = super::runpod::queue(
        &st,
        &thumbnail,
        None,
        &JobPolicy::default(),
        Some(caller.key_id()),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(SceneImported {
            name,
            bytes: len,
            splats: splats as u64,
            artifacts: stored,
            thumbnail_job: job.id,
        }),
    ))
}
