//! End-to-end tests of the real `splatpod-server` binary over HTTP on loopback.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::{dist_dir, Server};

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
