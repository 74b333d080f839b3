//! Liveness and readiness: whether the server is up, and whether its GPU is open.

use axum::extract::State;
use axum::Json;
use splatpod::api::{ErrorBody, Health, Readiness};

use crate::error::ServerError;
use crate::state::AppState;

/// Liveness, plus the job endpoint's name so clients (the PWA) can build `/v2/{endpoint}/` URLs.
#[utoipa::path(
    get,
    path = "/health",
    tag = "health",
    responses((status = 200, description = "The server is up", body = Health))
)]
pub(crate) async fn health(State(state): State<AppState>) -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        endpoint: state.config.endpoint.clone(),
    })
}

/// Readiness: the GPU adapter once it is open.
#[utoipa::path(
    get,
    path = "/readiness",
    tag = "health",
    responses(
        (status = 200, description = "The GPU is open", body = Readiness),
        (status = 503, description = "The GPU is still opening or failed to open", body = ErrorBody)
    )
)]
pub(crate) async fn readiness(
    State(state): State<AppState>,
) -> Result<Json<Readiness>, ServerError> {
    let adapter = state.adapter().map_err(ServerError::Unavailable)?;
    Ok(Json(Readiness {
        status: "ready".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        gpu: adapter,
    }))
}
