//! The application router: the API (`api`) and the PWA's static files.

use std::path::Path;

use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::trace::{DefaultOnFailure, TraceLayer};

use crate::state::AppState;

/// The whole application router; `dist` is the built PWA.
pub fn router(
    state: AppState,
    dist: &Path,
    max_upload_bytes: usize,
    cors_origins: &[String],
) -> Router {
    let index = dist.join("index.html");
    // Unknown paths get the app shell so client-side routes survive a reload. Files compressed
    // at build time (`app.wasm.br`, `.gz`) are sent as they are when the client accepts them;
    // others are compressed on the way out by the compression layer.
    let static_files = ServeDir::new(dist)
        .precompressed_br()
        .precompressed_gzip()
        .fallback(
            ServeFile::new(index)
                .precompressed_br()
                .precompressed_gzip(),
        );
    Router::new()
        .merge(crate::api::router(&state, max_upload_bytes, cors_origins))
        .with_state(state)
        .fallback_service(static_files)
        .layer(middleware::from_fn(static_headers))
        // Outside `static_headers`, so it sees the final content types (the wasm's).
        .layer(crate::compress::layer())
        // A 503 from /readiness while the GPU starts is expected: log failures as warnings.
        .layer(
            TraceLayer::new_for_http()
                .on_failure(DefaultOnFailure::new().level(tracing::Level::WARN)),
        )
}

/// Headers the PWA needs: the service worker must never be served stale and may control the
/// whole origin; the manifest and wasm get their registered MIME types.
async fn static_headers(req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let mut res = next.run(req).await;
    let ok = res.status() == StatusCode::OK;
    let headers = res.headers_mut();
    if path == "/sw.js" {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        headers.insert("service-worker-allowed", HeaderValue::from_static("/"));
    } else if path.ends_with(".webmanifest") {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/manifest+json"),
        );
    } else if path.ends_with(".wasm") && ok {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/wasm"),
        );
    }
    res.into_response()
}
