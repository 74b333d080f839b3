//! Phone pairings: a desktop with a full API key creates, lists and revokes expiring tokens
//! scoped to one project; a phone holding one asks which project it is paired with.

use std::time::{Duration, SystemTime};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use splatpod::api::ErrorBody;
use splatpod::api::{NewPairing, PairedSession, PairingCreated, PairingInfo, PairingList};

use super::base_url;
use super::projects::require;
use crate::auth::{Authed, Caller, Principal};
use crate::db::now_ms;
use crate::db::pairings::{self, Pairing};
use crate::error::ServerError;
use crate::state::AppState;

/// Unix milliseconds as RFC 3339 (UTC, whole seconds).
fn rfc3339(ms: i64) -> String {
    let t = SystemTime::UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    humantime::format_rfc3339_seconds(t).to_string()
}

/// The requested lifetime in seconds, checked.
fn lifetime_s(body: &NewPairing) -> Result<u64, ServerError> {
    match body.expires_in_s {
        None => Ok(NewPairing::DEFAULT_EXPIRES_IN_S),
        Some(s) if (1..=NewPairing::MAX_EXPIRES_IN_S).contains(&s) => Ok(s),
        Some(_) => Err(ServerError::BadInput(format!(
            "expires_in_s must be 1..={} seconds",
            NewPairing::MAX_EXPIRES_IN_S
        ))),
    }
}

fn info(p: Pairing) -> PairingInfo {
    PairingInfo {
        active: p.revoked_at.is_none() && p.expires_at > now_ms(),
        created_at: rfc3339(p.created_at),
        expires_at: rfc3339(p.expires_at),
        revoked_at: p.revoked_at.map(rfc3339),
        id: p.id,
        project_id: p.project_id,
    }
}

/// `POST /api/projects/{id}/pairings` `{"expires_in_s"?}` → 201 [`PairingCreated`].
#[utoipa::path(
    post,
    path = "/api/projects/{id}/pairings",
    operation_id = "create_pairing",
    tag = "pairings",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Project id")),
    request_body(content = Option<NewPairing>, description = "Optional: the token's lifetime"),
    responses(
        (status = 201, description = "The token (shown only here), its link and a QR code", body = PairingCreated),
        (status = 400, description = "A lifetime out of range", body = ErrorBody),
        (status = 404, description = "No such project", body = ErrorBody)
    )
)]
pub async fn create(
    State(st): State<AppState>,
    Authed(key): Authed,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Option<Json<NewPairing>>,
) -> Result<(StatusCode, Json<PairingCreated>), ServerError> {
    require(&st, &id).await?;
    let body = body.map(|Json(b)| b).unwrap_or_default();
    let lifetime_ms = lifetime_s(&body)? as i64 * 1000;
    let (pairing, token) = pairings::create(&st.db, &id, &key.id, now_ms() + lifetime_ms).await?;
    let path = format!("/pair#{token}");
    let url = format!("{}{path}", base_url(&st, &headers));
    let qr_svg = crate::qr::svg(&url)?;
    Ok((
        StatusCode::CREATED,
        Json(PairingCreated {
            created_at: rfc3339(pairing.created_at),
            expires_at: rfc3339(pairing.expires_at),
            id: pairing.id,
            project_id: pairing.project_id,
            token,
            path,
            url,
            qr_svg,
        }),
    ))
}

/// `GET /api/projects/{id}/pairings`: every pairing of the project, newest first.
#[utoipa::path(
    get,
    path = "/api/projects/{id}/pairings",
    operation_id = "list_pairings",
    tag = "pairings",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Project id")),
    responses(
        (status = 200, description = "The project's pairings, without tokens", body = PairingList),
        (status = 404, description = "No such project", body = ErrorBody)
    )
)]
pub async fn list(
    State(st): State<AppState>,
    _auth: Authed,
    Path(id): Path<String>,
) -> Result<Json<PairingList>, ServerError> {
    require(&st, &id).await?;
    let pairings = pairings::list(&st.db, &id)
        .await?
        .into_iter()
        .map(info)
        .collect();
    Ok(Json(PairingList { pairings }))
}

/// `DELETE /api/projects/{id}/pairings/{pairing}`: the token stops working at once.
#[utoipa::path(
    delete,
    path = "/api/projects/{id}/pairings/{pairing}",
    operation_id = "revoke_pairing",
    tag = "pairings",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Project id"), ("pairing" = String, Path, description = "Pairing id")),
    responses(
        (status = 204, description = "Revoked: the token stops working"),
        (status = 404, description = "No such unrevoked pairing", body = ErrorBody)
    )
)]
pub async fn revoke(
    State(st): State<AppState>,
    _auth: Authed,
    Path((id, pairing)): Path<(String, String)>,
) -> Result<StatusCode, ServerError> {
    if !pairings::revoke(&st.db, &id, &pairing).await? {
        return Err(ServerError::NotFound(format!(
            "project `{id}` has no unrevoked pairing `{pairing}`"
        )));
    }
    // Drop cached lookups so the revoked token is refused from the next request on.
    st.keys.invalidate();
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/pairing` with a pairing token: the project the phone is paired with.
#[utoipa::path(
    get,
    path = "/api/pairing",
    operation_id = "paired_session",
    tag = "pairings",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The paired project and the token's expiry", body = PairedSession),
        (status = 400, description = "A full API key, not a pairing token", body = ErrorBody),
        (status = 404, description = "The paired project was deleted", body = ErrorBody)
    )
)]
pub async fn session(
    State(st): State<AppState>,
    Caller(caller): Caller,
) -> Result<Json<PairedSession>, ServerError> {
    let Principal::Pairing(p) = caller else {
        return Err(ServerError::BadInput(
            "this is a full API key, not a pairing token".into(),
        ));
    };
    let project = require(&st, &p.project_id).await?;
    Ok(Json(PairedSession {
        pairing_id: p.id,
        project_id: p.project_id,
        project_name: project.name,
        expires_at: rfc3339(p.expires_at),
    }))
}
