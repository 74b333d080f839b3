//! End-to-end tests of the real `splatpod-server` binary over HTTP on loopback.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::io::Read;

use common::{create_key, dist_dir, Server};

#[tokio::test]
async fn health_is_live_and_readiness_reports_the_adapter() {
    let server = Server::start(&[]);
    server.wait_healthy().await;
    let health: serde_json::Value = reqwest::get(server.url("/health"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");

    let ready = server.wait_ready().await;
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["version"], env!("CARGO_PKG_VERSION"));
    let gpu = &ready["gpu"];
    assert!(
        !gpu["name"].as_str().unwrap_or("").is_empty(),
        "adapter name in {ready}"
    );
    assert_eq!(gpu["backend"], "Vulkan");
    assert!(
        gpu["limits"]["max_storage_buffer_binding_size"]
            .as_u64()
            .unwrap_or(0)
            >= 128 << 20
    );
}

#[tokio::test]
async fn readiness_is_503_with_a_reason_when_no_gpu_can_be_opened() {
    // A backend this build does not include: no adapter can ever be found.
    let server = Server::start(&[("WGPU_BACKEND", "metal")]);
    server.wait_healthy().await;
    let mut last = None;
    for _ in 0..20 {
        let r = reqwest::get(server.url("/readiness")).await.unwrap();
        assert_eq!(r.status(), 503);
        last = Some(r.json::<serde_json::Value>().await.unwrap());
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let body = last.unwrap();
    let error = body["error"].as_str().unwrap_or("");
    assert!(error.contains("GPU"), "{body}");
    // Liveness is independent of the GPU.
    assert_eq!(
        reqwest::get(server.url("/health")).await.unwrap().status(),
        200
    );
}

#[tokio::test]
async fn pwa_files_are_served_with_correct_types_and_headers() {
    let server = Server::start(&[]);
    server.wait_healthy().await;
    let get = |p: &str| reqwest::get(server.url(p));
    let ctype = |r: &reqwest::Response| {
        r.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };

    let index = get("/").await.unwrap();
    assert_eq!(index.status(), 200);
    assert!(ctype(&index).starts_with("text/html"));
    // Client-side routes reload to the app shell.
    let route = get("/status").await.unwrap();
    assert_eq!(route.status(), 200);
    assert!(route
        .text()
        .await
        .unwrap()
        .contains("<title>Splatpod</title>"));

    let manifest = get("/manifest.webmanifest").await.unwrap();
    assert_eq!(ctype(&manifest), "application/manifest+json");
    let manifest: serde_json::Value = manifest.json().await.unwrap();
    assert_eq!(manifest["display"], "standalone");
    let icons = manifest["icons"].as_array().unwrap();
    for size in ["192x192", "512x512"] {
        assert!(icons
            .iter()
            .any(|i| i["sizes"] == size && i["purpose"] == "any"));
        assert!(icons
            .iter()
            .any(|i| i["sizes"] == size && i["purpose"] == "maskable"));
    }
    for icon in icons {
        let r = get(icon["src"].as_str().unwrap()).await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(ctype(&r), "image/png");
    }

    let sw = get("/sw.js").await.unwrap();
    assert!(ctype(&sw).contains("javascript"));
    assert_eq!(sw.headers()["service-worker-allowed"], "/");
    assert_eq!(sw.headers()["cache-control"], "no-cache");

    let wasm = std::fs::read_dir(dist_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| n.ends_with(".wasm"))
        .expect("a .wasm in dist");
    let r = get(&format!("/{wasm}")).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(ctype(&r), "application/wasm");
    let bytes = r.bytes().await.unwrap();
    assert_eq!(&bytes[..4], b"\0asm");
}

#[tokio::test]
async fn sigterm_shuts_the_server_down_cleanly() {
    let mut server = Server::start(&[]);
    server.wait_healthy().await;
    let status = server.terminate();
    assert!(status.success(), "exit status {status}");
    assert!(
        reqwest::get(server.url("/health")).await.is_err(),
        "still listening"
    );
}

/// A GET with `Accept-Encoding: encoding` (none: no header): the `content-encoding` answered
/// and the body's bytes as sent.
async fn fetch(
    http: &reqwest::Client,
    url: &str,
    encoding: Option<&str>,
    key: Option<&str>,
) -> (Option<String>, Vec<u8>) {
    let mut req = http.get(url);
    if let Some(e) = encoding {
        req = req.header("accept-encoding", e);
    }
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    let res = req.send().await.unwrap();
    assert_eq!(res.status(), 200, "{url}");
    let enc = res
        .headers()
        .get("content-encoding")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (enc, res.bytes().await.unwrap().to_vec())
}

fn decode(encoding: &str, bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match encoding {
        "br" => brotli_decompressor::Decompressor::new(bytes, 4096)
            .read_to_end(&mut out)
            .expect("brotli"),
        "gzip" => flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut out)
            .expect("gzip"),
        other => panic!("unexpected encoding {other}"),
    };
    out
}

#[tokio::test]
async fn responses_are_compressed_unless_already_compressed() {
    let dir = tempfile::tempdir().unwrap();
    let key = create_key(dir.path(), &[]);
    // No GPU needed: nothing here runs a job.
    let server = Server::start_in(dir, &[("WGPU_BACKEND", "metal")]);
    server.wait_healthy().await;
    let http = reqwest::Client::new();
    let wasm = std::fs::read_dir(dist_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| n.ends_with(".wasm"))
        .expect("a .wasm in dist");

    // JSON, the app shell and the wasm: brotli and gzip, decoding to the same bytes.
    for path in ["/openapi.json", "/", "/index.html", &format!("/{wasm}")] {
        let url = server.url(path);
        let (enc, plain) = fetch(&http, &url, None, None).await;
        assert_eq!(enc, None, "{path} without Accept-Encoding");
        for encoding in ["br", "gzip"] {
            let (enc, sent) = fetch(&http, &url, Some(encoding), None).await;
            assert_eq!(enc.as_deref(), Some(encoding), "{path}");
            assert!(sent.len() < plain.len(), "{path}: {encoding} is no smaller");
            assert_eq!(decode(encoding, &sent), plain, "{path} {encoding}");
        }
        // Brotli is preferred when both are accepted.
        let (enc, _) = fetch(&http, &url, Some("gzip, deflate, br"), None).await;
        assert_eq!(enc.as_deref(), Some("br"), "{path}");
    }

    // Images are sent as they are.
    let (enc, _) = fetch(&http, &server.url("/icons/icon-192.png"), Some("br"), None).await;
    assert_eq!(enc, None, "PNG icon recompressed");

    // A scene: the PLY compresses, its SPZ copy (gzip inside) is sent as it is.
    let project: serde_json::Value = http
        .post(server.url("/api/projects"))
        .bearer_auth(&key)
        .json(&serde_json::json!({"name": "scene"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = project["id"].as_str().expect("project id");
    let scene = splatpod::render::procedural_scene(500, 7);
    let mut ply = Vec::new();
    splatpod::formats::write_ply(&scene, &mut ply).expect("write PLY");
    let put = http
        .put(server.url(&format!("/api/projects/{id}/artifacts/scene.ply")))
        .bearer_auth(&key)
        .body(ply.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201);
    let base = server.url(&format!("/api/projects/{id}/artifacts"));
    let (enc, sent) = fetch(&http, &format!("{base}/scene.ply"), Some("br"), Some(&key)).await;
    assert_eq!(enc.as_deref(), Some("br"));
    assert_eq!(decode("br", &sent), ply);
    let (enc, plain) = fetch(&http, &format!("{base}/scene.spz"), None, Some(&key)).await;
    assert_eq!(enc, None);
    let (enc, sent) = fetch(
        &http,
        &format!("{base}/scene.spz"),
        Some("br, gzip"),
        Some(&key),
    )
    .await;
    assert_eq!(enc, None, "SPZ recompressed");
    assert_eq!(sent, plain);
}
