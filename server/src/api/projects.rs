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

/// Where the project's viewer starts (a capture camera), for the project page; a pairing token
/// may read its own.
#[utoipa::path(
    get,
    path = "/api/projects/{id}/start-view",
    tag = "projects",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Project id")),
    responses(
        (status = 200, description = "A capture camera's view, or null without camera poses", body = api::ProjectStartView),
        (status = 404, description = "No such project", body = ErrorBody)
    )
)]
pub async fn start_view(
    State(st): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Json<api::ProjectStartView>, ServerError> {
    caller.require_project(&id)?;
    require(&st, &id).await?;
    let start_view = crate::start_view::for_project(&st.db, &st.blobs, &id).await?;
    Ok(Json(api::ProjectStartView { start_view }))
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
