//! The HTTP API: the native `/api` (with resumable tus uploads), the RunPod-compatible
//! `/v2/{endpoint}/`, share links, phone pairings, and the OpenAPI description of both.

mod artifacts;
mod colmap_import;
mod events;
mod health;
pub mod openapi;
mod pairings;
mod projects;
mod runpod;
mod shares;
mod tus;
mod uploads;
mod videos;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method};
use axum::routing::{delete, get, head, post, put};
use axum::Router;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::state::AppState;

/// The server's address as clients reach it, for links (share links, pairing links): the
/// configured public URL, else the request's `Host` (only if it looks like a host name).
fn base_url(st: &AppState, headers: &HeaderMap) -> String {
    if let Some(u) = &st.config.public_url {
        return u.trim_end_matches('/').to_owned();
    }
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        })
        .unwrap_or("localhost");
    format!("http://{host}")
}

/// Adds `Tus-Resumable` to every answer of the resumable upload routes, errors included.
fn tus_resumable() -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::overriding(
        HeaderName::from_static("tus-resumable"),
        HeaderValue::from_static(tus::TUS_VERSION),
    )
}

/// Routes of the API (merged into the app router, which adds static files).
pub fn router(
    state: &AppState,
    max_upload_bytes: usize,
    cors_origins: &[String],
) -> Router<AppState> {
    let api = routes(state.config.max_image_bytes, max_upload_bytes);
    if cors_origins.is_empty() {
        // Same-origin only: no CORS headers at all.
        return api;
    }
    let origins: Vec<HeaderValue> = cors_origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o.trim()).ok())
        .collect();
    api.layer(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([
                Method::GET,
                Method::HEAD,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                HeaderName::from_static("tus-resumable"),
                HeaderName::from_static("upload-length"),
                HeaderName::from_static("upload-metadata"),
                HeaderName::from_static("upload-offset"),
            ])
            .expose_headers([
                header::LOCATION,
                HeaderName::from_static("tus-resumable"),
                HeaderName::from_static("tus-version"),
                HeaderName::from_static("upload-offset"),
                HeaderName::from_static("upload-length"),
            ]),
    )
}

/// Every route of the API with its handler and body limit, without CORS (also read by the test
/// that compares them with `/openapi.json`).
fn routes(max_image_bytes: usize, max_upload_bytes: usize) -> Router<AppState> {
    let scene_limit = max_image_bytes.max(1 << 30);
    Router::new()
        .route("/health", get(health::health))
        .route("/readiness", get(health::readiness))
        .route("/api/projects", post(projects::create).get(projects::list))
        .route(
            "/api/projects/{id}",
            get(projects::get).delete(projects::delete),
        )
        .route(
            "/api/projects/{id}/images",
            post(uploads::upload)
                .get(uploads::list)
                .layer(DefaultBodyLimit::max(max_upload_bytes)),
        )
        .route(
            "/api/projects/{id}/videos",
            post(videos::upload).layer(DefaultBodyLimit::max(max_upload_bytes)),
        )
        .route(
            "/api/projects/{id}/uploads",
            post(tus::create)
                .options(tus::options)
                .layer(tus_resumable()),
        )
        .route(
            "/api/projects/{id}/uploads/{upload}",
            head(tus::head)
                .patch(tus::patch)
                .options(tus::options_upload)
                .layer(tus_resumable()),
        )
        .route("/api/projects/{id}/artifacts", get(artifacts::list))
        .route(
            "/api/projects/{id}/start-view",
            get(projects::start_view)
                .put(projects::save_start_view)
                .delete(projects::clear_start_view),
        )
        .route("/api/projects/{id}/up-axis", put(projects::save_up_axis))
        .route(
            "/api/projects/{id}/artifacts/{*name}",
            get(artifacts::get)
                .put(artifacts::put_scene)
                .layer(DefaultBodyLimit::max(scene_limit)),
        )
        .route(
            "/api/projects/{id}/colmap",
            post(colmap_import::import).layer(DefaultBodyLimit::max(scene_limit)),
        )
        .route(
            "/api/projects/{id}/shares",
            post(shares::create).get(shares::list),
        )
        .route(
            "/api/projects/{id}/pairings",
            post(pairings::create).get(pairings::list),
        )
        .route(
            "/api/projects/{id}/pairings/{pairing}",
            delete(pairings::revoke),
        )
        .route("/api/pairing", get(pairings::session))
        .route("/api/shares/{token}", delete(shares::revoke))
        .route("/api/s/{token}", get(shares::view))
        .route("/api/s/{token}/{name}", get(shares::artifact))
        .route("/api/jobs/{id}/events", get(events::events))
        .route("/openapi.json", get(openapi::spec))
        .route("/v2/{endpoint}/run", post(runpod::run))
        .route("/v2/{endpoint}/runsync", post(runpod::runsync))
        .route(
            "/v2/{endpoint}/status/{id}",
            get(runpod::status).post(runpod::status),
        )
        .route(
            "/v2/{endpoint}/stream/{id}",
            get(runpod::stream).post(runpod::stream),
        )
        .route("/v2/{endpoint}/cancel/{id}", post(runpod::cancel))
        .route("/v2/{endpoint}/retry/{id}", post(runpod::retry))
        .route("/v2/{endpoint}/purge-queue", post(runpod::purge_queue))
        .route("/v2/{endpoint}/health", get(runpod::health))
        .layer(DefaultBodyLimit::max(1 << 20))
}

/// Every `(method, path)` the API router serves, read from the router's `Debug` form (axum
/// lists no routes otherwise): its route ids with their paths, and per route id each method's
/// handler or `None`. Panics when that form changes, so the route test cannot pass vacuously.
#[cfg(test)]
fn route_table() -> Vec<(String, String)> {
    const FORM: &str = "axum's Router Debug form changed: update route_table";
    let dbg = format!("{:?}", routes(1 << 20, 1 << 20));
    let (by_id, rest) = dbg.split_once("node: Node { paths: {").expect(FORM);
    // The map ends at `"}` (a quote, then the brace; paths end in `}"` at most).
    let (paths, _) = rest.split_once("\"}").expect(FORM);
    let path_of: std::collections::HashMap<&str, &str> = paths
        .split("RouteId(")
        .skip(1)
        .map(|item| {
            let (id, rest) = item.split_once("): \"").expect(FORM);
            (id, rest.split('"').next().expect(FORM))
        })
        .collect();
    let mut out = Vec::new();
    for item in by_id.split("RouteId(").skip(1) {
        let (id, handlers) = item.split_once("): MethodRouter(").expect(FORM);
        let path = path_of.get(id).expect(FORM);
        for method in [
            "get", "head", "delete", "options", "patch", "post", "put", "trace",
        ] {
            let (_, handler) = handlers.split_once(&format!(" {method}: ")).expect(FORM);
            if !handler.starts_with("None") {
                out.push((method.to_owned(), (*path).to_owned()));
            }
        }
    }
    out
}
