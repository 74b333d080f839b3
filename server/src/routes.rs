//! HTTP routes: liveness, readiness and the PWA's static files.

use std::net::SocketAddr;
use std::path::Path;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::trace::{DefaultOnFailure, TraceLayer};

use crate::cli::ServeArgs;
use crate::error::ServerError;
use crate::state::{AppState, GpuState};

/// Starts the server and runs until SIGTERM or Ctrl-C, finishing in-flight requests.
pub async fn serve(args: ServeArgs) -> Result<(), ServerError> {
    tokio::fs::create_dir_all(&args.data_dir).await?;
    if !args.dist_dir.join("index.html").is_file() {
        tracing::warn!(
            dist = %args.dist_dir.display(),
            "no built PWA found (run `trunk build --release`); the API still works"
        );
    }
    let state = AppState::new();
    spawn_gpu_init(state.clone());

    let app = router(state, &args.dist_dir);
    let addr = SocketAddr::new(args.host, args.port);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(url = %format!("http://{}", listener.local_addr()?), "splatpod-server listening");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    tracing::info!("shut down cleanly");
    Ok(())
}

fn spawn_gpu_init(state: AppState) {
    tokio::spawn(async move {
        match splatpod::gpu::GpuContext::new().await {
            Ok(ctx) => {
                let s = ctx.summary();
                tracing::info!(adapter = %s.name, backend = %s.backend, driver = %s.driver, "GPU ready");
                state.set_gpu(GpuState::Ready(Box::new(ctx)));
            }
            Err(e) => {
                tracing::error!("GPU initialisation failed: {e}");
                state.set_gpu(GpuState::Failed(e.to_string()));
            }
        }
    });
}

/// The whole application router; `dist` is the built PWA.
pub fn router(state: AppState, dist: &Path) -> Router {
    let index = dist.join("index.html");
    // Unknown paths get the app shell so client-side routes survive a reload.
    let static_files = ServeDir::new(dist).fallback(ServeFile::new(index));
    Router::new()
        .route("/health", get(health))
        .route("/readiness", get(readiness))
        .with_state(state)
        .fallback_service(static_files)
        .layer(middleware::from_fn(static_headers))
        // A 503 from /readiness while the GPU starts is expected: log failures as warnings.
        .layer(
            TraceLayer::new_for_http()
                .on_failure(DefaultOnFailure::new().level(tracing::Level::WARN)),
        )
}

async fn health() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

async fn readiness(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ServerError> {
    let adapter = state.adapter().map_err(ServerError::Unavailable)?;
    Ok(Json(json!({
        "status": "ready",
        "version": env!("CARGO_PKG_VERSION"),
        "gpu": adapter,
    })))
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

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!("cannot listen for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received");
}
