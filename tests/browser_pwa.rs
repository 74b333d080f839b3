//! End-to-end tests of the PWA in headless Chromium (WebGPU on SwiftShader) against the real
//! server: the status page, the offline reload through the service worker, and the message shown
//! where WebGPU is missing.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::{Browser, Server};

#[tokio::test]
async fn status_page_shows_the_browser_adapter_and_server_readiness() {
    let server = Server::start(&[]);
    server.wait_ready().await;
    let browser = Browser::start(true).await;
    browser.client.goto(&server.url("/status")).await.unwrap();
    let gpu = browser.text_of("#browser-gpu [data-state=ready]", 60).await;
    assert!(
        gpu.contains("WebGPU ready") && gpu.contains("BrowserWebGpu"),
        "{gpu}"
    );
    let adapter = browser
        .text_of("#server [data-state=ready] #server-adapter", 60)
        .await;
    let expected = server.wait_ready().await["gpu"]["name"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(adapter, expected);
    browser.close().await;
}

#[tokio::test]
async fn app_reloads_offline_once_the_service_worker_is_installed() {
    let mut server = Server::start(&[]);
    server.wait_ready().await;
    let browser = Browser::start(true).await;
    let c = &browser.client;
    c.goto(&server.url("/")).await.unwrap();
    browser.text_of("#home", 60).await;
    // Wait for the worker to finish precaching and take control of the page.
    c.execute_async(
        "const done = arguments[arguments.length - 1];
         navigator.serviceWorker.ready.then(() => done(true));",
        vec![],
    )
    .await
    .expect("service worker ready");
    c.refresh().await.unwrap();
    browser.text_of("#home", 60).await;
    let controlled = c
        .execute(
            "return navigator.serviceWorker.controller !== null;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        controlled,
        serde_json::json!(true),
        "page not controlled by the service worker"
    );

    let status = server.terminate();
    assert!(status.success());
    assert!(
        reqwest::get(server.url("/health")).await.is_err(),
        "server still up"
    );

    c.refresh().await.unwrap();
    let home = browser.text_of("#home", 60).await;
    assert!(home.contains("Photos in, 3D splats out"), "{home}");
    // A client-side route also opens offline, and says the server is unreachable.
    c.goto(&server.url("/status")).await.unwrap();
    browser
        .text_of("#server [data-state=unreachable]", 60)
        .await;
    browser.close().await;
}

#[tokio::test]
async fn a_browser_without_webgpu_gets_a_friendly_message() {
    let server = Server::start(&[]);
    server.wait_healthy().await;
    let browser = Browser::start(false).await;
    browser.client.goto(&server.url("/status")).await.unwrap();
    let text = browser.text_of("#webgpu-missing", 60).await;
    assert!(text.contains("WebGPU is not available"), "{text}");
    assert!(text.contains("recent Chrome, Edge or Safari"), "{text}");
    browser.close().await;
}
