//! `/api/projects`: create, list, read and delete projects.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use splatpod::api::{self, ErrorBody, NewProject, ProjectList};
use utoipa::IntoParams;

use crate::auth::{Authed, Caller};
use crate::db::projects::{self, Project};
use crate::error::ServerError;
use crate::state::AppState;

/// Creates a project.
#[utoipa::path(
    post,
    path = "/api/projects",
    operation_id = "create_project",
    tag = "projects",
    security(("bearer" = [])),
    request_body = NewProject,
    responses(
        (status = 201, description = "Created", body = api::Project),
        (status = 400, description = "Not a valid name (1..=200 printable characters) or body", body = ErrorBody)
    )
)]
pub async fn create(
    State(st): State<AppState>,
    _auth: Authed,
    body: Result<Json<NewProject>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<api::Project>), ServerError> {
    let Json(body) = body.map_err(|e| ServerError::BadInput(e.body_text()))?;
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(ServerError::BadInput(
            "project name must be 1..=200 printable characters".into(),
        ));
    }
    let p = projects::create(&st.db, name).await?;
    Ok((StatusCode::CREATED, Json(p.into())))
}

/// A page of the project list.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// Projects per page, 1..=1000 (default 100).
    pub limit: Option<i64>,
    /// Projects to skip (default 0).
    pub offset: Option<i64>,
}

/// Lists projects, newest first.
#[utoipa::path(
    get,
    path = "/api/projects",
    operation_id = "list_projects",
    tag = "projects",
    security(("bearer" = [])),
    params(Page),
    responses(
        (status = 200, description = "One page of projects", body = ProjectList),
        (status = 400, description = "A query parameter is not a number", body = ErrorBody)
    )
)]
pub async fn list(
    State(st): State<AppState>,
    _auth: Authed,
    Query(page): Query<Page>,
) -> Result<Json<ProjectList>, ServerError> {
    let limit = page.limit.unwrap_or(100).clamp(1, 1000);
    let offset = page.offset.unwrap_or(0).max(0);
    let items = projects::list(&st.db, limit, offset).await?;
    Ok(Json(ProjectList {
        projects: items.into_iter().map(Into::into).collect(),
        limit,
        offset,
    }))
}

/// The project or a 404 naming it.
pub async fn require(st: &AppState, id: &str) -> Result<Project, ServerError> {
    projects::get(&st.db, id)
        .await?
        .ok_or_else(|| ServerError::NotFound(format!("no project with id `{id}`")))
}

/// One project; a pairing token may read its own.
#[utoipa::path(
    get,
    path = "/api/projects/{id}",
    operation_id = "get_project",
    tag = "projects",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Project id")),
    responses(
        (status = 200, description = "The project with its counts", body = api::Project),
        (status = 404, description = "No such project", body = ErrorBody)
    )
)]
pub async fn get(
    State(st): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Json<api::Project>, ServerError> {
    caller.require_project(&id)?;
    Ok(Json(require(&st, &id).await?.into()))
}

/// Where the project's viewer starts (the owner's saved view, else a capture camera, else
/// framing about the up axis), for the project page; a pairing token may read its own.
#[utoipa::path(
    get,
    path = "/api/projects/{id}/start-view",
    tag = "projects",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Project id")),
    responses(
        (status = 200, description = "The first view as the server resolves it", body = api::ProjectStartView),
        (status = 404, description = "No such project", body = ErrorBody)
    )
)]
pub async fn start_view(
    State(st): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Json<api::ProjectStartView>, ServerError> {
    caller.require_project(&id)?;
    Ok(Json(
        crate::start_view::resolve(&st.db, &st.blobs, &id).await?,
    ))
}

/// The project's first view after a change, with a render job queued (for `key`) to redraw
/// the thumbnail from it when the project has a scene.
async fn view_changed(
    st: &AppState,
    key: &crate::db::keys::ApiKey,
    id: &str,
) -> Result<Json<api::StartViewSaved>, ServerError> {
    let view = crate::start_view::resolve(&st.db, &st.blobs, id).await?;
    let mut has_scene = false;
    for name in crate::jobs::SCENE_NAMES {
        has_scene |= crate::db::artifacts::get(&st.db, id, name).await?.is_some();
    }
    let thumbnail_job = if has_scene {
        let input = api::JobInput {
            project_id: Some(id.to_owned()),
            ..api::JobInput::new(api::Task::Render)
        };
        let policy = api::JobPolicy::default();
        let job = super::runpod::queue(st, &input, None, &policy, Some(&key.id)).await?;
        Some(job.id)
    } else {
        None
    };
    Ok(Json(api::StartViewSaved {
        view,
        thumbnail_job,
    }))
}

/// Saves the view the project's viewer, share links and thumbnail start from (before any
/// capture camera); queues a new thumbnail.
#[utoipa::path(
    put,
    path = "/api/projects/{id}/start-view",
    operation_id = "save_start_view",
    tag = "projects",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Project id")),
    request_body = api::StartView,
    responses(
        (status = 200, description = "Saved: the first view now, and the thumbnail's render job", body = api::StartViewSaved),
        (status = 400, description = "Not a start view: non-finite numbers, eye at the target, zero up or up along the view, field of view outside 1..=170°", body = ErrorBody),
        (status = 404, description = "No such project", body = ErrorBody)
    )
)]
pub async fn save_start_view(
    State(st): State<AppState>,
    Authed(key): Authed,
    Path(id): Path<String>,
    body: Result<Json<api::StartView>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<api::StartViewSaved>, ServerError> {
    require(&st, &id).await?;
    let Json(body) = body.map_err(|e| ServerError::BadInput(e.body_text()))?;
    let view = crate::start_view::validate(&body)?;
    projects::set_start_view(&st.db, &id, Some(&serde_json::to_string(&view)?)).await?;
    view_changed(&st, &key, &id).await
}

/// Forgets the saved start view (the capture camera or the framing applies again); queues a
/// new thumbnail.
#[utoipa::path(
    delete,
    path = "/api/projects/{id}/start-view",
    operation_id = "clear_start_view",
    tag = "projects",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Project id")),
    responses(
        (status = 200, description = "Cleared: the first view now, and the thumbnail's render job", body = api::StartViewSaved),
        (status = 404, description = "No such project", body = ErrorBody)
    )
)]
pub async fn clear_start_view(
    State(st): State<AppState>,
    Authed(key): Authed,
    Path(id): Path<String>,
) -> Result<Json<api::StartViewSaved>, ServerError> {
    require(&st, &id).await?;
    projects::set_start_view(&st.db, &id, None).await?;
    view_changed(&st, &key, &id).await
}

/// Sets the world up the viewer frames a scene without camera poses about (a project with
/// camera poses keeps their up); clears a saved start view, which was taken about the old up;
/// queues a new thumbnail.
#[utoipa::path(
    put,
    path = "/api/projects/{id}/up-axis",
    operation_id = "save_up_axis",
    tag = "projects",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Project id")),
    request_body = api::NewUpAxis,
    responses(
        (status = 200, description = "Saved: the first view now, and the thumbnail's render job", body = api::StartViewSaved),
        (status = 400, description = "Not one of +x, -x, +y, -y, +z, -z", body = ErrorBody),
        (status = 404, description = "No such project", body = ErrorBody)
    )
)]
pub async fn save_up_axis(
    State(st): State<AppState>,
    Authed(key): Authed,
    Path(id): Path<String>,
    body: Result<Json<api::NewUpAxis>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<api::StartViewSaved>, ServerError> {
    require(&st, &id).await?;
    let Json(body) = body.map_err(|e| ServerError::BadInput(e.body_text()))?;
    projects::set_up_axis(&st.db, &id, body.up_axis.as_str()).await?;
    view_changed(&st, &key, &id).await
}

/// Deletes a project, its photos, artifacts, shares and pairings.
#[utoipa::path(
    delete,
    path = "/api/projects/{id}",
    operation_id = "delete_project",
    tag = "projects",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Project id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such project", body = ErrorBody)
    )
)]
pub async fn delete(
    State(st): State<AppState>,
    _auth: Authed,
    Path(id): Path<String>,
) -> Result<StatusCode, ServerError> {
    require(&st, &id).await?;
    // Rows first (shares stop working at once), then the blobs.
    projects::delete(&st.db, &id).await?;
    st.blobs.delete_prefix(&format!("projects/{id}")).await?;
    Ok(StatusCode::NO_CONTENT)
}
