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
use std::path::PathBuf;

use serde_json::{json, Value};
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
    let (s, b) = api
        .put_artifact(&project, "scene.ply", make_scene_ply())
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
    validate_with_openapi_spec_validator(&spec);
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

/// Runs PyPI's `openapi-spec-validator` (OpenAPI 3.1 rules and its JSON Schema dialect) on the
/// served document: `$SPLATPOD_OPENAPI_VALIDATOR`, else `.ci/venv` (where ./test.sh installs
/// it), else `openapi-spec-validator` on PATH. Skipped with a message when none is installed,
/// except in CI (`CI` set), where that fails.
fn validate_with_openapi_spec_validator(spec: &Value) {
    let venv = common::workspace_root().join(".ci/venv/bin/openapi-spec-validator");
    let found = std::env::var_os("SPLATPOD_OPENAPI_VALIDATOR")
        .map(PathBuf::from)
        .or_else(|| venv.is_file().then_some(venv))
        .or_else(|| {
            let on_path = std::process::Command::new("openapi-spec-validator")
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success());
            on_path.then(|| PathBuf::from("openapi-spec-validator"))
        });
    let Some(bin) = found else {
        let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false");
        assert!(
            !ci,
            "openapi-spec-validator is not installed (CI is set): ./test.sh installs it into \
             .ci/venv"
        );
        eprintln!(
            "SKIPPED the OpenAPI 3.1 validation of /openapi.json: openapi-spec-validator is not \
             installed (./test.sh installs it into .ci/venv, or set SPLATPOD_OPENAPI_VALIDATOR)"
        );
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, serde_json::to_vec_pretty(spec).expect("serialise")).expect("write");
    let out = std::process::Command::new(&bin)
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", bin.display()));
    assert!(
        out.status.success(),
        "/openapi.json is not valid OpenAPI 3.1:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The client's schema check fails on a body that does not match: the same 201 body passes
/// against the served document and fails once the document's `Project` schema is made wrong;
/// an undocumented status, media type or path fails too.
#[tokio::test]
async fn response_schema_check_can_fail() {
    use common::openapi::Spec;
    let api = Api::start(&Backend::Sqlite, &[]).await;
    let (s, project) = api.post("/api/projects", json!({ "name": "schema" })).await;
    assert_eq!(s, 201, "{project}");
    let body = project.to_string();
    let json = Some("application/json");
    let doc: Value = reqwest::get(api.url("/openapi.json"))
        .await
        .expect("spec")
        .json()
        .await
        .expect("json");
    let served = Spec::new(doc.clone());
    served
        .check_result("post", "/api/projects", 201, json, &body)
        .expect("the served schema accepts the body");
    let mut wrong = doc;
    wrong["components"]["schemas"]["Project"]["properties"]["image_count"] =
        json!({"type": "string"});
    let err = Spec::new(wrong)
        .check_result("post", "/api/projects", 201, json, &body)
        .expect_err("a wrong schema must fail");
    assert!(
        err.contains("image_count") && err.contains("string"),
        "{err}"
    );
    for (method, path, status, media) in [
        ("post", "/api/projects", 418, "application/json"),
        ("post", "/api/projects", 201, "image/png"),
        ("get", "/api/no-such-route", 200, "application/json"),
        ("put", "/api/projects", 201, "application/json"),
    ] {
        let r = served.check_result(method, path, status, Some(media), &body);
        assert!(r.is_err(), "{method} {path} {status} {media} passed");
    }
    let missing_field = json!({ "id": "p", "name": "n" }).to_string();
    assert!(served
        .check_result("get", "/api/projects/p", 200, json, &missing_field)
        .is_err());
}
