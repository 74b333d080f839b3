//! End-to-end tests of the server's HTTP surface on the real `splatpod-server` binary on loopback:
//! server errors with a request id and no internal detail, CORS, the OpenAPI document, and the
//! `runpod` Python client
//! (SQLite embedded, and PostgreSQL through `SPLATPOD_TEST_DATABASE_URL` where `./test.sh` starts
//! it with `.ci/postgres.sh`), driven over HTTP; jobs run real engine work on the GPU (lavapipe
//! in CI).
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::api::{typed, Api, Backend};
use common::fixtures::{photo, scene_ply};
use serde_json::Value;
use splatpod::api;

/// A small valid 3DGS PLY written by the engine's writer from a procedural scene.
fn make_scene_ply() -> Vec<u8> {
    scene_ply(500, 7)
}

/// A server fault (here: the blob store's folder replaced by a file, so nothing can be stored)
/// answers 500 with a request id and no internal detail (paths, storage or database messages);
/// the detail goes to the log. The project is left as it was.
#[tokio::test]
async fn server_errors_carry_a_request_id_and_no_internal_detail() {
    let api = Api::start(&Backend::Sqlite, &[]).await;
    let project = api.project("faults").await;
    let blobs = api.server.data_dir.path().join("blobs");
    let _ = std::fs::remove_dir_all(&blobs);
    std::fs::write(&blobs, b"not a folder").expect("a file where the blob folder was");
    let (s, b, _) = api
        .send(
            api.http
                .put(api.url(&format!("/api/projects/{project}/artifacts/scene.ply")))
                .bearer_auth(&api.key)
                .body(make_scene_ply()),
        )
        .await;
    assert_eq!(s, 500, "{b}");
    let e = typed::<api::ErrorBody>(&b);
    let id = e.request_id.expect("a request id");
    assert!(e.error.contains(&id), "{b}");
    for leak in [
        "blobs",
        "projects/",
        "storage",
        "directory",
        "/tmp",
        "os error",
    ] {
        assert!(!e.error.contains(leak), "leaks `{leak}`: {b}");
    }
    let (_, p) = api.get(&format!("/api/projects/{project}")).await;
    assert_eq!(typed::<api::Project>(&p).artifact_count, 0, "{p}");
}

/// CORS is off by default and allows exactly the configured origins.
#[tokio::test]
async fn cors_allows_only_configured_origins() {
    let strict = Api::start(&Backend::Sqlite, &[]).await;
    let open = Api::start(
        &Backend::Sqlite,
        &[("SPLATPOD_CORS_ORIGINS", "https://app.example")],
    )
    .await;
    let preflight = |api: &Api, origin: &str| {
        api.http
            .request(reqwest::Method::OPTIONS, api.url("/api/projects"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type",
            )
    };
    let allow = |r: &reqwest::Response| {
        r.headers()
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let r = preflight(&open, "https://app.example")
        .send()
        .await
        .expect("preflight");
    assert_eq!(allow(&r).as_deref(), Some("https://app.example"));
    let r = preflight(&open, "https://evil.example")
        .send()
        .await
        .expect("preflight");
    assert_eq!(allow(&r), None);
    let r = preflight(&strict, "https://app.example")
        .send()
        .await
        .expect("preflight");
    assert_eq!(allow(&r), None);
}

#[tokio::test]
async fn openapi_describes_every_route() {
    let api = Api::start(&Backend::Sqlite, &[]).await;
    let spec: Value = reqwest::get(api.url("/openapi.json"))
        .await
        .expect("spec")
        .json()
        .await
        .expect("json");
    assert_eq!(spec["openapi"], "3.1.0");
    let paths = spec["paths"].as_object().expect("paths");
    for (method, path) in [
        ("post", "/api/projects"),
        ("get", "/api/projects/{id}"),
        ("delete", "/api/projects/{id}"),
        ("post", "/api/projects/{id}/images"),
        ("post", "/api/projects/{id}/uploads"),
        ("head", "/api/projects/{id}/uploads/{upload}"),
        ("patch", "/api/projects/{id}/uploads/{upload}"),
        ("get", "/api/projects/{id}/artifacts/{name}"),
        ("get", "/api/projects/{id}/start-view"),
        ("post", "/api/projects/{id}/shares"),
        ("delete", "/api/shares/{token}"),
        ("post", "/api/projects/{id}/pairings"),
        ("get", "/api/projects/{id}/pairings"),
        ("delete", "/api/projects/{id}/pairings/{pairing}"),
        ("get", "/api/pairing"),
        ("get", "/api/jobs/{id}/events"),
        ("post", "/v2/{endpoint}/run"),
        ("post", "/v2/{endpoint}/runsync"),
        ("get", "/v2/{endpoint}/status/{id}"),
        ("get", "/v2/{endpoint}/stream/{id}"),
        ("post", "/v2/{endpoint}/cancel/{id}"),
        ("post", "/v2/{endpoint}/retry/{id}"),
        ("post", "/v2/{endpoint}/purge-queue"),
        ("get", "/v2/{endpoint}/health"),
    ] {
        let op = &paths[path][method];
        assert!(op.is_object(), "{method} {path} missing from /openapi.json");
        // Every documented route exists: without a key it answers 401, not 404/405.
        let url = api.server.url(&path.replace("{endpoint}", &api.endpoint));
        let req = match method {
            "post" => api.http.post(url),
            "delete" => api.http.delete(url),
            "head" => api.http.head(url),
            "patch" => api.http.patch(url),
            _ => api.http.get(url),
        };
        let s = req.send().await.expect("request").status().as_u16();
        assert_eq!(s, 401, "{method} {path}");
    }
}

/// The `runpod` PyPI package's endpoint client, unchanged, pointed at the server.
#[tokio::test]
async fn runpod_python_client_works_unchanged() {
    let api = Api::start(&Backend::Sqlite, &[("SPLATPOD_ENDPOINT", "splatpod")]).await;
    let project = api.project("sdk").await;
    let files = (0..2).map(|i| (format!("{i}.jpg"), photo(i))).collect();
    assert_eq!(api.upload(&project, files).await.0, 201);
    let script = common::workspace_root().join("tests/runpod_client.py");
    let out = tokio::process::Command::new("python3")
        .arg(&script)
        .arg(&project)
        .env("RUNPOD_ENDPOINT_BASE_URL", api.server.url("/v2"))
        .env("RUNPOD_API_KEY", &api.key)
        .output()
        .await
        .expect("python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "runpod client failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("ALL OK"), "{stdout}");
}
