//! End-to-end test of share links in headless Chromium (WebGPU on SwiftShader) against the real
//! server: a project's imported scene, shared with a link, opens read-only at `/s/{token}`
//! without any key (scene drawn, file and URL controls hidden); a revoked link and a made-up
//! token show a clear message instead.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::{create_key, Browser, Server};
use fantoccini::Locator;
use serde_json::{json, Value};

const SPLATS: usize = 300;

#[tokio::test]
async fn a_share_link_opens_the_scene_read_only_until_revoked() {
    let dir = tempfile::tempdir().expect("temp dir");
    let key = create_key(dir.path(), &[]);
    let server = Server::start_in(dir, &[]);
    server.wait_ready().await;
    let http = reqwest::Client::new();

    let project: Value = http
        .post(server.url("/api/projects"))
        .bearer_auth(&key)
        .json(&json!({"name": "Shared fountain"}))
        .send()
        .await
        .expect("create project")
        .json()
        .await
        .expect("project JSON");
    let id = project["id"].as_str().expect("id");
    let scene = splatpod::render::procedural_scene(SPLATS, 3);
    let mut ply = Vec::new();
    splatpod::formats::write_ply(&scene, &mut ply).expect("PLY");
    let put = http
        .put(server.url(&format!("/api/projects/{id}/artifacts/scene.ply")))
        .bearer_auth(&key)
        .body(ply)
        .send()
        .await
        .expect("import scene");
    assert_eq!(put.status(), 201);
    let share: Value = http
        .post(server.url(&format!("/api/projects/{id}/shares")))
        .bearer_auth(&key)
        .json(&json!({}))
        .send()
        .await
        .expect("share")
        .json()
        .await
        .expect("share JSON");
    let token = share["token"].as_str().expect("token").to_owned();
    let url = share["url"].as_str().expect("url");
    assert!(url.ends_with(&format!("/s/{token}")), "{url}");

    let browser = Browser::start(true).await;
    browser
        .client
        .goto(&server.url(&format!("/s/{token}")))
        .await
        .expect("open share link");
    assert_eq!(browser.text_of("#share-title", 30).await, "Shared fountain");
    browser.text_of("#viewer[data-gpu=ready]", 60).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let count = browser.text_of("#splat-count", 30).await;
        if count == format!("{SPLATS} splats") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "scene not loaded: `{count}`"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    // Read-only: no file picker or URL field is shown.
    for css in ["#scene-file", "#scene-url"] {
        let el = browser
            .client
            .find(Locator::Css(css))
            .await
            .expect("element exists");
        assert!(
            !el.is_displayed().await.expect("displayed?"),
            "{css} is visible"
        );
    }

    // Revoked: the same link now explains itself.
    let del = http
        .delete(server.url(&format!("/api/shares/{token}")))
        .bearer_auth(&key)
        .send()
        .await
        .expect("revoke");
    assert_eq!(del.status(), 204);
    for path in [format!("/s/{token}"), "/s/made-up-token".to_string()] {
        browser.client.goto(&server.url(&path)).await.expect("goto");
        let message = browser.text_of("#share-error", 30).await;
        assert!(message.contains("does not exist"), "{path}: {message}");
    }
    browser.close().await;
}
