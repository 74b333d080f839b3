//! `/api/projects`: create, list, read and delete projects.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use splatpod::api::{self, NewProject, ProjectList};

use crate::auth::{Authed, Caller};
use crate::db::projects::{self, Project};
use crate::error::ServerError;
use crate::state::AppState;

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

#[derive(Deserialize)]
pub struct Page {
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

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
