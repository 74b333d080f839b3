//! Share links: create, list and revoke (authenticated), and the read-only view they open.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use splatpod::api::ErrorBody;
use splatpod::api::{self, NewShare, ShareList, SharedProject, SharedView};

use super::base_url;
use super::projects::require;
use crate::auth::Authed;
use crate::db::shares::{self, Share};
use crate::db::{artifacts, now_ms, projects};
use crate::error::ServerError;
use crate::state::AppState;

/// What a share link may read: the viewer's scene and the thumbnail, nothing else.
const VIEWER_ARTIFACTS: [&str; 4] = ["scene.ply", "scene.spz", "scene.splat", "thumbnail.png"];

fn share_body(base: &str, s: Share) -> Result<api::Share, ServerError> {
    let url = format!("{base}/s/{}", s.token);
    Ok(api::Share {
        qr_svg: crate::qr::svg(&url)?,
        url,
        embed_url: format!("{base}/embed/{}", s.token),
        token: s.token,
        project_id: s.project_id,
        created_at: s.created_at,
        expires_at: s.expires_at,
        revoked_at: s.revoked_at,
    })
}

/// Creates a read-only share link.
#[utoipa::path(
    post,
    path = "/api/projects/{id}/shares",
    operation_id = "create_share",
    tag = "shares",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Project id")),
    request_body(content = Option<NewShare>, description = "Optional: the link's lifetime"),
    responses(
        (status = 201, description = "The link, its embed link and a QR code", body = api::Share),
        (status = 400, description = "A malformed body", body = ErrorBody),
        (status = 404, description = "No such project", body = ErrorBody)
    )
)]
pub async fn create(
    State(st): State<AppState>,
    _auth: Authed,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Option<Json<NewShare>>,
) -> Result<(StatusCode, Json<api::Share>), ServerError> {
    require(&st, &id).await?;
    let body = body.map(|Json(b)| b).unwrap_or_default();
    let expires_at = match body.expires_in_s {
        Some(0) => {
            return Err(ServerError::BadInput(
                "expires_in_s must be positive".into(),
            ))
        }
        Some(s) if s > 100 * 365 * 86400 => {
            return Err(ServerError::BadInput("expires_in_s is too large".into()))
        }
        Some(s) => Some(now_ms() + s as i64 * 1000),
        None => None,
    };
    let share = shares::create(&st.db, &id, expires_at).await?;
    Ok((
        StatusCode::CREATED,
        Json(share_body(&base_url(&st, &headers), share)?),
    ))
}

/// The project's share links.
#[utoipa::path(
    get,
    path = "/api/projects/{id}/shares",
    operation_id = "list_shares",
    tag = "shares",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Project id")),
    responses(
        (status = 200, description = "The project's share links, revoked ones included", body = ShareList),
        (status = 404, description = "No such project", body = ErrorBody)
    )
)]
pub async fn list(
    State(st): State<AppState>,
    _auth: Authed,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<ShareList>, ServerError> {
    require(&st, &id).await?;
    let base = base_url(&st, &headers);
    let shares = shares::list(&st.db, &id)
        .await?
        .into_iter()
        .map(|s| share_body(&base, s))
        .collect::<Result<_, _>>()?;
    Ok(Json(ShareList { shares }))
}

/// Revokes a share link.
#[utoipa::path(
    delete,
    path = "/api/shares/{token}",
    operation_id = "revoke_share",
    tag = "shares",
    security(("bearer" = [])),
    params(("token" = String, Path, description = "Share token")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, description = "No such share link", body = ErrorBody)
    )
)]
pub async fn revoke(
    State(st): State<AppState>,
    _auth: Authed,
    Path(token): Path<String>,
) -> Result<StatusCode, ServerError> {
    if shares::revoke(&st.db, &token).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ServerError::NotFound(
            "no active share with that token".into(),
        ))
    }
}

async fn valid(st: &AppState, token: &str) -> Result<Share, ServerError> {
    shares::find_valid(&st.db, token).await?.ok_or_else(|| {
        ServerError::NotFound("this share link does not exist, expired or was revoked".into())
    })
}

/// `GET /api/s/{token}`: what the shared viewer needs (no key required).
#[utoipa::path(
    get,
    path = "/api/s/{token}",
    operation_id = "shared_view",
    tag = "shares",
    params(("token" = String, Path, description = "Share token")),
    responses(
        (status = 200, description = "The shared project's viewer data", body = SharedView),
        (status = 404, description = "Unknown, expired or revoked link, or a deleted project", body = ErrorBody)
    )
)]
pub async fn view(
    State(st): State<AppState>,
    Path(token): Path<String>,
) -> Result<Json<SharedView>, ServerError> {
    let share = valid(&st, &token).await?;
    let project = projects::get(&st.db, &share.project_id)
        .await?
        .ok_or_else(|| ServerError::NotFound("the shared project was deleted".into()))?;
    let arts = artifacts::list(&st.db, &share.project_id).await?;
    let viewable: Vec<String> = arts
        .into_iter()
        .map(|a| a.name)
        .filter(|n| VIEWER_ARTIFACTS.contains(&n.as_str()))
        .collect();
    let has = |name: &str| viewable.iter().any(|n| n == name);
    // The compact SPZ first: it is what a phone should download.
    let scene = ["scene.spz", "scene.ply", "scene.splat"]
        .into_iter()
        .find(|n| has(n));
    let start = crate::start_view::resolve(&st.db, &st.blobs, &share.project_id).await?;
    Ok(Json(SharedView {
        project: SharedProject {
            name: project.name,
            image_count: project.image_count,
        },
        scene_url: scene.map(|n| format!("/api/s/{token}/{n}")),
        thumbnail_url: has("thumbnail.png").then(|| format!("/api/s/{token}/thumbnail.png")),
        artifacts: viewable,
        expires_at: share.expires_at,
        start_view: start.start_view,
        up_axis: start.up_axis,
    }))
}

/// `GET /api/s/{token}/{name}`: one viewer artifact of the shared project.
#[utoipa::path(
    get,
    path = "/api/s/{token}/{name}",
    operation_id = "shared_artifact",
    tag = "shares",
    params(
        ("token" = String, Path, description = "Share token"),
        ("name" = String, Path, description = "`scene.spz`, `scene.ply`, `scene.splat` or `thumbnail.png`")
    ),
    responses(
        (status = 200, description = "The scene or thumbnail", content(("application/octet-stream"), ("image/png"))),
        (status = 404, description = "Unknown link, or an artifact that is not shared or missing", body = ErrorBody)
    )
)]
pub async fn artifact(
    State(st): State<AppState>,
    Path((token, name)): Path<(String, String)>,
) -> Result<Response, ServerError> {
    let share = valid(&st, &token).await?;
    if !VIEWER_ARTIFACTS.contains(&name.as_str()) {
        return Err(ServerError::NotFound(format!("`{name}` is not shared")));
    }
    let art = artifacts::get(&st.db, &share.project_id, &name)
        .await?
        .ok_or_else(|| ServerError::NotFound(format!("the shared project has no `{name}`")))?;
    super::artifacts::send(&st, &art).await
}
