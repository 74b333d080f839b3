//! HTTP routes: liveness, readiness and the PWA's static files.

use std::net::SocketAddr;
use std::path::Path;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use splatpod::api::{ErrorBody, Health, Readiness};
use tower_http::services::{ServeDir, ServeFile};
use tower_http::trace::{DefaultOnFailure, TraceLayer};

use std::sync::{Arc, RwLock};

use crate::blob::BlobStore;
use crate::cli::ServeArgs;
use crate::db::Db;
use crate::error::ServerError;
use crate::net::HostGuard;
use crate::ratelimit::RateLimits;
use crate::state::{set_gpu, AppState, Config, GpuState, SharedGpu};

/// Starts the server and runs until SIGTERM or Ctrl-C, finishing in-flight requests.
pub async fn serve(args: ServeArgs) -> Result<(), ServerError> {
    let data_dir = &args.store.data_dir;
    tokio::fs::create_dir_all(data_dir).await?;
    if !args.dist_dir.join("index.html").is_file() {
        tracing::warn!(
            dist = %args.dist_dir.display(),
            "no built PWA found (run `trunk build --release`); the API still works"
        );
    }
    let db = Db::open(args.store.database_url.as_deref(), data_dir).await?;
    let blobs = BlobStore::open(args.store.blob_url.as_deref(), data_dir)?;
    let guard = HostGuard::new(&args.jobs.allow_hosts).map_err(ServerError::BadInput)?;
    let node_id = persistent_token(&data_dir.join("node-id"))?;
    let gpu: SharedGpu = Arc::new(RwLock::new(GpuState::Starting));
    spawn_gpu_init(gpu.clone());
    let jobs = crate::worker::job_service(
        &args.jobs,
        data_dir,
        format!("node-{}", &node_id[..16.min(node_id.len())]),
        db.clone(),
        blobs.clone(),
        gpu.clone(),
        guard.clone(),
    )?;
    jobs.start(!args.no_worker).await?;
    let config = Config {
        endpoint: args.jobs.endpoint.clone(),
        max_image_bytes: args.jobs.max_image_bytes,
        max_files_per_upload: args.max_files_per_upload,
        max_url_images: args.max_url_images,
        runsync_wait_s: args.runsync_wait_s,
        public_url: args.public_url.clone(),
        job_timeout_ms: (args.job_timeout_s.max(1) * 1000) as i64,
        max_attempts: 1 + args.job_retries.clamp(0, 20),
        video: crate::video::VideoTools {
            ffmpeg: args.ffmpeg.clone(),
            ffprobe: args.ffprobe.clone(),
            timeout: std::time::Duration::from_secs(args.video_timeout_s.max(1)),
            work_dir: data_dir.join("tmp"),
        },
        max_upload_bytes: args.max_upload_bytes,
        upload_dir: data_dir.join("uploads"),
        upload_expiry_ms: (args.upload_expiry_s.clamp(1, 30 * 86_400) * 1000) as i64,
    };
    let limits = RateLimits::new(args.job_rate_per_min);
    let shrink = limits.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(60)).await;
            shrink.shrink();
        }
    });
    let state = AppState::new(config, db, blobs, limits, jobs, guard, gpu);

    let app = router(
        state,
        &args.dist_dir,
        args.max_upload_bytes,
        &args.cors_origins,
    );
    let addr = SocketAddr::new(args.host, args.port);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(url = %format!("http://{}", listener.local_addr()?), "splatpod-server listening");
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await?;
    tracing::info!("shut down cleanly");
    Ok(())
}

/// Reads a random token kept in `path` (the webhook secret, the node id), creating it
/// (owner-only) the first time.
pub(crate) fn persistent_token(path: &Path) -> Result<String, ServerError> {
    if let Ok(s) = std::fs::read_to_string(path) {
        let s = s.trim().to_owned();
        if !s.is_empty() {
            return Ok(s);
        }
    }
    let mut raw = [0u8; 32];
    rand::Rng::fill(&mut rand::rng(), &mut raw);
    let secret = hex::encode(raw);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    use std::io::Write;
    opts.open(path)?.write_all(secret.as_bytes())?;
    Ok(secret)
}

pub(crate) fn spawn_gpu_init(slot: SharedGpu) {
    tokio::spawn(async move {
        // Jobs work on whole scenes: take the adapter's full buffer limits rather than the
        // WebGPU baseline the browser has (a multi-million-splat scene needs more than 128 MiB
        // in one binding). Feature extraction fits the baseline too: its kernels bind one
        // scale-space image at a time.
        match splatpod::gpu::GpuContext::new_for_large_scenes().await {
            Ok(ctx) => {
                let s = ctx.summary();
                tracing::info!(adapter = %s.name, backend = %s.backend, driver = %s.driver, "GPU ready");
                set_gpu(&slot, GpuState::Ready(Box::new(ctx)));
            }
            Err(e) => {
                tracing::error!("GPU initialisation failed: {e}");
                set_gpu(&slot, GpuState::Failed(e.to_string()));
            }
        }
    });
}

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

pub(crate) async fn shutdown_signal() {
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
